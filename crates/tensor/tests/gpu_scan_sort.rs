//! The native GPU kernels of `cumsum cumprod` (`shaders/scan.wgsl`) and `sort argsort topk`
//! (`shaders/sort.wgsl`) against the CPU: lines of 0, 1, 63, 65, 1000, 1024, 1025 and 70000
//! elements, every dim of 3-d tensors, non-contiguous views, many ties, NaN, -0.0 and infinities,
//! both directions, every `k`, F32/F64/I64/Bool. Sorts must equal the CPU bit for bit (values and
//! indices), I64 scans exactly, float scans within rounding. None of these ops may take the host
//! fallback, and errors on GPU tensors must equal the CPU's.

mod gpu_util;

use ember_tensor::{host_fallback_count, DType, Device, Tensor};
use gpu_util::{gpu, has_f64, Rng};

/// The ops of this file, whose host-fallback counters must not move.
const OPS: [&str; 4] = ["cumsum", "cumprod", "sort", "topk"];

fn fallbacks() -> usize {
    OPS.iter().map(|op| host_fallback_count(op)).sum()
}

/// Asserts that `f` runs no host fallback of this file's ops.
fn native<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let before = fallbacks();
    let r = f();
    assert_eq!(fallbacks(), before, "{what}: ran through the host fallback");
    r
}

/// The elements of `t` as raw 64-bit patterns (floats by bits, so NaN and -0.0 compare exactly).
fn bits(t: &Tensor) -> Vec<u64> {
    match t.dtype() {
        DType::F32 => t.to_vec::<f32>().iter().map(|v| u64::from(v.to_bits())).collect(),
        DType::F64 => t.to_vec::<f64>().iter().map(|v| v.to_bits()).collect(),
        DType::I64 => t.to_vec::<i64>().iter().map(|&v| v as u64).collect(),
        DType::Bool => t.to_vec::<bool>().iter().map(|&v| u64::from(v)).collect(),
        // 16-bit values widen to f32 exactly
        DType::F16 | DType::BF16 => {
            t.to_dtype(DType::F32).to_vec::<f32>().iter().map(|v| u64::from(v.to_bits())).collect()
        }
    }
}

/// Asserts `got` (on `dev`) equals `want` (on the CPU) exactly: shape, dtype, device and bits.
fn same(what: &str, got: &Tensor, want: &Tensor, dev: Device) {
    assert_eq!(got.device(), dev, "{what}: device");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let (g, w) = (bits(got), bits(want));
    if let Some(i) = (0..g.len()).find(|&i| g[i] != w[i]) {
        panic!("{what}: element {i} of {}: gpu {:#x} vs cpu {:#x}", g.len(), g[i], w[i]);
    }
}

/// Random values of `dtype` with many ties (few distinct values) and, for floats, NaN, -0.0, 0.0
/// and infinities sprinkled in.
fn tied(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    let v: Vec<f64> = (0..n)
        .map(|_| match r.next_u64() % 16 {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            3 => f64::INFINITY,
            4 => f64::NEG_INFINITY,
            _ => r.uniform(-6.0, 6.0).floor() * 0.5,
        })
        .collect();
    match dtype {
        DType::F32 | DType::F64 => Tensor::from_vec(v, shape).to_dtype(dtype),
        DType::I64 => {
            let v: Vec<i64> = v
                .iter()
                .enumerate()
                .map(|(i, x)| match i % 97 {
                    5 => i64::MIN,
                    6 => i64::MAX,
                    7 => -(1 << 40),
                    _ if x.is_finite() => (x * 2.0) as i64,
                    _ => 3,
                })
                .collect();
            Tensor::from_vec(v, shape)
        }
        DType::Bool => Tensor::from_vec(v, shape).gt_scalar(0.0),
        DType::F16 | DType::BF16 => Tensor::from_vec(v, shape).to_dtype(dtype),
    }
}

type View = fn(&Tensor) -> Tensor;

/// (base shape, view, name): the view is applied on each device, so kernels see strided inputs.
fn shapes() -> Vec<(Vec<usize>, View, &'static str)> {
    vec![
        (vec![0], |t| t.clone(), "0"),
        (vec![1], |t| t.clone(), "1"),
        (vec![63], |t| t.clone(), "63"),
        (vec![65], |t| t.clone(), "65"),
        (vec![1000], |t| t.clone(), "1000"),
        (vec![1024], |t| t.clone(), "1024"),
        (vec![1025], |t| t.clone(), "1025"),
        (vec![70000], |t| t.clone(), "70000"),
        (vec![3, 0, 2], |t| t.clone(), "3x0x2"),
        (vec![5, 33, 7], |t| t.clone(), "5x33x7"),
        (vec![4, 1500, 3], |t| t.clone(), "4x1500x3"),
        (vec![2, 3000], |t| t.narrow(1, 500, 2100), "narrow"),
        (vec![37, 41], |t| t.transpose(0, 1), "transpose"),
        (vec![4, 5, 6], |t| t.permute(&[2, 0, 1]).narrow(0, 1, 4), "permute+narrow"),
    ]
}

