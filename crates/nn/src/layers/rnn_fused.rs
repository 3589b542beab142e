//! One recurrent layer in one direction over a whole sequence, as `Rnn`, `Lstm` and `Gru` run it.
//!
//! On the CPU in `F32` and `F64` it is one recorded op (`lstm`, `gru`, `rnn_tanh`, `rnn_relu`)
//! whose forward and backward are the kernels of `rnn_kernels.rs`: all gates in one product per
//! step, the input projection of the whole sequence in one product, one pointwise pass per step,
//! and a backward that reads the gates the forward saved. Its output packs the hidden states of
//! every step and, for LSTM, the last cell state as one more step (`[seq (+ 1), batch, hidden]`);
//! the layer's output, `h_n` and `c_n` are views of it, so one backward call receives all three
//! gradients. Elsewhere (GPU tensors, 16-bit dtypes, under autocast) the layer is the composite
//! of Variable ops below, one small product and a few pointwise ops per step. When a backward is
//! recorded (`create_graph`), the fused op's backward is the same equations written with Variable
//! ops (the forward recomputed), so gradients of gradients keep working.

use ember_autograd::{autocast_dtype, is_grad_enabled, BackwardCtx, Variable};
use ember_tensor::{DType, Element, Tensor};

use super::rnn::Cell;
use super::rnn_kernels::{self as kern, Dims, Real, SavedRef, Wanted, Weights};

/// The parameters of one layer in one direction.
#[derive(Clone, Copy)]
pub(crate) struct DirVars<'a> {
    pub(crate) w_ih: &'a Variable,
    pub(crate) w_hh: &'a Variable,
    pub(crate) b_ih: Option<&'a Variable>,
    pub(crate) b_hh: Option<&'a Variable>,
}

/// One layer in one direction over `x` (`[seq, batch, in]`) from `h` (and for LSTM `c`), each
/// `[batch, hidden]`: the outputs `[seq, batch, hidden]` in time order, the last hidden state and
/// (LSTM) the last cell state. `reverse` runs the steps from the last to the first.
pub(crate) fn run_direction(
    cell: Cell,
    p: DirVars<'_>,
    x: &Variable,
    h: Variable,
    c: Option<Variable>,
    reverse: bool,
) -> (Variable, Variable, Option<Variable>) {
    let on_cpu = [Some(x), Some(&h), c.as_ref(), Some(p.w_ih), Some(p.w_hh), p.b_ih, p.b_hh]
        .into_iter()
        .flatten()
        .all(|v| v.device().is_cpu());
    let sized = x.shape().iter().chain(h.shape().iter()).all(|&s| s > 0);
    if on_cpu && sized && autocast_dtype().is_none() {
        match x.dtype() {
            DType::F32 => return fused::<f32>(cell, p, x, h, c, reverse),
            DType::F64 => return fused::<f64>(cell, p, x, h, c, reverse),
            _ => {}
        }
    }
    composite(cell, p, x, h, c, reverse)
}

/// The op's name in the graph.
fn op_name(cell: Cell) -> &'static str {
    match cell {
        Cell::Tanh => "rnn_tanh",
        Cell::Relu => "rnn_relu",
        Cell::Lstm => "lstm",
        Cell::Gru => "gru",
    }
}

