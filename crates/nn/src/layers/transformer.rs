//! `TransformerEncoderLayer`: PyTorch's `nn.TransformerEncoderLayer` (self-attention and a
//! feed-forward block, each with a residual connection, layer norm and dropout).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use crate::functional::dropout_train;
use crate::{Linear, Module, MultiheadAttention, TrainingFlag};

const OP: &str = "TransformerEncoderLayer";

/// Layer norm over the last dim (PyTorch's `nn.LayerNorm(d_model, eps)`: `weight` ones, `bias`
/// zeros), private to the transformer layers so that their state dicts read `norm1.weight`,
/// `norm1.bias`, ...
pub(crate) struct Norm {
    weight: Variable,
    bias: Option<Variable>,
    pub(crate) eps: f64,
}

/// A new Variable holding a copy of `v`'s values (PyTorch's `copy.deepcopy` of a parameter).
pub(crate) fn copy_var(v: &Variable) -> Variable {
    Variable::new(&v.data() * 1.0, v.requires_grad())
}

/// A deep copy of a linear layer: new parameters (trainable) with equal values.
pub(crate) fn copy_linear(l: &Linear) -> Linear {
    Linear::from_weights(&l.weight.data() * 1.0, l.bias.as_ref().map(|b| &b.data() * 1.0))
}

impl Clone for Norm {
    /// A deep copy: new parameters with equal values.
    fn clone(&self) -> Norm {
        Norm { weight: copy_var(&self.weight), bias: self.bias.as_ref().map(copy_var), eps: self.eps }
    }
}

impl Norm {
    pub(crate) fn new(d: usize, bias: bool, eps: f64) -> Norm {
        Norm {
            weight: Variable::new(Tensor::ones(&[d]), true),
            bias: bias.then(|| Variable::new(Tensor::zeros(&[d]), true)),
            eps,
        }
    }
}

