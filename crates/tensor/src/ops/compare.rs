//! Comparisons and masks: `eq ne lt le gt ge` (tensor and scalar forms, Bool results), `where_`,
//! `masked_fill`, `logical_not logical_and logical_or`, `isnan`, `isfinite`.

pub use crate::op_desc::CmpOp;
use crate::shape::broadcast_shapes;
use crate::tensor::ok;
use crate::{DType, Result, Tensor};

impl Tensor {
    /// Checks devices, dtypes and broadcast shapes, then compares on the backend.
    pub(crate) fn compare(&self, other: &Tensor, op: CmpOp) -> Result<Tensor> {
        let name = op.name();
        self.same_device(name, other)?;
        self.same_dtype(name, other)?;
        let shape = broadcast_shapes(name, self.shape(), other.shape())?;
        self.backend().compare(op, self, other, &shape)
    }

    /// Compares with a scalar as PyTorch does: the scalar takes the tensor's dtype, except that a
    /// fractional (or non-finite) scalar promotes an I64/Bool tensor to F32, and a Bool tensor compared
    /// with a value other than 0 or 1 is compared as I64.
    fn compare_scalar(&self, v: f64, op: CmpOp) -> Result<Tensor> {
        let integral = v.fract() == 0.0;
        let base = match self.dtype {
            DType::I64 | DType::Bool if !integral => self.to_dtype(DType::F32),
            DType::Bool if v != 0.0 && v != 1.0 => self.to_dtype(DType::I64),
            _ => self.clone(),
        };
        let s = crate::ops::creation::full_on("scalar", &[], v, base.dtype, base.device());
        base.compare(&s, op)
    }
}

macro_rules! compare_methods {
    ($($name:ident, $try:ident, $scalar:ident, $try_scalar:ident, $op:ident, $doc:literal;)*) => {
        /// # Comparisons (Bool results, broadcasting)
        impl Tensor {
            $(
                #[doc = concat!("Elementwise `", $doc, "` with broadcasting, as a Bool tensor. Both operands must have")]
                /// the same dtype. Comparisons with NaN are false (`ne`: true).
                ///
                /// **Panics** when the shapes do not broadcast or the dtypes differ;
                #[doc = concat!("see [`Tensor::", stringify!($try), "`].")]
                #[must_use]
                #[track_caller]
                pub fn $name(&self, other: &Tensor) -> Tensor {
                    ok(self.$try(other))
                }

                #[doc = concat!("Checked form of [`Tensor::", stringify!($name), "`].")]
                pub fn $try(&self, other: &Tensor) -> Result<Tensor> {
                    self.compare(other, CmpOp::$op)
                }

                #[doc = concat!("Elementwise `", $doc, "` against a scalar, as a Bool tensor (the scalar takes the")]
                /// tensor's dtype; a fractional scalar compares an I64 tensor as F32, as PyTorch).
                #[must_use]
                #[track_caller]
                pub fn $scalar(&self, v: f64) -> Tensor {
                    ok(self.$try_scalar(v))
                }

                #[doc = concat!("Checked form of [`Tensor::", stringify!($scalar), "`].")]
                pub fn $try_scalar(&self, v: f64) -> Result<Tensor> {
                    self.compare_scalar(v, CmpOp::$op)
                }
            )*
        }
    };
}

compare_methods! {
    eq, try_eq, eq_scalar, try_eq_scalar, Eq, "self == other";
    ne, try_ne, ne_scalar, try_ne_scalar, Ne, "self != other";
    lt, try_lt, lt_scalar, try_lt_scalar, Lt, "self < other";
    le, try_le, le_scalar, try_le_scalar, Le, "self <= other";
    gt, try_gt, gt_scalar, try_gt_scalar, Gt, "self > other";
    ge, try_ge, ge_scalar, try_ge_scalar, Ge, "self >= other";
}

