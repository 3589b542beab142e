//! CPU kernels of the fused recurrent layer (`rnn_fused.rs`): one layer in one direction over a
//! whole sequence, forward and backward, on host slices (`f32` with the vectorised `sigmoid`/`tanh`
//! of `ember_tensor::cpu::vmath`, `f64` with the exact functions).
//!
//! Layout: every sequence buffer is time-major, `[seq * batch, width]` row-major, slot `t` holding
//! time step `t` (for the reverse direction the steps run from the last slot to the first).
//!
//! Forward: the input projection of the whole sequence is one product (`x W_ih^T + bias`, both
//! biases folded where the cell allows); each step adds `h W_hh^T` (one product for all gates)
//! and runs one pointwise pass that applies the gate functions, writes the activated gates back in
//! place (saved for the backward) and updates the states. Backward: per step in reverse, one
//! pointwise pass turns the upstream gradient and the saved gates into the pre-activation
//! gradients, and one product `dG W_hh` carries the gradient to the previous step; after the loop
//! `dW_ih`, `dW_hh` and `dx` are one product each over the whole sequence and the biases one
//! column sum.
//!
//! The per-step products (`h W_hh^T`, `dG W_hh`: 32 rows for a batch of 32) are the recurrence's
//! cost. In `f32` they run through `rnn_gemm.rs`: the weight packed once per sequence and a
//! register-tiled microkernel per instruction set (`f64` keeps `ember_tensor`'s GEMM). The step
//! loops live in `rnn_parts.rs`: on several threads each thread runs the whole recurrence for its
//! own rows of the batch (rows are independent over the steps).

use ember_tensor::cpu::matmul::{GemmElem, MatRef};
use ember_tensor::cpu::vmath::{self, Fm};
use ember_tensor::Float;

use super::rnn::Cell;
use super::rnn_gemm::Packed;
use super::rnn_parts as parts;

/// Sizes of one layer-direction run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub(crate) seq: usize,
    pub(crate) batch: usize,
    pub(crate) input: usize,
    pub(crate) hidden: usize,
}

/// The layer's parameters, row-major as PyTorch stores them.
pub(crate) struct Weights<'a, T> {
    /// `[gates * hidden, input]`.
    pub(crate) w_ih: &'a [T],
    /// `[gates * hidden, hidden]`.
    pub(crate) w_hh: &'a [T],
    pub(crate) b_ih: Option<&'a [T]>,
    pub(crate) b_hh: Option<&'a [T]>,
}

/// What the forward keeps for the backward, and its results.
pub(crate) struct Saved<T> {
    /// `[seq * batch, gates * hidden]`: the activated gates (LSTM `i, f, g, o`; GRU `r, z, n`;
    /// Elman: the new hidden state).
    pub(crate) gates: Vec<T>,
    /// `[seq * batch, hidden]`: LSTM the cell states, GRU `W_hn h + b_hn`; empty for Elman.
    pub(crate) aux: Vec<T>,
    /// `[seq * batch, hidden]`: the hidden states (the layer's output).
    pub(crate) hs: Vec<T>,
    /// `[batch, hidden]`: the last cell state (LSTM only, else empty).
    pub(crate) c_last: Vec<T>,
}

/// [`Saved`] as the backward reads it (the hidden states come back from the op's output).
#[derive(Clone, Copy)]
pub(crate) struct SavedRef<'a, T> {
    pub(crate) gates: &'a [T],
    pub(crate) aux: &'a [T],
    pub(crate) hs: &'a [T],
}

/// Gradients of one layer-direction run; each `None` where not asked for.
pub(crate) struct Grads<T> {
    pub(crate) x: Option<Vec<T>>,
    pub(crate) h0: Vec<T>,
    pub(crate) c0: Vec<T>,
    pub(crate) w_ih: Option<Vec<T>>,
    pub(crate) w_hh: Option<Vec<T>>,
    pub(crate) b_ih: Option<Vec<T>>,
    pub(crate) b_hh: Option<Vec<T>>,
}

/// Which input gradients the backward computes (the recurrence itself always runs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    pub(crate) x: bool,
    pub(crate) w_ih: bool,
    pub(crate) w_hh: bool,
    pub(crate) bias: bool,
}

