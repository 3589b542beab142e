//! Matrix products: `matmul` (every rank combination of `torch.matmul`, broadcasting batch dims),
//! `mm`, `bmm`, `dot`, and `linear` (`x @ w^T + b`, the kernel of `nn.Linear`).
//!
//! Operands are handed to the backend as strided views: transposed or sliced matrices are not
//! copied unless neither of their two inner strides is 1.

use crate::shape::{broadcast_shapes, Dims, Layout};
use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// Checks that both operands share a device and a dtype, naming `op`.
fn check_pair(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    a.same_device(op, b)?;
    a.same_dtype(op, b)
}

/// The batched product of `a` (`[..., m, k]`) and `b` (`[..., k, n]`), rank ≥ 2 both, batch dims
/// broadcast: a contiguous `[batch..., m, n]` tensor. `shapes` are the user's shapes for errors.
fn matmul_nd(op: &'static str, a: &Tensor, b: &Tensor, shapes: (&[usize], &[usize])) -> Result<Tensor> {
    let mismatch = || Error::ShapeMismatch { op, lhs: shapes.0.to_vec(), rhs: shapes.1.to_vec() };
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
    let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
    if k != k2 {
        return Err(mismatch());
    }
    let batch = broadcast_shapes(op, &a.shape()[..ra - 2], &b.shape()[..rb - 2]).map_err(|_| mismatch())?;
    a.backend().matmul(op, a, b, &batch, (m, k, n))
}

