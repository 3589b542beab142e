//! What the transformer layers share: the private layer norm [`Norm`] (PyTorch's state-dict
//! names), deep copies of parameters, the options and mode every layer keeps ([`LayerOpts`]: the
//! residual blocks, the feed-forward block, dropout), the builder methods, deep copy and children
//! of both layers (`layer_common!`) and the two-input forwards of the decoder layer and stack
//! (`decoder_forwards!`).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use crate::functional::dropout_train;
use crate::{Linear, Module, MultiheadAttention, TrainingFlag};

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
    /// `F::layer_norm` over the last dim: one fused pass per row forward and backward on the CPU
    /// (the composite of mean, variance and affine ops it replaced took 4-5x longer backward).
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        let d = self.weight.shape()[0];
        crate::functional::layer_norm(x, &[d], Some(&self.weight), self.bias.as_ref(), self.eps)
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        crate::module::weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}

/// A linear layer `i -> o`, with or without a bias.
pub(crate) fn linear(i: usize, o: usize, bias: bool) -> Linear {
    let l = Linear::new(i, o);
    if bias {
        l
    } else {
        l.no_bias()
    }
}

/// A transformer layer's attention block as `new` makes it (dropout 0.1, PyTorch's default); an
/// error (`d_model` not divisible by `nhead`) names the layer `op`.
pub(crate) fn attention(op: &'static str, d_model: usize, nhead: usize) -> Result<MultiheadAttention> {
    Ok(MultiheadAttention::try_new(d_model, nhead)
        .map_err(|e| Error::InvalidArgument { op, msg: e.to_string() })?
        .dropout(0.1))
}

/// The options and mode of a transformer layer besides its sub-modules (PyTorch's defaults from
/// [`LayerOpts::new`]).
pub(crate) struct LayerOpts {
    /// The layer's name in errors.
    pub(crate) op: &'static str,
    pub(crate) d_model: usize,
    pub(crate) bias: bool,
    pub(crate) dropout: f64,
    pub(crate) gelu: bool,
    pub(crate) norm_first: bool,
    pub(crate) training: TrainingFlag,
}

impl Clone for LayerOpts {
    /// The same options and mode, with a flag of its own.
    fn clone(&self) -> LayerOpts {
        let training = TrainingFlag::new();
        training.set(self.training.get());
        LayerOpts { training, ..*self }
    }
}

impl LayerOpts {
    /// PyTorch's defaults: biases, dropout 0.1, ReLU, post-norm, training.
    pub(crate) fn new(op: &'static str, d_model: usize) -> LayerOpts {
        LayerOpts {
            op,
            d_model,
            bias: true,
            dropout: 0.1,
            gelu: false,
            norm_first: false,
            training: TrainingFlag::new(),
        }
    }

    /// `x` through the layer's dropout (the identity in evaluation or with probability 0).
    pub(crate) fn drop(&self, x: Variable) -> Variable {
        let p = if self.training.get() { self.dropout } else { 0.0 };
        if p > 0.0 {
            dropout_train(&x, p)
        } else {
            x
        }
    }

    /// `attn(q, kv, kv)` with the masks, then dropout; an error names the layer and the block.
    pub(crate) fn attend(
        &self,
        block: &str,
        attn: &MultiheadAttention,
        q: &Variable,
        kv: &Variable,
        key_padding_mask: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        let (y, _) = attn
            .try_forward_qkv(q, kv, kv, key_padding_mask, attn_mask, false)
            .map_err(|e| Error::InvalidArgument { op: self.op, msg: format!("{block}: {e}") })?;
        Ok(self.drop(y))
    }

    /// The feed-forward block `dropout(linear2(dropout(activation(linear1(x)))))`.
    pub(crate) fn feed_forward(&self, linear1: &Linear, linear2: &Linear, x: &Variable) -> Variable {
        let h = linear1.forward(x);
        let h = if self.gelu { h.gelu() } else { h.relu() };
        self.drop(linear2.forward(&self.drop(h)))
    }

    /// One residual block around `f`: `x + f(norm(x))` with `norm_first`, else `norm(x + f(x))`.
    pub(crate) fn residual(
        &self,
        norm: &Norm,
        x: &Variable,
        f: impl FnOnce(&Variable) -> Result<Variable>,
    ) -> Result<Variable> {
        Ok(if self.norm_first { x + &f(&norm.forward(x))? } else { norm.forward(&(x + &f(x)?)) })
    }
}

