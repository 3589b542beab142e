//! `TransformerDecoderLayer`: PyTorch's `nn.TransformerDecoderLayer` (self-attention, attention
//! over the encoder's output `memory`, and a feed-forward block; each with a residual connection,
//! layer norm and dropout).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use super::transformer_common::{attention, copy_linear, decoder_forwards, layer_common, linear, LayerOpts, Norm};
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
    opts: LayerOpts,
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
        Ok(TransformerDecoderLayer {
            self_attn: attention(OP, d_model, nhead)?,
            multihead_attn: attention(OP, d_model, nhead)?,
            linear1: Linear::new(d_model, 2048),
            linear2: Linear::new(2048, d_model),
            norm1: Norm::new(d_model, true, 1e-5),
            norm2: Norm::new(d_model, true, 1e-5),
            norm3: Norm::new(d_model, true, 1e-5),
            opts: LayerOpts::new(OP, d_model),
        })
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
        let (d, o) = (self.opts.d_model, &self.opts);
        if !(2..=3).contains(&ts.len()) || ts[ts.len() - 1] != d || ms.len() != ts.len() || ms[ms.len() - 1] != d {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "expected tgt and memory both 2-D (unbatched) or both 3-D with last dim d_model = {d}, got tgt {ts:?} and memory {ms:?}"
                ),
            });
        }
        let x = o.residual(&self.norm1, tgt, |x| {
            o.attend("self_attn", &self.self_attn, x, x, tgt_key_padding_mask, tgt_mask)
        })?;
        let x = o.residual(&self.norm2, &x, |x| {
            o.attend("multihead_attn", &self.multihead_attn, x, memory, memory_key_padding_mask, memory_mask)
        })?;
        o.residual(&self.norm3, &x, |x| Ok(o.feed_forward(&self.linear1, &self.linear2, x)))
    }
}

layer_common!(TransformerDecoderLayer, [self_attn, multihead_attn], [norm1, norm2, norm3]);
decoder_forwards!(
    TransformerDecoderLayer,
    "layer",
    "masks as [`MultiheadAttention::forward_qkv`]'s `attn_mask` (`[T, T]` for `tgt_mask`, `[T, S]` for `memory_mask`) and `key_padding_mask`."
);

impl Module for TransformerDecoderLayer {
    /// The layer needs two inputs: this panics, pointing to
    /// [`forward2`](TransformerDecoderLayer::forward2) (as PyTorch raises for a missing argument).
    #[track_caller]
    fn forward(&self, _tgt: &Variable) -> Variable {
        panic!("{OP}: forward takes two inputs (tgt, memory): call forward2(tgt, memory) or forward_with_masks(...)")
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layer_children()
    }

    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.opts.training)
    }
}
