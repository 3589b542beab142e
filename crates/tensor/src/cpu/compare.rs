//! CPU kernels for comparisons, `where`, `masked_fill` and the logical ops. Two-operand ops use
//! [`zip_map`]; `where` has its own three-operand strided walk, parallel over the outermost
//! non-trivial dim for large outputs.

use rayon::prelude::*;

use super::elementwise::{map, par_worth, zip_map};
use super::strided::for_each_offset;
use crate::op_desc::CmpOp;
use crate::shape::Layout;
use crate::{DType, Element, Result, Tensor};

/// `op(a, b)` for two CPU tensors of one dtype, broadcast to `shape`.
pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let v = with_dtype!(a.dtype(), T, cmp::<T>(op, a, b, shape))?;
    Ok(Tensor::from_vec_unchecked(v, shape))
}

fn cmp<T: Element>(op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Vec<bool>> {
    match op {
        CmpOp::Eq => zip_map(a, b, shape, |x: T, y: T| x == y),
        CmpOp::Ne => zip_map(a, b, shape, |x: T, y: T| x != y),
        CmpOp::Lt => zip_map(a, b, shape, |x: T, y: T| x < y),
        CmpOp::Le => zip_map(a, b, shape, |x: T, y: T| x <= y),
        CmpOp::Gt => zip_map(a, b, shape, |x: T, y: T| x > y),
        CmpOp::Ge => zip_map(a, b, shape, |x: T, y: T| x >= y),
    }
}

/// `cond ? a : b` elementwise, all three broadcast to `shape` (`a` and `b` of one dtype).
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Tensor {
    with_dtype!(a.dtype(), T, {
        let (dc, lc) = cond.cpu_raw::<bool>();
        let (da, la) = a.cpu_raw::<T>();
        let (db, lb) = b.cpu_raw::<T>();
        let v = select3(dc, lc, da, la, db, lb, shape);
        Tensor::from_vec_unchecked(v, shape)
    })
}

/// The three-operand walk behind [`where_`].
fn select3<T: Element>(
    dc: &[bool],
    lc: &Layout,
    da: &[T],
    la: &Layout,
    db: &[T],
    lb: &Layout,
    shape: &[usize],
) -> Vec<T> {
    let n: usize = shape.iter().product();
    if n == 0 {
        return Vec::new();
    }
    let dense = |l: &Layout| l.shape.as_slice() == shape && l.is_contiguous();
    if dense(lc) && dense(la) && dense(lb) {
        let (c, x, y) = (&dc[lc.offset..lc.offset + n], &da[la.offset..la.offset + n], &db[lb.offset..lb.offset + n]);
        let mut out = super::alloc::filled("where", n, T::ZERO);
        let pick = |(o, i): (&mut [T], usize)| {
            let r = i * CHUNK..i * CHUNK + o.len();
            for ((o, &c), (&x, &y)) in o.iter_mut().zip(&c[r.clone()]).zip(x[r.clone()].iter().zip(&y[r])) {
                *o = if c { x } else { y };
            }
        };
        if par_worth(n) {
            out.par_chunks_mut(CHUNK).zip(0..n.div_ceil(CHUNK)).for_each(pick);
        } else {
            out.chunks_mut(CHUNK).zip(0..).for_each(pick);
        }
        return out;
    }
    let ls = [lc, la, lb].map(|l| l.broadcast_to("where", shape).expect("shapes checked by caller"));
    // Split on the first dim of size > 1 (leading size-1 dims contribute nothing to offsets).
    let lead = shape.iter().take_while(|&&s| s == 1).count().min(shape.len().saturating_sub(1));
    let sub = &shape[lead..];
    let rows = sub.first().copied().unwrap_or(1);
    let row_len = n / rows;
    let mut out = super::alloc::filled("where", n, T::ZERO);
    let fill = |(i, o): (usize, &mut [T])| {
        let base = |l: &Layout| l.offset + if sub.is_empty() { 0 } else { i * l.strides[lead] };
        let offs = [base(&ls[0]), base(&ls[1]), base(&ls[2])];
        let rest = (lead + 1).min(shape.len());
        let strides = [&ls[0].strides[rest..], &ls[1].strides[rest..], &ls[2].strides[rest..]];
        let mut w = 0;
        for_each_offset(&shape[rest..], &strides, &offs, |[oc, oa, ob], len, [sc, sa, sb]| {
            let o = &mut o[w..w + len];
            w += len;
            match (sc, sa, sb) {
                (0, ..) if dc[oc] => run(o, da, oa, sa),
                (0, ..) => run(o, db, ob, sb),
                (1, 1, 1) => {
                    for ((o, &c), (&x, &y)) in o.iter_mut().zip(&dc[oc..oc + len]).zip(da[oa..].iter().zip(&db[ob..])) {
                        *o = if c { x } else { y };
                    }
                }
                (1, 1, 0) => {
                    let y = db[ob];
                    for ((o, &c), &x) in o.iter_mut().zip(&dc[oc..oc + len]).zip(&da[oa..oa + len]) {
                        *o = if c { x } else { y };
                    }
                }
                (1, 0, 1) => {
                    let x = da[oa];
                    for ((o, &c), &y) in o.iter_mut().zip(&dc[oc..oc + len]).zip(&db[ob..ob + len]) {
                        *o = if c { x } else { y };
                    }
                }
                _ => {
                    for (t, o) in o.iter_mut().enumerate() {
                        *o = if dc[oc + t * sc] { da[oa + t * sa] } else { db[ob + t * sb] };
                    }
                }
            }
        });
    };
    if par_worth(n) && rows > 1 {
        out.par_chunks_mut(row_len).enumerate().for_each(fill);
    } else {
        out.chunks_mut(row_len).enumerate().for_each(fill);
    }
    out
}

const CHUNK: usize = 1 << 14;

/// Copies a run of `o.len()` elements of `d` from `start` with step `step` into `o`.
#[inline]
fn run<T: Copy>(o: &mut [T], d: &[T], start: usize, step: usize) {
    match step {
        0 => o.fill(d[start]),
        1 => o.copy_from_slice(&d[start..start + o.len()]),
        _ => {
            for (i, o) in o.iter_mut().enumerate() {
                *o = d[start + i * step];
            }
        }
    }
}

/// `value` (as `a`'s dtype) where `mask`, else `a`; both broadcast to `shape`.
pub fn masked_fill(a: &Tensor, mask: &Tensor, value: f64, shape: &[usize]) -> Result<Tensor> {
    Ok(with_dtype!(a.dtype(), T, {
        let v = T::from_f64(value);
        Tensor::from_vec_unchecked(zip_map(a, mask, shape, move |x: T, m: bool| if m { v } else { x })?, shape)
    }))
}

/// `a && b` (`and`) or `a || b` for two Bool tensors broadcast to `shape`.
pub fn logical(a: &Tensor, b: &Tensor, and: bool, shape: &[usize]) -> Result<Tensor> {
    let v = if and {
        zip_map(a, b, shape, |x: bool, y: bool| x && y)?
    } else {
        zip_map(a, b, shape, |x: bool, y: bool| x || y)?
    };
    Ok(Tensor::from_vec_unchecked(v, shape))
}

/// `x == 0` for any dtype.
pub fn logical_not(a: &Tensor) -> Result<Tensor> {
    Ok(with_dtype!(a.dtype(), T, Tensor::from_vec_unchecked(map(a, |x: T| x == T::ZERO)?, a.shape())))
}

/// NaN test (never true for I64 and Bool).
pub fn isnan(a: &Tensor) -> Result<Tensor> {
    let v = match a.dtype() {
        DType::F32 => map(a, |x: f32| x.is_nan()),
        DType::F64 => map(a, |x: f64| x.is_nan()),
        DType::F16 => map(a, |x: half::f16| x.is_nan()),
        DType::BF16 => map(a, |x: half::bf16| x.is_nan()),
        DType::I64 | DType::Bool => super::alloc::try_filled("isnan", a.numel(), false),
    }?;
    Ok(Tensor::from_vec_unchecked(v, a.shape()))
}

/// Finiteness test (always true for I64 and Bool).
pub fn isfinite(a: &Tensor) -> Result<Tensor> {
    let v = match a.dtype() {
        DType::F32 => map(a, |x: f32| x.is_finite()),
        DType::F64 => map(a, |x: f64| x.is_finite()),
        DType::F16 => map(a, |x: half::f16| x.is_finite()),
        DType::BF16 => map(a, |x: half::bf16| x.is_finite()),
        DType::I64 | DType::Bool => super::alloc::try_filled("isfinite", a.numel(), true),
    }?;
    Ok(Tensor::from_vec_unchecked(v, a.shape()))
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    fn seq(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::from_vec((0..n).map(|x| x as f64).collect(), shape)
    }

    /// The strided three-operand walk (sequential and parallel) against an elementwise reference.
    #[test]
    fn where_strided_matches_reference() {
        for (c, a, b) in [
            (vec![2, 1, 4], vec![3, 1], vec![4]),
            (vec![1, 1, 300, 1], vec![1, 257], vec![300, 257]),
            (vec![], vec![], vec![]),
            (vec![5], vec![1], vec![]),
            (vec![3, 1], vec![3, 5], vec![1, 5]),
            (vec![300, 1], vec![1, 300, 257], vec![300, 257]),
        ] {
            let cond = seq(&c).remainder_3_is_0();
            let x = seq(&a);
            let y = -&seq(&b);
            let got = x.where_(&cond, &y);
            let shape = got.shape().to_vec();
            let (cb, xb, yb) = (cond.broadcast_to(&shape), x.broadcast_to(&shape), y.broadcast_to(&shape));
            let want: Vec<f64> = cb
                .to_vec::<bool>()
                .iter()
                .zip(xb.to_vec::<f64>().iter().zip(yb.to_vec::<f64>()))
                .map(|(&c, (&x, y))| if c { x } else { y })
                .collect();
            assert_eq!(got.to_vec::<f64>(), want, "{c:?} {a:?} {b:?}");
        }
        // transposed (non-contiguous) operands of the same shape
        let x = seq(&[300, 400]).transpose(0, 1);
        let cond = x.remainder_3_is_0();
        let got = x.where_(&cond, &x.neg());
        let want: Vec<f64> = x.to_vec::<f64>().iter().map(|&v| if v % 3.0 == 0.0 { v } else { -v }).collect();
        assert_eq!(got.to_vec::<f64>(), want);
    }

    impl Tensor {
        fn remainder_3_is_0(&self) -> Tensor {
            let v: Vec<bool> = self.to_vec::<f64>().iter().map(|&x| x % 3.0 == 0.0).collect();
            Tensor::from_vec(v, self.shape())
        }
    }
}
