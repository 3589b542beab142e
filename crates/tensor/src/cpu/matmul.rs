//! CPU matrix products: a strided GEMM over the `gemm` crate (f32, f64) or a plain loop (i64), and
//! the batched, broadcasting driver behind `matmul`, `bmm`, `mm` and `linear`.
//!
//! `gemm` takes arbitrary row and column strides, so transposed or sliced operands are passed as
//! they lie in storage, without a copy. A large product is split into one block of output columns
//! (or rows) per thread of rayon's pool, each block one single-threaded `gemm` call that also
//! initialises its part of the output (bias or nothing: outputs start uninitialised); many small
//! products of a batch run in parallel over the batch instead, each single-threaded. Tiny products
//! (at most 8x8x8) skip `gemm`'s packing and run a plain loop.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::strided::for_each_offset;
use super::SharedPtr;
use crate::shape::Layout;
use crate::{Numeric, Tensor};

/// Below this `m*k + k*n` a product is too small to thread well; such products of a batch are
/// spread over rayon's pool instead.
pub const GEMM_THREAD_SIZE: usize = 1 << 15;

/// Batches whose total multiply-adds stay below this run on the calling thread.
pub const PAR_FLOPS: usize = 1 << 16;

/// True when `count` products of `m x k` by `k x n` are better run in parallel over the batch (each
/// single-threaded) than one after the other (each threaded by `gemm`).
pub fn par_over_batch(count: usize, m: usize, k: usize, n: usize) -> bool {
    count > 1 && m * k + k * n < GEMM_THREAD_SIZE && count * m * k * n >= PAR_FLOPS
}

/// A read-only strided matrix inside a storage slice.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// The whole storage the matrix lies in.
    pub data: &'a [T],
    /// Index of element (0, 0).
    pub off: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between rows, in elements (0 for a broadcast row).
    pub rs: usize,
    /// Distance between columns, in elements.
    pub cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A row-major dense `rows x cols` matrix starting at `off`.
    pub fn dense(data: &'a [T], off: usize, rows: usize, cols: usize) -> Self {
        MatRef { data, off, rows, cols, rs: cols, cs: 1 }
    }

    /// The transpose, as a view (swapped sizes and strides).
    pub fn t(self) -> Self {
        MatRef { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }

    /// Panics unless every element lies inside `data` (checked once per product, so the raw
    /// pointer kernels below never read out of bounds).
    fn check_bounds(&self) {
        if self.rows > 0 && self.cols > 0 {
            let last = self.off + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(last < self.data.len(), "gemm: matrix view out of its storage ({last} >= {})", self.data.len());
        }
    }
}

/// Element types with a matrix-product kernel.
pub trait GemmElem: Numeric {
    /// `c = a @ b + beta * c` where `c` is a `a.rows x b.cols` matrix in `c` with strides
    /// (`rsc`, `csc`); `beta` is 0 (overwrite) or 1 (accumulate).
    fn gemm(a: MatRef<'_, Self>, b: MatRef<'_, Self>, beta: Self, c: &mut [Self], rsc: usize, csc: usize);

    /// `c = a @ b`, plus `bias[j]` in every column `j` when given, into the uninitialised row-major
    /// `a.rows x b.cols` matrix `c`, every element of which is written. Floats initialise `c`
    /// inside each thread's block of the product (no serial zero-fill or bias pass first).
    fn gemm_uninit(a: MatRef<'_, Self>, b: MatRef<'_, Self>, bias: Option<&[Self]>, c: &mut [MaybeUninit<Self>]) {
        init_then_gemm(a, b, bias, c);
    }
}

/// [`GemmElem::gemm_uninit`] the plain way: `c` set to the bias (or zero) row by row on this
/// thread, then accumulated into by [`GemmElem::gemm`].
fn init_then_gemm<T: GemmElem>(a: MatRef<'_, T>, b: MatRef<'_, T>, bias: Option<&[T]>, c: &mut [MaybeUninit<T>]) {
    let n = b.cols;
    for row in c.chunks_mut(n.max(1)) {
        for (j, v) in row.iter_mut().enumerate() {
            v.write(bias.map_or(T::ZERO, |b| b[j]));
        }
    }
    // SAFETY: every element was written above.
    let c = unsafe { &mut *(c as *mut [MaybeUninit<T>] as *mut [T]) };
    T::gemm(a, b, if bias.is_some() { T::ONE } else { T::ZERO }, c, n, 1);
}

