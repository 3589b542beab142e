//! GPU `cumsum` / `cumprod` along one dim (`shaders/scan.wgsl`). The dense input is seen as
//! `[outer, n, inner]`: each of the `outer * inner` lines is read `inner` apart in place. A line
//! takes a segment of `M` invocations (its length rounded up to a power of two, at most 256), so a
//! workgroup of 256 scans `256 / M` short lines at once; long lines go in chunks of 256 scanned in
//! workgroup memory plus a running carry, so any length is one pass.

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, shaders, storage, tensor, GpuStorage};
use crate::op_desc::Axis;
use crate::{DType, Error, Result, Tensor};

/// Invocations per workgroup (as in `scan.wgsl`).
const WG: usize = 256;

/// The cumulative sum (or product, when `prod`) of an F32/F64/I64 GPU tensor along the dim of
/// geometry `ax` (the caller promotes Bool to I64). Floats accumulate in their own width.
pub(crate) fn cumulative(x: &Tensor, ax: Axis, prod: bool) -> Result<Tensor> {
    let op = if prod { "cumprod" } else { "cumsum" };
    let dtype = x.dtype();
    let (entry, float) = match dtype {
        DType::F32 | DType::F64 => ("scan_float", dtype),
        DType::I64 => ("scan_i64", DType::F32),
        DType::Bool | DType::F16 | DType::BF16 => return Err(Error::UnsupportedDType { op, dtype }),
    };
    let ctx = storage(x).ctx().clone();
    ctx.require(op, dtype)?;
    let n = x.numel();
    let out = GpuStorage::new(&ctx, op, dtype, n)?;
    if n == 0 {
        return Ok(tensor(out, x.shape()));
    }
    let x = x.try_contiguous()?;
    let m = ax.n.next_power_of_two().min(WG);
    let info = [
        check_u32(op, ax.out_len())?,
        check_u32(op, ax.n)?,
        check_u32(op, ax.inner)?,
        check_u32(op, x.layout.offset)?,
        m as u32,
    ];
    let info = Meta::words(&info);
    let groups = check_u32(op, ax.out_len().div_ceil(WG / m))?;
    let module = format!("scan ({float})");
    let source = move || shaders::plain(shaders::SCAN, float);
    let spec = KernelSpec {
        checked: true,
        module: &module,
        source: &source,
        entry,
        constants: &[("PROD", f64::from(u8::from(prod)))],
        read_only: &[true, false, true],
    };
    ctx.dispatch(&spec, &[storage(&x).buffer(), out.buffer(), &info], ctx.grid(op, groups)?);
    Ok(tensor(out, x.shape()))
}
