//! `FusedMap`, the generic fused elementwise kernel: CPU (serial, parallel, strided, buffers reused
//! in place) and GPU results against the plain `f64` reference evaluation of the same expression,
//! several outputs, and clear errors for bad inputs.

mod gpu_util;

use ember_tensor::{DType, Device, Expr, FusedMap, Tensor};
use gpu_util::Rng;

/// Three outputs using every function: Adam-like arithmetic, extrema, exp/ln/abs/neg, constants.
fn sample_map() -> FusedMap {
    let (a, b, c) = (Expr::input(0), Expr::input(1), Expr::input(2));
    let (s0, s1) = (Expr::scalar(0), Expr::scalar(1));
    let m = &a + &((&b - &a) * &s0);
    let out0 = &c - &(&m / &((&b * &b).sqrt() + 1e-3) * &s1);
    let out1 = a.max(&b).min(2.0) - (-&c).abs();
    let out2 = ((&a * 0.25).exp() + (&c.abs() + 1.0).ln()) / &s1;
    FusedMap::new("sample", 3, 2, &[out0, m, out1, out2])
}

/// Inputs with some NaNs and infinities where `special` is set.
fn inputs(rng: &mut Rng, shape: &[usize], dtype: DType, special: bool) -> Vec<Tensor> {
    let n: usize = shape.iter().product();
    (0..3)
        .map(|k| {
            let mut v = rng.vec(n, -3.0, 3.0);
            if special && n > 10 {
                v[k + 1] = f64::NAN;
                v[k + 5] = if k == 1 { f64::INFINITY } else { -0.0 };
            }
            Tensor::from_vec(v, shape).to_dtype(dtype)
        })
        .collect()
}

/// The reference: the map evaluated element by element in f64 on the inputs' values.
fn reference(map: &FusedMap, ins: &[Tensor], scalars: &[f64]) -> Vec<Vec<f64>> {
    let vals: Vec<Vec<f64>> = ins.iter().map(|t| t.to_vec::<f64>()).collect();
    let n = vals[0].len();
    let mut outs = vec![Vec::with_capacity(n); map.num_outputs()];
    for i in 0..n {
        let x: Vec<f64> = vals.iter().map(|v| v[i]).collect();
        for (o, r) in outs.iter_mut().zip(map.eval_scalar(&x, scalars)) {
            o.push(r);
        }
    }
    outs
}

/// `got` within `tol` (relative) of `want`; NaN where `want` is NaN, equal infinities.
fn check(what: &str, got: &Tensor, want: &[f64], tol: f64) {
    let got = got.to_vec::<f64>();
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol * (1.0 + w.abs())
        };
        assert!(ok, "{what}: element {i}: got {g}, reference {w} (tol {tol})");
    }
}

fn tol(dtype: DType) -> f64 {
    if dtype == DType::F32 {
        2e-6
    } else {
        1e-14
    }
}

#[test]
fn cpu_matches_the_reference_serial_parallel_and_strided() {
    let map = sample_map();
    let mut rng = Rng::new(1);
    for dtype in [DType::F32, DType::F64] {
        // below and above the parallel threshold (64K), not a multiple of the block size
        for shape in [vec![0], vec![1], vec![5, 7], vec![3, 70_001]] {
            let ins = inputs(&mut rng, &shape, dtype, true);
            let sc = [0.1, 0.75];
            let want = reference(&map, &ins, &sc);
            let got = map.run(&ins.iter().collect::<Vec<_>>(), &sc);
            assert_eq!(got.len(), 4);
            for (o, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!((g.shape(), g.dtype(), g.device()), (&shape[..], dtype, Device::Cpu));
                check(&format!("{dtype} {shape:?} output {o}"), g, w, tol(dtype));
            }
            // transposed (strided) operands give the values of their contiguous copies
            if shape.len() == 2 {
                let t: Vec<Tensor> = ins.iter().map(|x| x.t()).collect();
                let want = reference(&map, &t.iter().map(|x| x.contiguous()).collect::<Vec<_>>(), &sc);
                for (o, (g, w)) in map.run(&t.iter().collect::<Vec<_>>(), &sc).iter().zip(&want).enumerate() {
                    check(&format!("{dtype} {shape:?} transposed output {o}"), g, w, tol(dtype));
                }
            }
        }
    }
}

