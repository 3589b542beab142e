//! The 16-bit GPU matrix products (native kernel, `wgpu/matmul_half.rs`) against the CPU's F16 /
//! BF16 products (f32 accumulation, one rounding), shared by the test binaries that run them with
//! SHADER_F16 on (`gpu_half_matmul.rs`), off (`gpu_half_matmul_packed.rs`) and with the 128 x 128
//! tiling (`gpu_half_matmul_big.rs`): the device context is created once per process, so each
//! binary sets its environment before the first GPU use.
//!
//! Tolerance: positive operands agree within 1 unit in the last place of the 16-bit type, and
//! small-integer operands bit for bit. Both sides sum the same f32 products, in different orders
//! (the CPU's blocked GEMM, the GPU's K slices), so their f32 sums differ by a few f32 ulps; with
//! positive terms that is a relative difference below K * 2^-24, far under the 16-bit spacing
//! (2^-11 for F16, 2^-8 for BF16), yet a sum that lands next to a rounding boundary of the 16-bit
//! type may still round to the neighbouring value: at most 1 ulp. Integer products and their sums
//! (below 2^24) are exact in f32 in any order, so those results must be identical.
#![allow(dead_code)]

use ember_tensor::half::{bf16, f16};
use ember_tensor::{DType, Device, Tensor};

use crate::gpu_util::Rng;

/// The 16-bit patterns of a 16-bit tensor, as integers ordered as the values they encode.
fn ordered(t: &Tensor) -> Vec<i32> {
    let bits: Vec<u16> = match t.dtype() {
        DType::F16 => t.to_vec::<f16>().iter().map(|x| x.to_bits()).collect(),
        DType::BF16 => t.to_vec::<bf16>().iter().map(|x| x.to_bits()).collect(),
        d => panic!("not a 16-bit tensor: {d}"),
    };
    bits.iter().map(|&b| if b & 0x8000 != 0 { -i32::from(b & 0x7FFF) } else { i32::from(b) }).collect()
}

/// `got` (GPU) equals `want` (CPU) in shape and dtype and within `ulps` per element.
fn close(got: &Tensor, want: &Tensor, ulps: i32, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let (g, w) = (ordered(got), ordered(want));
    // the 1-ulp differences are rare (sums next to a rounding boundary): a rounding that is off
    // (truncation, say) would put about half of the results 1 ulp away (checked on outputs of 100
    // elements or more, where one unlucky sum cannot tip the share)
    let exact = g.iter().zip(&w).filter(|(a, b)| a == b).count();
    assert!(
        g.len() < 100 || exact * 100 >= 95 * g.len(),
        "{what}: only {exact} of {} results equal the CPU's",
        g.len()
    );
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= ulps,
            "{what} [{i}]: got {:?}, want {:?} (more than {ulps} ulp apart)",
            got.to_vec::<f32>()[i],
            want.to_vec::<f32>()[i]
        );
    }
}

/// A CPU tensor of `dtype` with values uniform in [lo, hi) (integers when `int`).
fn rnd(shape: &[usize], seed: u64, dtype: DType, int: bool) -> Tensor {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    let v: Vec<f32> =
        (0..n).map(|_| if int { (r.uniform(-4.0, 5.0).floor()) as f32 } else { r.uniform(0.05, 1.0) as f32 }).collect();
    Tensor::from_vec(v, shape).to_dtype(dtype)
}

/// `f` on the CPU operands and on their GPU copies, compared (integers: exactly).
fn check(dev: Device, ins: &[Tensor], int: bool, what: &str, f: impl Fn(&[Tensor]) -> Tensor) {
    let want = f(ins);
    let gpu: Vec<Tensor> = ins.iter().map(|t| t.to(&dev)).collect();
    let got = f(&gpu).to(&Device::Cpu);
    close(&got, &want, if int { 0 } else { 1 }, what);
}

