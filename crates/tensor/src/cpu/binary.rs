//! CPU kernels for [`BinaryOp`].

use super::elementwise::zip_map;
use crate::op_desc::BinaryOp;
use crate::{Float, Result, Tensor};

/// Runs `op` on two CPU tensors of one dtype, broadcast to `shape`.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let name = op.name();
    match a.dtype() {
        crate::DType::F32 => Ok(Tensor::from_vec_unchecked(float_op::<f32>(op, a, b, shape)?, shape)),
        crate::DType::F64 => Ok(Tensor::from_vec_unchecked(float_op::<f64>(op, a, b, shape)?, shape)),
        crate::DType::I64 => Ok(Tensor::from_vec_unchecked(int_op(op, a, b, shape)?, shape)),
        d => Err(crate::Error::UnsupportedDType { op: name, dtype: d }),
    }
}

fn float_op<T: Float>(op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Vec<T>> {
    match op {
        BinaryOp::Add => zip_map(a, b, shape, |x: T, y: T| x + y),
        BinaryOp::Sub => zip_map(a, b, shape, |x: T, y: T| x - y),
        BinaryOp::Mul => zip_map(a, b, shape, |x: T, y: T| x * y),
        BinaryOp::Div => zip_map(a, b, shape, |x: T, y: T| x / y),
        BinaryOp::Pow => zip_map(a, b, shape, |x: T, y: T| x.powt(y)),
        BinaryOp::Maximum => zip_map(a, b, shape, |x: T, y: T| x.max_nan(y)),
        BinaryOp::Minimum => zip_map(a, b, shape, |x: T, y: T| x.min_nan(y)),
    }
}

fn int_op(op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Vec<i64>> {
    match op {
        BinaryOp::Add => zip_map(a, b, shape, |x: i64, y: i64| x.wrapping_add(y)),
        BinaryOp::Sub => zip_map(a, b, shape, |x: i64, y: i64| x.wrapping_sub(y)),
        BinaryOp::Mul => zip_map(a, b, shape, |x: i64, y: i64| x.wrapping_mul(y)),
        // Integer true division is promoted to float before reaching the backend.
        BinaryOp::Div => unreachable!("i64 div is promoted to f32 by Tensor::binary"),
        BinaryOp::Pow => zip_map(a, b, shape, |x: i64, y: i64| if y < 0 { 0 } else { x.wrapping_pow(y as u32) }),
        BinaryOp::Maximum => zip_map(a, b, shape, |x: i64, y: i64| x.max(y)),
        BinaryOp::Minimum => zip_map(a, b, shape, |x: i64, y: i64| x.min(y)),
    }
}
