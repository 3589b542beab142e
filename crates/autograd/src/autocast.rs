//! Autocast: mixed precision inside a closure, PyTorch's `torch.autocast(device, dtype)`.
//!
//! While [`autocast`] runs its closure on a thread, each op on one of PyTorch's autocast lists
//! casts its floating inputs before it runs, as PyTorch's autocast dispatch does; every other op
//! runs in its inputs' dtype. The lists are PyTorch's (`aten/src/ATen/autocast_mode.cpp` for the
//! CPU, `AT_FORALL_*` of `autocast_mode.h` for CUDA) and they differ by device: **a CPU tensor
//! follows PyTorch's CPU list and a GPU tensor follows PyTorch's CUDA list** (our one `autocast`
//! covers both devices; each input is judged by its own device). The table [`POLICIES`] holds
//! every Ember op that is on a list, with its [`CastPolicy`]:
//!
//! - **lower precision** on both devices ([`CastPolicy::LowerPrecision`]): `matmul`, `mm`, `bmm`,
//!   `linear`, `conv1d`, `conv2d`, `conv3d`, `conv_transpose1d`, `conv_transpose2d`, `prelu`,
//!   `scaled_dot_product_attention` (so `MultiheadAttention`, built of `linear` and attention, runs
//!   in the low precision as PyTorch's does). Floating inputs other than `F64` are cast to the
//!   autocast dtype (PyTorch leaves `float64` alone).
//! - **f32** on both devices ([`CastPolicy::Fp32`]): the losses `mse_loss`, `l1_loss`,
//!   `smooth_l1_loss`, `huber_loss`, `cross_entropy`, `nll_loss`, `kl_div`,
//!   `binary_cross_entropy_with_logits`, `poisson_nll_loss`, `hinge_embedding_loss`,
//!   `cosine_embedding_loss`, `margin_ranking_loss`, `triplet_margin_loss`, and `prod`: 16-bit
//!   inputs are cast to `F32`, so the loss is an `F32` value.
//! - **f32 on the CPU only** ([`CastPolicy::Fp32OnCpu`]): `binary_cross_entropy` and the
//!   `reflect`/`replicate` modes of `pad`. On the GPU, as on CUDA, `binary_cross_entropy` of a
//!   16-bit input inside autocast is refused (use `binary_cross_entropy_with_logits`).
//! - **f32 on the GPU only** ([`CastPolicy::Fp32OnGpu`], CUDA's `fp32` and
//!   `fp32_set_opt_dtype` lists): `exp`, `log`, `log1p`, `rsqrt`, `recip`, `pow` (`powf`,
//!   `pow_scalar`, `pow`), `softplus`, `softmax`, `log_softmax`, `logsumexp`, `sum` (and
//!   `sum_dim`), `cumsum`, `cumprod`, `layer_norm`, `rms_norm`, `group_norm`,
//!   `cosine_similarity` and `interpolate`. On the CPU these stay in their input's dtype, as on
//!   PyTorch's CPU: softmax and layer_norm of a BF16 tensor are BF16 there.
//! - **promote** ([`CastPolicy::Promote`]): the inputs are cast to the widest floating dtype
//!   among them (`F64` > `F32` > `F16`, `BF16`; `F16` with `BF16` gives `F32`). PyTorch promotes
//!   mixed dtypes in every op; Ember requires equal dtypes outside autocast and promotes inside
//!   it, so the f32 residual plus a BF16 attention output of a transformer layer is an F32 sum as
//!   in PyTorch: binary arithmetic (`add`, `sub`, `mul`, `div`, `pow` on the CPU, `maximum`,
//!   `minimum`), `cat`, `stack` (CPU's promote list), `dot`, `bilinear` (CUDA's) and
//!   `gaussian_nll_loss` (a composite of promoting arithmetic in PyTorch).
//!
//! Not covered: the recurrent layers (PyTorch's CPU list has `mkldnn_rnn_layer`, CUDA's the
//! `lstm_cell`/`gru_cell` family) and ops Ember does not have (`baddbmm`, `addmm`, `cdist`, FFTs,
//! linear algebra, 3-d pooling).
//!
//! The casts are ordinary [`Variable::to_dtype`] nodes: the gradient flows back through them
//! and arrives at each leaf in the leaf's own dtype. The backward walk runs with autocast off,
//! so each backward rule computes in the dtypes its forward saw.

use std::cell::Cell;

use ember_tensor::DType;

use crate::Variable;

thread_local! {
    static AUTOCAST: Cell<Option<DType>> = const { Cell::new(None) };
}

/// Restores the previous autocast state when dropped (also when the closure panics).
pub(crate) struct Restore(Option<DType>);

impl Restore {
    /// Turns autocast off until the guard is dropped (the backward walk).
    pub(crate) fn suspend() -> Restore {
        Restore(AUTOCAST.with(|a| a.replace(None)))
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        AUTOCAST.with(|a| a.set(self.0));
    }
}