/// Every case, for F16 and BF16.
pub fn run_all(dev: Device) {
    for dt in [DType::F16, DType::BF16] {
        for int in [false, true] {
            let mut seed = 1;
            let mut r = |shape: &[usize]| {
                seed += 1;
                rnd(shape, seed, dt, int)
            };
            for (m, k, n) in
                [(1, 1, 1), (7, 7, 7), (1, 63, 65), (63, 65, 129), (65, 129, 63), (129, 7, 65), (3, 300, 2), (2, 5, 1)]
            {
                let what = format!("{dt} int={int} {m}x{k}x{n}");
                let (a, b) = (r(&[m, k]), r(&[k, n]));
                check(dev, &[a.clone(), b.clone()], int, &format!("{what} plain"), |t| t[0].matmul(&t[1]));
                // transposed operands (read through their strides)
                let (at, bt) = (r(&[k, m]), r(&[n, k]));
                check(dev, &[at, bt], int, &format!("{what} transposed"), |t| t[0].t().matmul(&t[1].t()));
                // strided: columns 1..k+1 of a wider matrix, every other row of a taller one
                let (aw, bs) = (r(&[m, k + 3]), r(&[2 * k, n]));
                check(dev, &[aw, bs], int, &format!("{what} strided"), |t| {
                    t[0].narrow(1, 1, k).matmul(&t[1].reshape(&[k, 2 * n]).narrow(1, 0, n))
                });
                // Linear: x @ w^T + bias, the bias in the product's epilogue
                let (x, w, bias) = (r(&[m, k]), r(&[n, k]), r(&[n]));
                check(dev, &[x.clone(), w.clone(), bias], int, &format!("{what} linear+bias"), |t| {
                    t[0].linear(&t[1], Some(&t[2]))
                });
                check(dev, &[x, w], int, &format!("{what} linear"), |t| t[0].linear(&t[1], None));
            }
            // broadcast batches: [2, 1, M, K] @ [3, K, N] -> [2, 3, M, N], a 2-d weight, bmm
            let (a, b) = (r(&[2, 1, 9, 17]), r(&[3, 17, 11]));
            check(dev, &[a.clone(), b], int, &format!("{dt} int={int} broadcast batch"), |t| t[0].matmul(&t[1]));
            let w = r(&[17, 6]);
            check(dev, &[a, w], int, &format!("{dt} int={int} batch @ 2-d"), |t| t[0].matmul(&t[1]));
            let (a, b) = (r(&[4, 33, 10]), r(&[4, 10, 31]));
            check(dev, &[a, b], int, &format!("{dt} int={int} bmm"), |t| t[0].bmm(&t[1]));
            // a matrix-vector product and a long K (the widened path where the F32 kernel splits K)
            let (a, v) = (r(&[5, 40]), r(&[40]));
            check(dev, &[a, v], int, &format!("{dt} int={int} matrix @ vector"), |t| t[0].matmul(&t[1]));
            let (a, b) = (r(&[3, 2000]), r(&[2000, 2]));
            check(dev, &[a, b], int, &format!("{dt} int={int} split K"), |t| t[0].matmul(&t[1]));
        }
        // K = 0: zeros, and the bias alone
        let (a, b, bias) = (rnd(&[3, 0], 1, dt, true), rnd(&[0, 5], 2, dt, true), rnd(&[5], 3, dt, true));
        check(dev, &[a.clone(), b], true, &format!("{dt} K = 0"), |t| t[0].matmul(&t[1]));
        let w = rnd(&[5, 0], 4, dt, true);
        check(dev, &[a, w, bias], true, &format!("{dt} K = 0 linear+bias"), |t| t[0].linear(&t[1], Some(&t[2])));
        // F16 subnormals (multiples of 2^-24) times small integers: exact f32 sums, subnormal and
        // normal results
        if dt == DType::F16 {
            let mut rg = Rng::new(9);
            let tiny: Vec<f32> =
                (0..6 * 40).map(|_| (rg.uniform(-60.0, 61.0).floor() as f32) * 2f32.powi(-24)).collect();
            let a = Tensor::from_vec(tiny, &[6, 40]).to_dtype(dt);
            let b = rnd(&[40, 5], 10, dt, true);
            check(dev, &[a, b], true, "F16 subnormal operands", |t| t[0].matmul(&t[1]));
        }
        // rounding: integer sums up to 27783, exact in f32, many between representable 16-bit
        // values and some at ties (F16 spacing 2 to 16 there, BF16 2 to 128)
        let mut rg = Rng::new(11);
        let mut ints = |n: usize| -> Vec<f32> { (0..n).map(|_| rg.uniform(0.0, 64.0).floor() as f32).collect() };
        let (a, b) = (Tensor::from_vec(ints(70 * 7), &[70, 7]), Tensor::from_vec(ints(7 * 66), &[7, 66]));
        check(dev, &[a.to_dtype(dt), b.to_dtype(dt)], true, &format!("{dt} rounding"), |t| t[0].matmul(&t[1]));
        // sums past the 16-bit range
        let big = Tensor::full(&[2, 64], 4000.0).to_dtype(dt);
        check(dev, &[big.clone(), big.t().contiguous()], true, &format!("{dt} overflow"), |t| t[0].matmul(&t[1]));
        // errors: mismatched inner dims, mixed dtypes
        let g = rnd(&[3, 4], 5, dt, true).to(&dev);
        let msg = g.try_matmul(&g).unwrap_err().to_string();
        assert!(msg.contains("matmul") && msg.contains("[3, 4]"), "{msg}");
        assert!(g.try_matmul(&g.t().to_dtype(DType::F32)).is_err());
    }
}
