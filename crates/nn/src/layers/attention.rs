//! `MultiheadAttention`: PyTorch's `nn.MultiheadAttention` (packed input projection, masks, dropout
//! on the attention weights, head-averaged weights).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use crate::functional::{attention, fusable, fused_attention, fused_attention_packed, to_additive};
use crate::{init, Linear, Module, TrainingFlag};

const OP: &str = "MultiheadAttention";

/// Multi-head attention, PyTorch's `nn.MultiheadAttention`:
/// `out_proj(concat_h softmax(q_h k_h^T / sqrt(E/heads) + mask) v_h)` with `q, k, v` projected by
/// the rows of `in_proj_weight`.
///
/// Parameters as PyTorch's state dict: `in_proj_weight` `[3E, E]` (xavier-uniform),
/// `in_proj_bias` `[3E]` (zeros), `out_proj.weight` `[E, E]` (Linear's default init),
/// `out_proj.bias` `[E]` (zeros). With a key or value size other than `E`
/// ([`kdim`](MultiheadAttention::kdim), [`vdim`](MultiheadAttention::vdim), as PyTorch's keyword
/// arguments) the projections are separate, as PyTorch's: `q_proj_weight` `[E, E]`,
/// `k_proj_weight` `[E, kdim]`, `v_proj_weight` `[E, vdim]` in place of `in_proj_weight`. Inputs are `[L, N, E]` (`[N, L, E]` with `batch_first`, or
/// unbatched `[L, E]`). [`Module::forward`] is self-attention (query = key = value = input) and
/// returns PyTorch's `attn_output`; [`MultiheadAttention::forward_qkv`] takes separate query, key and
/// value, masks, and returns the head-averaged attention weights too.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Module, MultiheadAttention};
/// use ember_tensor::Tensor;
/// let mha = MultiheadAttention::new(8, 2).batch_first(true);
/// let x = Variable::from(Tensor::randn(&[3, 5, 8])); // [batch, seq, embed]
/// assert_eq!(mha.forward(&x).shape(), vec![3, 5, 8]);
/// let (out, w) = mha.forward_qkv(&x, &x, &x, None, None, true);
/// let w = w.unwrap(); // [batch, L, S], averaged over the heads
/// assert_eq!(w.shape(), vec![3, 5, 5]);
/// assert!((w.data().sum_dim(-1, false).to_vec::<f32>()[0] - 1.0).abs() < 1e-5);
/// // the same output (to rounding: without weights to return, the fused CPU kernel runs)
/// let same = out.to_vec::<f32>().iter().zip(mha.forward(&x).to_vec::<f32>()).all(|(a, b)| (a - b).abs() < 1e-5);
/// assert!(same);
/// ```
pub struct MultiheadAttention {
    embed_dim: usize,
    kdim: usize,
    vdim: usize,
    num_heads: usize,
    dropout: f64,
    batch_first: bool,
    /// `[3 * embed, embed]`: the query, key and value projections stacked (`None` when `kdim` or
    /// `vdim` differs from `embed`: then the three separate weights below hold them).
    pub in_proj_weight: Option<Variable>,
    /// `[embed, embed]`, the query projection, when the projections are separate.
    pub q_proj_weight: Option<Variable>,
    /// `[embed, kdim]`, the key projection, when the projections are separate.
    pub k_proj_weight: Option<Variable>,
    /// `[embed, vdim]`, the value projection, when the projections are separate.
    pub v_proj_weight: Option<Variable>,
    /// `[3 * embed]`, if the layer has biases.
    pub in_proj_bias: Option<Variable>,
    /// The output projection `[embed, embed]`.
    pub out_proj: Linear,
    training: TrainingFlag,
}

impl MultiheadAttention {
    /// Attention over `embed_dim` features split into `num_heads` heads, with biases.
    ///
    /// **Panics** when `embed_dim` is not divisible by `num_heads`; see [`MultiheadAttention::try_new`].
    #[track_caller]
    pub fn new(embed_dim: usize, num_heads: usize) -> MultiheadAttention {
        match MultiheadAttention::try_new(embed_dim, num_heads) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`MultiheadAttention::new`].
    pub fn try_new(embed_dim: usize, num_heads: usize) -> Result<MultiheadAttention> {
        if num_heads == 0 || !embed_dim.is_multiple_of(num_heads) {
            return Err(err(format!("embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")));
        }
        let mut out_proj = Linear::new(embed_dim, embed_dim);
        out_proj.bias = Some(Variable::new(Tensor::zeros(&[embed_dim]), true));
        Ok(MultiheadAttention {
            embed_dim,
            kdim: embed_dim,
            vdim: embed_dim,
            num_heads,
            dropout: 0.0,
            batch_first: false,
            in_proj_weight: Some(Variable::new(init::xavier_uniform(&[3 * embed_dim, embed_dim]), true)),
            q_proj_weight: None,
            k_proj_weight: None,
            v_proj_weight: None,
            in_proj_bias: Some(Variable::new(Tensor::zeros(&[3 * embed_dim]), true)),
            out_proj,
            training: TrainingFlag::new(),
        })
    }