/// # Selection, masks and logical ops
impl Tensor {
    /// `torch.where(cond, self, other)`: elements of `self` where `cond` is true, else of `other`,
    /// with `cond`, `self` and `other` broadcast together. `cond` must be Bool; `self` and `other`
    /// must share a dtype.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f32, 2.0, -3.0], &[3]);
    /// let r = x.where_(&x.gt_scalar(0.0), &Tensor::zeros(&[1]));
    /// assert_eq!(r.to_vec::<f32>(), vec![0.0, 2.0, 0.0]);
    /// assert_eq!(x.lt_scalar(0.0).to_vec::<bool>(), vec![true, false, true]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn where_(&self, cond: &Tensor, other: &Tensor) -> Tensor {
        ok(self.try_where_(cond, other))
    }

    /// Checked form of [`Tensor::where_`].
    pub fn try_where_(&self, cond: &Tensor, other: &Tensor) -> Result<Tensor> {
        self.same_device("where", cond)?;
        self.same_device("where", other)?;
        if cond.dtype != DType::Bool {
            crate::bail!("where", "expected condition to be a Bool tensor, but got a tensor with dtype {}", cond.dtype);
        }
        self.same_dtype("where", other)?;
        let shape = broadcast_shapes("where", cond.shape(), self.shape())?;
        let shape = broadcast_shapes("where", &shape, other.shape())?;
        self.backend().where_(cond, self, other, &shape)
    }

    /// `value` (converted to this dtype, as PyTorch) where the Bool `mask` is true, else `self`.
    /// As PyTorch's out-of-place `masked_fill`, `self` and `mask` broadcast together (usually the
    /// mask broadcasts to `self`).
    ///
    /// **Panics** on a non-Bool mask or shapes that do not broadcast; see [`Tensor::try_masked_fill`].
    #[must_use]
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Tensor {
        ok(self.try_masked_fill(mask, value))
    }

    /// Checked form of [`Tensor::masked_fill`].
    pub fn try_masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        self.same_device("masked_fill", mask)?;
        if mask.dtype != DType::Bool {
            crate::bail!("masked_fill", "only supports Bool masks, but got mask with dtype {}", mask.dtype);
        }
        let shape = broadcast_shapes("masked_fill", self.shape(), mask.shape())?;
        self.backend().masked_fill(self, mask, value, &shape)
    }

    /// Elementwise logical not, as Bool (any input dtype: zero is false, anything else true).
    ///
    /// **Panics** only when a GPU fails (out of memory); see [`Tensor::try_logical_not`].
    #[must_use]
    #[track_caller]
    pub fn logical_not(&self) -> Tensor {
        ok(self.try_logical_not())
    }

    /// Checked form of [`Tensor::logical_not`].
    pub fn try_logical_not(&self) -> Result<Tensor> {
        self.backend().logical_not(self)
    }

    /// Elementwise logical and, as Bool, with broadcasting (any dtypes: nonzero is true).
    #[must_use]
    #[track_caller]
    pub fn logical_and(&self, other: &Tensor) -> Tensor {
        ok(self.try_logical_and(other))
    }

    /// Checked form of [`Tensor::logical_and`].
    pub fn try_logical_and(&self, other: &Tensor) -> Result<Tensor> {
        self.logical(other, "logical_and", true)
    }

    /// Elementwise logical or, as Bool, with broadcasting (any dtypes: nonzero is true).
    #[must_use]
    #[track_caller]
    pub fn logical_or(&self, other: &Tensor) -> Tensor {
        ok(self.try_logical_or(other))
    }

    /// Checked form of [`Tensor::logical_or`].
    pub fn try_logical_or(&self, other: &Tensor) -> Result<Tensor> {
        self.logical(other, "logical_or", false)
    }

    fn logical(&self, other: &Tensor, op: &'static str, and: bool) -> Result<Tensor> {
        self.same_device(op, other)?;
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        let (a, b) = (self.try_to_dtype(DType::Bool)?, other.try_to_dtype(DType::Bool)?);
        a.backend().logical(&a, &b, and, &shape)
    }

    /// Elementwise "is NaN", as Bool (always false for I64 and Bool).
    ///
    /// **Panics** only when a GPU fails (out of memory); see [`Tensor::try_isnan`].
    #[must_use]
    #[track_caller]
    pub fn isnan(&self) -> Tensor {
        ok(self.try_isnan())
    }

    /// Checked form of [`Tensor::isnan`].
    pub fn try_isnan(&self) -> Result<Tensor> {
        self.backend().float_test(self, false)
    }

    /// Elementwise "is finite" (neither infinite nor NaN), as Bool (always true for I64 and Bool).
    ///
    /// **Panics** only when a GPU fails (out of memory); see [`Tensor::try_isfinite`].
    #[must_use]
    #[track_caller]
    pub fn isfinite(&self) -> Tensor {
        ok(self.try_isfinite())
    }

    /// Checked form of [`Tensor::isfinite`].
    pub fn try_isfinite(&self) -> Result<Tensor> {
        self.backend().float_test(self, true)
    }
}
