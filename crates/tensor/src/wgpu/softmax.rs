//! GPU `softmax` / `log_softmax` along one dim (`shaders/softmax.wgsl`): one workgroup per row,
//! three tree-reduced passes (max, sum of exponentials, output). Other dims than the last are read
//! `inner` apart in place, so no permute or copy is needed beyond making the input dense.

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, shaders, storage, tensor, GpuStorage};
use crate::op_desc::Axis;
use crate::{Error, Result, Tensor};

/// Softmax (or log-softmax, when `log`) of a float GPU tensor over the dim of geometry `ax`.
pub(crate) fn softmax(x: &Tensor, ax: Axis, log: bool) -> Result<Tensor> {
    let op = if log { "log_softmax" } else { "softmax" };
    let dtype = x.dtype();
    if !dtype.is_float() {
        return Err(Error::UnsupportedDType { op, dtype });
    }
    let ctx = storage(x).ctx().clone();
    ctx.require(op, dtype)?;
    let n = x.numel();
    let out = GpuStorage::new(&ctx, op, dtype, n)?;
    if n == 0 {
        return Ok(tensor(out, x.shape()));
    }
    let x = x.try_contiguous()?;
    let rows = ax.out_len();
    let info = [check_u32(op, rows)?, check_u32(op, ax.n)?, check_u32(op, ax.inner)?, check_u32(op, x.layout.offset)?];
    let info = Meta::words(&info);
    let module = format!("softmax ({dtype})");
    let source = move || shaders::elementwise(shaders::SOFTMAX, dtype);
    let spec = KernelSpec {
        checked: true,
        module: &module,
        source: &source,
        entry: "softmax",
        constants: &[("LOG", f64::from(u8::from(log)))],
        read_only: &[true, false, true],
    };
    ctx.dispatch(&spec, &[storage(&x).buffer(), out.buffer(), &info], ctx.grid(op, check_u32(op, rows)?)?);
    Ok(tensor(out, x.shape()))
}
