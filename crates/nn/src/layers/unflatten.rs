//! `Unflatten`: splits one dim into several (the inverse of `Flatten`).

use ember_autograd::Variable;
use ember_tensor::shape::normalize_dim;
use ember_tensor::{Error, Result};

use crate::module::forward_or_panic;
use crate::Module;

/// Splits dim `dim` into `unflattened_size`, PyTorch's `nn.Unflatten(dim, unflattened_size)`; one
/// size may be `-1` (inferred).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Module, Unflatten};
/// use ember_tensor::Tensor;
/// let x = Variable::from(Tensor::randn(&[2, 12]));
/// assert_eq!(Unflatten::new(1, &[3, -1]).forward(&x).shape(), vec![2, 3, 4]);
/// assert_eq!(Unflatten::new(-1, &[2, 2, 3]).forward(&x).shape(), vec![2, 2, 2, 3]);
/// ```
#[derive(Clone, Debug)]
pub struct Unflatten {
    dim: isize,
    sizes: Vec<isize>,
}

impl Unflatten {
    /// Splits `dim` (negative counts from the end) into `unflattened_size`.
    pub fn new(dim: isize, unflattened_size: &[isize]) -> Unflatten {
        Unflatten { dim, sizes: unflattened_size.to_vec() }
    }

    /// Checked forward: fails naming the shapes when the sizes do not multiply to the dim's size.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        let err = |msg: String| Error::InvalidArgument { op: "Unflatten", msg };
        let d = normalize_dim("Unflatten", self.dim, shape.len())?;
        let n = shape[d];
        let known: isize = self.sizes.iter().filter(|&&s| s != -1).product();
        let inferred = self.sizes.iter().filter(|&&s| s == -1).count();
        let bad = self.sizes.iter().any(|&s| s < -1)
            || inferred > 1
            || self.sizes.is_empty()
            || (inferred == 0 && known as usize != n)
            || (inferred == 1 && (known == 0 || !n.is_multiple_of(known as usize)));
        if bad {
            return Err(err(format!(
                "unflattened_size {:?} does not fit dim {} of size {n} of an input of shape {shape:?} \
                 (the sizes must multiply to {n}, with at most one -1)",
                self.sizes, self.dim
            )));
        }
        let mut out: Vec<isize> = shape[..d].iter().map(|&s| s as isize).collect();
        out.extend(&self.sizes);
        out.extend(shape[d + 1..].iter().map(|&s| s as isize));
        x.try_reshape(&out)
    }
}

impl Module for Unflatten {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }
}
