//! Finite-difference checks (f64) of every loss's gradients, with respect to every float input, and
//! of the second derivatives of the losses with their own backward rule or a fused path.

use ember_autograd::{grad, gradcheck, Variable};
use ember_nn::*;
use ember_tensor::Tensor;

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

/// Deterministic values in roughly [-2, 2], away from 0 (no kinks of |x| at the sample points).
fn vals(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            let v = 4.0 * u - 2.0;
            if v.abs() < 0.1 {
                v + 0.3
            } else {
                v
            }
        })
        .collect()
}

fn probs(n: usize, seed: u64) -> Vec<f64> {
    vals(n, seed).iter().map(|v| 0.05 + 0.9 * (v + 2.3) / 4.6).collect()
}

fn idx(v: &[i64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()])
}

const ALL: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

#[test]
fn pointwise_losses() {
    let (x, y) = (t(&vals(12, 1), &[3, 4]), t(&vals(12, 2), &[3, 4]));
    for r in ALL {
        gradcheck(|v| MseLoss::new().reduction(r).forward(&v[0], &v[1]), &[x.clone(), y.clone()]).unwrap();
        gradcheck(|v| L1Loss::new().reduction(r).forward(&v[0], &v[1]), &[x.clone(), y.clone()]).unwrap();
        gradcheck(|v| SmoothL1Loss::new().beta(0.7).reduction(r).forward(&v[0], &v[1]), &[x.clone(), y.clone()])
            .unwrap();
        gradcheck(|v| HuberLoss::new().delta(0.8).reduction(r).forward(&v[0], &v[1]), &[x.clone(), y.clone()]).unwrap();
    }
}

#[test]
fn cross_entropy_and_nll() {
    let z = t(&vals(15, 3), &[3, 5]);
    let w = t(&[0.5, 1.0, 2.0, 0.3, 1.5], &[5]);
    let target = idx(&[4, -100, 1]);
    for r in ALL {
        let ce = CrossEntropyLoss::new().weight(w.clone()).label_smoothing(0.2).reduction(r);
        gradcheck(|v| ce.forward(&v[0], &v[1]), &[z.clone(), target.clone()]).unwrap();
        let nll = NllLoss::new().weight(w.clone()).reduction(r);
        gradcheck(|v| nll.forward(&v[0], &v[1]), &[z.clone(), target.clone()]).unwrap();
        // probability targets: gradients for the logits and the target
        let p = Tensor::from_vec(probs(15, 4), &[3, 5]);
        gradcheck(|v| ce.forward(&v[0], &v[1]), &[z.clone(), p]).unwrap();
        // K-dim
        let z4 = t(&vals(24, 5), &[2, 3, 2, 2]);
        let t4 = Tensor::from_vec(vec![0i64, 2, 1, 1, 2, 0, -100, 1], &[2, 2, 2]);
        let ce3 = CrossEntropyLoss::new().weight(t(&[1.0, 0.2, 3.0], &[3])).label_smoothing(0.1).reduction(r);
        gradcheck(|v| ce3.forward(&v[0], &v[1]), &[z4, t4]).unwrap();
    }
}

#[test]
fn binary_cross_entropy() {
    let x = t(&probs(8, 6), &[2, 4]);
    let y = t(&probs(8, 7), &[2, 4]);
    let logits = t(&vals(8, 8), &[2, 4]);
    for r in ALL {
        let bce = BceLoss::new().weight(t(&[0.5, 1.0, 2.0, 0.3], &[4])).reduction(r);
        gradcheck(|v| bce.forward(&v[0], &v[1]), &[x.clone(), y.clone()]).unwrap();
        let bcel = BceWithLogitsLoss::new()
            .weight(t(&[2.0, 0.5], &[2, 1]))
            .pos_weight(t(&[0.5, 1.0, 3.0, 0.2], &[4]))
            .reduction(r);
        gradcheck(|v| bcel.forward(&v[0], &v[1]), &[logits.clone(), y.clone()]).unwrap();
    }
}

#[test]
fn kl_div() {
    let q = t(&vals(8, 9), &[2, 4]);
    let p = t(&probs(8, 10), &[2, 4]);
    for r in [Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::Batchmean] {
        gradcheck(|v| KlDivLoss::new().reduction(r).forward(&v[0], &v[1]), &[q.clone(), p.clone()]).unwrap();
        gradcheck(|v| KlDivLoss::new().log_target(true).reduction(r).forward(&v[0], &v[1]), &[q.clone(), q.neg()])
            .unwrap();
    }
}

