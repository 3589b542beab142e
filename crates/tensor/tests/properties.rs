//! Property tests: broadcasting binary ops and chains of views, on random shapes and random
//! non-contiguous layouts, against a naive dense reference written with explicit multi-index loops.
//! Seeded (`Generator`), a few hundred cases each, fast in debug builds.

use ember_tensor::{DType, Generator, Tensor};

/// A dense row-major array: the reference every tensor result is compared with.
#[derive(Clone, Debug)]
struct Naive {
    shape: Vec<usize>,
    data: Vec<f64>,
}

/// Calls `f` with every multi-index of `shape`, in row-major order.
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

impl Naive {
    fn build(shape: &[usize], mut f: impl FnMut(&[usize]) -> f64) -> Naive {
        let mut data = Vec::new();
        for_each_index(shape, |i| data.push(f(i)));
        Naive { shape: shape.to_vec(), data }
    }

    fn at(&self, idx: &[usize]) -> f64 {
        assert_eq!(idx.len(), self.shape.len());
        let mut flat = 0;
        for (&i, &s) in idx.iter().zip(&self.shape) {
            assert!(i < s, "naive index {idx:?} outside {:?}", self.shape);
            flat = flat * s + i;
        }
        self.data[flat]
    }

    fn reshape(&self, shape: &[usize]) -> Naive {
        assert_eq!(shape.iter().product::<usize>(), self.data.len());
        Naive { shape: shape.to_vec(), data: self.data.clone() }
    }

    fn transpose(&self, a: usize, b: usize) -> Naive {
        let mut shape = self.shape.clone();
        shape.swap(a, b);
        Naive::build(&shape, |i| {
            let mut j = i.to_vec();
            j.swap(a, b);
            self.at(&j)
        })
    }

    fn permute(&self, p: &[usize]) -> Naive {
        let shape: Vec<usize> = p.iter().map(|&d| self.shape[d]).collect();
        Naive::build(&shape, |i| {
            let mut j = vec![0; i.len()];
            for (k, &d) in p.iter().enumerate() {
                j[d] = i[k];
            }
            self.at(&j)
        })
    }

    fn narrow(&self, d: usize, start: usize, len: usize) -> Naive {
        let mut shape = self.shape.clone();
        shape[d] = len;
        Naive::build(&shape, |i| {
            let mut j = i.to_vec();
            j[d] += start;
            self.at(&j)
        })
    }

    fn select(&self, d: usize, index: usize) -> Naive {
        let mut shape = self.shape.clone();
        shape.remove(d);
        Naive::build(&shape, |i| {
            let mut j = i.to_vec();
            j.insert(d, index);
            self.at(&j)
        })
    }

    fn expand(&self, shape: &[usize]) -> Naive {
        let lead = shape.len() - self.shape.len();
        Naive::build(shape, |i| {
            let j: Vec<usize> =
                (0..self.shape.len()).map(|k| if self.shape[k] == 1 { 0 } else { i[lead + k] }).collect();
            self.at(&j)
        })
    }

    /// `self` at the multi-index `i` of the broadcast shape `out`.
    fn at_broadcast(&self, out: &[usize], i: &[usize]) -> f64 {
        let lead = out.len() - self.shape.len();
        let j: Vec<usize> = (0..self.shape.len()).map(|k| if self.shape[k] == 1 { 0 } else { i[lead + k] }).collect();
        self.at(&j)
    }
}

fn below(g: &mut Generator, n: usize) -> usize {
    g.int_below(0, n as i64) as usize
}

fn coin(g: &mut Generator, p: f64) -> bool {
    g.uniform() < p
}

/// A random dim index for `d < rank`, sometimes written negative.
fn as_dim(g: &mut Generator, d: usize, rank: usize) -> i64 {
    if coin(g, 0.5) {
        d as i64 - rank.max(1) as i64
    } else {
        d as i64
    }
}

