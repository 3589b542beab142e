//! F16 and BF16 tensors on the GPU (packed two per u32 word; every op widened to f32 on the device
//! and rounded back) against the CPU and PyTorch (fixtures by scripts/fixtures/half.py):
//! conversions bit for bit (every 16-bit pattern, a sweep of f32 patterns, the fixtures' ties,
//! subnormals, overflow, NaN, f64's double rounding), odd sizes, views, op results within one
//! rounding of the 16-bit type, fused maps, random tensors and errors.

mod gpu_util;

use std::collections::HashMap;

use ember_tensor::half::{bf16, f16};
use ember_tensor::{io, CrossEntropyOpts, DType, Device, Expr, FusedMap, Result, Tensor};
use gpu_util::{fallback_total, gpu, has_f64, Rng};

const HALVES: [DType; 2] = [DType::F16, DType::BF16];

/// An op on one tensor, for the error table.
type OpFn = Box<dyn Fn(&Tensor) -> Result<Tensor>>;

fn fixtures() -> HashMap<String, Tensor> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/half.safetensors");
    io::load(p).unwrap().into_iter().collect()
}

fn ints(f: &HashMap<String, Tensor>, k: &str) -> Vec<i64> {
    f.get(k).unwrap_or_else(|| panic!("fixture {k} missing")).to_vec::<i64>()
}

/// The 16-bit patterns of a half tensor (downloaded when on the GPU).
fn bits(t: &Tensor) -> Vec<u16> {
    match t.dtype() {
        DType::F16 => t.to_vec::<f16>().iter().map(|x| x.to_bits()).collect(),
        DType::BF16 => t.to_vec::<bf16>().iter().map(|x| x.to_bits()).collect(),
        d => panic!("not a 16-bit tensor: {d}"),
    }
}

fn from_bits(b: &[u16], dtype: DType, shape: &[usize]) -> Tensor {
    match dtype {
        DType::F16 => Tensor::from_vec(b.iter().map(|&x| f16::from_bits(x)).collect(), shape),
        _ => Tensor::from_vec(b.iter().map(|&x| bf16::from_bits(x)).collect(), shape),
    }
}

fn is_nan(b: u16, dtype: DType) -> bool {
    if dtype == DType::F16 {
        f16::from_bits(b).is_nan()
    } else {
        bf16::from_bits(b).is_nan()
    }
}

fn f32_bits(t: &Tensor) -> Vec<u32> {
    t.to_vec::<f32>().iter().map(|x| x.to_bits()).collect()
}

/// Same bits, except that any NaN matches any NaN (PyTorch's NaN payloads are not the contract).
fn assert_bits_nan(got: &[u16], want: &[i64], dtype: DType, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let w = w as u16;
        assert!(g == w || (is_nan(g, dtype) && is_nan(w, dtype)), "{what}[{i}]: got {g:#06x}, PyTorch {w:#06x}");
    }
}

/// Checks that `got` and `want` are the same bit patterns, naming the first difference.
fn assert_same<T: PartialEq + std::fmt::LowerHex>(got: &[T], want: &[T], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("{what}[{i}]: GPU {:#x}, CPU {:#x}", got[i], want[i]);
    }
}

#[test]
fn f32_to_half_is_the_cpus_rounding() {
    let Some(dev) = gpu() else { return };
    let f = fixtures();
    let src: Vec<f32> = ints(&f, "f32_bits").iter().map(|&b| f32::from_bits(b as u32)).collect();
    let n = src.len();
    let t = Tensor::from_vec(src, &[n]);
    for (dt, key) in [(DType::F16, "to_f16"), (DType::BF16, "to_bf16")] {
        let g = t.to(&dev).to_dtype(dt);
        assert_eq!((g.dtype(), g.device()), (dt, dev));
        assert_bits_nan(&bits(&g), &ints(&f, key), dt, &format!("f32->{dt} vs PyTorch"));
        assert_same(&bits(&g), &bits(&t.to_dtype(dt)), &format!("f32->{dt} vs the CPU"));
    }
    // A sweep: every high half with low halves around the rounding points of both formats.
    let lows = [0u32, 1, 0x0FFF, 0x1000, 0x1001, 0x2FFF, 0x3000, 0x7FFF, 0x8000, 0x8001, 0xC000, 0xFFFF];
    let sweep: Vec<f32> =
        (0..65536u32).flat_map(|hi| lows.iter().map(move |&lo| f32::from_bits(hi << 16 | lo))).collect();
    let n = sweep.len();
    let t = Tensor::from_vec(sweep, &[n]);
    let g = t.to(&dev);
    for dt in HALVES {
        assert_same(&bits(&g.to_dtype(dt)), &bits(&t.to_dtype(dt)), &format!("sweep f32->{dt}"));
    }
}