/// An element type of the fused layer: the products of `ember_tensor` and the cell's pointwise
/// passes (`f32` runs them with the widest SIMD the CPU has).
pub(crate) trait Real: GemmElem + Float {
    /// The forward pointwise pass of one step (see [`Pass`]).
    fn forward_pass(cell: Cell, p: FwdStep<'_, Self>);
    /// The backward pointwise pass of one step (see [`Pass`]).
    fn backward_pass(cell: Cell, p: BwdStep<'_, Self>);
    /// The weight of the per-step product, prepared once per sequence (`f32`: packed for
    /// `rnn_gemm`'s microkernel; `f64`: the view, for `ember_tensor`'s GEMM).
    fn step_weight(b: MatRef<'_, Self>) -> StepWeight<'_, Self> {
        StepWeight { b, packed: None }
    }
    /// `c = a @ w` (`beta` 0) or `c += a @ w` (`beta` 1), `a` row-major with `rows` rows;
    /// `threaded`: the product may split over rayon's threads.
    fn step_mm(a: &[Self], rows: usize, w: &StepWeight<'_, Self>, beta: Self, c: &mut [Self], threaded: bool) {
        let _ = threaded;
        mm(MatRef::dense(a, 0, rows, w.b.rows), w.b, beta, c);
    }
}

/// The weight of the per-step recurrent product (`W_hh^T` forward, `W_hh` backward), with its
/// `f32` packing.
pub(crate) struct StepWeight<'a, T> {
    b: MatRef<'a, T>,
    packed: Option<Packed>,
}

/// The buffers of one forward step, each `[batch, width]`: `g` the gate pre-activations in
/// (`x W_ih^T + b + h W_hh^T` for Elman and LSTM, the input part only for GRU) and the activated
/// gates out; `h` the hidden state (updated in place); `c` the LSTM cell state (updated in place),
/// `gh` the GRU hidden product `h W_hh^T` (no bias), `aux` the GRU `W_hn h + b_hn` out.
pub(crate) struct FwdStep<'a, T> {
    pub(crate) hidden: usize,
    pub(crate) g: &'a mut [T],
    pub(crate) h: &'a mut [T],
    pub(crate) c: &'a mut [T],
    pub(crate) gh: &'a [T],
    pub(crate) b_hn: Option<&'a [T]>,
    pub(crate) aux: &'a mut [T],
}

/// The buffers of one backward step, each `[batch, width]`: the saved activated gates `g`, `aux`
/// (LSTM `c_t`, GRU `W_hn h + b_hn`), the previous states `h_prev`, `c_prev`; the gradient `dh`
/// reaching `h_t`; the running cell gradient `dc` (updated in place); out: `dg` (the gradient of
/// the gate pre-activations, input side) and `dgh` (GRU: its hidden side) and `dh_next`, the
/// gradient reaching `h_prev` other than through `dgh W_hh` (GRU: `dh z`; else left as is).
pub(crate) struct BwdStep<'a, T> {
    pub(crate) hidden: usize,
    pub(crate) g: &'a [T],
    pub(crate) aux: &'a [T],
    pub(crate) h_prev: &'a [T],
    pub(crate) c_prev: &'a [T],
    pub(crate) dh: &'a [T],
    pub(crate) dc: &'a mut [T],
    pub(crate) dg: &'a mut [T],
    pub(crate) dgh: &'a mut [T],
    pub(crate) dh_next: &'a mut [T],
}

/// The scalar functions of a pointwise pass.
trait Act<T> {
    fn sig(x: T) -> T;
    fn tanh(x: T) -> T;
}

/// `f32` through `vmath`'s kernels with `M`'s multiply-add.
struct VF32<M>(std::marker::PhantomData<M>);

impl<M: Fm> Act<f32> for VF32<M> {
    #[inline(always)]
    fn sig(x: f32) -> f32 {
        vmath::sigmoid::<M>(x)
    }
    #[inline(always)]
    fn tanh(x: f32) -> f32 {
        vmath::tanh::<M>(x)
    }
}

/// `f64` through the exact functions.
struct Exact;