/// The fused op on the CPU in `T`.
fn fused<T: Real + Element>(
    cell: Cell,
    p: DirVars<'_>,
    x: &Variable,
    h: Variable,
    c: Option<Variable>,
    reverse: bool,
) -> (Variable, Variable, Option<Variable>) {
    let (xs, hs0) = (x.shape(), h.shape());
    let d = Dims { seq: xs[0], batch: xs[1], input: xs[2], hidden: hs0[1] };
    let rows = d.seq * d.batch;
    let lstm = cell == Cell::Lstm;
    // the op's inputs: x, h0, [c0], w_ih, w_hh, [b_ih, b_hh]
    let mut inputs: Vec<&Variable> = vec![x, &h];
    inputs.extend(c.as_ref());
    inputs.extend([p.w_ih, p.w_hh]);
    inputs.extend(p.b_ih.into_iter().chain(p.b_hh));
    let vecs: Vec<Vec<T>> = inputs.iter().map(|v| v.data().to_vec::<T>()).collect();
    let at = Layout::new(lstm, p.b_ih.is_some());
    let saved = {
        let (w, c0) = at.weights(&vecs);
        kern::forward(cell, d, &vecs[0], &vecs[1], c0, &w, reverse)
    };
    drop(vecs);
    let kern::Saved { gates, aux, hs, c_last } = saved;
    let mut y = hs;
    y.extend_from_slice(&c_last);
    let steps = if lstm { d.seq + 1 } else { d.seq };
    let y = Tensor::from_vec(y, &[steps, d.batch, d.hidden]);
    let packed = Variable::record(op_name(cell), &inputs, y, move |ctx| {
        if is_grad_enabled() {
            return composite_backward(cell, ctx, at, reverse);
        }
        let vecs: Vec<Vec<T>> = ctx.inputs.iter().map(|v| v.data().to_vec::<T>()).collect();
        let out = ctx.output.data().to_vec::<T>();
        let dy = ctx.grad.data().to_vec::<T>();
        let saved = SavedRef { gates: &gates, aux: &aux, hs: &out[..rows * d.hidden] };
        let want = Wanted {
            x: ctx.needs(0),
            w_ih: ctx.needs(at.w_ih),
            w_hh: ctx.needs(at.w_ih + 1),
            bias: at.bias && (ctx.needs(at.w_ih + 2) || ctx.needs(at.w_ih + 3)),
        };
        let (w, c0) = at.weights(&vecs);
        let g = kern::backward(cell, d, &vecs[0], &vecs[1], c0, &w, saved, &dy, reverse, want);
        let t = |v: Vec<T>, like: &Variable| Some(Variable::from(Tensor::from_vec(v, &like.shape())));
        let mut out: Vec<Option<Variable>> = vec![g.x.and_then(|v| t(v, &ctx.inputs[0])), t(g.h0, &ctx.inputs[1])];
        if lstm {
            out.push(t(g.c0, &ctx.inputs[2]));
        }
        out.push(g.w_ih.and_then(|v| t(v, &ctx.inputs[at.w_ih])));
        out.push(g.w_hh.and_then(|v| t(v, &ctx.inputs[at.w_ih + 1])));
        if at.bias {
            out.push(g.b_ih.and_then(|v| t(v, &ctx.inputs[at.w_ih + 2])));
            out.push(g.b_hh.and_then(|v| t(v, &ctx.inputs[at.w_ih + 3])));
        }
        out
    });
    let out = if lstm { packed.narrow(0, 0, d.seq) } else { packed.clone() };
    let h_n = out.select(0, if reverse { 0 } else { d.seq as i64 - 1 });
    let c_n = lstm.then(|| packed.select(0, d.seq as i64));
    (out, h_n, c_n)
}

/// Where the op's inputs sit in its input list.
#[derive(Clone, Copy)]
struct Layout {
    lstm: bool,
    bias: bool,
    /// Index of `w_ih` (`w_hh`, `b_ih`, `b_hh` follow).
    w_ih: usize,
}

impl Layout {
    fn new(lstm: bool, bias: bool) -> Layout {
        Layout { lstm, bias, w_ih: if lstm { 3 } else { 2 } }
    }

    /// The weights and the initial cell state (empty unless LSTM) among the inputs' data.
    fn weights<'a, T>(&self, v: &'a [Vec<T>]) -> (Weights<'a, T>, &'a [T]) {
        let i = self.w_ih;
        let w = Weights {
            w_ih: &v[i],
            w_hh: &v[i + 1],
            b_ih: self.bias.then(|| &v[i + 2][..]),
            b_hh: self.bias.then(|| &v[i + 3][..]),
        };
        (w, if self.lstm { &v[2][..] } else { &[][..] })
    }
}

/// One step as [`composite_backward`] keeps it: the activated gates (GRU: `r, z, n` and
/// `W_hn h + b_hn`), the previous hidden and cell states, the new hidden state.
type SavedStep = (Vec<Variable>, Variable, Option<Variable>, Variable);

