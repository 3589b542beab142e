//! The kernels added to cut dispatches (issue 18) against the CPU: the fused cross-entropy forward
//! and backward (odd sizes, class weights, `ignore_index`, label smoothing, mean and sum, F32 and
//! F64), Linear with its bias in the matmul epilogue (small and split-K products), the convolution
//! with its bias per output channel, and the dispatch counts of each.

mod gpu_util;

use ember_tensor::{gpu_counters, CrossEntropyOpts, DType, Device, Tensor};
use gpu_util::{gpu, has_f64, Rng};

/// The dispatch counters are process-wide: the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rnd(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(Rng::new(seed).vec(n, -3.0, 3.0), shape).to_dtype(dtype)
}

fn close(cpu: &Tensor, gpu: &Tensor, tol: f64, what: &str) {
    assert_eq!(cpu.shape(), gpu.shape(), "{what}: shapes");
    let (a, b) = (cpu.to_vec::<f64>(), gpu.to_vec::<f64>());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let ok = (x - y).abs() <= tol * (1.0 + x.abs()) || (x.is_nan() && y.is_nan());
        assert!(ok, "{what}: element {i}: cpu {x}, gpu {y}");
    }
}

/// The dtypes the device runs.
fn dtypes(dev: Device) -> Vec<(DType, f64)> {
    let mut v = vec![(DType::F32, 2e-5)];
    if has_f64(dev) {
        v.push((DType::F64, 1e-12));
    }
    v
}

#[test]
fn fused_cross_entropy_matches_the_cpu() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    for (dtype, tol) in dtypes(dev) {
        for (n, c) in [(1, 1), (7, 3), (37, 13), (300, 10), (5, 1000)] {
            let x = rnd(&[n, c], (n * c) as u64, dtype);
            let mut t: Vec<i64> = (0..n).map(|i| ((i * 5 + 1) % c) as i64).collect();
            if n > 2 {
                t[1] = 7777; // ignored below, via ignore_index
            }
            let t = Tensor::from_vec(t, &[n]);
            let w = rnd(&[c], 99, dtype).abs() + 0.1;
            let g = Tensor::full(&[], 0.75).to_dtype(dtype);
            for (weight, eps, mean) in
                [(None, 0.0, true), (Some(&w), 0.0, true), (Some(&w), 0.25, false), (None, 0.1, true)]
            {
                let o = CrossEntropyOpts { ignore_index: 7777, label_smoothing: eps, mean };
                let what = format!("{dtype} [{n}, {c}] weight {} eps {eps} mean {mean}", weight.is_some());
                let (lc, sc) = x.cross_entropy_fused(&t, weight, o);
                let wg = weight.map(|w| w.to(&dev));
                let (xg, tg) = (x.to(&dev), t.to(&dev));
                let (lg, sg) = xg.cross_entropy_fused(&tg, wg.as_ref(), o);
                close(&lc, &lg, tol, &format!("{what}: loss"));
                close(&sc, &sg, tol, &format!("{what}: stats"));
                let dc = x.cross_entropy_fused_backward(&t, weight, &sc, &g, o);
                let dg = xg.cross_entropy_fused_backward(&tg, wg.as_ref(), &sg, &g.to(&dev), o);
                close(&dc, &dg, tol, &format!("{what}: gradient"));
            }
        }
    }
}

#[test]
fn fused_cross_entropy_is_one_dispatch_each_way_and_reports_bad_targets() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    let x = rnd(&[64, 10], 1, DType::F32).to(&dev);
    let t = Tensor::from_vec((0..64).map(|i| i % 10).collect::<Vec<i64>>(), &[64]).to(&dev);
    let g = Tensor::ones(&[]).to(&dev);
    let o = CrossEntropyOpts::default();
    let _ = x.cross_entropy_fused(&t, None, o); // builds the pipelines
    let before = gpu_counters();
    let (loss, stats) = x.cross_entropy_fused(&t, None, o);
    let dx = x.cross_entropy_fused_backward(&t, None, &stats, &g, o);
    let used = gpu_counters() - before;
    assert!(used.dispatches <= 2, "forward and backward took {} dispatches", used.dispatches);
    assert!(loss.item::<f32>().is_finite() && dx.shape() == [64, 10]);
    let bad = Tensor::from_vec((0..64).map(|i| if i == 40 { 10 } else { i % 10 }).collect::<Vec<i64>>(), &[64]);
    let e = x.try_cross_entropy_fused(&bad.to(&dev), None, o).unwrap_err().to_string();
    assert!(e.contains("target 10 is out of bounds for 10 classes"), "{e}");
    let neg = Tensor::from_vec(vec![-3i64; 64], &[64]);
    let e = x.try_cross_entropy_fused(&neg.to(&dev), None, o).unwrap_err().to_string();
    assert!(e.contains("target -3 is out of bounds"), "{e}");
}