impl Act<f64> for Exact {
    #[inline(always)]
    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }
    #[inline(always)]
    fn tanh(x: f64) -> f64 {
        x.tanh()
    }
}

/// Part `k` of width `n` of a row (sliced to exactly `n`, so the loops below index without bounds
/// checks and vectorise).
#[inline(always)]
fn part<T>(s: &[T], k: usize, n: usize) -> &[T] {
    &s[k * n..][..n]
}

/// The first four parts of width `n` of a row, mutable.
#[inline(always)]
fn parts_mut<T>(s: &mut [T], n: usize) -> [&mut [T]; 4] {
    let (a, rest) = s.split_at_mut(n);
    let (b, rest) = rest.split_at_mut(n);
    let (c, d) = rest.split_at_mut(n.min(rest.len()));
    let d_len = n.min(d.len());
    [&mut a[..n], &mut b[..n], &mut c[..n], &mut d[..d_len]]
}

/// The forward pointwise pass of `cell` with the functions of `A`, row by row.
#[inline(always)]
fn fwd<T: Float, A: Act<T>>(cell: Cell, p: FwdStep<'_, T>) {
    let n = p.hidden;
    let gw = cell.gates() * n;
    let no_bias = vec![T::ZERO; if cell == Cell::Gru && p.b_hn.is_none() { n } else { 0 }];
    let b_hn: &[T] = p.b_hn.unwrap_or(&no_bias);
    for (b, g) in p.g.chunks_exact_mut(gw).enumerate() {
        let h = &mut p.h[b * n..][..n];
        match cell {
            Cell::Tanh | Cell::Relu => {
                let g = &mut g[..n];
                for j in 0..n {
                    // ReLU keeps NaN, as PyTorch's
                    let v = if cell == Cell::Tanh {
                        A::tanh(g[j])
                    } else if g[j] < T::ZERO {
                        T::ZERO
                    } else {
                        g[j]
                    };
                    g[j] = v;
                    h[j] = v;
                }
            }
            Cell::Lstm => {
                let c = &mut p.c[b * n..][..n];
                let [gi, gf, gg, go] = parts_mut(g, n);
                let go = &mut go[..n];
                for j in 0..n {
                    let (i, f, gc, o) = (A::sig(gi[j]), A::sig(gf[j]), A::tanh(gg[j]), A::sig(go[j]));
                    let cv = f * c[j] + i * gc;
                    h[j] = o * A::tanh(cv);
                    c[j] = cv;
                    (gi[j], gf[j], gg[j], go[j]) = (i, f, gc, o);
                }
            }
            Cell::Gru => {
                let gh = &p.gh[b * gw..][..gw];
                let (hr, hz, hn) = (part(gh, 0, n), part(gh, 1, n), part(gh, 2, n));
                let aux = &mut p.aux[b * n..][..n];
                let [gr, gz, gn, _] = parts_mut(g, n);
                let b_hn = &b_hn[..n];
                for j in 0..n {
                    let hnj = hn[j] + b_hn[j];
                    let r = A::sig(gr[j] + hr[j]);
                    let z = A::sig(gz[j] + hz[j]);
                    let nv = A::tanh(gn[j] + r * hnj);
                    // (1 - z) n + z h
                    h[j] = nv + z * (h[j] - nv);
                    (gr[j], gz[j], gn[j], aux[j]) = (r, z, nv, hnj);
                }
            }
        }
    }
}

