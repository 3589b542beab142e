//! BF16 products on x86-64 CPUs with AVX512-BF16 (`vdpbf16ps`: sixteen f32 lanes, each adding the
//! products of one pair of bf16 values per instruction, twice the multiply-adds of an f32 FMA).
//!
//! Without it a BF16 `matmul`/`linear` widens both operands to f32, runs the f32 GEMM and rounds
//! the result (`backend::host`): measured 128-157 GFLOP/s on two Zen 4 cores against PyTorch's
//! 398-406 (oneDNN uses this instruction). Here the operands are packed once into pairs along K
//! (`A` in panels of [`MR`] rows, `B` in panels of [`NR`] columns), a register-blocked kernel keeps
//! `MR x NR` f32 sums over the whole of K, and each sum (plus the bias) is rounded once to bf16
//! (round to nearest even, NaN kept quiet: `half::bf16::from_f32`'s rule, vectorised). Panels of
//! `B` (or of `A` when `N` is small) are spread over rayon's workers.
//!
//! The instruction treats bf16 subnormal inputs as zero and flushes subnormal sums (as oneDNN's
//! bf16 products in PyTorch do); normal values are summed in f32 like the widened path, in another
//! order. `EMBER_NO_BF16_GEMM=1` keeps the widened path.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::cpu::attention_layout::batch_offsets;
use crate::cpu::SharedPtr;
use crate::shape::Layout;
use crate::{DType, Result, Tensor};

/// Rows of `A` per panel and kernel call (12 x 2 accumulators, two `B` vectors and one broadcast
/// stay within the 32 vector registers).
pub const MR: usize = 12;
/// Columns of `B` per panel (two 16-lane vectors).
pub const NR: usize = 32;
/// Products below this many multiply-adds keep the widened path (packing would dominate).
const MIN_WORK: usize = 1 << 15;

/// True when this CPU has AVX512-BF16 and `EMBER_NO_BF16_GEMM` is unset (checked once).
pub fn available() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("EMBER_NO_BF16_GEMM").is_none() && imp::detected())
}

/// One operand matrix: element `(i, j)` of batch entry `b` is `data[offsets[b] + i * rs + j * cs]`.
struct Operand<'a> {
    data: &'a [u16],
    offsets: Vec<usize>,
    rs: usize,
    cs: usize,
}

