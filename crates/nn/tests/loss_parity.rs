//! Every loss x every reduction x its options against PyTorch: values and input gradients, in f32
//! and f64. One line per fixture spec of `scripts/fixtures/fam_nn_loss.py`.

mod loss_common;

use ember_autograd::Variable;
use ember_nn::*;
use ember_tensor::Tensor;
use loss_common::{close, Fx};

/// What a spec's loss sees: the case's options and its reduction.
struct Case<'a> {
    fx: &'a Fx,
    name: &'a str,
    r: Reduction,
}

impl Case<'_> {
    fn opt(&self, key: &str) -> Tensor {
        self.fx.get(self.name, key)
    }
}

type Build = fn(&Case, &[Variable]) -> Variable;

fn specs() -> Vec<(&'static str, Build)> {
    vec![
        ("mse", |c, v| MseLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("mse_4d", |c, v| MseLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("mse_0d", |c, v| MseLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("l1", |c, v| L1Loss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("smooth_l1", |c, v| SmoothL1Loss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("smooth_l1_b05", |c, v| SmoothL1Loss::new().beta(0.5).reduction(c.r).forward(&v[0], &v[1])),
        ("smooth_l1_b0", |c, v| SmoothL1Loss::new().beta(0.0).reduction(c.r).forward(&v[0], &v[1])),
        ("huber", |c, v| HuberLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("huber_d2", |c, v| HuberLoss::new().delta(2.0).reduction(c.r).forward(&v[0], &v[1])),
        ("huber_d03", |c, v| HuberLoss::new().delta(0.3).reduction(c.r).forward(&v[0], &v[1])),
        ("ce", |c, v| CrossEntropyLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("ce_w", |c, v| CrossEntropyLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("ce_ign", |c, v| CrossEntropyLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("ce_ign2", |c, v| CrossEntropyLoss::new().ignore_index(2).reduction(c.r).forward(&v[0], &v[1])),
        ("ce_w_ign", |c, v| CrossEntropyLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("ce_ls", |c, v| CrossEntropyLoss::new().label_smoothing(0.1).reduction(c.r).forward(&v[0], &v[1])),
        ("ce_ls_w_ign", |c, v| {
            CrossEntropyLoss::new().weight(c.opt("weight")).label_smoothing(0.2).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("ce_all_ign", |c, v| CrossEntropyLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("ce_all_ign_w_ls", |c, v| {
            CrossEntropyLoss::new().weight(c.opt("weight")).label_smoothing(0.3).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("ce_4d", |c, v| CrossEntropyLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("ce_4d_w_ign_ls", |c, v| {
            CrossEntropyLoss::new().weight(c.opt("weight")).label_smoothing(0.15).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("ce_3d", |c, v| CrossEntropyLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("ce_unbatched", |c, v| CrossEntropyLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("ce_unbatched_w_ls", |c, v| {
            CrossEntropyLoss::new().weight(c.opt("weight")).label_smoothing(0.1).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("ce_prob", |c, v| CrossEntropyLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("ce_prob_w_ls", |c, v| {
            CrossEntropyLoss::new().weight(c.opt("weight")).label_smoothing(0.25).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("ce_prob_4d_w", |c, v| CrossEntropyLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("ce_prob_unbatched", |c, v| CrossEntropyLoss::new().label_smoothing(0.1).reduction(c.r).forward(&v[0], &v[1])),
        ("nll", |c, v| NllLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("nll_w", |c, v| NllLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("nll_ign", |c, v| NllLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("nll_w_ign2", |c, v| {
            NllLoss::new().weight(c.opt("weight")).ignore_index(2).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("nll_all_ign_w", |c, v| NllLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("nll_3d", |c, v| NllLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("nll_unbatched", |c, v| NllLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("bce", |c, v| BceLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("bce_w", |c, v| BceLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("bce_w_full", |c, v| BceLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("bce_edge", |c, v| BceLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("bcel", |c, v| BceWithLogitsLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("bcel_pw", |c, v| {
            BceWithLogitsLoss::new().pos_weight(c.opt("pos_weight")).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("bcel_w", |c, v| BceWithLogitsLoss::new().weight(c.opt("weight")).reduction(c.r).forward(&v[0], &v[1])),
        ("bcel_w_pw", |c, v| {
            BceWithLogitsLoss::new()
                .weight(c.opt("weight"))
                .pos_weight(c.opt("pos_weight"))
                .reduction(c.r)
                .forward(&v[0], &v[1])
        }),
        ("bcel_big", |c, v| BceWithLogitsLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("kl", |c, v| KlDivLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("kl_logt", |c, v| KlDivLoss::new().log_target(true).reduction(c.r).forward(&v[0], &v[1])),
        ("kl_zero_t", |c, v| KlDivLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("cos", |c, v| CosineEmbeddingLoss::new().reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("cos_m", |c, v| CosineEmbeddingLoss::new().margin(-0.3).reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("cos_1d", |c, v| CosineEmbeddingLoss::new().margin(-0.5).reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("mrank", |c, v| MarginRankingLoss::new().reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("mrank_m", |c, v| MarginRankingLoss::new().margin(0.5).reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("triplet", |c, v| TripletMarginLoss::new().reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("triplet_p1_m2", |c, v| {
            TripletMarginLoss::new().p(1.0).margin(2.0).reduction(c.r).forward(&v[0], &v[1], &v[2])
        }),
        ("triplet_p3_swap", |c, v| {
            TripletMarginLoss::new().p(3.0).swap(true).reduction(c.r).forward(&v[0], &v[1], &v[2])
        }),
        ("triplet_pinf_eps", |c, v| {
            TripletMarginLoss::new().p(f64::INFINITY).eps(1e-3).margin(3.0).reduction(c.r).forward(&v[0], &v[1], &v[2])
        }),
        ("triplet_1d_swap", |c, v| {
            TripletMarginLoss::new().swap(true).margin(4.0).reduction(c.r).forward(&v[0], &v[1], &v[2])
        }),
        ("hinge", |c, v| HingeEmbeddingLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("hinge_m", |c, v| HingeEmbeddingLoss::new().margin(0.5).reduction(c.r).forward(&v[0], &v[1])),
        ("poisson", |c, v| PoissonNllLoss::new().reduction(c.r).forward(&v[0], &v[1])),
        ("poisson_full", |c, v| PoissonNllLoss::new().full(true).reduction(c.r).forward(&v[0], &v[1])),
        ("poisson_rate", |c, v| PoissonNllLoss::new().log_input(false).reduction(c.r).forward(&v[0], &v[1])),
        ("poisson_rate_full_eps", |c, v| {
            PoissonNllLoss::new().log_input(false).full(true).eps(0.1).reduction(c.r).forward(&v[0], &v[1])
        }),
        ("gauss", |c, v| GaussianNllLoss::new().reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("gauss_full_vlast", |c, v| GaussianNllLoss::new().full(true).reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("gauss_v1", |c, v| GaussianNllLoss::new().reduction(c.r).forward(&v[0], &v[1], &v[2])),
        ("gauss_clamp_eps", |c, v| GaussianNllLoss::new().eps(1e-3).reduction(c.r).forward(&v[0], &v[1], &v[2])),
    ]
}

fn reduction(s: &str) -> Reduction {
    match s {
        "none" => Reduction::None,
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        "batchmean" => Reduction::Batchmean,
        _ => panic!("unknown reduction {s}"),
    }
}

/// Runs one fixture case: the value against `out0`, then `sum(out * gout)` backpropagated and each
/// differentiated input's gradient against `grad<i>`.
fn run_case(fx: &Fx, name: &str, build: Build, r: Reduction) {
    let f64_case = name.ends_with("f64");
    let (tol_value, tol_grad) = if f64_case { (1e-10, 1e-10) } else { (1e-5, 1e-4) };
    let ins = fx.inputs(name);
    let vars: Vec<Variable> = ins
        .iter()
        .enumerate()
        .map(|(i, t)| Variable::new(t.clone(), fx.try_get(name, &format!("grad{i}")).is_some()))
        .collect();
    let case = Case { fx, name, r };
    let out = build(&case, &vars);
    close(&out.data(), &fx.get(name, "out0"), tol_value, &format!("{name} value"));
    let Some(gout) = fx.try_get(name, "gout0") else { return };
    (&out * &Variable::from(gout)).sum().backward();
    for (i, v) in vars.iter().enumerate() {
        if let Some(want) = fx.try_get(name, &format!("grad{i}")) {
            let got = v.grad().unwrap_or_else(|| want.zeros_like());
            close(&got, &want, tol_grad, &format!("{name} grad of input {i}"));
        }
    }
}

#[test]
fn every_loss_matches_pytorch() {
    let fx = Fx::load();
    let specs = specs();
    let mut seen = std::collections::HashSet::new();
    let cases = fx.cases();
    for name in &cases {
        let parts: Vec<&str> = name.split("__").collect();
        assert_eq!(parts.len(), 3, "case name {name}");
        let (_, build) = specs
            .iter()
            .find(|(s, _)| *s == parts[0])
            .unwrap_or_else(|| panic!("fixture spec {} has no line in specs()", parts[0]));
        seen.insert(parts[0]);
        run_case(&fx, name, *build, reduction(parts[1]));
    }
    for (s, _) in &specs {
        assert!(seen.contains(s), "spec {s} has no fixture case");
    }
    println!("{} fixture cases checked", cases.len());
    // every spec in both dtypes and at least the three reductions
    assert!(cases.len() >= specs.len() * 6, "{} cases for {} specs", cases.len(), specs.len());
}
