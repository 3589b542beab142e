//! Comparisons and logical ops (constant Bool results), `where_` and `masked_fill` on Variables.

use ember_tensor::{Result, Tensor};

use super::elementwise::{c, ok};
use crate::Variable;

macro_rules! compare {
    ($($name:ident, $try:ident, $scalar:ident;)*) => {
        /// # Comparisons (Bool constants: no gradient flows through them)
        impl Variable {
            $(
                #[doc = concat!("Elementwise `", stringify!($name), "` with broadcasting, as a Bool constant.")]
                #[must_use]
                #[track_caller]
                pub fn $name(&self, other: &Variable) -> Variable {
                    ok(self.$try(other))
                }

                #[doc = concat!("Checked form of [`Variable::", stringify!($name), "`].")]
                #[track_caller]
                pub fn $try(&self, other: &Variable) -> Result<Variable> {
                    Ok(c(self.data().$try(&other.data())?))
                }

                #[doc = concat!("Elementwise `", stringify!($name), "` with a scalar, as a Bool constant.")]
                #[must_use]
                #[track_caller]
                pub fn $scalar(&self, v: f64) -> Variable {
                    c(self.data().$scalar(v))
                }
            )*
        }
    };
}

compare! {
    eq, try_eq, eq_scalar;
    ne, try_ne, ne_scalar;
    lt, try_lt, lt_scalar;
    le, try_le, le_scalar;
    gt, try_gt, gt_scalar;
    ge, try_ge, ge_scalar;
}

/// # Logical ops and tests (Bool constants)
impl Variable {
    /// Elementwise logical and (nonzero is true) with broadcasting.
    #[must_use]
    #[track_caller]
    pub fn logical_and(&self, other: &Variable) -> Variable {
        ok(self.try_logical_and(other))
    }

    /// Checked form of [`Variable::logical_and`].
    #[track_caller]
    pub fn try_logical_and(&self, other: &Variable) -> Result<Variable> {
        Ok(c(self.data().try_logical_and(&other.data())?))
    }

    /// Elementwise logical or (nonzero is true) with broadcasting.
    #[must_use]
    #[track_caller]
    pub fn logical_or(&self, other: &Variable) -> Variable {
        ok(self.try_logical_or(other))
    }

    /// Checked form of [`Variable::logical_or`].
    #[track_caller]
    pub fn try_logical_or(&self, other: &Variable) -> Result<Variable> {
        Ok(c(self.data().try_logical_or(&other.data())?))
    }

    /// Elementwise logical not (true where zero).
    #[must_use]
    #[track_caller]
    pub fn logical_not(&self) -> Variable {
        c(self.data().logical_not())
    }

    /// True where the element is NaN.
    #[must_use]
    #[track_caller]
    pub fn isnan(&self) -> Variable {
        c(self.data().isnan())
    }

    /// True where the element is finite (not NaN or infinite).
    #[must_use]
    #[track_caller]
    pub fn isfinite(&self) -> Variable {
        c(self.data().isfinite())
    }
}

/// # Selection (differentiable)
impl Variable {
    /// `where(cond, self, other)` with broadcasting; each side gets the gradient where it was chosen,
    /// summed back to its shape.
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let a = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]), true);
    /// let b = Variable::new(Tensor::from_vec(vec![10.0f32], &[1]), true);
    /// let cond = Tensor::from_vec(vec![1.0f32, 0.0, 1.0], &[3]).ne_scalar(0.0);
    /// let y = a.where_(&cond, &b);
    /// assert_eq!(y.to_vec::<f32>(), vec![1.0, 10.0, 3.0]);
    /// y.sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec::<f32>(), vec![1.0, 0.0, 1.0]);
    /// assert_eq!(b.grad().unwrap().to_vec::<f32>(), vec![1.0]); // summed back to [1]
    /// ```
    #[must_use]
    #[track_caller]
    pub fn where_(&self, cond: &Tensor, other: &Variable) -> Variable {
        ok(self.try_where_(cond, other))
    }

    /// Checked form of [`Variable::where_`].
    #[track_caller]
    pub fn try_where_(&self, cond: &Tensor, other: &Variable) -> Result<Variable> {
        let out = self.data().try_where_(cond, &other.data())?;
        let cond = cond.clone();
        Ok(Variable::record("where", &[self, other], out, move |ctx| {
            let g = ctx.grad;
            let ga = ctx.needs(0).then(|| g.masked_fill(&cond.logical_not(), 0.0).sum_to_shape(&ctx.inputs[0].shape()));
            let gb = ctx.needs(1).then(|| g.masked_fill(&cond, 0.0).sum_to_shape(&ctx.inputs[1].shape()));
            vec![ga, gb]
        }))
    }

    /// `value` where `mask` (Bool, broadcast with this shape) is true; no gradient flows there. A
    /// mask that widens the result sums the gradient back to this shape.
    #[must_use]
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Variable {
        ok(self.try_masked_fill(mask, value))
    }

    /// Checked form of [`Variable::masked_fill`].
    #[track_caller]
    pub fn try_masked_fill(&self, mask: &Tensor, value: f64) -> Result<Variable> {
        let out = self.data().try_masked_fill(mask, value)?;
        let mask = mask.clone();
        Ok(Variable::record("masked_fill", &[self], out, move |ctx| {
            vec![Some(ctx.grad.masked_fill(&mask, 0.0).sum_to_shape(&ctx.inputs[0].shape()))]
        }))
    }
}