impl<'a> Operand<'a> {
    /// The bf16 bits of `t`'s storage, walked by `layout` (`[batch.., rows, cols]`).
    fn of(t: &'a Tensor, layout: &Layout) -> Operand<'a> {
        let (data, _) = t.cpu_raw::<half::bf16>();
        let r = layout.rank();
        Operand {
            data: bytemuck::cast_slice(data),
            offsets: batch_offsets(&layout.shape[..r - 2], &layout.strides[..r - 2], layout.offset),
            rs: layout.strides[r - 2],
            cs: layout.strides[r - 1],
        }
    }
}

/// Packs `lanes` rows (A: `lane_stride` = its row stride) or columns (B) of one operand, from
/// `base`, into panels of `width` lanes by `kp` pair-steps along K (`k_stride` apart): word
/// `(panel, p, lane)` holds the bf16 pair `(x(2p), x(2p + 1))` of lane `panel * width + lane`,
/// low half first (the lane layout `vdpbf16ps` multiplies pairwise); zero past `lanes` and `k`.
fn pack(
    x: &Operand<'_>,
    base: usize,
    lane_stride: usize,
    k_stride: usize,
    lanes: usize,
    k: usize,
    width: usize,
) -> Vec<u32> {
    let kp = k.div_ceil(2);
    let panels = lanes.div_ceil(width);
    let mut v = vec![0u32; panels * kp * width];
    let d = x.data;
    let one = |(panel, dst): (usize, &mut [u32])| {
        let count = (lanes - panel * width).min(width);
        if k_stride == 1 {
            // each lane's K run is contiguous: walk lane by lane
            for lane in 0..count {
                let start = base + (panel * width + lane) * lane_stride;
                let run = &d[start..start + k];
                for (p, w) in run.chunks(2).enumerate() {
                    dst[p * width + lane] = u32::from(w[0]) | u32::from(*w.get(1).unwrap_or(&0)) << 16;
                }
            }
        } else if lane_stride == 1 {
            // lanes side by side (B row-major): interleave two rows of K per step
            let first = base + panel * width;
            for p in 0..kp {
                let lo = &d[first + 2 * p * k_stride..][..count];
                let out = &mut dst[p * width..p * width + count];
                if 2 * p + 1 < k {
                    let hi = &d[first + (2 * p + 1) * k_stride..][..count];
                    for ((o, &l), &h) in out.iter_mut().zip(lo).zip(hi) {
                        *o = u32::from(l) | u32::from(h) << 16;
                    }
                } else {
                    out.iter_mut().zip(lo).for_each(|(o, &l)| *o = u32::from(l));
                }
            }
        } else {
            // any other layout: walk step by step
            for p in 0..kp {
                let lo = base + 2 * p * k_stride;
                let hi = (2 * p + 1 < k).then(|| lo + k_stride);
                for lane in 0..count {
                    let at = (panel * width + lane) * lane_stride;
                    dst[p * width + lane] = u32::from(d[lo + at]) | hi.map_or(0, |h| u32::from(d[h + at])) << 16;
                }
            }
        }
    };
    // on a one-thread pool a parallel loop would only hand the work over and wait
    if rayon::current_num_threads() > 1 {
        v.par_chunks_mut(kp * width).enumerate().for_each(one);
    } else {
        v.chunks_mut(kp * width).enumerate().for_each(one);
    }
    v
}

/// The BF16 product of `a` `[.., m, k]` and `b` `[.., k, n]` broadcast to `batch` (as
/// `Backend::matmul`), or `None` when this kernel does not apply (another dtype, no AVX512-BF16,
/// an empty or small product).
pub(crate) fn matmul(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
) -> Result<Option<Tensor>> {
    if !applies(a, b, m * k * n) {
        return Ok(None);
    }
    let (la, lb, out) = super::product::product_layouts(op, a, b, batch, (m, k, n))?;
    let c = run(&Operand::of(a, &la), &Operand::of(b, &lb), None, (m, k, n));
    Ok(Some(Tensor::from_vec_unchecked(c, &out)))
}

/// `x @ weight^T (+ bias)` for BF16 `x` `[rows, in]`, `weight` `[out, in]` (as `Backend::linear`),
/// or `None` when this kernel does not apply.
pub(crate) fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Option<Tensor>> {
    let (rows, in_f, out_f) = (x.shape()[0], x.shape()[1], weight.shape()[0]);
    if !applies(x, weight, rows * in_f * out_f) || bias.is_some_and(|b| b.dtype() != DType::BF16) {
        return Ok(None);
    }
    let wt = super::product::transposed(&weight.layout);
    let bias: Option<Vec<f32>> = bias.map(|b| b.to_vec::<f32>());
    let c = run(&Operand::of(x, &x.layout), &Operand::of(weight, &wt), bias.as_deref(), (rows, in_f, out_f));
    Ok(Some(Tensor::from_vec_unchecked(c, &[rows, out_f])))
}

fn applies(a: &Tensor, b: &Tensor, work: usize) -> bool {
    a.dtype() == DType::BF16 && b.dtype() == DType::BF16 && a.is_host() && work >= MIN_WORK && available()
}

/// Every batch entry's `m x n` product, row-major, entries one after the other.
fn run(a: &Operand<'_>, b: &Operand<'_>, bias: Option<&[f32]>, (m, k, n): (usize, usize, usize)) -> Vec<half::bf16> {
    let count = a.offsets.len();
    let kp = k.div_ceil(2);
    let (mp, np) = (m.div_ceil(MR), n.div_ceil(NR));
    let mut c = vec![half::bf16::ZERO; count * m * n];
    let out = SharedPtr(c.as_mut_ptr());
    super::pin::pin_workers_once();
    for e in 0..count {
        let ap = pack(a, a.offsets[e], a.rs, a.cs, m, k, MR);
        let bp = pack(b, b.offsets[e], b.cs, b.rs, n, k, NR);
        let base = e * m * n;
        // one task per panel of B (of A when B has fewer panels than there are threads)
        let along_n = np >= rayon::current_num_threads() || np >= mp;
        let tile = |pi: usize, pj: usize| {
            let sums = imp::kernel(&ap[pi * kp * MR..(pi + 1) * kp * MR], &bp[pj * kp * NR..(pj + 1) * kp * NR], kp);
            let (rows, cols) = ((m - pi * MR).min(MR), (n - pj * NR).min(NR));
            let bias = bias.map(|b| &b[pj * NR..pj * NR + cols]);
            for (r, row) in sums.iter().enumerate().take(rows) {
                let at = base + (pi * MR + r) * n + pj * NR;
                // SAFETY: elements (pi * MR + r, pj * NR ..) of entry e lie inside `c`, and no
                // other task touches this tile.
                let dst = unsafe { out.slice(at..at + cols) };
                imp::round_row(row, bias, dst);
            }
        };
        if rayon::current_num_threads() == 1 {
            (0..np).for_each(|pj| (0..mp).for_each(|pi| tile(pi, pj)));
        } else if along_n {
            (0..np).into_par_iter().for_each(|pj| (0..mp).for_each(|pi| tile(pi, pj)));
        } else {
            (0..mp).into_par_iter().for_each(|pi| (0..np).for_each(|pj| tile(pi, pj)));
        }
    }
    c
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    pub(super) fn detected() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")
    }

