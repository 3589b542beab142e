//! GPU transfers, layouts, casts, fills and the buffer pool.

mod gpu_util;

use ember_tensor::{gpu_synchronize, DType, Device, Tensor};
use gpu_util::{gpu, has_f64, Rng};

const DTYPES: [DType; 4] = [DType::F32, DType::F64, DType::I64, DType::Bool];

fn sample(dtype: DType, shape: &[usize], rng: &mut Rng) -> Tensor {
    let n = shape.iter().product();
    let v: Vec<f64> = rng
        .vec(n, -1000.0, 1000.0)
        .into_iter()
        .map(|x| if dtype == DType::Bool { (x > 0.0) as u8 as f64 } else { x })
        .collect();
    Tensor::from_vec(v, shape).to_dtype(dtype)
}

#[test]
fn round_trip_every_dtype() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(10);
    for dtype in DTYPES {
        for shape in [vec![], vec![0], vec![1], vec![63], vec![65, 3], vec![70000]] {
            let x = sample(dtype, &shape, &mut rng);
            let g = x.to(&dev);
            assert_eq!(g.device(), dev);
            assert_eq!((g.dtype(), g.shape()), (dtype, x.shape()));
            let back = g.to(&Device::Cpu);
            assert_eq!(back.device(), Device::Cpu);
            assert_eq!(back.to_vec::<f64>(), x.to_vec::<f64>(), "{dtype} {shape:?}");
        }
    }
    // Exact 64-bit integers and special floats survive.
    let i = Tensor::from_vec(vec![i64::MIN, -1, 0, 1, i64::MAX], &[5]);
    assert_eq!(i.to(&dev).to_vec::<i64>(), i.to_vec::<i64>());
    let f = Tensor::from_vec(vec![f64::NAN, f64::INFINITY, -0.0, 1e-310, f64::MAX], &[5]);
    let back = f.to(&dev).to_vec::<f64>();
    assert!(back[0].is_nan() && back[1] == f64::INFINITY && back[2].to_bits() == (-0.0f64).to_bits());
    assert_eq!(back[3..], [1e-310, f64::MAX]);
    // The same device: shared, no copy.
    let g = f.to(&dev);
    assert!(g.to(&dev).shares_storage(&g));
}

#[test]
fn views_on_the_gpu() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(11);
    type V = fn(&Tensor) -> Tensor;
    let views: Vec<(Vec<usize>, V)> = vec![
        (vec![37, 41], |t| t.t()),
        (vec![10, 20], |t| t.narrow(1, 3, 11)),
        (vec![10, 20], |t| t.narrow(0, 4, 5)),
        (vec![1, 9], |t| t.expand(&[7, 9])),
        (vec![3, 4, 5], |t| t.permute(&[2, 0, 1])),
        (vec![6, 8], |t| t.select(1, 3)),
        (vec![6, 8], |t| t.t().reshape(&[4, 12])),
        (vec![2, 3, 4], |t| t.unsqueeze(1).expand(&[2, 5, 3, 4]).narrow(3, 1, 2)),
    ];
    for dtype in DTYPES {
        for (shape, v) in &views {
            let x = sample(dtype, shape, &mut rng);
            let want = v(&x);
            let got = v(&x.to(&dev));
            assert_eq!(got.shape(), want.shape());
            assert_eq!(got.to_vec::<f64>(), want.to_vec::<f64>(), "{dtype} view of {shape:?}");
            let c = got.contiguous();
            assert!(c.is_contiguous() && c.device() == dev);
            assert_eq!(c.to_vec::<f64>(), want.to_vec::<f64>(), "{dtype} contiguous view of {shape:?}");
        }
    }
}

