//! Attention: `scaled_dot_product_attention`, and the masked softmax attention (with dropout on the
//! weights) that `MultiheadAttention` runs, built from matmul, softmax and masks.

use ember_autograd::{autocast_inputs, is_grad_enabled, Variable};
use ember_tensor::shape::broadcast_shapes;
use ember_tensor::{DType, Error, Result, Tensor};

const OP: &str = "scaled_dot_product_attention";

/// PyTorch's `F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale)`:
/// `softmax(q k^T · scale + mask) v`, `scale` defaulting (`None`) to `1 / sqrt(E)`; dropout with
/// probability `dropout_p` on the weights (as PyTorch, whatever the mode: pass 0 in evaluation).
///
/// On the CPU (F32, F64) without dropout this is one fused op (`Tensor::attention`): per block of
/// the batch and heads, the scores by one GEMM, scale, mask and softmax in one pass over the rows,
/// then the product with `v`; inference materialises one score block per thread, training keeps
/// the probabilities for the backward, whose own kernel (`Tensor::attention_backward`) computes
/// all three gradients from them. Elsewhere (GPU, dropout) it is composed of Variable ops.
///
/// Shapes: `q` `[..., L, E]`, `k` `[..., S, E]`, `v` `[..., S, Ev]`, the batch dims broadcasting;
/// the result is `[..., L, Ev]`.
///
/// `attn_mask` broadcasts to `[..., L, S]` and follows **PyTorch's SDPA convention**: a Bool mask is
/// `true` where a query *may attend* (the opposite of `MultiheadAttention`'s masks), a float mask is
/// added to the scores. `is_causal` masks the upper triangle (`j > i`, aligned top-left as PyTorch);
/// it cannot be combined with `attn_mask`. A query whose every key is masked gets zeros, as
/// PyTorch's SDPA.
///
/// **Panics** on mismatched shapes or dtypes; see [`try_scaled_dot_product_attention`].
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::functional::scaled_dot_product_attention;
/// use ember_tensor::Tensor;
/// let q = Variable::from(Tensor::randn(&[2, 3, 4]));
/// let v = Variable::from(Tensor::randn(&[2, 3, 5]));
/// let out = scaled_dot_product_attention(&q, &q, &v, None, 0.0, true, None);
/// assert_eq!(out.shape(), vec![2, 3, 5]);
/// // causal: the first query sees only the first key, so it gets the first value
/// let first = out.data().select(1, 0).to_vec::<f32>();
/// let v0 = v.data().select(1, 0).to_vec::<f32>();
/// assert!(first.iter().zip(&v0).all(|(a, b)| (a - b).abs() < 1e-6));
/// ```
#[track_caller]
pub fn scaled_dot_product_attention(
    q: &Variable,
    k: &Variable,
    v: &Variable,
    attn_mask: Option<&Tensor>,
    dropout_p: f64,
    is_causal: bool,
    scale: Option<f64>,
) -> Variable {
    match try_scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale) {
        Ok(y) => y,
        Err(e) => panic!("{e}"),
    }
}

