//! Pooling on Variables. The gradients run the tensor crate's dedicated backward kernels (gathers
//! knowing the windows), recorded as ops whose own rules are their adjoints (a gather at the argmax
//! positions for max pooling, the forward pool for the average pools), so pools differentiate any
//! number of times.

use ember_tensor::{Result, Tensor};

use super::elementwise::ok;
use crate::Variable;

/// The flat `H * W` argmax indices of a max pool, ready for a gather: out-of-plane indices (windows
/// lying wholly in the padding) are replaced by 0 and listed in `outside`.
struct Argmax {
    idx: Tensor,
    outside: Option<Tensor>,
}

impl Argmax {
    /// Without dilation every window holds an input element, so no index can be out of the plane.
    fn new(idx: &Tensor, plane: usize, dilated: bool) -> Argmax {
        if !dilated {
            return Argmax { idx: idx.clone(), outside: None };
        }
        let outside = idx.lt_scalar(0.0).logical_or(&idx.ge_scalar(plane as f64));
        if outside.any().item::<bool>() {
            Argmax { idx: idx.masked_fill(&outside, 0.0), outside: Some(outside) }
        } else {
            Argmax { idx: idx.clone(), outside: None }
        }
    }

    /// `gg` (input-shaped) read at the argmax of each window: the adjoint of the max-pool backward.
    #[track_caller]
    fn take(&self, gg: &Variable) -> Variable {
        let (gs, is) = (gg.shape(), self.idx.shape().to_vec());
        let r = gs.len();
        let planes = gg.reshape(&[gs[..r - 2].to_vec(), vec![gs[r - 2] * gs[r - 1]]].concat());
        let idx = self.idx.reshape(&[is[..r - 2].to_vec(), vec![is[r - 2] * is[r - 1]]].concat());
        let v = planes.gather(-1, &idx).reshape(&is);
        match &self.outside {
            Some(m) => v.masked_fill(m, 0.0),
            None => v,
        }
    }
}

/// The arguments of a max pool.
#[derive(Clone, Copy)]
struct MaxOpts {
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
}

/// The input gradient of a max pool: `g` gathered by each input element from the windows whose
/// maximum it is (one kernel knowing the windows), recorded (its own rule, needed only for second
/// derivatives, reads the upstream gradient at the argmax positions). Windows lying wholly in the
/// padding (possible only with dilation) give -inf whatever the input, and an index outside the
/// plane: the kernel drops their gradient.
fn max_pool_grad(g: &Variable, idx: &Tensor, x_shape: Vec<usize>, o: MaxOpts) -> Variable {
    let t = Tensor::max_pool2d_with_indices_backward(
        &g.data(),
        idx,
        &x_shape,
        o.kernel,
        o.stride,
        o.padding,
        o.dilation,
        o.ceil_mode,
    );
    let plane = x_shape[x_shape.len() - 2] * x_shape[x_shape.len() - 1];
    let (idx, dilated) = (idx.clone(), o.dilation != [1, 1]);
    Variable::record("max_pool2d_backward", &[g], t, move |ctx| {
        vec![Some(Argmax::new(&idx, plane, dilated).take(ctx.grad))]
    })
}

/// The arguments of an average pool.
#[derive(Clone, Copy)]
struct AvgOpts {
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    ceil_mode: bool,
    count_include_pad: bool,
}

/// The input gradient of an average pool, recorded; its adjoint is the pool itself.
fn avg_pool_grad(g: &Variable, x_shape: Vec<usize>, o: AvgOpts) -> Variable {
    let t = Tensor::avg_pool2d_backward(
        &g.data(),
        &x_shape,
        o.kernel,
        o.stride,
        o.padding,
        o.ceil_mode,
        o.count_include_pad,
    );
    Variable::record("avg_pool2d_backward", &[g], t, move |ctx| {
        vec![Some(ctx.grad.avg_pool2d(o.kernel, o.stride, o.padding, o.ceil_mode, o.count_include_pad))]
    })
}

/// The input gradient of an adaptive average pool, recorded; its adjoint is the pool itself.
fn adaptive_grad(g: &Variable, x_shape: Vec<usize>) -> Variable {
    let gs = g.shape();
    let out = [gs[gs.len() - 2], gs[gs.len() - 1]];
    let t = Tensor::adaptive_avg_pool2d_backward(&g.data(), &x_shape);
    Variable::record("adaptive_avg_pool2d_backward", &[g], t, move |ctx| vec![Some(ctx.grad.adaptive_avg_pool2d(out))])
}

