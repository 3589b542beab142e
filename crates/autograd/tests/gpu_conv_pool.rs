//! Convolution and max-pool gradients on the GPU against the CPU: the weight and bias gradients of
//! a convolution from one product, the max pool's backward as one gather, and both differentiated
//! a second time (a gradient penalty through them).

use ember_autograd::{grad, Conv2dOpts, Variable};
use ember_tensor::{Device, Tensor};
use ember_testutil::assert_allclose;

fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) => {
            assert!(std::env::var("EMBER_REQUIRE_GPU").map_or(true, |v| v != "1"), "no GPU: {e}");
            println!("skipping GPU test: {e}");
            None
        }
    }
}

fn data(shape: &[usize], k: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| ((i as u64 * 7919 + k * 104_729) % 1000) as f32 / 500.0 - 1.0).collect();
    Tensor::from_vec(v, shape)
}

/// conv (bias) -> relu -> max pool (overlapping, padded) -> grouped, strided, dilated conv (bias)
/// -> sum of squares; with `penalty`, the loss is the squared norm of d loss / d x instead (a
/// second derivative through every rule). Returns the gradients of x and the four parameters.
fn grads(dev: &Device, penalty: bool) -> Vec<Vec<f64>> {
    let t = [data(&[3, 2, 11, 9], 1), data(&[6, 2, 3, 3], 2), data(&[6], 3), data(&[4, 3, 3, 2], 4), data(&[4], 5)]
        .map(|d| Variable::new(d.to(dev), true));
    let [x, w1, b1, w2, b2] = &t;
    let o1 = Conv2dOpts { padding: [1, 1], ..Default::default() };
    let o2 = Conv2dOpts { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 };
    let h = x.conv2d(w1, Some(b1), o1).relu().max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], true);
    let y = h.conv2d(w2, Some(b2), o2);
    let loss = (&y * &y).sum();
    let loss = if penalty {
        let gx = grad(&loss, &[x], true).remove(0);
        (&gx * &gx).sum()
    } else {
        loss
    };
    loss.backward();
    t.iter().map(|v| v.grad().expect("a gradient").to_vec::<f64>()).collect()
}

#[test]
fn cnn_gradients_match_the_cpu() {
    let Some(dev) = gpu() else { return };
    for penalty in [false, true] {
        let (cpu, gpu) = (grads(&Device::Cpu, penalty), grads(&dev, penalty));
        for (i, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
            let scale = c.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            assert_allclose(&format!("penalty {penalty}: gradient {i}"), g, c, 1e-4, 1e-4 * scale);
        }
    }
}