/// The backward recorded for a further backward (`create_graph`): the same equations as the CPU
/// kernels, written with Variable ops on the op's inputs and its upstream gradient (the forward
/// recomputed), so the gradients are differentiable in both.
fn composite_backward(cell: Cell, ctx: &BackwardCtx<'_>, at: Layout, reverse: bool) -> Vec<Option<Variable>> {
    let v = ctx.inputs;
    let i = at.w_ih;
    let (w_ih, w_hh) = (&v[i], &v[i + 1]);
    let (b_ih, b_hh) = (at.bias.then(|| &v[i + 2]), at.bias.then(|| &v[i + 3]));
    let (x, g) = (&v[0], ctx.grad);
    let seq = x.shape()[0];
    let one = |t: &Variable| 1.0 - t;
    // the forward again, keeping what the backward reads: per slot the activated gates, the
    // previous states and (GRU) the hidden product's n part
    let steps = unbind_time(&x.linear(w_ih, b_ih));
    let mut h = v[1].clone();
    let mut c = at.lstm.then(|| v[2].clone());
    let mut saved: Vec<Option<SavedStep>> = vec![None; seq];
    for k in 0..seq {
        let t = if reverse { seq - 1 - k } else { k };
        let gh = h.linear(w_hh, b_hh);
        let (gates, h_new, c_new) = match cell {
            Cell::Tanh | Cell::Relu => {
                let y = if cell == Cell::Tanh { (&steps[t] + &gh).tanh() } else { (&steps[t] + &gh).relu() };
                (vec![y.clone()], y, None)
            }
            Cell::Lstm => {
                let p = (&steps[t] + &gh).chunk(4, 1);
                let (ig, fg, gg, og) = (p[0].sigmoid(), p[1].sigmoid(), p[2].tanh(), p[3].sigmoid());
                let cn = &(&fg * c.as_ref().expect("LSTM cell state")) + &(&ig * &gg);
                let hn = &og * &cn.tanh();
                (vec![ig, fg, gg, og], hn, Some(cn))
            }
            Cell::Gru => {
                let (a, b) = (steps[t].chunk(3, 1), gh.chunk(3, 1));
                let r = (&a[0] + &b[0]).sigmoid();
                let z = (&a[1] + &b[1]).sigmoid();
                let nv = (&a[2] + &(&r * &b[2])).tanh();
                let hn = &nv + &(&z * &(&h - &nv));
                (vec![r, z, nv, b[2].clone()], hn, None)
            }
        };
        saved[t] = Some((gates, h.clone(), c.clone(), h_new.clone()));
        h = h_new;
        c = c_new.or(c);
    }
    // the backward, step by step in reverse
    let mut dh: Option<Variable> = None;
    let mut dc = at.lstm.then(|| g.select(0, seq as i64));
    let (mut dgi, mut dgh): (Vec<Option<Variable>>, Vec<Option<Variable>>) = (vec![None; seq], vec![None; seq]);
    for k in (0..seq).rev() {
        let t = if reverse { seq - 1 - k } else { k };
        let (gates, h_prev, c_prev, h_new) = saved[t].clone().expect("saved step");
        let d = match dh.take() {
            Some(r) => &r + &g.select(0, t as i64),
            None => g.select(0, t as i64),
        };
        let (gi, gh, next) = match cell {
            Cell::Tanh => {
                let dp = &d * &one(&(&h_new * &h_new));
                (dp.clone(), dp, None)
            }
            Cell::Relu => {
                let mask = Variable::from(h_new.data().gt_scalar(0.0).to_dtype(h_new.dtype()));
                let dp = &d * &mask;
                (dp.clone(), dp, None)
            }
            Cell::Lstm => {
                let (ig, fg, gg, og) = (&gates[0], &gates[1], &gates[2], &gates[3]);
                let cn = &(fg * c_prev.as_ref().expect("LSTM cell state")) + &(ig * gg);
                let tc = cn.tanh();
                let dct = &dc.take().expect("LSTM cell gradient") + &(&(&d * og) * &one(&(&tc * &tc)));
                let d_o = &(&(&d * &tc) * og) * &one(og);
                let d_i = &(&(&dct * gg) * ig) * &one(ig);
                let d_f = &(&(&dct * c_prev.as_ref().expect("LSTM cell state")) * fg) * &one(fg);
                let d_g = &(&dct * ig) * &one(&(gg * gg));
                dc = Some(&dct * fg);
                let dp = Variable::cat(&[d_i, d_f, d_g, d_o], 1);
                (dp.clone(), dp, None)
            }
            Cell::Gru => {
                let (r, z, nv, hn) = (&gates[0], &gates[1], &gates[2], &gates[3]);
                let dan = &(&d * &one(z)) * &one(&(nv * nv));
                let drp = &(&(&dan * hn) * r) * &one(r);
                let dzp = &(&(&d * &(&h_prev - nv)) * z) * &one(z);
                let dhn = &dan * r;
                let next = &d * z;
                (Variable::cat(&[drp.clone(), dzp.clone(), dan], 1), Variable::cat(&[drp, dzp, dhn], 1), Some(next))
            }
        };
        let back = gh.matmul(w_hh);
        dh = Some(match next {
            Some(n) => &n + &back,
            None => back,
        });
        dgi[t] = Some(gi);
        dgh[t] = Some(gh);
    }
    let flat = |s: Vec<Option<Variable>>| {
        let s: Vec<Variable> = s.into_iter().flatten().collect();
        let st = Variable::stack(&s, 0);
        let w = st.shape()[2];
        st.reshape(&[seq * st.shape()[1], w])
    };
    let (dgi, dgh) = (flat(dgi), flat(dgh));
    let h_prevs = flat(saved.iter().map(|s| s.as_ref().map(|s| s.1.clone())).collect());
    let in_size = x.shape()[2];
    let mut out: Vec<Option<Variable>> = vec![None; v.len()];
    let want = |k: usize| ctx.needs(k);
    if want(0) {
        out[0] = Some(dgi.matmul(w_ih).reshape(&[seq, x.shape()[1], in_size]));
    }
    out[1] = dh;
    if at.lstm {
        out[2] = dc;
    }
    if want(i) {
        out[i] = Some(dgi.t().matmul(&x.reshape(&[seq * x.shape()[1], in_size])));
    }
    if want(i + 1) {
        out[i + 1] = Some(dgh.t().matmul(&h_prevs));
    }
    if at.bias {
        out[i + 2] = Some(dgi.sum_dim(0, false));
        out[i + 3] = Some(dgh.sum_dim(0, false));
    }
    out
}

