//! The per-step recurrent product of the fused recurrent layer in `f32`: `c (+)= a @ B` for a
//! small `a` (`[batch, k]`, row-major) and a weight `B` that stays the same over the whole
//! sequence (`W_hh^T` in the forward, `W_hh` in the backward).
//!
//! A general GEMM packs `B` on every call; for 32 rows that packing costs as much as the product.
//! Here `B` is packed once per sequence ([`Packed::new`]) into panels of `NR` columns (each panel
//! `k x NR`, row by row, the last one zero-padded), and each step runs a register-blocked
//! microkernel: an `MR x NR` tile of `c` held in registers over the whole `k`, one broadcast of `a`
//! and `NR` contiguous values of the panel per multiply-add row. Three paths with tile sizes that
//! fit each register file, the widest the CPU has running: AVX-512 (512-bit `core::arch`
//! intrinsics: a CPU that runs them at full width, such as Zen 5, does twice the work per
//! instruction of 256-bit ones; one that splits them in two, such as Zen 4, should do the same
//! FMAs per cycle as with 256 bits, not measured), AVX2 with FMA
//! (256-bit intrinsics; both under `#[target_feature]`: plain loops were vectorised across the
//! wrong dimension) and a baseline of plain loops. On several threads the panels (output columns) are
//! split between them.

use ember_tensor::cpu::matmul::MatRef;
use ember_tensor::cpu::vmath::{self, Fm};

/// An instruction-set path of the microkernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Isa {
    /// AVX-512 (F, VL, DQ) with FMA: 16-lane vectors, 32 registers of them.
    Avx512,
    /// AVX2 with FMA: 8-lane vectors, 16 registers.
    Avx2,
    /// The baseline (SSE2 on x86-64), separate multiply and add.
    Plain,
}

impl Isa {
    /// The widest path the CPU has, detected once.
    pub(crate) fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| *Isa::available().first().unwrap_or(&Isa::Plain))
    }

    /// Every path the CPU can run, widest first.
    pub(crate) fn available() -> Vec<Isa> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma");
            if avx2 && has!("avx512f") && has!("avx512vl") && has!("avx512dq") {
                v.push(Isa::Avx512);
            }
            if avx2 {
                v.push(Isa::Avx2);
            }
        }
        v.push(Isa::Plain);
        v
    }

    /// The panel width (columns of `B` per panel).
    fn nr(self) -> usize {
        match self {
            Isa::Avx512 => 16 * NV512,
            Isa::Avx2 => 8 * NV256,
            Isa::Plain => NR_PLAIN,
        }
    }
}

/// Vectors of 16 lanes per tile row of the AVX-512 path.
const NV512: usize = 3;
/// Rows of the AVX-512 tile: `MR512 * NV512` accumulators of the 32 registers, `NV512` for the
/// panel row and one for the broadcast. Eight rows split a batch of 32 (the usual one) into
/// whole tiles.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MR512: usize = 8;
/// Vectors of 8 lanes per tile row of the AVX2 path.
const NV256: usize = 2;
/// Rows of the AVX2 tile (12 accumulators of the 16 registers).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MR256: usize = 6;
/// Panel width of the baseline.
const NR_PLAIN: usize = 16;
/// Rows of the baseline tile.
const MR_PLAIN: usize = 4;
/// Below this many multiply-adds a product runs on the calling thread.
const PAR_MADDS: usize = 1 << 18;