/// How a product's output starts: overwritten (never read), accumulated into, or set to a bias per
/// column (row-major outputs only) and accumulated into.
#[derive(Clone, Copy)]
enum Init<'a, T> {
    /// `c = a @ b`; `c` may be uninitialised.
    Zero,
    /// `c += a @ b`.
    Keep,
    /// `c[i, j] = bias[j] + (a @ b)[i, j]`; `c` may be uninitialised.
    Bias(&'a [T]),
}

fn check_gemm<T>(a: &MatRef<'_, T>, b: &MatRef<'_, T>, c: &[T], rsc: usize, csc: usize) {
    assert_eq!(a.cols, b.rows, "gemm: inner dimensions differ");
    a.check_bounds();
    b.check_bounds();
    if a.rows > 0 && b.cols > 0 {
        assert!((a.rows - 1) * rsc + (b.cols - 1) * csc < c.len(), "gemm: output out of bounds");
    }
}

macro_rules! impl_gemm_float {
    ($t:ty) => {
        impl GemmElem for $t {
            fn gemm(a: MatRef<'_, $t>, b: MatRef<'_, $t>, beta: $t, c: &mut [$t], rsc: usize, csc: usize) {
                check_gemm(&a, &b, c, rsc, csc);
                let (m, k, n) = (a.rows, a.cols, b.cols);
                if m == 0 || n == 0 {
                    return;
                }
                if m * k * n <= SMALL_GEMM && b.cs == 1 && csc == 1 {
                    let zero = if beta == 0.0 { Some(0.0) } else { None };
                    loop_gemm(a, b, zero, c, rsc, csc, |c, x, y| c + x * y);
                    return;
                }
                if k == 0 {
                    if beta == 0.0 {
                        for i in 0..m {
                            for j in 0..n {
                                c[i * rsc + j * csc] = 0.0;
                            }
                        }
                    }
                    return;
                }
                let init = if beta == 0.0 { Init::Zero } else { Init::Keep };
                // SAFETY: `check_gemm` proved every element of a, b and c that the product touches
                // lies inside its slice; `c` is borrowed mutably so it aliases neither input.
                unsafe { split_gemm(a, b, init, Dst { ptr: SharedPtr(c.as_mut_ptr()), rs: rsc, cs: csc }) };
            }

            fn gemm_uninit(a: MatRef<'_, $t>, b: MatRef<'_, $t>, bias: Option<&[$t]>, c: &mut [MaybeUninit<$t>]) {
                let (m, k, n) = (a.rows, a.cols, b.cols);
                assert_eq!(c.len(), m * n, "gemm: output size");
                if k == 0 || m * k * n <= SMALL_GEMM || bias.is_some_and(|b| b.len() != n) {
                    return init_then_gemm(a, b, bias, c);
                }
                a.check_bounds();
                b.check_bounds();
                assert_eq!(a.cols, b.rows, "gemm: inner dimensions differ");
                let init = bias.map_or(Init::Zero, Init::Bias);
                // SAFETY: a and b are in bounds (checked above) and `c` holds exactly the m x n
                // row-major output, borrowed mutably; every element is written (Zero: `gemm`
                // overwrites without reading; Bias: set, then accumulated).
                unsafe { split_gemm(a, b, init, Dst { ptr: SharedPtr(c.as_mut_ptr().cast()), rs: n, cs: 1 }) };
            }
        }
    };
}

/// Products with fewer multiply-adds than this run on the calling thread.
const SPLIT_WORK: usize = 1 << 19;

/// Output columns (rows) per block are a multiple of this, the width of `gemm`'s micro-kernel.
const SPLIT_ALIGN: usize = 16;