/// The layer as Variable ops: each layer and direction projects the whole input sequence in one
/// matmul (`x @ W_ih^T + b_ih` over `[seq, batch, in]`), then loops over time with one small
/// matmul per step (`h @ W_hh^T + b_hh`); the gates are narrow views of that product.
pub(crate) fn composite(
    cell: Cell,
    p: DirVars<'_>,
    x: &Variable,
    mut h: Variable,
    mut c: Option<Variable>,
    reverse: bool,
) -> (Variable, Variable, Option<Variable>) {
    let proj = x.linear(p.w_ih, p.b_ih);
    let steps = unbind_time(&proj);
    let n = steps.len();
    let mut outs: Vec<Option<Variable>> = vec![None; n];
    for k in 0..n {
        let t = if reverse { n - 1 - k } else { k };
        let gi = &steps[t];
        let gh = h.linear(p.w_hh, p.b_hh);
        h = match cell {
            Cell::Tanh => (gi + &gh).tanh(),
            Cell::Relu => (gi + &gh).relu(),
            Cell::Lstm => {
                let g = (gi + &gh).chunk(4, 1);
                let (i, f, gg, o) = (g[0].sigmoid(), g[1].sigmoid(), g[2].tanh(), g[3].sigmoid());
                let cy = &(&f * c.as_ref().expect("LSTM cell state")) + &(&i * &gg);
                let hy = &o * &cy.tanh();
                c = Some(cy);
                hy
            }
            Cell::Gru => {
                let (a, b) = (gi.chunk(3, 1), gh.chunk(3, 1));
                let r = (&a[0] + &b[0]).sigmoid();
                let z = (&a[1] + &b[1]).sigmoid();
                // PyTorch applies r to (W_hn h + b_hn)
                let nn = (&a[2] + &(&r * &b[2])).tanh();
                // (1 - z) * n + z * h
                &nn + &(&z * &(&h - &nn))
            }
        };
        outs[t] = Some(h.clone());
    }
    let outs: Vec<Variable> = outs.into_iter().flatten().collect();
    (Variable::stack(&outs, 0), h, c)
}

/// The time steps of `v` ([seq, ...]) as `seq` Variables, split in halves recursively: each step's
/// gradient then flows back through O(log seq) narrow views, where slicing every step off the full
/// sequence would pad each step's gradient to the full sequence, O(seq^2) in backward.
fn unbind_time(v: &Variable) -> Vec<Variable> {
    fn go(v: &Variable, len: usize, out: &mut Vec<Variable>) {
        if len <= 4 {
            out.extend((0..len).map(|t| v.select(0, t as i64)));
        } else {
            let mid = len / 2;
            go(&v.narrow(0, 0, mid), mid, out);
            go(&v.narrow(0, mid, len - mid), len - mid, out);
        }
    }
    let mut out = Vec::with_capacity(v.shape()[0]);
    go(v, v.shape()[0], &mut out);
    out
}
