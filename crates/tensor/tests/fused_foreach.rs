//! `FusedMap::from_formula` (a formula written once as generic Rust, run natively on the CPU) and
//! `FusedMap::run_foreach` (many tuples in one pass; one dispatch on a GPU): the native loop equals
//! the interpreted program bit for bit, and every tuple of a foreach run equals a run of the map
//! on that tuple alone (odd sizes, several tuples, strided and shared inputs, F32 and F64, CPU and
//! GPU), also when the inputs are the outputs of the last foreach run (bound in place on a GPU).

mod gpu_util;

use ember_tensor::{DType, Expr, Formula, FusedMap, MapValue, Tensor};
use gpu_util::Rng;

/// Every function of the expression language, NaN-propagating extrema and a constant.
struct Sample;

impl Formula<3, 2, 3> for Sample {
    fn eval<V: MapValue>(&self, [a, b, c]: [V; 3], [s0, s1]: &[V; 2]) -> [V; 3] {
        let m = a.clone() + (b.clone() - a.clone()) * s0.clone();
        let out0 = c.clone() - m.clone() / ((b.clone() * b.clone()).sqrt() + V::constant(1e-3)) * s1.clone();
        let out2 = ((a.clone() * V::constant(0.25)).exp() + (c.clone().abs() + V::constant(1.0)).ln()) / s1.clone();
        let out1 = a.max(b).min(V::constant(2.0)) - (-c).abs();
        [out0, m, out1 + out2]
    }
}

/// The same formula as an interpreted program (no native loop).
fn interpreted() -> FusedMap {
    let outs = Sample.eval(std::array::from_fn(Expr::input), &std::array::from_fn(Expr::scalar));
    FusedMap::new("sample", 3, 2, &outs)
}

/// Three inputs of `n` elements with NaN, infinity and -0 among them.
fn inputs(rng: &mut Rng, n: usize, dtype: DType) -> Vec<Tensor> {
    (0..3)
        .map(|k| {
            let mut v = rng.vec(n, -3.0, 3.0);
            if n > 10 {
                v[k + 1] = f64::NAN;
                v[k + 5] = if k == 1 { f64::INFINITY } else { -0.0 };
            }
            Tensor::from_vec(v, &[n]).to_dtype(dtype)
        })
        .collect()
}

/// Bit patterns (as f64, which holds every f32 exactly; NaN compared as NaN).
fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec::<f64>().iter().map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() }).collect()
}

fn same(what: &str, got: &[Tensor], want: &[Tensor]) {
    assert_eq!(got.len(), want.len(), "{what}: outputs");
    for (o, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!((g.shape(), g.dtype(), g.device()), (w.shape(), w.dtype(), w.device()), "{what}: output {o}");
        assert_eq!(bits(g), bits(w), "{what}: output {o}");
    }
}

#[test]
fn the_native_loop_equals_the_interpreted_program_bit_for_bit() {
    let (native, plain) = (FusedMap::from_formula("sample", Sample), interpreted());
    assert!(native.is_native() && !plain.is_native());
    assert_eq!(native.structure(), plain.structure());
    let mut rng = Rng::new(3);
    for dtype in [DType::F32, DType::F64] {
        // serial with a tail, parallel (above 64K elements) with a tail
        for n in [1, 7, 8, 13, 1031, 70_001] {
            let ins = inputs(&mut rng, n, dtype);
            let refs: Vec<&Tensor> = ins.iter().collect();
            same(&format!("{dtype} n={n}"), &native.run(&refs, &[0.3, 1.5]), &plain.run(&refs, &[0.3, 1.5]));
        }
    }
}

/// Tuples of odd sizes: a strided input, one tensor in two roles, and owned unique state.
fn tuples(rng: &mut Rng, dtype: DType) -> Vec<Vec<Tensor>> {
    let mut out = Vec::new();
    for (k, n) in [1usize, 13, 1000, 70_001, 37].into_iter().enumerate() {
        let mut t = inputs(rng, n, dtype);
        if k == 2 {
            t[0] = Tensor::from_vec(rng.vec(n, -1.0, 1.0), &[40, 25]).to_dtype(dtype).t().contiguous().t();
            t[1] = t[1].reshape(&[25, 40]).t();
            t[2] = t[2].reshape(&[40, 25]);
        }
        if k == 4 {
            t[1] = t[0].clone();
        }
        out.push(t);
    }
    out
}