/// Runs `f` with autocast to the 16-bit float `dtype` on this thread (see the module docs);
/// nests (the innermost dtype applies) and the previous state comes back when `f` returns or
/// panics.
///
/// **Panics** when `dtype` is not `F16` or `BF16`.
///
/// ```
/// use ember_autograd::{autocast, Variable};
/// use ember_tensor::{DType, Tensor};
/// let x = Variable::new(Tensor::randn(&[2, 3]), true);
/// let w = Variable::new(Tensor::randn(&[4, 3]), true);
/// let (y, l) = autocast(DType::BF16, || {
///     let y = x.linear(&w, None); // lower-precision list: BF16
///     (y.clone(), y.prod())       // prod is on the f32 list
/// });
/// assert_eq!((y.dtype(), l.dtype()), (DType::BF16, DType::F32));
/// y.sum().backward();
/// assert_eq!(w.grad().unwrap().dtype(), DType::F32);
/// ```
#[track_caller]
pub fn autocast<R>(dtype: DType, f: impl FnOnce() -> R) -> R {
    assert!(dtype.is_half(), "autocast: the dtype must be F16 or BF16, got {dtype}");
    let _restore = Restore(AUTOCAST.with(|a| a.replace(Some(dtype))));
    f()
}

/// The autocast dtype active on this thread, if any.
pub fn autocast_dtype() -> Option<DType> {
    AUTOCAST.with(|a| a.get())
}

/// How an op on PyTorch's autocast lists treats its floating inputs (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CastPolicy {
    /// PyTorch's `lower_precision_fp`, on the CPU and the GPU: inputs of `F32`, `F16` or `BF16`
    /// are cast to the autocast dtype (`F64` is left alone).
    LowerPrecision,
    /// PyTorch's `fp32`, on the CPU and the GPU: `F16` and `BF16` inputs are cast to `F32`.
    Fp32,
    /// `fp32` on PyTorch's CPU list only: CPU inputs as [`CastPolicy::Fp32`], GPU inputs untouched.
    Fp32OnCpu,
    /// `fp32` (or `fp32_set_opt_dtype`) on PyTorch's CUDA list only: GPU inputs as
    /// [`CastPolicy::Fp32`], CPU inputs untouched.
    Fp32OnGpu,
    /// PyTorch's `promote` (and its type promotion): the floating inputs are cast to the widest
    /// floating dtype among them.
    Promote,
}

impl CastPolicy {
    /// True when the policy casts inputs that live on the CPU (`cpu`) or on a GPU (`!cpu`).
    pub fn applies_on(self, cpu: bool) -> bool {
        match self {
            CastPolicy::Fp32OnCpu => cpu,
            CastPolicy::Fp32OnGpu => !cpu,
            _ => true,
        }
    }
}

/// Every Ember op on one of PyTorch's autocast lists, by the name its autocast hook passes to
/// [`autocast_inputs`] (PyTorch's aten name where one exists).
pub const POLICIES: &[(&str, CastPolicy)] = {
    use CastPolicy::*;
    &[
        // lower_precision_fp (CPU and CUDA lists)
        ("matmul", LowerPrecision),
        ("linear", LowerPrecision),
        ("conv1d", LowerPrecision),
        ("conv2d", LowerPrecision),
        ("conv3d", LowerPrecision),
        ("conv_transpose2d", LowerPrecision),
        ("prelu", LowerPrecision),
        ("scaled_dot_product_attention", LowerPrecision),
        // fp32 (both lists)
        ("prod", Fp32),
        ("mse_loss", Fp32),
        ("l1_loss", Fp32),
        ("smooth_l1_loss", Fp32),
        ("huber_loss", Fp32),
        ("cross_entropy", Fp32),
        ("nll_loss", Fp32),
        ("kl_div", Fp32),
        ("binary_cross_entropy_with_logits", Fp32),
        ("poisson_nll_loss", Fp32),
        ("hinge_embedding_loss", Fp32),
        ("cosine_embedding_loss", Fp32),
        ("margin_ranking_loss", Fp32),
        ("triplet_margin_loss", Fp32),
        // fp32 on the CPU list only (CUDA bans binary_cross_entropy)
        ("binary_cross_entropy", Fp32OnCpu),
        ("reflection_pad", Fp32OnCpu),
        ("replication_pad", Fp32OnCpu),
        // fp32 and fp32_set_opt_dtype on the CUDA list only
        ("exp", Fp32OnGpu),
        ("log", Fp32OnGpu),
        ("log1p", Fp32OnGpu),
        ("rsqrt", Fp32OnGpu),
        ("recip", Fp32OnGpu),
        ("pow", Fp32OnGpu),
        ("softplus", Fp32OnGpu),
        ("softmax", Fp32OnGpu),
        ("log_softmax", Fp32OnGpu),
        ("logsumexp", Fp32OnGpu),
        ("sum", Fp32OnGpu),
        ("cumsum", Fp32OnGpu),
        ("cumprod", Fp32OnGpu),
        ("layer_norm", Fp32OnGpu),
        ("rms_norm", Fp32OnGpu),
        ("group_norm", Fp32OnGpu),
        ("cosine_similarity", Fp32OnGpu),
        ("interpolate", Fp32OnGpu),
        // promote (CPU list: cat, stack; CUDA list: dot, bilinear) and type promotion
        ("promote", Promote),
        ("cat", Promote),
        ("stack", Promote),
        ("dot", Promote),
        ("bilinear", Promote),
        ("gaussian_nll_loss", Promote),
    ]
};

