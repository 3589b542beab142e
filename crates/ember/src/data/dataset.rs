//! [`Dataset`]: indexed (input, target) samples; [`TensorDataset`]: samples that are rows of tensors.

use ember_tensor::{Error, Result, Tensor};

/// A collection of samples, each an `(input, target)` pair of tensors: PyTorch's map-style
/// `torch.utils.data.Dataset`.
///
/// Implement [`len`](Dataset::len) and [`get`](Dataset::get); a [`DataLoader`](super::DataLoader)
/// then batches the samples by stacking them along a new first dimension. Override
/// [`get_batch`](Dataset::get_batch) when a whole batch can be gathered faster than sample by
/// sample (as [`TensorDataset`] does with one `index_select`).
///
/// ```
/// use ember::data::{DataLoader, Dataset};
/// use ember::Tensor;
///
/// /// The numbers 0..n with their squares as targets.
/// struct Squares(usize);
///
/// impl Dataset for Squares {
///     fn len(&self) -> usize {
///         self.0
///     }
///     fn get(&self, i: usize) -> (Tensor, Tensor) {
///         let x = i as f32;
///         (Tensor::from_vec(vec![x], &[1]), Tensor::from_vec(vec![x * x], &[]))
///     }
/// }
///
/// let ds = Squares(5);
/// let (x, y) = DataLoader::new(&ds, 4).iter().next().unwrap();
/// assert_eq!(x.shape(), &[4, 1]);
/// assert_eq!(y.to_vec::<f32>(), vec![0.0, 1.0, 4.0, 9.0]);
/// ```
pub trait Dataset {
    /// Number of samples.
    fn len(&self) -> usize;

    /// The `index`-th sample as `(input, target)`.
    ///
    /// **Panics** when `index >= len()` (an implementation should say so, naming both).
    fn get(&self, index: usize) -> (Tensor, Tensor);

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, collated: inputs and targets each stacked along a new first dim.
    ///
    /// **Panics** when an index is out of range or when the samples' shapes differ (they cannot be
    /// stacked), naming the sample.
    #[track_caller]
    fn get_batch(&self, indices: &[usize]) -> (Tensor, Tensor) {
        let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = indices.iter().map(|&i| self.get(i)).unzip();
        for (k, (x, y)) in xs.iter().zip(&ys).enumerate().skip(1) {
            if x.shape() != xs[0].shape() || y.shape() != ys[0].shape() {
                panic!(
                    "DataLoader: cannot collate sample {} (input {:?}, target {:?}) with sample {} \
                     (input {:?}, target {:?}): every sample of a batch must have the same shapes",
                    indices[k],
                    x.shape(),
                    y.shape(),
                    indices[0],
                    xs[0].shape(),
                    ys[0].shape()
                );
            }
        }
        (Tensor::stack(&xs, 0), Tensor::stack(&ys, 0))
    }
}

/// Samples that are the rows of two tensors: PyTorch's `TensorDataset(inputs, targets)`.
///
/// Sample `i` is `(inputs[i], targets[i])`; a batch is gathered with one `index_select` per tensor.
///
/// ```
/// use ember::data::{Dataset, TensorDataset};
/// use ember::Tensor;
/// let ds = TensorDataset::new(Tensor::ones(&[10, 3]), Tensor::zeros(&[10]));
/// assert_eq!(ds.len(), 10);
/// let (x, y) = ds.get(2);
/// assert_eq!((x.shape(), y.shape()), (&[3][..], &[][..]));
/// assert!(TensorDataset::try_new(Tensor::ones(&[10, 3]), Tensor::zeros(&[9])).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct TensorDataset {
    inputs: Tensor,
    targets: Tensor,
}

