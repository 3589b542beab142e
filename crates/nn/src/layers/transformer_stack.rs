//! `TransformerEncoder` and `TransformerDecoder`: PyTorch's stacks of `num_layers` copies of one
//! layer with an optional final norm (state dict names `layers.0.*`, `layers.1.*`, ..., `norm.*`).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use super::transformer_common::decoder_forwards;
use crate::{Module, TransformerDecoderLayer, TransformerEncoderLayer};

fn stack_err(op: &'static str, i: usize, e: Error) -> Error {
    Error::InvalidArgument { op, msg: format!("layers.{i}: {e}") }
}

/// A stack of encoder layers, PyTorch's `nn.TransformerEncoder(encoder_layer, num_layers, norm)`:
/// `num_layers` deep copies of `encoder_layer` (equal initial weights, as PyTorch's
/// `copy.deepcopy`), run in turn, then the optional final `norm`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{LayerNorm, Module, TransformerEncoder, TransformerEncoderLayer};
/// use ember_tensor::Tensor;
/// let layer = TransformerEncoderLayer::new(8, 2).dim_feedforward(16).batch_first(true);
/// let enc = TransformerEncoder::new(layer, 3).norm(LayerNorm::new(8));
/// enc.eval();
/// let x = Variable::from(Tensor::randn(&[2, 5, 8]));
/// assert_eq!(enc.forward(&x).shape(), vec![2, 5, 8]);
/// let names: Vec<String> = enc.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[0], "layers.0.self_attn.in_proj_weight");
/// assert_eq!(names[names.len() - 1], "norm.bias");
/// ```
pub struct TransformerEncoder {
    /// The layers, in order.
    pub layers: Vec<TransformerEncoderLayer>,
    /// The final norm, if any.
    pub norm: Option<Box<dyn Module>>,
}

impl TransformerEncoder {
    /// `num_layers` deep copies of `encoder_layer`, without a final norm.
    pub fn new(encoder_layer: TransformerEncoderLayer, num_layers: usize) -> TransformerEncoder {
        TransformerEncoder { layers: (0..num_layers).map(|_| encoder_layer.clone()).collect(), norm: None }
    }

    /// A final norm run after the last layer (PyTorch's `norm`, e.g. `LayerNorm::new(d_model)`).
    #[must_use]
    pub fn norm(mut self, norm: impl Module + 'static) -> TransformerEncoder {
        self.norm = Some(Box::new(norm));
        self
    }

    /// PyTorch's `forward(src, mask, src_key_padding_mask)`: every layer's
    /// [`forward_with_mask`](TransformerEncoderLayer::forward_with_mask) with the same masks.
    ///
    /// **Panics** on bad shapes, naming them; see [`TransformerEncoder::try_forward_with_mask`].
    #[track_caller]
    pub fn forward_with_mask(
        &self,
        src: &Variable,
        mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
    ) -> Variable {
        match self.try_forward_with_mask(src, mask, src_key_padding_mask) {
            Ok(y) => y,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`TransformerEncoder::forward_with_mask`].
    pub fn try_forward_with_mask(
        &self,
        src: &Variable,
        mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        run_stack("TransformerEncoder", &self.layers, &self.norm, src, |layer, x| {
            layer.try_forward_with_mask(x, mask, src_key_padding_mask)
        })
    }
}

impl Module for TransformerEncoder {
    /// The stack on `src` without masks.
    ///
    /// **Panics** on a bad input shape, naming it.
    #[track_caller]
    fn forward(&self, src: &Variable) -> Variable {
        self.forward_with_mask(src, None, None)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        stack_children(&self.layers, &self.norm)
    }
}

/// A stack of decoder layers, PyTorch's `nn.TransformerDecoder(decoder_layer, num_layers, norm)`:
/// `num_layers` deep copies of `decoder_layer`, each attending to the same `memory`, then the
/// optional final `norm`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Module, TransformerDecoder, TransformerDecoderLayer};
/// use ember_tensor::Tensor;
/// let layer = TransformerDecoderLayer::new(8, 2).dim_feedforward(16);
/// let dec = TransformerDecoder::new(layer, 2);
/// let (tgt, memory) = (Variable::from(Tensor::randn(&[4, 2, 8])), Variable::from(Tensor::randn(&[6, 2, 8])));
/// assert_eq!(dec.forward2(&tgt, &memory).shape(), vec![4, 2, 8]);
/// ```
pub struct TransformerDecoder {
    /// The layers, in order.
    pub layers: Vec<TransformerDecoderLayer>,
    /// The final norm, if any.
    pub norm: Option<Box<dyn Module>>,
}

impl TransformerDecoder {
    /// `num_layers` deep copies of `decoder_layer`, without a final norm.
    pub fn new(decoder_layer: TransformerDecoderLayer, num_layers: usize) -> TransformerDecoder {
        TransformerDecoder { layers: (0..num_layers).map(|_| decoder_layer.clone()).collect(), norm: None }
    }

    /// A final norm run after the last layer (PyTorch's `norm`).
    #[must_use]
    pub fn norm(mut self, norm: impl Module + 'static) -> TransformerDecoder {
        self.norm = Some(Box::new(norm));
        self
    }

    /// Checked form of [`TransformerDecoder::forward_with_masks`].
    pub fn try_forward_with_masks(
        &self,
        tgt: &Variable,
        memory: &Variable,
        tgt_mask: Option<&Tensor>,
        memory_mask: Option<&Tensor>,
        tgt_key_padding_mask: Option<&Tensor>,
        memory_key_padding_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        run_stack("TransformerDecoder", &self.layers, &self.norm, tgt, |layer, x| {
            layer.try_forward_with_masks(
                x,
                memory,
                tgt_mask,
                memory_mask,
                tgt_key_padding_mask,
                memory_key_padding_mask,
            )
        })
    }
}

decoder_forwards!(TransformerDecoder, "stack", "the masks passed to every layer.");

impl Module for TransformerDecoder {
    /// The stack needs two inputs: this panics, pointing to
    /// [`forward2`](TransformerDecoder::forward2).
    #[track_caller]
    fn forward(&self, _tgt: &Variable) -> Variable {
        panic!("TransformerDecoder: forward takes two inputs (tgt, memory): call forward2(tgt, memory) or forward_with_masks(...)")
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        stack_children(&self.layers, &self.norm)
    }
}

/// Runs `layers` in order on `x` with `f` (an error names the stack and the layer's index), then
/// the final `norm` if any: the forward of both stacks.
fn run_stack<L>(
    name: &'static str,
    layers: &[L],
    norm: &Option<Box<dyn Module>>,
    x: &Variable,
    f: impl Fn(&L, &Variable) -> Result<Variable>,
) -> Result<Variable> {
    let mut x = x.clone();
    for (i, layer) in layers.iter().enumerate() {
        x = f(layer, &x).map_err(|e| stack_err(name, i, e))?;
    }
    Ok(match norm {
        Some(n) => n.forward(&x),
        None => x,
    })
}

/// `layers.0`, `layers.1`, ..., then `norm`: both stacks' children, PyTorch's names.
fn stack_children<'a, L: Module>(layers: &'a [L], norm: &'a Option<Box<dyn Module>>) -> Vec<(String, &'a dyn Module)> {
    let mut c: Vec<(String, &dyn Module)> =
        layers.iter().enumerate().map(|(i, l)| (format!("layers.{i}"), l as &dyn Module)).collect();
    if let Some(n) = norm {
        c.push(("norm".to_string(), n.as_ref()));
    }
    c
}