#[test]
fn owned_unique_inputs_lend_their_storage_and_shared_ones_stay_untouched() {
    let (x, y) = (Expr::input(0), Expr::input(1));
    let map = FusedMap::new("axpy", 2, 1, &[&x * &Expr::scalar(0) + &y, &x - &y]);
    for n in [10usize, 200_000] {
        let a = Tensor::from_vec((0..n).map(|i| i as f64).collect::<Vec<_>>(), &[n]);
        let b = Tensor::from_vec((0..n).map(|i| 1.0 - i as f64).collect::<Vec<_>>(), &[n]);
        let want0: Vec<f64> = (0..n).map(|i| i as f64 * 2.0 + (1.0 - i as f64)).collect();
        let want1: Vec<f64> = (0..n).map(|i| i as f64 - (1.0 - i as f64)).collect();
        // shared: both inputs are held by the test too, and must keep their values
        let kept = (a.clone(), b.clone());
        let out = map.run_owned(vec![a.clone(), b.clone()], &[2.0]);
        assert_eq!((out[0].to_vec::<f64>(), out[1].to_vec::<f64>()), (want0.clone(), want1.clone()));
        assert_eq!(kept.0.to_vec::<f64>(), (0..n).map(|i| i as f64).collect::<Vec<_>>());
        assert_eq!(kept.1.to_vec::<f64>(), (0..n).map(|i| 1.0 - i as f64).collect::<Vec<_>>());
        // unique: the outputs are written over the inputs' buffers, read before written
        let out = map.run_owned(vec![a.contiguous() * 1.0, b.contiguous() * 1.0], &[2.0]);
        assert_eq!((out[0].to_vec::<f64>(), out[1].to_vec::<f64>()), (want0, want1));
    }
    // an output that is an input as it is, beside a reused buffer
    let id = FusedMap::new("swap", 2, 0, &[Expr::input(1), Expr::input(0) * 2.0]);
    let out =
        id.run_owned(vec![Tensor::from_vec(vec![1.0f32, 2.0], &[2]), Tensor::from_vec(vec![5.0f32, 6.0], &[2])], &[]);
    assert_eq!((out[0].to_vec::<f32>(), out[1].to_vec::<f32>()), (vec![5.0, 6.0], vec![2.0, 4.0]));
}

#[test]
fn constant_outputs_and_scalar_only_subexpressions() {
    let s = Expr::scalar(0);
    let map = FusedMap::new("consts", 1, 1, &[(&s * 2.0).sqrt() + Expr::input(0), Expr::constant(4.5), &s - 1.0]);
    let x = Tensor::from_vec(vec![1.0f32, -1.0, 0.5], &[3]);
    let out = map.run(&[&x], &[8.0]);
    assert_eq!(out[0].to_vec::<f32>(), vec![5.0, 3.0, 4.5]);
    assert_eq!(out[1].to_vec::<f32>(), vec![4.5; 3]);
    assert_eq!(out[2].to_vec::<f32>(), vec![7.0; 3]);
    // maps differing only in constants share one structure (one GPU kernel)
    let a = FusedMap::new("a", 1, 0, &[Expr::input(0) * 2.0]);
    let b = FusedMap::new("b", 1, 0, &[Expr::input(0) * 3.0]);
    assert_eq!(a.structure(), b.structure());
    assert_ne!(a.structure(), FusedMap::new("c", 1, 0, &[Expr::input(0) + 3.0]).structure());
}

