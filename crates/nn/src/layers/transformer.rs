//! `TransformerEncoderLayer`: PyTorch's `nn.TransformerEncoderLayer` (self-attention and a
//! feed-forward block, each with a residual connection, layer norm and dropout).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use super::transformer_common::{attention, copy_linear, layer_common, linear, LayerOpts, Norm};
use crate::{Linear, Module, MultiheadAttention, TrainingFlag};

const OP: &str = "TransformerEncoderLayer";

/// One transformer encoder layer, PyTorch's `nn.TransformerEncoderLayer`:
///
/// ```text
/// post-norm (default):  x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(ff(x)))
/// norm_first:           x = x + dropout1(self_attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))
/// ff(x) = linear2(dropout(activation(linear1(x))))
/// ```
///
/// Defaults as PyTorch's: `dim_feedforward` 2048, dropout 0.1, ReLU, layer-norm eps 1e-5,
/// `batch_first` and `norm_first` false. The state dict matches PyTorch's: `self_attn.*`
/// (see [`MultiheadAttention`]), `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Module, TransformerEncoderLayer};
/// use ember_tensor::Tensor;
/// let layer = TransformerEncoderLayer::new(8, 2).dim_feedforward(16).batch_first(true);
/// layer.eval(); // dropout off
/// let x = Variable::from(Tensor::randn(&[3, 5, 8]));
/// let y = layer.forward(&x);
/// assert_eq!(y.shape(), vec![3, 5, 8]);
/// // post-norm: each output vector has mean 0 (norm2's bias is 0)
/// assert!(y.data().mean_dim(-1, false).to_vec::<f32>().iter().all(|m| m.abs() < 1e-5));
/// let names: Vec<String> = layer.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[0], "self_attn.in_proj_weight");
/// assert_eq!(names[names.len() - 1], "norm2.bias");
/// ```
pub struct TransformerEncoderLayer {
    /// The self-attention block.
    pub self_attn: MultiheadAttention,
    /// Feed-forward `d_model -> dim_feedforward`.
    pub linear1: Linear,
    /// Feed-forward `dim_feedforward -> d_model`.
    pub linear2: Linear,
    norm1: Norm,
    norm2: Norm,
    opts: LayerOpts,
}

impl TransformerEncoderLayer {
    /// A layer of width `d_model` with `nhead` attention heads.
    ///
    /// **Panics** when `d_model` is not divisible by `nhead`; see [`TransformerEncoderLayer::try_new`].
    #[track_caller]
    pub fn new(d_model: usize, nhead: usize) -> TransformerEncoderLayer {
        match TransformerEncoderLayer::try_new(d_model, nhead) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`TransformerEncoderLayer::new`].
    pub fn try_new(d_model: usize, nhead: usize) -> Result<TransformerEncoderLayer> {
        Ok(TransformerEncoderLayer {
            self_attn: attention(OP, d_model, nhead)?,
            linear1: Linear::new(d_model, 2048),
            linear2: Linear::new(2048, d_model),
            norm1: Norm::new(d_model, true, 1e-5),
            norm2: Norm::new(d_model, true, 1e-5),
            opts: LayerOpts::new(OP, d_model),
        })
    }

    /// PyTorch's `forward(src, src_mask, src_key_padding_mask)`: masks as
    /// [`MultiheadAttention::forward_qkv`]'s `attn_mask` and `key_padding_mask`.
    ///
    /// **Panics** on bad shapes, naming them; see [`TransformerEncoderLayer::try_forward_with_mask`].
    #[track_caller]
    pub fn forward_with_mask(
        &self,
        src: &Variable,
        src_mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
    ) -> Variable {
        match self.try_forward_with_mask(src, src_mask, src_key_padding_mask) {
            Ok(y) => y,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`TransformerEncoderLayer::forward_with_mask`].
    pub fn try_forward_with_mask(
        &self,
        src: &Variable,
        src_mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        let shape = src.shape();
        let (d, o) = (self.opts.d_model, &self.opts);
        if !(2..=3).contains(&shape.len()) || shape[shape.len() - 1] != d {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "expected a 2-D (unbatched) or 3-D input with last dim d_model = {d}, got shape {shape:?}"
                ),
            });
        }
        let x = o.residual(&self.norm1, src, |x| {
            o.attend("self_attn", &self.self_attn, x, x, src_key_padding_mask, src_mask)
        })?;
        o.residual(&self.norm2, &x, |x| Ok(o.feed_forward(&self.linear1, &self.linear2, x)))
    }
}

layer_common!(TransformerEncoderLayer, [self_attn], [norm1, norm2]);

impl Module for TransformerEncoderLayer {
    /// The layer on `src` without masks.
    ///
    /// **Panics** on a bad input shape, naming it.
    #[track_caller]
    fn forward(&self, src: &Variable) -> Variable {
        self.forward_with_mask(src, None, None)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layer_children()
    }

    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.opts.training)
    }
}
