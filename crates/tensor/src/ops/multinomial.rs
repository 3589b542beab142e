//! `multinomial`: sampling category indices from rows of non-negative weights, as
//! `torch.multinomial`, drawn from the generator seeded by [`crate::manual_seed`].

use crate::random::with_generator;
use crate::tensor::ok;
use crate::{Result, Tensor};

/// # Sampling
impl Tensor {
    /// `num_samples` category indices (`I64`) per row of non-negative weights (`[C]` or `[N, C]`;
    /// the weights need not sum to 1), as `torch.multinomial(input, num_samples, replacement)`.
    /// Without replacement each index appears at most once per row (drawn in turn, each draw
    /// renormalising over the categories not yet drawn). The output is `[num_samples]` or
    /// `[N, num_samples]` on the input's device; sampling runs on the host.
    ///
    /// ```
    /// use ember_tensor::{manual_seed, DType, Tensor};
    /// manual_seed(0);
    /// let w = Tensor::from_vec(vec![0.0f32, 1.0, 0.0, 3.0], &[4]);
    /// let s = w.multinomial(2, false);
    /// assert_eq!(s.dtype(), DType::I64);
    /// let mut v = s.to_vec::<i64>();
    /// v.sort();
    /// assert_eq!(v, vec![1, 3]); // only the two categories of nonzero weight, each once
    /// ```
    ///
    /// **Panics** on a bad rank or dtype, negative, infinite or NaN weights, a row summing to 0,
    /// `num_samples == 0`, or (without replacement) more samples than nonzero categories; see
    /// [`Tensor::try_multinomial`].
    #[must_use]
    #[track_caller]
    pub fn multinomial(&self, num_samples: usize, replacement: bool) -> Tensor {
        ok(self.try_multinomial(num_samples, replacement))
    }

    /// Checked form of [`Tensor::multinomial`].
    pub fn try_multinomial(&self, num_samples: usize, replacement: bool) -> Result<Tensor> {
        let shape = self.shape().to_vec();
        if shape.is_empty() || shape.len() > 2 {
            crate::bail!("multinomial", "prob_dist must be 1 or 2 dim, got shape {shape:?}");
        }
        if !self.dtype().is_float() {
            crate::bail!("multinomial", "prob_dist must be a floating point tensor, got {}", self.dtype());
        }
        let c = shape[shape.len() - 1];
        let rows = if shape.len() == 2 { shape[0] } else { 1 };
        if c == 0 {
            crate::bail!("multinomial", "number of categories cannot be zero (shape {shape:?})");
        }
        if num_samples == 0 {
            crate::bail!("multinomial", "cannot sample num_samples = 0 samples");
        }
        if !replacement && num_samples > c {
            crate::bail!(
                "multinomial",
                "cannot sample num_samples = {num_samples} > prob_dist.size(-1) = {c} samples without replacement"
            );
        }
        let w = self.to_vec::<f64>();
        for (r, row) in w.chunks(c).enumerate() {
            if row.iter().any(|x| !x.is_finite() || *x < 0.0) {
                crate::bail!(
                    "multinomial",
                    "probability tensor contains either inf, nan or element < 0 (row {r} of shape {shape:?})"
                );
            }
            let nonzero = row.iter().filter(|x| **x > 0.0).count();
            if nonzero == 0 {
                crate::bail!("multinomial", "invalid multinomial distribution (sum of probabilities <= 0) in row {r}");
            }
            if !replacement && nonzero < num_samples {
                crate::bail!(
                    "multinomial",
                    "invalid multinomial distribution (with replacement=False, not enough non-negative category to sample): row {r} has {nonzero} nonzero weights for num_samples = {num_samples}"
                );
            }
        }
        let out: Vec<i64> = with_generator(|g| {
            let mut out = Vec::with_capacity(rows * num_samples);
            for row in w.chunks(c) {
                let mut row = row.to_vec();
                for _ in 0..num_samples {
                    let i = draw(&row, g.uniform());
                    out.push(i as i64);
                    if !replacement {
                        row[i] = 0.0;
                    }
                }
            }
            out
        });
        let oshape: Vec<usize> = if shape.len() == 2 { vec![rows, num_samples] } else { vec![num_samples] };
        Ok(Tensor::from_vec_unchecked(out, &oshape).to(&self.device()))
    }
}

/// The category whose cumulative-weight interval holds `u * total` (a category of weight 0 is
/// never drawn).
fn draw(row: &[f64], u: f64) -> usize {
    let total: f64 = row.iter().sum();
    let target = u * total;
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > 0.0 {
            acc += x;
            last = i;
            if target < acc {
                return i;
            }
        }
    }
    last // rounding left target at the total: the last category of nonzero weight
}