#[test]
fn bad_inputs_give_errors_naming_the_map_and_the_values() {
    let map = FusedMap::new("my_update", 2, 1, &[Expr::input(0) * Expr::scalar(0) + Expr::input(1)]);
    let x = Tensor::from_vec(vec![1.0f32; 3], &[3]);
    let err = |r: ember_tensor::Result<Vec<Tensor>>| r.unwrap_err().to_string();
    let e = err(map.try_run(&[&x, &Tensor::from_vec(vec![1.0f32; 4], &[4])], &[1.0]));
    assert!(e.contains("my_update") && e.contains("[3]") && e.contains("[4]"), "{e}");
    let e = err(map.try_run(&[&x, &x.to_dtype(DType::F64)], &[1.0]));
    assert!(e.contains("my_update") && e.contains("F32") && e.contains("F64"), "{e}");
    let e = err(map.try_run(&[&x], &[1.0]));
    assert!(e.contains("my_update") && e.contains("expects 2 input tensors, got 1"), "{e}");
    let e = err(map.try_run(&[&x, &x], &[]));
    assert!(e.contains("my_update") && e.contains("expects 1 scalars, got 0"), "{e}");
    let i = Tensor::from_vec(vec![1i64; 3], &[3]);
    let e = err(map.try_run(&[&i, &i], &[1.0]));
    assert!(e.contains("my_update") && e.contains("I64"), "{e}");
    // the plain form panics with the same message
    let p = std::panic::catch_unwind(|| map.run(&[&x], &[1.0])).unwrap_err();
    assert!(p.downcast_ref::<String>().is_some_and(|m| m.contains("expects 2 input tensors")));
    // building: indices past the declared counts, no input, no output
    let e = FusedMap::try_new("m", 1, 0, &[Expr::input(1)]).unwrap_err().to_string();
    assert!(e.contains("m: an expression uses input 1 but the map has 1 inputs"), "{e}");
    let e = FusedMap::try_new("m", 1, 1, &[Expr::scalar(3)]).unwrap_err().to_string();
    assert!(e.contains("uses scalar 3 but the map has 1 scalars"), "{e}");
    assert!(FusedMap::try_new("m", 0, 0, &[Expr::constant(1.0)])
        .unwrap_err()
        .to_string()
        .contains("at least one input"));
    assert!(FusedMap::try_new("m", 1, 0, &[]).unwrap_err().to_string().contains("at least one output"));
}

#[test]
fn gpu_matches_cpu_and_the_reference() {
    let Some(dev) = gpu_util::gpu() else { return };
    let map = sample_map();
    let mut rng = Rng::new(7);
    let f64_ok = gpu_util::has_f64(dev);
    for dtype in [DType::F32, DType::F64] {
        if dtype == DType::F64 && !f64_ok {
            println!("skipping F64: the adapter has no f64 shaders");
            continue;
        }
        for shape in [vec![0], vec![1], vec![37, 11], vec![300, 301]] {
            let ins = inputs(&mut rng, &shape, dtype, true);
            // two learning rates through one compiled kernel
            for sc in [[0.1, 0.75], [0.3, 1.5]] {
                let want = reference(&map, &ins, &sc);
                let cpu = map.run(&ins.iter().collect::<Vec<_>>(), &sc);
                let on_gpu: Vec<Tensor> = ins.iter().map(|t| t.to(&dev)).collect();
                let before = gpu_util::fallback_total();
                let got = map.run(&on_gpu.iter().collect::<Vec<_>>(), &sc);
                assert_eq!(gpu_util::fallback_total(), before, "the fused map must run natively");
                for (o, ((g, c), w)) in got.iter().zip(&cpu).zip(&want).enumerate() {
                    let what = format!("gpu {dtype} {shape:?} {sc:?} output {o}");
                    assert_eq!((g.shape(), g.dtype(), g.device()), (&shape[..], dtype, dev), "{what}");
                    // GPU exp/ln are within a few ulp, not correctly rounded
                    check(&what, g, w, tol(dtype) * 4.0);
                    check(&format!("{what} vs cpu"), g, &c.to_vec::<f64>(), tol(dtype) * 4.0);
                }
            }
            // strided operands on the GPU, too
            if shape.len() == 2 {
                let t: Vec<Tensor> = ins.iter().map(|x| x.to(&dev).t()).collect();
                let want = reference(&map, &ins.iter().map(|x| x.t().contiguous()).collect::<Vec<_>>(), &[0.1, 0.75]);
                for (o, (g, w)) in map.run(&t.iter().collect::<Vec<_>>(), &[0.1, 0.75]).iter().zip(&want).enumerate() {
                    check(&format!("gpu {dtype} transposed output {o}"), g, w, tol(dtype) * 4.0);
                }
            }
        }
    }
    // a device mismatch is an error naming both devices
    let x = Tensor::from_vec(vec![1.0f32; 3], &[3]);
    let e = sample_map().try_run(&[&x, &x.to(&dev), &x], &[0.1, 0.2]).unwrap_err().to_string();
    assert!(e.contains("sample") && e.contains("cpu") && e.contains("gpu"), "{e}");
}
