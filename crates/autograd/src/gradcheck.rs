//! Finite-difference checks of analytic gradients, in f64 (PyTorch's `gradcheck`).

use ember_tensor::{DType, Error, Result, Tensor};

use crate::graph::grad_with;
use crate::Variable;

/// Tolerances and step of [`gradcheck_with`]; the defaults are PyTorch's.
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// Central-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }
    }
}

/// Checks the full Jacobian of `f` at `inputs` against central finite differences, in f64.
///
/// Float inputs are converted to F64 and differentiated; integer and Bool inputs are passed as
/// constants. `f` may return any shape. Returns an error naming the input, the element and both
/// values at the first mismatch.
///
/// ```
/// use ember_autograd::{gradcheck, Variable};
/// use ember_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.3f64, -1.2, 2.0], &[3]);
/// gradcheck(|v: &[Variable]| (&v[0] * &v[0].tanh()).sum(), &[x]).unwrap();
/// ```
pub fn gradcheck(f: impl Fn(&[Variable]) -> Variable, inputs: &[Tensor]) -> Result<()> {
    gradcheck_with(f, inputs, GradcheckOptions::default())
}

/// [`gradcheck`] with explicit tolerances.
pub fn gradcheck_with(f: impl Fn(&[Variable]) -> Variable, inputs: &[Tensor], opts: GradcheckOptions) -> Result<()> {
    let base: Vec<Tensor> = inputs
        .iter()
        .map(|t| if t.dtype().is_float() { t.to_dtype(DType::F64).contiguous() } else { t.clone() })
        .collect();
    let vars: Vec<Variable> = base.iter().map(|t| Variable::new(t.clone(), t.dtype().is_float())).collect();
    let out = f(&vars);
    let out_data = out.data();
    if out_data.dtype() != DType::F64 {
        return Err(Error::InvalidArgument {
            op: "gradcheck",
            msg: format!("the function must return F64 for F64 inputs, got {}", out_data.dtype()),
        });
    }
    let n_out = out_data.numel();
    let diff: Vec<usize> = (0..vars.len()).filter(|&i| vars[i].requires_grad()).collect();
    let targets: Vec<&Variable> = diff.iter().map(|&i| &vars[i]).collect();
    // analytic Jacobian, one output element at a time: jac[k][j] = d out_j / d input_k (flattened)
    let mut analytic: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(n_out); diff.len()];
    for j in 0..n_out {
        let mut e = vec![0.0f64; n_out];
        e[j] = 1.0;
        let seed = Tensor::from_vec(e, out_data.shape());
        let gs = if out.requires_grad() {
            grad_with(&[&out], &[Some(&seed)], &targets, true, false)?
        } else {
            targets.iter().map(|v| Variable::from(v.data().zeros_like())).collect()
        };
        for (k, g) in gs.iter().enumerate() {
            analytic[k].push(g.data().to_vec::<f64>());
        }
    }
    // numeric Jacobian by central differences
    for (k, &i) in diff.iter().enumerate() {
        let x0 = base[i].to_vec::<f64>();
        for p in 0..x0.len() {
            let eval = |delta: f64| -> Vec<f64> {
                let mut x = x0.clone();
                x[p] += delta;
                let mut ins: Vec<Variable> = base.iter().map(|t| Variable::from(t.clone())).collect();
                ins[i] = Variable::from(Tensor::from_vec(x, base[i].shape()));
                crate::no_grad(|| f(&ins)).data().to_vec::<f64>()
            };
            let (hi, lo) = (eval(opts.eps), eval(-opts.eps));
            for j in 0..n_out {
                let num = (hi[j] - lo[j]) / (2.0 * opts.eps);
                let ana = analytic[k][j][p];
                if (num - ana).abs() > opts.atol + opts.rtol * num.abs() {
                    return Err(Error::InvalidArgument {
                        op: "gradcheck",
                        msg: format!(
                            "Jacobian mismatch for input {i}, element {p}, output element {j}: numerical {num}, analytical {ana}"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}
