//! `TransformerDecoderLayer`: PyTorch's `nn.TransformerDecoderLayer` (self-attention, attention
//! over the encoder's output `memory`, and a feed-forward block; each with a residual connection,
//! layer norm and dropout).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use super::transformer::{copy_linear, linear, Norm};
use crate::functional::dropout_train;
use crate::{Linear, Module, MultiheadAttention, TrainingFlag};

const OP: &str = "TransformerDecoderLayer";

/// One transformer decoder layer, PyTorch's `nn.TransformerDecoderLayer`:
///
/// ```text
/// post-norm (default):  x = norm1(x + sa(x));  x = norm2(x + mha(x, memory));  x = norm3(x + ff(x))
/// norm_first:           x = x + sa(norm1(x));  x = x + mha(norm2(x), memory);  x = x + ff(norm3(x))
/// ```
///
/// with `sa` the self-attention, `mha` the attention over `memory` (each followed by dropout) and
/// `ff(x) = dropout(linear2(dropout(activation(linear1(x)))))`. Defaults as PyTorch's:
/// `dim_feedforward` 2048, dropout 0.1, ReLU, layer-norm eps 1e-5, `batch_first` and `norm_first`
/// false. The state dict matches PyTorch's: `self_attn.*`, `multihead_attn.*`, `linear1.*`,
/// `linear2.*`, `norm1.*`, `norm2.*`, `norm3.*`.
///
/// The layer takes two inputs: call [`forward2`](TransformerDecoderLayer::forward2) (`tgt`,
/// `memory`) or [`forward_with_masks`](TransformerDecoderLayer::forward_with_masks).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Module, TransformerDecoderLayer};
/// use ember_tensor::Tensor;
/// let layer = TransformerDecoderLayer::new(8, 2).dim_feedforward(16).batch_first(true);
/// layer.eval();
/// let tgt = Variable::from(Tensor::randn(&[3, 4, 8]));
/// let memory = Variable::from(Tensor::randn(&[3, 6, 8]));
/// assert_eq!(layer.forward2(&tgt, &memory).shape(), vec![3, 4, 8]);
/// let names: Vec<String> = layer.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[4], "multihead_attn.in_proj_weight");
/// assert_eq!(names[names.len() - 1], "norm3.bias");
/// ```
pub struct TransformerDecoderLayer {
    /// The self-attention block.
    pub self_attn: MultiheadAttention,
    /// The attention over the encoder's output.
    pub multihead_attn: MultiheadAttention,
    /// Feed-forward `d_model -> dim_feedforward`.
    pub linear1: Linear,
    /// Feed-forward `dim_feedforward -> d_model`.
    pub linear2: Linear,
    norm1: Norm,
    norm2: Norm,
    norm3: Norm,
    d_model: usize,
    bias: bool,
    dropout: f64,
    gelu: bool,
    norm_first: bool,
    training: TrainingFlag,
}

impl TransformerDecoderLayer {
    /// A layer of width `d_model` with `nhead` attention heads.
    ///
    /// **Panics** when `d_model` is not divisible by `nhead`; see [`TransformerDecoderLayer::try_new`].
    #[track_caller]
    pub fn new(d_model: usize, nhead: usize) -> TransformerDecoderLayer {
        match TransformerDecoderLayer::try_new(d_model, nhead) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`TransformerDecoderLayer::new`].
    pub fn try_new(d_model: usize, nhead: usize) -> Result<TransformerDecoderLayer> {
        let mha = || -> Result<MultiheadAttention> {
            Ok(MultiheadAttention::try_new(d_model, nhead)
                .map_err(|e| Error::InvalidArgument { op: OP, msg: e.to_string() })?
                .dropout(0.1))
        };
        Ok(TransformerDecoderLayer {
            self_attn: mha()?,
            multihead_attn: mha()?,
            linear1: Linear::new(d_model, 2048),
            linear2: Linear::new(2048, d_model),
            norm1: Norm::new(d_model, true, 1e-5),
            norm2: Norm::new(d_model, true, 1e-5),
            norm3: Norm::new(d_model, true, 1e-5),
            d_model,
            bias: true,
            dropout: 0.1,
            gelu: false,
            norm_first: false,
            training: TrainingFlag::new(),
        })
    }