#[test]
fn half_to_other_dtypes_is_the_cpus() {
    let Some(dev) = gpu() else { return };
    let every: Vec<u16> = (0..=u16::MAX).collect();
    for dt in HALVES {
        let h = from_bits(&every, dt, &[every.len()]);
        let g = h.to(&dev);
        assert_same(&bits(&g), &every, &format!("{dt} upload/download"));
        assert_same(&f32_bits(&g.to_dtype(DType::F32)), &f32_bits(&h.to_dtype(DType::F32)), &format!("{dt}->F32"));
        assert_eq!(g.to_dtype(DType::Bool).to_vec::<bool>(), h.to_dtype(DType::Bool).to_vec::<bool>(), "{dt}->Bool");
        // I64 truncates toward zero (values out of its range, NaN and infinities are undefined in
        // PyTorch: left out)
        let want = h.to_dtype(DType::I64).to_vec::<i64>();
        let got = g.to_dtype(DType::I64).to_vec::<i64>();
        for (i, v) in h.to_vec::<f64>().into_iter().enumerate() {
            if v.abs() < 4e18 {
                assert_eq!(got[i], want[i], "{dt}->I64 of {:#06x}", every[i]);
            }
        }
        let other = if dt == DType::F16 { DType::BF16 } else { DType::F16 };
        assert_same(&bits(&g.to_dtype(other)), &bits(&h.to_dtype(other)), &format!("{dt}->{other}"));
        if has_f64(dev) {
            let (w, r) = (h.to_dtype(DType::F64).to_vec::<f64>(), g.to_dtype(DType::F64).to_vec::<f64>());
            for i in 0..w.len() {
                assert!(r[i] == w[i] || (r[i].is_nan() && w[i].is_nan()), "{dt}->F64 of {:#06x}", every[i]);
            }
        }
    }
    // PyTorch's truncation of F16 to I64.
    let f = fixtures();
    let h = Tensor::from_vec(vec![f16::from_f32(-2.5), f16::from_f32(3.75), f16::from_f32(100.5)], &[3]).to(&dev);
    assert_eq!(h.to_dtype(DType::I64).to_vec::<i64>(), ints(&f, "to_i64_from_f16"));
}

#[test]
fn other_dtypes_to_half_go_through_f32_as_on_the_cpu() {
    let Some(dev) = gpu() else { return };
    let i = Tensor::from_vec(vec![-70000i64, -2049, -1, 0, 1, 3, 2049, 65519, 65520, 1 << 40, i64::MAX], &[11]);
    let b = Tensor::from_vec(vec![true, false, true], &[3]);
    for dt in HALVES {
        assert_same(&bits(&i.to(&dev).to_dtype(dt)), &bits(&i.to_dtype(dt)), &format!("I64->{dt}"));
        assert_same(&bits(&b.to(&dev).to_dtype(dt)), &bits(&b.to_dtype(dt)), &format!("Bool->{dt}"));
    }
    if has_f64(dev) {
        // float64 rounds to float32 first, then to 16 bits (twice), as PyTorch does
        let f = fixtures();
        let t = f["f64"].to(&dev);
        assert_bits_nan(&bits(&t.to_dtype(DType::F16)), &ints(&f, "f64_to_f16"), DType::F16, "f64->f16");
        assert_bits_nan(&bits(&t.to_dtype(DType::BF16)), &ints(&f, "f64_to_bf16"), DType::BF16, "f64->bf16");
    }
}

