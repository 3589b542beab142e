//! GPU max / min with indices (`shaders/argreduce.wgsl`): one workgroup per row, a tree over
//! (value, index) pairs with the CPU's rules (first occurrence, first NaN wins).

use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{check_u32, shaders, storage, tensor, GpuStorage};
use crate::op_desc::Axis;
use crate::{DType, Error, Result, Tensor};

/// Max (`max`) or min of a non-empty F32/F64/I64 GPU tensor over one dim or all dims (`mask`)
/// with the I64 index of the winner (along the dim, or flat row-major over all dims), both shaped
/// `out`.
pub(crate) fn extreme(
    op: &'static str,
    x: &Tensor,
    mask: &[bool],
    max: bool,
    out: &[usize],
) -> Result<(Tensor, Tensor)> {
    let dtype = x.dtype();
    let (entry, float) = match dtype {
        DType::F32 | DType::F64 => ("argreduce_float", dtype),
        DType::I64 => ("argreduce_i64", DType::F32),
        DType::Bool | DType::F16 | DType::BF16 => return Err(Error::UnsupportedDType { op, dtype }),
    };
    let ctx = storage(x).ctx().clone();
    ctx.require(op, dtype)?;
    let ax = match mask.iter().filter(|&&m| m).count() {
        c if c == mask.len() => Axis::all(x.numel()),
        _ => Axis::of(x.shape(), mask.iter().position(|&m| m).unwrap_or(0)),
    };
    let x = x.try_contiguous()?;
    let rows = ax.out_len();
    let vals = GpuStorage::new(&ctx, op, dtype, rows)?;
    let idxs = GpuStorage::new(&ctx, op, DType::I64, rows)?;
    if rows > 0 {
        let info =
            [check_u32(op, rows)?, check_u32(op, ax.n)?, check_u32(op, ax.inner)?, check_u32(op, x.layout.offset)?];
        let info = Meta::words(&info);
        let module = format!("argreduce ({float})");
        let source = move || shaders::plain(shaders::ARGREDUCE, float);
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry,
            constants: &[("MAX", f64::from(u8::from(max)))],
            read_only: &[true, false, false, true],
        };
        let bufs: &[&dyn Binding] = &[storage(&x).buffer(), vals.buffer(), idxs.buffer(), &info];
        ctx.dispatch(&spec, bufs, ctx.grid(op, check_u32(op, rows)?)?);
    }
    Ok((tensor(vals, out), tensor(idxs, out)))
}