#[test]
fn linear_adds_its_bias_in_the_matmul_epilogue() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    for (dtype, tol) in dtypes(dev) {
        // small products, one a K long enough to be split (the bias then goes with the split sum)
        for (rows, inf, outf) in [(1, 1, 1), (7, 5, 3), (33, 70, 65), (13, 2000, 9)] {
            let x = rnd(&[rows, inf], 3, dtype);
            let w = rnd(&[outf, inf], 4, dtype);
            let b = rnd(&[outf], 5, dtype);
            let cpu = x.linear(&w, Some(&b));
            let (xg, wg, bg) = (x.to(&dev), w.to(&dev), b.to(&dev));
            let _ = xg.linear(&wg, Some(&bg));
            let before = gpu_counters();
            let out = xg.linear(&wg, Some(&bg));
            let used = gpu_counters() - before;
            let tol = tol * (inf as f64).sqrt() * 10.0;
            close(&cpu, &out, tol, &format!("{dtype} linear [{rows}, {inf}] -> {outf}"));
            assert!(used.dispatches <= 2, "linear took {} dispatches", used.dispatches);
            // a strided bias (every other element of a longer tensor)
            let long = rnd(&[2 * outf], 6, dtype);
            let bs = long.reshape(&[outf, 2]).select(1, 1);
            close(&x.linear(&w, Some(&bs)), &xg.linear(&wg, Some(&bs.to(&dev))), tol, "strided bias");
        }
    }
}

#[test]
fn conv2d_adds_its_bias_in_the_matmul_epilogue_and_reads_dy_in_place() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    for (dtype, tol) in dtypes(dev) {
        for (n, c, o, hw, k, pad) in [(1, 1, 1, 3, 3, 1), (3, 2, 5, 7, 3, 0), (4, 3, 6, 9, 2, 1)] {
            let x = rnd(&[n, c, hw, hw + 1], 7, dtype);
            let w = rnd(&[o, c, k, k], 8, dtype);
            let b = rnd(&[o], 9, dtype);
            let cpu = x.conv2d(&w, Some(&b), [1, 1], [pad, pad], [1, 1], 1);
            let gpu = x.to(&dev).conv2d(&w.to(&dev), Some(&b.to(&dev)), [1, 1], [pad, pad], [1, 1], 1);
            close(&cpu, &gpu, tol * 100.0, &format!("{dtype} conv2d n{n} c{c} o{o}"));
            let cpu = x.conv2d(&w, None, [1, 1], [pad, pad], [1, 1], 1);
            let gpu = x.to(&dev).conv2d(&w.to(&dev), None, [1, 1], [pad, pad], [1, 1], 1);
            close(&cpu, &gpu, tol * 100.0, &format!("{dtype} conv2d n{n} c{c} o{o} without bias"));
            // the input gradient reads dy in place (columns [N, K, L]), with a stride of 2 too
            for stride in [1, 2] {
                let y = x.conv2d(&w, None, [stride, stride], [pad, pad], [1, 1], 1);
                let dy = rnd(y.shape(), 10, dtype);
                let (s2, p2) = ([stride, stride], [pad, pad]);
                let cpu = Tensor::conv2d_backward_input(&dy, &w, x.shape(), s2, p2, [1, 1], 1);
                let gpu = Tensor::conv2d_backward_input(&dy.to(&dev), &w.to(&dev), x.shape(), s2, p2, [1, 1], 1);
                close(&cpu, &gpu, tol * 100.0, &format!("{dtype} conv2d input gradient n{n} c{c} o{o} s{stride}"));
            }
        }
    }
}

#[test]
fn reductions_over_strided_dims_read_in_place() {
    let _serial = serial();
    let Some(dev) = gpu() else { return };
    for (dtype, tol) in dtypes(dev) {
        // column sums (bias gradients of Linear), odd sizes, over one pass and several
        for (r, c) in [(1, 1), (37, 19), (128, 10), (5000, 3)] {
            let x = rnd(&[r, c], 11, dtype);
            let xg = x.to(&dev);
            close(&x.sum_dim(0, false), &xg.sum_dim(0, false), tol * 10.0, &format!("{dtype} sum_dim 0 [{r}, {c}]"));
            close(&x.mean_dim(0, true), &xg.mean_dim(0, true), tol * 10.0, &format!("{dtype} mean_dim 0 [{r}, {c}]"));
            close(&x.max_dim(0, false), &xg.max_dim(0, false), 0.0, &format!("{dtype} max_dim 0 [{r}, {c}]"));
            // a transposed view: its dim 1 is the strided one
            let t = x.t();
            close(
                &t.sum_dim(1, false),
                &xg.t().sum_dim(1, false),
                tol * 10.0,
                &format!("{dtype} transposed [{r}, {c}]"),
            );
        }
        // the conv bias gradient: [N, O, H, W] over (0, 2, 3), and a sum over (0, 2) of a 3-d view
        for shape in [[2usize, 3, 5, 7], [64, 16, 28, 28]] {
            let x = rnd(&shape, 12, dtype);
            let xg = x.to(&dev);
            let what = format!("{dtype} sum_dims [0, 2, 3] of {shape:?}");
            close(&x.sum_dims(&[0, 2, 3], false), &xg.sum_dims(&[0, 2, 3], false), tol * 100.0, &what);
            let v = x.narrow(3, 1, shape[3] - 1);
            close(
                &v.sum_dims(&[0, 2], true),
                &xg.narrow(3, 1, shape[3] - 1).sum_dims(&[0, 2], true),
                tol * 100.0,
                &what,
            );
        }
    }
    let i = Tensor::from_vec((0..35i64).map(|v| v * 3 - 50).collect::<Vec<_>>(), &[7, 5]);
    assert_eq!(i.sum_dim(0, false).to_vec::<i64>(), i.to(&dev).sum_dim(0, false).to_vec::<i64>(), "I64 column sums");
    let x = rnd(&[128, 512], 13, DType::F32).to(&dev);
    let _ = x.sum_dim(0, false);
    let before = gpu_counters();
    let s = x.sum_dim(0, false);
    assert_eq!((gpu_counters() - before).dispatches, 1, "a column sum is one dispatch");
    drop(s);
}
