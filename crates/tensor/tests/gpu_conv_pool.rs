//! The convolution and max-pool kernels of issue 18's cnn-step budget against the CPU: the
//! convolution forward and weight gradient as implicit GEMMs (columns read from `x`, `dy` read in
//! place, the bias gradient as one more column of the weight gradient's product), and the max
//! pool's backward as one gather over the saved indices. Odd sizes, stride, padding, dilation,
//! groups, batch 1, unbatched inputs, strided views, K split over several workgroups, F32 and F64;
//! products reading a pending relu gradient masked (no relu-backward dispatch); and the
//! dispatches each issues.

mod gpu_util;

use ember_tensor::{gpu_counters, DType, Device, Tensor};
use gpu_util::{gpu, has_f64, Rng};

/// The dispatch counters are process-wide: the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rnd(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(Rng::new(seed).vec(n, -2.0, 2.0), shape).to_dtype(dtype)
}

/// `cpu` and `gpu` agree to `tol` relative to `scale` (the size of the sums behind each element).
fn close(cpu: &Tensor, gpu: &Tensor, tol: f64, what: &str) {
    assert_eq!(cpu.shape(), gpu.shape(), "{what}: shapes");
    let (a, b) = (cpu.to_vec::<f64>(), gpu.to_vec::<f64>());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + x.abs()), "{what}: element {i}: cpu {x}, gpu {y}");
    }
}

/// The dtypes the device runs, with their tolerance per element of a long sum.
fn dtypes(dev: Device) -> Vec<(DType, f64)> {
    let mut v = vec![(DType::F32, 2e-4)];
    if has_f64(dev) {
        v.push((DType::F64, 1e-11));
    }
    v
}

/// One convolution geometry: input [n, c, h, w], o output channels, kernel [kh, kw], stride,
/// padding, dilation, groups.
#[derive(Clone, Copy, Debug)]
struct Geo {
    x: [usize; 4],
    o: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    g: usize,
}

const fn geo(x: [usize; 4], o: usize, k: [usize; 2], s: [usize; 2], p: [usize; 2], d: [usize; 2], g: usize) -> Geo {
    Geo { x, o, k, s, p, d, g }
}

/// Geometries: batch 1, odd sizes, rectangular kernels, strides, padding, dilation, groups, a
/// kernel as large as the padded input, 1x1, and long products (K split: cnn-step's first layer).
const GEOS: [Geo; 11] = [
    geo([1, 1, 5, 7], 1, [3, 3], [1, 1], [1, 1], [1, 1], 1),
    geo([3, 2, 9, 8], 5, [3, 2], [2, 1], [1, 0], [1, 1], 1),
    geo([2, 4, 11, 13], 6, [3, 3], [2, 3], [2, 1], [2, 1], 2),
    geo([1, 6, 7, 7], 9, [2, 3], [1, 2], [0, 1], [1, 2], 3),
    geo([2, 3, 5, 5], 4, [7, 5], [1, 1], [1, 0], [1, 1], 1),
    geo([5, 8, 6, 4], 8, [1, 1], [1, 1], [0, 0], [1, 1], 8),
    geo([2, 5, 17, 15], 7, [5, 3], [3, 2], [2, 1], [1, 3], 1),
    geo([1, 4, 9, 10], 2, [1, 3], [1, 1], [0, 2], [1, 1], 2),
    geo([8, 1, 28, 28], 16, [3, 3], [1, 1], [1, 1], [1, 1], 1),
    geo([6, 16, 14, 14], 32, [3, 3], [1, 1], [1, 1], [1, 1], 1),
    geo([4, 6, 30, 30], 9, [3, 3], [1, 1], [1, 1], [1, 1], 3),
];

fn conv_inputs(t: &Geo, dtype: DType, seed: u64) -> (Tensor, Tensor, Tensor) {
    let x = rnd(&t.x, seed, dtype);
    let w = rnd(&[t.o, t.x[1] / t.g, t.k[0], t.k[1]], seed + 1, dtype);
    let b = rnd(&[t.o], seed + 2, dtype);
    (x, w, b)
}

