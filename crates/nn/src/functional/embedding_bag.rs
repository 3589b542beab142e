//! `embedding_bag`: sums, means or maxima of bags of embedding rows, as
//! `torch.nn.functional.embedding_bag`, without building the `[n, D]` rows per bag by hand.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let w = Variable::from(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]));
//! let idx = Variable::from(Tensor::from_vec(vec![0i64, 2, 1], &[3]));
//! let offsets = Tensor::from_vec(vec![0i64, 2], &[2]);
//! let y = F::embedding_bag(&idx, &w, Some(&offsets), "sum");
//! assert_eq!(y.to_vec::<f32>(), vec![6.0, 8.0, 3.0, 4.0]); // bags {0, 2} and {1}
//! ```

use ember_autograd::Variable;
use ember_tensor::{DType, Error, Result, Tensor};

use super::checked::ok;

fn bail<T>(msg: String) -> Result<T> {
    Err(Error::InvalidArgument { op: "embedding_bag", msg })
}

/// One row per bag of `weight` rows (`[num_embeddings, D]`) picked by the I64 `input`, reduced by
/// `mode` (`"sum"`, `"mean"` or `"max"`), PyTorch's `F.embedding_bag(input, weight, offsets,
/// mode=mode)`. A 2-d `input` `[B, L]` is `B` bags of `L` indices (`offsets` must be `None`); a 1-d
/// `input` is cut into bags starting at `offsets` (1-d, I64, starting at 0, non-decreasing). An
/// empty bag gives zeros. The result is `[B, D]`; gradients flow to `weight` (for `"max"`, to each
/// bag's maximum).
///
/// **Panics** on a bad mode, shapes, dtypes, offsets or an index out of range; see
/// [`try_embedding_bag`].
#[must_use]
#[track_caller]
pub fn embedding_bag(input: &Variable, weight: &Variable, offsets: Option<&Tensor>, mode: &str) -> Variable {
    ok(try_embedding_bag(input, weight, offsets, mode))
}

/// Checked form of [`embedding_bag`].
pub fn try_embedding_bag(
    input: &Variable,
    weight: &Variable,
    offsets: Option<&Tensor>,
    mode: &str,
) -> Result<Variable> {
    try_embedding_bag_with(input, weight, offsets, mode, None, None)
}

/// [`embedding_bag`] with PyTorch's two remaining options: `per_sample_weights` (float, `input`'s
/// shape; only with `"sum"`: each row is scaled by its weight before the sum, and the weights get
/// gradients) and `padding_idx` (negative counts from the end of the table): entries equal to it
/// are left out of their bag, so they add nothing, do not count towards a mean and never win a
/// max; a bag of padding only gives zeros.
///
/// **Panics** on the errors of [`embedding_bag`], weights of another shape, weights with a mode
/// other than `"sum"`, or a `padding_idx` outside the table; see [`try_embedding_bag_with`].
#[must_use]
#[track_caller]
pub fn embedding_bag_with(
    input: &Variable,
    weight: &Variable,
    offsets: Option<&Tensor>,
    mode: &str,
    per_sample_weights: Option<&Variable>,
    padding_idx: Option<i64>,
) -> Variable {
    ok(try_embedding_bag_with(input, weight, offsets, mode, per_sample_weights, padding_idx))
}

