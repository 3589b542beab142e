//! Pooling on Variables (differentiable once: their gradients are computed by dedicated kernels).

use ember_tensor::Tensor;

use super::elementwise::ok;
use crate::Variable;

/// # Pooling
impl Variable {
    /// 2-d max pooling (NCHW or CHW); the gradient goes to the position of each window's maximum.
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
        let (out, idx) = ok(self.data().try_max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode));
        Variable::record("max_pool2d", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let t = Tensor::max_pool2d_backward(&ctx.grad.data(), &idx, &x.shape());
            vec![Some(Variable::record_nondifferentiable("max_pool2d_backward", &[ctx.grad], t))]
        })
    }

    /// 2-d average pooling.
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
        let out = ok(self.data().try_avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad));
        Variable::record("avg_pool2d", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let t = Tensor::avg_pool2d_backward(
                &ctx.grad.data(),
                &x.shape(),
                kernel,
                stride,
                padding,
                ceil_mode,
                count_include_pad,
            );
            vec![Some(Variable::record_nondifferentiable("avg_pool2d_backward", &[ctx.grad], t))]
        })
    }

    /// Adaptive average pooling to `output_size`.
    #[must_use]
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Variable {
        let out = ok(self.data().try_adaptive_avg_pool2d(output_size));
        Variable::record("adaptive_avg_pool2d", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let t = Tensor::adaptive_avg_pool2d_backward(&ctx.grad.data(), &x.shape());
            vec![Some(Variable::record_nondifferentiable("adaptive_avg_pool2d_backward", &[ctx.grad], t))]
        })
    }
}
