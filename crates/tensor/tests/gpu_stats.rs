//! `prod`, `var`, `std` and `logsumexp` on GPU tensors against the CPU (native kernels: none of them
//! may take the host fallback), and the reductions' subgroup kernels on large inputs. Run the file
//! with `EMBER_NO_SUBGROUPS=1` too to check the plain kernels on a device with subgroups; on Mesa's
//! lavapipe, `LP_NATIVE_VECTOR_WIDTH=128` / `512` change the subgroup size from 8 to 4 / 16.

#[macro_use]
mod gpu_util;

use ember_tensor::{host_fallback_count, DType, Error, Result, Tensor};
use gpu_util::{gpu, has_f64, run_table, Case, Rng};

/// The ops made native here; their fallback counters must stay at 0.
const OPS: [&str; 4] = ["prod", "var", "std", "logsumexp"];

fn ok<T>(v: T) -> Result<T> {
    Ok::<T, Error>(v)
}

fn rnd(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(Rng::new(seed).vec(n, lo, hi), shape).to_dtype(DType::F32)
}

fn ints(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

/// Random i64 drawn from `pool`.
fn pick(shape: &[usize], seed: u64, pool: &[i64]) -> Tensor {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    ints(&(0..n).map(|_| pool[(r.next_u64() % pool.len() as u64) as usize]).collect::<Vec<_>>(), shape)
}

fn assert_no_fallback() {
    for op in OPS {
        assert_eq!(host_fallback_count(op), 0, "{op} took the host fallback: {:?}", ember_tensor::host_fallbacks());
    }
}

/// Shapes of sizes 0, 1, 63, 65, 1000 and 70000, and some n-d ones (row counts and lengths around
/// the workgroup size and the 4096-element chunk).
fn shapes() -> Vec<Vec<usize>> {
    vec![
        vec![0],
        vec![1],
        vec![63],
        vec![65],
        vec![1000],
        vec![70000],
        vec![3, 0],
        vec![0, 4],
        vec![7, 9, 11],
        vec![2, 3, 4, 5],
        vec![300, 7],
        vec![5, 4097],
        vec![2, 9000],
    ]
}

/// Every op over all elements, each dim (negative too) with and without keepdim, on `x` (F32 or F64).
fn float_cases(name: &str, x: Tensor, prod_x: Tensor, v: &mut Vec<Case>) {
    let rank = x.rank() as isize;
    v.push(case!(true, format!("{name} all"), [x.clone(), prod_x.clone()], |t| ok(vec![
        t[0].var(true),
        t[0].var(false),
        t[0].std(true),
        t[0].std(false),
        t[1].prod(),
    ])));
    for d in -rank..rank.max(1) {
        for keep in [false, true] {
            v.push(case!(true, format!("{name} dim {d} keepdim {keep}"), [x.clone(), prod_x.clone()], |t| ok(vec![
                t[0].var_dim(d, true, keep),
                t[0].var_dim(d, false, keep),
                t[0].std_dim(d, true, keep),
                t[0].std_dim(d, false, keep),
                t[0].logsumexp(d, keep),
                t[1].prod_dim(d, keep),
            ])));
        }
    }
}

fn cases(f64_ok: bool) -> Vec<Case> {
    let mut v = vec![];
    for (k, shape) in shapes().into_iter().enumerate() {
        let seed = k as u64 + 1;
        let x = rnd(&shape, seed, -3.0, 5.0);
        // Factors near 1 keep long products finite.
        let p = rnd(&shape, seed + 100, 0.97, 1.03);
        float_cases(&format!("f32 {shape:?}"), x.clone(), p.clone(), &mut v);
        if f64_ok && shape.iter().product::<usize>() <= 1000 {
            float_cases(&format!("f64 {shape:?}"), x.to_dtype(DType::F64), p.to_dtype(DType::F64), &mut v);
        }
    }
    // Views: transposed, narrowed, broadcast, permuted; a 0-d tensor.
    let x = || rnd(&[6, 70], 7, -2.0, 2.0);
    v.push(case!(true, "views", [x()], |t| ok(vec![
        t[0].t().var_dim(0, true, false),
        t[0].t().std_dim(-1, false, true),
        t[0].t().logsumexp(1, false),
        t[0].narrow(1, 3, 50).var_dim(1, true, false),
        t[0].narrow(1, 3, 50).logsumexp(-1, true),
        t[0].narrow(0, 1, 4).prod_dim(0, false),
        t[0].unsqueeze(1).expand(&[6, 3, 70]).var_dim(1, false, false),
        t[0].unsqueeze(1).expand(&[6, 3, 70]).logsumexp(1, false),
        t[0].reshape(&[2, 3, 70]).permute(&[2, 0, 1]).std_dim(2, true, false),
        t[0].reshape(&[2, 3, 70]).permute(&[2, 0, 1]).prod_dim(1, true),
        t[0].t().var(true),
        t[0].t().prod(),
    ])));
    v.push(case!(true, "0-d", [Tensor::scalar(2.5f32)], |t| ok(vec![
        t[0].var(true),
        t[0].var(false),
        t[0].var_dim(0, true, false),
        t[0].std_dim(-1, false, true),
        t[0].logsumexp(0, false),
        t[0].prod(),
        t[0].prod_dim(0, true),
    ])));
    // var with one element per slice: NaN unbiased, 0 biased; infinities give NaN.
    let inf = f32::INFINITY;
    v.push(case!(
        true,
        "var n=1 and infinities",
        [rnd(&[5, 1], 3, -1.0, 1.0), Tensor::from_vec(vec![1.0f32, inf, 2.0, -inf, f32::NAN, 0.0, inf, inf], &[4, 2])],
        |t| ok(vec![
            t[0].var_dim(1, true, false),
            t[0].var_dim(1, false, true),
            t[0].std_dim(-1, true, false),
            t[0].narrow(0, 0, 1).var(true),
            t[0].narrow(0, 0, 1).std(false),
            t[1].var_dim(1, false, false),
            t[1].std_dim(1, true, false),
            t[1].var(true),
        ])
    ));
    // logsumexp: rows of -inf, rows holding +inf (with -inf too), NaN, huge values, empty rows.
    let ninf = -inf;
    let rows =
        vec![ninf, ninf, ninf, 1.0, inf, ninf, 2.0, inf, f32::NAN, 1.0, 1000.0, 999.0, -1000.0, -1001.0, 3.0, 3.0];
    v.push(case!(true, "logsumexp special rows", [Tensor::from_vec(rows, &[4, 4]), Tensor::zeros(&[3, 0])], |t| ok(
        vec![
            t[0].reshape(&[8, 2]).logsumexp(1, false),
            t[0].logsumexp(1, true),
            t[0].logsumexp(0, false),
            t[1].logsumexp(1, false),
            t[1].logsumexp(0, true),
            t[1].var_dim(1, true, false),
            t[1].prod_dim(1, false),
        ]
    )));
    // Integer and Bool inputs: logsumexp promotes to F32, prod counts in I64.
    v.push(case!(true, "promotions", [pick(&[3, 5], 4, &[-2, 0, 1, 3]), rnd(&[4, 65], 9, -1.0, 1.0)], |t| {
        let b = t[1].gt_scalar(-0.9);
        ok(vec![
            t[0].logsumexp(1, false),
            t[0].to_dtype(DType::Bool).logsumexp(0, true),
            b.prod(),
            b.prod_dim(1, false),
            b.prod_dim(0, true),
        ])
    }));
    // Errors carry the CPU's message.
    v.push(case!(true, "var of I64", [pick(&[3, 4], 1, &[1, 2])], |t| t[0].try_var(true)));
    v.push(case!(true, "std_dim of Bool", [pick(&[3, 4], 1, &[0, 1]).to_dtype(DType::Bool)], |t| t[0]
        .try_std_dim(0, true, false)));
    v.push(case!(true, "var_dim bad dim", [rnd(&[3, 4], 1, 0.0, 1.0)], |t| t[0].try_var_dim(2, true, false)));
    v.push(case!(true, "prod_dim bad dim", [rnd(&[3, 4], 1, 0.0, 1.0)], |t| t[0].try_prod_dim(-3, false)));
    v.push(case!(true, "logsumexp bad dim", [rnd(&[3, 4], 1, 0.0, 1.0)], |t| t[0].try_logsumexp(5, false)));
    v
}

#[test]
fn stats_match_the_cpu() {
    let Some(dev) = gpu() else { return };
    let cases = cases(has_f64(dev));
    let n = cases.len();
    assert_eq!(run_table(dev, &cases), n);
    assert_no_fallback();
}

/// I64 products are exact, wrapping on overflow as the CPU does (in any order of multiplication).
#[test]
fn i64_prod_is_exact() {
    let Some(dev) = gpu() else { return };
    let pool = [-3, -2, -1, 1, 2, 3, 5, 7, i64::MAX, i64::MIN + 1, 1 << 40, -(1 << 33) - 1];
    for (k, shape) in shapes().into_iter().enumerate() {
        let x = pick(&shape, 40 + k as u64, &pool);
        let g = x.to(&dev);
        assert_eq!(g.prod().to_vec::<i64>(), x.prod().to_vec::<i64>(), "prod {shape:?}");
        for d in -(x.rank() as isize)..x.rank() as isize {
            for keep in [false, true] {
                let (want, got) = (x.prod_dim(d, keep), g.prod_dim(d, keep));
                assert_eq!(got.dtype(), DType::I64);
                assert_eq!(got.shape(), want.shape(), "prod_dim {shape:?} {d}");
                assert_eq!(got.to_vec::<i64>(), want.to_vec::<i64>(), "prod_dim {shape:?} {d} keepdim {keep}");
            }
        }
    }
    // Known wraparounds.
    let x = ints(&[i64::MAX, 2, 3, i64::MIN, -1, 1 << 62, 4], &[7]);
    assert_eq!(x.to(&dev).prod().item::<i64>(), x.prod().item::<i64>());
    assert_eq!(
        x.to(&dev).prod().item::<i64>(),
        [i64::MAX, 2, 3, i64::MIN, -1, 1 << 62, 4].iter().fold(1i64, |a, &b| a.wrapping_mul(b))
    );
    assert_eq!(x.to(&dev).narrow(0, 0, 2).prod().item::<i64>(), -2);
    assert_no_fallback();
}

/// Sum, max and min (the subgroup kernels on devices with subgroups) stay exact for I64 and
/// NaN-propagating for floats on rows long and short, and float sums stay accurate.
#[test]
fn reductions_exact_and_nan_propagating() {
    let Some(dev) = gpu() else { return };
    let pool = [i64::MAX, i64::MIN, -1, 0, 1, 1 << 40, -(1 << 35) + 7, 0xffff_ffff, -0x1_0000_0000];
    for (k, shape) in shapes().into_iter().enumerate() {
        let x = pick(&shape, 70 + k as u64, &pool);
        let g = x.to(&dev);
        assert_eq!(g.sum().item::<i64>(), x.sum().item::<i64>(), "sum {shape:?}");
        for d in -(x.rank() as isize)..x.rank() as isize {
            assert_eq!(g.sum_dim(d, false).to_vec::<i64>(), x.sum_dim(d, false).to_vec::<i64>(), "sum {shape:?} {d}");
            if x.shape()[d.rem_euclid(x.rank() as isize) as usize] > 0 {
                let (w, gg) = (x.max_dim(d, false).to_vec::<i64>(), g.max_dim(d, false).to_vec::<i64>());
                assert_eq!(gg, w, "max {shape:?} {d}");
                let (w, gg) = (x.min_dim(d, true).to_vec::<i64>(), g.min_dim(d, true).to_vec::<i64>());
                assert_eq!(gg, w, "min {shape:?} {d}");
            }
        }
        if x.numel() > 0 {
            assert_eq!(g.max().item::<i64>(), x.max().item::<i64>(), "max {shape:?}");
            assert_eq!(g.min().item::<i64>(), x.min().item::<i64>(), "min {shape:?}");
        }
    }
    // A NaN at any position of a long row propagates through max and min; sums stay accurate.
    for pos in [0usize, 7, 8, 31, 255, 256, 4095, 4096, 69999] {
        let mut v = Rng::new(pos as u64).vec(70000, -1.0, 1.0);
        v[pos] = f64::NAN;
        let g = Tensor::from_vec(v, &[70000]).to_dtype(DType::F32).to(&dev);
        assert!(g.max().item::<f32>().is_nan() && g.min().item::<f32>().is_nan(), "NaN at {pos}");
        let r = g.reshape(&[14, 5000]);
        let m = r.max_dim(1, false).to_vec::<f32>();
        assert!(m.iter().enumerate().all(|(i, v)| v.is_nan() == (i == pos / 5000)), "NaN at {pos}: {m:?}");
    }
    let x = rnd(&[70000], 5, 0.0, 1.0);
    let (want, got) = (x.sum().item::<f64>(), x.to(&dev).sum().item::<f64>());
    assert!((want - got).abs() < 1e-4 * want, "{got} vs {want}");
}
