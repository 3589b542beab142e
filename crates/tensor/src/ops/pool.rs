//! Pooling over the last two dims of NCHW (or unbatched CHW) tensors: `max_pool2d` (with indices),
//! `avg_pool2d`, `adaptive_avg_pool2d`, the 1-d forms `max_pool1d avg_pool1d`, and the backward
//! kernels the autograd uses. F32 and F64, PyTorch's output sizes, windows and error checks.

use crate::cpu::alloc::{try_from_fn, try_room};
pub use crate::op_desc::{Pool2dPlan, PoolWindow};
use crate::shape::{checked_numel, Dims};
use crate::tensor::ok;
use crate::{DType, Error, Result, Tensor};

/// The plane count, height and width of a 3-d or 4-d pooling input; C, H and W must be nonzero,
/// the batch may be 0 (as PyTorch).
fn planes_hw(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    let ok = match shape.len() {
        4 => shape[1] > 0 && shape[2] > 0 && shape[3] > 0,
        3 => shape.iter().all(|&s| s > 0),
        _ => false,
    };
    if !ok {
        crate::bail!(
            op,
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got: {shape:?}"
        );
    }
    checked_numel(op, shape)?;
    let r = shape.len();
    Ok((shape[..r - 2].iter().product(), shape[r - 2], shape[r - 1]))
}

/// PyTorch's `pooling_output_shape`: floor (or ceil) of the window count; in ceil mode the last window
/// must start inside the input or the left padding.
fn out_size(input: usize, k: usize, pad: usize, stride: usize, dil: usize, ceil: bool) -> i64 {
    let (i, k, p, s, d) = (input as i64, k as i64, pad as i64, stride as i64, dil as i64);
    let num = i + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut o = num.div_euclid(s) + 1;
    if ceil && (o - 1) * s >= i + p {
        o -= 1;
    }
    o
}

/// Checks a fixed-window pool's arguments against `shape` and builds its plan. `avg` holds
/// `count_include_pad` for an average pool, `None` for a max pool.
#[allow(clippy::too_many_arguments)]
fn plan_fixed(
    op: &'static str,
    shape: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
    avg: Option<bool>,
) -> Result<Pool2dPlan> {
    let (planes, h, w) = planes_hw(op, shape)?;
    const LIMIT: usize = i32::MAX as usize;
    if [kernel, stride, padding, dilation].iter().flatten().any(|&v| v > LIMIT) {
        crate::bail!(
            op,
            "kernel {kernel:?}, stride {stride:?}, padding {padding:?} and dilation {dilation:?} must fit in 32 bits"
        );
    }
    let [kh, kw] = kernel;
    let [sh, sw] = stride;
    let [ph, pw] = padding;
    let [dh, dw] = dilation;
    if kh == 0 || kw == 0 {
        crate::bail!(op, "kernel size should be greater than zero, but got kH: {kh} kW: {kw}");
    }
    if sh == 0 || sw == 0 {
        crate::bail!(op, "stride should be greater than zero, but got dH: {sh} dW: {sw}");
    }
    if dh == 0 || dw == 0 {
        crate::bail!(op, "dilation should be greater than zero, but got dilationH: {dh} dilationW: {dw}");
    }
    for (p, k, d) in [(ph, kh, dh), (pw, kw, dw)] {
        // half the effective kernel ((k - 1) * d + 1), rounded down
        if p > ((k - 1) * d).div_ceil(2) {
            crate::bail!(
                op,
                "pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation={d}"
            );
        }
    }
    if ph > kh / 2 || pw > kw / 2 {
        crate::bail!(
            op,
            "pad should be smaller than or equal to half of kernel size, but got padW = {pw}, padH = {ph}, kW = {kw}, kH = {kh}"
        );
    }
    let oh = out_size(h, kh, ph, sh, dh, ceil_mode);
    let ow = out_size(w, kw, pw, sw, dw, ceil_mode);
    if oh < 1 || ow < 1 {
        let c = shape[shape.len() - 3];
        crate::bail!(
            op,
            "Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{oh}x{ow}). Output size is too small"
        );
    }
    let (oh, ow) = (oh as usize, ow as usize);
    let windows = |n: usize, input: usize, k: usize, s: usize, p: usize, d: usize| -> Result<Vec<PoolWindow>> {
        try_from_fn(op, n, |o| {
            let (i, k, s, p, d) = (input as i64, k as i64, s as i64, p as i64, d as i64);
            let s0 = o as i64 * s - p;
            match avg {
                None => {
                    let end = (s0 + (k - 1) * d + 1).min(i).max(0);
                    // skip the taps in the left padding, as PyTorch's `while (ih0 < 0) ih0 += dilation`
                    let start = if s0 < 0 { s0 + (-s0 + d - 1) / d * d } else { s0 };
                    PoolWindow { start: start as usize, end: end as usize, divisor: 1 }
                }
                Some(include_pad) => {
                    let e0 = (s0 + k).min(i + p);
                    let (start, end) = (s0.max(0), e0.min(i).max(0));
                    let divisor = if include_pad { e0 - s0 } else { (end - start).max(0) };
                    PoolWindow { start: start as usize, end: end as usize, divisor: divisor as usize }
                }
            }
        })
    };
    let mut out_shape: Dims = shape[..shape.len() - 2].into();
    out_shape.extend_from_slice(&[oh, ow]);
    Ok(Pool2dPlan {
        planes,
        in_h: h,
        in_w: w,
        rows: windows(oh, h, kh, sh, ph, dh)?,
        cols: windows(ow, w, kw, sw, pw, dw)?,
        step: if avg.is_some() { [1, 1] } else { dilation },
        fast_2x2: kernel == [2, 2]
            && stride == [2, 2]
            && padding == [0, 0]
            && dilation == [1, 1]
            && 2 * oh <= h
            && 2 * ow <= w,
        out_shape,
    })
}