/// What both transformer layers share, for a layer type `$T` with the attention blocks `$attn`
/// and the norms `$norm` (fields, in state-dict order) besides `linear1`, `linear2` and `opts`:
/// the builder methods, the deep copy (`Clone`) and the children in PyTorch's order.
macro_rules! layer_common {
    ($T:ident, [$($attn:ident),+], [$($norm:ident),+]) => {
        impl $T {
            /// The hidden width of the feed-forward block (default 2048). Draws fresh `linear1`, `linear2`.
            #[must_use]
            pub fn dim_feedforward(mut self, n: usize) -> $T {
                self.linear1 = linear(self.opts.d_model, n, self.opts.bias);
                self.linear2 = linear(n, self.opts.d_model, self.opts.bias);
                self
            }

            /// Dropout probability of every dropout in the layer, attention weights included (default 0.1).
            ///
            /// **Panics** when `p` is outside `[0, 1]`.
            #[must_use]
            #[track_caller]
            pub fn dropout(mut self, p: f64) -> $T {
                if !(0.0..=1.0).contains(&p) {
                    panic!("{}: dropout must be a probability in [0, 1], got {p}", self.opts.op);
                }
                $(self.$attn = self.$attn.dropout(p);)+
                self.opts.dropout = p;
                self
            }

            /// GELU (exact, erf form) instead of ReLU in the feed-forward block.
            #[must_use]
            pub fn activation_gelu(mut self) -> $T {
                self.opts.gelu = true;
                self
            }

            /// Inputs and output as `[batch, seq, d_model]` (default false: `[seq, batch, d_model]`).
            #[must_use]
            pub fn batch_first(mut self, on: bool) -> $T {
                $(self.$attn = self.$attn.batch_first(on);)+
                self
            }

            /// Layer norm before each block (pre-norm) instead of after the residual sum (default false).
            #[must_use]
            pub fn norm_first(mut self, on: bool) -> $T {
                self.opts.norm_first = on;
                self
            }

            /// The layer norms' `eps` (default 1e-5).
            #[must_use]
            pub fn layer_norm_eps(mut self, eps: f64) -> $T {
                $(self.$norm.eps = eps;)+
                self
            }

            /// With (default) or without biases in the linear layers, the attention blocks and the
            /// layer norms (PyTorch's `bias`). Draws fresh linear layers.
            #[must_use]
            pub fn bias(mut self, on: bool) -> $T {
                let (d, hidden) = (self.opts.d_model, self.linear1.weight.shape()[0]);
                self.opts.bias = on;
                $(self.$attn = self.$attn.bias(on);)+
                self.linear1 = linear(d, hidden, on);
                self.linear2 = linear(hidden, d, on);
                $(self.$norm = Norm::new(d, on, self.$norm.eps);)+
                self
            }

            /// `self` with a [`Transformer`](crate::Transformer)'s layer options, set in the order
            /// `Transformer` always has (each draws what its builder draws).
            pub(crate) fn configured(self, c: &super::transformer_model::Config) -> $T {
                let l = self.bias(c.bias).dim_feedforward(c.dim_feedforward).dropout(c.dropout);
                let l = l.layer_norm_eps(c.layer_norm_eps).batch_first(c.batch_first).norm_first(c.norm_first);
                if c.gelu {
                    l.activation_gelu()
                } else {
                    l
                }
            }

            /// The sub-modules in PyTorch's order: the attention blocks, `linear1`, `linear2`, the norms.
            fn layer_children(&self) -> Vec<(String, &dyn Module)> {
                let mut c: Vec<(String, &dyn Module)> = vec![$((stringify!($attn).to_string(), &self.$attn as &dyn Module),)+];
                c.push(("linear1".to_string(), &self.linear1));
                c.push(("linear2".to_string(), &self.linear2));
                c.extend([$((stringify!($norm).to_string(), &self.$norm as &dyn Module),)+]);
                c
            }
        }

        impl Clone for $T {
            /// A deep copy (PyTorch's `copy.deepcopy`, as the stacks copy their layer): new
            /// parameters with equal values, the same options and mode.
            fn clone(&self) -> $T {
                $T {
                    $($attn: self.$attn.clone(),)+
                    linear1: copy_linear(&self.linear1),
                    linear2: copy_linear(&self.linear2),
                    $($norm: self.$norm.clone(),)+
                    opts: self.opts.clone(),
                }
            }
        }
    };
}
pub(crate) use layer_common;

/// The panicking two-input forwards of a decoder layer or stack `$T` (`$what`: "layer" or
/// "stack"), through its `try_forward_with_masks`; `$masks` ends the doc of `forward_with_masks`.
macro_rules! decoder_forwards {
    ($T:ident, $what:literal, $masks:literal) => {
        impl $T {
            #[doc = concat!("The ", $what, " on `tgt` attending to `memory`, without masks (PyTorch's `forward(tgt, memory)`).")]
            ///
            /// **Panics** on bad shapes, naming them.
            #[track_caller]
            pub fn forward2(&self, tgt: &Variable, memory: &Variable) -> Variable {
                self.forward_with_masks(tgt, memory, None, None, None, None)
            }

            /// PyTorch's `forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
            #[doc = concat!("memory_key_padding_mask)`: ", $masks)]
            ///
            #[doc = concat!("**Panics** on bad shapes, naming them; see [`", stringify!($T), "::try_forward_with_masks`].")]
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
        }
    };
}
pub(crate) use decoder_forwards;
