//! Joining tensors: `cat stack` (associated functions, as `torch.cat` and `torch.stack`).

use crate::shape::{normalize_dim, normalize_insert_dim, Dim, Dims};
use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// PyTorch's legacy rule: a 1-d tensor of shape `[0]` is skipped by `cat` whatever the other shapes.
fn is_legacy_empty(t: &Tensor) -> bool {
    t.shape() == [0]
}

/// The checked concatenation, naming `op` in errors.
fn cat_impl(op: &'static str, tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
    let Some(first) = tensors.first() else {
        crate::bail!(op, "expected a non-empty list of Tensors");
    };
    for (i, t) in tensors.iter().enumerate() {
        first.same_device(op, t)?;
        if t.dtype() != first.dtype() {
            crate::bail!(
                op,
                "expected all tensors to have one dtype: tensor at position 0 is {} but tensor at position {i} is {}",
                first.dtype(),
                t.dtype()
            );
        }
        if t.rank() == 0 {
            crate::bail!(op, "zero-dimensional tensor (at position {i}) cannot be concatenated");
        }
    }
    let Some((p0, reference)) = tensors.iter().enumerate().find(|(_, t)| !is_legacy_empty(t)) else {
        // Every input is a legacy empty tensor: so is the result.
        return first.try_contiguous();
    };
    let d = normalize_dim(op, dim, reference.rank())?;
    let mut shape: Dims = reference.shape().into();
    shape[d] = 0;
    let mut used: Vec<&Tensor> = Vec::with_capacity(tensors.len());
    for (i, t) in tensors.iter().enumerate() {
        if is_legacy_empty(t) {
            continue;
        }
        let same = t.rank() == reference.rank()
            && t.shape().iter().zip(reference.shape()).enumerate().all(|(j, (a, b))| j == d || a == b);
        if !same {
            crate::bail!(
                op,
                "sizes of tensors must match except in dimension {d}: tensor at position {p0} has shape {:?} but \
                 tensor at position {i} has shape {:?}",
                reference.shape(),
                t.shape()
            );
        }
        shape[d] += t.shape()[d];
        used.push(t);
    }
    if used.len() == 1 {
        return used[0].try_contiguous();
    }
    first.backend().cat(op, &used, d, &shape)
}

/// The checked stack, naming `op` in errors.
fn stack_impl(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
    let op = "stack";
    let Some(first) = tensors.first() else {
        crate::bail!(op, "expected a non-empty list of Tensors");
    };
    if let Some(i) = tensors.iter().position(|t| t.shape() != first.shape()) {
        return Err(Error::InvalidArgument {
            op,
            msg: format!(
                "expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {i}",
                first.shape(),
                tensors[i].shape()
            ),
        });
    }
    let d = normalize_insert_dim(op, dim, first.rank())?;
    let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d)).collect();
    let refs: Vec<&Tensor> = parts.iter().collect();
    cat_impl(op, &refs, d as isize)
}

