//! The CPU backend: every method of the [`Backend`] trait, each calling this folder's kernel for
//! its family (the reference every other backend's host fallback runs).

use crate::backend::{Backend, Three};
use crate::op_desc::{Axis, BinaryOp, CmpOp, ConvGeom, Pool2dPlan, ReduceKind, ScatterMode, UnaryOp};
use crate::ops::cross_entropy::CrossEntropyOpts;
use crate::{DType, Device, Element, Result, Tensor};

/// The CPU backend (host memory, kernels in `cpu/`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuBackend;

/// The one instance, returned by `Storage::backend` for host storage.
pub(crate) static CPU: CpuBackend = CpuBackend;

/// Applies `f` to a 0-d tensor seen as a one-element vector, and makes its results 0-d again.
fn on_scalar(t: &Tensor, f: impl FnOnce(&Tensor) -> (Tensor, Tensor)) -> (Tensor, Tensor) {
    let (v, i) = f(&t.reshape(&[1]));
    let s = |x: Tensor| if x.numel() == 1 { x.reshape(&[0usize; 0]) } else { x };
    (s(v), s(i))
}

impl Backend for CpuBackend {
    fn download(&self, t: &Tensor) -> Result<Tensor> {
        Ok(t.clone())
    }

    fn upload(&self, t: &Tensor, _device: Device) -> Result<Tensor> {
        Ok(t.clone())
    }

    fn contiguous(&self, t: &Tensor) -> Result<Tensor> {
        Ok(with_dtype!(t.dtype(), T, {
            let (data, layout) = t.cpu_raw::<T>();
            Tensor::from_vec_unchecked(super::strided::try_gather(data, layout)?, t.shape())
        }))
    }

    fn cast(&self, t: &Tensor, dtype: DType) -> Result<Tensor> {
        Ok(with_dtype!(t.dtype(), S, {
            let src = t.try_cpu_data::<S>()?;
            with_dtype!(dtype, D, {
                let v: Vec<D> = super::cast::cast_slice::<S, D>(&src)?;
                Tensor::from_vec_unchecked(v, t.shape())
            })
        }))
    }