#[test]
fn implicit_gemm_convolution_matches_the_cpu() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    for (dtype, tol) in dtypes(dev) {
        for (i, t) in GEOS.iter().enumerate() {
            let (x, w, b) = conv_inputs(t, dtype, 10 * i as u64);
            let what = format!("{dtype} {t:?}");
            let (xg, wg, bg) = (x.to(&dev), w.to(&dev), b.to(&dev));
            for bias in [true, false] {
                let cpu = x.conv2d(&w, bias.then_some(&b), t.s, t.p, t.d, t.g);
                let gpu = xg.conv2d(&wg, bias.then_some(&bg), t.s, t.p, t.d, t.g);
                close(&cpu, &gpu, tol, &format!("forward {what} bias {bias}"));
            }
            // strided views: a transposed input (read through a copy) and a transposed weight
            let xt = x.transpose(2, 3).contiguous().transpose(2, 3);
            let xtg = xg.transpose(2, 3).contiguous().transpose(2, 3);
            let cpu = xt.conv2d(&w, Some(&b), t.s, t.p, t.d, t.g);
            close(&cpu, &xtg.conv2d(&wg, Some(&bg), t.s, t.p, t.d, t.g), tol, &format!("forward view {what}"));
            // unbatched input (batch 1)
            let x1 = x.select(0, 0);
            let cpu = x1.conv2d(&w, Some(&b), t.s, t.p, t.d, t.g);
            let gpu = xg.select(0, 0).conv2d(&wg, Some(&bg), t.s, t.p, t.d, t.g);
            close(&cpu, &gpu, tol, &format!("forward unbatched {what}"));
        }
    }
}

#[test]
fn weight_and_bias_gradients_match_the_cpu() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    for (dtype, tol) in dtypes(dev) {
        for (i, t) in GEOS.iter().enumerate() {
            let (x, w, _) = conv_inputs(t, dtype, 100 + 10 * i as u64);
            let y = x.conv2d(&w, None, t.s, t.p, t.d, t.g);
            let dy = rnd(y.shape(), 7 + i as u64, dtype);
            let what = format!("{dtype} {t:?}");
            let (xg, dyg) = (x.to(&dev), dy.to(&dev));
            let ws = w.shape();
            let cpu = Tensor::conv2d_backward_weight(&dy, &x, ws, t.s, t.p, t.d, t.g);
            let gpu = Tensor::conv2d_backward_weight(&dyg, &xg, ws, t.s, t.p, t.d, t.g);
            close(&cpu, &gpu, tol, &format!("weight gradient {what}"));
            let (cw, cb) = Tensor::conv2d_backward_weight_bias(&dy, &x, ws, t.s, t.p, t.d, t.g);
            let (gw, gb) = Tensor::conv2d_backward_weight_bias(&dyg, &xg, ws, t.s, t.p, t.d, t.g);
            close(&cw, &gw, tol, &format!("weight gradient (with bias) {what}"));
            close(&cb, &gb, tol, &format!("bias gradient {what}"));
            close(&cw, &cpu, 0.0, &format!("CPU weight gradients agree {what}"));
            close(&cb, &dy.sum_dims(&[0, 2, 3], false), 0.0, &format!("CPU bias gradient is the sum {what}"));
            // dy as a strided view ([N, O, L] not dense): read in place through its strides
            let dyt = dy.transpose(0, 1).contiguous().transpose(0, 1);
            let dytg = dyg.transpose(0, 1).contiguous().transpose(0, 1);
            let (gw, gb) = Tensor::conv2d_backward_weight_bias(&dytg, &xg, ws, t.s, t.p, t.d, t.g);
            let (cw, cb) = Tensor::conv2d_backward_weight_bias(&dyt, &x, ws, t.s, t.p, t.d, t.g);
            close(&cw, &gw, tol, &format!("weight gradient of a strided dy {what}"));
            close(&cb, &gb, tol, &format!("bias gradient of a strided dy {what}"));
            // the two gradients are usable on their own (views of one buffer)
            let sum = (&gw * 2.0).sum().item::<f64>() + gb.sum().item::<f64>();
            let want = (&cw * 2.0).sum().item::<f64>() + cb.sum().item::<f64>();
            assert!((sum - want).abs() <= tol * 100.0 * (1.0 + want.abs()), "{what}: {sum} vs {want}");
            // unbatched
            let (cw, cb) =
                Tensor::conv2d_backward_weight_bias(&dy.select(0, 0), &x.select(0, 0), ws, t.s, t.p, t.d, t.g);
            let (gw, gb) =
                Tensor::conv2d_backward_weight_bias(&dyg.select(0, 0), &xg.select(0, 0), ws, t.s, t.p, t.d, t.g);
            close(&cw, &gw, tol, &format!("unbatched weight gradient {what}"));
            close(&cb, &gb, tol, &format!("unbatched bias gradient {what}"));
        }
    }
    // an empty batch: zero gradients
    let x = Tensor::zeros(&[0, 2, 5, 5]).to(&dev);
    let dy = Tensor::zeros(&[0, 3, 3, 3]).to(&dev);
    let (gw, gb) = Tensor::conv2d_backward_weight_bias(&dy, &x, &[3, 2, 3, 3], [1, 1], [0, 0], [1, 1], 1);
    assert_eq!((gw.shape(), gw.to_vec::<f32>()), (&[3, 2, 3, 3][..], vec![0.0; 54]));
    assert_eq!(gb.to_vec::<f32>(), vec![0.0; 3]);
    // errors name the op
    let msg = Tensor::try_conv2d_backward_weight_bias(&dy, &x, &[3, 3, 3, 3], [1, 1], [0, 0], [1, 1], 1)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("conv2d_backward_weight_bias"), "{msg}");
}