#[test]
fn odd_sizes_fills_and_views() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(17);
    for dt in HALVES {
        for n in [0usize, 1, 2, 3, 5, 255, 257, 65537] {
            let b: Vec<u16> = (0..n).map(|_| rng.next_u64() as u16).collect();
            let g = from_bits(&b, dt, &[n]).to(&dev);
            assert_eq!((g.dtype(), g.shape()), (dt, &[n][..]));
            assert_same(&bits(&g), &b, &format!("{dt} x {n}: round trip"));
            if n > 2 {
                // odd offsets: a narrow read directly, and copied to a dense buffer
                let v = g.narrow(0, 1, n - 2);
                assert_same(&bits(&v), &b[1..n - 1], &format!("{dt} x {n}: narrow"));
                assert_same(&bits(&v.contiguous()), &b[1..n - 1], &format!("{dt} x {n}: narrow contiguous"));
            }
            for v in [0.0, 1.0, -2.5, 1e-6, 1e6, f64::INFINITY] {
                let full = Tensor::try_full_on(&[n], v, dt, &dev).unwrap();
                assert_same(
                    &bits(&full),
                    &bits(&Tensor::try_full_on(&[n], v, dt, &Device::Cpu).unwrap()),
                    &format!("full {v}"),
                );
            }
        }
        type V = fn(&Tensor) -> Tensor;
        let views: Vec<(Vec<usize>, V)> = vec![
            (vec![37, 41], |t| t.t()),
            (vec![10, 21], |t| t.narrow(1, 3, 11)),
            (vec![11, 20], |t| t.narrow(0, 3, 5)),
            (vec![1, 9], |t| t.expand(&[7, 9])),
            (vec![3, 5, 7], |t| t.permute(&[2, 0, 1])),
            (vec![7, 9], |t| t.select(1, 3)),
            (vec![2, 3, 5], |t| t.unsqueeze(1).expand(&[2, 5, 3, 5]).narrow(3, 1, 3)),
        ];
        for (shape, view) in views {
            let n: usize = shape.iter().product();
            let b: Vec<u16> = (0..n).map(|_| (rng.next_u64() as u16) & 0x7BFF).collect();
            let c = from_bits(&b, dt, &shape);
            let (vc, vg) = (view(&c), view(&c.to(&dev)));
            assert_eq!(vg.shape(), vc.shape());
            assert_same(&bits(&vg), &bits(&vc), &format!("{dt} view of {shape:?}"));
            assert_same(&bits(&vg.contiguous()), &bits(&vc), &format!("{dt} contiguous view of {shape:?}"));
            // an op reads the view through its strides
            assert_same(&bits(&vg.neg()), &bits(&vc.neg()), &format!("{dt} neg of a view of {shape:?}"));
        }
    }
}

#[test]
fn fixture_ops_on_the_gpu() {
    let Some(dev) = gpu() else { return };
    let f = fixtures();
    for (name, dt) in [("f16", DType::F16), ("bf16", DType::BF16)] {
        let k = |s: &str| format!("ops.{name}.{s}");
        let get = |s: &str, shape: &[usize]| {
            let b: Vec<u16> = ints(&f, &k(s)).iter().map(|&x| x as u16).collect();
            from_bits(&b, dt, shape).to(&dev)
        };
        let (a, b, w) = (get("a", &[6, 16]), get("b", &[6, 16]), get("w", &[16, 5]));
        // exact: one f32 operation (or none) rounded once, as PyTorch
        let exact = |t: Tensor, key: &str| {
            assert_eq!((t.dtype(), t.device()), (dt, dev), "{name} {key}");
            assert_bits_nan(&bits(&t), &ints(&f, &k(key)), dt, &format!("{name} {key}"));
        };
        exact(a.add(&b), "add");
        exact(a.mul(&b), "mul");
        exact(a.max_dim(1, false), "max1");
        // transcendental functions and f32 sums in another order: within one 16-bit rounding
        let ulp = if dt == DType::F16 { 2f64.powi(-10) } else { 2f64.powi(-7) };
        let close = |t: Tensor, key: &str| {
            assert_eq!((t.dtype(), t.device()), (dt, dev), "{name} {key}");
            let want = from_bits(&ints(&f, &k(key)).iter().map(|&x| x as u16).collect::<Vec<_>>(), dt, t.shape());
            let (g, w) = (t.to_vec::<f64>(), want.to_vec::<f64>());
            let scale = w.iter().fold(1f64, |m, x| m.max(x.abs()));
            for (i, (x, y)) in g.iter().zip(&w).enumerate() {
                assert!((x - y).abs() <= ulp * y.abs().max(scale * 1e-3), "{name} {key}[{i}]: {x} vs PyTorch {y}");
            }
        };
        close(a.exp(), "exp");
        close(a.tanh(), "tanh");
        close(a.sum(), "sum");
        close(a.sum_dim(1, false), "sum1");
        close(a.mean_dim(0, false), "mean0");
        close(a.matmul(&w), "matmul");
        close(a.softmax(1), "softmax1");
        assert_eq!(a.argmax(1, false).to_vec::<i64>(), ints(&f, &k("argmax1")));
        assert_eq!(a.gt(&b).to_vec::<bool>(), f[&k("gt")].to_vec::<bool>());
    }
}