/// Checks a tensor against the reference: shape and every element.
#[track_caller]
fn same(t: &Tensor, n: &Naive, tol: f64, ctx: &str) {
    assert_eq!(t.shape(), n.shape.as_slice(), "{ctx}: shape");
    let v = t.to_vec::<f64>();
    assert_eq!(v.len(), n.data.len(), "{ctx}: numel");
    for (k, (a, b)) in v.iter().zip(&n.data).enumerate() {
        assert!(a == b || (a - b).abs() <= tol * (b.abs() + 1.0), "{ctx}: element {k}: got {a}, reference {b}");
    }
    // contiguous() keeps the row-major order of to_vec
    let c = t.contiguous();
    assert!(c.is_contiguous(), "{ctx}: contiguous() is contiguous");
    assert_eq!(c.to_vec::<f64>(), v, "{ctx}: contiguous() order");
    if !t.is_contiguous() {
        assert!(!c.shares_storage(t), "{ctx}: contiguous() of a non-contiguous view copies");
    }
}

/// Nonzero values exact in every dtype: multiples of 1/4 in [-3, 3].
fn random_values(g: &mut Generator, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let k = g.int_below(1, 13) as f64 / 4.0;
            if coin(g, 0.5) {
                -k
            } else {
                k
            }
        })
        .collect()
}

/// A tensor of `shape` and `dtype` with its reference, built as a random (often non-contiguous) view:
/// a transpose, permute, narrow, expand or select of a bigger base, recursively up to `depth`.
fn random_view(g: &mut Generator, shape: &[usize], dtype: DType, depth: usize) -> (Tensor, Naive) {
    let r = shape.len();
    let pick = if depth == 0 { 0 } else { below(g, 6) };
    match pick {
        1 if r >= 2 => {
            let (a, b) = (below(g, r), below(g, r));
            let mut bs = shape.to_vec();
            bs.swap(a, b);
            let (t, n) = random_view(g, &bs, dtype, depth - 1);
            (t.transpose(as_dim(g, a, r), as_dim(g, b, r)), n.transpose(a, b))
        }
        2 if r >= 2 => {
            let p = random_perm(g, r);
            let mut bs = vec![0; r];
            for (i, &d) in p.iter().enumerate() {
                bs[d] = shape[i];
            }
            let (t, n) = random_view(g, &bs, dtype, depth - 1);
            let pd: Vec<i64> = p.iter().map(|&d| as_dim(g, d, r)).collect();
            (t.permute(&pd), n.permute(&p))
        }
        3 if r >= 1 => {
            let d = below(g, r);
            let extra = 1 + below(g, 2);
            let start = below(g, extra + 1);
            let mut bs = shape.to_vec();
            bs[d] += extra;
            let (t, n) = random_view(g, &bs, dtype, depth - 1);
            (t.narrow(as_dim(g, d, r), start, shape[d]), n.narrow(d, start, shape[d]))
        }
        4 if r >= 1 => {
            // expand from a base with fewer leading dims and some sizes set to 1
            let lead = below(g, r + 1);
            let bs: Vec<usize> = shape[lead..].iter().map(|&s| if coin(g, 0.4) { 1 } else { s }).collect();
            let (t, n) = random_view(g, &bs, dtype, depth - 1);
            let target: Vec<i64> = shape
                .iter()
                .enumerate()
                .map(|(i, &s)| if i >= lead && bs[i - lead] == s && coin(g, 0.3) { -1 } else { s as i64 })
                .collect();
            (t.expand(&target), n.expand(shape))
        }
        5 => {
            let d = below(g, r + 1);
            let m = 1 + below(g, 3);
            let i = below(g, m);
            let mut bs = shape.to_vec();
            bs.insert(d, m);
            let (t, n) = random_view(g, &bs, dtype, depth - 1);
            let idx = if coin(g, 0.5) { i as i64 - m as i64 } else { i as i64 };
            (t.select(as_dim(g, d, r + 1), idx), n.select(d, i))
        }
        _ => {
            let n = Naive::build(shape, |_| 0.0);
            let n = Naive { data: random_values(g, n.data.len()), ..n };
            (Tensor::from_vec(n.data.clone(), shape).to_dtype(dtype), n)
        }
    }
}

