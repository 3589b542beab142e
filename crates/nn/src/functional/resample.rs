//! Padding and resampling, as `torch.nn.functional`: `pad` (constant, reflect, replicate,
//! circular), `interpolate` (nearest, linear, bilinear, bicubic, trilinear, area; `align_corners`
//! both ways),
//! `pixel_shuffle`, `pixel_unshuffle`. Composites of `index_select`, `pad_dim`, `reshape` and
//! `permute`, so gradients (and GPU tensors) come with them.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[1, 1, 3]));
//! assert_eq!(F::pad(&x, &[2, 1], "reflect", 0.0).to_vec::<f32>(), vec![3.0, 2.0, 1.0, 2.0, 3.0, 2.0]);
//! assert_eq!(F::pad(&x, &[1, 1], "constant", 9.0).to_vec::<f32>(), vec![9.0, 1.0, 2.0, 3.0, 9.0]);
//! let up = F::interpolate(&x, None, Some(2.0), "nearest", None);
//! assert_eq!(up.to_vec::<f32>(), vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
//! ```

use ember_autograd::{autocast_inputs, Variable};
use ember_tensor::{Result, Tensor};

use super::checked::{bail, ok};

/// Selects `idx` along dim `d` (an I64 index on the input's device).
fn take(x: &Variable, d: usize, idx: Vec<i64>) -> Result<Variable> {
    let n = idx.len();
    x.try_index_select(d, &Tensor::from_vec(idx, &[n]).to(&x.device()))
}

/// Pads the last `pad.len() / 2` dims, PyTorch's `F.pad(input, pad, mode, value)`: `pad` lists
/// `(left, right)` for the last dim, then for the one before it, .... Modes: `"constant"` (with
/// `value`), `"reflect"` (mirrored without repeating the edge; each pad below the dim's size),
/// `"replicate"` (the edge repeated), `"circular"` (wrapped; each pad at most the dim's size).
///
/// **Panics** on an odd or too long `pad`, an unknown mode or a pad too large for the mode; see
/// [`try_pad`].
#[must_use]
#[track_caller]
pub fn pad(input: &Variable, pad: &[usize], mode: &str, value: f64) -> Variable {
    ok(try_pad(input, pad, mode, value))
}

/// Checked form of [`pad`].
pub fn try_pad(input: &Variable, pad: &[usize], mode: &str, value: f64) -> Result<Variable> {
    // PyTorch's CPU autocast list has reflection_pad1d/2d and replication_pad1d/2d/3d
    let autocast_op = match (mode, pad.len() / 2) {
        ("reflect", 1 | 2) => "reflection_pad",
        ("replicate", 1..=3) => "replication_pad",
        _ => "",
    };
    if let Some(a) = autocast_inputs(autocast_op, &[Some(input)]) {
        return try_pad(a.var(0), pad, mode, value);
    }
    let shape = input.shape();
    if !pad.len().is_multiple_of(2) || pad.len() / 2 > shape.len() {
        return bail(
            "pad",
            format!("padding {pad:?} must have an even length of at most 2 * rank for an input of shape {shape:?}"),
        );
    }
    if !["constant", "reflect", "replicate", "circular"].contains(&mode) {
        return bail("pad", format!("unknown mode {mode:?}: expected constant, reflect, replicate or circular"));
    }
    let mut y = input.clone();
    for (k, lr) in pad.chunks(2).enumerate() {
        let d = shape.len() - 1 - k;
        let (l, r, n) = (lr[0], lr[1], shape[d]);
        if l == 0 && r == 0 {
            continue;
        }
        let fits = match mode {
            "reflect" => l < n && r < n,
            "circular" => l <= n && r <= n,
            "replicate" => n > 0,
            _ => true,
        };
        if !fits {
            return bail(
                "pad",
                format!(
                    "{mode} padding ({l}, {r}) of dim {d} is too large for its size {n} (input shape {shape:?}){}",
                    if mode == "reflect" { ": each pad must be below the dim's size" } else { "" }
                ),
            );
        }
        let (n, l) = (n as i64, l as i64);
        let src = |j: i64| -> i64 {
            match mode {
                "reflect" => {
                    if j < 0 {
                        -j
                    } else if j >= n {
                        2 * (n - 1) - j
                    } else {
                        j
                    }
                }
                "replicate" => j.clamp(0, n - 1),
                _ => j.rem_euclid(n),
            }
        };
        y = if mode == "constant" {
            let padded = y.try_pad_dim(d, l as usize, r)?;
            if value == 0.0 {
                padded
            } else {
                // `value` where the padding went: value * (1 - pad_dim(ones))
                let ones = Variable::from(y.data().ones_like()).pad_dim(d, l as usize, r).data();
                let fill = (1.0 - &ones) * value;
                &padded + &Variable::from(fill)
            }
        } else {
            take(&y, d, (-l..n + r as i64).map(src).collect())?
        };
    }
    Ok(y)
}