impl Module for Norm {
    fn forward(&self, x: &Variable) -> Variable {
        let xc = x - &x.mean_dim(-1, true);
        let var = xc.square().mean_dim(-1, true);
        let y = &(&xc * &(var + self.eps).rsqrt()) * &self.weight;
        match &self.bias {
            Some(b) => &y + b,
            None => y,
        }
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        p.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        p
    }
}

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
    pub(crate) norm1: Norm,
    pub(crate) norm2: Norm,
    d_model: usize,
    bias: bool,
    dropout: f64,
    gelu: bool,
    norm_first: bool,
    training: TrainingFlag,
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
        let self_attn = MultiheadAttention::try_new(d_model, nhead)
            .map_err(|e| Error::InvalidArgument { op: OP, msg: e.to_string() })?
            .dropout(0.1);
        Ok(TransformerEncoderLayer {
            self_attn,
            linear1: Linear::new(d_model, 2048),
            linear2: Linear::new(2048, d_model),
            norm1: Norm::new(d_model, true, 1e-5),
            norm2: Norm::new(d_model, true, 1e-5),
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
    pub fn dim_feedforward(mut self, n: usize) -> TransformerEncoderLayer {
        self.linear1 = linear(self.d_model, n, self.bias);
        self.linear2 = linear(n, self.d_model, self.bias);
        self
    }

    /// Dropout probability of every dropout in the layer, attention weights included (default 0.1).
    ///
    /// **Panics** when `p` is outside `[0, 1]`.
    #[must_use]
    #[track_caller]
    pub fn dropout(mut self, p: f64) -> TransformerEncoderLayer {
        self.self_attn = self.self_attn.dropout(p);
        self.dropout = p;
        self
    }

    /// GELU (exact, erf form) instead of ReLU in the feed-forward block.
    #[must_use]
    pub fn activation_gelu(mut self) -> TransformerEncoderLayer {
        self.gelu = true;
        self
    }

    /// Input and output as `[batch, seq, d_model]` (default false: `[seq, batch, d_model]`).
    #[must_use]
    pub fn batch_first(mut self, on: bool) -> TransformerEncoderLayer {
        self.self_attn = self.self_attn.batch_first(on);
        self
    }

    /// Layer norm before each block (pre-norm) instead of after the residual sum (default false).
    #[must_use]
    pub fn norm_first(mut self, on: bool) -> TransformerEncoderLayer {
        self.norm_first = on;
        self
    }

    /// The layer norms' `eps` (default 1e-5).
    #[must_use]
    pub fn layer_norm_eps(mut self, eps: f64) -> TransformerEncoderLayer {
        self.norm1.eps = eps;
        self.norm2.eps = eps;
        self
    }

    /// With (default) or without biases in the linear layers, the attention and the layer norms
    /// (PyTorch's `bias`). Draws fresh linear layers.
    #[must_use]
    pub fn bias(mut self, on: bool) -> TransformerEncoderLayer {
        let hidden = self.linear1.weight.shape()[0];
        self.bias = on;
        self.self_attn = self.self_attn.bias(on);
        self.linear1 = linear(self.d_model, hidden, on);
        self.linear2 = linear(hidden, self.d_model, on);
        self.norm1 = Norm::new(self.d_model, on, self.norm1.eps);
        self.norm2 = Norm::new(self.d_model, on, self.norm2.eps);
        self
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
        if !(2..=3).contains(&shape.len()) || shape[shape.len() - 1] != self.d_model {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "expected a 2-D (unbatched) or 3-D input with last dim d_model = {}, got shape {shape:?}",
                    self.d_model
                ),
            });
        }
        let p = if self.training.get() { self.dropout } else { 0.0 };
        let drop_p = |x: Variable| if p > 0.0 { dropout_train(&x, p) } else { x };
        let sa = |x: &Variable| -> Result<Variable> {
            let (y, _) = self
                .self_attn
                .try_forward_qkv(x, x, x, src_key_padding_mask, src_mask, false)
                .map_err(|e| Error::InvalidArgument { op: OP, msg: format!("self_attn: {e}") })?;
            Ok(drop_p(y))
        };
        let ff = |x: &Variable| {
            let h = self.linear1.forward(x);
            let h = if self.gelu { h.gelu() } else { h.relu() };
            drop_p(self.linear2.forward(&drop_p(h)))
        };
        Ok(if self.norm_first {
            let x = src + &sa(&self.norm1.forward(src))?;
            &x + &ff(&self.norm2.forward(&x))
        } else {
            let x = self.norm1.forward(&(src + &sa(src)?));
            self.norm2.forward(&(&x + &ff(&x)))
        })
    }
}

impl Clone for TransformerEncoderLayer {
    /// A deep copy (PyTorch's `copy.deepcopy`, as `nn.TransformerEncoder` stacks its layer): new
    /// parameters with equal values, the same options and mode.
    fn clone(&self) -> TransformerEncoderLayer {
        let training = TrainingFlag::new();
        training.set(self.training.get());
        TransformerEncoderLayer {
            self_attn: self.self_attn.clone(),
            linear1: copy_linear(&self.linear1),
            linear2: copy_linear(&self.linear2),
            norm1: self.norm1.clone(),
            norm2: self.norm2.clone(),
            training,
            ..*self
        }
    }
}

pub(crate) fn linear(i: usize, o: usize, bias: bool) -> Linear {
    let l = Linear::new(i, o);
    if bias {
        l
    } else {
        l.no_bias()
    }
}

impl Module for TransformerEncoderLayer {
    /// The layer on `src` without masks.
    ///
    /// **Panics** on a bad input shape, naming it.
    #[track_caller]
    fn forward(&self, src: &Variable) -> Variable {
        self.forward_with_mask(src, None, None)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("self_attn".to_string(), &self.self_attn as &dyn Module),
            ("linear1".to_string(), &self.linear1),
            ("linear2".to_string(), &self.linear2),
            ("norm1".to_string(), &self.norm1),
            ("norm2".to_string(), &self.norm2),
        ]
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn is_training(&self) -> bool {
        self.training.get()
    }
}