/// # Joining
impl Tensor {
    /// The tensors joined along `dim` (`torch.cat`): all have one dtype and device and equal sizes
    /// outside `dim`. As PyTorch, a 1-d tensor of shape `[0]` is skipped whatever its rank.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]);
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0, 5.0, 6.0], &[2, 2]);
    /// let c = Tensor::cat(&[a.clone(), b], 0);
    /// assert_eq!(c.shape(), &[3, 2]);
    /// assert_eq!(c.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// assert!(Tensor::try_cat(&[a.clone(), a.t()], 0).is_err());
    /// ```
    ///
    /// **Panics** on an empty list, mismatched shapes, dtypes or devices, a 0-d tensor or a bad dim;
    /// see [`Tensor::try_cat`].
    #[must_use]
    #[track_caller]
    pub fn cat(tensors: &[Tensor], dim: impl Dim) -> Tensor {
        ok(Tensor::try_cat(tensors, dim))
    }

    /// Checked form of [`Tensor::cat`].
    pub fn try_cat(tensors: &[Tensor], dim: impl Dim) -> Result<Tensor> {
        let refs: Vec<&Tensor> = tensors.iter().collect();
        cat_impl("cat", &refs, dim.to_isize())
    }

    /// [`Tensor::cat`] of borrowed tensors.
    #[must_use]
    #[track_caller]
    pub fn cat_refs(tensors: &[&Tensor], dim: impl Dim) -> Tensor {
        ok(Tensor::try_cat_refs(tensors, dim))
    }

    /// Checked form of [`Tensor::cat_refs`].
    pub fn try_cat_refs(tensors: &[&Tensor], dim: impl Dim) -> Result<Tensor> {
        cat_impl("cat", tensors, dim.to_isize())
    }

    /// The tensors joined along a new dimension `dim` (`torch.stack`; `dim` may be `rank`, or
    /// negative): all have one shape, dtype and device.
    ///
    /// **Panics** on an empty list, unequal shapes, mismatched dtypes or devices, or a bad dim; see
    /// [`Tensor::try_stack`].
    #[must_use]
    #[track_caller]
    pub fn stack(tensors: &[Tensor], dim: impl Dim) -> Tensor {
        ok(Tensor::try_stack(tensors, dim))
    }

    /// Checked form of [`Tensor::stack`].
    pub fn try_stack(tensors: &[Tensor], dim: impl Dim) -> Result<Tensor> {
        let refs: Vec<&Tensor> = tensors.iter().collect();
        stack_impl(&refs, dim.to_isize())
    }

    /// [`Tensor::stack`] of borrowed tensors.
    #[must_use]
    #[track_caller]
    pub fn stack_refs(tensors: &[&Tensor], dim: impl Dim) -> Tensor {
        ok(stack_impl(tensors, dim.to_isize()))
    }

    /// Checked form of [`Tensor::stack_refs`].
    pub fn try_stack_refs(tensors: &[&Tensor], dim: impl Dim) -> Result<Tensor> {
        stack_impl(tensors, dim.to_isize())
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    fn seq(shape: &[usize], start: usize) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::from_vec((start..start + n).map(|x| x as f32).collect(), shape)
    }

    /// cat along every dim of contiguous and transposed inputs equals a naive per-element build.
    #[test]
    fn cat_against_naive() {
        for d in 0..3 {
            let mut sa = [2, 3, 4];
            let mut sb = [2, 3, 4];
            sa[d] = 1;
            sb[d] = 5;
            let a = seq(&sa, 0);
            // b is a transposed view with the same logical shape
            let b = seq(&[sb[2], sb[1], sb[0]], 100).permute(&[2, 1, 0]);
            let c = Tensor::cat_refs(&[&a, &b, &a], d);
            let (va, vb) = (a.to_vec::<f32>(), b.contiguous().to_vec::<f32>());
            let mut sc = sa;
            sc[d] = 7;
            assert_eq!(c.shape(), &sc);
            let got = c.to_vec::<f32>();
            let mut p = 0;
            for i in 0..sc[0] {
                for j in 0..sc[1] {
                    for k in 0..sc[2] {
                        let mut m = [i, j, k];
                        let x = m[d];
                        let want = if x == 0 || x == 6 {
                            m[d] = 0;
                            va[(m[0] * sa[1] + m[1]) * sa[2] + m[2]]
                        } else {
                            m[d] = x - 1;
                            vb[(m[0] * sb[1] + m[1]) * sb[2] + m[2]]
                        };
                        assert_eq!(got[p], want, "dim {d} at {p}");
                        p += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn legacy_empty_and_stack() {
        let e = Tensor::zeros(&[0]);
        let a = seq(&[2, 3], 0);
        assert_eq!(Tensor::cat(&[e.clone(), a.clone(), e.clone()], 1).shape(), &[2, 3]);
        assert_eq!(Tensor::cat(&[e.clone(), e], 0).shape(), &[0]);
        let s = Tensor::stack(&[a.clone(), a.clone()], -1);
        assert_eq!(s.shape(), &[2, 3, 2]);
        assert_eq!(s.to_vec::<f32>()[..4], [0.0, 0.0, 1.0, 1.0]);
    }
}