/// Resamples the spatial dims (all after the first two) to `size`, or scaled by `scale_factor`
/// (the output size is `floor(in * scale_factor)`), PyTorch's `F.interpolate(input, size,
/// scale_factor, mode, align_corners)`. Modes: `"nearest"` (any number of spatial dims; source
/// index `floor(dst * in / out)`, with `1 / scale_factor` as the ratio when it is given, as
/// PyTorch), `"linear"` (3-d input), `"bilinear"` and `"bicubic"` (4-d input; cubic convolution
/// with PyTorch's `A = -0.75`, taps past the edge clamped to it), `"trilinear"` (5-d input), with
/// `align_corners` (default false) as PyTorch's, and `"area"` (3-d to 5-d: the mean of each
/// output's adaptive window, as `adaptive_avg_pool`). Every mode is separable: it resamples one
/// spatial dim after the other, which is PyTorch's result up to rounding.
///
/// **Panics** on a bad mode, rank, `size`/`scale_factor` combination or `align_corners` with
/// `"nearest"`; see [`try_interpolate`].
#[must_use]
#[track_caller]
pub fn interpolate(
    input: &Variable,
    size: Option<&[usize]>,
    scale_factor: Option<f64>,
    mode: &str,
    align_corners: Option<bool>,
) -> Variable {
    ok(try_interpolate(input, size, scale_factor, mode, align_corners))
}

