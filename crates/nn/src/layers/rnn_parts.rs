//! The step loops of the fused recurrent layer (`rnn_kernels.rs`), run per part of the batch.
//!
//! The rows of a batch are independent over the whole recurrence: row `b` of `h_t` depends only
//! on row `b` of `h_{t-1}` (and of `c_{t-1}`), forward and backward. So on several threads the
//! batch is cut into one part of rows per thread and each thread runs every step of its part,
//! product and pointwise pass, with no synchronisation until the sequence ends (the products
//! over the whole sequence, `dW_ih`, `dW_hh`, `dx`, run afterwards on all the rows). A batch too
//! small to cut runs as one part, whose per-step products split their output columns over the
//! threads instead.

use rayon::prelude::*;

use super::rnn::Cell;
use super::rnn_kernels::{slot, BwdStep, FwdStep, Real, SavedRef, StepWeight};

/// Fewest batch rows worth a thread of their own.
const MIN_PART_ROWS: usize = 8;

/// The first row of each part and, last, the batch size: one part per thread of rayon's pool,
/// each of at least [`MIN_PART_ROWS`] rows (one part when the batch is smaller).
pub(crate) fn row_parts(nb: usize) -> Vec<usize> {
    let parts = rayon::current_num_threads().min(nb / MIN_PART_ROWS).max(1);
    (0..=parts).map(|p| p * nb / parts).collect()
}

/// `buf` (`[seq * nb, width]`, time-major) cut into the parts' rows: `out[p][t]` is slot `t`'s
/// rows `bounds[p]..bounds[p + 1]`. An empty `buf` gives empty slices.
pub(crate) fn split_rows<'a, T>(
    buf: &'a mut [T],
    seq: usize,
    nb: usize,
    width: usize,
    bounds: &[usize],
) -> Vec<Vec<&'a mut [T]>> {
    let parts = bounds.len() - 1;
    let mut out: Vec<Vec<&'a mut [T]>> = (0..parts).map(|_| Vec::with_capacity(seq)).collect();
    if buf.is_empty() {
        for o in &mut out {
            o.extend((0..seq).map(|_| <&mut [T]>::default()));
        }
        return out;
    }
    for step in buf.chunks_mut(nb * width).take(seq) {
        let mut rest = step;
        for (p, o) in out.iter_mut().enumerate() {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut((bounds[p + 1] - bounds[p]) * width);
            o.push(part);
            rest = tail;
        }
    }
    out
}

/// `buf` (`[nb, width]`) cut into the parts' rows (empty slices for an empty `buf`).
pub(crate) fn split_state<'a, T>(buf: &'a mut [T], width: usize, bounds: &[usize]) -> Vec<&'a mut [T]> {
    let mut rest = buf;
    let mut out = Vec::with_capacity(bounds.len() - 1);
    for w in bounds.windows(2) {
        let len = if rest.is_empty() { 0 } else { (w[1] - w[0]) * width };
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(len);
        out.push(part);
        rest = tail;
    }
    out
}

/// Runs `f` on every part, in parallel when there are several; one part runs on a thread of
/// rayon's pool when the pool has several threads (so the column splits of its products are
/// in-pool `join`s, not one injection into the pool per step).
pub(crate) fn for_parts<P: Send>(parts: Vec<P>, f: impl Fn(P, bool) + Sync + Send) {
    if parts.len() > 1 {
        parts.into_par_iter().for_each(|p| f(p, false));
    } else if rayon::current_num_threads() > 1 && rayon::current_thread_index().is_none() {
        rayon::scope(|_| parts.into_iter().for_each(|p| f(p, true)));
    } else {
        parts.into_iter().for_each(|p| f(p, true));
    }
}

/// What one part of the forward owns: per slot its rows of the gates, hidden states and `aux`,
/// and its rows of the running states.
pub(crate) struct FwdPart<'a, T> {
    pub(crate) gates: Vec<&'a mut [T]>,
    pub(crate) hs: Vec<&'a mut [T]>,
    pub(crate) aux: Vec<&'a mut [T]>,
    pub(crate) h: &'a mut [T],
    pub(crate) c: &'a mut [T],
}

/// The shared inputs of the step loops.
#[derive(Clone, Copy)]
pub(crate) struct Loop<'a, 'w, T> {
    pub(crate) cell: Cell,
    pub(crate) seq: usize,
    pub(crate) hidden: usize,
    pub(crate) reverse: bool,
    pub(crate) w: &'a StepWeight<'w, T>,
}

