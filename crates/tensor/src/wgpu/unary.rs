//! GPU kernels for [`UnaryOp`] (`shaders/unary.wgsl`): strided input, dense output, one specialised
//! pipeline per op (the op's row in the table of `op_desc.rs` is an override constant; the WGSL of
//! each op comes from that table, see [`shaders::unary`]).

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{groups_for, shaders, storage, strided_meta, tensor, GpuStorage};
use crate::op_desc::UnaryOp;
use crate::{DType, Error, Result, Tensor};

/// The two scalar parameters of `op` (absent clamp bounds are infinite).
pub(crate) fn params(op: UnaryOp) -> [f64; 2] {
    match op {
        UnaryOp::Powf(e) => [e, 0.0],
        UnaryOp::Clamp(lo, hi) => [lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY)],
        UnaryOp::LeakyRelu(s) => [s, 0.0],
        UnaryOp::Elu(a) => [a, 0.0],
        _ => [0.0, 0.0],
    }
}

/// Runs `op` on a GPU tensor of dtype F32, F64 or I64 (integer ops only where `op.keeps_int()`).
pub(crate) fn unary(op: UnaryOp, a: &Tensor) -> Result<Tensor> {
    let name = op.name();
    let src = storage(a);
    let ctx = src.ctx();
    let dtype = a.dtype();
    ctx.require(name, dtype)?;
    let [p0, p1] = params(op);
    let (sc, entry, float): (Vec<u8>, &'static str, DType) = match dtype {
        DType::F32 => (bytemuck::cast_slice(&[p0 as f32, p1 as f32]).to_vec(), "unary_float", DType::F32),
        DType::F64 => (bytemuck::cast_slice(&[p0, p1]).to_vec(), "unary_float", DType::F64),
        DType::I64 if op.keeps_int() => {
            // As the CPU: float bounds round toward the inside of the integer range.
            let (lo, hi) = match op {
                UnaryOp::Clamp(lo, hi) => {
                    (lo.map(|v| v.ceil() as i64).unwrap_or(i64::MIN), hi.map(|v| v.floor() as i64).unwrap_or(i64::MAX))
                }
                _ => (0, 0),
            };
            (bytemuck::cast_slice(&[lo, hi]).to_vec(), "unary_i64", DType::F32)
        }
        d => return Err(Error::UnsupportedDType { op: name, dtype: d }),
    };
    let n = a.numel();
    let out = GpuStorage::new(ctx, name, dtype, n)?;
    if n > 0 {
        let meta = Meta::words(&strided_meta(name, a.shape(), &[&a.layout])?);
        let sc = Meta::bytes(sc);
        let module = format!("unary ({float})");
        let source = move || shaders::unary(float);
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry,
            constants: &[("OP", f64::from(op.index()))],
            read_only: &[true, false, true, true],
        };
        ctx.dispatch(&spec, &[src.buffer(), out.buffer(), &meta, &sc], ctx.grid(name, groups_for(n))?);
    }
    Ok(tensor(out, a.shape()))
}