/// Every dim of `t`, the last one as -1.
fn dims(t: &Tensor) -> Vec<isize> {
    let r = t.rank() as isize;
    (0..r).map(|d| if d == r - 1 { -1 } else { d }).collect()
}

#[test]
fn sort_and_argsort_match_the_cpu_exactly() {
    let Some(dev) = gpu() else { return };
    for dtype in [DType::F32, DType::F64, DType::I64, DType::Bool] {
        for (i, (shape, view, name)) in shapes().into_iter().enumerate() {
            let base = tied(&shape, i as u64 + 100, dtype);
            let (c, g) = (view(&base), view(&base.to(&dev)));
            for d in dims(&c) {
                for desc in [false, true] {
                    let what = format!("sort {name} {dtype} dim {d} desc {desc}");
                    let (wv, wi) = c.sort(d, desc);
                    let (gv, gi) = native(&what, || g.sort(d, desc));
                    same(&format!("{what} values"), &gv, &wv, dev);
                    same(&format!("{what} indices"), &gi, &wi, dev);
                    same(&format!("{what} argsort"), &native(&what, || g.argsort(d, desc)), &wi, dev);
                }
            }
        }
        let s = tied(&[], 7, dtype);
        let (wv, wi) = s.sort(0, false);
        let (gv, gi) = native("sort 0-d", || s.to(&dev).sort(-1, true));
        same("sort 0-d values", &gv, &wv, dev);
        same("sort 0-d indices", &gi, &wi, dev);
    }
}

#[test]
fn sort_of_distinct_values_and_many_short_lines() {
    let Some(dev) = gpu() else { return };
    let mut r = Rng::new(5);
    for (shape, d) in [(vec![70000, 2], 1isize), (vec![3, 70000], 1), (vec![3000, 5], 0), (vec![2, 9000, 2], 1)] {
        let n = shape.iter().product();
        let c = Tensor::from_vec(r.vec(n, -1e6, 1e6), &shape).to_dtype(DType::F32);
        let g = c.to(&dev);
        for desc in [false, true] {
            let what = format!("sort {shape:?} dim {d} desc {desc}");
            let (wv, wi) = c.sort(d, desc);
            let (gv, gi) = native(&what, || g.sort(d, desc));
            same(&format!("{what} values"), &gv, &wv, dev);
            same(&format!("{what} indices"), &gi, &wi, dev);
        }
    }
}

#[test]
fn topk_matches_the_cpu_exactly() {
    let Some(dev) = gpu() else { return };
    for dtype in [DType::F32, DType::F64, DType::I64] {
        for (i, (shape, view, name)) in shapes().into_iter().enumerate() {
            let base = tied(&shape, i as u64 + 200, dtype);
            let (c, g) = (view(&base), view(&base.to(&dev)));
            for d in dims(&c) {
                let n = c.shape()[d.rem_euclid(c.rank() as isize) as usize];
                let mut ks = vec![0, 1, n / 2, n];
                let mut modes = vec![(true, true), (false, true), (true, false), (false, false)];
                if n > 2000 {
                    // Long lines: fewer combinations (each sorts the whole line; slow on CPU adapters).
                    ks = vec![n / 2];
                    modes = vec![(true, false), (false, true)];
                }
                ks.retain(|&k| k <= n);
                ks.dedup();
                for k in ks {
                    for &(largest, sorted) in &modes {
                        let what = format!("topk {name} {dtype} dim {d} k {k} largest {largest} sorted {sorted}");
                        let (wv, wi) = c.topk(k, d, largest, sorted);
                        let (gv, gi) = native(&what, || g.topk(k, d, largest, sorted));
                        same(&format!("{what} values"), &gv, &wv, dev);
                        same(&format!("{what} indices"), &gi, &wi, dev);
                    }
                }
            }
        }
        let s = tied(&[], 9, dtype);
        for k in [0, 1] {
            let (wv, wi) = s.topk(k, 0, true, false);
            let (gv, gi) = native("topk 0-d", || s.to(&dev).topk(k, -1, true, false));
            same("topk 0-d values", &gv, &wv, dev);
            same("topk 0-d indices", &gi, &wi, dev);
        }
    }
}

/// Asserts a float scan within `tol` of the CPU's, relative to the running sum of magnitudes (the
/// scale of the rounding error of any summation order).
fn close_scan(what: &str, got: &Tensor, want: &Tensor, scale: &Tensor, tol: f64, dev: Device) {
    assert_eq!(got.device(), dev, "{what}: device");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let (g, w, s) = (got.to_vec::<f64>(), want.to_vec::<f64>(), scale.to_vec::<f64>());
    for i in 0..g.len() {
        let ok = (g[i] - w[i]).abs() <= tol * (s[i] + 1e-3) || (g[i].is_nan() && w[i].is_nan()) || g[i] == w[i];
        assert!(ok, "{what}: element {i}: gpu {} vs cpu {} (scale {})", g[i], w[i], s[i]);
    }
}