    /// The hidden width of the feed-forward block (default 2048). Draws fresh `linear1`, `linear2`.
    #[must_use]
    pub fn dim_feedforward(mut self, n: usize) -> TransformerDecoderLayer {
        self.linear1 = linear(self.d_model, n, self.bias);
        self.linear2 = linear(n, self.d_model, self.bias);
        self
    }

    /// Dropout probability of every dropout in the layer, attention weights included (default 0.1).
    ///
    /// **Panics** when `p` is outside `[0, 1]`.
    #[must_use]
    #[track_caller]
    pub fn dropout(mut self, p: f64) -> TransformerDecoderLayer {
        self.self_attn = self.self_attn.dropout(p);
        self.multihead_attn = self.multihead_attn.dropout(p);
        self.dropout = p;
        self
    }

    /// GELU (exact, erf form) instead of ReLU in the feed-forward block.
    #[must_use]
    pub fn activation_gelu(mut self) -> TransformerDecoderLayer {
        self.gelu = true;
        self
    }

    /// Inputs and output as `[batch, seq, d_model]` (default false: `[seq, batch, d_model]`).
    #[must_use]
    pub fn batch_first(mut self, on: bool) -> TransformerDecoderLayer {
        self.self_attn = self.self_attn.batch_first(on);
        self.multihead_attn = self.multihead_attn.batch_first(on);
        self
    }

    /// Layer norm before each block (pre-norm) instead of after the residual sum (default false).
    #[must_use]
    pub fn norm_first(mut self, on: bool) -> TransformerDecoderLayer {
        self.norm_first = on;
        self
    }

    /// The layer norms' `eps` (default 1e-5).
    #[must_use]
    pub fn layer_norm_eps(mut self, eps: f64) -> TransformerDecoderLayer {
        self.norm1.eps = eps;
        self.norm2.eps = eps;
        self.norm3.eps = eps;
        self
    }

    /// With (default) or without biases in the linear layers, the attentions and the layer norms
    /// (PyTorch's `bias`). Draws fresh linear layers.
    #[must_use]
    pub fn bias(mut self, on: bool) -> TransformerDecoderLayer {
        let hidden = self.linear1.weight.shape()[0];
        self.bias = on;
        self.self_attn = self.self_attn.bias(on);
        self.multihead_attn = self.multihead_attn.bias(on);
        self.linear1 = linear(self.d_model, hidden, on);
        self.linear2 = linear(hidden, self.d_model, on);
        let eps = self.norm1.eps;
        (self.norm1, self.norm2, self.norm3) =
            (Norm::new(self.d_model, on, eps), Norm::new(self.d_model, on, eps), Norm::new(self.d_model, on, eps));
        self
    }

    /// The layer on `tgt` attending to `memory`, without masks (PyTorch's `forward(tgt, memory)`).
    ///
    /// **Panics** on bad shapes, naming them.
    #[track_caller]
    pub fn forward2(&self, tgt: &Variable, memory: &Variable) -> Variable {
        self.forward_with_masks(tgt, memory, None, None, None, None)
    }

