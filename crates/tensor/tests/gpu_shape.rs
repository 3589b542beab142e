//! Native GPU kernels of the shape and index ops against the CPU backend, exactly: `cat`/`stack`
//! (strided copies into place), `flip`, `repeat`, `one_hot`, `masked_select` (count, scan,
//! compaction), `scatter`/`scatter_value` (last writer in row-major order wins, as on the CPU)
//! and the average pools' backward. Every dtype each op supports, sizes 0, 1, 63, 65, 1000 and
//! 70000, views, negative dims and the error paths; none of these may take the host fallback.

mod gpu_util;

use ember_tensor::{host_fallbacks, DType, Device, Result, Tensor};
use gpu_util::{fallback_total, gpu, has_f64, Rng};

const SIZES: [usize; 6] = [0, 1, 63, 65, 1000, 70000];

/// A random tensor of `shape` and `dtype` (I64 values span the whole 64-bit range, so the two words
/// of each element are exercised).
fn rnd(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    match dtype {
        DType::F32 => Tensor::from_vec((0..n).map(|_| r.uniform(-3.0, 3.0) as f32).collect(), shape),
        DType::F64 => Tensor::from_vec(r.vec(n, -3.0, 3.0), shape),
        DType::I64 => Tensor::from_vec((0..n).map(|_| r.next_u64() as i64).collect(), shape),
        DType::Bool => Tensor::from_vec((0..n).map(|_| r.next_u64() & 1 == 1).collect(), shape),
        // 16-bit floats: no GPU storage yet; rounded f32 values for any future case
        DType::F16 | DType::BF16 => {
            Tensor::from_vec((0..n).map(|_| r.uniform(-3.0, 3.0) as f32).collect(), shape).to_dtype(dtype)
        }
    }
}

/// Integers in `lo..hi` (indices).
fn ints(shape: &[usize], seed: u64, lo: i64, hi: i64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    Tensor::from_vec((0..n).map(|_| r.uniform(lo as f64, hi as f64).floor() as i64).collect(), shape)
}

/// The dtypes to test: F64 only where the adapter runs f64 shaders (copies of raw words would not
/// need it, but uploads and the float ops of the tests do not care: keep one rule).
fn dtypes(dev: Device) -> Vec<DType> {
    let mut v = vec![DType::F32, DType::I64, DType::Bool];
    if has_f64(dev) {
        v.push(DType::F64);
    }
    v
}

/// Asserts a GPU result equals the CPU's exactly (dtype, shape, device, values bit for bit).
fn assert_same(what: &str, gpu: &Tensor, cpu: &Tensor, dev: Device) {
    assert_eq!(gpu.device(), dev, "{what}: device");
    assert_eq!(gpu.dtype(), cpu.dtype(), "{what}: dtype");
    assert_eq!(gpu.shape(), cpu.shape(), "{what}: shape");
    let g = gpu.to(&Device::Cpu);
    let same = match cpu.dtype() {
        DType::F32 => g.to_vec::<f32>().iter().map(|x| x.to_bits()).eq(cpu.to_vec::<f32>().iter().map(|x| x.to_bits())),
        DType::F64 => g.to_vec::<f64>().iter().map(|x| x.to_bits()).eq(cpu.to_vec::<f64>().iter().map(|x| x.to_bits())),
        DType::I64 => g.to_vec::<i64>() == cpu.to_vec::<i64>(),
        DType::Bool => g.to_vec::<bool>() == cpu.to_vec::<bool>(),
        // 16-bit values widen to f32 exactly, so the f32 bits compare the 16-bit bits
        DType::F16 | DType::BF16 => {
            let w = |t: &Tensor| t.to_dtype(DType::F32).to_vec::<f32>().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            w(&g) == w(cpu)
        }
    };
    assert!(same, "{what}: values differ");
}

/// Runs `f` on `inputs` on the CPU and on GPU copies; results must be equal, or both errors with one
/// message, and the GPU run must not take the host fallback.
fn check(dev: Device, what: &str, inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    check_with(dev, what, inputs, f, assert_same);
}

/// [`check`] for float results that may differ in the last bits: WGSL's division is only accurate
/// to 2.5 ulp (NVIDIA's Vulkan driver is not correctly rounded where lavapipe is), so sums of
/// `grad / divisor` agree to a few ulp, not bit for bit.
fn check_near(dev: Device, what: &str, inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    check_with(dev, what, inputs, f, |what, g, w, dev| {
        assert_eq!(g.device(), dev, "{what}: device");
        assert_eq!((g.dtype(), g.shape()), (w.dtype(), w.shape()), "{what}: dtype/shape");
        let rel = if w.dtype() == DType::F64 { 1e-13 } else { 1e-5 };
        let (g, w) = (g.to(&Device::Cpu).to_vec::<f64>(), w.to_vec::<f64>());
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            assert!((a - b).abs() <= rel * (1.0 + b.abs()), "{what}: element {i}: gpu {a} vs cpu {b}");
        }
    });
}