    /// Inputs and output as `[batch, seq, embed]` (default false: `[seq, batch, embed]`).
    #[must_use]
    pub fn batch_first(mut self, on: bool) -> MultiheadAttention {
        self.batch_first = on;
        self
    }

    /// The key's feature size (PyTorch's `kdim`, default `embed_dim`). Another size than
    /// `embed_dim` makes the projections separate (`q_proj_weight`, `k_proj_weight`,
    /// `v_proj_weight`, freshly drawn); see [`MultiheadAttention`].
    #[must_use]
    pub fn kdim(mut self, kdim: usize) -> MultiheadAttention {
        self.kdim = kdim;
        self.draw_projections();
        self
    }

    /// The value's feature size (PyTorch's `vdim`, default `embed_dim`); as
    /// [`kdim`](MultiheadAttention::kdim).
    #[must_use]
    pub fn vdim(mut self, vdim: usize) -> MultiheadAttention {
        self.vdim = vdim;
        self.draw_projections();
        self
    }

    /// Packed (`kdim == vdim == embed_dim`) or separate input projections, xavier-uniform each.
    fn draw_projections(&mut self) {
        let (e, k, v) = (self.embed_dim, self.kdim, self.vdim);
        let w = |shape: &[usize]| Some(Variable::new(init::xavier_uniform(shape), true));
        if k == e && v == e {
            self.in_proj_weight = w(&[3 * e, e]);
            (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight) = (None, None, None);
        } else {
            self.in_proj_weight = None;
            (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight) = (w(&[e, e]), w(&[e, k]), w(&[e, v]));
        }
    }

    /// With (default) or without `in_proj_bias` and `out_proj.bias`.
    #[must_use]
    pub fn bias(mut self, on: bool) -> MultiheadAttention {
        let e = self.embed_dim;
        self.in_proj_bias = on.then(|| Variable::new(Tensor::zeros(&[3 * e]), true));
        self.out_proj.bias = on.then(|| Variable::new(Tensor::zeros(&[e]), true));
        self
    }

    /// Dropout with probability `p` on the attention weights, in training mode (default 0).
    ///
    /// **Panics** when `p` is outside `[0, 1]`.
    #[must_use]
    #[track_caller]
    pub fn dropout(mut self, p: f64) -> MultiheadAttention {
        if !(0.0..=1.0).contains(&p) {
            panic!("{OP}: dropout must be a probability in [0, 1], got {p}");
        }
        self.dropout = p;
        self
    }

    /// The embedding size `E`.
    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    /// The number of heads.
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// True when inputs are `[batch, seq, embed]`.
    pub fn is_batch_first(&self) -> bool {
        self.batch_first
    }

