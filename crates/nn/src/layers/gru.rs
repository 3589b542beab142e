//! `Gru`: the gated recurrent unit layer, PyTorch's `nn.GRU`.

use ember_autograd::Variable;
use ember_tensor::Result;

use super::rnn::{rnn_common, Cell, RnnCore};
use crate::Module;

/// A multi-layer GRU, PyTorch's `nn.GRU`. Per step, with the gates in PyTorch's order `r, z, n`:
///
/// ```text
/// r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr)    z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)
/// n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
/// h' = (1 - z) * n + z * h
/// ```
///
/// Parameters as PyTorch's: `weight_ih_l{k}` `[3 * hidden, in]`, `weight_hh_l{k}`
/// `[3 * hidden, hidden]`, `bias_ih_l{k}`, `bias_hh_l{k}` `[3 * hidden]` (and `*_reverse` when
/// bidirectional), all uniform in `±1/sqrt(hidden)`. Input `[seq, batch, in]` (`[batch, seq, in]`
/// with `batch_first`, or unbatched `[seq, in]`).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_nn::{Gru, Module};
/// use ember_tensor::Tensor;
/// let gru = Gru::new(3, 4).bidirectional(true);
/// let x = Variable::from(Tensor::randn(&[6, 3])); // unbatched [seq, in]
/// let h0 = Variable::from(Tensor::zeros(&[2, 4])); // [directions, hidden]
/// let (out, h_n) = gru.forward_with_state(&x, Some(&h0));
/// assert_eq!(out.shape(), vec![6, 8]); // both directions
/// assert_eq!(h_n.shape(), vec![2, 4]);
/// assert_eq!(gru.forward(&x).to_vec::<f32>(), out.to_vec::<f32>());
/// ```
pub struct Gru {
    core: RnnCore,
}

impl Gru {
    /// A one-layer GRU from `input_size` features to `hidden_size`.
    pub fn new(input_size: usize, hidden_size: usize) -> Gru {
        Gru { core: RnnCore::new(Cell::Gru, input_size, hidden_size) }
    }

    /// The output sequence and `h_n` (`[layers * directions, batch, hidden]`, or without the batch
    /// dim for unbatched input), starting from `h0` of that shape (zeros when `None`).
    ///
    /// **Panics** on a bad input or state shape; see [`Gru::try_forward_with_state`].
    #[track_caller]
    pub fn forward_with_state(&self, x: &Variable, h0: Option<&Variable>) -> (Variable, Variable) {
        match self.try_forward_with_state(x, h0) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`Gru::forward_with_state`].
    pub fn try_forward_with_state(&self, x: &Variable, h0: Option<&Variable>) -> Result<(Variable, Variable)> {
        let (out, hn, _) = self.core.run(x, h0, None)?;
        Ok((out, hn))
    }
}

rnn_common!(Gru);
