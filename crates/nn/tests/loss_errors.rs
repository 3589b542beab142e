//! Bad input to every loss: each is an error (panic in `forward`, `Err` in `try_forward`) whose
//! message names the loss and the offending values; no out-of-bounds read.

use ember_autograd::Variable;
use ember_nn::functional as F;
use ember_nn::*;
use ember_tensor::{Result, Tensor};

fn v(t: Tensor) -> Variable {
    Variable::from(t)
}

fn zeros(shape: &[usize]) -> Variable {
    v(Tensor::zeros(shape))
}

fn labels(vals: &[i64], shape: &[usize]) -> Variable {
    v(Tensor::from_vec(vals.to_vec(), shape))
}

/// Asserts an error whose message contains every one of `parts`.
#[track_caller]
fn fails(r: Result<Variable>, parts: &[&str]) {
    let msg = match r {
        Ok(v) => panic!("expected an error, got a loss of shape {:?}", v.shape()),
        Err(e) => e.to_string(),
    };
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} should mention {p:?}");
    }
}

#[test]
fn class_index_out_of_range() {
    let x = zeros(&[3, 5]);
    fails(
        CrossEntropyLoss::new().try_forward(&x, &labels(&[0, 5, 1], &[3])),
        &["cross_entropy", "target 5", "5 classes"],
    );
    fails(
        CrossEntropyLoss::new().try_forward(&x, &labels(&[0, -1, 1], &[3])),
        &["cross_entropy", "target -1", "5 classes"],
    );
    fails(NllLoss::new().try_forward(&x, &labels(&[0, 1, 99], &[3])), &["nll_loss", "target 99", "5 classes"]);
    fails(NllLoss::new().try_forward(&x, &labels(&[-7, -100, 1], &[3])), &["nll_loss", "target -7"]);
    // the ignore_index moved: -100 is now out of range, -1 is fine
    fails(CrossEntropyLoss::new().ignore_index(-1).try_forward(&x, &labels(&[-1, -100, 1], &[3])), &["target -100"]);
    assert!(CrossEntropyLoss::new().ignore_index(-1).try_forward(&x, &labels(&[-1, 4, 0], &[3])).is_ok());
    // K-dim and unbatched
    fails(
        CrossEntropyLoss::new().try_forward(&zeros(&[1, 3, 2, 2]), &labels(&[0, 1, 2, 3], &[1, 2, 2])),
        &["target 3", "3 classes"],
    );
    fails(CrossEntropyLoss::new().try_forward(&zeros(&[4]), &labels(&[4], &[])), &["target 4", "4 classes"]);
    // class weights do not change the check (the weight lookup never runs on a bad index)
    let w = Tensor::ones(&[5]);
    fails(CrossEntropyLoss::new().weight(w).try_forward(&x, &labels(&[0, 1, 6], &[3])), &["target 6"]);
}

#[test]
#[should_panic(expected = "cross_entropy: target 10 is out of bounds for 10 classes")]
fn functional_cross_entropy_panics_on_a_bad_class() {
    let _ = F::cross_entropy(&zeros(&[2, 10]), &labels(&[3, 10], &[2]));
}

#[test]
fn wrong_target_dtype() {
    let x = zeros(&[3, 5]);
    fails(NllLoss::new().try_forward(&x, &zeros(&[3])), &["nll_loss", "I64", "F32"]);
    // a float target of another shape than the input is neither indices nor probabilities
    fails(CrossEntropyLoss::new().try_forward(&x, &zeros(&[3])), &["cross_entropy", "I64", "probabilities", "[3, 5]"]);
    fails(
        CrossEntropyLoss::new().try_forward(&x, &v(Tensor::zeros(&[3, 5]).to_dtype(ember_tensor::DType::F64))),
        &["cross_entropy", "F64", "F32"],
    );
    fails(
        CrossEntropyLoss::new().try_forward(&labels(&[1, 2], &[1, 2]), &labels(&[0], &[1])),
        &["floating-point", "I64"],
    );
    fails(MseLoss::new().try_forward(&labels(&[1], &[1]), &labels(&[1], &[1])), &["mse_loss", "floating-point"]);
    fails(
        MseLoss::new().try_forward(&zeros(&[2]), &v(Tensor::zeros(&[2]).to_dtype(ember_tensor::DType::F64))),
        &["mse_loss", "F64", "F32"],
    );
    let b = v(Tensor::zeros(&[2]).gt_scalar(0.0));
    fails(HingeEmbeddingLoss::new().try_forward(&zeros(&[2]), &b), &["hinge_embedding_loss", "Bool"]);
}