/// `B` (`k x n`) packed for one instruction-set path: `ceil(n / nr)` panels of `k x nr`.
pub(crate) struct Packed {
    isa: Isa,
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl Packed {
    /// Packs `b` (any strides) for the widest path the CPU has.
    pub(crate) fn new(b: MatRef<'_, f32>) -> Packed {
        Packed::with_isa(b, Isa::best())
    }

    /// Packs `b` for `isa`.
    ///
    /// **Panics** when the CPU lacks `isa` (see [`Isa::available`]).
    #[track_caller]
    pub(crate) fn with_isa(b: MatRef<'_, f32>, isa: Isa) -> Packed {
        assert!(Isa::available().contains(&isa), "rnn_gemm: this CPU cannot run the {isa:?} kernel");
        let (k, n, nr) = (b.rows, b.cols, isa.nr());
        let panels = n.div_ceil(nr);
        let mut data = vec![0.0f32; panels * k * nr];
        for (jp, panel) in data.chunks_exact_mut((k * nr).max(1)).enumerate().take(panels) {
            let j0 = jp * nr;
            let w = nr.min(n - j0);
            if b.cs <= b.rs {
                // rows of `b` lie contiguously (row-major): copy row by row
                for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
                    let base = b.off + p * b.rs + j0 * b.cs;
                    for (j, v) in row[..w].iter_mut().enumerate() {
                        *v = b.data[base + j * b.cs];
                    }
                }
            } else {
                // columns lie contiguously (a transposed view): read each column in order
                for j in 0..w {
                    let base = b.off + (j0 + j) * b.cs;
                    for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
                        row[j] = b.data[base + p * b.rs];
                    }
                }
            }
        }
        Packed { isa, k, n, data }
    }

    /// `c = a @ B`, or `c += a @ B` when `accumulate`: `a` is `[m, k]` and `c` `[m, n]`, both
    /// row-major and dense. With `threaded`, split over rayon's threads by panels when the product
    /// is large enough.
    ///
    /// **Panics** when `a` or `c` is shorter than those sizes.
    #[track_caller]
    pub(crate) fn matmul(&self, a: &[f32], m: usize, c: &mut [f32], accumulate: bool, threaded: bool) {
        self.matmul_split(a, m, c, accumulate, if threaded { PAR_MADDS } else { usize::MAX });
    }

    /// [`Packed::matmul`], threaded from `par_madds` multiply-adds on.
    #[track_caller]
    fn matmul_split(&self, a: &[f32], m: usize, c: &mut [f32], accumulate: bool, par_madds: usize) {
        let (k, n) = (self.k, self.n);
        assert!(a.len() >= m * k, "rnn_gemm: a has {} elements, expected {m} x {k}", a.len());
        assert!(c.len() >= m * n, "rnn_gemm: c has {} elements, expected {m} x {n}", c.len());
        if m == 0 || n == 0 {
            return;
        }
        let panels = n.div_ceil(self.isa.nr());
        let threads = rayon::current_num_threads().min(panels);
        let job = Job { b: self, a: &a[..m * k], m, c: c[..m * n].as_mut_ptr() };
        if threads <= 1 || m * n * k < par_madds {
            // SAFETY: `job.c` covers `m * n` elements of `c` (asserted above), `c` is borrowed
            // mutably for this call, and only this thread writes.
            unsafe { job.run(0, panels, accumulate) };
        } else {
            split(&job, 0, panels, threads, accumulate);
        }
    }
}

/// One product: its operands and the output as a raw pointer, so the threads can each write
/// their own columns of every row.
struct Job<'a> {
    b: &'a Packed,
    a: &'a [f32],
    m: usize,
    /// `m * b.n` elements, row-major.
    c: *mut f32,
}

// SAFETY: the threads sharing a `Job` write disjoint column ranges of `c` (one panel range each,
// see `split`) and only read the rest.
unsafe impl Sync for Job<'_> {}

/// Runs panels `lo..hi` of `job` on `parts` threads (rayon's `join`, halving).
fn split(job: &Job<'_>, lo: usize, hi: usize, parts: usize, accumulate: bool) {
    if parts <= 1 {
        // SAFETY: the ranges of the parts are disjoint, so no other thread writes these columns.
        unsafe { job.run(lo, hi, accumulate) };
        return;
    }
    let mid = lo + (hi - lo) * (parts / 2) / parts;
    rayon::join(|| split(job, lo, mid, parts / 2, accumulate), || split(job, mid, hi, parts - parts / 2, accumulate));
}

impl Job<'_> {
    /// Panels `lo..hi` on the calling thread, with the path the `B` was packed for.
    ///
    /// # Safety
    /// `c` points to `m * n` writable elements, and no other thread accesses the columns of
    /// panels `lo..hi` during the call.
    unsafe fn run(&self, lo: usize, hi: usize, acc: bool) {
        match self.b.isa {
            // SAFETY: `Packed::with_isa` checked that the CPU has the path; the rest is the
            // caller's contract.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { run_avx512(self, lo, hi, acc) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { run_avx2(self, lo, hi, acc) },
            // SAFETY: the caller's contract.
            _ => unsafe { panels::<PlainTile>(self, lo, hi, acc) },
        }
    }
}