/// Checked form of [`scaled_dot_product_attention`].
pub fn try_scaled_dot_product_attention(
    q: &Variable,
    k: &Variable,
    v: &Variable,
    attn_mask: Option<&Tensor>,
    dropout_p: f64,
    is_causal: bool,
    scale: Option<f64>,
) -> Result<Variable> {
    if let Some(a) = autocast_inputs(OP, &[Some(q), Some(k), Some(v)]) {
        return try_scaled_dot_product_attention(a.var(0), a.var(1), a.var(2), attn_mask, dropout_p, is_causal, scale);
    }
    let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
    if !(0.0..=1.0).contains(&dropout_p) {
        return Err(err(OP, format!("dropout_p must be in [0, 1], got {dropout_p}")));
    }
    if qs.len() < 2 || ks.len() < 2 || vs.len() < 2 {
        return Err(err(OP, format!("query, key and value must be at least 2-D, got shapes {qs:?}, {ks:?}, {vs:?}")));
    }
    let (l, e, s) = (qs[qs.len() - 2], qs[qs.len() - 1], ks[ks.len() - 2]);
    if ks[ks.len() - 1] != e {
        return Err(err(OP, format!("query {qs:?} and key {ks:?} must have the same last dim (embedding size)")));
    }
    if vs[vs.len() - 2] != s {
        return Err(err(OP, format!("key {ks:?} and value {vs:?} must have the same sequence length (dim -2)")));
    }
    if q.dtype() != k.dtype() || q.dtype() != v.dtype() {
        return Err(err(
            OP,
            format!("query, key and value dtypes differ: {}, {}, {}", q.dtype(), k.dtype(), v.dtype()),
        ));
    }
    let batch = broadcast_shapes(OP, &qs[..qs.len() - 2], &ks[..ks.len() - 2])
        .and_then(|b| broadcast_shapes(OP, &b, &vs[..vs.len() - 2]))
        .map_err(|_| err(OP, format!("batch dims of query {qs:?}, key {ks:?} and value {vs:?} do not broadcast")))?;
    let mut scores_shape: Vec<usize> = batch.to_vec();
    scores_shape.extend([l, s]);
    let bias = match (attn_mask, is_causal) {
        (Some(_), true) => return Err(err(OP, "an explicit attn_mask cannot be combined with is_causal=true".into())),
        (None, true) => None,
        (Some(m), false) => {
            check_mask_broadcasts(OP, "attn_mask", m, &scores_shape)?;
            Some(to_additive(OP, "attn_mask", m, false, q.dtype())?)
        }
        (None, false) => None,
    };
    let scale = scale.unwrap_or(1.0 / (e.max(1) as f64).sqrt());
    if dropout_p == 0.0 && fusable(q) {
        let expand = |x: &Variable, last: [usize; 2]| {
            let want: Vec<usize> = batch.iter().copied().chain(last).collect();
            if x.shape() == want {
                x.clone()
            } else {
                x.broadcast_to(&want)
            }
        };
        let (q, k, v) = (expand(q, [l, e]), expand(k, [s, e]), expand(v, [s, vs[vs.len() - 1]]));
        return Ok(fused_attention(&q, &k, &v, bias, is_causal, scale));
    }
    let bias = if is_causal { Some(additive_mask(&causal_mask(l, s).logical_not(), q.dtype())) } else { bias };
    Ok(attention(q, k, v, bias.as_ref(), dropout_p, true, scale).0)
}

/// True where the fused CPU kernel applies: a CPU tensor of F32 or F64 (GPU tensors compose their
/// native kernels instead).
pub(crate) fn fusable(q: &Variable) -> bool {
    q.device().is_cpu() && matches!(q.dtype(), DType::F32 | DType::F64)
}

/// The fused attention op on `q [..., L, E]`, `k [..., S, E]`, `v [..., S, Ev]` with equal batch
/// dims, recorded with its backward: the fused gradient kernel from the saved probabilities, or
/// under `create_graph` the same gradients as Variable ops (so they are differentiable again).
/// `bias` is additive and broadcasts to `[..., L, S]`; a query whose keys are all masked gets
/// zeros.
pub(crate) fn fused_attention(
    q: &Variable,
    k: &Variable,
    v: &Variable,
    bias: Option<Tensor>,
    causal: bool,
    scale: f64,
) -> Variable {
    let need = is_grad_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
    let (out, probs) = Tensor::attention(&q.data(), &k.data(), &v.data(), bias.as_ref(), causal, scale, need);
    let Some(probs) = probs else {
        return Variable::from(out);
    };
    Variable::record(OP, &[q, k, v], out, move |ctx| {
        let (q, k, v, g) = (&ctx.inputs[0], &ctx.inputs[1], &ctx.inputs[2], ctx.grad);
        if is_grad_enabled() {
            return composite_grads(q, k, v, g, bias.as_ref(), causal, scale).into_iter().map(Some).collect();
        }
        let (dq, dk, dv) = Tensor::attention_backward(&g.data(), &q.data(), &k.data(), &v.data(), &probs, scale);
        vec![Some(Variable::from(dq)), Some(Variable::from(dk)), Some(Variable::from(dv))]
    })
}

