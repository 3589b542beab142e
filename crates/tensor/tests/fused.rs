//! The fused Adam and SGD-momentum steps equal their composites of tensor ops, on every path (small, parallel,
//! non-contiguous, GPU), and rejects mismatched operands.

use ember_tensor::{DType, Device, Tensor};

#[allow(clippy::too_many_arguments)]
fn composite(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, b1: f64, b2: f64, sc: f64, eps: f64) -> [Tensor; 3] {
    let m2 = m + &((g - m) * (1.0 - b1));
    let v2 = &(v * b2) + &(&(g * g) * (1.0 - b2));
    let p2 = p - &(&m2 / &(&v2.sqrt() + eps) * sc);
    [p2, m2, v2]
}

fn close(a: &Tensor, b: &Tensor, tol: f64) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.to_vec::<f64>().iter().zip(b.to_vec::<f64>()) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn fused_adam_matches_the_composite() {
    for (shape, dtype, tol) in
        [(vec![7], DType::F64, 1e-14), (vec![300, 400], DType::F32, 1e-6), (vec![3, 5], DType::F32, 1e-6)]
    {
        let r = |s: u64| {
            let mut g = ember_tensor::Generator::new(s);
            let n: usize = shape.iter().product();
            Tensor::from_vec((0..n).map(|_| g.uniform() * 2.0 - 1.0).collect::<Vec<f64>>(), &shape).to_dtype(dtype)
        };
        let (p, g, m) = (r(1), r(2), r(3));
        let v = r(4).abs();
        let (p2, m2, v2) = p.adam_step(&g, m.clone(), v.clone(), 0.9, 0.999, 0.01, 1e-8);
        let want = composite(&p, &g, &m, &v, 0.9, 0.999, 0.01, 1e-8);
        close(&p2, &want[0], tol);
        close(&m2, &want[1], tol);
        close(&v2, &want[2], tol);
        // shared moment buffers were left alone (the results are new tensors)
        close(&m, &r(3), 0.0);
        close(&v, &r(4).abs(), 0.0);
        // unshared ones are overwritten in place, with the same results
        let (p4, m4, v4) = p.adam_step(&g, r(3), r(4).abs(), 0.9, 0.999, 0.01, 1e-8);
        close(&p4, &want[0], tol);
        close(&m4, &want[1], tol);
        close(&v4, &want[2], tol);
        if shape.len() == 2 {
            // a transposed (non-contiguous) gradient
            let gt = g.t().contiguous().t();
            let (p3, _, _) = p.adam_step(&gt, m.clone(), v.clone(), 0.9, 0.999, 0.01, 1e-8);
            close(&p3, &want[0], tol);
        }
        if let Ok(dev) = Device::gpu() {
            let up = |t: &Tensor| t.to(&dev);
            let (pg, mg, vg) = up(&p).adam_step(&up(&g), up(&m), up(&v), 0.9, 0.999, 0.01, 1e-8);
            assert_eq!(pg.device(), dev);
            close(&pg, &want[0], 1e-5);
            close(&mg, &want[1], 1e-5);
            close(&vg, &want[2], 1e-5);
            // Views with offsets (narrowed) and a transposed gradient, read through copies.
            let nv = |t: &Tensor| up(t).narrow(0, 1, 2);
            let (pn, mn, vn) = nv(&p).adam_step(&nv(&g), nv(&m), nv(&v), 0.9, 0.999, 0.01, 1e-8);
            close(&pn, &want[0].narrow(0, 1, 2), 1e-5);
            close(&mn, &want[1].narrow(0, 1, 2), 1e-5);
            close(&vn, &want[2].narrow(0, 1, 2), 1e-5);
            if shape.len() == 2 {
                let gt = up(&g.t().contiguous()).t();
                let (pt, _, _) = up(&p).adam_step(&gt, up(&m), up(&v), 0.9, 0.999, 0.01, 1e-8);
                close(&pt, &want[0], 1e-5);
            }
        }
    }
}

#[test]
fn fused_adam_rejects_mismatched_operands() {
    let p = Tensor::zeros(&[3]);
    let e = p.try_adam_step(&Tensor::zeros(&[4]), p.clone(), p.clone(), 0.9, 0.999, 0.1, 1e-8).unwrap_err().to_string();
    assert!(e.contains("adam_step") && e.contains("[3]") && e.contains("[4]"), "{e}");
    let e =
        p.try_adam_step(&p.to_dtype(DType::F64), p.clone(), p.clone(), 0.9, 0.999, 0.1, 1e-8).unwrap_err().to_string();
    assert!(e.contains("adam_step") && e.contains("F64"), "{e}");
    let i = Tensor::zeros_dtype(&[3], DType::I64);
    let e = i.try_adam_step(&i, i.clone(), i.clone(), 0.9, 0.999, 0.1, 1e-8).unwrap_err().to_string();
    assert!(e.contains("adam_step") && e.contains("I64"), "{e}");
}

/// The SGD momentum composite of `ember-optim` before fusion.
fn sgd_composite(p: &Tensor, g: &Tensor, b: &Tensor, lr: f64, mu: f64, damp: f64, nesterov: bool) -> [Tensor; 2] {
    let b2 = &(b * mu) + &(g * (1.0 - damp));
    let d = if nesterov { g + &(&b2 * mu) } else { b2.clone() };
    [p - &(&d * lr), b2]
}

