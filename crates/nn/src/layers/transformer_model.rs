//! `Transformer`: PyTorch's `nn.Transformer`, an encoder stack and a decoder stack, each with a
//! final layer norm.

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use crate::{
    init, LayerNorm, Module, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
};

const OP: &str = "Transformer";

/// The options of a [`Transformer`] (PyTorch's keyword arguments), kept to rebuild it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    d_model: usize,
    nhead: usize,
    num_encoder_layers: usize,
    num_decoder_layers: usize,
    pub(crate) dim_feedforward: usize,
    pub(crate) dropout: f64,
    pub(crate) gelu: bool,
    pub(crate) layer_norm_eps: f64,
    pub(crate) batch_first: bool,
    pub(crate) norm_first: bool,
    pub(crate) bias: bool,
}

/// An encoder-decoder transformer, PyTorch's `nn.Transformer`: `encoder` (a
/// [`TransformerEncoder`] of `num_encoder_layers`, final `LayerNorm`) reads `src` into `memory`,
/// `decoder` (a [`TransformerDecoder`] of `num_decoder_layers`, final `LayerNorm`) reads `tgt`
/// attending to `memory`.
///
/// `Transformer::new(d_model, nhead)` takes PyTorch's other defaults: 6 encoder and 6 decoder
/// layers, `dim_feedforward` 2048, dropout 0.1, ReLU, eps 1e-5, `batch_first` and `norm_first`
/// false, biases; every weight matrix is drawn xavier-uniform, as PyTorch's `_reset_parameters`.
/// Each option is a builder method (which redraws the model). The state dict matches PyTorch's
/// (`encoder.layers.0.self_attn.in_proj_weight`, ..., `decoder.norm.bias`).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Module, Transformer};
/// use ember_tensor::Tensor;
/// let t = Transformer::new(8, 2).num_encoder_layers(2).num_decoder_layers(1).dim_feedforward(16);
/// t.eval();
/// let (src, tgt) = (Variable::from(Tensor::randn(&[5, 3, 8])), Variable::from(Tensor::randn(&[4, 3, 8])));
/// let mask = Transformer::generate_square_subsequent_mask(4);
/// let y = t.forward_with_masks(&src, &tgt, None, Some(&mask), None, None, None, None);
/// assert_eq!(y.shape(), vec![4, 3, 8]);
/// ```
pub struct Transformer {
    /// The encoder stack, with its final norm.
    pub encoder: TransformerEncoder,
    /// The decoder stack, with its final norm.
    pub decoder: TransformerDecoder,
    cfg: Config,
}

