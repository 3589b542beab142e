//! Random tensors generated on the GPU (`rand_like` / `randn_like` of GPU tensors): the Philox
//! stream bit for bit against a host reference (itself checked against Random123's known answers),
//! the distributions, reproducibility under `manual_seed`, and no host round trip. One test, as it
//! reseeds the process-wide generator.

mod gpu_util;

use ember_tensor::{host_fallback_count, manual_seed, DType, Device, Generator, Tensor};

/// Philox4x32-10 on the host (64-bit products), the reference for `shaders/random.wgsl`.
fn philox(mut c: [u32; 4], mut k: [u32; 2]) -> [u32; 4] {
    for _ in 0..10 {
        let p0 = 0xD251_1F53u64 * c[0] as u64;
        let p1 = 0xCD9E_8D57u64 * c[2] as u64;
        c = [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32];
        k = [k[0].wrapping_add(0x9E37_79B9), k[1].wrapping_add(0xBB67_AE85)];
    }
    c
}

#[test]
fn gpu_random_tensors() {
    // Known answers of Random123's kat_vectors for philox4x32_10.
    assert_eq!(philox([0; 4], [0; 2]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
    assert_eq!(philox([u32::MAX; 4], [u32::MAX; 2]), [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]);

    let Some(dev) = gpu_util::gpu() else { return };
    let n = 70_001; // not a multiple of the workgroup size (256)
    let like = Tensor::zeros(&[7, n / 7]).to(&dev);
    let before = host_fallback_count("rand") + host_fallback_count("randn");

    // Uniform f32: exactly (word0 >> 8) / 2^24 of Philox((i, 0, 0, 0), key), the key being the next
    // draw of the seeded generator.
    manual_seed(42);
    let u = like.rand_like();
    assert_eq!((u.shape(), u.dtype(), u.device()), (like.shape(), DType::F32, dev));
    let key = Generator::new(42).next_u64();
    let k = [key as u32, (key >> 32) as u32];
    let got = u.to_vec::<f32>();
    for (i, &g) in got.iter().enumerate() {
        let want = (philox([i as u32, 0, 0, 0], k)[0] >> 8) as f32 / 16_777_216.0;
        assert_eq!(g, want, "uniform element {i}");
    }
    // Reproducible under the same seed; the next draw differs.
    manual_seed(42);
    assert_eq!(like.rand_like().to_vec::<f32>(), got);
    assert_ne!(like.rand_like().to_vec::<f32>(), got);

    // Distributions: uniform in [0, 1) with mean 1/2 and variance 1/12; normal with mean 0, variance 1.
    let moments = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (m, v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64)
    };
    let mut dtypes = vec![DType::F32];
    if gpu_util::has_f64(dev) {
        dtypes.push(DType::F64);
    }
    for dtype in dtypes {
        let like = like.to_dtype(dtype);
        let u = like.rand_like();
        assert_eq!((u.dtype(), u.device()), (dtype, dev));
        let uv = u.to_vec::<f64>();
        assert!(uv.iter().all(|&x| (0.0..1.0).contains(&x)), "{dtype}: uniform outside [0, 1)");
        let (m, var) = moments(&uv);
        assert!((m - 0.5).abs() < 0.01 && (var - 1.0 / 12.0).abs() < 0.005, "{dtype} uniform: {m} {var}");
        let z = like.randn_like();
        assert_eq!((z.dtype(), z.device()), (dtype, dev));
        let zv = z.to_vec::<f64>();
        assert!(zv.iter().all(|x| x.is_finite()), "{dtype}: normal not finite");
        let (m, var) = moments(&zv);
        assert!(m.abs() < 0.02 && (var - 1.0).abs() < 0.03, "{dtype} normal: {m} {var}");
        let tail = zv.iter().filter(|x| x.abs() > 1.96).count() as f64 / zv.len() as f64;
        assert!((tail - 0.05).abs() < 0.006, "{dtype} normal: {tail} beyond 1.96");
        if dtype == DType::F64 {
            // 53 random bits: far more distinct values than an f32 stream could give.
            let mut s = uv.clone();
            s.sort_by(f64::total_cmp);
            s.dedup();
            assert!(s.len() > uv.len() - 5, "f64 uniform has only {} distinct values", s.len());
        }
    }

    // Generated on the device: no host fallback; empty tensors; I64 still drawn on the CPU.
    assert_eq!(host_fallback_count("rand") + host_fallback_count("randn"), before);
    let e = Tensor::zeros(&[0, 3]).to(&dev).randn_like();
    assert_eq!((e.shape(), e.device()), (&[0usize, 3][..], dev));
    let i = Tensor::zeros(&[4]).to_dtype(DType::I64).to(&dev).rand_like();
    assert_eq!((i.dtype(), i.device()), (DType::I64, dev));
    assert_eq!(Tensor::zeros(&[3]).rand_like().device(), Device::Cpu);
}
