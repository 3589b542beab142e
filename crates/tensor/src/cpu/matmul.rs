//! CPU matrix products: a strided GEMM over the `gemm` crate (f32, f64) or a plain loop (i64), and
//! the batched, broadcasting driver behind `matmul`, `bmm`, `mm` and `linear`.
//!
//! `gemm` takes arbitrary row and column strides, so transposed or sliced operands are passed as
//! they lie in storage, without a copy. It threads large products over rayon's pool; many small
//! products of a batch run in parallel over the batch instead (each single-threaded: `gemm` is told
//! not to thread when called from a rayon worker). Tiny products (at most 8x8x8) skip `gemm`'s
//! packing and run a plain loop.

use rayon::prelude::*;

use super::strided::for_each_offset;
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
                // Inside a rayon worker (a batch spread over the pool) each product runs on its
                // own thread; otherwise `gemm` threads it over rayon's pool above its own size
                // threshold.
                // A column-major right operand with few rows on the left is the exception: `gemm`'s
                // threaded packing of it made such products slower on two threads than on one
                // (64x1568x128, a Linear layer's `x @ w.t()`: 0.46 against 0.29-0.40 ms).
                let par = if rayon::current_thread_index().is_some() || (b.cs != 1 && m < SERIAL_NT_ROWS) {
                    gemm::Parallelism::None
                } else {
                    gemm::Parallelism::Rayon(0)
                };
                // SAFETY: `check_gemm` proved every element of a, b and c that the product touches
                // lies inside its slice; `c` is borrowed mutably so it aliases neither input.
                // `gemm` computes dst = alpha * dst + beta * lhs @ rhs, reading dst only when asked.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        csc as isize,
                        rsc as isize,
                        beta != 0.0,
                        a.data.as_ptr().add(a.off),
                        a.cs as isize,
                        a.rs as isize,
                        b.data.as_ptr().add(b.off),
                        b.cs as isize,
                        b.rs as isize,
                        beta,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    );
                }
            }
        }
    };
}

impl_gemm_float!(f32);
impl_gemm_float!(f64);

/// Products `a @ b` with a column-major `b` and fewer rows than this run on one thread (see
/// `GemmElem::gemm`).
const SERIAL_NT_ROWS: usize = 128;

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
) -> Vec<T> {
    let r = la.rank();
    let batch = &la.shape[..r - 2];
    let count: usize = batch.iter().product();
    let mut out = match bias {
        Some(bias) => {
            let mut v = Vec::with_capacity(count * m * n);
            for _ in 0..count * m {
                v.extend_from_slice(bias);
            }
            v
        }
        None => vec![T::ZERO; count * m * n],
    };
    if out.is_empty() || k == 0 {
        return out;
    }
    let beta = if bias.is_some() { T::ONE } else { T::ZERO };
    let (rsa, csa) = (la.strides[r - 2], la.strides[r - 1]);
    let (rsb, csb) = (lb.strides[r - 2], lb.strides[r - 1]);
    let b_shared = lb.strides[..r - 2].iter().all(|&s| s == 0);
    if count > 1 && b_shared {
        if let Some(rs) = merged_row_stride(&la.shape[..r - 1], &la.strides[..r - 1]) {
            let a = MatRef { data: da, off: la.offset, rows: count * m, cols: k, rs, cs: csa };
            let b = MatRef { data: db, off: lb.offset, rows: k, cols: n, rs: rsb, cs: csb };
            T::gemm(a, b, beta, &mut out, n, 1);
            return out;
        }
    }
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
    out
}

/// Runs [`batched`] on two CPU tensors laid out as described there; returns the flat result.
pub fn matmul_tensors<T: GemmElem>(
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    dims: (usize, usize, usize),
    bias: Option<&Tensor>,
) -> Vec<T> {
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
}