#[test]
fn foreach_on_the_cpu_equals_one_run_per_tuple() {
    let mut rng = Rng::new(5);
    for map in [FusedMap::from_formula("sample", Sample), interpreted()] {
        for dtype in [DType::F32, DType::F64] {
            let ts = tuples(&mut rng, dtype);
            let want: Vec<Vec<Tensor>> =
                ts.iter().map(|t| map.run(&t.iter().collect::<Vec<_>>(), &[0.7, 0.9])).collect();
            // inputs kept by the caller are shared: the run must not write over them
            let kept: Vec<Vec<Vec<u64>>> = ts.iter().map(|t| t.iter().map(bits).collect()).collect();
            let got = map.run_foreach(ts.clone(), &[0.7, 0.9]);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                same(&format!("native={} {dtype} tuple {i}", map.is_native()), g, w);
            }
            assert_eq!(ts.iter().map(|t| t.iter().map(bits).collect()).collect::<Vec<Vec<_>>>(), kept);
            // owned inputs (the only handles) lend their storage: results are the same
            let fresh: Vec<Vec<Tensor>> = ts.iter().map(|t| t.iter().map(|x| x.contiguous() * 1.0).collect()).collect();
            for (i, (g, w)) in map.run_foreach(fresh, &[0.7, 0.9]).iter().zip(&want).enumerate() {
                same(&format!("owned {dtype} tuple {i}"), g, w);
            }
        }
    }
    assert!(FusedMap::from_formula("sample", Sample).run_foreach(Vec::new(), &[0.1, 0.2]).is_empty());
}

#[test]
fn foreach_errors_name_the_map_and_the_tuple_values() {
    let map = FusedMap::from_formula("sample", Sample);
    let x = |d: DType| Tensor::from_vec(vec![1.0f64; 3], &[3]).to_dtype(d);
    let e = map.try_run_foreach(vec![vec![x(DType::F32); 3], vec![x(DType::F64); 3]], &[0.1, 0.2]).unwrap_err();
    assert!(e.to_string().contains("sample") && e.to_string().contains("F64"), "{e}");
    let e = map.try_run_foreach(vec![vec![x(DType::F32); 3], vec![x(DType::F32); 2]], &[0.1, 0.2]).unwrap_err();
    assert!(e.to_string().contains("sample") && e.to_string().contains("expects 3 input tensors, got 2"), "{e}");
}

#[test]
fn foreach_on_the_gpu_equals_one_run_per_tuple_and_the_cpu() {
    let Some(dev) = gpu_util::gpu() else { return };
    let mut rng = Rng::new(9);
    let map = FusedMap::from_formula("sample", Sample);
    for dtype in [DType::F32, DType::F64] {
        if dtype == DType::F64 && !gpu_util::has_f64(dev) {
            println!("skipping F64: the adapter has no f64 shaders");
            continue;
        }
        let ts: Vec<Vec<Tensor>> =
            tuples(&mut rng, dtype).iter().map(|t| t.iter().map(|x| x.to(&dev)).collect()).collect();
        let want: Vec<Vec<Tensor>> = ts.iter().map(|t| map.run(&t.iter().collect::<Vec<_>>(), &[0.7, 0.9])).collect();
        let before = gpu_util::fallback_total();
        let got = map.run_foreach(ts.clone(), &[0.7, 0.9]);
        assert_eq!(gpu_util::fallback_total(), before, "the foreach map must run natively");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            same(&format!("gpu {dtype} tuple {i}"), g, w);
        }
        // the outputs lie back to back in one buffer per output: a second run reads them in place
        let again: Vec<Vec<Tensor>> = got.iter().map(|o| o.to_vec()).collect();
        let want2: Vec<Vec<Tensor>> =
            again.iter().map(|t| map.run(&t.iter().collect::<Vec<_>>(), &[0.2, 1.1])).collect();
        let on_cpu: Vec<Vec<Tensor>> =
            again.iter().map(|t| t.iter().map(|x| x.to(&ember_tensor::Device::Cpu)).collect()).collect();
        for (i, (g, w)) in map.run_foreach(again, &[0.2, 1.1]).iter().zip(&want2).enumerate() {
            same(&format!("gpu {dtype} second run, tuple {i}"), g, w);
            // and within a few ulp of the CPU's native loop (GPU exp/ln are not correctly rounded)
            let cpu = map.run(&on_cpu[i].iter().collect::<Vec<_>>(), &[0.2, 1.1]);
            for (o, (a, b)) in g.iter().zip(&cpu).enumerate() {
                let (a, b) = (a.to_vec::<f64>(), b.to_vec::<f64>());
                for (x, y) in a.iter().zip(&b) {
                    let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-5 * (1.0 + y.abs());
                    assert!(ok, "gpu {dtype} tuple {i} output {o}: {x} vs {y}");
                }
            }
        }
    }
}