/// Max-pool geometries: kernel, stride, padding, dilation, ceil mode.
type Pool = ([usize; 2], [usize; 2], [usize; 2], [usize; 2], bool);

const POOLS: [Pool; 7] = [
    ([2, 2], [2, 2], [0, 0], [1, 1], false),
    ([3, 3], [1, 1], [1, 1], [1, 1], false),
    ([3, 2], [2, 2], [1, 1], [1, 2], true),
    ([3, 3], [2, 2], [1, 1], [1, 1], true),
    ([2, 3], [1, 2], [1, 0], [2, 1], false),
    ([2, 2], [1, 1], [1, 1], [2, 2], true),
    ([1, 3], [1, 2], [0, 1], [1, 1], false),
];

#[test]
fn max_pool_backward_gathers_as_the_cpu_scatters() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    for (dtype, _) in dtypes(dev) {
        for (i, &(k, s, p, d, ceil)) in POOLS.iter().enumerate() {
            for shape in [vec![2, 3, 9, 11], vec![1, 1, 5, 4], vec![3, 7, 6], vec![2, 5, 32, 17]] {
                // few distinct values: ties, so the first maximum must win on both devices
                let x = Tensor::from_vec(
                    Rng::new(i as u64).vec(shape.iter().product(), 0.0, 4.0).iter().map(|v| v.floor()).collect(),
                    &shape,
                )
                .to_dtype(dtype);
                let (y, idx) = x.max_pool2d_with_indices(k, s, p, d, ceil);
                let gy = rnd(y.shape(), 50 + i as u64, dtype);
                let what = format!("{dtype} {shape:?} k{k:?} s{s:?} p{p:?} d{d:?} ceil {ceil}");
                let cpu = Tensor::max_pool2d_with_indices_backward(&gy, &idx, &shape, k, s, p, d, ceil);
                // the CPU's gather by windows is the scatter-add by indices, to the bit
                close(&cpu, &Tensor::max_pool2d_backward(&gy, &idx, &shape), 0.0, &format!("CPU {what}"));
                let (gx, gyg, idg) = (x.to(&dev), gy.to(&dev), idx.to(&dev));
                let (yg, ig) = gx.max_pool2d_with_indices(k, s, p, d, ceil);
                close(&y, &yg, 0.0, &format!("values {what}"));
                assert_eq!(idx.to_vec::<i64>(), ig.to_vec::<i64>(), "indices {what}");
                let gpu = Tensor::max_pool2d_with_indices_backward(&gyg, &idg, &shape, k, s, p, d, ceil);
                close(&cpu, &gpu, 0.0, &format!("backward {what}"));
                // strided gradient and indices
                let (gs, is) = (
                    gyg.transpose(-1, -2).contiguous().transpose(-1, -2),
                    ig.transpose(-1, -2).contiguous().transpose(-1, -2),
                );
                let gpu = Tensor::max_pool2d_with_indices_backward(&gs, &is, &shape, k, s, p, d, ceil);
                close(&cpu, &gpu, 0.0, &format!("backward of views {what}"));
            }
        }
    }
}