    /// PyTorch's `forward(query, key, value, key_padding_mask, need_weights, attn_mask)`:
    /// `(attn_output, attn_weights)`, the weights (`[N, L, S]`, or `[L, S]` unbatched) averaged over
    /// the heads and only when `need_weights`.
    ///
    /// `query` is `[L, N, E]`, `key` and `value` `[S, N, E]` (batch first with `batch_first`, or
    /// unbatched `[L, E]`, `[S, E]`). Masks as PyTorch's: `key_padding_mask` `[N, S]` (`[S]`
    /// unbatched), `attn_mask` `[L, S]` or `[N * heads, L, S]`; a Bool mask is `true` where attention
    /// is **not** allowed, a float mask (of the query's dtype) is added to the scores. A query whose
    /// every key is masked gets NaN with `need_weights` and zeros without, as PyTorch (whose
    /// `need_weights=False` path is SDPA).
    ///
    /// **Panics** on bad shapes or dtypes, naming them; see [`MultiheadAttention::try_forward_qkv`].
    #[track_caller]
    pub fn forward_qkv(
        &self,
        query: &Variable,
        key: &Variable,
        value: &Variable,
        key_padding_mask: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
        need_weights: bool,
    ) -> (Variable, Option<Variable>) {
        match self.try_forward_qkv(query, key, value, key_padding_mask, attn_mask, need_weights) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`MultiheadAttention::forward_qkv`].
    pub fn try_forward_qkv(
        &self,
        query: &Variable,
        key: &Variable,
        value: &Variable,
        key_padding_mask: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
        need_weights: bool,
    ) -> Result<(Variable, Option<Variable>)> {
        let (e, nh) = (self.embed_dim, self.num_heads);
        let (qs, ks, vs) = (query.shape(), key.shape(), value.shape());
        let r = qs.len();
        if r != 2 && r != 3 {
            return Err(err(format!("query should be unbatched 2-D or batched 3-D, got {r}-D of shape {qs:?}")));
        }
        if ks.len() != r || vs.len() != r {
            return Err(err(format!(
                "for a {r}-D query of shape {qs:?}, key and value must be {r}-D too, got shapes {ks:?} and {vs:?}"
            )));
        }
        let (kd, vd) = (self.kdim, self.vdim);
        if qs[r - 1] != e || ks[r - 1] != kd || vs[r - 1] != vd {
            return Err(err(format!(
                "expected embedding dim {e} (the last dim of query), kdim {kd} (key) and vdim {vd} (value), got query {qs:?}, key {ks:?}, value {vs:?}"
            )));
        }
        if ks[..r - 1] != vs[..r - 1] {
            return Err(err(format!("key shape {ks:?} does not match value shape {vs:?} in its leading dims")));
        }
        let pdt = self.out_proj.weight.dtype();
        // inside autocast the projections cast their inputs (PyTorch's lower-precision list)
        let mixed = query.dtype() != pdt || key.dtype() != pdt || value.dtype() != pdt;
        if mixed && ember_autograd::autocast_dtype().is_none() {
            return Err(err(format!(
                "query, key and value must have the parameters' dtype {pdt}, got {}, {}, {}",
                query.dtype(),
                key.dtype(),
                value.dtype()
            )));
        }
        let batched = r == 3;
        // internally [N, seq, E]
        let to_nle = |t: &Variable| match (batched, self.batch_first) {
            (false, _) => t.unsqueeze(0),
            (true, true) => t.clone(),
            (true, false) => t.transpose(0, 1),
        };
        let q = to_nle(query);
        let self_attn = query.same(key) && key.same(value);
        let k = if self_attn { q.clone() } else { to_nle(key) };
        let (n, l, s) = (q.shape()[0], q.shape()[1], k.shape()[1]);
        if k.shape()[0] != n {
            return Err(err(format!(
                "query {qs:?} and key {ks:?} have different batch sizes ({n} vs {})",
                k.shape()[0]
            )));
        }
        let bias = self.mask_bias(key_padding_mask, attn_mask, batched, (n, l, s), pdt)?;

        let hd = e / nh;
        let p = if self.training.get() { self.dropout } else { 0.0 };
        let scale = 1.0 / (hd.max(1) as f64).sqrt();
        // Without weights to return or dropout to apply, the fused CPU kernel (one pass per block
        // of batch x heads, measured faster than the composite on a quiet machine:
        // docs/performance.md, issue 13 in session 9); it gives zeros for fully masked queries as
        // the composite does with `safe`. Its operands' dtype decides (under autocast the
        // projections are the low precision, which it does not take).
        let fused = !need_weights && p == 0.0;
        // input projections: one matmul for self-attention, else one per input
        let packed = match (self_attn, &self.in_proj_weight) {
            (true, Some(w)) => Some(q.linear(w, self.in_proj_bias.as_ref())),
            _ => None,
        };
        let (o, w) = match &packed {
            // Self-attention (what the transformer layers ask): the fused kernel reads q, k, v in
            // place from the one projection and gives its gradient in one piece.
            Some(qkv) if fused && fusable(qkv) => (fused_attention_packed(qkv, nh, bias, scale), None),
            _ => {
                let (qp, kp, vp) = if let Some(qkv) = &packed {
                    let p = qkv.chunk(3, -1);
                    (p[0].clone(), p[1].clone(), p[2].clone())
                } else {
                    let w = self.projection_weights();
                    let b: Vec<Option<Variable>> = match &self.in_proj_bias {
                        Some(b) => b.chunk(3, 0).into_iter().map(Some).collect(),
                        None => vec![None, None, None],
                    };
                    let v = to_nle(value);
                    (q.linear(&w[0], b[0].as_ref()), k.linear(&w[1], b[1].as_ref()), v.linear(&w[2], b[2].as_ref()))
                };
                let heads = |t: &Variable, len: usize| t.reshape(&[n, len, nh, hd]).permute(&[0, 2, 1, 3]);
                let (qh, kh, vh) = (heads(&qp, l), heads(&kp, s), heads(&vp, s));
                if fused && fusable(&qh) {
                    (fused_attention(&qh, &kh, &vh, bias, false, scale), None)
                } else {
                    let (o, w) = attention(&qh, &kh, &vh, bias.as_ref(), p, !need_weights, scale);
                    (o, Some(w))
                }
            }
        };
        let o = self.out_proj.forward(&o.permute(&[0, 2, 1, 3]).reshape(&[n, l, e]));
        let w = if need_weights { w.map(|w| w.mean_dim(1, false)) } else { None };
        Ok(match (batched, self.batch_first) {
            (false, _) => (o.squeeze(0), w.map(|w| w.squeeze(0))),
            (true, true) => (o, w),
            (true, false) => (o.transpose(0, 1), w),
        })
    }