/// Checked form of [`embedding_bag_with`].
pub fn try_embedding_bag_with(
    input: &Variable,
    weight: &Variable,
    offsets: Option<&Tensor>,
    mode: &str,
    per_sample_weights: Option<&Variable>,
    padding_idx: Option<i64>,
) -> Result<Variable> {
    let (s, ws) = (input.shape(), weight.shape());
    if !["sum", "mean", "max"].contains(&mode) {
        return bail(format!("unknown mode {mode:?}: expected sum, mean or max"));
    }
    if input.dtype() != DType::I64 || ws.len() != 2 {
        return bail(format!(
            "expected I64 indices and a 2-D weight, got input {} {s:?} and weight {ws:?}",
            input.dtype()
        ));
    }
    let (rows, d) = (ws[0], ws[1]);
    if let Some(w) = per_sample_weights {
        if mode != "sum" {
            return bail(format!("per_sample_weights are only supported for mode \"sum\", got mode {mode:?}"));
        }
        if w.shape() != s || !w.dtype().is_float() {
            return bail(format!(
                "per_sample_weights must be a float tensor of the input's shape {s:?}, got {} {:?}",
                w.dtype(),
                w.shape()
            ));
        }
    }
    let pad = match padding_idx {
        Some(p) if p < -(rows as i64) || p >= rows as i64 => {
            return bail(format!("padding_idx {p} must be within num_embeddings {rows} (in -{rows}..{rows})"))
        }
        Some(p) => Some(if p < 0 { p + rows as i64 } else { p }),
        None => None,
    };
    let idx = input.data().to_vec::<i64>();
    if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i as usize >= rows) {
        return bail(format!("index {bad} is out of range for a weight of {rows} rows (input {s:?})"));
    }
    let starts: Vec<usize> = match (s.len(), offsets) {
        (2, None) => (0..s[0]).map(|b| b * s[1]).collect(),
        (2, Some(_)) => return bail(format!("if input is 2-D ({s:?}), then offsets has to be None")),
        (1, None) => return bail(format!("offsets has to be a 1-D tensor when input is 1-D ({s:?})")),
        (1, Some(o)) => {
            if o.rank() != 1 || o.dtype() != DType::I64 {
                return bail(format!("offsets has to be a 1-D I64 tensor, got {} {:?}", o.dtype(), o.shape()));
            }
            let v = o.to_vec::<i64>();
            let ok = v.first().is_none_or(|&f| f == 0)
                && v.windows(2).all(|w| w[0] <= w[1])
                && v.last().is_none_or(|&l| l as usize <= idx.len());
            if !ok {
                return bail(format!(
                    "offsets {v:?} must start at 0, not decrease and stay within the {} indices",
                    idx.len()
                ));
            }
            v.into_iter().map(|x| x as usize).collect()
        }
        _ => return bail(format!("expected a 1-D or 2-D input, got shape {s:?}")),
    };
    let b = starts.len();
    let end = |i: usize| if i + 1 < b { starts[i + 1] } else { idx.len() };
    // the positions kept (all but padding), and each bag's range among them
    let mut kept = Vec::with_capacity(idx.len());
    let mut ranges = Vec::with_capacity(b);
    for (i, &lo) in starts.iter().enumerate() {
        let first = kept.len();
        kept.extend((lo..end(i)).filter(|&p| pad != Some(idx[p])).map(|p| p as i64));
        ranges.push((first, kept.len()));
    }
    let n = kept.len();
    let dev = weight.device();
    let rows_of = Tensor::from_vec(kept.iter().map(|&p| idx[p as usize]).collect::<Vec<i64>>(), &[n]).to(&dev);
    let mut emb = weight.try_index_select(0, &rows_of)?; // [n, D]
    if let Some(w) = per_sample_weights {
        let pos = Tensor::from_vec(kept.clone(), &[n]).to(&dev);
        let w = w.reshape(&[-1]).try_index_select(0, &pos)?.to_dtype(weight.dtype());
        emb = emb.try_mul(&w.unsqueeze(1))?;
    }
    if mode == "max" {
        let zeros = Variable::from(Tensor::zeros_dtype(&[d], weight.dtype()).to(&dev));
        let bags: Vec<Variable> = ranges
            .iter()
            .map(|&(lo, hi)| if hi > lo { emb.narrow(0, lo, hi - lo).max_dim(0, false) } else { zeros.clone() })
            .collect();
        return Variable::try_stack(&bags, 0);
    }
    let mut bag_of = Vec::with_capacity(n);
    let mut counts = Vec::with_capacity(b);
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        bag_of.extend(std::iter::repeat_n(i as i64, hi - lo));
        counts.push((hi - lo).max(1) as f64);
    }
    let zeros = Variable::from(Tensor::zeros_dtype(&[b, d], weight.dtype()).to(&dev));
    let sum = zeros.try_index_add(0, &Tensor::from_vec(bag_of, &[n]).to(&dev), &emb)?;
    if mode == "sum" {
        return Ok(sum);
    }
    let c = Tensor::from_vec(counts, &[b, 1]).to_dtype(weight.dtype()).to(&dev);
    Ok(&sum / &Variable::from(c))
}
