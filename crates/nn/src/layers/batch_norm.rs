//! Batch normalisation: `BatchNorm1d` (`[N, C]` or `[N, C, L]`) and `BatchNorm2d` (`[N, C, H, W]`),
//! PyTorch's layers with the same state: parameters `weight` (ones) and `bias` (zeros), buffers
//! `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked` (an I64 scalar).
//!
//! In training, the batch's per-channel mean and biased variance normalise, and the running
//! statistics move by `momentum` (0.1) towards the batch mean and the *unbiased* variance; with
//! `momentum(None)` they are the cumulative average over `num_batches_tracked` batches. In
//! evaluation, the running statistics normalise.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{BatchNorm2d, Module};
//! use ember_tensor::Tensor;
//! let bn = BatchNorm2d::new(3);
//! let y = bn.forward(&Variable::from(Tensor::randn(&[4, 3, 5, 5]) * 2.0 + 1.0));
//! let m = y.data().mean_dims(&[0, 2, 3], false).to_vec::<f32>();
//! assert!(m.iter().all(|v| v.abs() < 1e-5));
//! assert_eq!(bn.num_batches_tracked().unwrap().item::<i64>(), 1);
//! let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
//! ```

use std::fmt;

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use crate::functional as F;
use crate::module::forward_or_panic;
use crate::{Module, TrainingFlag};

/// The state and options both batch-norm layers share.
struct Core {
    num_features: usize,
    eps: f64,
    momentum: Option<f64>,
    weight: Option<Variable>,
    bias: Option<Variable>,
    running_mean: Option<Variable>,
    running_var: Option<Variable>,
    num_batches_tracked: Option<Variable>,
    training: TrainingFlag,
}

impl Core {
    fn new(c: usize) -> Core {
        let mut core = Core {
            num_features: c,
            eps: 1e-5,
            momentum: Some(0.1),
            weight: None,
            bias: None,
            running_mean: None,
            running_var: None,
            num_batches_tracked: None,
            training: TrainingFlag::new(),
        };
        core.set_affine(true);
        core.set_track(true);
        core
    }

    fn set_affine(&mut self, on: bool) {
        let c = self.num_features;
        self.weight = on.then(|| Variable::new(Tensor::ones(&[c]), true));
        self.bias = on.then(|| Variable::new(Tensor::zeros(&[c]), true));
    }

    fn set_track(&mut self, on: bool) {
        let c = self.num_features;
        self.running_mean = on.then(|| Variable::new(Tensor::zeros(&[c]), false));
        self.running_var = on.then(|| Variable::new(Tensor::ones(&[c]), false));
        self.num_batches_tracked = on.then(|| Variable::new(Tensor::from_vec(vec![0i64], &[]), false));
    }

    fn forward(&self, layer: &'static str, ranks: &[usize], x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        let wrap = |e: Error| Error::InvalidArgument { op: layer, msg: format!("{}: {e}", self.repr(layer)) };
        let err = |msg: String| wrap(Error::InvalidArgument { op: "batch_norm", msg });
        if !ranks.contains(&shape.len()) {
            let want: Vec<String> = ranks.iter().map(|r| format!("{r}D")).collect();
            return Err(err(format!("expected {} input, got input of shape {shape:?}", want.join(" or "))));
        }
        if shape[1] != self.num_features {
            return Err(err(format!(
                "expected input with {} channels (dim 1), got input of shape {shape:?}",
                self.num_features
            )));
        }
        let training = self.training.get();
        let use_batch = training || self.running_mean.is_none();
        let mut momentum = self.momentum.unwrap_or(0.0);
        if training {
            if let Some(nbt) = &self.num_batches_tracked {
                let n = nbt.data().item::<i64>() + 1;
                if shape.iter().product::<usize>() / self.num_features > 1 {
                    nbt.set_data(Tensor::from_vec(vec![n], &[]).to(&nbt.device()));
                }
                if self.momentum.is_none() {
                    momentum = 1.0 / n as f64;
                }
            }
        }
        // with running statistics: updated in training, used in evaluation
        let (rm, rv) = (self.running_mean.as_ref(), self.running_var.as_ref());
        F::try_batch_norm(x, rm, rv, self.weight.as_ref(), self.bias.as_ref(), use_batch, momentum, self.eps)
            .map_err(wrap)
    }

