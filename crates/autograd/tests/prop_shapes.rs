//! Property tests (proptest, shrinking to a minimal case on failure) for the shape functions and
//! their gradients: broadcasting, `transpose`, `permute`, `narrow`, `select`, `expand`, `reshape`
//! and `cat`, on random small shapes, against a naive reference over `Vec<f64>`.
//!
//! The reference describes each op by its index map: for every output multi-index, the input
//! (and, for `cat`, which input) element it reads. The forward is then `out[i] = x[map(i)]`, and
//! the gradient of `sum(out * g)` is the adjoint, `grad[map(i)] += g[i]`, an index walk with no
//! knowledge of strides or of how Ember implements the op. (`crates/tensor/tests/properties.rs`
//! checks chains of views and broadcasting forward with its own seeded generator; these add
//! shrinking, `cat` and every gradient.)

use ember_autograd::Variable;
use ember_tensor::Tensor;
use proptest::prelude::*;

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(strides(shape)).map(|(i, s)| i * s).sum()
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let st = strides(shape);
    st.iter()
        .map(|s| {
            let i = flat / s;
            flat %= s;
            i
        })
        .collect()
}

/// Every multi-index of `shape`, row-major.
fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n).map(|f| unravel(f, shape)).collect()
}

/// Distinct, exactly representable values for a tensor of `shape` (seeded by `k`).
fn values(shape: &[usize], k: usize) -> Vec<f64> {
    let n: usize = shape.iter().product();
    (0..n).map(|i| ((i * 7 + k * 13) % 97) as f64 - 48.0 + 0.25 * k as f64).collect()
}

fn var(shape: &[usize], k: usize) -> Variable {
    Variable::new(Tensor::from_vec(values(shape, k), shape), true)
}

/// Checks `y = op(xs)` against the index map `map(out_idx) -> (input, in_idx)`: the forward
/// values, then the gradients ([`check_grads`]).
fn check(xs: &[Variable], y: &Variable, out_shape: &[usize], map: impl Fn(&[usize]) -> (usize, Vec<usize>)) {
    assert_eq!(y.shape(), out_shape, "output shape");
    let got = y.data().to_vec::<f64>();
    let x_vals: Vec<Vec<f64>> = xs.iter().map(|x| x.data().to_vec::<f64>()).collect();
    for (f, idx) in indices(out_shape).iter().enumerate() {
        let (k, src) = map(idx);
        let s = ravel(&src, &xs[k].shape());
        assert_eq!(got[f], x_vals[k][s], "forward at output index {idx:?} (input {k} at {src:?})");
    }
    check_grads(xs, y, out_shape, map);
}

/// The gradient of `sum(y * g)` for each input must be the adjoint walk `grad[map(i)] += g[i]`.
fn check_grads(xs: &[Variable], y: &Variable, out_shape: &[usize], map: impl Fn(&[usize]) -> (usize, Vec<usize>)) {
    let g = values(out_shape, 99);
    let mut grads: Vec<Vec<f64>> = xs.iter().map(|x| vec![0.0; x.data().numel()]).collect();
    for (f, idx) in indices(out_shape).iter().enumerate() {
        let (k, src) = map(idx);
        grads[k][ravel(&src, &xs[k].shape())] += g[f];
    }
    (y * &Variable::from(Tensor::from_vec(g, out_shape))).sum().backward();
    for (k, x) in xs.iter().enumerate() {
        let got = x.grad().map(|t| t.to_vec::<f64>()).unwrap_or_else(|| vec![0.0; grads[k].len()]);
        assert_eq!(got, grads[k], "gradient of input {k} (shape {:?})", x.shape());
    }
}

/// The element of an operand of rank `r` (padded shape `padded`) that output index `i` reads
/// under broadcasting: sides of 1 always read 0.
fn broadcast_read(i: &[usize], padded: &[usize], r: usize) -> Vec<usize> {
    let lead = i.len() - r;
    i[lead..].iter().zip(&padded[lead..]).map(|(&k, &n)| if n == 1 { 0 } else { k }).collect()
}

/// A shape of rank 0 to 4 with sides 1 to 4.
fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 0..=4)
}

/// A shape of rank 1 to 4 (ops that need a dimension).
fn shape_ranked() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=4)
}

