//! Elementwise ops on Variables: unary functions, binary arithmetic with broadcasting.

use ember_tensor::{Result, Tensor};

use crate::Variable;

/// A constant Variable (no gradient flows into it).
pub(crate) fn c(t: Tensor) -> Variable {
    Variable::from(t)
}

/// Unwraps a forward result, panicking with its message at the caller.
#[track_caller]
pub(crate) fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

macro_rules! unary {
    ($($name:ident => |$x:ident, $out:ident, $g:ident| $grad:expr;)*) => {
        /// # Elementwise unary functions (differentiable)
        impl Variable {
            $(
                #[doc = concat!("`", stringify!($name), "` of the data, recorded for backward (see [`Tensor::", stringify!($name), "`]).")]
                #[must_use]
                #[track_caller]
                pub fn $name(&self) -> Variable {
                    let out = self.data().$name();
                    Variable::record(stringify!($name), &[self], out, |ctx| {
                        #[allow(unused_variables)]
                        let ($x, $out, $g) = (&ctx.inputs[0], ctx.output, ctx.grad);
                        vec![Some($grad)]
                    })
                }
            )*
        }
    };
}

unary! {
    neg => |x, out, g| -g;
    abs => |x, out, g| g * &c(x.data().sign());
    exp => |x, out, g| g * out;
    log => |x, out, g| g / x;
    log1p => |x, out, g| g / &(x + 1.0);
    sqrt => |x, out, g| g * 0.5 / out;
    rsqrt => |x, out, g| g * -0.5 * &out.powf(3.0);
    sin => |x, out, g| g * &x.cos();
    cos => |x, out, g| -(g * &x.sin());
    tanh => |x, out, g| g * &(1.0 - &out.square());
    sigmoid => |x, out, g| g * &(out * &(1.0 - out));
    // relu'(0) = 0, as PyTorch, tinygrad and dfdx (`x > 0`)
    relu => |x, out, g| g * &c(x.data().gt_scalar(0.0).to_dtype(x.dtype()));
    gelu => |x, out, g| {
        // d/dx x·Φ(x) = Φ(x) + x·φ(x)
        let cdf = (&(x * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5;
        let pdf = (&x.square() * -0.5).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
        g * &(cdf + x * &pdf)
    };
    silu => |x, out, g| {
        let s = x.sigmoid();
        g * &(&s * &(1.0 + &(x * &(1.0 - &s))))
    };
    softplus => |x, out, g| g * &x.sigmoid();
    sign => |x, out, g| c(g.data().zeros_like());
    floor => |x, out, g| c(g.data().zeros_like());
    ceil => |x, out, g| c(g.data().zeros_like());
    round => |x, out, g| c(g.data().zeros_like());
    recip => |x, out, g| -(g * &out.square());
    erf => |x, out, g| g * &((&x.square() * -1.0).exp() * (2.0 / std::f64::consts::PI.sqrt()));
    square => |x, out, g| g * &(x * 2.0);
}

/// # Parameterised elementwise functions (differentiable)
impl Variable {
    /// `x ** e` for a scalar exponent.
    #[must_use]
    #[track_caller]
    pub fn powf(&self, e: f64) -> Variable {
        let out = self.data().powf(e);
        Variable::record("pow", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            if e == 0.0 {
                return vec![Some(c(ctx.grad.data().zeros_like()))];
            }
            vec![Some(ctx.grad * &(x.powf(e - 1.0) * e))]
        })
    }

    /// Clamps into `[min, max]`; the gradient passes where `min <= x <= max` (as PyTorch).
    #[must_use]
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Variable {
        let out = ok(self.data().try_clamp(min, max));
        Variable::record("clamp", &[self], out, move |ctx| {
            let x = ctx.inputs[0].data();
            let mut mask = x.ones_like().gt_scalar(0.0);
            if let Some(lo) = min {
                mask = mask.logical_and(&x.ge_scalar(lo));
            }
            if let Some(hi) = max {
                mask = mask.logical_and(&x.le_scalar(hi));
            }
            vec![Some(ctx.grad * &c(mask.to_dtype(x.dtype())))]
        })
    }

    /// `max(x, lo)`.
    #[must_use]
    #[track_caller]
    pub fn clamp_min(&self, lo: f64) -> Variable {
        self.clamp(Some(lo), None)
    }

    /// `min(x, hi)`.
    #[must_use]
    #[track_caller]
    pub fn clamp_max(&self, hi: f64) -> Variable {
        self.clamp(None, Some(hi))
    }

    /// Leaky ReLU with `negative_slope`.
    #[must_use]
    pub fn leaky_relu(&self, negative_slope: f64) -> Variable {
        let out = self.data().leaky_relu(negative_slope);
        Variable::record("leaky_relu", &[self], out, move |ctx| {
            let x = ctx.inputs[0].data();
            let pos = x.gt_scalar(0.0);
            let slope = x.ones_like().mul_scalar(negative_slope);
            vec![Some(ctx.grad * &c(x.ones_like().where_(&pos, &slope)))]
        })
    }

    /// ELU with `alpha`.
    #[must_use]
    pub fn elu(&self, alpha: f64) -> Variable {
        let out = self.data().elu(alpha);
        Variable::record("elu", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let pos = c(x.data().gt_scalar(0.0).to_dtype(x.dtype()));
            // x > 0: 1; else alpha * e^x (= out + alpha)
            let neg = (ctx.output + alpha) * &(1.0 - &pos);
            vec![Some(ctx.grad * &(&pos + &neg))]
        })
    }
}