#[test]
fn max_pool_backward_drops_the_indices_of_windows_in_the_padding() {
    let _serial = serial();
    // PyTorch gives a window lying wholly in the padding -inf and an out-of-plane index.
    let x = Tensor::from_vec(vec![0.5f32, -1.0, 2.0], &[1, 1, 1, 3]);
    let (k, s, p, d) = ([2, 2], [1, 1], [1, 1], [2, 2]);
    let (y, idx) = x.max_pool2d_with_indices(k, s, p, d, false);
    let g = y.ones_like();
    let cpu = Tensor::max_pool2d_with_indices_backward(&g, &idx, x.shape(), k, s, p, d, false);
    let want: Vec<f32> = {
        let mut v = vec![0.0f32; 3];
        for &i in &idx.to_vec::<i64>() {
            if (0..3).contains(&i) {
                v[i as usize] += 1.0;
            }
        }
        v
    };
    assert_eq!(cpu.to_vec::<f32>(), want);
    if let Some(dev) = gpu() {
        let gpu = Tensor::max_pool2d_with_indices_backward(&g.to(&dev), &idx.to(&dev), x.shape(), k, s, p, d, false);
        assert_eq!(gpu.to_vec::<f32>(), want);
    }
    // errors name the op and the shapes
    let msg = Tensor::try_max_pool2d_with_indices_backward(&g, &idx, &[1, 1, 2, 3], k, s, p, d, false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("max_pool2d_with_indices_backward"), "{msg}");
    let msg =
        Tensor::try_max_pool2d_with_indices_backward(&g, &g, x.shape(), k, s, p, d, false).unwrap_err().to_string();
    assert!(msg.contains("max_pool2d_with_indices_backward") && msg.contains("I64"), "{msg}");
}

#[test]
fn cnn_kernels_are_one_dispatch_each() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    let count = |f: &dyn Fn() -> Vec<Tensor>| {
        let before = gpu_counters();
        let outs = f();
        let n = (gpu_counters() - before).dispatches;
        drop(outs);
        n
    };
    let x = rnd(&[4, 3, 12, 12], 1, DType::F32).to(&dev);
    let w = rnd(&[8, 3, 3, 3], 2, DType::F32).to(&dev);
    let b = rnd(&[8], 3, DType::F32).to(&dev);
    let _ = x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1).to_vec::<f32>(); // warm-up
    assert_eq!(count(&|| vec![x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1)]), 1, "conv2d with its bias");
    let dy = rnd(&[4, 8, 12, 12], 4, DType::F32).to(&dev);
    let ws = w.shape().to_vec();
    // K = 4 * 144 = 576 is not split: one product gives both gradients
    let n = count(&|| {
        let (gw, gb) = Tensor::conv2d_backward_weight_bias(&dy, &x, &ws, [1, 1], [1, 1], [1, 1], 1);
        vec![gw, gb]
    });
    assert_eq!(n, 1, "weight and bias gradient");
    // a long K is split over workgroups: the product and the sum of its partials
    let x2 = rnd(&[16, 3, 28, 28], 5, DType::F32).to(&dev);
    let dy2 = rnd(&[16, 8, 28, 28], 6, DType::F32).to(&dev);
    let n = count(&|| {
        let (gw, gb) = Tensor::conv2d_backward_weight_bias(&dy2, &x2, &ws, [1, 1], [1, 1], [1, 1], 1);
        vec![gw, gb]
    });
    assert_eq!(n, 2, "weight and bias gradient with K split");
    let (y, i) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false);
    let g = y.ones_like().contiguous();
    let _ = g.to_vec::<f32>();
    let n = count(&|| {
        vec![Tensor::max_pool2d_with_indices_backward(&g, &i, x.shape(), [2, 2], [2, 2], [0, 0], [1, 1], false)]
    });
    assert_eq!(n, 1, "max-pool backward");
}

#[test]
fn products_read_pending_relu_gradients_masked() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    let (g, out) = (rnd(&[37, 29], 1, DType::F32), rnd(&[37, 29], 2, DType::F32).clamp_min(0.0));
    let (w, v) = (rnd(&[29, 13], 3, DType::F32), rnd(&[11, 37], 4, DType::F32));
    let r = Tensor::relu_backward(&g, &out);
    let (gg, og, wg, vg) = (g.to(&dev), out.to(&dev), w.to(&dev), v.to(&dev));
    let _ = (gg.to_vec::<f32>(), og.to_vec::<f32>(), wg.to_vec::<f32>(), vg.to_vec::<f32>());
    // a pending relu gradient as A, as B, and as a transposed A: three products, no relu dispatch
    let rg = Tensor::relu_backward(&gg, &og);
    let before = gpu_counters();
    let (a, b, t) = (rg.matmul(&wg), vg.matmul(&rg), rg.t().matmul(&vg.t()));
    assert_eq!((gpu_counters() - before).dispatches, 3, "the relu gradient is read by the products");
    close(&r.matmul(&w), &a, 1e-5, "relu gradient as A");
    close(&v.matmul(&r), &b, 1e-5, "relu gradient as B");
    close(&r.t().matmul(&v.t()), &t, 1e-5, "transposed relu gradient as A");
    // computed on its own later, it is the CPU's
    close(&r, &rg, 0.0, "the relu gradient itself");
}
