//! Convolutions on Variables: `conv1d`, `conv2d`, `conv_transpose2d`.
//!
//! The forward and the two backward kernels of each convolution are the tensor crate's. The backward
//! kernels are recorded as ops too, with rules written with the convolutions themselves, so
//! convolutions differentiate any number of times (gradient penalties through a CNN): the input
//! gradient `BI(g, w)` and weight gradient `BW(g, x)` of `y = C(x, w)` are bilinear, with
//! `<gg, BI(g, w)> = <C(gg, w), g>` and `<gg, BW(g, x)> = <C(x, gg), g>`.

use ember_tensor::{Result, Tensor};

use super::elementwise::ok;
use crate::Variable;

/// Options of a 2-d convolution, as PyTorch's `F.conv2d` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOpts {
    /// Stride per spatial dim.
    pub stride: [usize; 2],
    /// Zero padding per spatial dim.
    pub padding: [usize; 2],
    /// Dilation per spatial dim.
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
}

impl Default for Conv2dOpts {
    fn default() -> Self {
        Conv2dOpts { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

/// The arguments of a transposed convolution.
#[derive(Clone, Copy, Debug)]
struct TransposeOpts {
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    groups: usize,
    dilation: [usize; 2],
}

/// The bias gradient of a convolution: `g` summed over every dim but the channels.
fn bias_grad(g: &Variable) -> Variable {
    if g.rank() == 4 {
        g.sum_dims(&[0, 2, 3], false)
    } else {
        g.sum_dims(&[1, 2], false)
    }
}

/// The input gradient of `conv2d`, recorded (differentiable in `g` and `w`).
fn conv2d_input_grad(g: &Variable, w: &Variable, x_shape: &[usize], o: Conv2dOpts) -> Variable {
    let t = Tensor::conv2d_backward_input(&g.data(), &w.data(), x_shape, o.stride, o.padding, o.dilation, o.groups);
    Variable::record("conv2d_backward_input", &[g, w], t, move |ctx| {
        let (g, w, gg) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
        vec![
            ctx.needs(0).then(|| gg.conv2d(w, None, o)),
            ctx.needs(1).then(|| conv2d_weight_grad(g, gg, &w.shape(), o)),
        ]
    })
}

/// The weight gradient of `conv2d`, recorded (differentiable in `g` and `x`).
fn conv2d_weight_grad(g: &Variable, x: &Variable, w_shape: &[usize], o: Conv2dOpts) -> Variable {
    let t = Tensor::conv2d_backward_weight(&g.data(), &x.data(), w_shape, o.stride, o.padding, o.dilation, o.groups);
    record_weight_grad(g, x, t, o)
}

/// The weight and bias gradients of `conv2d` from one kernel (on the GPU one product gives
/// both), each recorded: the bias gradient is `g` summed over every dim but the channels, so its
/// adjoint broadcasts back over `g`.
fn conv2d_weight_bias_grad(g: &Variable, x: &Variable, w_shape: &[usize], o: Conv2dOpts) -> (Variable, Variable) {
    let (tw, tb) =
        Tensor::conv2d_backward_weight_bias(&g.data(), &x.data(), w_shape, o.stride, o.padding, o.dilation, o.groups);
    let gs = g.shape();
    let db = Variable::record("conv2d_backward_bias", &[g], tb, move |ctx| {
        let mut s = vec![1; gs.len()];
        s[gs.len() - 3] = gs[gs.len() - 3];
        vec![Some(ctx.grad.reshape(&s).expand(&gs))]
    });
    (record_weight_grad(g, x, tw, o), db)
}

/// Records `t`, the weight gradient of `conv2d` for `g` and `x`.
fn record_weight_grad(g: &Variable, x: &Variable, t: Tensor, o: Conv2dOpts) -> Variable {
    Variable::record("conv2d_backward_weight", &[g, x], t, move |ctx| {
        let (g, x, gg) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
        vec![ctx.needs(0).then(|| x.conv2d(gg, None, o)), ctx.needs(1).then(|| conv2d_input_grad(g, gg, &x.shape(), o))]
    })
}

/// The input gradient of `conv_transpose2d`, recorded.
fn convt_input_grad(g: &Variable, w: &Variable, x_shape: &[usize], o: TransposeOpts) -> Variable {
    let t = Tensor::conv_transpose2d_backward_input(
        &g.data(),
        &w.data(),
        x_shape,
        o.stride,
        o.padding,
        o.output_padding,
        o.groups,
        o.dilation,
    );
    Variable::record("conv_transpose2d_backward_input", &[g, w], t, move |ctx| {
        let (g, w, gg) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
        vec![ctx.needs(0).then(|| gg.convt(w, None, o)), ctx.needs(1).then(|| convt_weight_grad(g, gg, &w.shape(), o))]
    })
}

/// The weight gradient of `conv_transpose2d`, recorded.
fn convt_weight_grad(g: &Variable, x: &Variable, w_shape: &[usize], o: TransposeOpts) -> Variable {
    let t = Tensor::conv_transpose2d_backward_weight(
        &g.data(),
        &x.data(),
        w_shape,
        o.stride,
        o.padding,
        o.output_padding,
        o.groups,
        o.dilation,
    );
    Variable::record("conv_transpose2d_backward_weight", &[g, x], t, move |ctx| {
        let (g, x, gg) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
        vec![ctx.needs(0).then(|| x.convt(gg, None, o)), ctx.needs(1).then(|| convt_input_grad(g, gg, &x.shape(), o))]
    })
}

/// # Convolutions (differentiable any number of times)
impl Variable {
    /// 2-d convolution of an NCHW (or CHW) input with `weight` [out, in/groups, kh, kw] and an
    /// optional `bias` [out].
    ///
    /// ```
    /// use ember_autograd::{grad, Conv2dOpts, Variable};
    /// use ember_tensor::Tensor;
    /// let x = Variable::new(Tensor::ones(&[1, 1, 3, 3]), true);
    /// let w = Variable::new(Tensor::full(&[1, 1, 2, 2], 0.5), true);
    /// let y = x.conv2d(&w, None, Conv2dOpts::default());
    /// assert_eq!(y.to_vec::<f32>(), vec![2.0; 4]);
    /// // each weight tap sees 4 input ones; the corner input is seen by one tap, the centre by 4
    /// let gs = grad(&y.sum(), &[&x, &w], true);
    /// assert_eq!(gs[1].to_vec::<f32>(), vec![4.0; 4]);
    /// assert_eq!(gs[0].to_vec::<f32>()[..5], [0.5, 1.0, 0.5, 1.0, 2.0]);
    /// // and the gradient is differentiable again: d/dw sum(dy/dx) = 4 per tap
    /// let h = grad(&gs[0].sum(), &[&w], false).remove(0);
    /// assert_eq!(h.to_vec::<f32>(), vec![4.0; 4]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn conv2d(&self, weight: &Variable, bias: Option<&Variable>, o: Conv2dOpts) -> Variable {
        ok(self.try_conv2d(weight, bias, o))
    }

    /// Checked form of [`Variable::conv2d`].
    #[track_caller]
    pub fn try_conv2d(&self, weight: &Variable, bias: Option<&Variable>, o: Conv2dOpts) -> Result<Variable> {
        if let Some(a) = crate::autocast::autocast_inputs("conv2d", &[Some(self), Some(weight), bias]) {
            return a.var(0).try_conv2d(a.var(1), a.opt(2), o);
        }
        let bd = bias.map(|b| b.data());
        let out = self.data().try_conv2d(&weight.data(), bd.as_ref(), o.stride, o.padding, o.dilation, o.groups)?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Variable::record("conv2d", &inputs, out, move |ctx| {
            let (x, w, g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
            let dx = ctx.needs(0).then(|| conv2d_input_grad(g, w, &x.shape(), o));
            if ctx.inputs.len() == 3 && ctx.needs(1) && ctx.needs(2) {
                let (dw, db) = conv2d_weight_bias_grad(g, x, &w.shape(), o);
                return vec![dx, Some(dw), Some(db)];
            }
            let mut grads = vec![dx, ctx.needs(1).then(|| conv2d_weight_grad(g, x, &w.shape(), o))];
            if ctx.inputs.len() == 3 {
                grads.push(ctx.needs(2).then(|| bias_grad(g)));
            }
            grads
        }))
    }

    /// 1-d convolution of an NCL (or CL) input with `weight` [out, in/groups, k]: a 2-d convolution
    /// over a height of 1 (the views carry the gradients).
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn conv1d(
        &self,
        weight: &Variable,
        bias: Option<&Variable>,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Variable {
        ok(self.try_conv1d(weight, bias, stride, padding, dilation, groups))
    }

    /// Checked form of [`Variable::conv1d`] (errors speak in 1-d terms).
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn try_conv1d(
        &self,
        weight: &Variable,
        bias: Option<&Variable>,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Variable> {
        if let Some(a) = crate::autocast::autocast_inputs("conv1d", &[Some(self), Some(weight), bias]) {
            return a.var(0).try_conv1d(a.var(1), a.opt(2), stride, padding, dilation, groups);
        }
        let bd = bias.map(|b| b.data());
        self.data().try_conv1d(&weight.data(), bd.as_ref(), stride, padding, dilation, groups)?;
        let (x, w) = (self.unsqueeze(-2), weight.unsqueeze(-2));
        let o = Conv2dOpts { stride: [1, stride], padding: [0, padding], dilation: [1, dilation], groups };
        Ok(x.try_conv2d(&w, bias, o)?.squeeze(-2))
    }

    /// 2-d transposed convolution (PyTorch's `F.conv_transpose2d` argument order); `weight` is
    /// [in, out/groups, kh, kw].
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        &self,
        weight: &Variable,
        bias: Option<&Variable>,
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Variable {
        ok(self.try_conv_transpose2d(weight, bias, stride, padding, output_padding, groups, dilation))
    }

    /// Checked form of [`Variable::conv_transpose2d`].
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub fn try_conv_transpose2d(
        &self,
        weight: &Variable,
        bias: Option<&Variable>,
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Result<Variable> {
        let o = TransposeOpts { stride, padding, output_padding, groups, dilation };
        self.try_convt(weight, bias, o)
    }

    #[track_caller]
    fn convt(&self, weight: &Variable, bias: Option<&Variable>, o: TransposeOpts) -> Variable {
        ok(self.try_convt(weight, bias, o))
    }

    #[track_caller]
    fn try_convt(&self, weight: &Variable, bias: Option<&Variable>, o: TransposeOpts) -> Result<Variable> {
        if let Some(a) = crate::autocast::autocast_inputs("conv_transpose2d", &[Some(self), Some(weight), bias]) {
            return a.var(0).try_convt(a.var(1), a.opt(2), o);
        }
        let bd = bias.map(|b| b.data());
        let out = self.data().try_conv_transpose2d(
            &weight.data(),
            bd.as_ref(),
            o.stride,
            o.padding,
            o.output_padding,
            o.groups,
            o.dilation,
        )?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Variable::record("conv_transpose2d", &inputs, out, move |ctx| {
            let (x, w, g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
            let mut grads = vec![
                ctx.needs(0).then(|| convt_input_grad(g, w, &x.shape(), o)),
                ctx.needs(1).then(|| convt_weight_grad(g, x, &w.shape(), o)),
            ];
            if ctx.inputs.len() == 3 {
                grads.push(ctx.needs(2).then(|| bias_grad(g)));
            }
            grads
        }))
    }
}