#[test]
fn cumsum_and_cumprod_match_the_cpu() {
    let Some(dev) = gpu() else { return };
    let f64_ok = has_f64(dev);
    let mut dtypes = vec![DType::F32, DType::I64, DType::Bool];
    if f64_ok {
        dtypes.push(DType::F64);
    }
    let mut shapes = shapes();
    shapes.push((vec![3000, 40], |t| t.clone(), "3000x40"));
    shapes.push((vec![2, 70000], |t| t.t(), "2x70000 transposed"));
    for dtype in dtypes {
        for (i, (shape, view, name)) in shapes.iter().enumerate() {
            let n: usize = shape.iter().product();
            let mut r = Rng::new(i as u64 + 300);
            let sums = Tensor::from_vec(r.vec(n, -2.0, 2.0), shape);
            // Products of +-1 and of values near 1 stay finite and well conditioned on long lines.
            let signs: Vec<f64> = (0..n).map(|_| if r.next_u64().is_multiple_of(3) { -1.0 } else { 1.0 }).collect();
            let prods = Tensor::from_vec(r.vec(n, 0.999, 1.001), shape) * Tensor::from_vec(signs, shape);
            let (sums, prods) = match dtype {
                DType::I64 => (
                    Tensor::from_vec((0..n).map(|_| r.next_u64() as i64).collect::<Vec<i64>>(), shape),
                    Tensor::from_vec((0..n).map(|_| r.next_u64() as i64 | 1).collect::<Vec<i64>>(), shape),
                ),
                DType::Bool => (sums.gt_scalar(0.0), prods.gt_scalar(0.0)),
                _ => (sums.to_dtype(dtype), prods.to_dtype(dtype)),
            };
            for (prod, base) in [(false, sums), (true, prods)] {
                let (c, g) = (view(&base), view(&base.to(&dev)));
                for d in dims(&c) {
                    let what = format!("{} {name} {dtype} dim {d}", if prod { "cumprod" } else { "cumsum" });
                    let (want, got) = if prod {
                        (c.cumprod(d), native(&what, || g.cumprod(d)))
                    } else {
                        (c.cumsum(d), native(&what, || g.cumsum(d)))
                    };
                    if want.dtype().is_float() {
                        let scale = if prod { want.abs() } else { c.abs().cumsum(d) };
                        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-4 };
                        close_scan(&what, &got, &want, &scale, tol, dev);
                    } else {
                        same(&what, &got, &want, dev);
                    }
                }
            }
        }
    }
}

/// 65600 lines of 129 (one workgroup each): more workgroups than one grid dimension holds. Small
/// integers, so the F32 sums are exact.
#[test]
fn cumsum_over_more_than_65535_workgroups() {
    let Some(dev) = gpu() else { return };
    let mut r = Rng::new(11);
    let shape = [65600, 129];
    let c = Tensor::from_vec(r.vec(65600 * 129, -2.0, 2.0), &shape).floor().to_dtype(DType::F32);
    let got = native("cumsum 65600x129", || c.to(&dev).cumsum(1));
    same("cumsum 65600x129", &got, &c.cumsum(1), dev);
}

#[test]
fn errors_on_gpu_tensors_equal_the_cpus() {
    let Some(dev) = gpu() else { return };
    let c = tied(&[4, 5], 1, DType::F32);
    let g = c.to(&dev);
    let b = c.gt_scalar(0.0);
    let gb = b.to(&dev);
    let pairs: Vec<(String, String)> = vec![
        (c.try_cumsum(2).unwrap_err().to_string(), g.try_cumsum(2).unwrap_err().to_string()),
        (c.try_cumprod(-3).unwrap_err().to_string(), g.try_cumprod(-3).unwrap_err().to_string()),
        (c.try_sort(5, false).unwrap_err().to_string(), g.try_sort(5, false).unwrap_err().to_string()),
        (c.try_topk(6, 1, true, true).unwrap_err().to_string(), g.try_topk(6, 1, true, true).unwrap_err().to_string()),
        (c.try_topk(1, 2, true, true).unwrap_err().to_string(), g.try_topk(1, 2, true, true).unwrap_err().to_string()),
        (b.try_topk(1, 1, true, true).unwrap_err().to_string(), gb.try_topk(1, 1, true, true).unwrap_err().to_string()),
    ];
    for (want, got) in pairs {
        assert_eq!(got, want);
    }
    if !has_f64(dev) {
        let e = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).to(&dev).try_cumsum(0).unwrap_err().to_string();
        assert!(e.contains("SHADER_F64"), "{e}");
    }
}