fn random_perm(g: &mut Generator, r: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..r).collect();
    for i in (1..r).rev() {
        p.swap(i, below(g, i + 1));
    }
    p
}

/// A random shape of rank 0..=4 with sizes 1..=4.
fn random_shape(g: &mut Generator) -> Vec<usize> {
    let r = below(g, 5);
    (0..r).map(|_| 1 + below(g, 4)).collect()
}

/// The broadcast of two shapes by the naive rule, or `None`.
fn naive_broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, r - s.len()).chain(s.iter().copied()).collect() };
    let (a, b) = (pad(a), pad(b));
    a.iter()
        .zip(&b)
        .map(|(&x, &y)| {
            if x == y || y == 1 {
                Some(x)
            } else if x == 1 {
                Some(y)
            } else {
                None
            }
        })
        .collect()
}

type BinFn = fn(&Tensor, &Tensor) -> Tensor;
type RefFn = fn(f64, f64) -> f64;

#[test]
fn broadcasting_binary_ops_match_reference() {
    let mut g = Generator::new(0xB0AD);
    let ops: [(&str, BinFn, RefFn); 5] = [
        ("add", |a, b| a + b, |x, y| x + y),
        ("sub", |a, b| a - b, |x, y| x - y),
        ("mul", |a, b| a * b, |x, y| x * y),
        ("div", |a, b| a / b, |x, y| x / y),
        ("maximum", Tensor::maximum, f64::max),
    ];
    for case in 0..400 {
        let out = random_shape(&mut g);
        // each operand: drop some leading dims, set some sizes to 1
        let operand = |g: &mut Generator| -> Vec<usize> {
            let lead = below(g, out.len() + 1);
            out[lead..].iter().map(|&s| if coin(g, 0.3) { 1 } else { s }).collect()
        };
        let (sa, sb) = (operand(&mut g), operand(&mut g));
        let dtype = if coin(&mut g, 0.5) { DType::F64 } else { DType::F32 };
        let (a, na) = random_view(&mut g, &sa, dtype, 2);
        let (b, nb) = random_view(&mut g, &sb, dtype, 2);
        let (name, op, f) = ops[case % ops.len()];
        let shape = naive_broadcast(&sa, &sb).expect("operands built to broadcast");
        let want = Naive::build(&shape, |i| f(na.at_broadcast(&shape, i), nb.at_broadcast(&shape, i)));
        let got = op(&a, &b);
        let ctx =
            format!("case {case}: {name} {sa:?} (strides {:?}) with {sb:?} (strides {:?})", a.strides(), b.strides());
        same(&got, &want, if dtype == DType::F32 { 1e-6 } else { 0.0 }, &ctx);
        assert_eq!(got.dtype(), dtype, "{ctx}: dtype");
        assert!(!got.shares_storage(&a) && !got.shares_storage(&b), "{ctx}: result is a new tensor");
        // the operands are untouched
        same(&a, &na, 0.0, &ctx);
        same(&b, &nb, 0.0, &ctx);
    }
}

#[test]
fn non_broadcasting_shapes_are_errors() {
    let mut g = Generator::new(7);
    let mut seen = 0;
    while seen < 200 {
        let (sa, sb) = (random_shape(&mut g), random_shape(&mut g));
        let (a, b) = (Tensor::zeros(&sa), Tensor::zeros(&sb));
        match naive_broadcast(&sa, &sb) {
            Some(s) => assert_eq!(a.try_mul(&b).unwrap().shape(), s.as_slice()),
            None => {
                let e = a.try_add(&b).unwrap_err().to_string();
                assert!(e.contains("add") && e.contains(&format!("{sa:?}")) && e.contains(&format!("{sb:?}")), "{e}");
                seen += 1;
            }
        }
    }
}

/// A random shape with `numel` elements (sizes are divisors; some 1s inserted).
fn random_factorisation(g: &mut Generator, numel: usize) -> Vec<usize> {
    let mut left = numel;
    let mut dims = Vec::new();
    while left > 1 && dims.len() < 4 {
        let divs: Vec<usize> = (2..=left).filter(|d| left.is_multiple_of(*d)).collect();
        let d = divs[below(g, divs.len())];
        dims.push(d);
        left /= d;
    }
    if left > 1 {
        dims.push(left);
    }
    for _ in 0..below(g, 2) {
        let at = below(g, dims.len() + 1);
        dims.insert(at, 1);
    }
    dims
}

