//! `Rnn` (Elman RNN, tanh or ReLU) and the core shared by the recurrent layers `Rnn`, `Lstm`, `Gru`:
//! PyTorch's parameter layout, input and state checks, the layer and direction loop.
//!
//! Each layer in each direction runs as one op over the whole sequence (`rnn_fused.rs`: on the
//! CPU a fused forward and backward, elsewhere the composite of Variable ops).

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

use super::rnn_fused::{run_direction, DirVars};
use crate::functional::dropout_train;
use crate::{init, Module, TrainingFlag};

/// Which recurrence a layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cell {
    Tanh,
    Relu,
    Lstm,
    Gru,
}

impl Cell {
    /// Gate blocks stacked in the weights (`[gates * hidden, in]`).
    pub(crate) fn gates(self) -> usize {
        match self {
            Cell::Tanh | Cell::Relu => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// The layer's name in messages.
    fn layer(self) -> &'static str {
        match self {
            Cell::Tanh | Cell::Relu => "Rnn",
            Cell::Lstm => "Lstm",
            Cell::Gru => "Gru",
        }
    }
}

/// The weights of one layer in one direction.
struct DirParams {
    w_ih: Variable,
    w_hh: Variable,
    b_ih: Option<Variable>,
    b_hh: Option<Variable>,
}

/// What `Rnn`, `Lstm` and `Gru` share: options, parameters, the forward loop.
pub(crate) struct RnnCore {
    pub(crate) cell: Cell,
    pub(crate) input_size: usize,
    pub(crate) hidden_size: usize,
    num_layers: usize,
    bias: bool,
    batch_first: bool,
    bidirectional: bool,
    dropout: f64,
    /// Index `layer * directions + direction`.
    params: Vec<DirParams>,
    pub(crate) training: TrainingFlag,
}

impl RnnCore {
    pub(crate) fn new(cell: Cell, input_size: usize, hidden_size: usize) -> RnnCore {
        let mut core = RnnCore {
            cell,
            input_size,
            hidden_size,
            num_layers: 1,
            bias: true,
            batch_first: false,
            bidirectional: false,
            dropout: 0.0,
            params: Vec::new(),
            training: TrainingFlag::new(),
        };
        core.reset_parameters();
        core
    }