fn check_with(
    dev: Device,
    what: &str,
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    same: impl Fn(&str, &Tensor, &Tensor, Device),
) {
    let want = f(inputs);
    let on_gpu: Vec<Tensor> = inputs.iter().map(|t| t.to(&dev)).collect();
    let before = fallback_total();
    let got = f(&on_gpu);
    assert_eq!(fallback_total(), before, "{what}: took the host fallback: {:?}", host_fallbacks());
    match (want, got) {
        (Ok(w), Ok(g)) => same(what, &g, &w, dev),
        (Err(w), Err(g)) => assert_eq!(g.to_string(), w.to_string(), "{what}: error"),
        (Ok(_), Err(g)) => panic!("{what}: CPU succeeded, GPU failed: {g}"),
        (Err(w), Ok(_)) => panic!("{what}: CPU failed ({w}), GPU succeeded"),
    }
}

/// `cat`/`stack` of every dtype and size, 1-d to 3-d, views (transposed, narrowed, expanded,
/// permuted), legacy empty inputs, negative dims, and the CPU's errors.
#[test]
fn cat_and_stack() {
    let Some(dev) = gpu() else { return };
    for dt in dtypes(dev) {
        for (k, &n) in SIZES.iter().enumerate() {
            let s = k as u64 * 10;
            let ins = [rnd(&[n], dt, s), rnd(&[3], dt, s + 1), rnd(&[0], dt, s + 2), rnd(&[n, 2], dt, s + 3)];
            check(dev, &format!("cat 1-d {dt} {n}"), &ins, |t| {
                Tensor::try_cat(&[t[0].clone(), t[1].clone(), t[2].clone()], -1)
            });
            check(dev, &format!("cat legacy empty {dt} {n}"), &ins, |t| {
                Tensor::try_cat(&[t[2].clone(), t[3].clone(), t[2].clone()], 1)
            });
            // Views: a transposed and a narrowed input, cat along both dims (negative too).
            check(dev, &format!("cat views dim 0 {dt} {n}"), &ins, |t| {
                Tensor::try_cat(&[t[3].clone(), t[3].narrow(1, 1, 1).expand(&[n, 2]), t[3].clone()], 0)
            });
            check(dev, &format!("cat views dim -1 {dt} {n}"), &ins, |t| {
                let tt = t[3].t().contiguous().t();
                Tensor::try_cat_refs(&[&tt, &t[3].narrow(1, 0, 1), &t[3]], -1)
            });
            check(dev, &format!("stack {dt} {n}"), &ins, |t| {
                Tensor::try_stack(&[t[0].clone(), t[0].clone(), t[0].clone()], -1)
            });
            check(dev, &format!("stack dim 0 views {dt} {n}"), &ins, |t| {
                Tensor::try_stack_refs(&[&t[3].t(), &t[3].t().contiguous()], 0)
            });
        }
        let x = [rnd(&[4, 5, 6], dt, 7).permute(&[2, 0, 1]), rnd(&[6, 3, 5], dt, 8)];
        check(dev, &format!("cat 3-d permuted {dt}"), &x, |t| {
            Tensor::try_cat(&[t[0].clone(), t[1].clone(), t[0].clone()], 1)
        });
        check(dev, &format!("stack 3-d {dt}"), &x, |t| Tensor::try_stack(&[t[0].clone(), t[0].clone()], 2));
    }
    let x = [
        rnd(&[2, 3], DType::F32, 1),
        rnd(&[3, 2], DType::F32, 2),
        rnd(&[2, 3], DType::I64, 3),
        rnd(&[2], DType::F32, 4),
    ];
    check(dev, "cat shape error", &x, |t| Tensor::try_cat(&[t[0].clone(), t[1].clone()], 0));
    check(dev, "cat dtype error", &x, |t| Tensor::try_cat(&[t[0].clone(), t[2].clone()], 0));
    check(dev, "cat dim error", &x, |t| Tensor::try_cat(&[t[0].clone(), t[0].clone()], 2));
    check(dev, "cat 0-d error", &x, |t| Tensor::try_cat(&[t[0].clone(), t[3].select(0, 0)], 0));
    check(dev, "stack shape error", &x, |t| Tensor::try_stack(&[t[0].clone(), t[1].clone()], 0));
    check(dev, "stack dim error", &x, |t| Tensor::try_stack(&[t[0].clone(), t[0].clone()], -4));
}