/// # Matrix products
impl Tensor {
    /// The matrix product with PyTorch's `torch.matmul` rules:
    ///
    /// - 1-d · 1-d: the dot product, a 0-d tensor;
    /// - 2-d · 2-d: the matrix product;
    /// - 1-d · n-d: a 1 is prepended to the vector's shape and removed from the result;
    /// - n-d · 1-d: a 1 is appended to the vector's shape and removed from the result;
    /// - n-d · n-d: a batch of matrix products, the batch dims (all but the last two) broadcast,
    ///   e.g. `[2, 1, 3, 4] @ [5, 4, 6]` gives `[2, 5, 3, 6]`.
    ///
    /// F32 and F64 run on a blocked SIMD GEMM (multithreaded for large products), I64 on a plain
    /// loop with wrapping overflow. An empty inner dimension gives zeros, as PyTorch.
    ///
    /// **Panics** on a 0-d operand, mismatched inner or batch dims, differing dtypes or a Bool
    /// operand; see [`Tensor::try_matmul`].
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// let b = Tensor::from_vec(vec![1.0f32, 0.0, 1.0], &[3]);
    /// let c = a.matmul(&b); // [2, 3] @ [3] -> [2]
    /// assert_eq!(c.shape(), &[2]);
    /// assert_eq!(c.to_vec::<f32>(), vec![4.0, 10.0]);
    /// let batch = Tensor::ones(&[4, 1, 2, 3]).matmul(&Tensor::ones(&[5, 3, 7]));
    /// assert_eq!(batch.shape(), &[4, 5, 2, 7]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        ok(self.try_matmul(other))
    }

    /// Checked form of [`Tensor::matmul`].
    pub fn try_matmul(&self, other: &Tensor) -> Result<Tensor> {
        const OP: &str = "matmul";
        check_pair(OP, self, other)?;
        let (ra, rb) = (self.rank(), other.rank());
        if ra == 0 || rb == 0 {
            crate::bail!(OP, "both arguments to matmul need to be at least 1D, but they are {ra}D and {rb}D");
        }
        if ra == 1 && rb == 1 {
            return self.dot_impl(OP, other);
        }
        let a = if ra == 1 { self.try_unsqueeze(0)? } else { self.clone() };
        let b = if rb == 1 { other.try_unsqueeze(1)? } else { other.clone() };
        let out = matmul_nd(OP, &a, &b, (self.shape(), other.shape()))?;
        let r = out.rank();
        let mut shape: Dims = out.shape()[..r - 2].into();
        if ra > 1 {
            shape.push(out.shape()[r - 2]);
        }
        if rb > 1 {
            shape.push(out.shape()[r - 1]);
        }
        Ok(out.with_layout(Layout::contiguous(&shape)))
    }

    /// The product of two matrices, `[m, k] @ [k, n] -> [m, n]` (PyTorch's `mm`: no broadcasting,
    /// both operands exactly 2-d).
    ///
    /// **Panics** on other ranks, mismatched inner dims or dtypes; see [`Tensor::try_mm`].
    #[must_use]
    #[track_caller]
    pub fn mm(&self, other: &Tensor) -> Tensor {
        ok(self.try_mm(other))
    }

    /// Checked form of [`Tensor::mm`].
    pub fn try_mm(&self, other: &Tensor) -> Result<Tensor> {
        const OP: &str = "mm";
        check_pair(OP, self, other)?;
        if self.rank() != 2 || other.rank() != 2 {
            crate::bail!(
                OP,
                "expected 2-D tensors, got {}-D {:?} and {}-D {:?}",
                self.rank(),
                self.shape(),
                other.rank(),
                other.shape()
            );
        }
        matmul_nd(OP, self, other, (self.shape(), other.shape()))
    }

    /// A batch of matrix products, `[b, m, k] @ [b, k, n] -> [b, m, n]` (PyTorch's `bmm`: both
    /// operands exactly 3-d with equal batch sizes, no broadcasting).
    ///
    /// **Panics** on other ranks, mismatched batch or inner dims, or dtypes; see [`Tensor::try_bmm`].
    #[must_use]
    #[track_caller]
    pub fn bmm(&self, other: &Tensor) -> Tensor {
        ok(self.try_bmm(other))
    }

    /// Checked form of [`Tensor::bmm`].
    pub fn try_bmm(&self, other: &Tensor) -> Result<Tensor> {
        const OP: &str = "bmm";
        check_pair(OP, self, other)?;
        if self.rank() != 3 || other.rank() != 3 {
            crate::bail!(
                OP,
                "expected 3-D tensors, got {}-D {:?} and {}-D {:?}",
                self.rank(),
                self.shape(),
                other.rank(),
                other.shape()
            );
        }
        if self.shape()[0] != other.shape()[0] {
            return Err(Error::ShapeMismatch { op: OP, lhs: self.shape().to_vec(), rhs: other.shape().to_vec() });
        }
        matmul_nd(OP, self, other, (self.shape(), other.shape()))
    }

    /// The dot product of two 1-d tensors of equal length: a 0-d tensor.
    ///
    /// **Panics** on other ranks, different lengths or dtypes; see [`Tensor::try_dot`].
    #[must_use]
    #[track_caller]
    pub fn dot(&self, other: &Tensor) -> Tensor {
        ok(self.try_dot(other))
    }

    /// Checked form of [`Tensor::dot`].
    pub fn try_dot(&self, other: &Tensor) -> Result<Tensor> {
        const OP: &str = "dot";
        check_pair(OP, self, other)?;
        if self.rank() != 1 || other.rank() != 1 {
            crate::bail!(OP, "1D tensors expected, but got {}D and {}D tensors", self.rank(), other.rank());
        }
        self.dot_impl(OP, other)
    }

    /// The dot product of two checked 1-d tensors, as a `[1, k] @ [k, 1]` product.
    fn dot_impl(&self, op: &'static str, other: &Tensor) -> Result<Tensor> {
        if self.numel() != other.numel() {
            return Err(Error::ShapeMismatch { op, lhs: self.shape().to_vec(), rhs: other.shape().to_vec() });
        }
        let out = matmul_nd(op, &self.try_unsqueeze(0)?, &other.try_unsqueeze(1)?, (self.shape(), other.shape()))?;
        Ok(out.with_layout(Layout::contiguous(&[])))
    }

    /// The affine map of `nn.Linear`: `self @ weight^T + bias`, with `self` of shape `[*, in]`,
    /// `weight` `[out, in]` and `bias` `[out]`; the result is `[*, out]`.
    ///
    /// The weight is read transposed in place (no copy) and the bias is added inside the product.
    ///
    /// **Panics** when `weight` is not 2-d, the feature sizes differ, `bias` is not `[out]`, or the
    /// dtypes differ; see [`Tensor::try_linear`].
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]);
    /// let w = Tensor::from_vec(vec![1.0f32, 1.0, 0.0, 2.0, -1.0, 0.0], &[3, 2]);
    /// let b = Tensor::from_vec(vec![0.5f32, 0.0, 1.0], &[3]);
    /// assert_eq!(x.linear(&w, Some(&b)).to_vec::<f32>(), vec![3.5, 4.0, 0.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
        ok(self.try_linear(weight, bias))
    }

    /// Checked form of [`Tensor::linear`].
    pub fn try_linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        const OP: &str = "linear";
        check_pair(OP, self, weight)?;
        if weight.rank() != 2 {
            crate::bail!(OP, "weight must be 2-D [out_features, in_features], got shape {:?}", weight.shape());
        }
        let (out_f, in_f) = (weight.shape()[0], weight.shape()[1]);
        if self.rank() == 0 || self.shape()[self.rank() - 1] != in_f {
            return Err(Error::ShapeMismatch { op: OP, lhs: self.shape().to_vec(), rhs: weight.shape().to_vec() });
        }
        if let Some(b) = bias {
            check_pair(OP, self, b)?;
            if b.shape() != [out_f] {
                crate::bail!(
                    OP,
                    "bias of shape {:?} given for weight of shape {:?}; expected [{out_f}]",
                    b.shape(),
                    weight.shape()
                );
            }
        }
        let lead = &self.shape()[..self.rank() - 1];
        let rows: usize = lead.iter().product();
        let mut shape: Dims = lead.into();
        shape.push(out_f);
        let x = self.try_reshape(&[rows, in_f])?;
        x.backend().linear(&x, weight, bias)?.try_reshape(&shape)
    }
}