/// The fused op's gradients `[dq, dk, dv]` as Variable ops (differentiable again, for
/// `create_graph`): the probabilities recomputed as a function of `q` and `k`.
fn composite_grads(
    q: &Variable,
    k: &Variable,
    v: &Variable,
    g: &Variable,
    bias: Option<&Tensor>,
    causal: bool,
    scale: f64,
) -> [Variable; 3] {
    let (l, s) = (q.shape()[q.shape().len() - 2], k.shape()[k.shape().len() - 2]);
    let b = if causal { Some(additive_mask(&causal_mask(l, s).logical_not(), q.dtype())) } else { bias.cloned() };
    let (_, p) = attention(q, k, v, b.as_ref(), 0.0, true, scale);
    let dv = p.transpose(-1, -2).matmul(g);
    let dp = g.matmul(&v.transpose(-1, -2));
    let ds = &p * &(&dp - &(&dp * &p).sum_dim(-1, true)) * scale;
    [ds.matmul(k), ds.transpose(-1, -2).matmul(q), dv]
}

/// Self-attention over one packed projection `qkv [N, L, 3E]` (query, key and value side by side
/// along the last dim) in `heads` heads: the fused op reads `q`, `k`, `v` in place as views of
/// `qkv`, and its gradient is one `[N, L, 3E]` tensor with `dq`, `dk`, `dv` side by side, written
/// once. (Chunking `qkv` into three Variables instead gives three gradients that `narrow`'s
/// backward each pads to `[N, L, 3E]` with zeros and the graph then sums.) The output is
/// `[N, heads, L, E / heads]` as [`fused_attention`]'s; `bias` as there.
pub(crate) fn fused_attention_packed(qkv: &Variable, heads: usize, bias: Option<Tensor>, scale: f64) -> Variable {
    let shape = qkv.shape();
    let (n, l, e) = (shape[0], shape[1], shape[2] / 3);
    let hd = e / heads;
    // [N, heads, L, E / heads] views of the three thirds of the last dim
    let split = move |t: &Tensor| -> Vec<Tensor> {
        (0..3).map(|i| t.narrow(2, i * e, e).reshape(&[n, l, heads, hd]).permute(&[0, 2, 1, 3])).collect()
    };
    let need = is_grad_enabled() && qkv.requires_grad();
    let p = split(&qkv.data());
    let (out, probs) = Tensor::attention(&p[0], &p[1], &p[2], bias.as_ref(), false, scale, need);
    let Some(probs) = probs else {
        return Variable::from(out);
    };
    Variable::record(OP, &[qkv], out, move |ctx| {
        let (x, g) = (&ctx.inputs[0], ctx.grad);
        // each gradient back from [N, heads, L, E / heads] to [N, L, E] (free: the kernel writes
        // them in the memory order of its inputs, [N, L, heads, E / heads])
        if is_grad_enabled() {
            let h = |t: &Variable| t.reshape(&[n, l, heads, hd]).permute(&[0, 2, 1, 3]);
            let p = x.chunk(3, -1);
            let d = composite_grads(&h(&p[0]), &h(&p[1]), &h(&p[2]), g, bias.as_ref(), false, scale);
            let m: Vec<Variable> = d.iter().map(|t| t.permute(&[0, 2, 1, 3]).reshape(&[n, l, e])).collect();
            return vec![Some(Variable::cat(&m, -1))];
        }
        let p = split(&x.data());
        let (dq, dk, dv) = Tensor::attention_backward(&g.data(), &p[0], &p[1], &p[2], &probs, scale);
        let m = |t: Tensor| t.permute(&[0, 2, 1, 3]).reshape(&[n, l, e]);
        vec![Some(Variable::from(Tensor::cat(&[m(dq), m(dk), m(dv)], -1)))]
    })
}

