//! More indexing: `embedding embedding_backward one_hot masked_select flip repeat`.

use smallvec::SmallVec;

use crate::ops::index::{check_index, index_add_impl, index_select_impl};
use crate::shape::{broadcast_shapes, normalize_dim, Dim};
use crate::tensor::ok;
use crate::{DType, Error, Result, Tensor};

/// # Embeddings, one-hot, masks, flips and tiling
impl Tensor {
    /// Rows of `weight` (`[num_embeddings, embedding_dim]`) looked up by `indices`, an I64 tensor of
    /// any shape (`torch.nn.functional.embedding`); the result has shape
    /// `indices.shape + [embedding_dim]`. No `padding_idx` or `max_norm`.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let w = Tensor::from_vec(vec![0.0f32, 0.5, 1.0, 1.5, 2.0, 2.5], &[3, 2]);
    /// let i = Tensor::from_vec(vec![2i64, 0, 2, 1], &[2, 2]);
    /// let e = Tensor::embedding(&w, &i);
    /// assert_eq!(e.shape(), &[2, 2, 2]);
    /// assert_eq!(e.to_vec::<f32>(), vec![2.0, 2.5, 0.0, 0.5, 2.0, 2.5, 1.0, 1.5]);
    /// ```
    ///
    /// **Panics** when `weight` is not 2-d or an index is outside `0..num_embeddings`; see
    /// [`Tensor::try_embedding`].
    #[must_use]
    #[track_caller]
    pub fn embedding(weight: &Tensor, indices: &Tensor) -> Tensor {
        ok(Tensor::try_embedding(weight, indices))
    }

    /// Checked form of [`Tensor::embedding`].
    pub fn try_embedding(weight: &Tensor, indices: &Tensor) -> Result<Tensor> {
        let op = "embedding";
        if weight.rank() != 2 {
            crate::bail!(op, "weight must be 2-d [num_embeddings, embedding_dim], got shape {:?}", weight.shape());
        }
        check_index(op, weight, indices)?;
        let rows = index_select_impl(op, weight, 0, &indices.try_reshape(&[-1])?)?;
        let mut shape: SmallVec<[usize; 6]> = indices.shape().into();
        shape.push(weight.shape()[1]);
        rows.try_reshape(&shape)
    }

    /// The gradient of [`Tensor::embedding`] with respect to its weight: the rows of `grad`
    /// (`indices.shape + [embedding_dim]`) added into a zero `[num_weights, embedding_dim]` tensor at
    /// `indices`; repeated indices accumulate. No `padding_idx` or `scale_grad_by_freq`.
    ///
    /// **Panics** on mismatched shapes, a non-I64 index or an index outside `0..num_weights`; see
    /// [`Tensor::try_embedding_backward`].
    #[must_use]
    #[track_caller]
    pub fn embedding_backward(grad: &Tensor, indices: &Tensor, num_weights: usize) -> Tensor {
        ok(Tensor::try_embedding_backward(grad, indices, num_weights))
    }

    /// Checked form of [`Tensor::embedding_backward`].
    pub fn try_embedding_backward(grad: &Tensor, indices: &Tensor, num_weights: usize) -> Result<Tensor> {
        let op = "embedding_backward";
        check_index(op, grad, indices)?;
        let r = indices.rank();
        if grad.rank() != r + 1 || grad.shape()[..r] != *indices.shape() {
            crate::bail!(
                op,
                "grad of shape {:?} must have shape indices.shape + [embedding_dim] (indices shape {:?})",
                grad.shape(),
                indices.shape()
            );
        }
        let dim = grad.shape()[r];
        let zeros = crate::ops::creation::try_fill_named(op, &[num_weights, dim], 0.0, grad.dtype(), grad.device())?;
        let n = indices.numel();
        index_add_impl(op, &zeros, 0, &indices.reshape(&[n]), &grad.reshape(&[n, dim]))
    }

    /// One-hot encoding of an I64 tensor (`torch.nn.functional.one_hot`): shape
    /// `self.shape + [num_classes]`, I64, with a 1 at each value. `num_classes == -1` uses the largest
    /// value + 1.
    ///
    /// **Panics** on a non-I64 tensor, a value outside `0..num_classes` or an empty tensor with
    /// `-1`; see [`Tensor::try_one_hot`].
    #[must_use]
    #[track_caller]
    pub fn one_hot(&self, num_classes: i64) -> Tensor {
        ok(self.try_one_hot(num_classes))
    }

    /// Checked form of [`Tensor::one_hot`].
    pub fn try_one_hot(&self, num_classes: i64) -> Result<Tensor> {
        if self.dtype != DType::I64 {
            return Err(Error::DTypeMismatch { op: "one_hot", expected: DType::I64, got: self.dtype });
        }
        self.backend().one_hot(self, num_classes)
    }

