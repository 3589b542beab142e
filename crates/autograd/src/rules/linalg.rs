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
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let a = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]), true);
    /// let v = Variable::new(Tensor::from_vec(vec![1.0f32, -1.0], &[2]), true);
    /// let y = a.matmul(&v); // matrix @ vector
    /// assert_eq!(y.to_vec::<f32>(), vec![-1.0, -1.0]);
    /// y.sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec::<f32>(), vec![1.0, -1.0, 1.0, -1.0]);
    /// assert_eq!(v.grad().unwrap().to_vec::<f32>(), vec![4.0, 6.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn matmul(&self, other: &Variable) -> Variable {
        ok(self.try_matmul(other))
    }

    /// Checked form of [`Variable::matmul`].
    #[track_caller]
    pub fn try_matmul(&self, other: &Variable) -> Result<Variable> {
        if let Some((a, b)) = crate::autocast::cast2("matmul", self, other) {
            return a.try_matmul(&b);
        }
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

    /// 2-d matrix product (both operands must be matrices).
    #[must_use]
    #[track_caller]
    pub fn mm(&self, other: &Variable) -> Variable {
        ok(self.try_mm(other))
    }

    /// Checked form of [`Variable::mm`].
    #[track_caller]
    pub fn try_mm(&self, other: &Variable) -> Result<Variable> {
        if let Some((a, b)) = crate::autocast::cast2("matmul", self, other) {
            return a.try_mm(&b);
        }
        self.data().try_mm(&other.data())?;
        self.try_matmul(other)
    }

    /// Batched (3-d) matrix product (equal batch sizes, no broadcasting).
    #[must_use]
    #[track_caller]
    pub fn bmm(&self, other: &Variable) -> Variable {
        ok(self.try_bmm(other))
    }

    /// Checked form of [`Variable::bmm`].
    #[track_caller]
    pub fn try_bmm(&self, other: &Variable) -> Result<Variable> {
        if let Some((a, b)) = crate::autocast::cast2("matmul", self, other) {
            return a.try_bmm(&b);
        }
        self.data().try_bmm(&other.data())?;
        self.try_matmul(other)
    }

    /// Inner product of two 1-d Variables of the same length (a 0-d result).
    #[must_use]
    #[track_caller]
    pub fn dot(&self, other: &Variable) -> Variable {
        ok(self.try_dot(other))
    }

    /// Checked form of [`Variable::dot`].
    #[track_caller]
    pub fn try_dot(&self, other: &Variable) -> Result<Variable> {
        if let Some((a, b)) = crate::autocast::cast2("dot", self, other) {
            return a.try_dot(&b);
        }
        let out = self.data().try_dot(&other.data())?;
        Ok(Variable::record("dot", &[self, other], out, |ctx| {
            let (a, b, g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad);
            vec![ctx.needs(0).then(|| b * g), ctx.needs(1).then(|| a * g)]
        }))
    }

    /// `x @ weight^T + bias` (the Linear layer), one fused forward.
    #[must_use]
    #[track_caller]
    pub fn linear(&self, weight: &Variable, bias: Option<&Variable>) -> Variable {
        ok(self.try_linear(weight, bias))
    }

    /// Checked form of [`Variable::linear`].
    #[track_caller]
    pub fn try_linear(&self, weight: &Variable, bias: Option<&Variable>) -> Result<Variable> {
        if let Some(a) = crate::autocast::autocast_inputs("linear", &[Some(self), Some(weight), bias]) {
            return a.var(0).try_linear(a.var(1), a.opt(2));
        }
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
