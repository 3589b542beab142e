//! Comparisons (constant Bool results), `where_` and `masked_fill` on Variables.

use ember_tensor::{Result, Tensor};

use super::elementwise::ok;
use crate::Variable;

macro_rules! compare {
    ($($name:ident, $scalar:ident;)*) => {
        /// # Comparisons (Bool constants: no gradient flows through them)
        impl Variable {
            $(
                #[doc = concat!("Elementwise `", stringify!($name), "` with broadcasting, as a Bool constant.")]
                #[must_use]
                #[track_caller]
                pub fn $name(&self, other: &Variable) -> Variable {
                    Variable::from(self.data().$name(&other.data()))
                }

                #[doc = concat!("Elementwise `", stringify!($name), "` with a scalar, as a Bool constant.")]
                #[must_use]
                #[track_caller]
                pub fn $scalar(&self, v: f64) -> Variable {
                    Variable::from(self.data().$scalar(v))
                }
            )*
        }
    };
}

compare! {
    eq, eq_scalar;
    ne, ne_scalar;
    lt, lt_scalar;
    le, le_scalar;
    gt, gt_scalar;
    ge, ge_scalar;
}

/// # Selection (differentiable)
impl Variable {
    /// `where(cond, self, other)` with broadcasting; each side gets the gradient where it was chosen.
    #[must_use]
    #[track_caller]
    pub fn where_(&self, cond: &Tensor, other: &Variable) -> Variable {
        ok(self.try_where_(cond, other))
    }

    /// Checked form of [`Variable::where_`].
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

    /// `value` where `mask` (Bool, broadcast to this shape) is true; no gradient flows there.
    #[must_use]
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Variable {
        let out = ok(self.data().try_masked_fill(mask, value));
        let mask = mask.clone();
        Variable::record("masked_fill", &[self], out, move |ctx| vec![Some(ctx.grad.masked_fill(&mask, 0.0))])
    }
}
