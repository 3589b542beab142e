//! Elementwise ops on Variables: unary functions, binary arithmetic with broadcasting.

use ember_tensor::{ActGrad, DType, Result, Tensor};

use crate::Variable;

/// A constant Variable (no gradient flows into it).
pub(crate) fn c(t: Tensor) -> Variable {
    Variable::from(t)
}

/// `g · f'(saved)` in one fused pass (`Tensor::activation_backward`) for F32/F64 CPU tensors in a
/// plain backward; `None` (compose Variable ops instead) when the gradient is itself recorded
/// (`create_graph`: the composite is differentiable again), on a GPU (whose elementwise kernels
/// run natively) or for other dtypes.
pub(crate) fn fused(op: ActGrad, saved: &Variable, g: &Variable) -> Option<Variable> {
    let (s, gd) = (saved.data(), g.data());
    let plain = !crate::mode::is_grad_enabled() || !(saved.requires_grad() || g.requires_grad());
    if plain && s.device().is_cpu() && matches!(s.dtype(), DType::F32 | DType::F64) && gd.dtype() == s.dtype() {
        Tensor::try_activation_backward(op, &s, &gd).ok().map(c)
    } else {
        None
    }
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
                    if let Some(x) = crate::autocast::cast1(stringify!($name), self) {
                        return x.$name();
                    }
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
    tanh => |x, out, g| fused(ActGrad::TanhFromOutput, out, g).unwrap_or_else(|| g * &(1.0 - &out.square()));
    sigmoid => |x, out, g| fused(ActGrad::SigmoidFromOutput, out, g).unwrap_or_else(|| g * &(out * &(1.0 - out)));
    // relu'(0) = 0, as PyTorch, tinygrad and dfdx; PyTorch's mask is `!(out <= 0)`, so a NaN passes.
    relu => |x, out, g| relu_grad(g, out.data());
    gelu => |x, out, g| fused(ActGrad::Gelu, x, g).unwrap_or_else(|| {
        // d/dx x·Φ(x) = Φ(x) + x·φ(x)
        let cdf = (&(x * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5;
        let pdf = (&x.square() * -0.5).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
        g * &(cdf + x * &pdf)
    });
    silu => |x, out, g| fused(ActGrad::Silu, x, g).unwrap_or_else(|| {
        let s = x.sigmoid();
        g * &(&s * &(1.0 + &(x * &(1.0 - &s))))
    });
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
        if let Some(x) = crate::autocast::cast1("pow", self) {
            return x.powf(e);
        }
        let out = self.data().powf(e);
        Variable::record("pow", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            if e == 0.0 {
                return vec![Some(c(ctx.grad.data().zeros_like()))];
            }
            vec![Some(ctx.grad * &(x.powf(e - 1.0) * e))]
        })
    }

    /// Clamps into `[min, max]`; the gradient passes where `min < x < max` strictly (as PyTorch: 0 at
    /// the bounds and at NaN).
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let x = Variable::new(Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]), true);
    /// let y = x.clamp(Some(-1.0), Some(1.0));
    /// assert_eq!(y.to_vec::<f32>(), vec![-1.0, 0.5, 1.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0, 1.0, 0.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Variable {
        ok(self.try_clamp(min, max))
    }

    /// Checked form of [`Variable::clamp`] (fails when both bounds are `None`).
    #[track_caller]
    pub fn try_clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Variable> {
        let out = self.data().try_clamp(min, max)?;
        Ok(Variable::record("clamp", &[self], out, move |ctx| {
            let x = ctx.inputs[0].data();
            let mask = match (min, max) {
                (Some(lo), Some(hi)) => x.gt_scalar(lo).logical_and(&x.lt_scalar(hi)),
                (Some(lo), None) => x.gt_scalar(lo),
                (_, hi) => x.lt_scalar(hi.unwrap_or(f64::INFINITY)),
            };
            vec![Some(ctx.grad * &c(mask.to_dtype(x.dtype())))]
        }))
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
    #[track_caller]
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
    #[track_caller]
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
    ($($name:ident, $try:ident => |$a:ident, $b:ident, $out:ident, $g:ident| $ga:expr, $gb:expr;)*) => {
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
                #[track_caller]
                pub fn $try(&self, other: &Variable) -> Result<Variable> {
                    // `pow` is on CUDA's f32 list; otherwise mixed dtypes promote inside autocast
                    let cast = crate::autocast::cast2(stringify!($name), self, other);
                    if let Some((a, b)) = cast.or_else(|| crate::autocast::cast2("promote", self, other)) {
                        return a.$try(&b);
                    }
                    let a = self.data();
                    let out = other.with_data(|b| a.$try(b))?;
                    Ok(Variable::record(stringify!($name), &[self, other], out, |ctx| {
                        #[allow(unused_variables)]
                        let ($a, $b, $out, $g) = (&ctx.inputs[0], &ctx.inputs[1], ctx.output, ctx.grad);
                        let ga = ctx.needs(0).then(|| { let v: Variable = $ga; v.sum_to_shape(&$a.shape()) });
                        let gb = ctx.needs(1).then(|| { let v: Variable = $gb; v.sum_to_shape(&$b.shape()) });
                        vec![ga, gb]
                    }))
                }
            )*
        }
    };
}

