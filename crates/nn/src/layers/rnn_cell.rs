//! `LstmCell`, `GruCell`: one time step of an LSTM or a GRU, PyTorch's `nn.LSTMCell` and
//! `nn.GRUCell` (parameters `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`, uniform in
//! `±1/√hidden_size`).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{GruCell, LstmCell, Module};
//! use ember_tensor::Tensor;
//! let cell = LstmCell::new(4, 3);
//! let x = Variable::from(Tensor::randn(&[2, 4]));
//! let (h, c) = cell.forward_with_state(&x, None);
//! let (h, _c) = cell.forward_with_state(&x, Some((&h, &c)));
//! assert_eq!(h.shape(), vec![2, 3]);
//! assert_eq!(GruCell::new(4, 3).forward(&x).shape(), vec![2, 3]);
//! ```

use ember_autograd::Variable;
use ember_tensor::{Error, Result};

use crate::module::forward_or_panic;
use crate::Module;
use crate::{init, TrainingFlag};

/// The four parameters of a cell with `gates` gate blocks.
struct CellParams {
    training: TrainingFlag,
    weight_ih: Variable,
    weight_hh: Variable,
    bias_ih: Option<Variable>,
    bias_hh: Option<Variable>,
}

impl CellParams {
    fn new(gates: usize, input: usize, hidden: usize) -> CellParams {
        let k = 1.0 / (hidden as f64).sqrt();
        let u = |shape: &[usize]| Variable::new(init::uniform(shape, -k, k), true);
        CellParams {
            training: TrainingFlag::new(),
            weight_ih: u(&[gates * hidden, input]),
            weight_hh: u(&[gates * hidden, hidden]),
            bias_ih: Some(u(&[gates * hidden])),
            bias_hh: Some(u(&[gates * hidden])),
        }
    }

    fn named(&self) -> Vec<(String, Variable)> {
        let mut p =
            vec![("weight_ih".to_string(), self.weight_ih.clone()), ("weight_hh".to_string(), self.weight_hh.clone())];
        p.extend(self.bias_ih.iter().map(|b| ("bias_ih".to_string(), b.clone())));
        p.extend(self.bias_hh.iter().map(|b| ("bias_hh".to_string(), b.clone())));
        p
    }

    /// Checks `x` (`[N, I]` or `[I]`) and each state (`[N, H]` or `[H]`); returns batched forms.
    fn check(&self, op: &'static str, x: &Variable, states: &[Option<&Variable>]) -> Result<(bool, Vec<Variable>)> {
        let (i, h) = (self.weight_ih.shape()[1], self.weight_hh.shape()[1]);
        let s = x.shape();
        let bad = |msg: String| Err(Error::InvalidArgument { op, msg });
        if !(1..=2).contains(&s.len()) || s[s.len() - 1] != i {
            return bad(format!("expected input [N, {i}] or [{i}], got shape {s:?}"));
        }
        let batched = s.len() == 2;
        let n = if batched { s[0] } else { 1 };
        let xb = if batched { x.clone() } else { x.unsqueeze(0) };
        let mut out = vec![xb];
        for st in states {
            out.push(match st {
                Some(v) => {
                    let want = if batched { vec![n, h] } else { vec![h] };
                    if v.shape() != want {
                        return bad(format!("expected a state of shape {want:?} for input {s:?}, got {:?}", v.shape()));
                    }
                    if batched {
                        (*v).clone()
                    } else {
                        v.unsqueeze(0)
                    }
                }
                None => Variable::from(ember_tensor::Tensor::zeros_dtype(&[n, h], x.dtype()).to(&x.device())),
            });
        }
        Ok((batched, out))
    }

    /// `x W_ih^T + b_ih` and `h W_hh^T + b_hh`.
    fn project(&self, x: &Variable, h: &Variable) -> (Variable, Variable) {
        (x.linear(&self.weight_ih, self.bias_ih.as_ref()), h.linear(&self.weight_hh, self.bias_hh.as_ref()))
    }
}

/// One LSTM step, PyTorch's `nn.LSTMCell(input_size, hidden_size, bias=True)`:
/// `i, f, g, o = chunks of x W_ih^T + b_ih + h W_hh^T + b_hh`, `c' = σ(f) c + σ(i) tanh(g)`,
/// `h' = σ(o) tanh(c')`.
pub struct LstmCell {
    p: CellParams,
}

impl LstmCell {
    /// A cell from `input_size` features to `hidden_size`, with biases.
    pub fn new(input_size: usize, hidden_size: usize) -> LstmCell {
        LstmCell { p: CellParams::new(4, input_size, hidden_size) }
    }

