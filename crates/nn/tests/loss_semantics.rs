//! Closed-form and structural checks of the losses: the API's canonical use, defaults, output
//! shapes, ignored targets, functional and struct forms agreeing, and the fused cross-entropy graph.

use ember_autograd::Variable;
use ember_nn::functional as F;
use ember_nn::*;
use ember_tensor::Tensor;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn canonical_program_cross_entropy() {
    ember_tensor::manual_seed(0);
    let model = Linear::new(8, 10);
    let x = Variable::from(Tensor::randn(&[32, 8]));
    let y = Tensor::from_vec(vec![3i64; 32], &[32]);
    let logits = model.forward(&x);
    let loss = F::cross_entropy(&logits, &Variable::from(y));
    assert_eq!(loss.shape(), Vec::<usize>::new());
    // -mean(log_softmax(logits)[:, 3])
    let lp = logits.data().log_softmax(1).to_vec::<f32>();
    let want = -(0..32).map(|n| lp[n * 10 + 3] as f64).sum::<f64>() / 32.0;
    assert!(close(loss.data().item::<f32>() as f64, want, 1e-5));
    loss.backward();
    assert_eq!(model.weight.grad().unwrap().shape(), &[10, 8]);
    assert_eq!(model.bias.as_ref().unwrap().grad().unwrap().shape(), &[10]);
}

#[test]
fn cross_entropy_graph_is_log_softmax_and_gather() {
    let z = Variable::new(Tensor::randn(&[64, 10]), true);
    let t = Variable::from(Tensor::from_vec((0..64).map(|i| i % 10).collect::<Vec<i64>>(), &[64]));
    let loss = F::cross_entropy(&z, &t);
    let dot = loss.graph_dot();
    assert!(dot.contains("log_softmax") && dot.contains("gather"), "{dot}");
    assert!(!dot.contains("one_hot") && !dot.contains("scatter") && !dot.contains("mul"), "{dot}");
    let ops = dot.lines().filter(|l| l.contains("shape=box")).count();
    assert!(ops <= 5, "{ops} ops in\n{dot}");
    // the gradient is softmax minus one-hot, over the batch
    loss.backward();
    let g = z.grad().unwrap().to_vec::<f32>();
    let sm = z.data().softmax(1).to_vec::<f32>();
    for n in 0..64 {
        for k in 0..10 {
            let want = (sm[n * 10 + k] - if k == n % 10 { 1.0 } else { 0.0 }) / 64.0;
            assert!((g[n * 10 + k] - want).abs() < 1e-6);
        }
    }
}

#[test]
fn defaults_are_pytorchs() {
    let ce = CrossEntropyLoss::new();
    assert_eq!((ce.reduction, ce.ignore_index, ce.label_smoothing), (Reduction::Mean, -100, 0.0));
    assert!(ce.weight.is_none());
    assert_eq!(NllLoss::new().ignore_index, -100);
    assert_eq!(SmoothL1Loss::new().beta, 1.0);
    assert_eq!(HuberLoss::new().delta, 1.0);
    assert!(!KlDivLoss::new().log_target);
    assert_eq!(CosineEmbeddingLoss::new().margin, 0.0);
    assert_eq!(MarginRankingLoss::new().margin, 0.0);
    let tl = TripletMarginLoss::new();
    assert_eq!((tl.margin, tl.p, tl.eps, tl.swap), (1.0, 2.0, 1e-6, false));
    assert_eq!(HingeEmbeddingLoss::new().margin, 1.0);
    let p = PoissonNllLoss::new();
    assert_eq!((p.log_input, p.full, p.eps), (true, false, 1e-8));
    let g = GaussianNllLoss::new();
    assert_eq!((g.full, g.eps), (false, 1e-6));
    assert_eq!(Reduction::default(), Reduction::Mean);
}