/// Runs `run` on CPU inputs and on GPU copies; the results agree in shape, dtype and device, and
/// in value within `ulps` roundings of the 16-bit type (integers and Bool exactly), or both fail
/// with one message. Unless `host_ok`, the GPU run takes no host fallback.
fn parity(dev: Device, what: &str, inputs: &[Tensor], host_ok: bool, run: impl Fn(&[Tensor]) -> Result<Vec<Tensor>>) {
    let want = run(inputs);
    let on_gpu: Vec<Tensor> = inputs.iter().map(|t| t.to(&dev)).collect();
    let before = fallback_total();
    let got = run(&on_gpu);
    if !host_ok {
        assert_eq!(fallback_total(), before, "{what}: host fallback {:?}", ember_tensor::host_fallbacks());
    }
    let (want, got) = match (want, got) {
        (Ok(w), Ok(g)) => (w, g),
        (Err(w), Err(g)) => return assert_eq!(g.to_string(), w.to_string(), "{what}: error"),
        (w, g) => panic!("{what}: CPU {:?} but GPU {:?}", w.err(), g.err()),
    };
    assert_eq!(want.len(), got.len(), "{what}: outputs");
    for (k, (w, g)) in want.iter().zip(&got).enumerate() {
        let what = format!("{what} (output {k})");
        assert_eq!((g.shape(), g.dtype(), g.device()), (w.shape(), w.dtype(), dev), "{what}");
        let ulp = match w.dtype() {
            DType::F16 => 2f64.powi(-10),
            DType::BF16 => 2f64.powi(-7),
            DType::F32 => 1e-5,
            _ => 0.0,
        };
        let (gv, wv) = (g.to_vec::<f64>(), w.to_vec::<f64>());
        let scale = wv.iter().filter(|x| x.is_finite()).fold(1f64, |m, x| m.max(x.abs()));
        for (i, (x, y)) in gv.iter().zip(&wv).enumerate() {
            let ok = x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 2.0 * ulp * y.abs().max(scale * 1e-2);
            assert!(ok, "{what}[{i}]: GPU {x}, CPU {y}");
        }
    }
}