/// `softmax(q k^T · scale + bias)`, dropout on those weights with probability `dropout_p`, and
/// the weighted sum of `v`: `(output, weights)`. Shapes as in [`scaled_dot_product_attention`];
/// `bias` is an additive float mask broadcasting to the scores.
///
/// A query whose keys are all masked (`-inf`) gets all-zero weights when `safe` (PyTorch's SDPA,
/// whose gradient there is zero too), NaN weights otherwise (PyTorch's explicit softmax path).
pub(crate) fn attention(
    q: &Variable,
    k: &Variable,
    v: &Variable,
    bias: Option<&Tensor>,
    dropout_p: f64,
    safe: bool,
    scale: f64,
) -> (Variable, Variable) {
    let mut scores = (q * scale).matmul(&k.transpose(-1, -2));
    let mut dead_rows = None;
    if let Some(b) = bias {
        let b = b.to(&scores.device());
        if safe {
            // rows without a finite bias: softmax over finite stand-ins, then zeroed
            let dead = b.isfinite().to_dtype(b.dtype()).sum_dim(-1, true).eq_scalar(0.0);
            if dead.to_dtype(DType::F32).sum().item::<f32>() > 0.0 {
                dead_rows = Some(dead);
            }
        }
        scores = &scores + &Variable::from(b);
    }
    let mut weights = match &dead_rows {
        Some(dead) => scores.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0),
        None => scores.softmax(-1),
    };
    if dropout_p > 0.0 {
        weights = dropout_train(&weights, dropout_p);
    }
    (weights.matmul(v), weights)
}

/// Training-mode dropout: zeroes each element with probability `p` and scales the rest by
/// `1 / (1 - p)` (PyTorch's `F.dropout(x, p, training=True)`).
pub(crate) fn dropout_train(x: &Variable, p: f64) -> Variable {
    if p <= 0.0 {
        return x.clone();
    }
    let d = x.data();
    let keep =
        if p >= 1.0 { d.zeros_like() } else { &d.rand_like().ge_scalar(p).to_dtype(d.dtype()) * (1.0 / (1.0 - p)) };
    x * &Variable::from(keep)
}

/// Bool `[l, s]`, true where key `j <= i` (may attend), as PyTorch's `is_causal`.
fn causal_mask(l: usize, s: usize) -> Tensor {
    let rows = Tensor::arange(0.0, l as f64, 1.0).reshape(&[l, 1]);
    let cols = Tensor::arange(0.0, s as f64, 1.0).reshape(&[1, s]);
    rows.ge(&cols)
}

/// `-inf` where `masked` (Bool) is true, 0 elsewhere, in `dtype`.
fn additive_mask(masked: &Tensor, dtype: DType) -> Tensor {
    Tensor::zeros_dtype(masked.shape(), dtype).to(&masked.device()).masked_fill(masked, f64::NEG_INFINITY)
}

/// A mask as an additive float tensor: a Bool mask becomes `-inf` where it masks (where it is
/// `true` when `true_masks`, else where it is `false`), a float mask of `dtype` is used as is.
pub(crate) fn to_additive(op: &'static str, what: &str, m: &Tensor, true_masks: bool, dtype: DType) -> Result<Tensor> {
    match m.dtype() {
        DType::Bool => Ok(additive_mask(&if true_masks { m.clone() } else { m.logical_not() }, dtype)),
        dt if dt == dtype => Ok(m.clone()),
        dt => Err(err(op, format!("{what} must be Bool or of the query's dtype {dtype}, got {dt}"))),
    }
}

/// Checks that `m` broadcasts to `target` without growing it.
fn check_mask_broadcasts(op: &'static str, what: &str, m: &Tensor, target: &[usize]) -> Result<()> {
    match broadcast_shapes(op, m.shape(), target) {
        Ok(b) if b.as_slice() == target => Ok(()),
        _ => Err(err(
            op,
            format!("{what} of shape {:?} does not broadcast to the attention weights' shape {target:?}", m.shape()),
        )),
    }
}

fn err(op: &'static str, msg: String) -> Error {
    Error::InvalidArgument { op, msg }
}
