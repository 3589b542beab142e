//! In-place ops on Variables (`add_`, `mul_`, `zero_`, `copy_`, `clamp_`, ...) and the version
//! counter that keeps them safe.
//!
//! A `Variable` is a shared handle, so in-place ops take `&self`: every handle sees the new value.
//! Each one bumps the Variable's version ([`Variable::version`]); so does
//! [`Variable::set_data`] (what optimizer steps use). Every recorded op saves the versions of its
//! inputs and output, and `backward` fails with an error naming the op and both versions when one
//! has changed since, instead of computing a gradient from values the op never saw (PyTorch's
//! "one of the variables needed for gradient computation has been modified by an inplace
//! operation"). Ember checks every input of the op, which is stricter than PyTorch where a rule
//! would not read the value (an input of `add`, say).
//!
//! When grad mode is on and a gradient is involved, the op is recorded as PyTorch does: the
//! Variable's history is rebased onto the new op, whose input is the old value. A leaf that
//! requires grad cannot be modified in place in grad mode (modify it inside [`crate::no_grad`], as
//! optimizers do).
//!
//! ```
//! use ember_autograd::{no_grad, Variable};
//! use ember_tensor::Tensor;
//! let w = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2]), true);
//! let h = &w * 3.0;
//! h.add_scalar_(1.0).relu_(); // recorded: gradients flow through the in-place ops
//! h.sum().backward();
//! assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![3.0, 3.0]);
//! assert!(w.try_mul_scalar_(2.0).is_err()); // a leaf that requires grad, in grad mode
//! no_grad(|| w.mul_scalar_(2.0)); // fine outside the graph
//! assert_eq!(w.to_vec::<f32>(), vec![2.0, 4.0]);
//! ```

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ember_tensor::{Error, Result, Tensor};

use crate::mode::is_grad_enabled;
use crate::Variable;

#[track_caller]
fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

impl Variable {
    /// Runs the in-place op `op`: `tf` on the data itself when nothing is recorded, else `vf` (the
    /// out-of-place op, recorded on `self`), whose node this Variable then adopts.
    fn inplace(
        &self,
        op: &'static str,
        others_require_grad: bool,
        tf: impl FnOnce(&mut Tensor) -> Result<()>,
        vf: impl FnOnce(&Variable) -> Result<Variable>,
    ) -> Result<&Self> {
        if is_grad_enabled() && self.is_leaf() && self.requires_grad() {
            return Err(Error::InvalidArgument {
                op,
                msg: "a leaf Variable that requires grad is being used in an in-place operation \
                      (modify it inside no_grad, as optimizers do)"
                    .into(),
            });
        }
        if !(is_grad_enabled() && (self.requires_grad() || others_require_grad)) {
            let mut data = self.0.data.write().unwrap_or_else(|e| e.into_inner());
            tf(&mut data)?;
            drop(data);
            self.bump_version();
            return Ok(self);
        }
        let r = vf(self)?;
        let (new, cur) = (r.data(), self.data());
        if new.shape() != cur.shape() || new.dtype() != cur.dtype() {
            return Err(Error::InvalidArgument {
                op,
                msg: format!(
                    "the result ({:?}, {}) doesn't match the Variable modified in place ({:?}, {})",
                    new.shape(),
                    new.dtype(),
                    cur.shape(),
                    cur.dtype()
                ),
            });
        }
        let Some(node) = r.node() else {
            // a result with no gradient (nothing to record after all)
            *self.0.data.write().unwrap_or_else(|e| e.into_inner()) = new;
            self.bump_version();
            return Ok(self);
        };
        // the old value keeps the old history: a new handle that the old node now produces
        let old_node = self.node();
        let old = Variable::make(cur, self.requires_grad(), old_node.clone());
        old.0.version.store(self.version(), Ordering::Release);
        if let Some(n) = &old_node {
            *n.output.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&old.0);
        }
        for inp in node.inputs.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
            if inp.same(self) {
                *inp = old.clone();
            }
        }
        // this Variable becomes the output of the new node
        *self.0.data.write().unwrap_or_else(|e| e.into_inner()) = new;
        self.bump_version();
        let mut slot = self.0.node.write().unwrap_or_else(|e| e.into_inner());
        *slot = Some(node.clone());
        self.0.node_id.store(node.id, Ordering::Release);
        drop(slot);
        self.0.requires_grad.store(true, Ordering::Relaxed);
        node.output_version.store(self.version(), Ordering::Release);
        *node.output.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&self.0);
        Ok(self)
    }
}