/// # Pooling (differentiable any number of times)
impl Variable {
    /// 2-d max pooling (NCHW or CHW); the gradient goes to the position of each window's maximum
    /// (the first one on ties, as PyTorch).
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let x = Variable::new(Tensor::from_vec(vec![1.0f32, 5.0, 2.0, 3.0], &[1, 1, 2, 2]), true);
    /// let y = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
    /// assert_eq!(y.to_vec::<f32>(), vec![5.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0, 1.0, 0.0, 0.0]);
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
    ) -> Variable {
        ok(self.try_max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode)).0
    }

    /// Checked form of [`Variable::max_pool2d`].
    #[track_caller]
    pub fn try_max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<Variable> {
        Ok(self.try_max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode)?.0)
    }

    /// [`Variable::max_pool2d`] with the I64 index of each maximum in its flattened `H * W` plane.
    #[must_use]
    #[track_caller]
    pub fn max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> (Variable, Tensor) {
        ok(self.try_max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode))
    }

    /// Checked form of [`Variable::max_pool2d_with_indices`].
    #[track_caller]
    pub fn try_max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<(Variable, Tensor)> {
        let (out, idx) = self.data().try_max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode)?;
        let ret = idx.clone();
        let o = MaxOpts { kernel, stride, padding, dilation, ceil_mode };
        let v = Variable::record("max_pool2d", &[self], out, move |ctx| {
            vec![Some(max_pool_grad(ctx.grad, &idx, ctx.inputs[0].shape(), o))]
        });
        Ok((v, ret))
    }

    /// 2-d average pooling (NCHW or CHW), as `F.avg_pool2d` (no divisor override).
    #[must_use]
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Variable {
        ok(self.try_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad))
    }

    /// Checked form of [`Variable::avg_pool2d`].
    #[track_caller]
    pub fn try_avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Result<Variable> {
        let out = self.data().try_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad)?;
        let o = AvgOpts { kernel, stride, padding, ceil_mode, count_include_pad };
        Ok(Variable::record("avg_pool2d", &[self], out, move |ctx| {
            vec![Some(avg_pool_grad(ctx.grad, ctx.inputs[0].shape(), o))]
        }))
    }

    /// Adaptive average pooling to `output_size` (NCHW or CHW).
    #[must_use]
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Variable {
        ok(self.try_adaptive_avg_pool2d(output_size))
    }

    /// Checked form of [`Variable::adaptive_avg_pool2d`].
    #[track_caller]
    pub fn try_adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Variable> {
        let out = self.data().try_adaptive_avg_pool2d(output_size)?;
        Ok(Variable::record("adaptive_avg_pool2d", &[self], out, move |ctx| {
            vec![Some(adaptive_grad(ctx.grad, ctx.inputs[0].shape()))]
        }))
    }

    /// 1-d max pooling over the last dim of an NCL (or CL) input, as `F.max_pool1d` (dilation 1,
    /// floor mode): a 2-d pool over a height of 1.
    #[must_use]
    #[track_caller]
    pub fn max_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Variable {
        ok(self.try_max_pool1d(kernel, stride, padding))
    }

    /// Checked form of [`Variable::max_pool1d`] (errors speak in 1-d terms).
    #[track_caller]
    pub fn try_max_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Result<Variable> {
        self.data().try_max_pool1d(kernel, stride, padding)?;
        let y = self.unsqueeze(-2).try_max_pool2d([1, kernel], [1, stride], [0, padding], [1, 1], false)?;
        Ok(y.squeeze(-2))
    }

    /// 1-d average pooling over the last dim of an NCL (or CL) input, as `F.avg_pool1d` (floor
    /// mode, padding counted in the divisor).
    #[must_use]
    #[track_caller]
    pub fn avg_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Variable {
        ok(self.try_avg_pool1d(kernel, stride, padding))
    }

    /// Checked form of [`Variable::avg_pool1d`].
    #[track_caller]
    pub fn try_avg_pool1d(&self, kernel: usize, stride: usize, padding: usize) -> Result<Variable> {
        self.data().try_avg_pool1d(kernel, stride, padding)?;
        let y = self.unsqueeze(-2).try_avg_pool2d([1, kernel], [1, stride], [0, padding], false, true)?;
        Ok(y.squeeze(-2))
    }
}