    /// The query, key and value projection weights (views of `in_proj_weight` when packed).
    fn projection_weights(&self) -> Vec<Variable> {
        match (&self.in_proj_weight, &self.q_proj_weight, &self.k_proj_weight, &self.v_proj_weight) {
            (Some(w), ..) => w.chunk(3, 0),
            (None, Some(q), Some(k), Some(v)) => vec![q.clone(), k.clone(), v.clone()],
            _ => unreachable!("MultiheadAttention holds either in_proj_weight or q/k/v_proj_weight"),
        }
    }

    /// Both masks checked and merged into one additive float mask broadcasting to `[N, H, L, S]`.
    fn mask_bias(
        &self,
        key_padding_mask: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
        batched: bool,
        (n, l, s): (usize, usize, usize),
        dtype: ember_tensor::DType,
    ) -> Result<Option<Tensor>> {
        let nh = self.num_heads;
        let mut bias: Option<Tensor> = None;
        if let Some(m) = attn_mask {
            let lead = if batched { n * nh } else { nh };
            let b = match m.rank() {
                2 if m.shape() == [l, s] => to_additive(OP, "attn_mask", m, true, dtype)?,
                3 if m.shape() == [lead, l, s] => to_additive(OP, "attn_mask", m, true, dtype)?.reshape(&[n, nh, l, s]),
                2 | 3 => {
                    let want = if m.rank() == 2 {
                        format!("(L, S) = [{l}, {s}]")
                    } else {
                        format!("(N * num_heads, L, S) = [{lead}, {l}, {s}]")
                    };
                    return Err(err(format!(
                        "the {}-D attn_mask has shape {:?}, but should be {want}",
                        m.rank(),
                        m.shape()
                    )));
                }
                d => return Err(err(format!("attn_mask must be 2-D or 3-D, got {d}-D of shape {:?}", m.shape()))),
            };
            bias = Some(b);
        }
        if let Some(m) = key_padding_mask {
            let want: Vec<usize> = if batched { vec![n, s] } else { vec![s] };
            if m.shape() != want {
                return Err(err(format!(
                    "expected key_padding_mask of shape {} = {want:?}, got {:?}",
                    if batched { "(N, S)" } else { "(S)" },
                    m.shape()
                )));
            }
            let b = to_additive(OP, "key_padding_mask", m, true, dtype)?.reshape(&[n, 1, 1, s]);
            bias = Some(match bias {
                Some(a) => &a + &b,
                None => b,
            });
        }
        Ok(bias)
    }
}

impl Module for MultiheadAttention {
    /// Self-attention (query = key = value = `x`), returning PyTorch's `attn_output`.
    ///
    /// **Panics** on a bad input shape, naming it.
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        self.forward_qkv(x, x, x, None, None, false).0
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        let named = [
            ("in_proj_weight", &self.in_proj_weight),
            ("q_proj_weight", &self.q_proj_weight),
            ("k_proj_weight", &self.k_proj_weight),
            ("v_proj_weight", &self.v_proj_weight),
        ];
        let mut p: Vec<(String, Variable)> =
            named.iter().filter_map(|(n, w)| w.as_ref().map(|w| (n.to_string(), w.clone()))).collect();
        if let Some(b) = &self.in_proj_bias {
            p.push(("in_proj_bias".to_string(), b.clone()));
        }
        p
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("out_proj".to_string(), &self.out_proj)]
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn is_training(&self) -> bool {
        self.training.get()
    }
}

impl Clone for MultiheadAttention {
    /// A deep copy (PyTorch's `copy.deepcopy`): new parameters with equal values, the same
    /// options and mode.
    fn clone(&self) -> MultiheadAttention {
        use crate::layers::transformer_common::{copy_linear, copy_var};
        let training = TrainingFlag::new();
        training.set(self.training.get());
        MultiheadAttention {
            in_proj_weight: self.in_proj_weight.as_ref().map(copy_var),
            q_proj_weight: self.q_proj_weight.as_ref().map(copy_var),
            k_proj_weight: self.k_proj_weight.as_ref().map(copy_var),
            v_proj_weight: self.v_proj_weight.as_ref().map(copy_var),
            in_proj_bias: self.in_proj_bias.as_ref().map(copy_var),
            out_proj: copy_linear(&self.out_proj),
            training,
            ..*self
        }
    }
}

fn err(msg: String) -> Error {
    Error::InvalidArgument { op: OP, msg }
}