    /// PyTorch's `forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    /// memory_key_padding_mask)`: masks as [`MultiheadAttention::forward_qkv`]'s `attn_mask`
    /// (`[T, T]` for `tgt_mask`, `[T, S]` for `memory_mask`) and `key_padding_mask`.
    ///
    /// **Panics** on bad shapes, naming them; see [`TransformerDecoderLayer::try_forward_with_masks`].
    #[track_caller]
    pub fn forward_with_masks(
        &self,
        tgt: &Variable,
        memory: &Variable,
        tgt_mask: Option<&Tensor>,
        memory_mask: Option<&Tensor>,
        tgt_key_padding_mask: Option<&Tensor>,
        memory_key_padding_mask: Option<&Tensor>,
    ) -> Variable {
        match self.try_forward_with_masks(
            tgt,
            memory,
            tgt_mask,
            memory_mask,
            tgt_key_padding_mask,
            memory_key_padding_mask,
        ) {
            Ok(y) => y,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`TransformerDecoderLayer::forward_with_masks`].
    pub fn try_forward_with_masks(
        &self,
        tgt: &Variable,
        memory: &Variable,
        tgt_mask: Option<&Tensor>,
        memory_mask: Option<&Tensor>,
        tgt_key_padding_mask: Option<&Tensor>,
        memory_key_padding_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        let (ts, ms) = (tgt.shape(), memory.shape());
        let d = self.d_model;
        if !(2..=3).contains(&ts.len()) || ts[ts.len() - 1] != d || ms.len() != ts.len() || ms[ms.len() - 1] != d {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "expected tgt and memory both 2-D (unbatched) or both 3-D with last dim d_model = {d}, got tgt {ts:?} and memory {ms:?}"
                ),
            });
        }
        let p = if self.training.get() { self.dropout } else { 0.0 };
        let drop_p = |x: Variable| if p > 0.0 { dropout_train(&x, p) } else { x };
        let wrap = |what: &str, e: Error| Error::InvalidArgument { op: OP, msg: format!("{what}: {e}") };
        let sa = |x: &Variable| -> Result<Variable> {
            let (y, _) = self
                .self_attn
                .try_forward_qkv(x, x, x, tgt_key_padding_mask, tgt_mask, false)
                .map_err(|e| wrap("self_attn", e))?;
            Ok(drop_p(y))
        };
        let mha = |x: &Variable| -> Result<Variable> {
            let (y, _) = self
                .multihead_attn
                .try_forward_qkv(x, memory, memory, memory_key_padding_mask, memory_mask, false)
                .map_err(|e| wrap("multihead_attn", e))?;
            Ok(drop_p(y))
        };
        let ff = |x: &Variable| {
            let h = self.linear1.forward(x);
            let h = if self.gelu { h.gelu() } else { h.relu() };
            drop_p(self.linear2.forward(&drop_p(h)))
        };
        Ok(if self.norm_first {
            let x = tgt + &sa(&self.norm1.forward(tgt))?;
            let x = &x + &mha(&self.norm2.forward(&x))?;
            &x + &ff(&self.norm3.forward(&x))
        } else {
            let x = self.norm1.forward(&(tgt + &sa(tgt)?));
            let x = self.norm2.forward(&(&x + &mha(&x)?));
            self.norm3.forward(&(&x + &ff(&x)))
        })
    }
}

impl Clone for TransformerDecoderLayer {
    /// A deep copy (PyTorch's `copy.deepcopy`, as `nn.TransformerDecoder` stacks its layer): new
    /// parameters with equal values, the same options and mode.
    fn clone(&self) -> TransformerDecoderLayer {
        let training = TrainingFlag::new();
        training.set(self.training.get());
        TransformerDecoderLayer {
            self_attn: self.self_attn.clone(),
            multihead_attn: self.multihead_attn.clone(),
            linear1: copy_linear(&self.linear1),
            linear2: copy_linear(&self.linear2),
            norm1: self.norm1.clone(),
            norm2: self.norm2.clone(),
            norm3: self.norm3.clone(),
            training,
            ..*self
        }
    }
}

impl Module for TransformerDecoderLayer {
    /// The layer needs two inputs: this panics, pointing to
    /// [`forward2`](TransformerDecoderLayer::forward2) (as PyTorch raises for a missing argument).
    #[track_caller]
    fn forward(&self, _tgt: &Variable) -> Variable {
        panic!("{OP}: forward takes two inputs (tgt, memory): call forward2(tgt, memory) or forward_with_masks(...)")
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("self_attn".to_string(), &self.self_attn as &dyn Module),
            ("multihead_attn".to_string(), &self.multihead_attn),
            ("linear1".to_string(), &self.linear1),
            ("linear2".to_string(), &self.linear2),
            ("norm1".to_string(), &self.norm1),
            ("norm2".to_string(), &self.norm2),
            ("norm3".to_string(), &self.norm3),
        ]
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn is_training(&self) -> bool {
        self.training.get()
    }
}
