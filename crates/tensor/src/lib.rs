//! `ember-tensor`: the n-dimensional array at the bottom of Ember.
//!
//! A [`Tensor`] is shared storage on a [`Device`] seen through a [`Layout`](shape::Layout) (shape,
//! strides, offset), with a runtime [`DType`]. Ops follow PyTorch's names and semantics: broadcasting,
//! negative dims, views that share storage. Every panicking op has a `try_*` form returning
//! [`Result`].
//!
//! ```
//! use ember_tensor::Tensor;
//! let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
//! let b = Tensor::ones(&[3]);
//! let c = &a + &b; // broadcasts [3] over [2, 3]
//! assert_eq!(c.to_vec::<f32>(), vec![2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
//! ```
#![doc(test(attr(deny(warnings))))]
#![warn(missing_docs)]

#[macro_use]
mod storage;

mod backend;
pub mod cpu;
mod device;
mod display;
mod dtype;
mod error;
pub mod io;
pub mod op_desc;
pub mod ops;
mod random;
pub mod shape;
mod tensor;
#[cfg(feature = "gpu")]
pub mod wgpu;

pub use backend::{
    adapter_names, gpu_counters, gpu_dispatch_tally, gpu_empty_cache, gpu_kernel_times, gpu_memory_stats,
    gpu_synchronize, host_fallback_count, host_fallbacks, reset_gpu_kernel_times, set_gpu_dispatch_tally, GpuCounters,
    GpuMemoryStats, KernelTime,
};
pub use backend::{gpu_dispatch_count, gpu_fusion_enabled, gpu_realize, with_gpu_fusion};
pub use cpu::malloc::tune_malloc;
pub use device::Device;
pub use dtype::{DType, Element, Float, Numeric};
pub use error::{Error, Result};
/// The `half` crate, whose `f16` and `bf16` are the elements of `DType::F16` and `DType::BF16`.
pub use half;
pub use ops::activation::ActGrad;
pub use ops::creation::ArangeArg;
pub use ops::cross_entropy::CrossEntropyOpts;
pub use ops::fused_expr::{Expr, MapBinary, MapUnary};
pub use ops::fused_formula::{Formula, MapValue};
pub use ops::fused_map::FusedMap;
pub use random::{manual_seed, with_generator, Generator};
pub use shape::Dim;
pub use storage::CpuStorage;
pub use tensor::Tensor;