impl Transformer {
    /// A transformer of width `d_model` with `nhead` heads, PyTorch's other defaults.
    ///
    /// **Panics** when `d_model` is not divisible by `nhead`; see [`Transformer::try_new`].
    #[track_caller]
    pub fn new(d_model: usize, nhead: usize) -> Transformer {
        match Transformer::try_new(d_model, nhead) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`Transformer::new`].
    pub fn try_new(d_model: usize, nhead: usize) -> Result<Transformer> {
        if nhead == 0 || !d_model.is_multiple_of(nhead) {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!("d_model ({d_model}) must be divisible by nhead ({nhead})"),
            });
        }
        Ok(Transformer::build(Config {
            d_model,
            nhead,
            num_encoder_layers: 6,
            num_decoder_layers: 6,
            dim_feedforward: 2048,
            dropout: 0.1,
            gelu: false,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
            bias: true,
        }))
    }

    fn build(c: Config) -> Transformer {
        let enc = TransformerEncoderLayer::new(c.d_model, c.nhead).configured(&c);
        let dec = TransformerDecoderLayer::new(c.d_model, c.nhead).configured(&c);
        let norm = || LayerNorm::new(c.d_model).eps(c.layer_norm_eps).bias(c.bias);
        let t = Transformer {
            encoder: TransformerEncoder::new(enc, c.num_encoder_layers).norm(norm()),
            decoder: TransformerDecoder::new(dec, c.num_decoder_layers).norm(norm()),
            cfg: c,
        };
        for p in t.parameters() {
            if p.shape().len() > 1 {
                p.set_data(init::xavier_uniform(&p.shape()).to_dtype(p.dtype()));
            }
        }
        t
    }

    /// The dropout probability everywhere (default 0.1).
    ///
    /// **Panics** when `p` is outside `[0, 1]`.
    #[must_use]
    #[track_caller]
    pub fn dropout(self, p: f64) -> Transformer {
        if !(0.0..=1.0).contains(&p) {
            panic!("{OP}: dropout must be a probability in [0, 1], got {p}");
        }
        Transformer::build(Config { dropout: p, ..self.cfg })
    }

    /// GELU instead of ReLU in every feed-forward block.
    #[must_use]
    pub fn activation_gelu(self) -> Transformer {
        Transformer::build(Config { gelu: true, ..self.cfg })
    }

    /// A causal float mask `[sz, sz]`: 0 on and below the diagonal, `-inf` above (PyTorch's
    /// `Transformer.generate_square_subsequent_mask`).
    pub fn generate_square_subsequent_mask(sz: usize) -> Tensor {
        let v: Vec<f32> = (0..sz * sz).map(|i| if i % sz > i / sz { f32::NEG_INFINITY } else { 0.0 }).collect();
        Tensor::from_vec(v, &[sz, sz])
    }

    /// The model on `src` and `tgt`, without masks.
    ///
    /// **Panics** on bad shapes, naming them.
    #[track_caller]
    pub fn forward2(&self, src: &Variable, tgt: &Variable) -> Variable {
        self.forward_with_masks(src, tgt, None, None, None, None, None, None)
    }

    /// PyTorch's `forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
    /// tgt_key_padding_mask, memory_key_padding_mask)`.
    ///
    /// **Panics** on bad shapes, naming them; see [`Transformer::try_forward_with_masks`].
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn forward_with_masks(
        &self,
        src: &Variable,
        tgt: &Variable,
        src_mask: Option<&Tensor>,
        tgt_mask: Option<&Tensor>,
        memory_mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
        tgt_key_padding_mask: Option<&Tensor>,
        memory_key_padding_mask: Option<&Tensor>,
    ) -> Variable {
        let r = self.try_forward_with_masks(
            src,
            tgt,
            src_mask,
            tgt_mask,
            memory_mask,
            src_key_padding_mask,
            tgt_key_padding_mask,
            memory_key_padding_mask,
        );
        match r {
            Ok(y) => y,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`Transformer::forward_with_masks`].
    #[allow(clippy::too_many_arguments)]
    pub fn try_forward_with_masks(
        &self,
        src: &Variable,
        tgt: &Variable,
        src_mask: Option<&Tensor>,
        tgt_mask: Option<&Tensor>,
        memory_mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
        tgt_key_padding_mask: Option<&Tensor>,
        memory_key_padding_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        let (ss, ts) = (src.shape(), tgt.shape());
        let d = self.cfg.d_model;
        let batch_dim = if self.cfg.batch_first { 0 } else { 1 };
        let bad = ss.len() != ts.len()
            || !(2..=3).contains(&ss.len())
            || ss[ss.len() - 1] != d
            || ts[ts.len() - 1] != d
            || (ss.len() == 3 && ss[batch_dim] != ts[batch_dim]);
        if bad {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "src {ss:?} and tgt {ts:?} must both be 2-D or both 3-D with the same batch size and last dim d_model = {d}"
                ),
            });
        }
        let wrap = |e: Error| Error::InvalidArgument { op: OP, msg: e.to_string() };
        let memory = self.encoder.try_forward_with_mask(src, src_mask, src_key_padding_mask).map_err(wrap)?;
        self.decoder
            .try_forward_with_masks(tgt, &memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)
            .map_err(wrap)
    }
}

/// Builder methods of [`Transformer`] that rebuild (redraw) it with one option of its [`Config`]
/// changed: `name(arg: type)` sets the field `name`.
macro_rules! config_setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {
        impl Transformer {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(self, $arg: $ty) -> Transformer {
                    Transformer::build(Config { $name: $arg, ..self.cfg })
                }
            )*
        }
    };
}

config_setters! {
    /// The number of encoder layers (default 6).
    num_encoder_layers(n: usize);
    /// The number of decoder layers (default 6).
    num_decoder_layers(n: usize);
    /// The feed-forward width of every layer (default 2048).
    dim_feedforward(n: usize);
    /// The layer norms' `eps` (default 1e-5).
    layer_norm_eps(eps: f64);
    /// Inputs and output as `[batch, seq, d_model]` (default false: `[seq, batch, d_model]`).
    batch_first(on: bool);
    /// Pre-norm layers (default false).
    norm_first(on: bool);
    /// With (default) or without biases in the linear layers, attentions and norms.
    bias(on: bool);
}

impl Module for Transformer {
    /// The model needs two inputs: this panics, pointing to [`forward2`](Transformer::forward2).
    #[track_caller]
    fn forward(&self, _src: &Variable) -> Variable {
        panic!("{OP}: forward takes two inputs (src, tgt): call forward2(src, tgt) or forward_with_masks(...)")
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("encoder".to_string(), &self.encoder as &dyn Module), ("decoder".to_string(), &self.decoder)]
    }
}