/// `flip` (one, several, no dims; views; 0-d) and `repeat` (leading dims, zero repeats, 0-d).
#[test]
fn flip_and_repeat() {
    let Some(dev) = gpu() else { return };
    for dt in dtypes(dev) {
        for (k, &n) in SIZES.iter().enumerate() {
            let x = [rnd(&[n], dt, k as u64), rnd(&[3, n], dt, k as u64 + 50)];
            check(dev, &format!("flip 1-d {dt} {n}"), &x, |t| t[0].try_flip(&[0]));
            check(dev, &format!("flip view {dt} {n}"), &x, |t| t[1].t().try_flip(&[-1]));
            check(dev, &format!("flip both {dt} {n}"), &x, |t| t[1].narrow(0, 1, 2).try_flip(&[0, 1]));
            check(dev, &format!("flip none {dt} {n}"), &x, |t| t[1].try_flip::<i64>(&[]));
            check(dev, &format!("repeat {dt} {n}"), &x, |t| t[0].try_repeat(&[2, 3]));
            check(dev, &format!("repeat view {dt} {n}"), &x, |t| t[1].t().try_repeat(&[1, 2, 1]));
        }
        let x = [rnd(&[4, 5, 6], dt, 3).permute(&[1, 2, 0]), rnd(&[], dt, 4)];
        check(dev, &format!("flip 3-d {dt}"), &x, |t| t[0].try_flip(&[-3, 2]));
        check(dev, &format!("flip 0-d {dt}"), &x, |t| t[1].try_flip::<i64>(&[]));
        check(dev, &format!("repeat 3-d {dt}"), &x, |t| t[0].try_repeat(&[2, 1, 3]));
        check(dev, &format!("repeat zero {dt}"), &x, |t| t[0].try_repeat(&[2, 0, 3]));
        check(dev, &format!("repeat 0-d {dt}"), &x, |t| t[1].try_repeat(&[3, 2]));
        check(dev, &format!("repeat 0-d none {dt}"), &x, |t| t[1].try_repeat(&[]));
    }
    let x = [rnd(&[2, 3], DType::F32, 1)];
    check(dev, "flip repeated dim", &x, |t| t[0].try_flip(&[1, -1]));
    check(dev, "flip bad dim", &x, |t| t[0].try_flip(&[2]));
    check(dev, "repeat too few", &x, |t| t[0].try_repeat(&[2]));
}

/// `one_hot` with given and inferred classes, views, and every error (out of range, negative,
/// empty inference, bad class count, dtype).
#[test]
fn one_hot() {
    let Some(dev) = gpu() else { return };
    for (k, &n) in SIZES.iter().enumerate() {
        let x = [ints(&[n], k as u64, 0, 10), ints(&[n, 2], k as u64 + 1, 0, 7)];
        check(dev, &format!("one_hot {n}"), &x, |t| t[0].try_one_hot(10));
        if n <= 1000 {
            check(dev, &format!("one_hot wide {n}"), &x, |t| t[0].try_one_hot(300));
        }
        check(dev, &format!("one_hot infer {n}"), &x, |t| t[0].try_one_hot(-1));
        check(dev, &format!("one_hot view {n}"), &x, |t| t[1].t().try_one_hot(7));
        check(dev, &format!("one_hot zero classes {n}"), &x, |t| t[0].try_one_hot(0));
    }
    let bad = [
        Tensor::from_vec(vec![0i64, 3, 1, 9, 12], &[5]),
        Tensor::from_vec(vec![0i64, -2, 1], &[3]),
        Tensor::from_vec(vec![-5i64, -2], &[2]),
        Tensor::from_vec(Vec::<i64>::new(), &[0]),
        Tensor::from_vec(vec![1.0f32], &[1]),
    ];
    check(dev, "one_hot out of range", &bad, |t| t[0].try_one_hot(5));
    check(dev, "one_hot view out of range", &bad, |t| t[0].flip(&[0]).try_one_hot(5));
    check(dev, "one_hot negative", &bad, |t| t[1].try_one_hot(4));
    check(dev, "one_hot negative infer", &bad, |t| t[1].try_one_hot(-1));
    check(dev, "one_hot all negative infer", &bad, |t| t[2].try_one_hot(-1));
    check(dev, "one_hot empty infer", &bad, |t| t[3].try_one_hot(-1));
    check(dev, "one_hot bad classes", &bad, |t| t[0].try_one_hot(-3));
    check(dev, "one_hot dtype", &bad, |t| t[4].try_one_hot(3));
}

