//! CPU kernels for `softmax` and `log_softmax`. Along the last dim each contiguous row takes one
//! task: its max, then `exp(x - max)` written out while summing (in f64), then a scale. Along other
//! dims the same three steps run on whole rows of a `[n, inner]` slab at once (running rows of maxima
//! and sums), never gathering per element.

use rayon::prelude::*;

use super::elementwise::par_worth;
use crate::op_desc::Axis;
use crate::{Float, Result, Tensor};

/// Softmax (or log-softmax, when `log`) of a float tensor over `ax`.
pub fn softmax(t: &Tensor, ax: Axis, log: bool) -> Result<Tensor> {
    let op = if log { "log_softmax" } else { "softmax" };
    Ok(with_float!(op, t.dtype(), T, {
        let data = t.cpu_data::<T>();
        let v = if data.is_empty() {
            Vec::new()
        } else if ax.inner == 1 {
            last_dim(&data, ax.n, log)
        } else {
            strided(&data, ax, log)
        };
        Tensor::from_vec_unchecked(v, t.shape())
    }))
}

fn last_dim<T: Float>(data: &[T], n: usize, log: bool) -> Vec<T> {
    let mut out = super::alloc::filled("softmax", data.len(), T::ZERO);
    let row = |(o, x): (&mut [T], &[T])| row_softmax(x, o, log);
    if par_worth(data.len()) {
        let min_rows = (4096 / n).max(1);
        out.par_chunks_mut(n).zip(data.par_chunks(n)).with_min_len(min_rows).for_each(row);
    } else {
        out.chunks_mut(n).zip(data.chunks(n)).for_each(row);
    }
    out
}

/// One contiguous row. A NaN never becomes the max, but it still poisons the sum, so the row is NaN.
fn row_softmax<T: Float>(x: &[T], o: &mut [T], log: bool) {
    let mut m = T::NEG_INFINITY;
    for &v in x {
        if v > m {
            m = v;
        }
    }
    let mut s = 0.0f64;
    if log {
        for &v in x {
            s += (v - m).exp().to_f64();
        }
        let ls = T::from_f64(s.ln());
        for (o, &v) in o.iter_mut().zip(x) {
            *o = v - m - ls;
        }
    } else {
        for (o, &v) in o.iter_mut().zip(x) {
            let e = (v - m).exp();
            *o = e;
            s += e.to_f64();
        }
        let inv = T::from_f64(1.0 / s);
        for o in o.iter_mut() {
            *o = *o * inv;
        }
    }
}

/// Output columns per parallel task when a few slabs are split by columns.
const COLS: usize = 256;

/// The rows of one output block, by index.
trait RowsMut<T> {
    fn row(&mut self, k: usize) -> &mut [T];
}

/// All columns of one `[n, inner]` output slab.
struct Slab<'a, T>(&'a mut [T], usize);

impl<T> RowsMut<T> for Slab<'_, T> {
    #[inline]
    fn row(&mut self, k: usize) -> &mut [T] {
        &mut self.0[k * self.1..(k + 1) * self.1]
    }
}

/// One column block of a slab: its piece of every row.
impl<T> RowsMut<T> for Vec<&mut [T]> {
    #[inline]
    fn row(&mut self, k: usize) -> &mut [T] {
        self[k]
    }
}

/// Per-task scratch: the running max and the exp-sums of a block's columns.
type Bufs<T> = (Vec<T>, Vec<f64>);

/// Softmax along the rows of one block: columns `j0 .. j0 + w` of the `[n, inner]` input slab `x`.
#[allow(clippy::too_many_arguments)]
fn block<T: Float>(
    x: &[T],
    inner: usize,
    j0: usize,
    w: usize,
    n: usize,
    out: &mut impl RowsMut<T>,
    log: bool,
    bufs: &mut Bufs<T>,
) {
    let xr = |k: usize| &x[k * inner + j0..k * inner + j0 + w];
    let (m, s) = bufs;
    m.clear();
    m.resize(w, T::NEG_INFINITY);
    s.clear();
    s.resize(w, 0.0);
    for k in 0..n {
        for (m, &v) in m.iter_mut().zip(xr(k)) {
            if v > *m {
                *m = v;
            }
        }
    }
    if log {
        for k in 0..n {
            for ((s, &m), &v) in s.iter_mut().zip(m.iter()).zip(xr(k)) {
                *s += (v - m).exp().to_f64();
            }
        }
        let ls: Vec<T> = s.iter().map(|&s| T::from_f64(s.ln())).collect();
        for k in 0..n {
            for (((o, &v), &m), &ls) in out.row(k).iter_mut().zip(xr(k)).zip(m.iter()).zip(&ls) {
                *o = v - m - ls;
            }
        }
    } else {
        for k in 0..n {
            for (((o, &v), &m), s) in out.row(k).iter_mut().zip(xr(k)).zip(m.iter()).zip(s.iter_mut()) {
                let e = (v - m).exp();
                *o = e;
                *s += e.to_f64();
            }
        }
        for (m, &s) in m.iter_mut().zip(s.iter()) {
            *m = T::from_f64(1.0 / s); // reuse the max buffer for the scales
        }
        for k in 0..n {
            for (o, &inv) in out.row(k).iter_mut().zip(m.iter()) {
                *o = *o * inv;
            }
        }
    }
}

/// Softmax along a dim other than the last: per `[n, inner]` slab, a running row of maxima, then
/// exponentials written out while their sums accumulate, then a scale. Parallel over slabs, or over
/// column blocks when there are fewer slabs than threads.
fn strided<T: Float>(data: &[T], ax: Axis, log: bool) -> Vec<T> {
    let Axis { outer, n, inner } = ax;
    let slab = n * inner;
    let mut out = super::alloc::filled("softmax", data.len(), T::ZERO);
    let par = par_worth(data.len());
    if par && outer < rayon::current_num_threads() {
        for (o, out_slab) in out.chunks_mut(slab).enumerate() {
            let x = &data[o * slab..(o + 1) * slab];
            let mut blocks: Vec<Vec<&mut [T]>> = (0..inner.div_ceil(COLS)).map(|_| Vec::with_capacity(n)).collect();
            for row in out_slab.chunks_mut(inner) {
                for (b, piece) in row.chunks_mut(COLS).enumerate() {
                    blocks[b].push(piece);
                }
            }
            blocks.into_par_iter().enumerate().for_each_init(Bufs::default, |bufs, (b, mut rows)| {
                let w = rows[0].len();
                block(x, inner, b * COLS, w, n, &mut rows, log, bufs);
            });
        }
        return out;
    }
    let one = |bufs: &mut Bufs<T>, (o, out_slab): (usize, &mut [T])| {
        block(&data[o * slab..(o + 1) * slab], inner, 0, inner, n, &mut Slab(out_slab, inner), log, bufs);
    };
    if par {
        out.par_chunks_mut(slab).enumerate().for_each_init(Bufs::default, one);
    } else {
        let mut bufs = Bufs::default();
        out.chunks_mut(slab).enumerate().for_each(|x| one(&mut bufs, x));
    }
    out
}
