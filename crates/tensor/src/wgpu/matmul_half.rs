//! The native 16-bit matrix product: `shaders/matmul.wgsl` (the same tilings, strides, broadcast
//! batches and bias epilogue as F32) over F16 or BF16 operands read straight from their 16-bit
//! storage, summed in f32 and rounded once when written: the CPU's semantics for 16-bit products
//! (`f32` accumulation, one round-to-nearest-even), in one dispatch where the widened path took
//! four or five (widen each operand and the bias, the F32 product, round the result).
//!
//! The kernel is `matmul.wgsl` with other storage accessors (`shaders::matmul_half`):
//! - F16 on an adapter with `SHADER_F16` (unless `EMBER_NO_SHADER_F16=1`): operands, bias and
//!   output typed `array<f16>` (the same bytes as the packed words), read with `f32(x)`; each
//!   output element is its own 16-bit store;
//! - otherwise (BF16 always, F16 without the feature): operands read as packed u32 words, the
//!   16 bits widened on the bits (`half_bits.wgsl`, exact); the output written as packed words
//!   when N is even (each invocation then writes whole words), else as F32 followed by one
//!   rounding dispatch (`convert.rs`, `narrow`): two dispatches.
//!
//! Rounding is never WGSL's `f16(x)` (the spec lets it round either way): the f32 sum's bits go
//! through `half_bits.wgsl`'s `f32_to_f16` / `f32_to_bf16`, bit for bit the `half` crate's.
//! Subnormal F16 values: the packed path is exact (an f16 subnormal is a normal f32, and rounding
//! is on the bits); the `array<f16>` path converts f16 <-> f32 in the shader, where WGSL lets an
//! implementation flush f16 subnormals (lavapipe keeps them: `gpu_half_matmul*.rs` checks).
//!
//! Not covered (the caller takes the widened path): products whose K the F32 kernel would split
//! (few output tiles, K >= 1024: the split partials and their sum are F32 kernels), and the
//! convolutions (`conv.rs` builds implicit products over F32 only).

use super::context::Context;
use super::matmul::{self, Bias};
use super::shaders;
use crate::shape::broadcast_shapes;
use crate::{DType, Result, Tensor};

/// The element type and accessors of the operands, per storage kind.
const IN_F16: &str = "alias IN = f16;
fn get_a(i: u32) -> T { return f32(a[i]); }
fn get_b(i: u32) -> T { return f32(b[i]); }
fn get_bias(i: u32) -> T { return f32(bias[i]); }
fn get_mask(i: u32) -> T { return f32(mask[i]); }
";

/// Packed words: element `i` is the low (even `i`) or high (odd `i`) half of word `i / 2`, widened
/// by `widen16` (per dtype, below).
const IN_PACKED: &str = "alias IN = u32;
fn half_of(w: u32, i: u32) -> u32 { return (w >> ((i & 1u) * 16u)) & 0xFFFFu; }
fn get_a(i: u32) -> T { return widen16(half_of(a[i >> 1u], i)); }
fn get_b(i: u32) -> T { return widen16(half_of(b[i >> 1u], i)); }
fn get_bias(i: u32) -> T { return widen16(half_of(bias[i >> 1u], i)); }
fn get_mask(i: u32) -> T { return widen16(half_of(mask[i >> 1u], i)); }
";

const WIDEN_F16: &str = "fn widen16(h: u32) -> f32 { return bitcast<f32>(f16_to_f32(h)); }\n";
const WIDEN_BF16: &str = "fn widen16(h: u32) -> f32 { return bitcast<f32>(h << 16u); }\n";
const ROUND_F16: &str = "fn round16(v: f32) -> u32 { return f32_to_f16(bitcast<u32>(v)); }\n";
const ROUND_BF16: &str = "fn round16(v: f32) -> u32 { return f32_to_bf16(bitcast<u32>(v)); }\n";

/// Output `array<f16>`: every element its own store, of the value rounded on the bits and widened
/// back exactly, so the `f16(x)` conversion is exact (naga 30 rejects `bitcast<vec2<f16>>`).
const OUT_F16: &str = "alias OUT = f16;
fn put_c(i: u32, v: T) { c[i] = f16(bitcast<f32>(f16_to_f32(round16(v)))); }
fn put_c2(i: u32, x: T, y: T) { put_c(i, x); put_c(i + 1u, y); }
fn put_c4(i: u32, v: vec4<T>) { put_c(i, v.x); put_c(i + 1u, v.y); put_c(i + 2u, v.z); put_c(i + 3u, v.w); }
";

/// Output packed words, `i` even in `put_c2` / `put_c4` (the host picks this only for an even N).
/// A lone element (`put_c`) is the last of an odd count (the high half unused): never reached
/// with an even N.
const OUT_PACKED: &str = "alias OUT = u32;
fn put_c(i: u32, v: T) { c[i >> 1u] = round16(v); }
fn put_c2(i: u32, x: T, y: T) { c[i >> 1u] = round16(x) | (round16(y) << 16u); }
fn put_c4(i: u32, v: vec4<T>) { put_c2(i, v.x, v.y); put_c2(i + 2u, v.z, v.w); }
";