    /// The elements where the Bool `mask` is true, as a 1-d tensor in row-major order
    /// (`torch.masked_select`); `self` and `mask` broadcast together.
    ///
    /// **Panics** on a non-Bool mask or shapes that do not broadcast; see
    /// [`Tensor::try_masked_select`].
    #[must_use]
    #[track_caller]
    pub fn masked_select(&self, mask: &Tensor) -> Tensor {
        ok(self.try_masked_select(mask))
    }

    /// Checked form of [`Tensor::masked_select`].
    pub fn try_masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        let op = "masked_select";
        self.same_device(op, mask)?;
        if mask.dtype != DType::Bool {
            return Err(Error::DTypeMismatch { op, expected: DType::Bool, got: mask.dtype });
        }
        let shape = broadcast_shapes(op, self.shape(), mask.shape())?;
        self.backend().masked_select(self, mask, &shape)
    }

    /// A copy reversed along each of `dims` (`torch.flip`; PyTorch copies too).
    ///
    /// **Panics** on a bad or repeated dim; see [`Tensor::try_flip`].
    #[must_use]
    #[track_caller]
    pub fn flip<D: Dim>(&self, dims: &[D]) -> Tensor {
        ok(self.try_flip(dims))
    }

    /// Checked form of [`Tensor::flip`].
    pub fn try_flip<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        let op = "flip";
        let mut flip: SmallVec<[bool; 6]> = SmallVec::from_elem(false, self.rank().max(1));
        for d in dims {
            let n = normalize_dim(op, d.to_isize(), self.rank())?;
            if flip[n] {
                crate::bail!(op, "dim {n} appears multiple times in the list of dims {:?}", isizes(dims));
            }
            flip[n] = true;
        }
        if self.rank() == 0 {
            return Ok(self.try_contiguous()?.reshape(&[0usize; 0]));
        }
        self.backend().flip(self, &flip)
    }

    /// The tensor tiled `repeats[i]` times along dim `i` (`torch.Tensor.repeat`, a copy). With more
    /// repeats than dims, leading dims of size 1 are added first.
    ///
    /// **Panics** when `repeats` has fewer entries than the rank; see [`Tensor::try_repeat`].
    #[must_use]
    #[track_caller]
    pub fn repeat(&self, repeats: &[usize]) -> Tensor {
        ok(self.try_repeat(repeats))
    }

    /// Checked form of [`Tensor::repeat`].
    pub fn try_repeat(&self, repeats: &[usize]) -> Result<Tensor> {
        if repeats.len() < self.rank() {
            crate::bail!(
                "repeat",
                "number of repeat dims ({}, {repeats:?}) can not be smaller than the number of dimensions of \
                 the tensor ({}, shape {:?})",
                repeats.len(),
                self.rank(),
                self.shape()
            );
        }
        self.backend().repeat(self, repeats)
    }
}

fn isizes<D: Dim>(dims: &[D]) -> Vec<isize> {
    dims.iter().map(|d| d.to_isize()).collect()
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn flip_against_naive() {
        let t = Tensor::from_vec((0..24).map(|x| x as f32).collect(), &[2, 3, 4]);
        let tt = t.transpose(0, 2); // [4, 3, 2]
        let f = tt.flip(&[0, -1]).to_vec::<f32>();
        let src = tt.contiguous().to_vec::<f32>();
        let mut p = 0;
        for a in 0..4 {
            for b in 0..3 {
                for c in 0..2 {
                    assert_eq!(f[p], src[((3 - a) * 3 + b) * 2 + (1 - c)]);
                    p += 1;
                }
            }
        }
        assert_eq!(t.flip::<i32>(&[]).to_vec::<f32>(), t.to_vec::<f32>());
    }

    #[test]
    fn one_hot_infers_and_checks() {
        let t = Tensor::from_vec(vec![0i64, 2, 1], &[3]);
        assert_eq!(t.one_hot(-1).shape(), &[3, 3]);
        assert_eq!(t.one_hot(4).to_vec::<i64>(), vec![1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
        assert!(Tensor::from_vec(Vec::<i64>::new(), &[0]).try_one_hot(-1).is_err());
        assert_eq!(Tensor::from_vec(Vec::<i64>::new(), &[0]).one_hot(3).shape(), &[0, 3]);
    }

    #[test]
    fn repeat_and_masked_select() {
        let t = Tensor::from_vec(vec![1i64, 2], &[2]);
        assert_eq!(t.repeat(&[2, 2]).to_vec::<i64>(), vec![1, 2, 1, 2, 1, 2, 1, 2]);
        assert_eq!(Tensor::scalar(3i64).repeat(&[2]).to_vec::<i64>(), vec![3, 3]);
        let m = Tensor::from_vec(vec![true, false], &[2]);
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
        assert_eq!(x.masked_select(&m).to_vec::<f32>(), vec![1.0, 3.0]);
    }
}