/// The plan of an adaptive average pool of `shape` to `out`: PyTorch's windows
/// `floor(i * in / out) .. ceil((i + 1) * in / out)`.
fn plan_adaptive(op: &'static str, shape: &[usize], out: [usize; 2]) -> Result<Pool2dPlan> {
    let r = shape.len();
    if r != 3 && r != 4 {
        crate::bail!(op, "Expected 3D or 4D tensor, but got: {shape:?}");
    }
    for d in [r - 2, r - 1] {
        if shape[d] == 0 {
            crate::bail!(
                op,
                "Expected input to have non-zero size for non-batch dimensions, but input has sizes {shape:?} with dimension {d} being empty"
            );
        }
    }
    let (h, w) = (shape[r - 2], shape[r - 1]);
    let mut out_shape: Dims = shape[..r - 2].into();
    out_shape.extend_from_slice(&out);
    // sizes from the user (the output size; a backward's input shape): checked before anything
    // is sized by them
    checked_numel(op, shape)?;
    checked_numel(op, &out_shape)?;
    // in 128 bits: `(o + 1) * input` cannot wrap
    let windows = |n: usize, input: usize| -> Result<Vec<PoolWindow>> {
        let (n128, i128_) = (n as u128, input as u128);
        try_from_fn(op, n, |o| {
            let start = (o as u128 * i128_ / n128) as usize;
            let end = ((o as u128 + 1) * i128_).div_ceil(n128) as usize;
            PoolWindow { start, end, divisor: end - start }
        })
    };
    Ok(Pool2dPlan {
        planes: shape[..r - 2].iter().product(),
        in_h: h,
        in_w: w,
        rows: windows(out[0], h)?,
        cols: windows(out[1], w)?,
        step: [1, 1],
        fast_2x2: false,
        out_shape,
    })
}

/// Runs a max pool on the backend.
fn run_max(x: &Tensor, op: &'static str, plan: &Pool2dPlan, indices: bool) -> Result<(Tensor, Option<Tensor>)> {
    x.backend().max_pool(op, x, plan, indices)
}

/// Runs an average (fixed or adaptive) pool on the backend.
fn run_avg(x: &Tensor, op: &'static str, plan: &Pool2dPlan) -> Result<Tensor> {
    x.backend().avg_pool(op, x, plan)
}

/// Checks that `t` is F32 or F64, naming `op`.
fn float_only(op: &'static str, t: &Tensor) -> Result<()> {
    if t.dtype.is_float() {
        Ok(())
    } else {
        Err(Error::UnsupportedDType { op, dtype: t.dtype })
    }
}