#[test]
fn class_target_shape_mismatch() {
    fails(
        CrossEntropyLoss::new().try_forward(&zeros(&[4, 5]), &labels(&[0, 1, 2], &[3])),
        &["cross_entropy", "[4]", "[3]", "[4, 5]"],
    );
    fails(
        CrossEntropyLoss::new().try_forward(&zeros(&[2, 3, 4, 4]), &labels(&[0; 32], &[2, 4, 4, 1])),
        &["[2, 4, 4]", "[2, 4, 4, 1]"],
    );
    fails(NllLoss::new().try_forward(&zeros(&[5]), &labels(&[0], &[1])), &["nll_loss", "[]", "[1]"]);
    fails(NllLoss::new().try_forward(&zeros(&[]), &labels(&[0], &[])), &["nll_loss", "class dimension"]);
}

#[test]
fn class_weights_of_the_wrong_length() {
    let (x, t) = (zeros(&[3, 5]), labels(&[0, 1, 2], &[3]));
    fails(
        CrossEntropyLoss::new().weight(Tensor::ones(&[4])).try_forward(&x, &t),
        &["cross_entropy", "weight", "[5]", "[4]"],
    );
    fails(NllLoss::new().weight(Tensor::ones(&[5, 1])).try_forward(&x, &t), &["nll_loss", "weight", "[5, 1]"]);
    let p = zeros(&[3, 5]);
    fails(CrossEntropyLoss::new().weight(Tensor::ones(&[6])).try_forward(&x, &p), &["cross_entropy", "weight", "[6]"]);
    fails(
        NllLoss::new().weight(Tensor::from_vec(vec![1i64; 5], &[5])).try_forward(&x, &t),
        &["weight", "float", "I64"],
    );
}

#[test]
fn elementwise_shape_mismatch() {
    let (a, b) = (zeros(&[2, 3]), zeros(&[3]));
    fails(MseLoss::new().try_forward(&a, &b), &["mse_loss", "[2, 3]", "[3]"]);
    fails(L1Loss::new().try_forward(&a, &b), &["l1_loss", "[2, 3]", "[3]"]);
    fails(SmoothL1Loss::new().try_forward(&a, &b), &["smooth_l1_loss", "[2, 3]", "[3]"]);
    fails(HuberLoss::new().try_forward(&a, &b), &["huber_loss", "[2, 3]", "[3]"]);
    fails(BceLoss::new().try_forward(&a, &b), &["binary_cross_entropy", "[2, 3]", "[3]"]);
    fails(BceWithLogitsLoss::new().try_forward(&a, &b), &["binary_cross_entropy_with_logits", "[2, 3]", "[3]"]);
    fails(KlDivLoss::new().try_forward(&a, &b), &["kl_div", "[2, 3]", "[3]"]);
    fails(HingeEmbeddingLoss::new().try_forward(&a, &b), &["hinge_embedding_loss", "[2, 3]", "[3]"]);
    fails(PoissonNllLoss::new().try_forward(&a, &b), &["poisson_nll_loss", "[2, 3]", "[3]"]);
    fails(GaussianNllLoss::new().try_forward(&a, &b, &a), &["gaussian_nll_loss", "[2, 3]", "[3]"]);
    fails(MarginRankingLoss::new().try_forward(&a, &a, &b), &["margin_ranking_loss", "[2, 3]", "[3]"]);
    fails(MarginRankingLoss::new().try_forward(&a, &zeros(&[3, 2]), &a), &["margin_ranking_loss", "[2, 3]", "[3, 2]"]);
    fails(TripletMarginLoss::new().try_forward(&a, &a, &zeros(&[2, 4])), &["triplet_margin_loss", "[2, 3]", "[2, 4]"]);
    fails(
        CosineEmbeddingLoss::new().try_forward(&a, &zeros(&[2, 4]), &zeros(&[2])),
        &["cosine_embedding_loss", "[2, 4]"],
    );
    fails(CosineEmbeddingLoss::new().try_forward(&a, &a, &zeros(&[3])), &["cosine_embedding_loss", "[2, 3]", "[3]"]);
    fails(CosineEmbeddingLoss::new().try_forward(&a, &a, &zeros(&[2, 1])), &["cosine_embedding_loss", "[2, 1]"]);
}