/// [`panels`] compiled for AVX-512 (16-lane vectors, using its 32 registers).
///
/// # Safety
/// The CPU has the features; as [`Job::run`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
unsafe fn run_avx512(job: &Job<'_>, lo: usize, hi: usize, acc: bool) {
    // SAFETY: the caller's contract.
    unsafe { panels::<x86::Tile<x86::Zmm, MR512, NV512>>(job, lo, hi, acc) }
}

/// [`panels`] compiled for AVX2 with FMA.
///
/// # Safety
/// The CPU has the features; as [`Job::run`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(job: &Job<'_>, lo: usize, hi: usize, acc: bool) {
    // SAFETY: the caller's contract.
    unsafe { panels::<x86::Tile<x86::Ymm, MR256, NV256>>(job, lo, hi, acc) }
}

/// A microkernel: tiles of up to `MR` rows by the panel width `NR`.
trait Kernel {
    /// Most rows of a tile.
    const MR: usize;
    /// The panel width.
    const NR: usize;
    /// One tile of `R <= MR` rows: `a` holds its rows of `a` (`k` each), `bp` the panel
    /// (`k x NR`); the first `out.cols` columns of each row are written (or added to) at `out`.
    ///
    /// # Safety
    /// `a.len() >= R * k`, `bp.len() >= k * NR`; `out` as [`Out`] says; the CPU has the
    /// features the kernel is compiled for.
    unsafe fn tile<const R: usize>(a: &[f32], k: usize, bp: &[f32], out: Out, acc: bool);
}

/// Where a tile's results go: `R x cols` elements (`cols <= NR`), rows `ldc` apart, from `c`,
/// writable, and no other thread or live reference touching them.
#[derive(Clone, Copy)]
struct Out {
    c: *mut f32,
    ldc: usize,
    cols: usize,
}

impl Out {
    /// Writes the tile row `t` to row `i`'s `cols` elements (added to them when `acc`).
    ///
    /// # Safety
    /// `i` is below the tile's row count.
    #[inline(always)]
    unsafe fn put(self, i: usize, t: &[f32], acc: bool) {
        // SAFETY: the caller's contract and `Out`'s.
        let row = unsafe { std::slice::from_raw_parts_mut(self.c.add(i * self.ldc), self.cols) };
        if acc {
            for (x, &v) in row.iter_mut().zip(t) {
                *x += v;
            }
        } else {
            row.copy_from_slice(&t[..self.cols]);
        }
    }
}

/// Panels `lo..hi` of the product, in tiles of `K::MR` rows (the last tile of a row count that
/// is not a multiple of `MR` through the tile of its own height).
///
/// # Safety
/// As [`Job::run`]; the `B` was packed with width `K::NR`; the CPU has `K`'s features.
#[inline(always)]
unsafe fn panels<K: Kernel>(job: &Job<'_>, lo: usize, hi: usize, acc: bool) {
    let (k, n, m, nr) = (job.b.k, job.b.n, job.m, K::NR);
    assert_eq!(job.b.isa.nr(), nr, "rnn_gemm: panel width");
    for jp in lo..hi {
        let j0 = jp * nr;
        let cols = nr.min(n - j0);
        // a panel is `k * NR` values; `Packed::with_isa` made `ceil(n / NR) * k * NR`
        let bp = &job.b.data[jp * k * nr..][..k * nr];
        let mut i0 = 0;
        while i0 < m {
            let rows = K::MR.min(m - i0);
            let a = &job.a[i0 * k..][..rows * k];
            // SAFETY: rows `i0..i0 + rows` and columns `j0..j0 + cols` lie in the `m x n`
            // output (`i0 + rows <= m`, `j0 + cols <= n`), and these columns are this thread's
            // (the caller's contract); `a` and `bp` have the lengths `tile` needs.
            unsafe {
                let out = Out { c: job.c.add(i0 * n + j0), ldc: n, cols };
                match rows {
                    1 => K::tile::<1>(a, k, bp, out, acc),
                    2 => K::tile::<2>(a, k, bp, out, acc),
                    3 => K::tile::<3>(a, k, bp, out, acc),
                    4 => K::tile::<4>(a, k, bp, out, acc),
                    5 => K::tile::<5>(a, k, bp, out, acc),
                    6 => K::tile::<6>(a, k, bp, out, acc),
                    7 => K::tile::<7>(a, k, bp, out, acc),
                    _ => K::tile::<8>(a, k, bp, out, acc),
                }
            }
            i0 += rows;
        }
    }
}