macro_rules! binary {
    ($($name:ident, $try:ident, $scalar:ident => |$a:ident, $b:ident, $out:ident, $g:ident| $grads:expr;)*) => {
        /// # Binary arithmetic (differentiable, broadcasting)
        impl Variable {
            $(
                #[doc = concat!("Elementwise `", stringify!($name), "` with broadcasting; gradients are summed back to each input's shape.")]
                #[must_use]
                #[track_caller]
                pub fn $name(&self, other: &Variable) -> Variable {
                    ok(self.$try(other))
                }

                #[doc = concat!("Checked form of [`Variable::", stringify!($name), "`].")]
                pub fn $try(&self, other: &Variable) -> Result<Variable> {
                    let out = self.data().$try(&other.data())?;
                    Ok(Variable::record(stringify!($name), &[self, other], out, |ctx| {
                        #[allow(unused_variables)]
                        let ($a, $b, $out, $g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.output, ctx.grad);
                        let (ga, gb): (Variable, Variable) = $grads;
                        let ga = ctx.needs(0).then(|| ga.sum_to_shape(&$a.shape()));
                        let gb = ctx.needs(1).then(|| gb.sum_to_shape(&$b.shape()));
                        vec![ga, gb]
                    }))
                }

                #[doc = concat!("Elementwise `", stringify!($name), "` with a scalar (a constant).")]
                #[must_use]
                #[track_caller]
                pub fn $scalar(&self, v: f64) -> Variable {
                    let d = self.data();
                    let s = Variable::from(Tensor::scalar(v).to_dtype(d.dtype()));
                    self.$name(&s)
                }
            )*
        }
    };
}

binary! {
    add, try_add, add_scalar => |a, b, out, g| (g.clone(), g.clone());
    sub, try_sub, sub_scalar => |a, b, out, g| (g.clone(), -g);
    mul, try_mul, mul_scalar => |a, b, out, g| (g * b, g * a);
    div, try_div, div_scalar => |a, b, out, g| (g / b, -(g * a) / &b.square());
    pow, try_pow, pow_scalar => |a, b, out, g| (
        g * &(b * &a.pow(&(b - 1.0))),
        // d/db a^b = a^b ln a, taken as 0 where a == 0 (as PyTorch for b >= 0)
        {
            let ad = a.data();
            let safe_a = c(ad.ones_like()).where_(&ad.eq_scalar(0.0), a);
            g * &(out * &safe_a.log())
        }
    );
    maximum, try_maximum, maximum_scalar => |a, b, out, g| {
        // ties split the gradient evenly, as PyTorch
        let (ad, bd) = (a.data(), b.data());
        let wa = c(&ad.gt(&bd).to_dtype(ad.dtype()) + &(&ad.eq(&bd).to_dtype(ad.dtype()) * 0.5));
        (g * &wa, g * &(1.0 - &wa))
    };
    minimum, try_minimum, minimum_scalar => |a, b, out, g| {
        let (ad, bd) = (a.data(), b.data());
        let wa = c(&ad.lt(&bd).to_dtype(ad.dtype()) + &(&ad.eq(&bd).to_dtype(ad.dtype()) * 0.5));
        (g * &wa, g * &(1.0 - &wa))
    };
}

/// # Reversed scalar forms
impl Variable {
    /// `v - self`.
    #[must_use]
    pub fn rsub_scalar(&self, v: f64) -> Variable {
        self.neg().add_scalar(v)
    }

    /// `v / self`.
    #[must_use]
    pub fn rdiv_scalar(&self, v: f64) -> Variable {
        self.recip().mul_scalar(v)
    }
}
