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
    padding_idx: Option<i64>,
}

impl EmbeddingBag {
    /// A table of `num_embeddings` rows of `embedding_dim`, mean-reduced bags.
    ///
    /// **Panics** (never aborts) when the table cannot be allocated; see [`EmbeddingBag::try_new`].
    #[track_caller]
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> EmbeddingBag {
        EmbeddingBag::try_new(num_embeddings, embedding_dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`EmbeddingBag::new`] returning `Error::OutOfMemory` (or the overflow error naming the
    /// shape) when the table cannot be allocated.
    pub fn try_new(num_embeddings: usize, embedding_dim: usize) -> Result<EmbeddingBag> {
        Ok(EmbeddingBag {
            training: TrainingFlag::new(),
            weight: Variable::new(init::try_normal(&[num_embeddings, embedding_dim], 0.0, 1.0)?, true),
            mode: "mean".into(),
            padding_idx: None,
        })
    }

    /// The reduction: `"sum"`, `"mean"` (default) or `"max"` (checked at the forward).
    #[must_use]
    pub fn mode(mut self, mode: &str) -> EmbeddingBag {
        self.mode = mode.to_string();
        self
    }

    /// Entries equal to `padding_idx` (negative counts from the end) are left out of their bags,
    /// as PyTorch's `padding_idx`; that row of the table is set to zeros, as PyTorch initialises it.
    ///
    /// **Panics** when `padding_idx` is outside the table.
    #[must_use]
    #[track_caller]
    pub fn padding_idx(mut self, idx: i64) -> EmbeddingBag {
        let n = self.weight.shape()[0] as i64;
        if idx < -n || idx >= n {
            panic!("EmbeddingBag: padding_idx {idx} must be within num_embeddings {n} (in -{n}..{n})");
        }
        let row = if idx < 0 { idx + n } else { idx };
        let w = self.weight.data();
        let keep =
            Tensor::from_vec((0..n).map(|i| if i == row { 0.0f32 } else { 1.0 }).collect::<Vec<_>>(), &[n as usize, 1]);
        self.weight.set_data(&w * &keep.to_dtype(w.dtype()).to(&w.device()));
        self.padding_idx = Some(row);
        self
    }

    /// PyTorch's `forward(input, offsets, per_sample_weights)`: `offsets` for a 1-d `input`
    /// (`None` for a 2-d one), `per_sample_weights` of `input`'s shape (mode `"sum"` only).
    ///
    /// **Panics** on bad shapes, offsets, weights or indices; see [`EmbeddingBag::try_forward_with`].
    #[track_caller]
    pub fn forward_with(
        &self,
        input: &Variable,
        offsets: Option<&Tensor>,
        per_sample_weights: Option<&Variable>,
    ) -> Variable {
        forward_or_panic(self.try_forward_with(input, offsets, per_sample_weights))
    }

    /// Checked form of [`EmbeddingBag::forward_with`].
    pub fn try_forward_with(
        &self,
        input: &Variable,
        offsets: Option<&Tensor>,
        per_sample_weights: Option<&Variable>,
    ) -> Result<Variable> {
        F::try_embedding_bag_with(input, &self.weight, offsets, &self.mode, per_sample_weights, self.padding_idx)
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
        self.try_forward_with(input, Some(offsets), None)
    }

    /// Checked forward on a 2-d `[B, L]` input.
    pub fn try_forward(&self, input: &Variable) -> Result<Variable> {
        self.try_forward_with(input, None, None)
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