#[test]
fn output_shapes_without_reduction() {
    let none = CrossEntropyLoss::new().reduction(Reduction::None);
    let unbatched =
        none.forward(&Variable::from(Tensor::randn(&[5])), &Variable::from(Tensor::from_vec(vec![2i64], &[])));
    assert_eq!(unbatched.shape(), Vec::<usize>::new());
    let kdim = none.forward(
        &Variable::from(Tensor::randn(&[2, 3, 4, 5])),
        &Variable::from(Tensor::zeros_dtype(&[2, 4, 5], ember_tensor::DType::I64)),
    );
    assert_eq!(kdim.shape(), vec![2, 4, 5]);
    let prob = none.forward(&Variable::from(Tensor::randn(&[2, 3, 4])), &Variable::from(Tensor::rand(&[2, 3, 4])));
    assert_eq!(prob.shape(), vec![2, 4]);
    let a = Variable::from(Tensor::randn(&[6, 4]));
    let tl = TripletMarginLoss::new().reduction(Reduction::None).forward(&a, &a, &a);
    assert_eq!(tl.shape(), vec![6]);
    let y = Variable::from(Tensor::ones(&[6]));
    assert_eq!(CosineEmbeddingLoss::new().reduction(Reduction::None).forward(&a, &a, &y).shape(), vec![6]);
}

#[test]
fn all_targets_ignored() {
    let z = Variable::new(Tensor::randn(&[4, 3]), true);
    let t = Variable::from(Tensor::from_vec(vec![-100i64; 4], &[4]));
    let mean = F::cross_entropy(&z, &t);
    assert!(mean.data().item::<f32>().is_nan(), "PyTorch gives NaN for the mean of no targets");
    mean.backward();
    assert!(z.grad().unwrap().to_vec::<f32>().iter().all(|&g| g == 0.0));
    let sum = CrossEntropyLoss::new().reduction(Reduction::Sum).forward(&z, &t);
    assert_eq!(sum.data().item::<f32>(), 0.0);
    let none = NllLoss::new().reduction(Reduction::None).forward(&z, &t);
    assert_eq!(none.data().to_vec::<f32>(), vec![0.0; 4]);
}

#[test]
fn ignored_targets_do_not_count_in_the_mean() {
    let z = Variable::from(Tensor::randn(&[4, 3]));
    let t = Variable::from(Tensor::from_vec(vec![0i64, -100, 2, -100], &[4]));
    let kept = CrossEntropyLoss::new().forward(&z, &t).data().item::<f32>();
    let z2 = Variable::from(Tensor::cat(&[z.data().narrow(0, 0, 1), z.data().narrow(0, 2, 1)], 0));
    let t2 = Variable::from(Tensor::from_vec(vec![0i64, 2], &[2]));
    let want = CrossEntropyLoss::new().forward(&z2, &t2).data().item::<f32>();
    assert!(close(kept as f64, want as f64, 1e-6));
}

#[test]
fn cross_entropy_is_nll_of_log_softmax() {
    let z = Variable::from(Tensor::randn(&[5, 7]));
    let t = Variable::from(Tensor::from_vec(vec![6i64, 0, 3, 3, 1], &[5]));
    let w = Tensor::rand(&[7]);
    let ce = CrossEntropyLoss::new().weight(w.clone()).forward(&z, &t).data().item::<f32>();
    let nll = NllLoss::new().weight(w).forward(&z.log_softmax(1), &t).data().item::<f32>();
    assert!(close(ce as f64, nll as f64, 1e-6));
    // probabilities equal to the one-hot targets give the same loss as the indices
    let onehot = Variable::from(t.data().one_hot(7).to_dtype(ember_tensor::DType::F32));
    let a = F::cross_entropy(&z, &t).data().item::<f32>();
    let b = F::cross_entropy(&z, &onehot).data().item::<f32>();
    assert!(close(a as f64, b as f64, 1e-6));
}

#[test]
fn full_label_smoothing_is_the_uniform_target() {
    let z = Variable::from(Tensor::randn(&[3, 4]));
    let t = Variable::from(Tensor::from_vec(vec![1i64, 2, 3], &[3]));
    let smoothed = CrossEntropyLoss::new().label_smoothing(1.0).forward(&z, &t).data().item::<f32>();
    let uniform = F::cross_entropy(&z, &Variable::from(Tensor::full(&[3, 4], 0.25))).data().item::<f32>();
    assert!(close(smoothed as f64, uniform as f64, 1e-6));
}