/// An output matrix: element `(i, j)` at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
struct Dst<T> {
    ptr: SharedPtr<T>,
    rs: usize,
    cs: usize,
}

impl<T> Dst<T> {
    /// The sub-matrix starting at element `(i, j)`.
    ///
    /// # Safety
    /// `(i, j)` lies in the matrix.
    unsafe fn at(self, i: usize, j: usize) -> Self {
        // SAFETY: the caller's contract.
        Dst { ptr: SharedPtr(unsafe { self.ptr.add(i * self.rs + j * self.cs) }), ..self }
    }
}

/// `c = a @ b` into `c` as `init` says, split into one block per
/// thread of rayon's pool, each block a single-threaded `gemm` call: along the output's columns
/// when `a` is the smaller operand (every block packs all of `a` and its own columns of `b`), else
/// along its rows. On two cores this beat `gemm`'s own threading at every size measured (the
/// mlp-step's 128x512x512 products 6-20%, 512-2048 squares by 0-4%; `cnn_ops --mlp`). Inside a rayon
/// worker (a batch already spread over the pool) and below [`SPLIT_WORK`] the product runs whole.
///
/// # Safety
/// Every element of `a`, `b` and of the `a.rows x b.cols` matrix `c` must lie in bounds, and `c`
/// must alias neither input.
unsafe fn split_gemm<T: GemmElem + 'static>(a: MatRef<'_, T>, b: MatRef<'_, T>, init: Init<'_, T>, c: Dst<T>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let threads = rayon::current_num_threads();
    let along_n = m <= n;
    let len = if along_n { n } else { m };
    let blocks = threads.min(len.div_ceil(SPLIT_ALIGN));
    if blocks < 2 || m * k * n < SPLIT_WORK || rayon::current_thread_index().is_some() {
        // SAFETY: the caller's contract.
        unsafe { raw_gemm(a, b, init, c) };
        return;
    }
    super::pin::pin_workers_once();
    let per = len.div_ceil(blocks).next_multiple_of(SPLIT_ALIGN);
    (0..len.div_ceil(per)).into_par_iter().for_each(|i| {
        let (lo, hi) = (i * per, ((i + 1) * per).min(len));
        // SAFETY: block i reads a sub-matrix of a or b and writes only its own columns (rows)
        // lo..hi of c, disjoint from every other block's; all lie inside the caller's bounds.
        unsafe {
            if along_n {
                let bb = MatRef { off: b.off + lo * b.cs, cols: hi - lo, ..b };
                let init = match init {
                    Init::Bias(bias) => Init::Bias(&bias[lo..hi]),
                    other => other,
                };
                raw_gemm(a, bb, init, c.at(0, lo));
            } else {
                let ab = MatRef { off: a.off + lo * a.rs, rows: hi - lo, ..a };
                raw_gemm(ab, b, init, c.at(lo, 0));
            }
        }
    });
}