macro_rules! inplace_binary {
    ($($name:ident, $try:ident, $scalar:ident, $try_scalar:ident, $var:ident, $var_scalar:ident, $doc:literal;)*) => {
        /// # In-place arithmetic (see the module docs: versions, leaves, recording)
        impl Variable {
            $(
                #[doc = concat!("`self ", $doc, "= other` in place (`other` broadcast to `self`'s shape). **Panics** ",
                    "where [`Variable::", stringify!($try), "`] fails.")]
                #[track_caller]
                pub fn $name(&self, other: &Variable) -> &Self {
                    ok(self.$try(other))
                }

                #[doc = concat!("Checked form of [`Variable::", stringify!($name), "`]: fails on a shape, dtype or ",
                    "device mismatch, and on a leaf that requires grad while grad mode is on.")]
                #[track_caller]
                pub fn $try(&self, other: &Variable) -> Result<&Self> {
                    let o = other.data();
                    self.inplace(stringify!($name), other.requires_grad(), |t| t.$try(&o).map(|_| ()), |s| s.$var(other))
                }

                #[doc = concat!("`self ", $doc, "= v` in place for a scalar `v`. **Panics** where [`Variable::",
                    stringify!($try_scalar), "`] fails.")]
                #[track_caller]
                pub fn $scalar(&self, v: f64) -> &Self {
                    ok(self.$try_scalar(v))
                }

                #[doc = concat!("Checked form of [`Variable::", stringify!($scalar), "`].")]
                #[track_caller]
                pub fn $try_scalar(&self, v: f64) -> Result<&Self> {
                    self.inplace(stringify!($name), false, |t| t.$try_scalar(v).map(|_| ()), |s| Ok(s.$var_scalar(v)))
                }
            )*
        }
    };
}

inplace_binary! {
    add_, try_add_, add_scalar_, try_add_scalar_, try_add, add_scalar, "+";
    sub_, try_sub_, sub_scalar_, try_sub_scalar_, try_sub, sub_scalar, "-";
    mul_, try_mul_, mul_scalar_, try_mul_scalar_, try_mul, mul_scalar, "*";
    div_, try_div_, div_scalar_, try_div_scalar_, try_div, div_scalar, "/";
}

/// # In-place fills, copies and elementwise functions
impl Variable {
    /// Sets every element to 0. **Panics** on a leaf that requires grad in grad mode.
    #[track_caller]
    pub fn zero_(&self) -> &Self {
        ok(self.try_fill_(0.0))
    }

    /// Sets every element to `v` (no gradient flows to the old value). **Panics** on a leaf that
    /// requires grad in grad mode; see [`Variable::try_fill_`].
    #[track_caller]
    pub fn fill_(&self, v: f64) -> &Self {
        ok(self.try_fill_(v))
    }

    /// Checked form of [`Variable::fill_`].
    #[track_caller]
    pub fn try_fill_(&self, v: f64) -> Result<&Self> {
        self.inplace(
            "fill_",
            false,
            |t| t.try_fill_(v).map(|_| ()),
            |s| {
                let t = s.data().full_like(v);
                Ok(Variable::record("fill_", &[s], t, |_| vec![None]))
            },
        )
    }

    /// Copies `src` (broadcast to `self`'s shape, converted to its dtype and device) into `self`;
    /// the gradient flows to `src`, none to the old value. **Panics** where
    /// [`Variable::try_copy_`] fails.
    #[track_caller]
    pub fn copy_(&self, src: &Variable) -> &Self {
        ok(self.try_copy_(src))
    }

    /// Checked form of [`Variable::copy_`].
    #[track_caller]
    pub fn try_copy_(&self, src: &Variable) -> Result<&Self> {
        let sd = src.data();
        self.inplace(
            "copy_",
            src.requires_grad(),
            |t| t.try_copy_(&sd).map(|_| ()),
            |s| {
                let mut t = s.data();
                t.try_copy_(&sd)?;
                let src_shape = sd.shape().to_vec();
                Ok(Variable::record("copy_", &[s, src], t, move |ctx| {
                    let g = ctx.needs(1).then(|| ctx.grad.sum_to_shape(&src_shape));
                    vec![None, g]
                }))
            },
        )
    }

    /// Clamps into `[min, max]` in place. **Panics** where [`Variable::try_clamp_`] fails.
    #[track_caller]
    pub fn clamp_(&self, min: Option<f64>, max: Option<f64>) -> &Self {
        ok(self.try_clamp_(min, max))
    }

    /// Checked form of [`Variable::clamp_`] (fails when both bounds are `None`).
    #[track_caller]
    pub fn try_clamp_(&self, min: Option<f64>, max: Option<f64>) -> Result<&Self> {
        self.inplace("clamp_", false, |t| t.try_clamp_(min, max).map(|_| ()), |s| s.try_clamp(min, max))
    }

    /// Sets the elements where `mask` is true to `value`, in place. **Panics** where
    /// [`Variable::try_masked_fill_`] fails.
    #[track_caller]
    pub fn masked_fill_(&self, mask: &Tensor, value: f64) -> &Self {
        ok(self.try_masked_fill_(mask, value))
    }

    /// Checked form of [`Variable::masked_fill_`].
    #[track_caller]
    pub fn try_masked_fill_(&self, mask: &Tensor, value: f64) -> Result<&Self> {
        self.inplace(
            "masked_fill_",
            false,
            |t| t.try_masked_fill_(mask, value).map(|_| ()),
            |s| s.try_masked_fill(mask, value),
        )
    }

    /// Negates in place. **Panics** on a leaf that requires grad in grad mode.
    #[track_caller]
    pub fn neg_(&self) -> &Self {
        ok(self.inplace(
            "neg_",
            false,
            |t| {
                t.neg_();
                Ok(())
            },
            |s| Ok(-s),
        ))
    }

    /// `max(x, 0)` in place. **Panics** on a leaf that requires grad in grad mode.
    #[track_caller]
    pub fn relu_(&self) -> &Self {
        ok(self.inplace(
            "relu_",
            false,
            |t| {
                t.relu_();
                Ok(())
            },
            |s| Ok(s.relu()),
        ))
    }
}
