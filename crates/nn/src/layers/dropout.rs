//! `Dropout`: zeroes elements with probability `p` in training (scaling the rest by `1 / (1 - p)`),
//! the identity in evaluation; PyTorch's `nn.Dropout` (default `p` 0.5). The masks come from
//! Ember's seeded generator, so `manual_seed` makes them repeat.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Dropout, Module};
//! use ember_tensor::Tensor;
//! let drop = Dropout::new(0.5);
//! let x = Variable::from(Tensor::ones(&[100]));
//! assert!(drop.forward(&x).to_vec::<f32>().iter().all(|&v| v == 0.0 || v == 2.0));
//! drop.eval();
//! assert_eq!(drop.forward(&x).to_vec::<f32>(), vec![1.0; 100]);
//! ```

use std::fmt;

use ember_autograd::Variable;

use crate::functional as F;
use crate::{Module, TrainingFlag};

/// Dropout with drop probability `p`, PyTorch's `nn.Dropout`.
pub struct Dropout {
    p: f64,
    training: TrainingFlag,
}

impl Dropout {
    /// Drops each element with probability `p` in training.
    ///
    /// **Panics** when `p` is outside `[0, 1]`.
    #[track_caller]
    pub fn new(p: f64) -> Dropout {
        if let Err(e) = F::check_p("dropout", p) {
            panic!("Dropout: {e}");
        }
        Dropout { p, training: TrainingFlag::new() }
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl Default for Dropout {
    /// `p = 0.5`, PyTorch's default.
    fn default() -> Self {
        Dropout::new(0.5)
    }
}

impl fmt::Debug for Dropout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dropout(p={}, inplace=False)", self.p)
    }
}

impl Module for Dropout {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        match F::try_dropout(x, self.p, self.training.get()) {
            Ok(v) => v,
            Err(e) => panic!("Dropout: {e}"),
        }
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn is_training(&self) -> bool {
        self.training.get()
    }
}