/// One single-threaded `gemm` call: `c = a @ b`, into `c` as `init` says.
///
/// # Safety
/// As [`split_gemm`]; with `Init::Bias`, `c` is row-major-addressable (`csc` any) and the bias has
/// `b.cols` entries.
unsafe fn raw_gemm<T: GemmElem + 'static>(a: MatRef<'_, T>, b: MatRef<'_, T>, init: Init<'_, T>, c: Dst<T>) {
    let (c_ptr, rsc, csc) = (c.ptr.0, c.rs, c.cs);
    if let Init::Bias(bias) = init {
        let bias = &bias[..b.cols];
        if csc == 1 {
            // rows of the output are dense: one copy of the bias per row
            for i in 0..a.rows {
                // SAFETY: row i's b.cols elements lie in the output (the caller's bounds), which
                // aliases no input, and the bias has b.cols entries.
                unsafe { std::ptr::copy_nonoverlapping(bias.as_ptr(), c_ptr.add(i * rsc), b.cols) };
            }
        } else {
            for i in 0..a.rows {
                for (j, &v) in bias.iter().enumerate() {
                    // SAFETY: (i, j) lies in the output, which the caller guarantees is in bounds.
                    unsafe { c_ptr.add(i * rsc + j * csc).write(v) };
                }
            }
        }
    }
    let beta = if matches!(init, Init::Zero) { T::ZERO } else { T::ONE };
    // `gemm` computes dst = alpha * dst + beta * lhs @ rhs, reading dst only when asked.
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            a.rows,
            b.cols,
            a.cols,
            c_ptr,
            csc as isize,
            rsc as isize,
            beta != T::ZERO,
            a.data.as_ptr().add(a.off),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr().add(b.off),
            b.cs as isize,
            b.rs as isize,
            beta,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

impl_gemm_float!(f32);
impl_gemm_float!(f64);

/// Products with at most this many multiply-adds (8x8x8) skip `gemm`'s packing and run a
/// plain loop: measured faster for such tiny matrices of a large batch, slower from 16x16x16 on.
pub const SMALL_GEMM: usize = 512;

/// `c = a @ b + beta * c` by an i-k-j loop, `mul_add(c, x, y)` giving `c + x * y`; vectorises when
/// `b`'s and `c`'s rows are dense.
#[inline]
fn loop_gemm<T: Copy>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    zero: Option<T>,
    c: &mut [T],
    rsc: usize,
    csc: usize,
    mul_add: impl Fn(T, T, T) -> T,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    for i in 0..m {
        if let Some(z) = zero {
            for j in 0..n {
                c[i * rsc + j * csc] = z;
            }
        }
        for p in 0..k {
            let x = a.data[a.off + i * a.rs + p * a.cs];
            let brow = b.off + p * b.rs;
            if csc == 1 && b.cs == 1 {
                let crow = &mut c[i * rsc..i * rsc + n];
                for (cv, &bv) in crow.iter_mut().zip(&b.data[brow..brow + n]) {
                    *cv = mul_add(*cv, x, bv);
                }
            } else {
                for j in 0..n {
                    let cv = &mut c[i * rsc + j * csc];
                    *cv = mul_add(*cv, x, b.data[brow + j * b.cs]);
                }
            }
        }
    }
}

impl GemmElem for i64 {
    /// A plain i-k-j loop with wrapping arithmetic (PyTorch's integer overflow wraps too).
    fn gemm(a: MatRef<'_, i64>, b: MatRef<'_, i64>, beta: i64, c: &mut [i64], rsc: usize, csc: usize) {
        check_gemm(&a, &b, c, rsc, csc);
        let zero = if beta == 0 { Some(0) } else { None };
        loop_gemm(a, b, zero, c, rsc, csc, |c, x, y| c.wrapping_add(x.wrapping_mul(y)));
    }
}

/// Storage offsets of every matrix of a batch, in row-major batch order.
fn batch_offsets(batch: &[usize], strides: &[usize], offset: usize) -> Vec<usize> {
    let count: usize = batch.iter().product();
    let mut offs = Vec::with_capacity(count);
    if batch.is_empty() {
        offs.push(offset);
        return offs;
    }
    for_each_offset(batch, &[strides], &[offset], |[o], len, [st]| {
        offs.extend((0..len).map(|i| o + i * st));
    });
    offs
}

/// The single row stride of dims `(batch..., m)` seen as one dim, if they can be so merged (each
/// dim's stride is the next one's stride times its size; size-1 dims are free).
fn merged_row_stride(shape: &[usize], strides: &[usize]) -> Option<usize> {
    let (mut stride, mut span) = (strides[strides.len() - 1], shape[shape.len() - 1]);
    for d in (0..shape.len() - 1).rev() {
        if shape[d] == 1 {
            continue;
        }
        if span != 1 && strides[d] != stride * span {
            return None;
        }
        if span == 1 {
            stride = strides[d];
            span = shape[d];
        } else {
            span *= shape[d];
        }
    }
    Some(stride)
}