    /// With (default) or without `bias_ih` and `bias_hh`. The cell's parameters are drawn afresh,
    /// as a new cell built with this setting would draw them, so call it right after `new`.
    #[must_use]
    pub fn bias(mut self, on: bool) -> LstmCell {
        let (i, h) = (self.p.weight_ih.shape()[1], self.p.weight_hh.shape()[1]);
        self.p = CellParams::new(4, i, h);
        if !on {
            (self.p.bias_ih, self.p.bias_hh) = (None, None);
        }
        self
    }

    /// PyTorch's `forward(input, (h, c))`: `(h', c')`; a missing state is zeros.
    ///
    /// **Panics** on bad shapes, naming them; see [`LstmCell::try_forward_with_state`].
    #[track_caller]
    pub fn forward_with_state(&self, x: &Variable, state: Option<(&Variable, &Variable)>) -> (Variable, Variable) {
        match self.try_forward_with_state(x, state) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`LstmCell::forward_with_state`].
    pub fn try_forward_with_state(
        &self,
        x: &Variable,
        state: Option<(&Variable, &Variable)>,
    ) -> Result<(Variable, Variable)> {
        let (h0, c0) = state.map_or((None, None), |(h, c)| (Some(h), Some(c)));
        let (batched, v) = self.p.check("LstmCell", x, &[h0, c0])?;
        let (a, b) = self.p.project(&v[0], &v[1]);
        let g = (&a + &b).chunk(4, 1);
        let c = &(&g[1].sigmoid() * &v[2]) + &(&g[0].sigmoid() * &g[2].tanh());
        let h = &g[3].sigmoid() * &c.tanh();
        Ok(if batched { (h, c) } else { (h.squeeze(0), c.squeeze(0)) })
    }
}

impl Module for LstmCell {
    /// This layer's own train/eval flag, so `eval()` reaches a user module made of such layers.
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.p.training)
    }
    /// One step from a zero state, returning `h'`.
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        self.forward_with_state(x, None).0
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        self.p.named()
    }
}

/// One GRU step, PyTorch's `nn.GRUCell(input_size, hidden_size, bias=True)`:
/// `r = σ(x_r + h_r)`, `z = σ(x_z + h_z)`, `n = tanh(x_n + r h_n)`, `h' = (1 - z) n + z h`, with
/// `x_* = x W_ih^T + b_ih` and `h_* = h W_hh^T + b_hh` split into r, z, n.
pub struct GruCell {
    p: CellParams,
}

impl GruCell {
    /// A cell from `input_size` features to `hidden_size`, with biases.
    pub fn new(input_size: usize, hidden_size: usize) -> GruCell {
        GruCell { p: CellParams::new(3, input_size, hidden_size) }
    }

    /// With (default) or without `bias_ih` and `bias_hh`. The cell's parameters are drawn afresh,
    /// as a new cell built with this setting would draw them, so call it right after `new`.
    #[must_use]
    pub fn bias(mut self, on: bool) -> GruCell {
        let (i, h) = (self.p.weight_ih.shape()[1], self.p.weight_hh.shape()[1]);
        self.p = CellParams::new(3, i, h);
        if !on {
            (self.p.bias_ih, self.p.bias_hh) = (None, None);
        }
        self
    }

    /// PyTorch's `forward(input, h)`: `h'`; a missing state is zeros.
    ///
    /// **Panics** on bad shapes, naming them; see [`GruCell::try_forward_with_state`].
    #[track_caller]
    pub fn forward_with_state(&self, x: &Variable, h: Option<&Variable>) -> Variable {
        forward_or_panic(self.try_forward_with_state(x, h))
    }

    /// Checked form of [`GruCell::forward_with_state`].
    pub fn try_forward_with_state(&self, x: &Variable, h: Option<&Variable>) -> Result<Variable> {
        let (batched, v) = self.p.check("GruCell", x, &[h])?;
        let (a, b) = self.p.project(&v[0], &v[1]);
        let (xa, hb) = (a.chunk(3, 1), b.chunk(3, 1));
        let r = (&xa[0] + &hb[0]).sigmoid();
        let z = (&xa[1] + &hb[1]).sigmoid();
        let n = (&xa[2] + &(&r * &hb[2])).tanh();
        let h = &(&(1.0 - &z) * &n) + &(&z * &v[1]);
        Ok(if batched { h } else { h.squeeze(0) })
    }
}

impl Module for GruCell {
    /// This layer's own train/eval flag, so `eval()` reaches a user module made of such layers.
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.p.training)
    }
    /// One step from a zero state.
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        self.forward_with_state(x, None)
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        self.p.named()
    }
}