/// Output F32 (rounded by a dispatch of its own).
const OUT_F32: &str = "alias OUT = f32;
fn put_c(i: u32, v: T) { c[i] = v; }
fn put_c2(i: u32, x: T, y: T) { c[i] = x; c[i + 1u] = y; }
fn put_c4(i: u32, v: vec4<T>) { c[i] = v.x; c[i + 1u] = v.y; c[i + 2u] = v.z; c[i + 3u] = v.w; }
";

/// The five 16-bit modules: (name, dtype, f16 storage, output kind).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Out {
    F16,
    Packed,
    F32,
}

const VARIANTS: [(&str, DType, bool, Out); 5] = [
    ("matmul (F16, f16 storage)", DType::F16, true, Out::F16),
    ("matmul (F16, packed)", DType::F16, false, Out::Packed),
    ("matmul (F16, packed, F32 out)", DType::F16, false, Out::F32),
    ("matmul (BF16, packed)", DType::BF16, false, Out::Packed),
    ("matmul (BF16, packed, F32 out)", DType::BF16, false, Out::F32),
];

/// The WGSL of variant `v` of [`VARIANTS`].
fn source(v: usize) -> String {
    let (_, dtype, f16, out) = VARIANTS[v];
    let bf16 = dtype == DType::BF16;
    let mut io = String::from(if f16 { IN_F16 } else { IN_PACKED });
    if !f16 {
        io.push_str(if bf16 { WIDEN_BF16 } else { WIDEN_F16 });
    }
    io.push_str(if bf16 { ROUND_BF16 } else { ROUND_F16 });
    io.push_str(match out {
        Out::F16 => OUT_F16,
        Out::Packed => OUT_PACKED,
        Out::F32 => OUT_F32,
    });
    shaders::matmul_half(&io, f16)
}

/// Which variant a 16-bit product of `dtype` with `n` output columns takes on `ctx`.
fn variant(ctx: &Context, dtype: DType, n: usize) -> usize {
    match (dtype, ctx.has_f16(), n.is_multiple_of(2)) {
        (DType::F16, true, _) => 0,
        (DType::F16, false, true) => 1,
        (DType::F16, false, false) => 2,
        (_, _, true) => 3,
        _ => 4,
    }
}

/// The module (name, source) of the 16-bit product of `dtype` with `n` output columns on `ctx`.
pub(crate) fn module(ctx: &Context, dtype: DType, n: usize) -> (&'static str, &'static dyn Fn() -> String) {
    static SOURCES: [fn() -> String; 5] = [|| source(0), || source(1), || source(2), || source(3), || source(4)];
    let v = variant(ctx, dtype, n);
    (VARIANTS[v].0, &SOURCES[v])
}

/// The dtype the kernel writes for a product of `dtype` with `n` columns: `dtype`, or F32 where
/// the output is rounded by a dispatch of its own (F32 and F64 products: themselves).
pub(crate) fn out_dtype(ctx: &Context, dtype: DType, n: usize) -> DType {
    if dtype.is_half() && VARIANTS[variant(ctx, dtype, n)].3 == Out::F32 {
        DType::F32
    } else {
        dtype
    }
}

/// The native 16-bit product `a @ b` (plus `bias` along the columns: `linear`), or `None` where
/// the kernel does not cover it (see the module docs) and the widened path runs instead.
pub(crate) fn product(a: &Tensor, b: &Tensor, bias: Option<&Tensor>) -> Result<Option<Tensor>> {
    let dtype = a.dtype();
    let same = |t: &Tensor| t.dtype() == dtype && t.device() == a.device();
    if !dtype.is_half() || !same(b) || !bias.is_none_or(same) || a.rank() < 2 || b.rank() < 2 {
        return Ok(None);
    }
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    let Ok(batch) = broadcast_shapes("matmul", &a.shape()[..ra - 2], &b.shape()[..rb - 2]) else {
        return Ok(None);
    };
    let bsz: usize = batch.iter().product();
    if matmul::splits(bsz, m, n, k) > 1 {
        return Ok(None);
    }
    let t = match bias {
        Some(t) => matmul::matmul_bias(a, b, Bias { t, per_row: false })?,
        None => matmul::matmul(a, b)?,
    };
    Ok(Some(t))
}

/// The 16-bit modules by name, for the validation test.
pub(crate) fn all_modules() -> Vec<(String, String)> {
    (0..VARIANTS.len()).map(|v| (format!("matmul.wgsl + half_bits.wgsl ({})", VARIANTS[v].0), source(v))).collect()
}

/// Whether F16 products on `device` read and write `array<f16>` storage: a GPU whose adapter has
/// `SHADER_F16`, without `EMBER_NO_SHADER_F16=1` (false on the CPU, or where the GPU fails). For
/// tests of the two paths.
#[doc(hidden)]
pub fn f16_storage(device: crate::Device) -> bool {
    match device {
        crate::Device::Gpu(i) => super::context::get(i).is_ok_and(|c| c.has_f16()),
        crate::Device::Cpu => false,
    }
}