/// The batched product of `a` (layout `[batch..., m, k]`) and `b` (layout `[batch..., k, n]`), both
/// already broadcast to the batch shape (stride 0 allowed anywhere): a contiguous
/// `[batch..., m, n]` result, `c` prefilled by `init` (a bias row repeated, or zeros).
///
/// When `b` is one matrix shared by the whole batch and `a`'s rows merge into one strided dim, the
/// batch folds into one `(count*m) x k` product, as PyTorch folds `[B, m, k] @ [k, n]`.
pub fn batched<T: GemmElem>(
    da: &[T],
    la: &Layout,
    db: &[T],
    lb: &Layout,
    (m, k, n): (usize, usize, usize),
    bias: Option<&[T]>,
) -> crate::Result<Vec<T>> {
    let r = la.rank();
    let batch = &la.shape[..r - 2];
    let count: usize = batch.iter().product();
    let (rsa, csa) = (la.strides[r - 2], la.strides[r - 1]);
    let (rsb, csb) = (lb.strides[r - 2], lb.strides[r - 1]);
    let b_shared = lb.strides[..r - 2].iter().all(|&s| s == 0);
    // one product (a single matrix, or a batch folded into its rows): written straight into fresh
    // capacity, each thread initialising its own block of the output
    let rows = if count == 1 {
        Some(rsa)
    } else if b_shared {
        merged_row_stride(&la.shape[..r - 1], &la.strides[..r - 1])
    } else {
        None
    };
    if let Some(rs) = rows.filter(|_| count * m * n > 0) {
        let a = MatRef { data: da, off: la.offset, rows: count * m, cols: k, rs, cs: csa };
        let b = MatRef { data: db, off: lb.offset, rows: k, cols: n, rs: rsb, cs: csb };
        let mut out = super::alloc::try_vec_any::<T>("matmul", count * m * n)?;
        T::gemm_uninit(a, b, bias, &mut out.spare_capacity_mut()[..count * m * n]);
        // SAFETY: gemm_uninit wrote all count * m * n elements.
        unsafe { out.set_len(count * m * n) };
        return Ok(out);
    }
    let mut out = super::alloc::try_vec_any::<T>("matmul", count * m * n)?;
    match bias {
        Some(bias) => {
            for _ in 0..count * m {
                out.extend_from_slice(bias);
            }
        }
        None => out.resize(count * m * n, T::ZERO),
    }
    if out.is_empty() || k == 0 {
        return Ok(out);
    }
    let beta = if bias.is_some() { T::ONE } else { T::ZERO };
    let offs_a = batch_offsets(batch, &la.strides[..r - 2], la.offset);
    let offs_b = batch_offsets(batch, &lb.strides[..r - 2], lb.offset);
    let one = |i: usize, c: &mut [T]| {
        let a = MatRef { data: da, off: offs_a[i], rows: m, cols: k, rs: rsa, cs: csa };
        let b = MatRef { data: db, off: offs_b[i], rows: k, cols: n, rs: rsb, cs: csb };
        T::gemm(a, b, beta, c, n, 1);
    };
    if par_over_batch(count, m, k, n) {
        out.par_chunks_mut(m * n).enumerate().for_each(|(i, c)| one(i, c));
    } else {
        out.chunks_mut(m * n).enumerate().for_each(|(i, c)| one(i, c));
    }
    Ok(out)
}

