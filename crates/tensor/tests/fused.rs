//! The fused relu gradient equals its composite of tensor ops, on every path (small, parallel, strided, GPU), and
//! rejects mismatched operands. (The optimizer updates are `FusedMap`s in ember-optim: tests/fused_map.rs and
//! crates/optim/tests/fused.rs.)

use ember_tensor::{DType, Device, Tensor};

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
