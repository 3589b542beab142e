//! GPU comparisons, logical ops and `where` (`shaders/compare.wgsl`): Bool (u32) results of
//! operands read through their broadcast strides; `where` selects raw storage words, so it runs on
//! every dtype without f64 support.

use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{elem_bytes, groups_for, shaders, storage, strided_meta, strided_meta_k, tensor, GpuStorage};
use crate::op_desc::CmpOp;
use crate::{DType, Error, Result, Tensor};

/// What the compare kernel computes (its `OP` constant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Test {
    /// A comparison of two operands of one dtype.
    Cmp(CmpOp),
    /// Logical and / or of two Bool operands.
    And,
    /// See [`Test::And`].
    Or,
    /// NaN test of one float operand.
    IsNan,
    /// Finiteness test of one float operand.
    IsFinite,
}

impl Test {
    /// The kernel's `OP`: a comparison's row in the [`CmpOp`] table, the other tests numbered
    /// after the table (the `TEST_*` constants that [`shaders::compare`] writes for the kernel).
    fn code(self) -> u32 {
        let n = CmpOp::WGSL.len() as u32;
        match self {
            Test::Cmp(op) => op.index(),
            Test::And => n,
            Test::Or => n + 1,
            Test::IsNan => n + 2,
            Test::IsFinite => n + 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Test::Cmp(op) => op.name(),
            Test::And => "logical_and",
            Test::Or => "logical_or",
            Test::IsNan => "isnan",
            Test::IsFinite => "isfinite",
        }
    }
}

/// `test(a, b)` as a Bool tensor of `shape` (both operands of one dtype, broadcast to `shape`;
/// `b` is ignored by the one-operand tests, pass `a`). Logical tests need Bool operands, NaN tests
/// float ones.
pub(crate) fn compare(test: Test, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let op = test.name();
    let (sa, sb) = (storage(a), storage(b));
    let ctx = sa.ctx();
    let dtype = a.dtype();
    ctx.require(op, dtype)?;
    let (entry, float) = match dtype {
        DType::F32 | DType::F64 => ("compare_float", dtype),
        DType::I64 => ("compare_i64", DType::F32),
        DType::Bool => ("compare_u32", DType::F32),
        DType::F16 | DType::BF16 => return Err(Error::UnsupportedDType { op, dtype }),
    };
    let la = a.layout.broadcast_to(op, shape)?;
    let lb = b.layout.broadcast_to(op, shape)?;
    let n: usize = shape.iter().product();
    let out = GpuStorage::new(ctx, op, DType::Bool, n)?;
    if n > 0 {
        let meta = Meta::words(&strided_meta(op, shape, &[&la, &lb])?);
        let module = format!("compare ({float})");
        let source = move || shaders::compare(float);
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry,
            constants: &[("OP", f64::from(test.code()))],
            read_only: &[true, true, false, true],
        };
        ctx.dispatch(&spec, &[sa.buffer(), sb.buffer(), out.buffer(), &meta], ctx.grid(op, groups_for(n))?);
    }
    Ok(tensor(out, shape))
}

/// `cond ? a : b` elementwise, all broadcast to `shape` (`cond` Bool, `a` and `b` of one dtype).
pub(crate) fn where_(op: &'static str, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let ctx = storage(a).ctx();
    let dtype = a.dtype();
    let lc = cond.layout.broadcast_to(op, shape)?;
    let la = a.layout.broadcast_to(op, shape)?;
    let lb = b.layout.broadcast_to(op, shape)?;
    let n: usize = shape.iter().product();
    let out = GpuStorage::new(ctx, op, dtype, n)?;
    if n > 0 {
        let meta = Meta::words(&strided_meta_k::<3>(op, shape, &[&lc, &la, &lb])?);
        let entry = if elem_bytes(dtype) == 8 { "where_w2" } else { "where_w1" };
        let source = move || shaders::compare(DType::F32);
        let spec = KernelSpec {
            checked: true,
            module: "compare (F32)",
            source: &source,
            entry,
            constants: &[],
            read_only: &[true, true, true, false, true],
        };
        let bufs: &[&dyn Binding] =
            &[storage(cond).buffer(), storage(a).buffer(), storage(b).buffer(), out.buffer(), &meta];
        ctx.dispatch(&spec, bufs, ctx.grid(op, groups_for(n))?);
    }
    Ok(tensor(out, shape))
}