#[test]
fn ops_match_the_cpus_half_path() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(5);
    let mut vals = |shape: &[usize], dt: DType| {
        let n: usize = shape.iter().product();
        Tensor::from_vec(rng.vec(n, -3.0, 3.0).into_iter().map(|x| x as f32).collect(), shape).to_dtype(dt)
    };
    for dt in HALVES {
        let (a, b) = (vals(&[4, 6], dt), vals(&[4, 6], dt));
        let mask = vals(&[4, 6], DType::F32).gt_scalar(0.0);
        let idx = Tensor::from_vec(vec![2i64, 0, 3, 3], &[4]);
        let gidx = Tensor::from_vec((0..24).map(|i| (i * 5 % 4) as i64).collect(), &[4, 6]);
        let (img, ker, bias) = (vals(&[2, 3, 7, 7], dt), vals(&[4, 3, 3, 3], dt), vals(&[4], dt));
        let (lin_w, lin_b) = (vals(&[5, 6], dt), vals(&[5], dt));
        let target = Tensor::from_vec(vec![1i64, 5, 0, 2], &[4]);
        let p = |what: &str, ins: &[&Tensor], f: &dyn Fn(&[Tensor]) -> Result<Vec<Tensor>>| {
            let ins: Vec<Tensor> = ins.iter().map(|&t| t.clone()).collect();
            parity(dev, &format!("{dt} {what}"), &ins, false, f)
        };
        p("sub div", &[&a, &b], &|t| Ok(vec![t[0].try_sub(&t[1])?, t[0].try_div(&t[1])?]));
        p("unary", &[&a], &|t| {
            Ok(vec![t[0].relu(), t[0].sigmoid(), t[0].abs().sqrt(), t[0].try_clamp(Some(-1.0), Some(0.5))?])
        });
        p("scalar", &[&a], &|t| Ok(vec![&t[0] * 0.3 + 1.0, t[0].pow_scalar(2.0)]));
        p("where", &[&mask, &a, &b], &|t| Ok(vec![t[1].try_where_(&t[0], &t[2])?, t[1].try_masked_fill(&t[0], 2.5)?]));
        p("compare", &[&a, &b], &|t| Ok(vec![t[0].try_le(&t[1])?, t[0].isnan(), t[0].isfinite(), t[0].logical_not()]));
        p("reduce", &[&a], &|t| {
            Ok(vec![
                t[0].sum_dims(&[0, 1], false),
                t[0].mean(),
                t[0].prod_dim(1, false),
                t[0].min(),
                t[0].argmin(0, false),
            ])
        });
        p("any all", &[&a], &|t| Ok(vec![t[0].gt_scalar(2.0).any(), t[0].gt_scalar(-5.0).all_dim(1, false)]));
        p("stats", &[&a], &|t| Ok(vec![t[0].var_dim(1, true, false), t[0].logsumexp(0, false), t[0].std(false)]));
        p("scan", &[&a], &|t| Ok(vec![t[0].cumsum(1), t[0].cumprod(0)]));
        p("softmax", &[&a], &|t| Ok(vec![t[0].log_softmax(0), t[0].softmax(1)]));
        p("sort", &[&a], &|t| {
            let (v, i) = t[0].try_sort(1, true)?;
            let (tv, ti) = t[0].try_topk(2, 0, false, true)?;
            // ties may order indices differently: check the indices through the values they pick
            Ok(vec![v.clone(), t[0].gather(1, &i).sub(&v), tv.clone(), t[0].gather(0, &ti).sub(&tv)])
        });
        p("join", &[&a, &b], &|t| {
            Ok(vec![Tensor::try_cat(&[t[0].clone(), t[1].t()], 1)?, Tensor::try_stack(&t[..2], 0)?])
        });
        p("index", &[&a, &idx, &gidx, &b], &|t| {
            Ok(vec![
                t[0].try_index_select(0, &t[1])?,
                t[0].try_gather(1, &t[2])?,
                t[0].try_scatter_add(1, &t[2], &t[3])?,
                t[0].try_scatter(1, &t[2].narrow(1, 0, 1), &t[3])?,
                t[0].try_index_add(0, &t[1], &t[3])?,
            ])
        });
        p("index misc", &[&a, &mask], &|t| {
            Ok(vec![t[0].try_masked_select(&t[1])?, t[0].flip(&[0, 1]), t[0].repeat(&[2, 1]), t[0].t().contiguous()])
        });
        p("matmul", &[&a, &b, &lin_w, &lin_b], &|t| {
            Ok(vec![
                t[0].try_matmul(&t[1].t())?,
                t[0].try_linear(&t[2], Some(&t[3]))?,
                t[0].reshape(&[2, 2, 6]).try_matmul(&t[1].reshape(&[2, 6, 2]))?,
            ])
        });
        p("conv pool", &[&img, &ker, &bias], &|t| {
            let y = t[0].try_conv2d(&t[1], Some(&t[2]), [1, 1], [1, 1], [1, 1], 1)?;
            let (m, mi) = y.try_max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false)?;
            let back = Tensor::try_max_pool2d_backward(&m, &mi, y.shape())?;
            let dx = Tensor::try_conv2d_backward_input(&y, &t[1], t[0].shape(), [1, 1], [1, 1], [1, 1], 1)?;
            let (dw, db) = Tensor::try_conv2d_backward_weight_bias(&y, &t[0], t[1].shape(), [1, 1], [1, 1], [1, 1], 1)?;
            let gather_back = Tensor::try_max_pool2d_with_indices_backward(
                &m,
                &mi,
                y.shape(),
                [2, 2],
                [2, 2],
                [0, 0],
                [1, 1],
                false,
            )?;
            Ok(vec![
                y.clone(),
                m,
                back,
                y.try_avg_pool2d([3, 3], [2, 2], [1, 1], false, true)?,
                dx,
                dw,
                db,
                gather_back,
            ])
        });
        p("cross entropy", &[&a, &target], &|t| {
            let (loss, stats) = t[0].try_cross_entropy_fused(&t[1], None, CrossEntropyOpts::default())?;
            let g = t[0].try_cross_entropy_fused_backward(
                &t[1],
                None,
                &stats,
                &loss.ones_like(),
                CrossEntropyOpts::default(),
            )?;
            Ok(vec![loss, g])
        });
        p("relu backward", &[&a, &b], &|t| Ok(vec![Tensor::try_relu_backward(&t[0], &t[1].relu())?]));
        // The row norms have no wgpu kernel: the widened operands take the F32 host fallback.
        let ins = [a.clone(), lin_w.narrow(0, 0, 1).reshape(&[6]), lin_b.narrow(0, 0, 1).expand(&[6]).contiguous()];
        parity(dev, &format!("{dt} norm_rows"), &ins, true, |t| {
            let (y, m, r) = t[0].try_norm_rows(Some(&t[1]), Some(&t[2]), 6, 1e-5, true)?;
            Ok(vec![y, m, r])
        });
    }
}