/// The forward steps of one part (`rows` batch rows); `threaded`: its products may split over
/// the threads.
pub(crate) fn forward_part<T: Real>(
    l: Loop<'_, '_, T>,
    b_hn: Option<&[T]>,
    rows: usize,
    p: FwdPart<'_, T>,
    threaded: bool,
) {
    let (cell, hid) = (l.cell, l.hidden);
    let gru = cell == Cell::Gru;
    let FwdPart { mut gates, mut hs, mut aux, h, c } = p;
    let mut gh = if gru { vec![T::ZERO; rows * cell.gates() * hid] } else { Vec::new() };
    for k in 0..l.seq {
        let t = slot(k, l.seq, l.reverse);
        let gt = &mut *gates[t];
        if gru {
            T::step_mm(h, rows, l.w, T::ZERO, &mut gh, threaded);
        } else {
            T::step_mm(h, rows, l.w, T::ONE, gt, threaded);
        }
        let mut none: [T; 0] = [];
        let aux_t = if gru { &mut *aux[t] } else { &mut none[..] };
        T::forward_pass(cell, FwdStep { hidden: hid, g: gt, h, c, gh: &gh, b_hn, aux: aux_t });
        hs[t].copy_from_slice(h);
        if cell == Cell::Lstm {
            aux[t].copy_from_slice(c);
        }
    }
}

/// What one part of the backward owns: per slot its rows of the gate gradients (input side, and
/// for GRU the hidden side), and its rows of the running cell gradient and of the gradient of
/// `h0` (written at the end).
pub(crate) struct BwdPart<'a, T> {
    pub(crate) r0: usize,
    pub(crate) r1: usize,
    pub(crate) dg: Vec<&'a mut [T]>,
    pub(crate) dgh: Vec<&'a mut [T]>,
    pub(crate) dc: &'a mut [T],
    pub(crate) dh0: &'a mut [T],
}

/// The inputs the backward steps read: the first states, the saved forward, the upstream
/// gradient, the batch size.
#[derive(Clone, Copy)]
pub(crate) struct BwdIn<'a, T> {
    pub(crate) h0: &'a [T],
    pub(crate) c0: &'a [T],
    pub(crate) saved: SavedRef<'a, T>,
    pub(crate) dy: &'a [T],
    pub(crate) nb: usize,
}

/// The backward steps of one part; `threaded`: its products may split over the threads.
pub(crate) fn backward_part<T: Real>(l: Loop<'_, '_, T>, i: BwdIn<'_, T>, p: BwdPart<'_, T>, threaded: bool) {
    let (cell, hid, seq) = (l.cell, l.hidden, l.seq);
    let gw = cell.gates() * hid;
    let gru = cell == Cell::Gru;
    let BwdPart { r0, r1, mut dg, mut dgh, dc, dh0 } = p;
    let rows = r1 - r0;
    // this part's rows of slot `t` of a time-major buffer of rows `width` wide
    fn rows_of<T>(buf: &[T], t: usize, nb: usize, (r0, r1): (usize, usize), width: usize) -> &[T] {
        &buf[(t * nb + r0) * width..(t * nb + r1) * width]
    }
    let at = |buf, t, width| rows_of(buf, t, i.nb, (r0, r1), width);
    // dh: the gradient reaching h_t (its own output's, plus what flows back from step t + 1)
    let mut dh = vec![T::ZERO; rows * hid];
    let mut dh_next = vec![T::ZERO; rows * hid];
    for k in (0..seq).rev() {
        let t = slot(k, seq, l.reverse);
        for (a, &b) in dh.iter_mut().zip(at(i.dy, t, hid)) {
            *a += b;
        }
        let prev = (k > 0).then(|| slot(k - 1, seq, l.reverse));
        let h_prev = prev.map_or(&i.h0[r0 * hid..r1 * hid], |p| at(i.saved.hs, p, hid));
        let c_prev = match (cell, prev) {
            (Cell::Lstm, Some(p)) => at(i.saved.aux, p, hid),
            (Cell::Lstm, None) => &i.c0[r0 * hid..r1 * hid],
            _ => &[][..],
        };
        let aux = if i.saved.aux.is_empty() { &[][..] } else { at(i.saved.aux, t, hid) };
        dh_next.iter_mut().for_each(|v| *v = T::ZERO);
        T::backward_pass(
            cell,
            BwdStep {
                hidden: hid,
                g: at(i.saved.gates, t, gw),
                aux,
                h_prev,
                c_prev,
                dh: &dh,
                dc: &mut *dc,
                dg: &mut *dg[t],
                dgh: &mut *dgh[t],
                dh_next: &mut dh_next,
            },
        );
        let src: &[T] = if gru { &*dgh[t] } else { &*dg[t] };
        T::step_mm(src, rows, l.w, T::ONE, &mut dh_next, threaded);
        std::mem::swap(&mut dh, &mut dh_next);
    }
    dh0.copy_from_slice(&dh);
}

