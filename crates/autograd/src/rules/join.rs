//! Joining and tiling on Variables: `cat`, `stack`, `repeat`, `flip`.

use ember_tensor::{Dim, Result, Tensor};

use super::elementwise::{c, ok};
use super::reduce::norm_dim;
use crate::Variable;

/// # Joining (differentiable)
impl Variable {
    /// Concatenates along `dim`; each input gets its slice of the gradient. Legacy empty `[0]`
    /// inputs are skipped, as PyTorch (they get a zero gradient).
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let a = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]), true);
    /// let b = Variable::new(Tensor::from_vec(vec![3.0f32, 4.0, 5.0, 6.0], &[2, 2]), true);
    /// let y = Variable::cat(&[a.clone(), b.clone()], 0);
    /// assert_eq!(y.shape(), vec![3, 2]);
    /// (&y * &y).sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec::<f32>(), vec![2.0, 4.0]);
    /// assert_eq!(b.grad().unwrap().to_vec::<f32>(), vec![6.0, 8.0, 10.0, 12.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn cat(vars: &[Variable], dim: impl Dim) -> Variable {
        ok(Variable::try_cat(vars, dim))
    }

    /// Checked form of [`Variable::cat`].
    pub fn try_cat(vars: &[Variable], dim: impl Dim) -> Result<Variable> {
        if crate::autocast::autocast_dtype().is_some() {
            let refs: Vec<Option<&Variable>> = vars.iter().map(Some).collect();
            if let Some(a) = crate::autocast::autocast_inputs("cat", &refs) {
                let cast: Vec<Variable> = (0..vars.len()).map(|i| a.var(i).clone()).collect();
                return Variable::try_cat(&cast, dim);
            }
        }
        let datas: Vec<Tensor> = vars.iter().map(|v| v.data()).collect();
        let out = Tensor::try_cat(&datas, dim)?;
        let d = norm_dim(dim.to_isize(), out.rank());
        // `None`: a legacy empty input that takes no part in the result
        let sizes: Vec<Option<usize>> = datas
            .iter()
            .map(|t| if t.rank() == 1 && t.numel() == 0 && out.rank() != 1 { None } else { Some(t.size(d)) })
            .collect();
        let refs: Vec<&Variable> = vars.iter().collect();
        Ok(Variable::record("cat", &refs, out, move |ctx| {
            let mut start = 0;
            sizes
                .iter()
                .zip(ctx.inputs)
                .enumerate()
                .map(|(i, (&s, v))| {
                    if !ctx.needs(i) {
                        start += s.unwrap_or(0);
                        return None;
                    }
                    Some(match s {
                        None => c(v.data().zeros_like()),
                        Some(s) => {
                            start += s;
                            ctx.grad.narrow(d, start - s, s)
                        }
                    })
                })
                .collect()
        }))
    }

    /// [`Variable::cat`] of borrowed Variables.
    #[must_use]
    #[track_caller]
    pub fn cat_refs(vars: &[&Variable], dim: impl Dim) -> Variable {
        ok(Variable::try_cat_refs(vars, dim))
    }

    /// Checked form of [`Variable::cat_refs`].
    pub fn try_cat_refs(vars: &[&Variable], dim: impl Dim) -> Result<Variable> {
        let owned: Vec<Variable> = vars.iter().map(|v| (*v).clone()).collect();
        Variable::try_cat(&owned, dim)
    }

    /// [`Variable::stack`] of borrowed Variables.
    #[must_use]
    #[track_caller]
    pub fn stack_refs(vars: &[&Variable], dim: impl Dim) -> Variable {
        ok(Variable::try_stack_refs(vars, dim))
    }

    /// Checked form of [`Variable::stack_refs`].
    pub fn try_stack_refs(vars: &[&Variable], dim: impl Dim) -> Result<Variable> {
        let owned: Vec<Variable> = vars.iter().map(|v| (*v).clone()).collect();
        Variable::try_stack(&owned, dim)
    }

    /// Stacks along a new `dim`; each input gets its slice of the gradient.
    #[must_use]
    #[track_caller]
    pub fn stack(vars: &[Variable], dim: impl Dim) -> Variable {
        ok(Variable::try_stack(vars, dim))
    }

    /// Checked form of [`Variable::stack`].
    pub fn try_stack(vars: &[Variable], dim: impl Dim) -> Result<Variable> {
        if crate::autocast::autocast_dtype().is_some() {
            let refs: Vec<Option<&Variable>> = vars.iter().map(Some).collect();
            if let Some(a) = crate::autocast::autocast_inputs("stack", &refs) {
                let cast: Vec<Variable> = (0..vars.len()).map(|i| a.var(i).clone()).collect();
                return Variable::try_stack(&cast, dim);
            }
        }
        let datas: Vec<Tensor> = vars.iter().map(|v| v.data()).collect();
        let out = Tensor::try_stack(&datas, dim)?;
        let d = norm_dim(dim.to_isize(), out.rank());
        let refs: Vec<&Variable> = vars.iter().collect();
        Ok(Variable::record("stack", &refs, out, move |ctx| {
            (0..ctx.inputs.len()).map(|i| ctx.needs(i).then(|| ctx.grad.select(d, i as i64))).collect()
        }))
    }

    /// Tiles the data `reps` times per dim (`torch.Tensor.repeat`; extra leading `reps` add dims).
    /// The gradient sums the tiles.
    #[must_use]
    #[track_caller]
    pub fn repeat(&self, reps: &[usize]) -> Variable {
        ok(self.try_repeat(reps))
    }

    /// Checked form of [`Variable::repeat`].
    #[track_caller]
    pub fn try_repeat(&self, reps: &[usize]) -> Result<Variable> {
        let out = self.data().try_repeat(reps)?;
        let reps = reps.to_vec();
        Ok(Variable::record("repeat", &[self], out, move |ctx| {
            let shape = ctx.inputs[0].shape();
            // the result seen as [lead reps.., (rep0, size0), (rep1, size1), ..]; sum over the reps
            let lead = reps.len() - shape.len();
            let mut split: Vec<usize> = reps[..lead].to_vec();
            let mut sum_dims: Vec<isize> = (0..lead as isize).collect();
            for (i, &s) in shape.iter().enumerate() {
                sum_dims.push(split.len() as isize);
                split.push(reps[lead + i]);
                split.push(s);
            }
            if sum_dims.is_empty() {
                return vec![Some(ctx.grad.clone())];
            }
            vec![Some(ctx.grad.reshape(&split).sum_dims(&sum_dims, false))]
        }))
    }

    /// Reverses the order along `dims` (a copy); the gradient is flipped back.
    #[must_use]
    #[track_caller]
    pub fn flip<D: Dim>(&self, dims: &[D]) -> Variable {
        ok(self.try_flip(dims))
    }

    /// Checked form of [`Variable::flip`].
    #[track_caller]
    pub fn try_flip<D: Dim>(&self, dims: &[D]) -> Result<Variable> {
        let out = self.data().try_flip(dims)?;
        let ds: Vec<isize> = dims.iter().map(|d| d.to_isize()).collect();
        Ok(Variable::record("flip", &[self], out, move |ctx| vec![Some(ctx.grad.flip(&ds))]))
    }
}