proptest! {
    // The minimal failing case is printed; no regression file is written into the source tree.
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn broadcast_add(a in shape(), pick in prop::collection::vec(0u8..3, 0..=4), extra in 0usize..=2) {
        // b: a suffix of a's shape with some sides set to 1 (where `pick` is 0); with `extra` > 0,
        // all of a's dims and `extra` new leading ones, so b has the higher rank.
        let keep = if extra > 0 { 0 } else { a.len() - pick.len().min(a.len()) };
        let mut b: Vec<usize> =
            a[keep..].iter().enumerate().map(|(j, &s)| if pick.get(j) == Some(&0) { 1 } else { s }).collect();
        for _ in 0..extra {
            b.insert(0, 1 + extra);
        }
        let rank = a.len().max(b.len());
        let pad = |s: &[usize]| { let mut v = vec![1; rank - s.len()]; v.extend_from_slice(s); v };
        let (pa, pb) = (pad(&a), pad(&b));
        let out: Vec<usize> = pa.iter().zip(&pb).map(|(&x, &y)| x.max(y)).collect();
        let (va, vb) = (var(&a, 1), var(&b, 2));
        let y = &va + &vb;
        prop_assert_eq!(y.shape(), out.clone());
        // Each operand's read, then the sum of both, checked one operand at a time.
        let ma = |i: &[usize]| broadcast_read(i, &pa, a.len());
        let mb = |i: &[usize]| broadcast_read(i, &pb, b.len());
        let (xa, xb) = (va.data().to_vec::<f64>(), vb.data().to_vec::<f64>());
        let got = y.data().to_vec::<f64>();
        for (f, i) in indices(&out).iter().enumerate() {
            prop_assert_eq!(got[f], xa[ravel(&ma(i), &a)] + xb[ravel(&mb(i), &b)]);
        }
        check_grads(std::slice::from_ref(&va), &(&va + &vb.detach()), &out, |i| (0, ma(i)));
        check_grads(std::slice::from_ref(&vb), &(&va.detach() + &vb), &out, |i| (0, mb(i)));
    }

    #[test]
    fn transpose((s, d0, d1) in shape_ranked().prop_flat_map(|s| { let r = s.len(); (Just(s), 0..r, 0..r) })) {
        let x = var(&s, 1);
        let mut out = s.clone();
        out.swap(d0, d1);
        check(std::slice::from_ref(&x), &x.transpose(d0, d1), &out, |i| { let mut j = i.to_vec(); j.swap(d0, d1); (0, j) });
    }

    #[test]
    fn permute((s, p) in shape().prop_flat_map(|s| { let r = s.len(); (Just(s), Just((0..r).collect::<Vec<usize>>()).prop_shuffle()) })) {
        let x = var(&s, 1);
        let out: Vec<usize> = p.iter().map(|&d| s[d]).collect();
        check(std::slice::from_ref(&x), &x.permute(&p), &out, |i| {
            let mut j = vec![0; i.len()];
            for (k, &d) in p.iter().enumerate() { j[d] = i[k]; }
            (0, j)
        });
    }

    #[test]
    fn narrow((s, dim, start, len) in shape_ranked()
        .prop_flat_map(|s| { let r = s.len(); (Just(s), 0..r) })
        .prop_flat_map(|(s, d)| { let n = s[d]; (Just(s), Just(d), 0..=n) })
        .prop_flat_map(|(s, d, st)| { let n = s[d]; (Just(s), Just(d), Just(st), 0..=n - st) })) {
        let x = var(&s, 1);
        let mut out = s.clone();
        out[dim] = len;
        check(std::slice::from_ref(&x), &x.narrow(dim, start, len), &out, |i| { let mut j = i.to_vec(); j[dim] += start; (0, j) });
    }

    #[test]
    fn select((s, dim, index) in shape_ranked()
        .prop_flat_map(|s| { let r = s.len(); (Just(s), 0..r) })
        .prop_flat_map(|(s, d)| { let n = s[d] as i64; (Just(s), Just(d), -n..n) })) {
        let x = var(&s, 1);
        let mut out = s.clone();
        out.remove(dim);
        let at = if index < 0 { (index + s[dim] as i64) as usize } else { index as usize };
        check(std::slice::from_ref(&x), &x.select(dim, index), &out, |i| { let mut j = i.to_vec(); j.insert(dim, at); (0, j) });
    }

    #[test]
    fn expand((s, grow, lead) in (shape(), prop::collection::vec(1usize..=3, 4), prop::collection::vec(1usize..=3, 0..=2))) {
        // Sides of 1 grow to `grow[d]`; `lead` new leading dims.
        let s: Vec<usize> = s.iter().enumerate().map(|(d, &n)| if d % 2 == 0 { 1 } else { n }).collect();
        let mut out = lead.clone();
        out.extend(s.iter().zip(&grow).map(|(&n, &g)| if n == 1 { g } else { n }));
        let x = var(&s, 1);
        let off = lead.len();
        check(std::slice::from_ref(&x), &x.expand(&out), &out, |i| {
            (0, s.iter().enumerate().map(|(d, &n)| if n == 1 { 0 } else { i[d + off] }).collect())
        });
    }

    #[test]
    fn reshape((s, split) in (shape(), prop::collection::vec(any::<prop::sample::Index>(), 0..=3))) {
        // The target: the same elements regrouped by splitting the element count into factors.
        let n: usize = s.iter().product();
        let mut out = Vec::new();
        let mut rest = n;
        for ix in &split {
            let divisors: Vec<usize> = (1..=rest).filter(|d| rest.is_multiple_of(*d)).collect();
            let d = divisors[ix.index(divisors.len())];
            out.push(d);
            rest /= d;
        }
        out.push(rest);
        let x = var(&s, 1);
        // Through a transposed (non-contiguous) view too, when there are two dims to swap.
        check(std::slice::from_ref(&x), &x.reshape(&out), &out, |i| (0, unravel(ravel(i, &out), &s)));
        if s.len() >= 2 {
            let mut st = s.clone();
            st.swap(0, 1);
            let xt = x.transpose(0, 1);
            let y = xt.reshape(&out);
            let x2 = var(&s, 1);
            check(std::slice::from_ref(&x2), &x2.transpose(0, 1).reshape(&out), &out, |i| {
                let mut j = unravel(ravel(i, &out), &st);
                j.swap(0, 1);
                (0, j)
            });
            prop_assert_eq!(y.shape(), out);
        }
    }

    #[test]
    fn cat((s, dim, sides) in shape_ranked()
        .prop_flat_map(|s| { let r = s.len(); (Just(s), 0..r, prop::collection::vec(0usize..=3, 1..=3)) })) {
        let shapes: Vec<Vec<usize>> = sides.iter().map(|&n| { let mut t = s.clone(); t[dim] = n; t }).collect();
        let xs: Vec<Variable> = shapes.iter().enumerate().map(|(k, t)| var(t, k + 1)).collect();
        let mut out = s.clone();
        out[dim] = sides.iter().sum();
        check(&xs, &Variable::cat(&xs, dim), &out, |i| {
            let mut at = i[dim];
            let mut k = 0;
            while at >= sides[k] { at -= sides[k]; k += 1; }
            let mut j = i.to_vec();
            j[dim] = at;
            (k, j)
        });
    }
}