#[test]
fn margin_losses() {
    let (a, b) = (t(&vals(12, 11), &[3, 4]), t(&vals(12, 12), &[3, 4]));
    // labels as I64: they are not differentiable (a float label's finite difference would flip them)
    let y = idx(&[1, -1, -1]);
    for r in ALL {
        let cos = CosineEmbeddingLoss::new().margin(-0.4).reduction(r);
        gradcheck(|v| cos.forward(&v[0], &v[1], &v[2]), &[a.clone(), b.clone(), y.clone()]).unwrap();
        let (m1, m2) = (t(&vals(5, 13), &[5]), t(&vals(5, 14), &[5]));
        let ym = t(&[1.0, -1.0, 1.0, 1.0, -1.0], &[5]);
        let mr = MarginRankingLoss::new().margin(0.3).reduction(r);
        gradcheck(|v| mr.forward(&v[0], &v[1], &v[2]), &[m1, m2, ym]).unwrap();
        let c = t(&vals(12, 15), &[3, 4]);
        for (p, swap) in [(2.0, false), (1.0, true), (3.0, true), (f64::INFINITY, false)] {
            let tl = TripletMarginLoss::new().p(p).swap(swap).margin(3.0).reduction(r);
            gradcheck(|v| tl.forward(&v[0], &v[1], &v[2]), &[a.clone(), b.clone(), c.clone()]).unwrap();
        }
        let hy = Tensor::from_vec(vec![1i64, -1, 1, -1, -1, 1, 0, -1, 1, 1, -1, -1], &[3, 4]);
        let hl = HingeEmbeddingLoss::new().margin(0.5).reduction(r);
        gradcheck(|v| hl.forward(&v[0], &v[1]), &[a.clone(), hy]).unwrap();
    }
}

#[test]
fn likelihood_losses() {
    let x = t(&vals(12, 16), &[3, 4]);
    // no count at 1, where the Stirling term jumps (as in PyTorch)
    let counts = t(&[0.0, 1.2, 2.5, 3.0, 0.5, 4.0, 1.5, 2.0, 6.0, 0.2, 0.9, 3.5], &[3, 4]);
    let rate = t(&probs(12, 17), &[3, 4]);
    let var = t(&probs(3, 18), &[3]);
    for r in ALL {
        let pl = PoissonNllLoss::new().full(true).reduction(r);
        gradcheck(|v| pl.forward(&v[0], &v[1]), &[x.clone(), counts.clone()]).unwrap();
        let pr = PoissonNllLoss::new().log_input(false).reduction(r);
        gradcheck(|v| pr.forward(&v[0], &v[1]), &[rate.clone(), counts.clone()]).unwrap();
        let g = GaussianNllLoss::new().full(true).reduction(r);
        gradcheck(|v| g.forward(&v[0], &v[1], &v[2]), &[x.clone(), rate.clone(), var.clone()]).unwrap();
    }
}

/// The gradient of a loss with respect to its first input, itself differentiable (`create_graph`).
fn grad_of(f: impl Fn(&Variable, &Variable) -> Variable) -> impl Fn(&[Variable]) -> Variable {
    move |v: &[Variable]| grad(&f(&v[0], &v[1]), &[&v[0]], true).remove(0)
}

#[test]
fn second_derivatives() {
    let p = t(&probs(6, 19), &[2, 3]);
    let y = t(&probs(6, 20), &[2, 3]);
    gradcheck(grad_of(|x, y| BceLoss::new().forward(x, y)), &[p.clone(), y.clone()]).unwrap();
    gradcheck(grad_of(|x, y| BceWithLogitsLoss::new().pos_weight(t(&[2.0, 0.5, 1.0], &[3])).forward(x, y)), &[p, y])
        .unwrap();
    let z = t(&vals(6, 21), &[2, 3]);
    let ce = CrossEntropyLoss::new().label_smoothing(0.1).weight(t(&[1.0, 2.0, 0.5], &[3]));
    gradcheck(grad_of(|x, y| ce.forward(x, y)), &[z, idx(&[2, 0])]).unwrap();
}