/// The backward pointwise pass of `cell` with the functions of `A`, row by row.
#[inline(always)]
fn bwd<T: Float, A: Act<T>>(cell: Cell, p: BwdStep<'_, T>) {
    let n = p.hidden;
    let one = T::ONE;
    let gw = cell.gates() * n;
    for (b, dg) in p.dg.chunks_exact_mut(gw).enumerate() {
        let g = &p.g[b * gw..][..gw];
        let dh = &p.dh[b * n..][..n];
        match cell {
            Cell::Tanh | Cell::Relu => {
                let (y, dg) = (&g[..n], &mut dg[..n]);
                for j in 0..n {
                    dg[j] = if cell == Cell::Tanh {
                        dh[j] * (one - y[j] * y[j])
                    } else if y[j] > T::ZERO {
                        dh[j]
                    } else {
                        T::ZERO
                    };
                }
            }
            Cell::Lstm => {
                let (c, c_prev) = (&p.aux[b * n..][..n], &p.c_prev[b * n..][..n]);
                let dc = &mut p.dc[b * n..][..n];
                let (gi, gf, gg, go) = (part(g, 0, n), part(g, 1, n), part(g, 2, n), part(g, 3, n));
                let [dgi, dgf, dgg, dgo] = parts_mut(dg, n);
                let dgo = &mut dgo[..n];
                for j in 0..n {
                    let (i, f, gc, o) = (gi[j], gf[j], gg[j], go[j]);
                    let tc = A::tanh(c[j]);
                    let dct = dc[j] + dh[j] * o * (one - tc * tc);
                    dgo[j] = dh[j] * tc * o * (one - o);
                    dgi[j] = dct * gc * i * (one - i);
                    dgf[j] = dct * c_prev[j] * f * (one - f);
                    dgg[j] = dct * i * (one - gc * gc);
                    dc[j] = dct * f;
                }
            }
            Cell::Gru => {
                let (hn, h_prev) = (&p.aux[b * n..][..n], &p.h_prev[b * n..][..n]);
                let (gr, gz, gn) = (part(g, 0, n), part(g, 1, n), part(g, 2, n));
                let [dr, dz, dn, _] = parts_mut(dg, n);
                let [dhr, dhz, dhn, _] = parts_mut(&mut p.dgh[b * gw..][..gw], n);
                let dh_next = &mut p.dh_next[b * n..][..n];
                for j in 0..n {
                    let (r, z, nv) = (gr[j], gz[j], gn[j]);
                    let d = dh[j];
                    let dan = d * (one - z) * (one - nv * nv);
                    let drp = dan * hn[j] * r * (one - r);
                    let dzp = d * (h_prev[j] - nv) * z * (one - z);
                    (dr[j], dz[j], dn[j]) = (drp, dzp, dan);
                    (dhr[j], dhz[j], dhn[j]) = (drp, dzp, dan * r);
                    dh_next[j] += d * z;
                }
            }
        }
    }
}

impl Real for f64 {
    fn forward_pass(cell: Cell, p: FwdStep<'_, f64>) {
        fwd::<f64, Exact>(cell, p);
    }
    fn backward_pass(cell: Cell, p: BwdStep<'_, f64>) {
        bwd::<f64, Exact>(cell, p);
    }
}

/// The widest instruction set the CPU has for the `f32` passes, detected once.
fn simd_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512vl") && has!("avx512dq") && has!("avx2") && has!("fma") {
                return 2;
            }
            if has!("avx2") && has!("fma") {
                return 1;
            }
        }
        0
    })
}

/// `$f::<f32, VF32<_>>(cell, p)` compiled for AVX-512, for AVX2 with FMA and for the baseline;
/// the widest the CPU has runs.
macro_rules! multiversion {
    ($f:ident, $step:ident, $cell:expr, $p:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
            fn v4(cell: Cell, p: $step<'_, f32>) {
                $f::<f32, VF32<vmath::Fused>>(cell, p)
            }
            #[target_feature(enable = "avx2,fma")]
            fn v3(cell: Cell, p: $step<'_, f32>) {
                $f::<f32, VF32<vmath::Fused>>(cell, p)
            }
            match simd_level() {
                // SAFETY: the CPU has the features the function is compiled for.
                2 => return unsafe { v4($cell, $p) },
                // SAFETY: as above.
                1 => return unsafe { v3($cell, $p) },
                _ => {}
            }
        }
        $f::<f32, VF32<vmath::Plain>>($cell, $p)
    }};
}