#[test]
fn functional_forms_match_the_structs() {
    let (x, y) = (Variable::from(Tensor::rand(&[3, 4])), Variable::from(Tensor::rand(&[3, 4])));
    let same = |a: Variable, b: Variable| assert_eq!(a.data().to_vec::<f32>(), b.data().to_vec::<f32>());
    same(F::mse_loss(&x, &y), MseLoss::new().forward(&x, &y));
    same(
        F::l1_loss_with(&x, &y, &L1Loss::new().reduction(Reduction::Sum)),
        L1Loss::new().reduction(Reduction::Sum).forward(&x, &y),
    );
    same(F::smooth_l1_loss_with(&x, &y, &SmoothL1Loss::new().beta(0.1)), SmoothL1Loss::new().beta(0.1).forward(&x, &y));
    same(F::huber_loss(&x, &y), HuberLoss::new().forward(&x, &y));
    same(F::binary_cross_entropy(&x, &y), BceLoss::new().forward(&x, &y));
    same(F::binary_cross_entropy_with_logits(&x, &y), BceWithLogitsLoss::new().forward(&x, &y));
    same(
        F::kl_div_with(&x, &y, &KlDivLoss::new().reduction(Reduction::Batchmean)),
        KlDivLoss::new().reduction(Reduction::Batchmean).forward(&x, &y),
    );
    same(F::poisson_nll_loss(&x, &y), PoissonNllLoss::new().forward(&x, &y));
    same(F::hinge_embedding_loss(&x, &y), HingeEmbeddingLoss::new().forward(&x, &y));
    same(F::gaussian_nll_loss(&x, &y, &y), GaussianNllLoss::new().forward(&x, &y, &y));
    same(F::triplet_margin_loss(&x, &y, &x), TripletMarginLoss::new().forward(&x, &y, &x));
    let lbl = Variable::from(Tensor::from_vec(vec![1.0f32, -1.0, 1.0], &[3]));
    same(F::cosine_embedding_loss(&x, &y, &lbl), CosineEmbeddingLoss::new().forward(&x, &y, &lbl));
    same(
        F::margin_ranking_loss(&x.select(1, 0), &y.select(1, 0), &lbl),
        MarginRankingLoss::new().forward(&x.select(1, 0), &y.select(1, 0), &lbl),
    );
    let t = Variable::from(Tensor::from_vec(vec![0i64, 3, 1], &[3]));
    same(F::nll_loss(&x, &t), NllLoss::new().forward(&x, &t));
    same(
        F::cross_entropy_with(&x, &t, &CrossEntropyLoss::new().label_smoothing(0.1)),
        CrossEntropyLoss::new().label_smoothing(0.1).forward(&x, &t),
    );
}

#[test]
fn kl_batchmean_divides_by_the_batch() {
    let q = Variable::from(Tensor::randn(&[4, 5]).log_softmax(1));
    let p = Variable::from(Tensor::rand(&[4, 5]).softmax(1));
    let sum = KlDivLoss::new().reduction(Reduction::Sum).forward(&q, &p).data().item::<f32>();
    let bm = KlDivLoss::new().reduction(Reduction::Batchmean).forward(&q, &p).data().item::<f32>();
    assert!(close(bm as f64, sum as f64 / 4.0, 1e-6));
}

#[test]
fn targets_get_gradients_where_pytorch_gives_them() {
    let x = Variable::new(Tensor::rand(&[2, 3]), true);
    let y = Variable::new(Tensor::rand(&[2, 3]), true);
    F::mse_loss(&x, &y).backward();
    let (gx, gy) = (x.grad().unwrap().to_vec::<f32>(), y.grad().unwrap().to_vec::<f32>());
    assert!(gx.iter().zip(&gy).all(|(a, b)| (a + b).abs() < 1e-7));
    // class indices are constants
    let z = Variable::new(Tensor::randn(&[2, 3]), true);
    let t = Variable::from(Tensor::from_vec(vec![0i64, 2], &[2]));
    F::cross_entropy(&z, &t).backward();
    assert!(t.grad().is_none());
}

#[test]
fn bce_clamps_its_logs_at_minus_100() {
    let p = Variable::new(Tensor::from_vec(vec![0.0f32, 1.0], &[2]), true);
    let y = Variable::from(Tensor::from_vec(vec![1.0f32, 0.0], &[2]));
    let l = BceLoss::new().reduction(Reduction::None).forward(&p, &y);
    assert_eq!(l.data().to_vec::<f32>(), vec![100.0, 100.0]);
    l.sum().backward();
    // w (x - y) / max(x (1 - x), 1e-12): finite
    let g = p.grad().unwrap().to_vec::<f32>();
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    assert!(g[0] < -1e11 && g[1] > 1e11);
}