#[test]
fn view_chains_match_reference() {
    let mut g = Generator::new(0x7E57);
    for case in 0..300 {
        let dtype = [DType::F32, DType::F64, DType::I64][below(&mut g, 3)];
        let shape: Vec<usize> = (0..1 + below(&mut g, 4)).map(|_| 1 + below(&mut g, 4)).collect();
        let n0 = Naive::build(&shape, |_| 0.0);
        let n0 = Naive { data: (0..n0.data.len()).map(|v| v as f64 - 7.0).collect(), ..n0 };
        let base = Tensor::from_vec(n0.data.clone(), &shape).to_dtype(dtype);
        let (mut t, mut n) = (base.clone(), n0.clone());
        let mut copied = false;
        let mut log = format!("case {case}: {shape:?} {dtype}");
        for _ in 0..1 + below(&mut g, 6) {
            let r = n.shape.len();
            let before = t.clone();
            let mut view = true;
            match below(&mut g, 11) {
                0 | 1 => {
                    let mut to = random_factorisation(&mut g, n.data.len());
                    let mut arg: Vec<i64> = to.iter().map(|&d| d as i64).collect();
                    if !to.is_empty() && coin(&mut g, 0.5) {
                        arg[below(&mut g, to.len())] = -1;
                    }
                    if to.is_empty() && coin(&mut g, 0.5) {
                        (to, arg) = (vec![1], vec![-1]);
                    }
                    log += &format!(" reshape{arg:?}");
                    view = before.try_view(&arg).is_ok();
                    assert!(view || !before.is_contiguous(), "{log}: a contiguous tensor always views");
                    t = t.reshape(&arg);
                    n = n.reshape(&to);
                }
                2 if r >= 1 => {
                    let (a, b) = (below(&mut g, r), below(&mut g, r));
                    log += &format!(" transpose({a},{b})");
                    t = t.transpose(as_dim(&mut g, a, r), as_dim(&mut g, b, r));
                    n = n.transpose(a, b);
                }
                3 => {
                    let p = random_perm(&mut g, r);
                    log += &format!(" permute{p:?}");
                    t = t.permute(&p);
                    n = n.permute(&p);
                }
                4 => {
                    let d = below(&mut g, r + 1);
                    log += &format!(" unsqueeze({d})");
                    let arg = if coin(&mut g, 0.5) { d as i64 - r as i64 - 1 } else { d as i64 };
                    t = t.unsqueeze(arg);
                    let mut s = n.shape.clone();
                    s.insert(d, 1);
                    n = n.reshape(&s);
                }
                5 if r >= 1 => {
                    let d = below(&mut g, r);
                    log += &format!(" squeeze({d})");
                    t = t.squeeze(as_dim(&mut g, d, r));
                    let mut s = n.shape.clone();
                    if s[d] == 1 {
                        s.remove(d);
                    }
                    n = n.reshape(&s);
                }
                6 if r >= 1 => {
                    let (a, b) = (below(&mut g, r), below(&mut g, r));
                    let (s, e) = (a.min(b), a.max(b));
                    log += &format!(" flatten({s},{e})");
                    let mut to: Vec<usize> = n.shape[..s].to_vec();
                    to.push(n.shape[s..=e].iter().product());
                    to.extend_from_slice(&n.shape[e + 1..]);
                    view = before.try_view(&to).is_ok();
                    t = t.flatten(as_dim(&mut g, s, r), as_dim(&mut g, e, r));
                    n = n.reshape(&to);
                }
                7 if r >= 1 => {
                    let d = below(&mut g, r);
                    let len = 1 + below(&mut g, n.shape[d]);
                    let start = below(&mut g, n.shape[d] - len + 1);
                    log += &format!(" narrow({d},{start},{len})");
                    t = t.narrow(as_dim(&mut g, d, r), start, len);
                    n = n.narrow(d, start, len);
                }
                8 if r >= 1 => {
                    let d = below(&mut g, r);
                    let i = below(&mut g, n.shape[d]);
                    log += &format!(" select({d},{i})");
                    let idx = if coin(&mut g, 0.5) { i as i64 - n.shape[d] as i64 } else { i as i64 };
                    t = t.select(as_dim(&mut g, d, r), idx);
                    n = n.select(d, i);
                }
                9 => {
                    let lead = below(&mut g, 2);
                    let mut to: Vec<usize> = (0..lead).map(|_| 1 + below(&mut g, 3)).collect();
                    to.extend(n.shape.iter().map(|&s| if s == 1 { 1 + below(&mut g, 3) } else { s }));
                    let arg: Vec<i64> = to
                        .iter()
                        .enumerate()
                        .map(|(i, &s)| if i >= lead && coin(&mut g, 0.3) { -1 } else { s as i64 })
                        .collect();
                    let to: Vec<usize> =
                        to.iter().enumerate().map(|(i, &s)| if arg[i] == -1 { n.shape[i - lead] } else { s }).collect();
                    log += &format!(" expand{arg:?}");
                    t = t.expand(&arg);
                    n = n.expand(&to);
                }
                10 if r >= 1 => {
                    let d = below(&mut g, r);
                    let size = n.shape[d];
                    let (parts, step) = if coin(&mut g, 0.5) {
                        let chunks = 1 + below(&mut g, size + 1);
                        log += &format!(" chunk({chunks},{d})");
                        (t.chunk(chunks, as_dim(&mut g, d, r)), size.div_ceil(chunks))
                    } else {
                        let s = 1 + below(&mut g, size);
                        log += &format!(" split({s},{d})");
                        (t.split(s, as_dim(&mut g, d, r)), s)
                    };
                    assert_eq!(parts.len(), size.div_ceil(step), "{log}: number of pieces");
                    for (k, p) in parts.iter().enumerate() {
                        let len = step.min(size - k * step);
                        same(p, &n.narrow(d, k * step, len), 0.0, &format!("{log} piece {k}"));
                        assert!(p.shares_storage(&before), "{log}: pieces are views");
                    }
                    let k = below(&mut g, parts.len());
                    let len = step.min(size - k * step);
                    t = parts[k].clone();
                    n = n.narrow(d, k * step, len);
                }
                _ => continue,
            }
            same(&t, &n, 0.0, &log);
            assert_eq!(t.dtype(), dtype, "{log}: dtype");
            assert_eq!(t.shares_storage(&before), view, "{log}: shares storage with its input");
            copied |= !view;
            assert_eq!(t.shares_storage(&base), !copied, "{log}: shares storage with the base");
        }
        // the base is never mutated by the chain
        same(&base, &n0, 0.0, &format!("{log}: base"));
    }
}

#[test]
fn copies_where_pytorch_copies() {
    let x = Tensor::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]);
    let t = x.transpose(1, 2);
    assert!(!t.reshape(&[-1]).shares_storage(&x), "flattening a transpose copies");
    assert!(!t.contiguous().shares_storage(&x));
    assert!(t.reshape(&[2, 4, 3]).shares_storage(&x), "reshape to the same shape views");
    assert!(x.narrow(0, 1, 1).reshape(&[12]).shares_storage(&x), "a leading narrow stays viewable");
    assert!(!x.narrow(2, 1, 2).reshape(&[12]).shares_storage(&x), "an inner narrow does not");
    assert!(x.narrow(2, 1, 2).reshape(&[6, 2]).shares_storage(&x), "but keeps its last dim viewable");
    let e = Tensor::arange(0.0, 3.0, 1.0).expand(&[2, 3]);
    assert!(!e.reshape(&[6]).shares_storage(&e));
    assert!(e.reshape(&[2, 1, 3]).shares_storage(&e), "inserting a 1 keeps an expand viewable");
    assert!(x.contiguous().shares_storage(&x));
    assert!(!(&x + 0.0).shares_storage(&x), "arithmetic gives a new tensor");
}
