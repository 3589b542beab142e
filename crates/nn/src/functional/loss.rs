//! Loss functions, as `torch.nn.functional`: each `f(&input, &target)` uses PyTorch's defaults (mean
//! reduction), and each `f_with(.., &options)` takes the loss struct of [`crate::loss`] as its
//! options (`cross_entropy_with(&x, &t, &CrossEntropyLoss::new().label_smoothing(0.1))`).
//!
//! All panic on bad input with a message naming the loss and the values; the structs'
//! `try_forward` is the checked path.
//!
//! ```
//! use ember_nn::functional::{cross_entropy, mse_loss};
//! use ember_autograd::Variable;
//! use ember_tensor::Tensor;
//! let logits = Variable::new(Tensor::zeros(&[32, 10]), true);
//! let target = Variable::from(Tensor::from_vec(vec![3i64; 32], &[32]));
//! let loss = cross_entropy(&logits, &target);
//! assert!((loss.data().item::<f32>() - 10f32.ln()).abs() < 1e-6);
//! loss.backward();
//! assert_eq!(logits.grad().unwrap().shape(), &[32, 10]);
//! let x = Variable::from(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
//! assert_eq!(mse_loss(&x, &Variable::from(Tensor::zeros(&[2]))).data().item::<f32>(), 2.5);
//! ```

use ember_autograd::Variable;

pub use crate::loss::Reduction;
use crate::loss::{
    BceLoss, BceWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, GaussianNllLoss, HingeEmbeddingLoss, HuberLoss,
    KlDivLoss, L1Loss, MarginRankingLoss, MseLoss, NllLoss, PoissonNllLoss, SmoothL1Loss, TripletMarginLoss,
};

/// Defines `name(a, b)` with the default options and `name_with(a, b, &opts)`.
macro_rules! two_input {
    ($($name:ident, $with:ident, $T:ident, $doc:literal;)*) => {$(
        #[doc = concat!($doc, " with PyTorch's defaults (mean reduction); see [`", stringify!($T), "`](crate::", stringify!($T), ").")]
        #[must_use]
        #[track_caller]
        pub fn $name(input: &Variable, target: &Variable) -> Variable {
            $T::new().forward(input, target)
        }

        #[doc = concat!($doc, " with the options of `opts`.")]
        #[must_use]
        #[track_caller]
        pub fn $with(input: &Variable, target: &Variable, opts: &$T) -> Variable {
            opts.forward(input, target)
        }
    )*};
}

two_input! {
    mse_loss, mse_loss_with, MseLoss, "Mean squared error";
    l1_loss, l1_loss_with, L1Loss, "Mean absolute error";
    smooth_l1_loss, smooth_l1_loss_with, SmoothL1Loss, "Smooth L1 loss";
    huber_loss, huber_loss_with, HuberLoss, "Huber loss";
    cross_entropy, cross_entropy_with, CrossEntropyLoss, "Cross-entropy of logits against `I64` class indices or class probabilities,";
    nll_loss, nll_loss_with, NllLoss, "Negative log-likelihood of log-probabilities against `I64` class indices,";
    binary_cross_entropy, binary_cross_entropy_with, BceLoss, "Binary cross-entropy of probabilities";
    binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_with, BceWithLogitsLoss, "Binary cross-entropy of logits";
    kl_div, kl_div_with, KlDivLoss, "KL divergence of `target` from the log-probabilities `input`,";
    hinge_embedding_loss, hinge_embedding_loss_with, HingeEmbeddingLoss, "Hinge embedding loss";
    poisson_nll_loss, poisson_nll_loss_with, PoissonNllLoss, "Poisson negative log-likelihood";
}

/// Defines `name(a, b, c)` with the default options and `name_with(a, b, c, &opts)`.
macro_rules! three_input {
    ($($name:ident, $with:ident, $T:ident, $a:ident, $b:ident, $c:ident, $doc:literal;)*) => {$(
        #[doc = concat!($doc, " with PyTorch's defaults (mean reduction); see [`", stringify!($T), "`](crate::", stringify!($T), ").")]
        #[must_use]
        #[track_caller]
        pub fn $name($a: &Variable, $b: &Variable, $c: &Variable) -> Variable {
            $T::new().forward($a, $b, $c)
        }

        #[doc = concat!($doc, " with the options of `opts`.")]
        #[must_use]
        #[track_caller]
        pub fn $with($a: &Variable, $b: &Variable, $c: &Variable, opts: &$T) -> Variable {
            opts.forward($a, $b, $c)
        }
    )*};
}

three_input! {
    cosine_embedding_loss, cosine_embedding_loss_with, CosineEmbeddingLoss, input1, input2, target, "Cosine embedding loss";
    margin_ranking_loss, margin_ranking_loss_with, MarginRankingLoss, input1, input2, target, "Margin ranking loss";
    triplet_margin_loss, triplet_margin_loss_with, TripletMarginLoss, anchor, positive, negative, "Triplet margin loss";
    gaussian_nll_loss, gaussian_nll_loss_with, GaussianNllLoss, input, target, var, "Gaussian negative log-likelihood";
}