impl TensorDataset {
    /// Pairs the rows of `inputs` with those of `targets`.
    ///
    /// **Panics** when either is 0-d or their first dims differ; see [`TensorDataset::try_new`].
    #[track_caller]
    pub fn new(inputs: Tensor, targets: Tensor) -> TensorDataset {
        TensorDataset::try_new(inputs, targets).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Checked form of [`TensorDataset::new`].
    pub fn try_new(inputs: Tensor, targets: Tensor) -> Result<TensorDataset> {
        if inputs.rank() == 0 || targets.rank() == 0 {
            return Err(Error::InvalidArgument {
                op: "TensorDataset",
                msg: format!(
                    "inputs (shape {:?}) and targets (shape {:?}) need a first dimension to index samples by",
                    inputs.shape(),
                    targets.shape()
                ),
            });
        }
        if inputs.shape()[0] != targets.shape()[0] {
            return Err(Error::InvalidArgument {
                op: "TensorDataset",
                msg: format!(
                    "size mismatch between tensors: inputs of shape {:?} have {} samples, targets of shape {:?} have {}",
                    inputs.shape(),
                    inputs.shape()[0],
                    targets.shape(),
                    targets.shape()[0]
                ),
            });
        }
        Ok(TensorDataset { inputs, targets })
    }

    /// All inputs (first dim: the samples).
    pub fn inputs(&self) -> &Tensor {
        &self.inputs
    }

    /// All targets (first dim: the samples).
    pub fn targets(&self) -> &Tensor {
        &self.targets
    }

    /// The samples at `indices`, in that order, as a new dataset (PyTorch's `Subset`, materialised).
    ///
    /// **Panics** when an index is out of range.
    #[must_use]
    #[track_caller]
    pub fn subset(&self, indices: &[usize]) -> TensorDataset {
        let (inputs, targets) = self.get_batch(indices);
        TensorDataset { inputs, targets }
    }

    #[track_caller]
    fn check(&self, index: usize) {
        if index >= self.len() {
            panic!("TensorDataset: index {index} is out of range for a dataset of {} samples", self.len());
        }
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.inputs.shape()[0]
    }

    #[track_caller]
    fn get(&self, index: usize) -> (Tensor, Tensor) {
        self.check(index);
        (self.inputs.select(0, index as i64), self.targets.select(0, index as i64))
    }

    #[track_caller]
    fn get_batch(&self, indices: &[usize]) -> (Tensor, Tensor) {
        indices.iter().for_each(|&i| self.check(i));
        let idx = Tensor::from_vec(indices.iter().map(|&i| i as i64).collect::<Vec<i64>>(), &[indices.len()]);
        (self.inputs.index_select(0, &idx), self.targets.index_select(0, &idx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matches_samples() {
        let x = Tensor::arange(0.0, 12.0, 1.0).reshape(&[6, 2]);
        let y = Tensor::from_vec(vec![0i64, 1, 2, 3, 4, 5], &[6]);
        let ds = TensorDataset::new(x, y);
        let (bx, by) = ds.get_batch(&[4, 1]);
        assert_eq!(bx.to_vec::<f32>(), vec![8.0, 9.0, 2.0, 3.0]);
        assert_eq!(by.to_vec::<i64>(), vec![4, 1]);
        // The provided (stacking) get_batch agrees with the index_select one.
        struct Plain<'a>(&'a TensorDataset);
        impl Dataset for Plain<'_> {
            fn len(&self) -> usize {
                self.0.len()
            }
            fn get(&self, i: usize) -> (Tensor, Tensor) {
                self.0.get(i)
            }
        }
        let (px, py) = Plain(&ds).get_batch(&[4, 1]);
        assert_eq!(px.to_vec::<f32>(), bx.to_vec::<f32>());
        assert_eq!(py.to_vec::<i64>(), by.to_vec::<i64>());
        assert_eq!(ds.subset(&[5]).targets().to_vec::<i64>(), vec![5]);
    }

    #[test]
    fn bad_inputs() {
        let e = TensorDataset::try_new(Tensor::ones(&[4, 2]), Tensor::ones(&[3])).unwrap_err().to_string();
        assert!(e.contains("[4, 2]") && e.contains("[3]") && e.contains("size mismatch"), "{e}");
        let e = TensorDataset::try_new(Tensor::scalar(1.0f32), Tensor::ones(&[3])).unwrap_err().to_string();
        assert!(e.contains("first dimension"), "{e}");
        let ds = TensorDataset::new(Tensor::ones(&[4, 2]), Tensor::ones(&[4]));
        let msg = std::panic::catch_unwind(|| ds.get(4)).unwrap_err();
        let msg = msg.downcast_ref::<String>().unwrap();
        assert!(msg.contains("index 4") && msg.contains("4 samples"), "{msg}");
    }

    #[test]
    fn ragged_samples_cannot_collate() {
        struct Ragged;
        impl Dataset for Ragged {
            fn len(&self) -> usize {
                2
            }
            fn get(&self, i: usize) -> (Tensor, Tensor) {
                (Tensor::ones(&[i + 1]), Tensor::zeros(&[]))
            }
        }
        let msg = std::panic::catch_unwind(|| Ragged.get_batch(&[0, 1])).unwrap_err();
        let msg = msg.downcast_ref::<String>().unwrap();
        assert!(msg.contains("sample 1") && msg.contains("[2]") && msg.contains("[1]"), "{msg}");
    }
}