impl Real for f32 {
    fn forward_pass(cell: Cell, p: FwdStep<'_, f32>) {
        multiversion!(fwd, FwdStep, cell, p)
    }
    fn backward_pass(cell: Cell, p: BwdStep<'_, f32>) {
        multiversion!(bwd, BwdStep, cell, p)
    }
    fn step_weight(b: MatRef<'_, f32>) -> StepWeight<'_, f32> {
        StepWeight { b, packed: Some(Packed::new(b)) }
    }
    fn step_mm(a: &[f32], rows: usize, w: &StepWeight<'_, f32>, beta: f32, c: &mut [f32], threaded: bool) {
        match &w.packed {
            Some(p) => p.matmul(a, rows, c, beta != 0.0, threaded),
            None => mm(MatRef::dense(a, 0, rows, w.b.rows), w.b, beta, c),
        }
    }
}

/// `c = a @ b + beta * c` for a row-major `c` (`ember_tensor`'s GEMM, threaded when large).
fn mm<T: Real>(a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    let n = b.cols;
    T::gemm(a, b, beta, c, n, 1);
}

/// The slot of processing step `k`.
pub(crate) fn slot(k: usize, seq: usize, reverse: bool) -> usize {
    if reverse {
        seq - 1 - k
    } else {
        k
    }
}

/// The forward of one layer in one direction. `x` is `[seq * batch, input]`, `h0` (and for LSTM
/// `c0`) `[batch, hidden]`.
pub(crate) fn forward<T: Real>(
    cell: Cell,
    d: Dims,
    x: &[T],
    h0: &[T],
    c0: &[T],
    w: &Weights<'_, T>,
    reverse: bool,
) -> Saved<T> {
    let (seq, nb, hid) = (d.seq, d.batch, d.hidden);
    let g = cell.gates() * hid;
    let rows = seq * nb;
    // the input projection of the whole sequence, with the biases that can be folded into it
    let mut bias: Vec<T> = w.b_ih.map_or_else(|| vec![T::ZERO; g], <[T]>::to_vec);
    if let Some(bh) = w.b_hh {
        let folded = if cell == Cell::Gru { 2 * hid } else { g };
        for (b, &v) in bias.iter_mut().zip(&bh[..folded]) {
            *b += v;
        }
    }
    let w_ih_t = MatRef::dense(w.w_ih, 0, g, d.input).t();
    let w_hh_t = T::step_weight(MatRef::dense(w.w_hh, 0, g, hid).t());
    // x W_ih^T + bias written straight into the new buffer (no fill pass first)
    let mut gates: Vec<T> = Vec::with_capacity(rows * g);
    T::gemm_uninit(
        MatRef::dense(x, 0, rows, d.input),
        w_ih_t,
        Some(&bias),
        &mut gates.spare_capacity_mut()[..rows * g],
    );
    // SAFETY: `gemm_uninit` writes every element of the `rows x g` matrix it is given, which is
    // the first `rows * g` elements of the capacity.
    unsafe { gates.set_len(rows * g) };
    let mut hs = vec![T::ZERO; rows * hid];
    let aux_len = if matches!(cell, Cell::Lstm | Cell::Gru) { rows * hid } else { 0 };
    let mut aux = vec![T::ZERO; aux_len];
    let (mut h, mut c) = (h0.to_vec(), c0.to_vec());
    let b_hn = if cell == Cell::Gru { w.b_hh.map(|b| &b[2 * hid..]) } else { None };
    let bounds = parts::row_parts(nb);
    let mut aux_p = parts::split_rows(&mut aux, seq, nb, hid, &bounds).into_iter();
    let mut hs_p = parts::split_rows(&mut hs, seq, nb, hid, &bounds).into_iter();
    let mut c_p = parts::split_state(&mut c, hid, &bounds).into_iter();
    let work: Vec<(usize, parts::FwdPart<'_, T>)> = parts::split_rows(&mut gates, seq, nb, g, &bounds)
        .into_iter()
        .zip(parts::split_state(&mut h, hid, &bounds))
        .zip(bounds.windows(2))
        .map(|((gates, h), r)| {
            let (hs, aux, c) = (hs_p.next(), aux_p.next(), c_p.next());
            let part = parts::FwdPart { gates, hs: hs.expect("part"), aux: aux.expect("part"), h, c: c.expect("part") };
            (r[1] - r[0], part)
        })
        .collect();
    let l = parts::Loop { cell, seq, hidden: hid, reverse, w: &w_hh_t };
    parts::for_parts(work, |(rows, p), threaded| parts::forward_part(l, b_hn, rows, p, threaded));
    let c_last = if cell == Cell::Lstm { c } else { Vec::new() };
    Saved { gates, aux, hs, c_last }
}

/// The backward of [`forward`]: `dy` is the gradient of the outputs `[seq * batch, hidden]`,
/// followed for LSTM by that of the last cell state `[batch, hidden]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    cell: Cell,
    d: Dims,
    x: &[T],
    h0: &[T],
    c0: &[T],
    w: &Weights<'_, T>,
    saved: SavedRef<'_, T>,
    dy: &[T],
    reverse: bool,
    want: Wanted,
) -> Grads<T> {
    let (seq, nb, hid) = (d.seq, d.batch, d.hidden);
    let g = cell.gates() * hid;
    let rows = seq * nb;
    let (sg, sh) = (nb * g, nb * hid);
    let gru = cell == Cell::Gru;
    let mut dg = vec![T::ZERO; rows * g];
    let mut dgh_all = if gru { vec![T::ZERO; rows * g] } else { Vec::new() };
    let mut dc = if cell == Cell::Lstm { dy[rows * hid..rows * hid + sh].to_vec() } else { Vec::new() };
    let mut dh0 = vec![T::ZERO; sh];
    let w_hh = T::step_weight(MatRef::dense(w.w_hh, 0, g, hid));
    let bounds = parts::row_parts(nb);
    let mut dgh_p = parts::split_rows(&mut dgh_all, seq, nb, g, &bounds).into_iter();
    let mut dc_p = parts::split_state(&mut dc, hid, &bounds).into_iter();
    let work: Vec<parts::BwdPart<'_, T>> = parts::split_rows(&mut dg, seq, nb, g, &bounds)
        .into_iter()
        .zip(parts::split_state(&mut dh0, hid, &bounds))
        .zip(bounds.windows(2))
        .map(|((dg, dh0), r)| {
            let (dgh, dc) = (dgh_p.next().expect("part"), dc_p.next().expect("part"));
            parts::BwdPart { r0: r[0], r1: r[1], dg, dgh, dc, dh0 }
        })
        .collect();
    let l = parts::Loop { cell, seq, hidden: hid, reverse, w: &w_hh };
    let input = parts::BwdIn { h0, c0, saved, dy, nb };
    parts::for_parts(work, |p, threaded| parts::backward_part(l, input, p, threaded));
    let dgh: &[T] = if gru { &dgh_all } else { &dg };
    // the parameter and input gradients, each one product over the whole sequence
    let w_ih_g = want.w_ih.then(|| {
        let mut o = vec![T::ZERO; g * d.input];
        mm(MatRef::dense(&dg, 0, rows, g).t(), MatRef::dense(x, 0, rows, d.input), T::ZERO, &mut o);
        o
    });
    let x_g = want.x.then(|| {
        let mut o = vec![T::ZERO; rows * d.input];
        mm(MatRef::dense(&dg, 0, rows, g), MatRef::dense(w.w_ih, 0, g, d.input), T::ZERO, &mut o);
        o
    });
    let w_hh_g = want.w_hh.then(|| {
        // step slot t read h of slot t - 1 (reverse: t + 1), and the first processed step h0
        let mut o = vec![T::ZERO; g * hid];
        let later = rows - nb;
        let (dg_off, h_off, first) = if reverse { (0, nb, seq - 1) } else { (nb, 0, 0) };
        let a = MatRef::dense(dgh, dg_off * g, later, g).t();
        mm(a, MatRef::dense(saved.hs, h_off * hid, later, hid), T::ZERO, &mut o);
        let a0 = MatRef::dense(dgh, first * sg, nb, g).t();
        mm(a0, MatRef::dense(h0, 0, nb, hid), T::ONE, &mut o);
        o
    });
    let colsum = |m: &[T]| {
        let mut s = vec![T::ZERO; g];
        for row in m.chunks_exact(g) {
            for (a, &b) in s.iter_mut().zip(row) {
                *a += b;
            }
        }
        s
    };
    let (b_ih, b_hh) = if want.bias {
        let bi = colsum(&dg);
        let bh = if gru { colsum(dgh) } else { bi.clone() };
        (Some(bi), Some(bh))
    } else {
        (None, None)
    };
    Grads { x: x_g, h0: dh0, c0: dc, w_ih: w_ih_g, w_hh: w_hh_g, b_ih, b_hh }
}