    fn dirs(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Fresh parameters for the current shape options: every weight and bias uniform in
    /// `±1/sqrt(hidden_size)`, as PyTorch's `reset_parameters`.
    fn reset_parameters(&mut self) {
        let (h, g) = (self.hidden_size, self.cell.gates());
        let k = if h > 0 { 1.0 / (h as f64).sqrt() } else { 0.0 };
        let p = |shape: &[usize]| Variable::new(init::uniform(shape, -k, k), true);
        self.params = (0..self.num_layers * self.dirs())
            .map(|i| {
                let inp = if i < self.dirs() { self.input_size } else { h * self.dirs() };
                DirParams {
                    w_ih: p(&[g * h, inp]),
                    w_hh: p(&[g * h, h]),
                    b_ih: self.bias.then(|| p(&[g * h])),
                    b_hh: self.bias.then(|| p(&[g * h])),
                }
            })
            .collect();
    }

    #[track_caller]
    pub(crate) fn set_num_layers(&mut self, n: usize) {
        if n == 0 {
            panic!("{}: num_layers must be at least 1, got 0", self.cell.layer());
        }
        self.num_layers = n;
        self.reset_parameters();
    }

    pub(crate) fn set_bias(&mut self, on: bool) {
        self.bias = on;
        self.reset_parameters();
    }

    pub(crate) fn set_bidirectional(&mut self, on: bool) {
        self.bidirectional = on;
        self.reset_parameters();
    }

    pub(crate) fn set_batch_first(&mut self, on: bool) {
        self.batch_first = on;
    }

    #[track_caller]
    pub(crate) fn set_dropout(&mut self, p: f64) {
        if !(0.0..=1.0).contains(&p) {
            panic!("{}: dropout must be a probability in [0, 1], got {p}", self.cell.layer());
        }
        self.dropout = p;
    }

    /// Parameters with PyTorch's names, in PyTorch's order.
    pub(crate) fn named(&self) -> Vec<(String, Variable)> {
        let mut out = Vec::with_capacity(self.params.len() * 4);
        for (i, p) in self.params.iter().enumerate() {
            let sfx = format!("l{}{}", i / self.dirs(), if i % self.dirs() == 1 { "_reverse" } else { "" });
            out.push((format!("weight_ih_{sfx}"), p.w_ih.clone()));
            out.push((format!("weight_hh_{sfx}"), p.w_hh.clone()));
            if let (Some(bi), Some(bh)) = (&p.b_ih, &p.b_hh) {
                out.push((format!("bias_ih_{sfx}"), bi.clone()));
                out.push((format!("bias_hh_{sfx}"), bh.clone()));
            }
        }
        out
    }

    /// Checks an initial state against `[num_layers * directions, (batch,) hidden]`.
    fn check_state(&self, what: &str, s: &Variable, batch: Option<usize>, x: &Variable) -> Result<()> {
        let name = self.cell.layer();
        let lead = self.num_layers * self.dirs();
        let want: Vec<usize> = match batch {
            Some(n) => vec![lead, n, self.hidden_size],
            None => vec![lead, self.hidden_size],
        };
        if s.rank() != want.len() {
            let kind = if batch.is_some() { "batched 3-D" } else { "unbatched 2-D" };
            return Err(err(
                name,
                format!(
                    "for {kind} input (shape {:?}), {what} should also be {}-D but got a {}-D tensor of shape {:?}",
                    x.shape(),
                    want.len(),
                    s.rank(),
                    s.shape()
                ),
            ));
        }
        if s.shape() != want {
            return Err(err(
                name,
                format!(
                    "expected {what} of shape {want:?} (num_layers * num_directions, {}hidden_size), got {:?}",
                    if batch.is_some() { "batch, " } else { "" },
                    s.shape()
                ),
            ));
        }
        if s.dtype() != x.dtype() {
            return Err(err(name, format!("{what} has dtype {}, the input {}", s.dtype(), x.dtype())));
        }
        Ok(())
    }

    /// The forward pass: `(output, h_n, c_n)` (`c_n` for LSTM only), with PyTorch's shapes.
    pub(crate) fn run(
        &self,
        x: &Variable,
        h0: Option<&Variable>,
        c0: Option<&Variable>,
    ) -> Result<(Variable, Variable, Option<Variable>)> {
        let name = self.cell.layer();
        let r = x.rank();
        if r != 2 && r != 3 {
            return Err(err(
                name,
                format!(
                    "expected input to be 2-D (seq, feature) or 3-D (batched), got {r}-D input of shape {:?}",
                    x.shape()
                ),
            ));
        }
        let feat = x.shape()[r - 1];
        if feat != self.input_size {
            return Err(err(
                name,
                format!(
                    "input.size(-1) must be equal to input_size. Expected {}, got {feat} (input of shape {:?})",
                    self.input_size,
                    x.shape()
                ),
            ));
        }
        let pdt = self.params[0].w_ih.dtype();
        if x.dtype() != pdt {
            return Err(err(name, format!("input has dtype {}, the parameters {pdt}", x.dtype())));
        }
        let batched = r == 3;
        // internally [seq, batch, feature]
        let x3 = match (batched, self.batch_first) {
            (true, true) => x.transpose(0, 1),
            (true, false) => x.clone(),
            (false, _) => x.unsqueeze(1),
        };
        let (seq, batch) = (x3.shape()[0], x3.shape()[1]);
        if seq == 0 {
            return Err(err(name, format!("expected a sequence length above 0, got input of shape {:?}", x.shape())));
        }
        let bdim = batched.then_some(batch);
        let state = |what: &str, s: Option<&Variable>| -> Result<Option<Variable>> {
            match s {
                None => Ok(None),
                Some(s) => {
                    self.check_state(what, s, bdim, x)?;
                    Ok(Some(if batched { s.clone() } else { s.unsqueeze(1) }))
                }
            }
        };
        let h0 = state("h0", h0)?;
        let c0 = state("c0", c0)?;
        let zeros = || Variable::from(Tensor::zeros_dtype(&[batch, self.hidden_size], pdt).to(&x.device()));
        let pick = |s: &Option<Variable>, i: usize| s.as_ref().map_or_else(zeros, |s| s.select(0, i as i64));

        let mut layer_in = x3;
        let (mut hn, mut cn) = (Vec::new(), Vec::new());
        for l in 0..self.num_layers {
            let mut outs = Vec::with_capacity(self.dirs());
            for d in 0..self.dirs() {
                let i = l * self.dirs() + d;
                let c = (self.cell == Cell::Lstm).then(|| pick(&c0, i));
                let p = &self.params[i];
                let vars = DirVars { w_ih: &p.w_ih, w_hh: &p.w_hh, b_ih: p.b_ih.as_ref(), b_hh: p.b_hh.as_ref() };
                let (out, h, c) = run_direction(self.cell, vars, &layer_in, pick(&h0, i), c, d == 1);
                outs.push(out);
                hn.push(h);
                cn.extend(c);
            }
            layer_in = if outs.len() == 1 { outs.remove(0) } else { Variable::cat(&outs, 2) };
            if self.dropout > 0.0 && self.training.get() && l + 1 < self.num_layers {
                layer_in = dropout_train(&layer_in, self.dropout);
            }
        }
        let hn = Variable::stack(&hn, 0);
        let cn = (!cn.is_empty()).then(|| Variable::stack(&cn, 0));
        Ok(if !batched {
            (layer_in.squeeze(1), hn.squeeze(1), cn.map(|c| c.squeeze(1)))
        } else if self.batch_first {
            (layer_in.transpose(0, 1), hn, cn)
        } else {
            (layer_in, hn, cn)
        })
    }
}

fn err(op: &'static str, msg: String) -> Error {
    Error::InvalidArgument { op, msg }
}

/// The builder options, accessors and the `Module` impl shared by `Rnn`, `Lstm` and `Gru` (each a
/// struct with a `core: RnnCore` field).
macro_rules! rnn_common {
    ($T:ident) => {
        impl $T {
            /// Stacks `n` recurrent layers, each fed the previous one's output (PyTorch's
            /// `num_layers`, default 1). Draws fresh parameters.
            ///
            /// **Panics** when `n` is 0.
            #[must_use]
            #[track_caller]
            pub fn num_layers(mut self, n: usize) -> $T {
                self.core.set_num_layers(n);
                self
            }

            /// Input and output as `[batch, seq, feature]` instead of `[seq, batch, feature]`
            /// (default false, as PyTorch). The states keep `[layers * directions, batch, hidden]`.
            #[must_use]
            pub fn batch_first(mut self, on: bool) -> $T {
                self.core.set_batch_first(on);
                self
            }

            /// With (default) or without the biases `bias_ih_l{k}`, `bias_hh_l{k}`. Draws fresh
            /// parameters.
            #[must_use]
            pub fn bias(mut self, on: bool) -> $T {
                self.core.set_bias(on);
                self
            }

            /// Also runs each layer backwards in time (parameters `*_reverse`), concatenating both
            /// directions' outputs on the feature dim (default false). Draws fresh parameters.
            #[must_use]
            pub fn bidirectional(mut self, on: bool) -> $T {
                self.core.set_bidirectional(on);
                self
            }

            /// Dropout with probability `p` on each layer's output but the last, in training mode
            /// (default 0).
            ///
            /// **Panics** when `p` is outside `[0, 1]`.
            #[must_use]
            #[track_caller]
            pub fn dropout(mut self, p: f64) -> $T {
                self.core.set_dropout(p);
                self
            }

            /// The feature size of the input.
            pub fn input_size(&self) -> usize {
                self.core.input_size
            }

            /// The feature size of the hidden state.
            pub fn hidden_size(&self) -> usize {
                self.core.hidden_size
            }

            /// Checked form of `forward`: the output sequence, or an error naming the bad shape.
            pub fn try_forward(&self, x: &Variable) -> ember_tensor::Result<Variable> {
                Ok(self.core.run(x, None, None)?.0)
            }
        }

        impl Module for $T {
            /// PyTorch's `output`: the last layer's hidden state at every time step,
            /// `[seq, batch, directions * hidden]` (batch first with `batch_first`,
            /// `[seq, directions * hidden]` for unbatched 2-D input).
            ///
            /// **Panics** on a bad input shape or dtype, naming the layer and the shapes.
            #[track_caller]
            fn forward(&self, x: &Variable) -> Variable {
                match self.try_forward(x) {
                    Ok(y) => y,
                    Err(e) => panic!("{e}"),
                }
            }

            fn own_parameters(&self) -> Vec<(String, Variable)> {
                self.core.named()
            }

            fn set_own_training(&self, on: bool) {
                self.core.training.set(on);
            }

            fn is_training(&self) -> bool {
                self.core.training.get()
            }
        }
    };
}
pub(crate) use rnn_common;

/// An Elman RNN, PyTorch's `nn.RNN`: `h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)` (or
/// ReLU with [`Rnn::nonlinearity_relu`]).
///
/// Parameters as PyTorch's: `weight_ih_l{k}` `[hidden, in]`, `weight_hh_l{k}` `[hidden, hidden]`,
/// `bias_ih_l{k}`, `bias_hh_l{k}` `[hidden]` (and `*_reverse` when bidirectional), all initialised
/// uniform in `±1/sqrt(hidden)`. Input `[seq, batch, in]` (`[batch, seq, in]` with `batch_first`, or
/// unbatched `[seq, in]`).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Module, Rnn};
/// use ember_tensor::Tensor;
/// let rnn = Rnn::new(3, 4).num_layers(2);
/// let x = Variable::from(Tensor::randn(&[5, 2, 3])); // [seq, batch, in]
/// let (out, h_n) = rnn.forward_with_state(&x, None);
/// assert_eq!(out.shape(), vec![5, 2, 4]);
/// assert_eq!(h_n.shape(), vec![2, 2, 4]); // [layers, batch, hidden]
/// // the last layer's final state is the output's last step
/// assert_eq!(out.data().select(0, 4).to_vec::<f32>(), h_n.data().select(0, 1).to_vec::<f32>());
/// ```
pub struct Rnn {
    core: RnnCore,
}

impl Rnn {
    /// A one-layer tanh RNN from `input_size` features to `hidden_size`.
    pub fn new(input_size: usize, hidden_size: usize) -> Rnn {
        Rnn { core: RnnCore::new(Cell::Tanh, input_size, hidden_size) }
    }

    /// Uses ReLU instead of tanh (PyTorch's `nonlinearity='relu'`).
    #[must_use]
    pub fn nonlinearity_relu(mut self) -> Rnn {
        self.core.cell = Cell::Relu;
        self
    }

    /// The output sequence and `h_n` (`[layers * directions, batch, hidden]`, or without the batch
    /// dim for unbatched input), starting from `h0` of that shape (zeros when `None`).
    ///
    /// **Panics** on a bad input or state shape; see [`Rnn::try_forward_with_state`].
    #[track_caller]
    pub fn forward_with_state(&self, x: &Variable, h0: Option<&Variable>) -> (Variable, Variable) {
        match self.try_forward_with_state(x, h0) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`Rnn::forward_with_state`].
    pub fn try_forward_with_state(&self, x: &Variable, h0: Option<&Variable>) -> Result<(Variable, Variable)> {
        let (out, hn, _) = self.core.run(x, h0, None)?;
        Ok((out, hn))
    }
}

rnn_common!(Rnn);