    /// The `MR x NR` f32 sums of one panel of A and one of B over `kp` pair-steps.
    pub(super) fn kernel(a: &[u32], b: &[u32], kp: usize) -> [[f32; NR]; MR] {
        assert!(a.len() >= kp * MR && b.len() >= kp * NR, "bf16 kernel: panels shorter than {kp} steps");
        let mut out = [[0f32; NR]; MR];
        // SAFETY: `available()` checked the CPU features before any caller got here, and the
        // panels hold `kp` steps (asserted).
        unsafe { kernel_avx512(a.as_ptr(), b.as_ptr(), kp, &mut out) };
        out
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn kernel_avx512(a: *const u32, b: *const u32, kp: usize, out: &mut [[f32; NR]; MR]) {
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        for p in 0..kp {
            // SAFETY: step p of each panel is in bounds (the caller's assertion).
            unsafe {
                let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(p * NR).cast()));
                let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(p * NR + 16).cast()));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(*a.add(p * MR + r) as i32));
                    acc[0] = _mm512_dpbf16_ps(acc[0], x, b0);
                    acc[1] = _mm512_dpbf16_ps(acc[1], x, b1);
                }
            }
        }
        for (row, acc) in out.iter_mut().zip(&acc) {
            // SAFETY: each row holds NR = 32 f32, two vectors.
            unsafe {
                _mm512_storeu_ps(row.as_mut_ptr(), acc[0]);
                _mm512_storeu_ps(row.as_mut_ptr().add(16), acc[1]);
            }
        }
    }

    /// `dst[j] = bf16(sums[j] + bias[j])` for the first `dst.len()` columns: round to nearest
    /// even on the bits (a carry out of the mantissa reaches infinity, as it should), NaN kept
    /// quiet; `half::bf16::from_f32`'s results, branch-free so the loop vectorises.
    pub(super) fn round_row(sums: &[f32; NR], bias: Option<&[f32]>, dst: &mut [half::bf16]) {
        let mut v = *sums;
        if let Some(b) = bias {
            v.iter_mut().zip(b).for_each(|(x, b)| *x += b);
        }
        for (d, x) in dst.iter_mut().zip(v) {
            let bits = x.to_bits();
            let rounded = (bits.wrapping_add(0x7FFF + (bits >> 16 & 1)) >> 16) as u16;
            *d = half::bf16::from_bits(if x.is_nan() { (bits >> 16) as u16 | 0x40 } else { rounded });
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::{MR, NR};

    pub(super) fn detected() -> bool {
        false
    }

    pub(super) fn kernel(_a: &[u32], _b: &[u32], _kp: usize) -> [[f32; NR]; MR] {
        unreachable!("bf16 kernel: only x86-64 detects AVX512-BF16")
    }

    pub(super) fn round_row(_sums: &[f32; NR], _bias: Option<&[f32]>, _dst: &mut [half::bf16]) {
        unreachable!("bf16 kernel: only x86-64 detects AVX512-BF16")
    }
}