/// Runs [`batched`] on two CPU tensors laid out as described there; returns the flat result.
pub fn matmul_tensors<T: GemmElem>(
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    dims: (usize, usize, usize),
    bias: Option<&Tensor>,
) -> crate::Result<Vec<T>> {
    let (da, _) = a.cpu_raw::<T>();
    let (db, _) = b.cpu_raw::<T>();
    let bias = bias.map(|t| t.cpu_data::<T>());
    batched(da, la, db, lb, dims, bias.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_rows() {
        assert_eq!(merged_row_stride(&[2, 3, 4], &[12, 4, 1]), Some(1));
        assert_eq!(merged_row_stride(&[2, 3], &[15, 5]), Some(5));
        assert_eq!(merged_row_stride(&[2, 3], &[1, 2]), None);
        assert_eq!(merged_row_stride(&[1, 3], &[99, 5]), Some(5));
        assert_eq!(merged_row_stride(&[2, 1], &[7, 3]), Some(7));
    }

    #[test]
    fn gemm_strided_matches_naive() {
        // a: 3x4 stored transposed (column-major), b: 4x2 dense, c accumulates
        let a_cm: Vec<f64> = (0..12).map(|v| v as f64).collect();
        let a = MatRef { data: &a_cm, off: 0, rows: 3, cols: 4, rs: 1, cs: 3 };
        let bv: Vec<f64> = (0..8).map(|v| (v as f64) * 0.5 - 1.0).collect();
        let b = MatRef::dense(&bv, 0, 4, 2);
        let mut c = vec![1.0; 6];
        f64::gemm(a, b, 1.0, &mut c, 2, 1);
        for i in 0..3 {
            for j in 0..2 {
                let want: f64 = 1.0 + (0..4).map(|p| a_cm[i + 3 * p] * bv[p * 2 + j]).sum::<f64>();
                assert_eq!(c[i * 2 + j], want);
            }
        }
        let ai: Vec<i64> = a_cm.iter().map(|&v| v as i64).collect();
        let mut ci = vec![5i64; 6];
        let a = MatRef { data: &ai, off: 0, rows: 3, cols: 4, rs: 1, cs: 3 };
        // b given as the transpose of its column-major storage
        let b_cm: Vec<i64> = (0..8).collect();
        let b = MatRef::dense(&b_cm, 0, 2, 4).t();
        i64::gemm(a, b, 0, &mut ci, 1, 3);
        for i in 0..3 {
            for j in 0..2 {
                let want: i64 = (0..4).map(|p| ai[i + 3 * p] * b_cm[j * 4 + p]).sum();
                assert_eq!(ci[i + 3 * j], want);
            }
        }
    }

    /// Products large enough to be split over the pool (along the output's columns and along its
    /// rows, sizes not multiples of the block alignment, transposed operands) against plain sums,
    /// overwriting, accumulating, and starting from a bias (uninitialised output).
    #[test]
    fn split_products_match_naive() {
        for (m, k, n) in [(37, 300, 101), (301, 64, 45), (128, 784, 512)] {
            assert!(m * k * n >= SPLIT_WORK);
            // a stored column-major (a transposed view), b row-major
            let av: Vec<f64> = (0..m * k).map(|v| ((v * 7 % 13) as f64 - 6.0) * 0.25).collect();
            let bv: Vec<f64> = (0..k * n).map(|v| ((v * 5 % 11) as f64 - 5.0) * 0.5).collect();
            let a = MatRef { data: &av, off: 0, rows: m, cols: k, rs: 1, cs: m };
            let b = MatRef::dense(&bv, 0, k, n);
            let bias: Vec<f64> = (0..n).map(|j| j as f64 - 3.0).collect();
            let want = |i: usize, j: usize| (0..k).map(|p| av[i + p * m] * bv[p * n + j]).sum::<f64>();
            // the values are multiples of 1/8 with small sums: every order of summation is exact
            let mut c = vec![f64::NAN; m * n];
            f64::gemm(a, b, 0.0, &mut c, n, 1);
            let mut acc = vec![2.0; m * n];
            f64::gemm(a, b, 1.0, &mut acc, n, 1);
            let mut biased = Vec::with_capacity(m * n);
            f64::gemm_uninit(a, b, Some(&bias), &mut biased.spare_capacity_mut()[..m * n]);
            // SAFETY: gemm_uninit wrote all m * n elements.
            unsafe { biased.set_len(m * n) };
            for i in 0..m {
                for j in 0..n {
                    let w = want(i, j);
                    assert_eq!(c[i * n + j], w, "{m}x{k}x{n} overwrite ({i}, {j})");
                    assert_eq!(acc[i * n + j], w + 2.0, "{m}x{k}x{n} accumulate ({i}, {j})");
                    assert_eq!(biased[i * n + j], w + bias[j], "{m}x{k}x{n} bias ({i}, {j})");
                }
            }
        }
    }
}