    fn repr(&self, layer: &str) -> String {
        let m = self.momentum.map_or("None".to_string(), |m| m.to_string());
        let b = |on: bool| if on { "True" } else { "False" };
        format!(
            "{layer}({}, eps={}, momentum={m}, affine={}, track_running_stats={})",
            self.num_features,
            self.eps,
            b(self.weight.is_some()),
            b(self.running_mean.is_some())
        )
    }

    fn own(list: &[(&str, &Option<Variable>)]) -> Vec<(String, Variable)> {
        list.iter().filter_map(|(n, v)| v.as_ref().map(|v| (n.to_string(), v.clone()))).collect()
    }
}

macro_rules! batch_norm_layer {
    ($name:ident, $ranks:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            core: Core,
        }

        impl $name {
            /// A layer over `num_features` channels: eps 1e-5, momentum 0.1, affine, tracking
            /// running statistics (PyTorch's defaults).
            pub fn new(num_features: usize) -> $name {
                $name { core: Core::new(num_features) }
            }

            /// Sets the value added to the variance before its square root.
            #[must_use]
            pub fn eps(mut self, eps: f64) -> $name {
                self.core.eps = eps;
                self
            }

            /// Sets the running-average momentum; `None` gives the cumulative average.
            #[must_use]
            pub fn momentum(mut self, momentum: impl Into<Option<f64>>) -> $name {
                self.core.momentum = momentum.into();
                self
            }

            /// With or without the learnable per-channel `weight` and `bias`.
            #[must_use]
            pub fn affine(mut self, on: bool) -> $name {
                self.core.set_affine(on);
                self
            }

            /// With or without running statistics (without, batch statistics are used in
            /// evaluation too, and there are no buffers).
            #[must_use]
            pub fn track_running_stats(mut self, on: bool) -> $name {
                self.core.set_track(on);
                self
            }

            /// The per-channel scale (`None` without `affine`).
            pub fn weight(&self) -> Option<&Variable> {
                self.core.weight.as_ref()
            }

            /// The per-channel shift (`None` without `affine`).
            pub fn bias(&self) -> Option<&Variable> {
                self.core.bias.as_ref()
            }

            /// The running mean buffer.
            pub fn running_mean(&self) -> Option<&Variable> {
                self.core.running_mean.as_ref()
            }

            /// The running (unbiased) variance buffer.
            pub fn running_var(&self) -> Option<&Variable> {
                self.core.running_var.as_ref()
            }

            /// The I64 count of training batches seen.
            pub fn num_batches_tracked(&self) -> Option<&Variable> {
                self.core.num_batches_tracked.as_ref()
            }

            /// Checked forward: a wrong rank or channel count gives an error naming the layer and
            /// the shape.
            pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
                self.core.forward(stringify!($name), $ranks, x)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.core.repr(stringify!($name)))
            }
        }

        impl Module for $name {
            #[track_caller]
            fn forward(&self, x: &Variable) -> Variable {
                forward_or_panic(self.try_forward(x))
            }

            fn own_parameters(&self) -> Vec<(String, Variable)> {
                Core::own(&[("weight", &self.core.weight), ("bias", &self.core.bias)])
            }

            fn own_buffers(&self) -> Vec<(String, Variable)> {
                Core::own(&[
                    ("running_mean", &self.core.running_mean),
                    ("running_var", &self.core.running_var),
                    ("num_batches_tracked", &self.core.num_batches_tracked),
                ])
            }

            fn set_own_training(&self, on: bool) {
                self.core.training.set(on);
            }

            fn is_training(&self) -> bool {
                self.core.training.get()
            }
        }
    };
}

batch_norm_layer!(
    BatchNorm1d,
    &[2, 3],
    "Batch normalisation over `[N, C]` or `[N, C, L]`, PyTorch's `nn.BatchNorm1d` (see the module docs)."
);
batch_norm_layer!(
    BatchNorm2d,
    &[4],
    "Batch normalisation over `[N, C, H, W]`, PyTorch's `nn.BatchNorm2d` (see the module docs)."
);