#[test]
fn fused_maps_compute_in_f32_and_round_once() {
    let Some(dev) = gpu() else { return };
    let map =
        FusedMap::new("axpy_exp", 2, 1, &[Expr::input(0) * Expr::scalar(0) + Expr::input(1), Expr::input(0).exp()]);
    let mut rng = Rng::new(9);
    for dt in HALVES {
        let mk = |rng: &mut Rng, n: usize| Tensor::from_vec(rng.vec(n, -2.0, 2.0), &[n]).to_dtype(dt);
        let (x, y, z) = (mk(&mut rng, 37), mk(&mut rng, 37), mk(&mut rng, 5));
        // the reference: the same map in f32 on the CPU, each output rounded once
        let want = |ins: &[&Tensor]| -> Vec<Tensor> {
            let w: Vec<Tensor> = ins.iter().map(|t| t.to_dtype(DType::F32)).collect();
            map.run(&w.iter().collect::<Vec<_>>(), &[0.7]).into_iter().map(|t| t.to_dtype(dt)).collect()
        };
        let got = map.run(&[&x.to(&dev), &y.to(&dev)], &[0.7]);
        let tuples = vec![vec![x.to(&dev), y.to(&dev)], vec![z.to(&dev), z.to(&dev)]];
        let each = map.run_foreach(tuples, &[0.7]);
        for (g, w) in [(&got, want(&[&x, &y])), (&each[0], want(&[&x, &y])), (&each[1], want(&[&z, &z]))] {
            for (g, w) in g.iter().zip(&w) {
                assert_eq!((g.dtype(), g.device()), (dt, dev));
                // f32 contraction (fma) may move a value by one 16-bit rounding
                let ulp = if dt == DType::F16 { 2f64.powi(-10) } else { 2f64.powi(-7) };
                for (a, b) in g.to_vec::<f64>().iter().zip(w.to_vec::<f64>()) {
                    assert!((a - b).abs() <= ulp * b.abs().max(1e-2), "{dt} fused map: GPU {a}, reference {b}");
                }
            }
        }
    }
}

#[test]
fn random_tensors_and_errors() {
    let Some(dev) = gpu() else { return };
    for dt in HALVES {
        let like = Tensor::try_full_on(&[999], 0.0, dt, &dev).unwrap();
        let u = like.rand_like();
        assert_eq!((u.dtype(), u.device(), u.shape()), (dt, dev, &[999][..]));
        let v = u.to_vec::<f32>();
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)) && v.iter().any(|&x| x != v[0]), "{dt} rand_like: {v:?}");
        let n = like.randn_like().to_vec::<f32>();
        let mean = n.iter().sum::<f32>() / n.len() as f32;
        assert!(mean.abs() < 0.2, "{dt} randn_like mean {mean}");
        // Errors name the op and the operands as on the CPU.
        let h = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).to_dtype(dt);
        let cases: Vec<(&str, OpFn)> = vec![
            ("add", Box::new(|t| t.try_add(&Tensor::ones(&[3]).to(&t.device())))),
            ("index_select", Box::new(|t| t.try_index_select(0, &Tensor::from_vec(vec![5i64], &[1]).to(&t.device())))),
            ("matmul", Box::new(|t| t.try_matmul(&t.reshape(&[1, 3])))),
            ("one_hot", Box::new(|t| t.try_one_hot(3))),
        ];
        for (op, f) in cases {
            let (c, g) = (f(&h).unwrap_err().to_string(), f(&h.to(&dev)).unwrap_err().to_string());
            assert!(g.contains(op), "{dt} {op}: {g}");
            assert_eq!(g, c, "{dt} {op}: the GPU's error differs from the CPU's");
        }
        let e = Tensor::ones(&[3]).to(&dev).try_add(&h.to(&dev)).unwrap_err().to_string();
        assert!(e.contains("add") && e.contains(&dt.to_string()), "{e}");
    }
}