#[test]
fn casts_match_the_cpu() {
    let Some(dev) = gpu() else { return };
    let f64_ok = has_f64(dev);
    let mut rng = Rng::new(12);
    for src in DTYPES {
        let mut x = sample(src, &[257], &mut rng);
        if src.is_float() {
            let extra =
                Tensor::from_vec(vec![0.0, -0.0, 0.5, -0.5, 1.99, -1.99, 3e9, -3e9, 1e15, -7.0, f64::NAN], &[11]);
            let mut v = x.to_vec::<f64>();
            v.extend(extra.to_vec::<f64>());
            x = Tensor::from_vec(v, &[268]).to_dtype(src);
        } else if src == DType::I64 {
            let v: Vec<i64> = (0..300).map(|i| (rng.next_u64() as i64) >> (i % 64)).collect();
            x = Tensor::from_vec(v, &[300]);
        }
        let g = x.to(&dev).t();
        for dst in DTYPES {
            if !f64_ok && (src == DType::F64 || dst == DType::F64) && src != dst {
                let e = g.try_to_dtype(dst).unwrap_err().to_string();
                assert!(e.contains("to_dtype") && e.contains("SHADER_F64"), "{e}");
                continue;
            }
            let got = g.to_dtype(dst);
            assert_eq!((got.dtype(), got.device()), (dst, dev));
            let want = x.to_dtype(dst);
            let (a, b) = (got.to_vec::<f64>(), want.to_vec::<f64>());
            for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                // Integers above 2^24 converted to F32 may round differently by one ulp (the GPU
                // converts the two 32-bit words separately); NaN to an integer is unspecified.
                let ok = p == q
                    || (p.is_nan() && q.is_nan())
                    || (dst == DType::F32 && src == DType::I64 && (p - q).abs() <= q.abs() * 1.2e-7)
                    || (dst == DType::I64 && x.to_vec::<f64>()[i].is_nan());
                assert!(ok, "{src} -> {dst} element {i}: gpu {p} vs cpu {q}");
            }
        }
    }
}

#[test]
fn fills_on_the_device() {
    let Some(dev) = gpu() else { return };
    for dtype in DTYPES {
        // Up to 1024 words are uploaded, larger fills dispatched.
        for shape in [vec![], vec![0], vec![1], vec![65], vec![513], vec![1024], vec![300, 301]] {
            for v in [0.0, 1.0, -2.75, 3e10] {
                let t = Tensor::try_full_on(&shape, v, dtype, &dev).unwrap();
                assert_eq!((t.device(), t.dtype(), t.shape()), (dev, dtype, shape.as_slice()));
                let want = Tensor::full_dtype(&shape, v, dtype);
                assert_eq!(t.to_vec::<f64>(), want.to_vec::<f64>(), "full {v} {dtype} {shape:?}");
            }
        }
        let g = Tensor::ones_dtype(&[4, 5], dtype).to(&dev);
        assert_eq!(g.zeros_like().device(), dev);
        assert_eq!(g.zeros_like().to_vec::<f64>(), vec![0.0; 20]);
        assert_eq!(g.ones_like().to_vec::<f64>(), vec![1.0; 20]);
    }
}

#[test]
fn to_vec_item_and_display_download() {
    let Some(dev) = gpu() else { return };
    let g = Tensor::from_vec(vec![1.5f32, -2.0, 3.0, 4.0], &[2, 2]).to(&dev);
    assert_eq!(g.t().to_vec::<f32>(), vec![1.5, 3.0, -2.0, 4.0]);
    assert_eq!(g.to_vec::<i64>(), vec![1, -2, 3, 4]);
    assert_eq!(g.select(0, 1).select(0, 0).item::<f32>(), 3.0);
    let s = format!("{g}");
    assert!(s.contains("1.5") && s.contains("gpu:0"), "{s}");
    gpu_synchronize(dev).unwrap();
}

#[test]
fn gpu_errors() {
    let Some(dev) = gpu() else { return };
    assert!(Device::gpu_at(1000).is_err());
    let e = Device::gpu_at(1000).unwrap_err().to_string();
    assert!(e.contains("gpu:1000"), "{e}");
    let b = Tensor::ones_dtype(&[3], DType::Bool).to(&dev);
    let e = std::panic::catch_unwind(|| b.exp()).unwrap_err();
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("exp") && msg.contains("Bool"), "{msg}");
    // A buffer above the device's limits is an error, not an abort.
    let e = Tensor::try_full_on(&[1 << 40], 0.0, DType::F32, &dev).unwrap_err();
    assert!(matches!(e, ember_tensor::Error::OutOfMemory(_)), "{e}");
    assert!(e.to_string().contains("full"), "{e}");
}

#[test]
fn threads_share_the_device() {
    let Some(dev) = gpu() else { return };
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let x = Tensor::arange(0.0, 5000.0, 1.0).to(&dev);
                let mut y = x.clone();
                for _ in 0..50 {
                    y = (&y * 0.5 + &x).add_scalar(f64::from(i));
                }
                let cpu = {
                    let x = Tensor::arange(0.0, 5000.0, 1.0);
                    let mut y = x.clone();
                    for _ in 0..50 {
                        y = (&y * 0.5 + &x).add_scalar(f64::from(i));
                    }
                    y
                };
                assert_eq!(y.to_vec::<f32>(), cpu.to_vec::<f32>(), "thread {i}");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
