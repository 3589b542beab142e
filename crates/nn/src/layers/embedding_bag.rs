//! `EmbeddingBag`: PyTorch's `nn.EmbeddingBag`, a lookup table whose rows are reduced per bag.

use ember_autograd::Variable;
use ember_tensor::{Result, Tensor};

use crate::functional as F;
use crate::module::forward_or_panic;
use crate::{init, Module, TrainingFlag};

/// Bags of embeddings, PyTorch's `nn.EmbeddingBag(num_embeddings, embedding_dim, mode='mean')`:
/// `weight` `[num_embeddings, embedding_dim]`, drawn from N(0, 1); see [`F::embedding_bag`].
/// [`Module::forward`] takes a 2-d `[B, L]` I64 input (B bags of L indices);
/// [`forward_with_offsets`](EmbeddingBag::forward_with_offsets) takes a 1-d input and the
/// offsets where the bags start.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{EmbeddingBag, Module};
/// use ember_tensor::Tensor;
/// let bag = EmbeddingBag::new(10, 3).mode("sum");
/// let idx = Variable::from(Tensor::from_vec(vec![1i64, 2, 4, 5, 4, 3, 2, 9], &[8]));
/// let y = bag.forward_with_offsets(&idx, &Tensor::from_vec(vec![0i64, 4], &[2]));
/// assert_eq!(y.shape(), vec![2, 3]);
/// ```
pub struct EmbeddingBag {
    training: TrainingFlag,
    /// The table, `[num_embeddings, embedding_dim]`.
    pub weight: Variable,
    mode: String,
}

impl EmbeddingBag {
    /// A table of `num_embeddings` rows of `embedding_dim`, mean-reduced bags.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> EmbeddingBag {
        EmbeddingBag {
            training: TrainingFlag::new(),
            weight: Variable::new(init::normal(&[num_embeddings, embedding_dim], 0.0, 1.0), true),
            mode: "mean".into(),
        }
    }

    /// The reduction: `"sum"`, `"mean"` (default) or `"max"` (checked at the forward).
    #[must_use]
    pub fn mode(mut self, mode: &str) -> EmbeddingBag {
        self.mode = mode.to_string();
        self
    }

    /// PyTorch's `forward(input, offsets)` on a 1-d `input`.
    ///
    /// **Panics** on bad shapes, offsets or indices; see [`EmbeddingBag::try_forward_with_offsets`].
    #[track_caller]
    pub fn forward_with_offsets(&self, input: &Variable, offsets: &Tensor) -> Variable {
        forward_or_panic(self.try_forward_with_offsets(input, offsets))
    }

    /// Checked form of [`EmbeddingBag::forward_with_offsets`].
    pub fn try_forward_with_offsets(&self, input: &Variable, offsets: &Tensor) -> Result<Variable> {
        F::try_embedding_bag(input, &self.weight, Some(offsets), &self.mode)
    }

    /// Checked forward on a 2-d `[B, L]` input.
    pub fn try_forward(&self, input: &Variable) -> Result<Variable> {
        F::try_embedding_bag(input, &self.weight, None, &self.mode)
    }
}

impl Module for EmbeddingBag {
    /// This layer's own train/eval flag, so `eval()` reaches a user module made of such layers.
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }
    #[track_caller]
    fn forward(&self, input: &Variable) -> Variable {
        forward_or_panic(self.try_forward(input))
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