#[test]
#[should_panic(expected = "mse_loss: input shape [4, 1] and target shape [4] differ")]
fn functional_mse_refuses_to_broadcast() {
    let _ = F::mse_loss(&zeros(&[4, 1]), &zeros(&[4]));
}

#[test]
fn weights_that_do_not_broadcast() {
    let (x, y) = (v(Tensor::full(&[2, 3], 0.5)), zeros(&[2, 3]));
    fails(
        BceLoss::new().weight(Tensor::ones(&[2])).try_forward(&x, &y),
        &["binary_cross_entropy", "weight", "[2]", "[2, 3]"],
    );
    fails(
        BceWithLogitsLoss::new().pos_weight(Tensor::ones(&[4])).try_forward(&x, &y),
        &["pos_weight", "[4]", "[2, 3]"],
    );
    fails(BceWithLogitsLoss::new().weight(Tensor::ones(&[3, 3])).try_forward(&x, &y), &["weight", "[3, 3]"]);
}

#[test]
fn gaussian_variance_checks() {
    let x = zeros(&[4, 3]);
    fails(GaussianNllLoss::new().try_forward(&x, &x, &zeros(&[3])), &["gaussian_nll_loss", "var", "[3]", "[4, 3]"]);
    fails(GaussianNllLoss::new().try_forward(&x, &x, &zeros(&[2, 3])), &["var", "[2, 3]"]);
    let neg = v(Tensor::from_vec(vec![1.0f32, -0.5, 1.0, 1.0], &[4]));
    fails(GaussianNllLoss::new().try_forward(&x, &x, &neg), &["gaussian_nll_loss", "negative"]);
    // the shapes PyTorch accepts
    for s in [&[4, 3][..], &[4], &[4, 1], &[1, 3]] {
        assert!(GaussianNllLoss::new().try_forward(&x, &x, &v(Tensor::ones(s))).is_ok(), "var {s:?}");
    }
}

#[test]
fn bad_options() {
    let (x, y) = (zeros(&[2, 3]), zeros(&[2, 3]));
    fails(MseLoss::new().reduction(Reduction::Batchmean).try_forward(&x, &y), &["mse_loss", "Batchmean", "kl_div"]);
    fails(
        CrossEntropyLoss::new().reduction(Reduction::Batchmean).try_forward(&x, &labels(&[0, 1], &[2])),
        &["cross_entropy", "Batchmean"],
    );
    fails(
        CrossEntropyLoss::new().label_smoothing(1.5).try_forward(&x, &labels(&[0, 1], &[2])),
        &["label_smoothing", "1.5"],
    );
    fails(CrossEntropyLoss::new().label_smoothing(-0.1).try_forward(&x, &y), &["label_smoothing", "-0.1"]);
    fails(SmoothL1Loss::new().beta(-1.0).try_forward(&x, &y), &["smooth_l1_loss", "beta", "-1"]);
    fails(HuberLoss::new().delta(0.0).try_forward(&x, &y), &["huber_loss", "delta", "0"]);
    fails(TripletMarginLoss::new().margin(0.0).try_forward(&x, &x, &x), &["triplet_margin_loss", "margin", "0"]);
    fails(TripletMarginLoss::new().p(0.0).try_forward(&x, &x, &x), &["triplet_margin_loss", "p", "0"]);
    fails(TripletMarginLoss::new().try_forward(&zeros(&[]), &zeros(&[]), &zeros(&[])), &["triplet_margin_loss", "0-d"]);
}

#[test]
fn bce_input_outside_unit_interval() {
    let x = v(Tensor::from_vec(vec![0.2f32, 1.5], &[2]));
    fails(BceLoss::new().try_forward(&x, &zeros(&[2])), &["binary_cross_entropy", "between 0 and 1", "1.5"]);
    let x = v(Tensor::from_vec(vec![-0.25f32, 0.5], &[2]));
    fails(BceLoss::new().try_forward(&x, &zeros(&[2])), &["-0.25"]);
}

#[test]
#[should_panic(expected = "margin_ranking_loss: target has dtype F64")]
fn three_input_forward_panics_with_the_message() {
    let a = zeros(&[3]);
    let _ = F::margin_ranking_loss(&a, &a, &v(Tensor::zeros(&[3]).to_dtype(ember_tensor::DType::F64)));
}