/// Checked form of [`interpolate`].
pub fn try_interpolate(
    input: &Variable,
    size: Option<&[usize]>,
    scale_factor: Option<f64>,
    mode: &str,
    align_corners: Option<bool>,
) -> Result<Variable> {
    if let Some(a) = autocast_inputs("interpolate", &[Some(input)]) {
        return try_interpolate(a.var(0), size, scale_factor, mode, align_corners);
    }
    let shape = input.shape();
    let r = shape.len();
    let want_rank = match mode {
        "nearest" | "area" => None,
        "linear" => Some(3),
        "bilinear" | "bicubic" => Some(4),
        "trilinear" => Some(5),
        _ => {
            return bail(
                "interpolate",
                format!("unknown mode {mode:?}: expected nearest, linear, bilinear, bicubic, trilinear or area"),
            )
        }
    };
    if r < 3 || want_rank.is_some_and(|w| w != r) {
        return bail(
            "interpolate",
            format!(
                "mode {mode:?} expects a {} input [N, C, ...], got shape {shape:?}",
                want_rank.map(|w| format!("{w}-D")).unwrap_or_else(|| "3-D or higher".into())
            ),
        );
    }
    if (mode == "nearest" || mode == "area") && align_corners.is_some() {
        return bail(
            "interpolate",
            "align_corners can only be set with the interpolating modes (linear, bilinear, bicubic, trilinear)".into(),
        );
    }
    if mode == "area" && r > 5 {
        return bail("interpolate", format!("mode \"area\" expects a 3-D to 5-D input, got shape {shape:?}"));
    }
    let spatial = &shape[2..];
    let out: Vec<usize> = match (size, scale_factor) {
        (Some(s), None) if s.len() == spatial.len() || s.len() == 1 => {
            spatial.iter().enumerate().map(|(i, _)| if s.len() == 1 { s[0] } else { s[i] }).collect()
        }
        (None, Some(f)) if f > 0.0 && f.is_finite() => spatial.iter().map(|&n| (n as f64 * f).floor() as usize).collect(),
        _ => {
            return bail(
                "interpolate",
                format!(
                    "give exactly one of size (1 or {} values) and a positive scale_factor, got size {size:?} and scale_factor {scale_factor:?} for an input of shape {shape:?}",
                    spatial.len()
                ),
            )
        }
    };
    if out.contains(&0) || spatial.contains(&0) {
        return bail("interpolate", format!("input {shape:?} and output sizes {out:?} must be nonzero"));
    }
    let align = align_corners.unwrap_or(false);
    let mut y = input.clone();
    for (k, (&n, &m)) in spatial.iter().zip(&out).enumerate() {
        let d = k + 2;
        let ratio = match scale_factor {
            Some(f) => 1.0 / f,
            None => n as f64 / m as f64,
        };
        if mode == "nearest" {
            let scale = ratio as f32;
            let idx = (0..m).map(|j| ((j as f32 * scale).floor() as i64).min(n as i64 - 1)).collect();
            y = take(&y, d, idx)?;
            continue;
        }
        if mode == "area" || mode == "bicubic" {
            let taps = if mode == "area" { area_taps(n, m) } else { cubic_taps(n, m, ratio, align) };
            y = weighted_taps(&y, d, r, taps)?;
            continue;
        }
        let (mut i0, mut i1, mut w1) = (Vec::with_capacity(m), Vec::with_capacity(m), Vec::with_capacity(m));
        for j in 0..m {
            let src = if align {
                if m > 1 {
                    j as f64 * (n as f64 - 1.0) / (m as f64 - 1.0)
                } else {
                    0.0
                }
            } else {
                ((j as f64 + 0.5) * ratio - 0.5).max(0.0)
            };
            let lo = (src as i64).min(n as i64 - 1);
            i0.push(lo);
            i1.push((lo + 1).min(n as i64 - 1));
            w1.push(src - lo as f64);
        }
        let mut wshape = vec![1usize; r];
        wshape[d] = m;
        let dev = y.device();
        let w1 = Tensor::from_vec(w1, &wshape).to_dtype(y.dtype()).to(&dev);
        let w0 = 1.0 - &w1;
        let (a, b) = (take(&y, d, i0)?, take(&y, d, i1)?);
        y = &(&a * &Variable::from(w0)) + &(&b * &Variable::from(w1));
    }
    Ok(y)
}

/// Per tap `k`, the source index and weight of every output position `j` along one dim: the
/// output is `sum_k w_k[j] * x[idx_k[j]]`.
type Taps = Vec<(Vec<i64>, Vec<f64>)>;

/// Resamples dim `d` of the rank-`r` `y` as `sum_k w_k * index_select(y, d, idx_k)`.
fn weighted_taps(y: &Variable, d: usize, r: usize, taps: Taps) -> Result<Variable> {
    let dev = y.device();
    let mut acc: Option<Variable> = None;
    for (idx, w) in taps {
        let mut wshape = vec![1usize; r];
        wshape[d] = w.len();
        let w = Variable::from(Tensor::from_vec(w, &wshape).to_dtype(y.dtype()).to(&dev));
        let term = &take(y, d, idx)? * &w;
        acc = Some(match acc {
            Some(a) => &a + &term,
            None => term,
        });
    }
    Ok(acc.expect("at least one tap"))
}

/// `"area"`: output `j` is the mean of inputs `floor(j n / m) .. ceil((j + 1) n / m)`
/// (PyTorch's adaptive average pooling windows); shorter windows pad with zero-weight taps.
fn area_taps(n: usize, m: usize) -> Taps {
    let win = |j: usize| (j * n / m, ((j + 1) * n).div_ceil(m));
    let longest = (0..m).map(|j| win(j).1 - win(j).0).max().unwrap_or(1);
    (0..longest)
        .map(|k| {
            (0..m)
                .map(|j| {
                    let (lo, hi) = win(j);
                    let i = (lo + k).min(hi - 1) as i64;
                    (i, if lo + k < hi { 1.0 / (hi - lo) as f64 } else { 0.0 })
                })
                .unzip()
        })
        .collect()
}