/// # Pooling
impl Tensor {
    /// 2-d max pooling over the last two dims of an `(N, C, H, W)` or `(C, H, W)` tensor, as
    /// `torch.nn.functional.max_pool2d`. `padding` pads with -inf and is at most half the effective
    /// kernel `(k - 1) * dilation + 1`; `ceil_mode` rounds the output size up, keeping only windows
    /// that start inside the input or the left padding. A NaN in a window makes its output NaN.
    ///
    /// **Panics** on a bad rank, zero kernel/stride/dilation, too much padding, an empty output or a
    /// non-float dtype; see [`Tensor::try_max_pool2d`].
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let x = Tensor::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
    /// let y = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(y.to_vec::<f32>(), vec![5.0, 7.0, 13.0, 15.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Tensor {
        ok(self.try_max_pool2d(kernel, stride, padding, dilation, ceil_mode))
    }

    /// Checked form of [`Tensor::max_pool2d`].
    pub fn try_max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<Tensor> {
        let op = "max_pool2d";
        float_only(op, self)?;
        let plan = plan_fixed(op, self.shape(), kernel, stride, padding, dilation, ceil_mode, None)?;
        try_room(op, self, &plan.out_shape, self.dtype)?;
        Ok(run_max(self, op, &plan, false)?.0)
    }

    /// [`Tensor::max_pool2d`] that also returns, per output, the I64 index of the chosen element in
    /// the flattened `H * W` plane of its `(n, c)`, exactly as PyTorch's `return_indices=True`.
    ///
    /// Ties go to the first maximum in window (row-major) order; a NaN always wins, the last NaN of
    /// the window giving the index (PyTorch's CPU rule `val > max || isnan(val)`). A window lying
    /// wholly in the padding (possible only with dilation) gives -inf and the index of its first
    /// (out-of-plane) tap, as PyTorch.
    #[must_use]
    #[track_caller]
    pub fn max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> (Tensor, Tensor) {
        ok(self.try_max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode))
    }

    /// Checked form of [`Tensor::max_pool2d_with_indices`].
    pub fn try_max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<(Tensor, Tensor)> {
        let op = "max_pool2d_with_indices";
        float_only(op, self)?;
        let plan = plan_fixed(op, self.shape(), kernel, stride, padding, dilation, ceil_mode, None)?;
        try_room(op, self, &plan.out_shape, self.dtype)?;
        try_room(op, self, &plan.out_shape, DType::I64)?;
        let (v, i) = run_max(self, op, &plan, true)?;
        Ok((v, i.expect("indices requested")))
    }

    /// The gradient of a max pool's input: `grad_out` scatter-added into zeros of `input_shape` at
    /// `indices` (from [`Tensor::max_pool2d_with_indices`]), plane by plane.
    ///
    /// **Panics** on mismatched shapes, a non-I64 `indices`, or an index outside the `H * W` plane;
    /// see [`Tensor::try_max_pool2d_backward`].
    #[must_use]
    #[track_caller]
    pub fn max_pool2d_backward(grad_out: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor {
        ok(Tensor::try_max_pool2d_backward(grad_out, indices, input_shape))
    }

    /// Checked form of [`Tensor::max_pool2d_backward`].
    pub fn try_max_pool2d_backward(grad_out: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Result<Tensor> {
        let op = "max_pool2d_backward";
        check_grad_indices(op, grad_out, indices)?;
        if grad_out.shape() != indices.shape() {
            return Err(Error::ShapeMismatch { op, lhs: grad_out.shape().to_vec(), rhs: indices.shape().to_vec() });
        }
        let (planes, h, w) = planes_hw(op, input_shape)?;
        same_batch(op, grad_out.shape(), input_shape)?;
        try_room(op, grad_out, input_shape, grad_out.dtype)?;
        grad_out.backend().max_pool_backward(op, grad_out, indices, input_shape, planes, h * w)
    }

    /// The gradient of [`Tensor::max_pool2d_with_indices`]'s input of `input_shape`, given that
    /// pool's arguments and its `indices`: each input element sums, in output order, the
    /// `grad_out` of the windows whose maximum it is (PyTorch's
    /// `max_pool2d_with_indices_backward`). Knowing the windows, the GPU gathers in one kernel
    /// (no zero fill, no scatter). An index that is not a tap of its own window contributes
    /// nothing (windows lying wholly in the padding, possible with dilation, give such indices).
    ///
    /// **Panics** on the errors of [`Tensor::max_pool2d`] for `input_shape`, a `grad_out` or
    /// `indices` not of the pool's output shape, or a non-I64 `indices`; see
    /// [`Tensor::try_max_pool2d_with_indices_backward`].
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 2.0, 3.0, 0.0, 4.0], &[1, 1, 2, 3]);
    /// let (y, i) = x.max_pool2d_with_indices([2, 2], [1, 1], [0, 0], [1, 1], false);
    /// let (k, s, p, d) = ([2, 2], [1, 1], [0, 0], [1, 1]);
    /// let g = Tensor::max_pool2d_with_indices_backward(&y.ones_like(), &i, x.shape(), k, s, p, d, false);
    /// assert_eq!(g.to_vec::<f32>(), vec![0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    /// ```
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn max_pool2d_with_indices_backward(
        grad_out: &Tensor,
        indices: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Tensor {
        ok(Tensor::try_max_pool2d_with_indices_backward(
            grad_out,
            indices,
            input_shape,
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode,
        ))
    }

    /// Checked form of [`Tensor::max_pool2d_with_indices_backward`].
    #[allow(clippy::too_many_arguments)]
    pub fn try_max_pool2d_with_indices_backward(
        grad_out: &Tensor,
        indices: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<Tensor> {
        let op = "max_pool2d_with_indices_backward";
        check_grad_indices(op, grad_out, indices)?;
        let plan = plan_fixed(op, input_shape, kernel, stride, padding, dilation, ceil_mode, None)?;
        for t in [grad_out, indices] {
            if t.shape() != plan.out_shape.as_slice() {
                return Err(Error::ShapeMismatch { op, lhs: t.shape().to_vec(), rhs: plan.out_shape.to_vec() });
            }
        }
        try_room(op, grad_out, input_shape, grad_out.dtype)?;
        grad_out.backend().pool_backward(op, grad_out, Some(indices), &plan, input_shape)
    }

    /// 2-d average pooling over the last two dims of an `(N, C, H, W)` or `(C, H, W)` tensor, as
    /// `torch.nn.functional.avg_pool2d` (no divisor override). Padding counts as zeros; with
    /// `count_include_pad` the divisor is the window size clipped to the padded input, else the number
    /// of input elements in the window.
    ///
    /// **Panics** on the errors of [`Tensor::max_pool2d`]; see [`Tensor::try_avg_pool2d`].
    #[must_use]
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Tensor {
        ok(self.try_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad))
    }

    /// Checked form of [`Tensor::avg_pool2d`].
    pub fn try_avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let op = "avg_pool2d";
        float_only(op, self)?;
        let plan = plan_fixed(op, self.shape(), kernel, stride, padding, [1, 1], ceil_mode, Some(count_include_pad))?;
        try_room(op, self, &plan.out_shape, self.dtype)?;
        run_avg(self, op, &plan)
    }

    /// The gradient of [`Tensor::avg_pool2d`]'s input of `input_shape`: each `grad_out` element
    /// divided by its window's divisor and added to every input of the window.
    ///
    /// **Panics** when `grad_out` is not the shape the forward pool gives; see
    /// [`Tensor::try_avg_pool2d_backward`].
    #[must_use]
    #[track_caller]
    pub fn avg_pool2d_backward(
        grad_out: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Tensor {
        ok(Tensor::try_avg_pool2d_backward(
            grad_out,
            input_shape,
            kernel,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
        ))
    }

    /// Checked form of [`Tensor::avg_pool2d_backward`].
    pub fn try_avg_pool2d_backward(
        grad_out: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let op = "avg_pool2d_backward";
        float_only(op, grad_out)?;
        let plan = plan_fixed(op, input_shape, kernel, stride, padding, [1, 1], ceil_mode, Some(count_include_pad))?;
        avg_backward(op, grad_out, &plan, input_shape)
    }

    /// Adaptive average pooling to `output_size` over the last two dims of an `(N, C, H, W)` or
    /// `(C, H, W)` tensor, as `torch.nn.functional.adaptive_avg_pool2d`: output `i` averages inputs
    /// `floor(i * in / out) .. ceil((i + 1) * in / out)`, so windows may overlap when sizes do not
    /// divide. A zero output size gives an empty tensor (as PyTorch).
    ///
    /// **Panics** on a bad rank, an empty H or W, or a non-float dtype; see
    /// [`Tensor::try_adaptive_avg_pool2d`].
    #[must_use]
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Tensor {
        ok(self.try_adaptive_avg_pool2d(output_size))
    }

    /// Checked form of [`Tensor::adaptive_avg_pool2d`].
    pub fn try_adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Tensor> {
        let op = "adaptive_avg_pool2d";
        float_only(op, self)?;
        let mut out_shape: Dims = self.shape()[..self.rank().saturating_sub(2)].into();
        out_shape.extend_from_slice(&output_size);
        try_room(op, self, &out_shape, self.dtype)?;
        let plan = plan_adaptive(op, self.shape(), output_size)?;
        run_avg(self, op, &plan)
    }

    /// The gradient of [`Tensor::adaptive_avg_pool2d`]'s input of `input_shape` (the output size is
    /// `grad_out`'s last two dims).
    ///
    /// **Panics** on mismatched shapes; see [`Tensor::try_adaptive_avg_pool2d_backward`].
    #[must_use]
    #[track_caller]
    pub fn adaptive_avg_pool2d_backward(grad_out: &Tensor, input_shape: &[usize]) -> Tensor {
        ok(Tensor::try_adaptive_avg_pool2d_backward(grad_out, input_shape))
    }

    /// Checked form of [`Tensor::adaptive_avg_pool2d_backward`].
    pub fn try_adaptive_avg_pool2d_backward(grad_out: &Tensor, input_shape: &[usize]) -> Result<Tensor> {
        let op = "adaptive_avg_pool2d_backward";
        float_only(op, grad_out)?;
        same_batch(op, grad_out.shape(), input_shape)?;
        let r = grad_out.rank();
        let plan = plan_adaptive(op, input_shape, [grad_out.shape()[r - 2], grad_out.shape()[r - 1]])?;
        avg_backward(op, grad_out, &plan, input_shape)
    }

    /// 1-d max pooling over the last dim of an `(N, C, L)` or `(C, L)` tensor, as
    /// `torch.nn.functional.max_pool1d` (dilation 1, floor mode); runs the 2-d kernel with H = 1.
    ///
    /// **Panics** on the errors of [`Tensor::max_pool2d`]; see [`Tensor::try_max_pool1d`].
    #[must_use]
    #[track_caller]
    pub fn max_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Tensor {
        ok(self.try_max_pool1d(kernel, stride, padding))
    }

    /// Checked form of [`Tensor::max_pool1d`].
    pub fn try_max_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
        let op = "max_pool1d";
        let x = as_2d(op, self)?;
        let plan = plan_fixed(op, x.shape(), [1, kernel], [1, stride], [0, padding], [1, 1], false, None)?;
        Ok(run_max(&x, op, &plan, false)?.0.squeeze(-2))
    }

    /// 1-d average pooling over the last dim of an `(N, C, L)` or `(C, L)` tensor, as
    /// `torch.nn.functional.avg_pool1d` (floor mode, padding counted in the divisor); runs the 2-d
    /// kernel with H = 1.
    ///
    /// **Panics** on the errors of [`Tensor::avg_pool2d`]; see [`Tensor::try_avg_pool1d`].
    #[must_use]
    #[track_caller]
    pub fn avg_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Tensor {
        ok(self.try_avg_pool1d(kernel, stride, padding))
    }

    /// Checked form of [`Tensor::avg_pool1d`].
    pub fn try_avg_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
        let op = "avg_pool1d";
        let x = as_2d(op, self)?;
        let plan = plan_fixed(op, x.shape(), [1, kernel], [1, stride], [0, padding], [1, 1], false, Some(true))?;
        Ok(run_avg(&x, op, &plan)?.squeeze(-2))
    }
}