#[cfg(test)]
mod tests {
    use super::super::rnn_kernels::{backward, forward, Dims, Grads, Saved, Wanted, Weights};
    use super::*;

    /// A deterministic pseudo-random vector in [-0.5, 0.5).
    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Row `b` of every slot of a time-major `[slots * nb, width]` buffer.
    fn row(buf: &[f32], b: usize, nb: usize, width: usize) -> Vec<f32> {
        buf.chunks_exact(nb * width).flat_map(|s| s[b * width..(b + 1) * width].to_vec()).collect()
    }

    /// Asserts `a` equals `b` within rounding.
    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{what} at {i}: {x} vs {y}");
        }
    }

    /// The forward and backward of `cell` over batch `nb` (rows `b` of the inputs only, when given).
    fn run(cell: Cell, reverse: bool, nb_all: usize, only: Option<usize>) -> (Saved<f32>, Grads<f32>) {
        let (seq, input, hid) = (5, 3, 7);
        let gw = cell.gates() * hid;
        let lstm = cell == Cell::Lstm;
        let (w_ih, w_hh, b_ih, b_hh) = (values(gw * input, 1), values(gw * hid, 2), values(gw, 3), values(gw, 4));
        let w = Weights { w_ih: &w_ih, w_hh: &w_hh, b_ih: Some(&b_ih), b_hh: Some(&b_hh) };
        let mut x = values(seq * nb_all * input, 5);
        let mut h0 = values(nb_all * hid, 6);
        let mut c0 = if lstm { values(nb_all * hid, 7) } else { Vec::new() };
        let mut dy = values((seq + usize::from(lstm)) * nb_all * hid, 8);
        let mut nb = nb_all;
        if let Some(b) = only {
            (x, h0, dy) = (row(&x, b, nb, input), row(&h0, b, nb, hid), row(&dy, b, nb, hid));
            c0 = if lstm { row(&c0, b, nb, hid) } else { c0 };
            nb = 1;
        }
        let d = Dims { seq, batch: nb, input, hidden: hid };
        let s = forward(cell, d, &x, &h0, &c0, &w, reverse);
        let want = Wanted { x: true, w_ih: true, w_hh: true, bias: true };
        let saved = SavedRef { gates: &s.gates, aux: &s.aux, hs: &s.hs };
        let g = backward(cell, d, &x, &h0, &c0, &w, saved, &dy, reverse, want);
        (s, g)
    }

    /// A batch cut into parts over threads gives every row what running that row alone gives, and
    /// the weight gradients their sum over the rows.
    #[test]
    fn parts_of_the_batch_match_one_row_at_a_time() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("pool");
        let nb = 19;
        for cell in [Cell::Lstm, Cell::Gru, Cell::Tanh, Cell::Relu] {
            for reverse in [false, true] {
                let (s, g) = pool.install(|| {
                    assert_eq!(row_parts(nb), vec![0, 9, 19], "two parts of at least 8 rows");
                    run(cell, reverse, nb, None)
                });
                let hid = 7;
                let gw = cell.gates() * hid;
                let mut w_sum = vec![0.0f32; gw * hid];
                for b in 0..nb {
                    let (sb, gb) = run(cell, reverse, nb, Some(b));
                    let what = format!("{cell:?} reverse={reverse} row {b}");
                    close(&row(&s.hs, b, nb, hid), &sb.hs, &format!("{what} hs"));
                    close(&row(&s.gates, b, nb, gw), &sb.gates, &format!("{what} gates"));
                    close(&row(&s.aux, b, nb, hid), &sb.aux, &format!("{what} aux"));
                    close(&row(&s.c_last, b, nb, hid), &sb.c_last, &format!("{what} c_last"));
                    let x_all = g.x.as_deref().expect("dx");
                    close(&row(x_all, b, nb, 3), gb.x.as_deref().expect("dx"), &format!("{what} dx"));
                    close(&row(&g.h0, b, nb, hid), &gb.h0, &format!("{what} dh0"));
                    close(&row(&g.c0, b, nb, hid), &gb.c0, &format!("{what} dc0"));
                    for (a, v) in w_sum.iter_mut().zip(gb.w_hh.as_deref().expect("dW_hh")) {
                        *a += v;
                    }
                }
                close(g.w_hh.as_deref().expect("dW_hh"), &w_sum, &format!("{cell:?} reverse={reverse} dW_hh"));
            }
        }
    }
}
