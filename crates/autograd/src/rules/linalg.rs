//! Matrix products and convolutions on Variables.

use ember_tensor::Result;

use super::elementwise::ok;
use crate::Variable;

/// Swaps the last two dims (a view).
fn mt(v: &Variable) -> Variable {
    v.transpose(-1, -2)
}

/// # Linear algebra (differentiable)
impl Variable {
    /// Matrix product with `torch.matmul`'s rules (1-d, 2-d, batched with broadcasting).
    #[must_use]
    #[track_caller]
    pub fn matmul(&self, other: &Variable) -> Variable {
        ok(self.try_matmul(other))
    }

    /// Checked form of [`Variable::matmul`].
    pub fn try_matmul(&self, other: &Variable) -> Result<Variable> {
        let (ra, rb) = (self.rank(), other.rank());
        // 1-d operands become matrices, then the added dim is removed again: the views carry the
        // gradient back, so only the matrix case needs a rule.
        if ra == 1 && rb == 1 {
            return Ok(self.unsqueeze(0).try_matmul(&other.unsqueeze(1))?.reshape::<usize>(&[]));
        }
        if ra == 1 {
            return Ok(self.unsqueeze(0).try_matmul(other)?.squeeze(-2));
        }
        if rb == 1 {
            return Ok(self.try_matmul(&other.unsqueeze(1))?.squeeze(-1));
        }
        let out = self.data().try_matmul(&other.data())?;
        Ok(Variable::record("matmul", &[self, other], out, |ctx| {
            let (a, b, g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
            let ga = ctx.needs(0).then(|| g.matmul(&mt(b)).sum_to_shape(&a.shape()));
            let gb = ctx.needs(1).then(|| mt(a).matmul(g).sum_to_shape(&b.shape()));
            vec![ga, gb]
        }))
    }

    /// 2-d matrix product.
    #[must_use]
    #[track_caller]
    pub fn mm(&self, other: &Variable) -> Variable {
        let _ = ok(self.data().try_mm(&other.data()));
        self.matmul(other)
    }

    /// Batched (3-d) matrix product.
    #[must_use]
    #[track_caller]
    pub fn bmm(&self, other: &Variable) -> Variable {
        let _ = ok(self.data().try_bmm(&other.data()));
        self.matmul(other)
    }

    /// `x @ weight^T + bias` (the Linear layer), one fused forward.
    #[must_use]
    #[track_caller]
    pub fn linear(&self, weight: &Variable, bias: Option<&Variable>) -> Variable {
        ok(self.try_linear(weight, bias))
    }

    /// Checked form of [`Variable::linear`].
    pub fn try_linear(&self, weight: &Variable, bias: Option<&Variable>) -> Result<Variable> {
        let bd = bias.map(|b| b.data());
        let out = self.data().try_linear(&weight.data(), bd.as_ref())?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Variable::record("linear", &inputs, out, |ctx| {
            let (x, w, g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
            let out_f = w.shape()[0];
            let in_f = w.shape()[1];
            let gx = ctx.needs(0).then(|| g.matmul(w));
            let gw =
                ctx.needs(1).then(|| g.reshape(&[-1, out_f as isize]).t().matmul(&x.reshape(&[-1, in_f as isize])));
            let mut grads = vec![gx, gw];
            if ctx.inputs.len() == 3 {
                grads.push(ctx.needs(2).then(|| g.reshape(&[-1, out_f as isize]).sum_dim(0, false)));
            }
            grads
        }))
    }
}

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

/// # Convolutions (differentiable once: a double backward through them reports an error)
impl Variable {
    /// 2-d convolution of an NCHW (or CHW) input with `weight` [out, in/groups, kh, kw].
    #[must_use]
    #[track_caller]
    pub fn conv2d(&self, weight: &Variable, bias: Option<&Variable>, o: Conv2dOpts) -> Variable {
        ok(self.try_conv2d(weight, bias, o))
    }

    /// Checked form of [`Variable::conv2d`].
    pub fn try_conv2d(&self, weight: &Variable, bias: Option<&Variable>, o: Conv2dOpts) -> Result<Variable> {
        let bd = bias.map(|b| b.data());
        let out = self.data().try_conv2d(&weight.data(), bd.as_ref(), o.stride, o.padding, o.dilation, o.groups)?;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Variable::record("conv2d", &inputs, out, move |ctx| {
            let (x, w, g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
            let (xd, wd, gd) = (x.data(), w.data(), g.data());
            let gx = ctx.needs(0).then(|| {
                let t = ember_tensor::Tensor::conv2d_backward_input(
                    &gd,
                    &wd,
                    xd.shape(),
                    o.stride,
                    o.padding,
                    o.dilation,
                    o.groups,
                );
                Variable::record_nondifferentiable("conv2d_backward", &[g, w], t)
            });
            let gw = ctx.needs(1).then(|| {
                let t = ember_tensor::Tensor::conv2d_backward_weight(
                    &gd,
                    &xd,
                    wd.shape(),
                    o.stride,
                    o.padding,
                    o.dilation,
                    o.groups,
                );
                Variable::record_nondifferentiable("conv2d_backward", &[g, x], t)
            });
            let mut grads = vec![gx, gw];
            if ctx.inputs.len() == 3 {
                let batched = xd.rank() == 4;
                grads.push(ctx.needs(2).then(|| {
                    if batched {
                        g.sum_dims(&[0, 2, 3], false)
                    } else {
                        g.sum_dims(&[1, 2], false)
                    }
                }));
            }
            grads
        }))
    }

    /// 1-d convolution of an NCL (or CL) input with `weight` [out, in/groups, k].
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
        // as a 2-d convolution over a height of 1: the views carry the gradients
        let _ = ok(self.data().try_conv1d(
            &weight.data(),
            bias.map(|b| b.data()).as_ref(),
            stride,
            padding,
            dilation,
            groups,
        ));
        let x = self.unsqueeze(-2);
        let w = weight.unsqueeze(-2);
        let o = Conv2dOpts { stride: [1, stride], padding: [0, padding], dilation: [1, dilation], groups };
        x.conv2d(&w, bias, o).squeeze(-2)
    }

    /// 2-d transposed convolution; `weight` is [in, out/groups, kh, kw].
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
        let bd = bias.map(|b| b.data());
        let out = ok(self.data().try_conv_transpose2d(
            &weight.data(),
            bd.as_ref(),
            stride,
            padding,
            output_padding,
            groups,
            dilation,
        ));
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Variable::record("conv_transpose2d", &inputs, out, move |ctx| {
            let (x, w, g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
            let (xd, wd, gd) = (x.data(), w.data(), g.data());
            // the input gradient of a transposed conv is the plain conv of the upstream gradient
            let gx = ctx.needs(0).then(|| {
                let t = gd.conv2d(&wd, None, stride, padding, dilation, groups);
                Variable::record_nondifferentiable("conv_transpose2d_backward", &[g, w], t)
            });
            let gw = ctx.needs(1).then(|| {
                let t = ember_tensor::Tensor::conv2d_backward_weight(
                    &xd,
                    &gd,
                    wd.shape(),
                    stride,
                    padding,
                    dilation,
                    groups,
                );
                Variable::record_nondifferentiable("conv_transpose2d_backward", &[g, x], t)
            });
            let mut grads = vec![gx, gw];
            if ctx.inputs.len() == 3 {
                let batched = xd.rank() == 4;
                grads.push(ctx.needs(2).then(|| {
                    if batched {
                        g.sum_dims(&[0, 2, 3], false)
                    } else {
                        g.sum_dims(&[1, 2], false)
                    }
                }));
            }
            grads
        })
    }
}