/// `"bicubic"`: PyTorch's cubic convolution (`A = -0.75`) over the 4 inputs around the source
/// position (not clamped below 0, unlike linear's), indices clamped into `0..n`.
fn cubic_taps(n: usize, m: usize, ratio: f64, align: bool) -> Taps {
    const A: f64 = -0.75;
    let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let mut taps: Taps = (0..4).map(|_| (Vec::with_capacity(m), Vec::with_capacity(m))).collect();
    for j in 0..m {
        let src = if align {
            if m > 1 {
                j as f64 * (n as f64 - 1.0) / (m as f64 - 1.0)
            } else {
                0.0
            }
        } else {
            (j as f64 + 0.5) * ratio - 0.5
        };
        let f = src.floor();
        let t = src - f;
        let w = [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)];
        for (k, tap) in taps.iter_mut().enumerate() {
            tap.0.push((f as i64 - 1 + k as i64).clamp(0, n as i64 - 1));
            tap.1.push(w[k]);
        }
    }
    taps
}

/// `[*, C r², H, W] -> [*, C, H r, W r]`, PyTorch's `F.pixel_shuffle(input, upscale_factor)`.
///
/// **Panics** when the input has under 3 dims or its channels are not divisible by `r²`; see
/// [`try_pixel_shuffle`].
#[must_use]
#[track_caller]
pub fn pixel_shuffle(input: &Variable, upscale_factor: usize) -> Variable {
    ok(try_pixel_shuffle(input, upscale_factor))
}

/// Checked form of [`pixel_shuffle`].
pub fn try_pixel_shuffle(input: &Variable, upscale_factor: usize) -> Result<Variable> {
    let (s, r) = (input.shape(), upscale_factor);
    let k = s.len();
    if k < 3 || r == 0 || !s[k - 3].is_multiple_of(r * r) {
        return bail(
            "pixel_shuffle",
            format!(
                "expected an input [*, C * {r}^2, H, W] with at least 3 dims, got shape {s:?} (upscale_factor {r})"
            ),
        );
    }
    let (c, h, w) = (s[k - 3] / (r * r), s[k - 2], s[k - 1]);
    let b: usize = s[..k - 3].iter().product();
    let y = input.reshape(&[b, c, r, r, h, w].map(|v| v as isize)).permute(&[0, 1, 4, 2, 5, 3]);
    let mut out: Vec<isize> = s[..k - 3].iter().map(|&v| v as isize).collect();
    out.extend([c as isize, (h * r) as isize, (w * r) as isize]);
    y.try_reshape(&out)
}

/// `[*, C, H r, W r] -> [*, C r², H, W]`, PyTorch's `F.pixel_unshuffle(input, downscale_factor)`.
///
/// **Panics** when the input has under 3 dims or `H`, `W` are not divisible by `r`; see
/// [`try_pixel_unshuffle`].
#[must_use]
#[track_caller]
pub fn pixel_unshuffle(input: &Variable, downscale_factor: usize) -> Variable {
    ok(try_pixel_unshuffle(input, downscale_factor))
}

/// Checked form of [`pixel_unshuffle`].
pub fn try_pixel_unshuffle(input: &Variable, downscale_factor: usize) -> Result<Variable> {
    let (s, r) = (input.shape(), downscale_factor);
    let k = s.len();
    if k < 3 || r == 0 || !s[k - 2].is_multiple_of(r) || !s[k - 1].is_multiple_of(r) {
        return bail(
            "pixel_unshuffle",
            format!(
                "expected an input [*, C, H, W] with H and W divisible by {r}, got shape {s:?} (downscale_factor {r})"
            ),
        );
    }
    let (c, h, w) = (s[k - 3], s[k - 2] / r, s[k - 1] / r);
    let b: usize = s[..k - 3].iter().product();
    let y = input.reshape(&[b, c, h, r, w, r].map(|v| v as isize)).permute(&[0, 1, 3, 5, 2, 4]);
    let mut out: Vec<isize> = s[..k - 3].iter().map(|&v| v as isize).collect();
    out.extend([(c * r * r) as isize, h as isize, w as isize]);
    y.try_reshape(&out)
}
