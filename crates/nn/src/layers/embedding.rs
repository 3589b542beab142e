//! `Embedding`: a lookup table of `num_embeddings` vectors of size `embedding_dim`, indexed by an
//! I64 Variable; PyTorch's `nn.Embedding` (weight initialised `N(0, 1)`, an optional `padding_idx`
//! row that starts at zero and receives no gradient).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Embedding, Module};
//! use ember_tensor::Tensor;
//! let emb = Embedding::new(10, 3);
//! let idx = Variable::from(Tensor::from_vec(vec![1i64, 2, 4, 5, 4, 3, 2, 9], &[2, 4]));
//! let y = emb.forward(&idx);
//! assert_eq!(y.shape(), vec![2, 4, 3]);
//! assert_eq!(emb.try_forward(&Variable::from(Tensor::from_vec(vec![10i64], &[1]))).unwrap_err().to_string(),
//!     "Embedding: Embedding(10, 3): embedding: index 10 is out of range for num_embeddings 10 (valid indices are 0..10)");
//! ```

use std::fmt;

use ember_autograd::{no_grad, Variable};
use ember_tensor::{Error, Result, Tensor};

use crate::functional::embedding_impl;
use crate::module::{forward_or_panic, layer_error};
use crate::{init, Module, TrainingFlag};

/// A lookup table, PyTorch's `nn.Embedding`.
pub struct Embedding {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Variable,
    num_embeddings: usize,
    embedding_dim: usize,
    padding_idx: Option<usize>,
    training: TrainingFlag,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of size `embedding_dim`, drawn from `N(0, 1)`.
    ///
    /// **Panics** (never aborts) when the table cannot be allocated; see [`Embedding::try_new`].
    #[track_caller]
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Embedding {
        Embedding::try_new(num_embeddings, embedding_dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Embedding::new`] returning `Error::OutOfMemory` (or the overflow error naming the shape)
    /// when the table cannot be allocated.
    pub fn try_new(num_embeddings: usize, embedding_dim: usize) -> Result<Embedding> {
        let weight = Variable::new(init::try_normal(&[num_embeddings, embedding_dim], 0.0, 1.0)?, true);
        Ok(Embedding { training: TrainingFlag::new(), weight, num_embeddings, embedding_dim, padding_idx: None })
    }

    /// A table holding `weight` (`[num_embeddings, embedding_dim]`), PyTorch's `from_pretrained`;
    /// with `freeze` the weight gets no gradient.
    ///
    /// **Panics** when `weight` is not 2-d.
    #[track_caller]
    pub fn from_pretrained(weight: Tensor, freeze: bool) -> Embedding {
        if weight.rank() != 2 {
            panic!("Embedding::from_pretrained: weight must be 2-d, got shape {:?}", weight.shape());
        }
        let (n, d) = (weight.shape()[0], weight.shape()[1]);
        Embedding {
            training: TrainingFlag::new(),
            weight: Variable::new(weight, !freeze),
            num_embeddings: n,
            embedding_dim: d,
            padding_idx: None,
        }
    }

    /// Marks row `idx` (negative counts from the end) as padding: zeroed now, and it receives no
    /// gradient.
    ///
    /// **Panics** when `idx` is outside the table.
    #[must_use]
    #[track_caller]
    pub fn padding_idx(mut self, idx: i64) -> Embedding {
        let n = self.num_embeddings as i64;
        if idx < -n || idx >= n {
            panic!("Embedding: padding_idx {idx} must be within num_embeddings {n} (in -{n}..{n})");
        }
        let row = idx.rem_euclid(n.max(1)) as usize;
        no_grad(|| {
            let w = self.weight.data();
            let keep =
                Tensor::from_vec((0..self.num_embeddings).map(|i| i != row).collect::<Vec<bool>>(), &[n as usize, 1]);
            self.weight.set_data(w.masked_fill(&keep.logical_not(), 0.0));
        });
        self.padding_idx = Some(row);
        self
    }

    /// Number of rows.
    pub fn num_embeddings(&self) -> usize {
        self.num_embeddings
    }

    /// Size of each row.
    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// Checked forward: a non-I64 input or an index outside `0..num_embeddings` gives an error
    /// naming the layer, the index and `num_embeddings`.
    pub fn try_forward(&self, indices: &Variable) -> Result<Variable> {
        embedding_impl(&indices.data(), &self.weight, self.padding_idx)
            .map_err(|e: Error| layer_error("Embedding", self, e))
    }
}

impl fmt::Debug for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Embedding({}, {}", self.num_embeddings, self.embedding_dim)?;
        if let Some(p) = self.padding_idx {
            write!(f, ", padding_idx={p}")?;
        }
        write!(f, ")")
    }
}

impl Module for Embedding {
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }

    /// Looks up `indices` (an I64 Variable of any shape): the result is `indices.shape + [dim]`.
    ///
    /// **Panics** on a non-I64 input or an index out of range; see [`Embedding::try_forward`].
    #[track_caller]
    fn forward(&self, indices: &Variable) -> Variable {
        forward_or_panic(self.try_forward(indices))
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
