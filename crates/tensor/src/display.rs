//! `Display` for tensors, printed the way PyTorch's `repr` prints them:
//! `tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])`.

use std::fmt;

use crate::{DType, Tensor};

/// Elements shown per dimension edge before eliding with `...` (PyTorch's `edgeitems`).
const EDGE: usize = 3;
/// Tensors with more elements than this are summarised (PyTorch's `threshold`).
const THRESHOLD: usize = 1000;

struct Fmt {
    dtype: DType,
    int_mode: bool,
    sci: bool,
    width: usize,
}

impl Fmt {
    fn new(vals: &[f64], dtype: DType) -> Fmt {
        if dtype == DType::I64 || dtype == DType::Bool {
            let width = vals
                .iter()
                .map(|v| {
                    if dtype == DType::Bool {
                        if *v != 0.0 {
                            4
                        } else {
                            5
                        }
                    } else {
                        format!("{}", *v as i64).len()
                    }
                })
                .max()
                .unwrap_or(1);
            return Fmt { dtype, int_mode: true, sci: false, width };
        }
        let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
        let int_mode = finite.iter().all(|v| v.fract() == 0.0);
        let abs: Vec<f64> = finite.iter().map(|v| v.abs()).filter(|&v| v != 0.0).collect();
        let (mn, mx) = abs.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        let sci = !abs.is_empty() && (mx / mn > 1000.0 || mx > 1e8 || (!int_mode && mn < 1e-4));
        let int_mode = int_mode && mx <= 1e8;
        let mut f = Fmt { dtype, int_mode, sci, width: 0 };
        f.width = vals.iter().map(|&v| f.one(v).len()).max().unwrap_or(1);
        f
    }

    fn one(&self, v: f64) -> String {
        if self.dtype == DType::Bool {
            return if v != 0.0 { "True".into() } else { "False".into() };
        }
        if self.dtype == DType::I64 {
            return format!("{}", v as i64);
        }
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        if self.sci {
            let s = format!("{v:.4e}");
            // Rust prints 1.2340e5; PyTorch prints 1.2340e+05.
            match s.split_once('e') {
                Some((m, e)) => {
                    let (sign, digits) = if let Some(d) = e.strip_prefix('-') { ('-', d) } else { ('+', e) };
                    format!("{m}e{sign}{digits:0>2}")
                }
                None => s,
            }
        } else if self.int_mode {
            format!("{v:.0}.")
        } else {
            format!("{v:.4}")
        }
    }
}

fn write_rec(
    f: &mut fmt::Formatter<'_>,
    vals: &[f64],
    shape: &[usize],
    fm: &Fmt,
    indent: usize,
    summarize: bool,
) -> fmt::Result {
    if shape.is_empty() {
        return write!(f, "{:>w$}", fm.one(vals[0]), w = fm.width);
    }
    let n = shape[0];
    let inner: usize = shape[1..].iter().product();
    let idx: Vec<Option<usize>> = if summarize && n > 2 * EDGE {
        (0..EDGE).map(Some).chain(std::iter::once(None)).chain((n - EDGE..n).map(Some)).collect()
    } else {
        (0..n).map(Some).collect()
    };
    f.write_str("[")?;
    for (k, i) in idx.iter().enumerate() {
        if k > 0 {
            if shape.len() == 1 {
                f.write_str(", ")?;
            } else {
                f.write_str(",")?;
                for _ in 0..shape.len() - 1 {
                    f.write_str("\n")?;
                }
                write!(f, "{:indent$}", "", indent = indent + 1)?;
            }
        }
        match i {
            Some(i) => write_rec(f, &vals[i * inner..(i + 1) * inner], &shape[1..], fm, indent + 1, summarize)?,
            None => f.write_str("...")?,
        }
    }
    f.write_str("]")
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vals: Vec<f64> = self.to_vec::<f64>();
        let summarize = vals.len() > THRESHOLD;
        let fm = Fmt::new(&vals, self.dtype());
        f.write_str("tensor(")?;
        if self.numel() == 0 {
            f.write_str("[]")?;
            if self.rank() > 1 {
                write!(f, ", size={:?}", self.shape())?;
            }
        } else {
            write_rec(f, &vals, self.shape(), &fm, 7, summarize)?;
        }
        if !matches!(self.dtype(), DType::F32 | DType::I64 | DType::Bool) {
            write!(f, ", dtype={}", self.dtype().torch_name())?;
        }
        if !self.device().is_cpu() {
            write!(f, ", device='{}'", self.device())?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn like_pytorch() {
        let t = Tensor::from_vec(vec![1.0f32, 2.5, 3.0, 4.0], &[2, 2]);
        assert_eq!(t.to_string(), "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])");
        let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
        assert_eq!(t.to_string(), "tensor([1., 2., 3.])");
        let t = Tensor::from_vec(vec![1i64, -20, 3], &[3]);
        assert_eq!(t.to_string(), "tensor([  1, -20,   3])");
        let t = Tensor::from_vec(vec![true, false], &[2]);
        assert_eq!(t.to_string(), "tensor([ True, False])");
        let t = Tensor::from_vec(vec![0.5f64], &[]);
        assert_eq!(t.to_string(), "tensor(0.5000, dtype=torch.float64)");
    }
}