binary! {
    add, try_add => |a, b, out, g| g.clone(), g.clone();
    sub, try_sub => |a, b, out, g| g.clone(), -g;
    mul, try_mul => |a, b, out, g| g * b, g * a;
    div, try_div => |a, b, out, g| g / b, -(g * out) / b;
    pow, try_pow => |a, b, out, g|
        // d/da a^b = b a^(b-1), taken as 0 where b == 0 (0^-1 would give 0 * inf, as PyTorch)
        (g * &(b * &a.pow(&(b - 1.0)))).masked_fill(&b.data().eq_scalar(0.0), 0.0),
        // d/db a^b = a^b ln a, taken as 0 where a == 0 (as PyTorch for b >= 0)
        {
            let ad = a.data();
            let safe_a = c(ad.ones_like()).where_(&ad.eq_scalar(0.0), a);
            g * &(out * &safe_a.log())
        };
    // ties split the gradient evenly, as PyTorch
    maximum, try_maximum => |a, b, out, g| g * &c(max_weight(a, b, true)), g * &c(max_weight(a, b, true).rsub_scalar(1.0));
    minimum, try_minimum => |a, b, out, g| g * &c(max_weight(a, b, false)), g * &c(max_weight(a, b, false).rsub_scalar(1.0));
}

/// The share of the gradient of `maximum(a, b)` (`max`) or `minimum(a, b)` that goes to `a`: 1 where
/// `a` wins, 0.5 on ties, 0 where `b` wins.
fn max_weight(a: &Variable, b: &Variable, max: bool) -> Tensor {
    let (ad, bd) = (a.data(), b.data());
    let wins = if max { ad.gt(&bd) } else { ad.lt(&bd) };
    &wins.to_dtype(ad.dtype()) + &(&ad.eq(&bd).to_dtype(ad.dtype()) * 0.5)
}

/// # Arithmetic with a scalar (the scalar is a constant, converted to the data's dtype)
impl Variable {
    /// `self + v`.
    #[must_use]
    #[track_caller]
    pub fn add_scalar(&self, v: f64) -> Variable {
        Variable::record("add", &[self], self.data().add_scalar(v), |ctx| vec![Some(ctx.grad.clone())])
    }

    /// `self - v`.
    #[must_use]
    #[track_caller]
    pub fn sub_scalar(&self, v: f64) -> Variable {
        Variable::record("sub", &[self], self.data().sub_scalar(v), |ctx| vec![Some(ctx.grad.clone())])
    }

    /// `self * v`.
    #[must_use]
    #[track_caller]
    pub fn mul_scalar(&self, v: f64) -> Variable {
        Variable::record("mul", &[self], self.data().mul_scalar(v), move |ctx| vec![Some(ctx.grad.mul_scalar(v))])
    }

    /// `self / v`.
    #[must_use]
    #[track_caller]
    pub fn div_scalar(&self, v: f64) -> Variable {
        Variable::record("div", &[self], self.data().div_scalar(v), move |ctx| vec![Some(ctx.grad.div_scalar(v))])
    }

    /// `v - self`.
    #[must_use]
    #[track_caller]
    pub fn rsub_scalar(&self, v: f64) -> Variable {
        Variable::record("rsub", &[self], self.data().rsub_scalar(v), |ctx| vec![Some(-ctx.grad)])
    }

    /// `v / self`; the gradient is `-v / x^2 = -out / x`.
    #[must_use]
    #[track_caller]
    pub fn rdiv_scalar(&self, v: f64) -> Variable {
        Variable::record("rdiv", &[self], self.data().rdiv_scalar(v), |ctx| {
            vec![Some(-(ctx.grad * ctx.output) / &ctx.inputs[0])]
        })
    }

    /// `self ** v` (the binary op's kernel; see also [`Variable::powf`]).
    #[must_use]
    #[track_caller]
    pub fn pow_scalar(&self, v: f64) -> Variable {
        if let Some(x) = crate::autocast::cast1("pow", self) {
            return x.pow_scalar(v);
        }
        Variable::record("pow", &[self], self.data().pow_scalar(v), move |ctx| {
            if v == 0.0 {
                return vec![Some(c(ctx.grad.data().zeros_like()))];
            }
            vec![Some(ctx.grad * &(ctx.inputs[0].powf(v - 1.0) * v))]
        })
    }

    /// `maximum(self, v)`; ties split the gradient evenly.
    #[must_use]
    #[track_caller]
    pub fn maximum_scalar(&self, v: f64) -> Variable {
        self.maximum(&self.scalar_like(v))
    }

    /// `minimum(self, v)`; ties split the gradient evenly.
    #[must_use]
    #[track_caller]
    pub fn minimum_scalar(&self, v: f64) -> Variable {
        self.minimum(&self.scalar_like(v))
    }

    /// A 0-d constant holding `v` in this Variable's dtype and device.
    #[track_caller]
    fn scalar_like(&self, v: f64) -> Variable {
        let d = self.data();
        c(Tensor::full_dtype(&[], v, d.dtype()).to(&d.device()))
    }
}

/// `g` where relu's output `out` is positive (or NaN), else 0, in one fused pass; recorded so that
/// higher-order gradients flow through it (it is linear in `g`, with the same mask).
fn relu_grad(g: &Variable, out: Tensor) -> Variable {
    let t = Tensor::relu_backward(&g.data(), &out);
    Variable::record("relu_backward", &[g], t, move |ctx| vec![Some(relu_grad(ctx.grad, out.clone()))])
}