/// A 2-d or 3-d float tensor seen with an H = 1 dim before its last (a view), for the 1-d pools.
fn as_2d(op: &'static str, x: &Tensor) -> Result<Tensor> {
    float_only(op, x)?;
    if x.rank() != 2 && x.rank() != 3 {
        crate::bail!(
            op,
            "Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got: {:?}",
            x.shape()
        );
    }
    x.try_unsqueeze(-2)
}

/// Checks that `grad_out` has the rank and leading (N, C) sizes of `input_shape`.
fn same_batch(op: &'static str, grad_out: &[usize], input_shape: &[usize]) -> Result<()> {
    let r = input_shape.len();
    if grad_out.len() != r || r < 2 || grad_out[..r - 2] != input_shape[..r - 2] {
        return Err(Error::ShapeMismatch { op, lhs: grad_out.to_vec(), rhs: input_shape.to_vec() });
    }
    Ok(())
}

/// Checks a max pool backward's operands: `grad_out` a float tensor on `indices`' device and
/// `indices` of dtype I64.
fn check_grad_indices(op: &'static str, grad_out: &Tensor, indices: &Tensor) -> Result<()> {
    grad_out.same_device(op, indices)?;
    float_only(op, grad_out)?;
    if indices.dtype != DType::I64 {
        return Err(Error::DTypeMismatch { op, expected: DType::I64, got: indices.dtype });
    }
    Ok(())
}

/// Runs an average pool's backward after checking `grad_out` against the plan's output shape.
fn avg_backward(op: &'static str, grad_out: &Tensor, plan: &Pool2dPlan, input_shape: &[usize]) -> Result<Tensor> {
    if grad_out.shape() != plan.out_shape.as_slice() {
        return Err(Error::ShapeMismatch { op, lhs: grad_out.shape().to_vec(), rhs: plan.out_shape.to_vec() });
    }
    try_room(op, grad_out, input_shape, grad_out.dtype)?;
    grad_out.backend().pool_backward(op, grad_out, None, plan, input_shape)
}
