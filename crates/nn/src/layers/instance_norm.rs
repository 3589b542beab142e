//! `InstanceNorm1d`, `InstanceNorm2d`: each sample's channels normalised over their own spatial
//! positions (PyTorch's defaults: eps 1e-5, momentum 0.1, no affine parameters, no running
//! statistics; with `track_running_stats`, `running_mean`, `running_var` and `num_batches_tracked`
//! buffers, updated in training and used in evaluation).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{InstanceNorm2d, Module};
//! use ember_tensor::Tensor;
//! let y = InstanceNorm2d::new(3).forward(&Variable::from(Tensor::randn(&[2, 3, 4, 4])));
//! let m = y.data().mean_dim(-1, false).mean_dim(-1, false).to_vec::<f32>();
//! assert!(m.iter().all(|v| v.abs() < 1e-5));
//! ```

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use crate::functional::try_instance_norm_with;
use crate::module::forward_or_panic;
use crate::{Module, TrainingFlag};

macro_rules! instance_norm_layer {
    ($T:ident, $torch:literal, $spatial:literal) => {
        #[doc = concat!("Instance normalisation, PyTorch's `nn.", $torch, "(num_features)`: input `[N, C, ", $spatial, "]`")]
        #[doc = concat!("or unbatched `[C, ", $spatial, "]`; with [`affine`](", stringify!($T), "::affine), `weight`")]
        #[doc = "(ones) and `bias` (zeros) of `[C]`."]
        pub struct $T {
            training: TrainingFlag,
            /// Per-channel scale `[C]` (`None` without `affine`, the default).
            pub weight: Option<Variable>,
            /// Per-channel shift `[C]` (`None` without `affine`, the default).
            pub bias: Option<Variable>,
            num_features: usize,
            eps: f64,
            momentum: f64,
            /// `running_mean`, `running_var` (`[C]`) and `num_batches_tracked` (I64 scalar) with
            /// `track_running_stats`.
            running: Option<[Variable; 3]>,
        }

        impl $T {
            /// Instance norm over `num_features` channels, eps 1e-5, no affine parameters.
            pub fn new(num_features: usize) -> $T {
                $T {
                    training: TrainingFlag::new(),
                    weight: None,
                    bias: None,
                    num_features,
                    eps: 1e-5,
                    momentum: 0.1,
                    running: None,
                }
            }

            /// The `eps` added to the variance (default 1e-5).
            #[must_use]
            pub fn eps(mut self, eps: f64) -> $T {
                self.eps = eps;
                self
            }

            /// With learned per-channel `weight` and `bias` (PyTorch's `affine`, default false).
            #[must_use]
            pub fn affine(mut self, on: bool) -> $T {
                let c = self.num_features;
                self.weight = on.then(|| Variable::new(Tensor::ones(&[c]), true));
                self.bias = on.then(|| Variable::new(Tensor::zeros(&[c]), true));
                self
            }

            /// The weight of the newest statistics in the running ones (default 0.1).
            #[must_use]
            pub fn momentum(mut self, momentum: f64) -> $T {
                self.momentum = momentum;
                self
            }

            /// With running statistics (PyTorch's `track_running_stats`, default false): buffers
            /// `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked` (0, which
            /// instance norm never advances, as PyTorch); updated by training forwards and used
            /// instead of each instance's statistics in evaluation.
            #[must_use]
            pub fn track_running_stats(mut self, on: bool) -> $T {
                let c = self.num_features;
                self.running = on.then(|| {
                    [
                        Variable::new(Tensor::zeros(&[c]), false),
                        Variable::new(Tensor::ones(&[c]), false),
                        Variable::new(Tensor::from_vec(vec![0i64], &[]), false),
                    ]
                });
                self
            }

            /// `running_mean` and `running_var`, with `track_running_stats`.
            pub fn running_stats(&self) -> Option<(&Variable, &Variable)> {
                self.running.as_ref().map(|r| (&r[0], &r[1]))
            }

            /// Checked forward: fails naming the layer and the shape when the input does not fit.
            pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
                let s = x.shape();
                let rank = $spatial.split(',').count() + 2;
                let c = self.num_features;
                if (s.len() != rank && s.len() != rank - 1) || s[s.len() + 1 - rank] != c {
                    return Err(Error::InvalidArgument {
                        op: stringify!($T),
                        msg: format!(
                            "expected a {}-D input [N, {c}, {}] or an unbatched {}-D one, got shape {s:?}",
                            rank,
                            $spatial,
                            rank - 1
                        ),
                    });
                }
                let batched = s.len() == rank;
                let xb = if batched { x.clone() } else { x.unsqueeze(0) };
                let (rm, rv) = match &self.running {
                    Some(r) => (Some(&r[0]), Some(&r[1])),
                    None => (None, None),
                };
                let use_input_stats = self.training.get() || self.running.is_none();
                let (w, b) = (self.weight.as_ref(), self.bias.as_ref());
                let y = try_instance_norm_with(&xb, rm, rv, w, b, use_input_stats, self.momentum, self.eps)?;
                Ok(if batched { y } else { y.squeeze(0) })
            }
        }

        impl Module for $T {
            /// This layer's own train/eval flag, so `eval()` reaches a user module made of such layers.
            fn training_flag(&self) -> Option<&TrainingFlag> {
                Some(&self.training)
            }
            #[track_caller]
            fn forward(&self, x: &Variable) -> Variable {
                forward_or_panic(self.try_forward(x))
            }

            fn own_parameters(&self) -> Vec<(String, Variable)> {
                $crate::module::weight_and_bias(self.weight.as_ref(), self.bias.as_ref())
            }

            fn own_buffers(&self) -> Vec<(String, Variable)> {
                let names = ["running_mean", "running_var", "num_batches_tracked"];
                self.running.iter().flat_map(|r| names.iter().zip(r).map(|(n, v)| (n.to_string(), v.clone()))).collect()
            }
        }
    };
}

instance_norm_layer!(InstanceNorm1d, "InstanceNorm1d", "L");
instance_norm_layer!(InstanceNorm2d, "InstanceNorm2d", "H, W");
