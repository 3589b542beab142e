//! `Linear`: `y = x W^T + b`.

use ember_autograd::Variable;
use ember_tensor::{Result, Tensor};

use crate::{init, Module, TrainingFlag};

/// A fully connected layer, PyTorch's `nn.Linear`: weight `[out, in]`, bias `[out]`, both initialised
/// uniform in `±1/sqrt(in)` as PyTorch does.
///
/// ```
/// use ember_nn::{Linear, Module};
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let fc = Linear::new(3, 2);
/// let y = fc.forward(&Variable::from(Tensor::ones(&[4, 3])));
/// assert_eq!(y.shape(), vec![4, 2]);
/// ```
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Variable,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Variable>,
    training: TrainingFlag,
}

impl Linear {
    /// A layer from `in_features` to `out_features`, with a bias.
    ///
    /// **Panics** (never aborts) when the weights cannot be allocated; see [`Linear::try_new`].
    #[track_caller]
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Linear::try_new(in_features, out_features).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Linear::new`] returning `Error::OutOfMemory` naming the bytes (or the overflow error
    /// naming the shape) when the weights cannot be allocated.
    ///
    /// ```
    /// # use ember_nn::Linear;
    /// let e = Linear::try_new(1 << 24, 1 << 24).err().unwrap(); // 2^48 weights: 1 PiB
    /// assert!(e.to_string().starts_with("out of memory"), "{e}");
    /// ```
    pub fn try_new(in_features: usize, out_features: usize) -> Result<Linear> {
        let weight = Variable::new(init::try_kaiming_uniform_default(&[out_features, in_features])?, true);
        let bias = Some(Variable::new(init::try_bias_uniform(out_features, in_features)?, true));
        Ok(Linear { training: TrainingFlag::new(), weight, bias })
    }

    /// A layer holding the given weights (trainable): `weight` `[out, in]`, `bias` `[out]`, e.g.
    /// read from a checkpoint, without the random initialisation [`Linear::new`] spends time on.
    ///
    /// **Panics** when `weight` is not 2-d or `bias` is not `[out]`.
    #[track_caller]
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>) -> Linear {
        let (ws, bs) = (weight.shape().to_vec(), bias.as_ref().map(|b| b.shape().to_vec()));
        if ws.len() != 2 || bs.as_ref().is_some_and(|b| b[..] != ws[..1]) {
            panic!("Linear::from_weights: weight must be [out, in] and bias [out], got weight {ws:?} and bias {bs:?}");
        }
        let bias = bias.map(|b| Variable::new(b, true));
        Linear { training: TrainingFlag::new(), weight: Variable::new(weight, true), bias }
    }

    /// Without a bias (`bias=False`).
    #[must_use]
    pub fn no_bias(mut self) -> Linear {
        self.bias = None;
        self
    }
}

impl Module for Linear {
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }

    fn forward(&self, x: &Variable) -> Variable {
        let w = self.weight.shape();
        let last = x.shape().last().copied().unwrap_or(0);
        if last != w[1] {
            panic!(
                "Linear: input of shape {:?} does not fit in_features {} (weight {:?}): mat1 and mat2 shapes cannot be multiplied",
                x.shape(),
                w[1],
                w
            );
        }
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        crate::module::weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}