/// `masked_select` of every dtype with random, all-true and all-false masks, broadcasting either
/// way and views; its errors.
#[test]
fn masked_select() {
    let Some(dev) = gpu() else { return };
    for dt in dtypes(dev) {
        for (k, &n) in SIZES.iter().enumerate() {
            let s = k as u64 * 3;
            let x = [
                rnd(&[n], dt, s),
                rnd(&[n], DType::Bool, s + 1),
                rnd(&[2, n], dt, s + 2),
                rnd(&[n, 2], DType::Bool, s + 3),
            ];
            check(dev, &format!("masked_select {dt} {n}"), &x, |t| t[0].try_masked_select(&t[1]));
            check(dev, &format!("masked_select all {dt} {n}"), &x, |t| {
                t[0].try_masked_select(&t[1].logical_not().logical_or(&t[1]))
            });
            check(dev, &format!("masked_select none {dt} {n}"), &x, |t| {
                t[0].try_masked_select(&t[1].logical_and(&t[1].logical_not()))
            });
            check(dev, &format!("masked_select broadcast {dt} {n}"), &x, |t| t[2].try_masked_select(&t[1]));
            check(dev, &format!("masked_select views {dt} {n}"), &x, |t| t[2].t().try_masked_select(&t[3]));
            check(dev, &format!("masked_select mask broadcast {dt} {n}"), &x, |t| {
                t[3].t().try_masked_select(&t[1].narrow(0, 0, n.min(1)).reshape(&[1, -1]))
            });
        }
    }
    let x = [rnd(&[3, 4], DType::F32, 1), rnd(&[3, 4], DType::F32, 2), rnd(&[5], DType::Bool, 3)];
    check(dev, "masked_select non-bool mask", &x, |t| t[0].try_masked_select(&t[1]));
    check(dev, "masked_select broadcast error", &x, |t| t[0].try_masked_select(&t[2]));
}

/// `scatter`/`scatter_value` of every dtype with heavy collisions (the last writer in row-major
/// order must win, as on the CPU), views, negative dims, 0-d, and the errors (index out of range
/// and negative, dtype, rank).
#[test]
fn scatter() {
    let Some(dev) = gpu() else { return };
    for dt in dtypes(dev) {
        for (k, &n) in SIZES.iter().enumerate() {
            let s = k as u64 * 5;
            let m = n.max(1);
            // Many collisions: n indices into 7 (or m) slots; the last in row-major order wins.
            let x = [
                rnd(&[7, 3], dt, s),
                ints(&[n, 3], s + 1, 0, 7),
                rnd(&[n, 4], dt, s + 2),
                rnd(&[3, m], dt, s + 3),
                ints(&[2, n], s + 4, 0, m as i64),
            ];
            check(dev, &format!("scatter dim 0 {dt} {n}"), &x, |t| t[0].try_scatter(0, &t[1], &t[2]));
            check(dev, &format!("scatter value {dt} {n}"), &x, |t| t[0].try_scatter_value(-2, &t[1], 1.0));
            check(dev, &format!("scatter dim -1 {dt} {n}"), &x, |t| t[3].try_scatter(-1, &t[4], &t[2].t()));
            check(dev, &format!("scatter views {dt} {n}"), &x, |t| t[3].t().try_scatter(0, &t[4].t(), &t[2]));
        }
        let x = [rnd(&[], dt, 1), Tensor::scalar(0i64), rnd(&[], dt, 2)];
        check(dev, &format!("scatter 0-d {dt}"), &x, |t| t[0].try_scatter(0, &t[1], &t[2]));
    }
    let x = [
        rnd(&[4, 5], DType::F32, 1),
        Tensor::from_vec(vec![0i64, 4, 9, 1, 7, -1], &[2, 3]),
        rnd(&[2, 3], DType::F32, 2),
        rnd(&[2, 3], DType::I64, 3),
    ];
    check(dev, "scatter out of range", &x, |t| t[0].try_scatter(1, &t[1], &t[2]));
    check(dev, "scatter negative", &x, |t| t[0].try_scatter(1, &t[1].narrow(0, 1, 1).flip(&[1]), &t[2]));
    check(dev, "scatter value out of range", &x, |t| t[0].try_scatter_value(0, &t[1], 2.0));
    check(dev, "scatter dtype", &x, |t| t[0].try_scatter(1, &t[1], &t[3]));
    check(dev, "scatter index dtype", &x, |t| t[0].try_scatter(1, &t[2], &t[2]));
    check(dev, "scatter rank", &x, |t| t[0].try_scatter(1, &t[1].reshape(&[-1]), &t[2]));
}

