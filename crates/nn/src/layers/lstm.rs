//! `Lstm`: the long short-term memory layer, PyTorch's `nn.LSTM`.

use ember_autograd::Variable;
use ember_tensor::Result;

use super::rnn::{rnn_common, Cell, RnnCore};
use crate::Module;

/// A multi-layer LSTM, PyTorch's `nn.LSTM`. Per step, with the gates in PyTorch's order `i, f, g, o`:
///
/// ```text
/// i = σ(x W_ii^T + b_ii + h W_hi^T + b_hi)    f = σ(...)    g = tanh(...)    o = σ(...)
/// c' = f * c + i * g                          h' = o * tanh(c')
/// ```
///
/// Parameters as PyTorch's: `weight_ih_l{k}` `[4 * hidden, in]`, `weight_hh_l{k}`
/// `[4 * hidden, hidden]`, `bias_ih_l{k}`, `bias_hh_l{k}` `[4 * hidden]` (and `*_reverse` when
/// bidirectional), all uniform in `±1/sqrt(hidden)`; a state dict saved by PyTorch loads as is.
/// Input `[seq, batch, in]` (`[batch, seq, in]` with `batch_first`, or unbatched `[seq, in]`);
/// [`Module::forward`] returns PyTorch's `output`, [`Lstm::forward_with_state`] also `(h_n, c_n)`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Lstm, Module};
/// use ember_tensor::Tensor;
/// let lstm = Lstm::new(3, 4).num_layers(2).batch_first(true);
/// let names: Vec<String> = lstm.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[..4], ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
/// assert_eq!(lstm.named_parameters()[0].1.shape(), vec![16, 3]);
/// let x = Variable::from(Tensor::randn(&[2, 5, 3])); // [batch, seq, in]
/// let (out, (h_n, c_n)) = lstm.forward_with_state(&x, None);
/// assert_eq!(out.shape(), vec![2, 5, 4]);
/// assert_eq!((h_n.shape(), c_n.shape()), (vec![2, 2, 4], vec![2, 2, 4]));
/// ```
pub struct Lstm {
    core: RnnCore,
}

impl Lstm {
    /// A one-layer LSTM from `input_size` features to `hidden_size`.
    pub fn new(input_size: usize, hidden_size: usize) -> Lstm {
        Lstm { core: RnnCore::new(Cell::Lstm, input_size, hidden_size) }
    }

    /// The output sequence and `(h_n, c_n)`, each `[layers * directions, batch, hidden]` (without
    /// the batch dim for unbatched input), starting from `state = (h0, c0)` of that shape (zeros
    /// when `None`).
    ///
    /// **Panics** on a bad input or state shape; see [`Lstm::try_forward_with_state`].
    #[track_caller]
    pub fn forward_with_state(
        &self,
        x: &Variable,
        state: Option<(&Variable, &Variable)>,
    ) -> (Variable, (Variable, Variable)) {
        match self.try_forward_with_state(x, state) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`Lstm::forward_with_state`].
    pub fn try_forward_with_state(
        &self,
        x: &Variable,
        state: Option<(&Variable, &Variable)>,
    ) -> Result<(Variable, (Variable, Variable))> {
        let (h0, c0) = state.map_or((None, None), |(h, c)| (Some(h), Some(c)));
        let (out, hn, cn) = self.core.run(x, h0, c0)?;
        Ok((out, (hn, cn.expect("LSTM returns a cell state"))))
    }
}

rnn_common!(Lstm);
