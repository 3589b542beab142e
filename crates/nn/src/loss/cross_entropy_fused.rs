//! Cross-entropy of class-index targets as one autograd op with its own backward rule, over the
//! fused kernels of `ember_tensor` (`Tensor::cross_entropy_fused`): on a GPU the forward and the
//! backward are one dispatch each, instead of a log-softmax, a gather, masks and reductions each way
//! (PyTorch fuses `log_softmax` + `nll_loss` the same way). `CrossEntropyLoss` takes this path on
//! GPU devices for `[N, C]` logits (C up to [`MAX_CLASSES`]) with a mean or sum reduction; the CPU and
//! every other case keep the composed form, whose values the fused one matches.

use ember_autograd::Variable;
use ember_tensor::{CrossEntropyOpts, DType, Device, Result, Tensor};

use super::{CrossEntropyLoss, Reduction};

/// The most classes the fused forward takes (one invocation walks a whole row).
pub(crate) const MAX_CLASSES: usize = 4096;

/// The loss through the fused op when `loss`'s options, the operands and the device suit it;
/// `None` sends the caller to the composed form (which also reports every bad input, with its
/// messages).
pub(crate) fn try_fused(loss: &CrossEntropyLoss, input: &Variable, target: &Variable) -> Option<Variable> {
    let shape = input.shape();
    let on_gpu = !matches!(input.device(), Device::Cpu);
    let mean = match loss.reduction {
        Reduction::Mean => true,
        Reduction::Sum => false,
        _ => return None,
    };
    let fits = shape.len() == 2
        && shape[1] <= MAX_CLASSES
        && matches!(input.dtype(), DType::F32 | DType::F64)
        && target.dtype() == DType::I64
        && target.shape() == [shape[0]];
    if !on_gpu || !fits {
        return None;
    }
    let o = CrossEntropyOpts { ignore_index: loss.ignore_index, label_smoothing: loss.label_smoothing, mean };
    fused(input, &target.data(), loss.weight.as_ref(), o).ok()
}

/// Cross-entropy of logits `input` (`[N, C]`) against class indices `target` (`[N]`) as one
/// recorded op: the fused forward, and the fused backward as its gradient rule (the gradient itself
/// is not differentiable again: a second derivative fails naming `cross_entropy_backward`).
pub(crate) fn fused(
    input: &Variable,
    target: &Tensor,
    weight: Option<&Tensor>,
    o: CrossEntropyOpts,
) -> Result<Variable> {
    let weight = weight.map(|w| w.try_to_dtype(input.dtype())).transpose()?;
    let (loss, stats) = input.data().try_cross_entropy_fused(target, weight.as_ref(), o)?;
    let target = target.clone();
    Ok(Variable::record("cross_entropy", &[input], loss, move |ctx| {
        let x = &ctx.inputs[0];
        let dx = x.data().cross_entropy_fused_backward(&target, weight.as_ref(), &stats, &ctx.grad.data(), o);
        vec![Some(Variable::record_nondifferentiable("cross_entropy_backward", &[x, ctx.grad], dx))]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_autograd::gradcheck;

    /// Logits `[n, c]` in f64 and targets with one ignored (-100) row.
    fn case(n: usize, c: usize, seed: u64) -> (Tensor, Tensor) {
        ember_tensor::manual_seed(seed);
        let x = Tensor::randn(&[n, c]).to_dtype(DType::F64);
        let mut t: Vec<i64> = (0..n).map(|i| ((i * 7 + 3) % c) as i64).collect();
        t[n / 2] = -100;
        (x, Tensor::from_vec(t, &[n]))
    }

    fn opts(eps: f64, mean: bool) -> CrossEntropyOpts {
        CrossEntropyOpts { ignore_index: -100, label_smoothing: eps, mean }
    }

    #[test]
    fn fused_cross_entropy_passes_gradcheck_in_f64() {
        let (x, t) = case(5, 7, 3);
        let w = Tensor::from_vec(vec![0.5f64, 1.0, 2.0, 0.25, 1.5, 1.0, 3.0], &[7]);
        for (weight, eps, mean) in
            [(None, 0.0, true), (Some(&w), 0.0, false), (Some(&w), 0.2, true), (None, 0.1, false)]
        {
            gradcheck(|v| fused(&v[0], &t, weight, opts(eps, mean)).unwrap(), std::slice::from_ref(&x))
                .unwrap_or_else(|e| panic!("weight {}, eps {eps}, mean {mean}: {e}", weight.is_some()));
        }
    }

    #[test]
    fn fused_cross_entropy_matches_the_composed_loss() {
        let (x, t) = case(9, 5, 4);
        let w = Tensor::from_vec(vec![0.5f64, 1.0, 2.0, 0.25, 1.5], &[5]);
        for (weight, eps, reduction) in
            [(None, 0.0, Reduction::Mean), (Some(&w), 0.3, Reduction::Mean), (Some(&w), 0.1, Reduction::Sum)]
        {
            let mut loss = CrossEntropyLoss::new().label_smoothing(eps);
            loss.reduction = reduction;
            if let Some(w) = weight {
                loss = loss.weight(w.clone());
            }
            let (a, b) = (Variable::new(x.clone(), true), Variable::new(x.clone(), true));
            let composed = loss.forward(&a, &Variable::from(t.clone()));
            let o = opts(eps, reduction == Reduction::Mean);
            let one = fused(&b, &t, weight, o).unwrap();
            let (lc, lf) = (composed.data().item::<f64>(), one.data().item::<f64>());
            assert!((lc - lf).abs() < 1e-12, "eps {eps}: loss {lc} vs {lf}");
            composed.backward();
            one.backward();
            let (ga, gb) = (a.grad().unwrap().to_vec::<f64>(), b.grad().unwrap().to_vec::<f64>());
            for (i, (p, q)) in ga.iter().zip(&gb).enumerate() {
                assert!((p - q).abs() < 1e-12, "eps {eps}: grad {i}: {p} vs {q}");
            }
        }
    }

    #[test]
    fn fused_cross_entropy_reports_a_target_out_of_range() {
        let x = Tensor::zeros(&[2, 3]);
        let t = Tensor::from_vec(vec![1i64, 3], &[2]);
        let e = fused(&Variable::new(x, true), &t, None, opts(0.0, true)).unwrap_err().to_string();
        assert!(e.contains("target 3 is out of bounds for 3 classes"), "{e}");
    }
}