/// The autocast policy of `op` (a name of [`POLICIES`]), if it is on a list.
pub fn autocast_policy(op: &str) -> Option<CastPolicy> {
    POLICIES.iter().find(|(n, _)| *n == op).map(|&(_, p)| p)
}

/// The inputs of an op after its autocast casts (see [`autocast_inputs`]), in the order given.
#[derive(Clone, Debug)]
pub struct AutocastArgs(Vec<Option<Variable>>);

impl AutocastArgs {
    /// Input `i`, which was given as `Some`.
    ///
    /// **Panics** when input `i` was given as `None`.
    #[track_caller]
    pub fn var(&self, i: usize) -> &Variable {
        self.0[i].as_ref().expect("autocast: the input was given as None")
    }

    /// Input `i`, `None` where it was given as `None`.
    pub fn opt(&self, i: usize) -> Option<&Variable> {
        self.0[i].as_ref()
    }
}

/// The widest floating dtype of `a` and `b` for promotion.
fn wider(a: DType, b: DType) -> DType {
    let rank = |d: DType| match d {
        DType::F64 => 3,
        DType::F32 => 2,
        _ => 1,
    };
    match rank(a).cmp(&rank(b)) {
        std::cmp::Ordering::Greater => a,
        std::cmp::Ordering::Less => b,
        std::cmp::Ordering::Equal if a == b => a,
        // F16 with BF16
        std::cmp::Ordering::Equal => DType::F32,
    }
}

/// The autocast hook of an op: with autocast on and `op` on a list (see [`POLICIES`]), the
/// inputs cast as its policy says, or `None` when autocast is off, `op` is on no list for these
/// inputs' devices, or no input changes. An op calls itself again with the cast inputs when this
/// is `Some` (the second call finds nothing to change).
///
/// ```
/// use ember_autograd::{autocast, autocast_inputs, Variable};
/// use ember_tensor::{DType, Tensor};
/// let x = Variable::from(Tensor::ones(&[2]).to_dtype(DType::BF16));
/// assert!(autocast_inputs("mse_loss", &[Some(&x)]).is_none()); // autocast is off
/// autocast(DType::BF16, || {
///     let cast = autocast_inputs("mse_loss", &[Some(&x), None]).unwrap();
///     assert_eq!(cast.var(0).dtype(), DType::F32);
///     assert!(cast.opt(1).is_none());
/// });
/// ```
pub fn autocast_inputs(op: &str, args: &[Option<&Variable>]) -> Option<AutocastArgs> {
    let low = autocast_dtype()?;
    let policy = autocast_policy(op)?;
    let target = |v: &Variable| -> Option<DType> {
        let dt = v.dtype();
        if !dt.is_float() || !policy.applies_on(v.device().is_cpu()) {
            return None;
        }
        match policy {
            CastPolicy::LowerPrecision => (dt != DType::F64).then_some(low),
            CastPolicy::Fp32 | CastPolicy::Fp32OnCpu | CastPolicy::Fp32OnGpu => dt.is_half().then_some(DType::F32),
            CastPolicy::Promote => None, // decided below over all inputs
        }
    };
    let targets: Vec<Option<DType>> = if policy == CastPolicy::Promote {
        let widest = args.iter().flatten().map(|v| v.dtype()).filter(|d| d.is_float()).reduce(wider)?;
        args.iter().map(|a| a.filter(|v| v.dtype().is_float()).map(|_| widest)).collect()
    } else {
        args.iter().map(|a| a.and_then(&target)).collect()
    };
    let changes = args.iter().zip(&targets).any(|(a, t)| matches!((a, t), (Some(v), Some(t)) if v.dtype() != *t));
    if !changes {
        return None;
    }
    let cast = args.iter().zip(targets).map(|(a, t)| a.map(|v| t.map_or_else(|| v.clone(), |t| v.to_dtype(t))));
    Some(AutocastArgs(cast.collect()))
}

/// [`autocast_inputs`] of two required inputs (the common case), as a pair.
pub(crate) fn cast2(op: &str, a: &Variable, b: &Variable) -> Option<(Variable, Variable)> {
    autocast_inputs(op, &[Some(a), Some(b)]).map(|c| (c.var(0).clone(), c.var(1).clone()))
}

/// [`autocast_inputs`] of one input.
pub(crate) fn cast1(op: &str, a: &Variable) -> Option<Variable> {
    autocast_inputs(op, &[Some(a)]).map(|c| c.var(0).clone())
}