/// The baseline microkernel: plain loops over a `R x NR_PLAIN` tile.
struct PlainTile;

impl Kernel for PlainTile {
    const MR: usize = MR_PLAIN;
    const NR: usize = NR_PLAIN;

    #[inline(always)]
    unsafe fn tile<const R: usize>(a: &[f32], k: usize, bp: &[f32], out: Out, acc: bool) {
        let rows: [&[f32]; R] = std::array::from_fn(|i| &a[i * k..][..k]);
        let mut t = [[0.0f32; NR_PLAIN]; R];
        for (p, b) in bp.chunks_exact(NR_PLAIN).take(k).enumerate() {
            let b: &[f32; NR_PLAIN] = b.try_into().expect("panel row");
            for (ti, ar) in t.iter_mut().zip(&rows) {
                let av = ar[p];
                for (x, &bv) in ti.iter_mut().zip(b) {
                    *x = vmath::Plain::fma(av, bv, *x);
                }
            }
        }
        for (i, ti) in t.iter().enumerate() {
            // SAFETY: `i < R`; the caller's contract.
            unsafe { out.put(i, ti, acc) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The x86-64 microkernel, generic over the vector registers: 8 lanes (AVX2) or 16 lanes
    //! (AVX-512F).
    use std::arch::x86_64::*;
    use std::marker::PhantomData;

    use super::{Kernel, Out};

    /// One register width's vector operations. Each is `unsafe`: the CPU must have the width's
    /// features, and the pointers must cover `LANES` floats.
    pub(super) trait Lanes {
        /// Floats per vector.
        const LANES: usize;
        /// The register type.
        type V: Copy;
        /// All lanes zero.
        unsafe fn zero() -> Self::V;
        /// `LANES` floats from `p`.
        unsafe fn load(p: *const f32) -> Self::V;
        /// `x` in every lane.
        unsafe fn splat(x: f32) -> Self::V;
        /// `a * b + c`, fused.
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        /// `LANES` floats to `p`.
        unsafe fn store(p: *mut f32, v: Self::V);
    }

    /// A [`Lanes`] implementation from its intrinsics.
    macro_rules! lanes {
        ($(#[$doc:meta])* $name:ident, $v:ty, $n:expr, $zero:ident, $load:ident, $splat:ident, $fma:ident, $store:ident) => {
            $(#[$doc])*
            pub(super) struct $name;

            impl Lanes for $name {
                const LANES: usize = $n;
                type V = $v;
                #[inline(always)]
                unsafe fn zero() -> $v {
                    // SAFETY: the trait's contract.
                    unsafe { $zero() }
                }
                #[inline(always)]
                unsafe fn load(p: *const f32) -> $v {
                    // SAFETY: the trait's contract.
                    unsafe { $load(p) }
                }
                #[inline(always)]
                unsafe fn splat(x: f32) -> $v {
                    // SAFETY: the trait's contract.
                    unsafe { $splat(x) }
                }
                #[inline(always)]
                unsafe fn fma(a: $v, b: $v, c: $v) -> $v {
                    // SAFETY: the trait's contract.
                    unsafe { $fma(a, b, c) }
                }
                #[inline(always)]
                unsafe fn store(p: *mut f32, v: $v) {
                    // SAFETY: the trait's contract.
                    unsafe { $store(p, v) }
                }
            }
        };
    }

    lanes!(
        /// 8-lane vectors (AVX2 and FMA).
        Ymm, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps
    );
    lanes!(
        /// 16-lane vectors (AVX-512F).
        Zmm, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps
    );

    /// Tiles of up to `MR` rows by `NV` vectors of `L::LANES` lanes.
    pub(super) struct Tile<L, const MR: usize, const NV: usize>(PhantomData<L>);

    impl<L: Lanes, const MR: usize, const NV: usize> Kernel for Tile<L, MR, NV> {
        const MR: usize = MR;
        const NR: usize = L::LANES * NV;

        #[inline(always)]
        unsafe fn tile<const R: usize>(a: &[f32], k: usize, bp: &[f32], out: Out, acc: bool) {
            let (lanes, nr) = (L::LANES, L::LANES * NV);
            debug_assert!(a.len() >= R * k && bp.len() >= k * nr);
            let (a, bp) = (a.as_ptr(), bp.as_ptr());
            // SAFETY: the CPU has `L`'s features (the caller's contract); every read is inside
            // `a` (`i * k + p < R * k`) and `bp` (`p * nr + lanes * v + lanes <= k * nr`), and
            // every store inside `row` (`v * lanes + lanes <= nr <= 16 * NV`).
            unsafe {
                let mut t = [[L::zero(); NV]; R];
                for p in 0..k {
                    let mut b = [L::zero(); NV];
                    for (v, bv) in b.iter_mut().enumerate() {
                        *bv = L::load(bp.add(p * nr + lanes * v));
                    }
                    for (i, ti) in t.iter_mut().enumerate() {
                        let av = L::splat(*a.add(i * k + p));
                        for (x, &bv) in ti.iter_mut().zip(&b) {
                            *x = L::fma(av, bv, *x);
                        }
                    }
                }
                // room for the widest vectors; the first `nr` floats are the tile row
                let mut row = [[0.0f32; 16]; NV];
                for (i, ti) in t.iter().enumerate() {
                    for (v, &x) in ti.iter().enumerate() {
                        L::store(row.as_flattened_mut().as_mut_ptr().add(v * lanes), x);
                    }
                    out.put(i, &row.as_flattened()[..nr], acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random vector in [-1, 1).
    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The naive product `a @ b` (+ `c0`) in f64.
    fn naive(a: &[f32], b: MatRef<'_, f32>, m: usize, c0: Option<&[f32]>) -> Vec<f32> {
        let (k, n) = (b.rows, b.cols);
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = c0.map_or(0.0, |c0| f64::from(c0[i * n + j]));
                for p in 0..k {
                    s += f64::from(a[i * k + p]) * f64::from(b.data[b.off + p * b.rs + j * b.cs]);
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    /// Every path the CPU has, on odd sizes, both orientations of the stored `B`, overwrite and
    /// accumulate, on one thread and split over threads.
    #[test]
    fn matches_naive_product_on_every_path() {
        let sizes = [(1, 1, 1), (1, 7, 33), (3, 1, 5), (5, 13, 17), (7, 33, 31), (13, 9, 65), (32, 256, 1024)];
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("pool");
        for isa in Isa::available() {
            for &(m, k, n) in &sizes {
                let a = values(m * k, 1);
                let w = values(k * n, 2);
                let c0 = values(m * n, 3);
                // B stored row-major (k x n), and as the transpose of an n x k matrix
                let views = [MatRef::dense(&w, 0, k, n), MatRef::dense(&w, 0, n, k).t()];
                for b in views {
                    let packed = Packed::with_isa(b, isa);
                    for acc in [false, true] {
                        let want = naive(&a, b, m, acc.then_some(&c0[..]));
                        for threaded in [false, true] {
                            let mut c = if acc { c0.clone() } else { vec![f32::NAN; m * n] };
                            if threaded {
                                pool.install(|| packed.matmul_split(&a, m, &mut c, acc, 0));
                            } else {
                                packed.matmul(&a, m, &mut c, acc, false);
                            }
                            for (idx, (x, y)) in c.iter().zip(&want).enumerate() {
                                let tol = 1e-5 * (k as f32).sqrt() * (1.0 + y.abs());
                                assert!(
                                    (x - y).abs() <= tol,
                                    "{isa:?} m={m} k={k} n={n} acc={acc} threaded={threaded} at {idx}: {x} vs {y}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "rnn_gemm: c has 5 elements, expected 2 x 3")]
    fn short_output_panics() {
        let w = values(6, 1);
        let packed = Packed::new(MatRef::dense(&w, 0, 2, 3));
        packed.matmul(&values(4, 2), 2, &mut [0.0; 5], false, true);
    }
}