/// `avg_pool2d_backward` (ceil mode, padding counted or not, stride above the kernel, batch 0,
/// unbatched, a non-contiguous gradient) and `adaptive_avg_pool2d_backward` (overlapping windows).
#[test]
fn avg_pool_backward() {
    let Some(dev) = gpu() else { return };
    let mut dts = vec![DType::F32];
    if has_f64(dev) {
        dts.push(DType::F64);
    }
    type Cfg = ([usize; 2], [usize; 2], [usize; 2], bool, bool);
    let cfgs: [Cfg; 6] = [
        ([3, 3], [2, 2], [1, 1], true, false),
        ([3, 3], [2, 2], [1, 1], false, false),
        ([2, 3], [2, 1], [1, 0], true, true),
        ([2, 3], [2, 1], [1, 0], false, true),
        ([2, 2], [3, 3], [0, 0], true, true),
        ([1, 1], [1, 1], [0, 0], false, false),
    ];
    for dt in dts {
        for (k, shape) in [vec![1, 1, 1, 1], vec![2, 3, 7, 9], vec![3, 8, 5], vec![0, 2, 4, 4], vec![1, 2, 150, 240]]
            .iter()
            .enumerate()
        {
            for (c, &(kernel, stride, pad, ceil, incl)) in cfgs.iter().enumerate() {
                let x = rnd(shape, dt, (k * 10 + c) as u64);
                let Ok(y) = x.try_avg_pool2d(kernel, stride, pad, ceil, incl) else { continue };
                let g = [rnd(y.shape(), dt, 99), x];
                check_near(dev, &format!("avg_pool2d_backward {dt} {shape:?} {c}"), &g, |t| {
                    Tensor::try_avg_pool2d_backward(&t[0], t[1].shape(), kernel, stride, pad, ceil, incl)
                });
            }
            if shape[shape.len() - 1] > 1 {
                for out in [[1, 1], [2, 3], [4, 4], [5, 7]] {
                    let x = rnd(shape, dt, k as u64);
                    let g = [rnd(x.try_adaptive_avg_pool2d(out).unwrap().shape(), dt, 98), x];
                    check_near(dev, &format!("adaptive_avg_pool2d_backward {dt} {shape:?} {out:?}"), &g, |t| {
                        Tensor::try_adaptive_avg_pool2d_backward(&t[0], t[1].shape())
                    });
                }
            }
        }
        // A non-contiguous gradient.
        let x = rnd(&[2, 3, 6, 6], dt, 5);
        let g = [rnd(&[2, 3, 3, 3], dt, 6).transpose(2, 3), x];
        check_near(dev, &format!("avg_pool2d_backward view {dt}"), &g, |t| {
            Tensor::try_avg_pool2d_backward(&t[0], t[1].shape(), [2, 2], [2, 2], [0, 0], false, true)
        });
        check(dev, &format!("avg_pool2d_backward shape error {dt}"), &g, |t| {
            Tensor::try_avg_pool2d_backward(&t[0], t[1].shape(), [3, 3], [1, 1], [0, 0], false, true)
        });
    }
}

/// More than 65535 workgroups (the dispatch is split over x and y): cat, flip, masked_select (its
/// scan then loops over 257 chunks of counts) and scatter on 2^24 + 1000 elements.
#[test]
fn large_dispatches() {
    let Some(dev) = gpu() else { return };
    let n = (1 << 24) + 1000;
    let x = [rnd(&[n / 2], DType::F32, 1), rnd(&[n - n / 2], DType::F32, 2), rnd(&[n], DType::Bool, 3)];
    check(dev, "cat large", &x, |t| Tensor::try_cat(&[t[0].clone(), t[1].clone()], 0));
    check(dev, "flip large", &x, |t| t[2].try_flip(&[0]));
    check(dev, "masked_select large", &x, |t| {
        Tensor::try_cat(&[t[0].clone(), t[1].clone()], 0)?.try_masked_select(&t[2])
    });
    // The index is an expanded view (a dense I64 index this long exceeds lavapipe's buffer limit).
    let y = [rnd(&[n / 8, 2], DType::F32, 4), ints(&[n / 2, 1], 5, 0, (n / 8) as i64), rnd(&[n / 2, 2], DType::F32, 6)];
    check(dev, "scatter large", &y, |t| t[0].try_scatter(0, &t[1].expand(&[n / 2, 2]), &t[2]));
}