    fn full(&self, op: &'static str, shape: &[usize], v: f64, dtype: DType, _device: Device) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        Ok(with_dtype!(dtype, T, {
            let data = super::alloc::try_filled::<T>(op, n, <T as Element>::from_f64(v))?;
            Tensor::from_vec_unchecked(data, shape)
        }))
    }

    fn unary(&self, op: UnaryOp, x: &Tensor) -> Result<Tensor> {
        super::unary::unary(op, x)
    }

    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        super::binary::binary(op, a, b, shape)
    }

    fn compare(&self, op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        super::compare::compare(op, a, b, shape)
    }

    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        Ok(super::compare::where_(cond, a, b, shape))
    }

    fn masked_fill(&self, x: &Tensor, mask: &Tensor, value: f64, shape: &[usize]) -> Result<Tensor> {
        super::compare::masked_fill(x, mask, value, shape)
    }

    fn logical_not(&self, x: &Tensor) -> Result<Tensor> {
        super::compare::logical_not(x)
    }

    fn logical(&self, a: &Tensor, b: &Tensor, and: bool, shape: &[usize]) -> Result<Tensor> {
        super::compare::logical(a, b, and, shape)
    }

    fn float_test(&self, x: &Tensor, finite: bool) -> Result<Tensor> {
        if finite {
            super::compare::isfinite(x)
        } else {
            super::compare::isnan(x)
        }
    }

    fn reduce(&self, kind: ReduceKind, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        match kind {
            ReduceKind::Sum | ReduceKind::Mean => super::reduce::sum(t, mask, kind == ReduceKind::Mean, out),
            ReduceKind::Prod => super::reduce::prod(t, mask, out),
            ReduceKind::Max | ReduceKind::Min => Ok(super::reduce::extreme(t, mask, kind == ReduceKind::Max, out)?.0),
        }
    }

    fn all_any(&self, t: &Tensor, mask: &[bool], all: bool, out: &[usize]) -> Result<Tensor> {
        Ok(super::reduce::all_any(t, mask, all, out))
    }

    fn extreme(
        &self,
        _op: &'static str,
        t: &Tensor,
        mask: &[bool],
        max: bool,
        out: &[usize],
    ) -> Result<(Tensor, Tensor)> {
        super::reduce::extreme(t, mask, max, out)
    }

    fn var(
        &self,
        _op: &'static str,
        t: &Tensor,
        mask: &[bool],
        unbiased: bool,
        sqrt: bool,
        out: &[usize],
    ) -> Result<Tensor> {
        super::reduce::var(t, mask, unbiased, sqrt, out)
    }

    fn logsumexp(&self, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        super::reduce::logsumexp(t, mask, out)
    }

    fn cumulative(&self, t: &Tensor, ax: Axis, prod: bool) -> Result<Tensor> {
        super::scan::cumulative(t, ax, prod)
    }

    fn softmax(&self, t: &Tensor, ax: Axis, log: bool) -> Result<Tensor> {
        super::softmax::softmax(t, ax, log)
    }

    fn cross_entropy(
        &self,
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        o: &CrossEntropyOpts,
    ) -> Result<(Tensor, Tensor)> {
        super::cross_entropy::forward(x, target, weight, o)
    }

    fn cross_entropy_backward(
        &self,
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        stats: &Tensor,
        grad: &Tensor,
        o: &CrossEntropyOpts,
    ) -> Result<Tensor> {
        super::cross_entropy::backward(x, target, weight, stats, grad, o)
    }

    fn sort(&self, t: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
        if t.rank() == 0 {
            return Ok(on_scalar(t, |t| super::sort::sort(t, 0, descending)));
        }
        Ok(super::sort::sort(t, dim, descending))
    }

    fn topk(
        &self,
        op: &'static str,
        t: &Tensor,
        k: usize,
        dim: usize,
        largest: bool,
        sorted: bool,
    ) -> Result<(Tensor, Tensor)> {
        with_numeric!(op, t.dtype(), T, {
            if t.rank() == 0 {
                return Ok(on_scalar(t, |t| super::sort::topk::<T>(t, k, 0, largest, sorted)));
            }
            Ok(super::sort::topk::<T>(t, k, dim, largest, sorted))
        })
    }

    fn cat(&self, _op: &'static str, tensors: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
        Ok(super::join::cat(tensors, dim, shape))
    }

    fn index_select(&self, op: &'static str, t: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
        super::index::index_select(op, t, dim, index)
    }

    fn index_add(&self, op: &'static str, t: &Tensor, dim: usize, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        super::index::index_add(op, t, dim, index, source)
    }

    fn gather(&self, t: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
        super::index::gather(t, dim, index)
    }

    fn scatter(
        &self,
        op: &'static str,
        t: &Tensor,
        dim: usize,
        index: &Tensor,
        src: &Tensor,
        mode: ScatterMode,
    ) -> Result<Tensor> {
        super::index::scatter(op, t, dim, index, src, mode)
    }

    fn one_hot(&self, t: &Tensor, num_classes: i64) -> Result<Tensor> {
        super::index_misc::one_hot(t, num_classes)
    }

    fn masked_select(&self, t: &Tensor, mask: &Tensor, shape: &[usize]) -> Result<Tensor> {
        super::index_misc::masked_select(t, mask, shape)
    }

    fn flip(&self, t: &Tensor, flip: &[bool]) -> Result<Tensor> {
        Ok(super::index_misc::flip(t, flip))
    }

    fn repeat(&self, t: &Tensor, repeats: &[usize]) -> Result<Tensor> {
        Ok(super::index_misc::repeat(t, repeats))
    }

    fn matmul(
        &self,
        op: &'static str,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
    ) -> Result<Tensor> {
        super::product::matmul(op, a, b, batch, mkn)
    }

    fn linear(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        super::product::linear(x, weight, bias)
    }

    fn conv(&self, op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
        super::conv::forward(op, x, w, bias, g)
    }

    fn conv_backward_input(
        &self,
        op: &'static str,
        dy: &Tensor,
        w: &Tensor,
        init: Option<&Tensor>,
        g: &ConvGeom,
    ) -> Result<Tensor> {
        super::conv::backward_input(op, dy, w, init, g)
    }

    fn conv_backward_weight(
        &self,
        op: &'static str,
        dy: &Tensor,
        x: &Tensor,
        g: &ConvGeom,
        with_bias: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let dw = super::conv::backward_weight(op, dy, x, g)?;
        Ok((dw, with_bias.then(|| dy.try_sum_dims(&[0, 2, 3], false)).transpose()?))
    }

    fn max_pool(
        &self,
        op: &'static str,
        x: &Tensor,
        plan: &Pool2dPlan,
        indices: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        with_float!(op, x.dtype(), T, Ok(super::pool::max_pool2d::<T>(x, plan, indices)))
    }

    fn avg_pool(&self, op: &'static str, x: &Tensor, plan: &Pool2dPlan) -> Result<Tensor> {
        with_float!(op, x.dtype(), T, Ok(super::pool::avg_pool2d::<T>(x, plan)))
    }

    fn max_pool_backward(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        indices: &Tensor,
        input_shape: &[usize],
        _planes: usize,
        hw: usize,
    ) -> Result<Tensor> {
        with_float!(op, grad_out.dtype(), T, super::pool::max_pool2d_backward::<T>(grad_out, indices, input_shape, hw))
    }

    fn pool_backward(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        indices: Option<&Tensor>,
        plan: &Pool2dPlan,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        with_float!(
            op,
            grad_out.dtype(),
            T,
            Ok(match indices {
                Some(i) => super::pool::max_pool2d_backward_windows::<T>(grad_out, i, plan, input_shape),
                None => super::pool::avg_pool2d_backward::<T>(grad_out, plan, input_shape),
            })
        )
    }

    fn norm_rows(
        &self,
        x: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        cols: usize,
        eps: f64,
        center: bool,
    ) -> Result<Three> {
        super::norm::forward_tensors(x, weight, bias, cols, eps, center)
    }

    fn norm_rows_backward(
        &self,
        g: &Tensor,
        x: &Tensor,
        weight: Option<&Tensor>,
        mean: &Tensor,
        rstd: &Tensor,
        cols: usize,
        center: bool,
    ) -> Result<Three> {
        super::norm::backward_tensors(g, x, weight, mean, rstd, cols, center)
    }

    fn relu_backward(&self, grad: &Tensor, out: &Tensor) -> Result<Tensor> {
        Ok(crate::with_float!("relu_backward", grad.dtype(), T, {
            let v = super::elementwise::zip_map::<T, T, T>(grad, out, grad.shape(), |g, o| {
                if o <= T::ZERO {
                    T::ZERO
                } else {
                    g
                }
            })?;
            Tensor::from_vec_unchecked(v, grad.shape())
        }))
    }
}
