//! The WGSL sources of Ember's GPU backend, one file per op family, embedded as string constants.
//!
//! The `.wgsl` files sit beside this crate's `Cargo.toml` (the top-level `shaders/` of the
//! workspace), so the packaged crate carries them. `ember-tensor`'s `wgpu/shaders.rs` composes
//! them into modules (it prepends the float type alias and the libraries a kernel needs).

/// `argreduce.wgsl`.
pub const ARGREDUCE: &str = include_str!("../argreduce.wgsl");
/// `binary.wgsl`.
pub const BINARY: &str = include_str!("../binary.wgsl");
/// `compare.wgsl`.
pub const COMPARE: &str = include_str!("../compare.wgsl");
/// `conv.wgsl`.
pub const CONV: &str = include_str!("../conv.wgsl");
/// `copy.wgsl`.
pub const COPY: &str = include_str!("../copy.wgsl");
/// `cross_entropy.wgsl`.
pub const CROSS_ENTROPY: &str = include_str!("../cross_entropy.wgsl");
/// `cross_entropy_backward.wgsl`.
pub const CROSS_ENTROPY_BACKWARD: &str = include_str!("../cross_entropy_backward.wgsl");
/// `fill.wgsl`.
pub const FILL: &str = include_str!("../fill.wgsl");
/// `half.wgsl`.
pub const HALF: &str = include_str!("../half.wgsl");
/// `half_bits.wgsl`.
pub const HALF_BITS: &str = include_str!("../half_bits.wgsl");
/// `i64.wgsl`.
pub const I64: &str = include_str!("../i64.wgsl");
/// `index.wgsl`.
pub const INDEX: &str = include_str!("../index.wgsl");
/// `index_misc.wgsl`.
pub const INDEX_MISC: &str = include_str!("../index_misc.wgsl");
/// `join.wgsl`.
pub const JOIN: &str = include_str!("../join.wgsl");
/// `math.wgsl`.
pub const MATH: &str = include_str!("../math.wgsl");
/// `math_f32.wgsl`.
pub const MATH_F32: &str = include_str!("../math_f32.wgsl");
/// `math_f64.wgsl`.
pub const MATH_F64: &str = include_str!("../math_f64.wgsl");
/// `matmul.wgsl`.
pub const MATMUL: &str = include_str!("../matmul.wgsl");
/// `pool.wgsl`.
pub const POOL: &str = include_str!("../pool.wgsl");
/// `random.wgsl`.
pub const RANDOM: &str = include_str!("../random.wgsl");
/// `reduce.wgsl`.
pub const REDUCE: &str = include_str!("../reduce.wgsl");
/// `reduce_subgroup.wgsl`.
pub const REDUCE_SUBGROUP: &str = include_str!("../reduce_subgroup.wgsl");
/// `scan.wgsl`.
pub const SCAN: &str = include_str!("../scan.wgsl");
/// `scatter.wgsl`.
pub const SCATTER: &str = include_str!("../scatter.wgsl");
/// `softmax.wgsl`.
pub const SOFTMAX: &str = include_str!("../softmax.wgsl");
/// `sort.wgsl`.
pub const SORT: &str = include_str!("../sort.wgsl");
/// `stats.wgsl`.
pub const STATS: &str = include_str!("../stats.wgsl");
/// `strided.wgsl`.
pub const STRIDED: &str = include_str!("../strided.wgsl");
/// `unary.wgsl`.
pub const UNARY: &str = include_str!("../unary.wgsl");
