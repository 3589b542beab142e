//! GradScaler against PyTorch's `torch.amp.GradScaler("cpu")` (fixture by
//! scripts/fixtures/grad_scaler.py): the scale after every update, which steps were skipped
//! (inf/NaN gradients) and the weights, with custom factors and with PyTorch's defaults.

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_optim::{GradScaler, Sgd};
use ember_tensor::{io, DType, Tensor};

fn fixtures() -> HashMap<String, Tensor> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grad_scaler.safetensors");
    io::load(p).unwrap().into_iter().collect()
}

fn replay(f: &HashMap<String, Tensor>, name: &str, mut scaler: GradScaler) {
    let coefs = &f[&format!("{name}.coefs")];
    let scales = f[&format!("{name}.scales")].to_vec::<f64>();
    let stepped = f[&format!("{name}.stepped")].to_vec::<bool>();
    let ws = &f[&format!("{name}.w")];
    let w = Variable::new(Tensor::from_vec(vec![1.0f32, -2.0], &[2]), true);
    let mut opt = Sgd::new(vec![w.clone()], 0.01);
    for i in 0..scales.len() {
        opt.zero_grad();
        let c = Variable::new(coefs.select(0, i as i64), false);
        scaler.scale(&(&w * &c).sum()).backward();
        let ran = scaler.step(&mut opt);
        scaler.update();
        assert_eq!(ran, stepped[i], "{name} step {i}: stepped");
        assert_eq!(scaler.get_scale(), scales[i], "{name} step {i}: scale");
        assert_eq!(w.data().to_vec::<f32>(), ws.select(0, i as i64).to_vec::<f32>(), "{name} step {i}: weights");
    }
}

#[test]
fn scales_and_skips_match_pytorch() {
    let f = fixtures();
    replay(
        &f,
        "short",
        GradScaler::new().init_scale(1024.0).growth_factor(4.0).backoff_factor(0.25).growth_interval(3),
    );
    let s = GradScaler::new();
    let st = s.state_dict();
    assert_eq!((st.scale, st.growth_factor, st.backoff_factor, st.growth_interval), (65536.0, 2.0, 0.5, 2000));
    replay(&f, "default", s);
}

#[test]
fn unscale_before_clipping_and_misuse_errors() {
    let w = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2]), true);
    let mut opt = Sgd::new(vec![w.clone()], 0.1);
    let mut scaler = GradScaler::new().init_scale(8.0);
    scaler.scale(&w.mul_scalar(3.0).sum()).backward();
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![24.0, 24.0]);
    scaler.unscale_(&mut opt);
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![3.0, 3.0]);
    let e = scaler.try_unscale_(&mut opt).unwrap_err().to_string();
    assert!(e.contains("unscale_() has already been called"), "{e}");
    assert!(scaler.step(&mut opt)); // no second unscale: w = w - 0.1 * 3
    assert_eq!(w.data().to_vec::<f32>(), vec![0.7, 1.7]);
    assert!(scaler.try_step(&mut opt).unwrap_err().to_string().contains("step() has already been called"));
    scaler.update();
    assert!(scaler.try_update().unwrap_err().to_string().contains("No inf checks were recorded"));
    // Disabled: identity scale, plain steps.
    let mut off = GradScaler::new().enabled(false);
    assert_eq!(off.get_scale(), 1.0);
    off.scale(&w.sum()).backward();
    assert!(off.step(&mut opt));
    off.update();
}

#[test]
fn half_gradients_keep_their_dtype() {
    let w = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).to_dtype(DType::BF16), true);
    let mut opt = Sgd::new(vec![w.clone()], 0.5);
    let mut scaler = GradScaler::new();
    scaler.scale(&w.mul_scalar(0.25).sum()).backward();
    scaler.unscale_(&mut opt);
    let g = w.grad().unwrap();
    assert_eq!(g.dtype(), DType::BF16);
    assert_eq!(g.to_dtype(DType::F32).to_vec::<f32>(), vec![0.25, 0.25]);
    assert!(scaler.step(&mut opt));
    scaler.update();
    assert_eq!(w.data().dtype(), DType::BF16);
    assert_eq!(w.data().to_dtype(DType::F32).to_vec::<f32>(), vec![0.875, 1.875]);
}