#[test]
fn fused_sgd_matches_the_composite_bit_for_bit() {
    for (shape, dtype) in [(vec![7], DType::F64), (vec![300, 400], DType::F32), (vec![3, 5], DType::F32)] {
        let r = |s: u64| {
            let mut g = ember_tensor::Generator::new(s);
            let n: usize = shape.iter().product();
            Tensor::from_vec((0..n).map(|_| g.uniform() * 2.0 - 1.0).collect::<Vec<f64>>(), &shape).to_dtype(dtype)
        };
        let (p, g, b) = (r(5), r(6), r(7));
        for (mu, damp, nesterov) in [(0.9, 0.0, false), (0.9, 0.0, true), (0.5, 0.25, false), (0.7, 0.1, true)] {
            let what = format!("{dtype} {shape:?} mu {mu} dampening {damp} nesterov {nesterov}");
            let (p2, b2) = p.sgd_momentum_step(&g, &b, 0.05, mu, damp, nesterov);
            let [wp, wb] = sgd_composite(&p, &g, &b, 0.05, mu, damp, nesterov);
            assert_eq!(p2.to_vec::<f64>(), wp.to_vec::<f64>(), "{what}: parameter");
            assert_eq!(b2.to_vec::<f64>(), wb.to_vec::<f64>(), "{what}: buffer");
            if shape.len() == 2 {
                let gt = g.t().contiguous().t();
                assert_eq!(
                    p.sgd_momentum_step(&gt, &b, 0.05, mu, damp, nesterov).0.to_vec::<f64>(),
                    wp.to_vec::<f64>()
                );
            }
            if let Ok(dev) = Device::gpu() {
                let up = |t: &Tensor| t.to(&dev);
                let (pg, bg) = up(&p).sgd_momentum_step(&up(&g), &up(&b), 0.05, mu, damp, nesterov);
                assert_eq!((pg.device(), bg.device()), (dev, dev));
                close(&pg, &wp, 1e-6);
                close(&bg, &wb, 1e-6);
                let nv = |t: &Tensor| up(t).narrow(0, 1, 2);
                let (pn, bn) = nv(&p).sgd_momentum_step(&nv(&g), &nv(&b), 0.05, mu, damp, nesterov);
                close(&pn, &wp.narrow(0, 1, 2), 1e-6);
                close(&bn, &wb.narrow(0, 1, 2), 1e-6);
            }
        }
    }
}

#[test]
fn fused_sgd_rejects_mismatched_operands() {
    let p = Tensor::zeros(&[3]);
    let e = p.try_sgd_momentum_step(&Tensor::zeros(&[4]), &p, 0.1, 0.9, 0.0, false).unwrap_err().to_string();
    assert!(e.contains("sgd_momentum_step") && e.contains("[3]") && e.contains("[4]"), "{e}");
    let e = p.try_sgd_momentum_step(&p, &p.to_dtype(DType::F64), 0.1, 0.9, 0.0, false).unwrap_err().to_string();
    assert!(e.contains("sgd_momentum_step") && e.contains("F64"), "{e}");
    let i = Tensor::zeros_dtype(&[3], DType::I64);
    let e = i.try_sgd_momentum_step(&i, &i, 0.1, 0.9, 0.0, false).unwrap_err().to_string();
    assert!(e.contains("sgd_momentum_step") && e.contains("I64"), "{e}");
}

#[test]
fn relu_backward_matches_the_masked_fill_composite() {
    // Small (serial) and large (parallel) sizes, with the special values of a relu output.
    for n in [7usize, 100_003] {
        let out: Vec<f64> = (0..n)
            .map(|i| match i % 7 {
                0 => 0.0,
                1 => -0.0,
                2 => f64::NAN,
                3 => f64::INFINITY,
                _ => (i % 13) as f64 * 0.25,
            })
            .collect();
        let grad: Vec<f64> = (0..n).map(|i| (i % 11) as f64 - 5.0).collect();
        for dtype in [DType::F32, DType::F64] {
            let (g, o) = (
                Tensor::from_vec(grad.clone(), &[n]).to_dtype(dtype),
                Tensor::from_vec(out.clone(), &[n]).to_dtype(dtype),
            );
            let want = g.masked_fill(&o.le_scalar(0.0), 0.0).to_vec::<f64>();
            assert_eq!(Tensor::relu_backward(&g, &o).to_vec::<f64>(), want, "{dtype} n={n}");
            // A transposed (non-contiguous) pair of operands.
            let (g2, o2) = (g.reshape(&[1, n]).t(), o.reshape(&[1, n]).t());
            assert_eq!(Tensor::relu_backward(&g2, &o2).to_vec::<f64>(), want, "{dtype} n={n} strided");
            if let Ok(dev) = Device::gpu() {
                let r = Tensor::relu_backward(&g.to(&dev), &o.to(&dev));
                assert_eq!(r.device(), dev);
                assert_eq!(r.to_vec::<f64>(), want, "{dtype} n={n} on the GPU");
            }
        }
    }
    let e = Tensor::try_relu_backward(&Tensor::zeros(&[3]), &Tensor::zeros(&[4])).unwrap_err().to_string();
    assert!(e.contains("relu_backward") && e.contains("[3]") && e.contains("[4]"), "{e}");
    let i = Tensor::zeros_dtype(&[3], DType::I64);
    assert!(Tensor::try_relu_backward(&i, &i).unwrap_err().to_string().contains("I64"));
}
