//! The CPU backend: kernels over host memory, one file per op family.
//!
//! Kernels receive tensors already checked by `ops/` (shapes, dtypes, devices), read them through
//! `Tensor::cpu_data` (borrowed when contiguous) or walk strides with [`strided`], and return new
//! contiguous tensors. Large loops run on rayon's pool.

pub mod activation;
pub(crate) mod alloc;
pub mod attention;
pub mod attention_layout;
pub(crate) mod backend;
pub mod bf16_gemm;
pub mod binary;
pub mod cast;
pub mod compare;
pub mod conv;
pub(crate) mod cross_entropy;
pub mod elementwise;
pub(crate) mod fused_map;
pub(crate) mod half;
pub mod index;
pub mod index_misc;
pub mod join;
pub mod malloc;
pub mod math;
pub mod matmul;
pub mod norm;
pub mod pin;
pub mod pool;
mod product;
pub mod reduce;
pub mod reduce_axis;
pub mod scan;
mod shared_ptr;
pub mod softmax;
pub mod sort;
pub mod strided;
pub mod unary;
pub mod vmath;

pub(crate) use shared_ptr::SharedPtr;
