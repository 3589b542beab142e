//! F16 and BF16 on the CPU against PyTorch, bit for bit (fixtures by scripts/fixtures/half.py):
//! conversions (round to nearest even, ties, subnormals, overflow to inf, NaN, float64's double
//! rounding through float32), a few ops (computed in f32, rounded once), printing and a BF16
//! safetensors checkpoint saved by PyTorch.

use std::collections::HashMap;

use ember_tensor::half::{bf16, f16};
use ember_tensor::{io, DType, Tensor};

fn fixtures() -> HashMap<String, Tensor> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/half.safetensors");
    io::load(p).unwrap().into_iter().collect()
}

fn ints(f: &HashMap<String, Tensor>, k: &str) -> Vec<i64> {
    f.get(k).unwrap_or_else(|| panic!("fixture {k} missing")).to_vec::<i64>()
}

/// The 16-bit patterns of a half tensor.
fn bits(t: &Tensor) -> Vec<i64> {
    match t.dtype() {
        DType::F16 => t.contiguous().to_vec::<f16>().iter().map(|x| i64::from(x.to_bits())).collect(),
        DType::BF16 => t.contiguous().to_vec::<bf16>().iter().map(|x| i64::from(x.to_bits())).collect(),
        d => panic!("not a 16-bit tensor: {d}"),
    }
}

/// Same bits, except that any NaN matches any NaN (PyTorch and `half` pick NaN payloads alike, but
/// the payload is not part of the contract).
fn assert_bits(got: &[i64], want: &[i64], is_nan: impl Fn(i64) -> bool, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(g == w || (is_nan(g) && is_nan(w)), "{what}[{i}]: got {g:#06x}, PyTorch {w:#06x}");
    }
}

fn f16_nan(b: i64) -> bool {
    f16::from_bits(b as u16).is_nan()
}

fn bf16_nan(b: i64) -> bool {
    bf16::from_bits(b as u16).is_nan()
}

fn from_bits(b: &[i64], dtype: DType, shape: &[usize]) -> Tensor {
    match dtype {
        DType::F16 => Tensor::from_vec(b.iter().map(|&x| f16::from_bits(x as u16)).collect(), shape),
        _ => Tensor::from_vec(b.iter().map(|&x| bf16::from_bits(x as u16)).collect(), shape),
    }
}

#[test]
fn f32_to_half_rounds_as_pytorch() {
    let f = fixtures();
    let src: Vec<f32> = ints(&f, "f32_bits").iter().map(|&b| f32::from_bits(b as u32)).collect();
    let n = src.len();
    let t = Tensor::from_vec(src, &[n]);
    assert_bits(&bits(&t.to_dtype(DType::F16)), &ints(&f, "to_f16"), f16_nan, "f32->f16");
    assert_bits(&bits(&t.to_dtype(DType::BF16)), &ints(&f, "to_bf16"), bf16_nan, "f32->bf16");
    // Back to f32 is exact: the widened values round to the same 16-bit patterns again.
    let h = t.to_dtype(DType::BF16);
    assert_bits(&bits(&h.to_dtype(DType::F32).to_dtype(DType::BF16)), &bits(&h), bf16_nan, "bf16 round trip");
    let h = t.to_dtype(DType::F16);
    assert_bits(&bits(&h.to_dtype(DType::F64).to_dtype(DType::F16)), &bits(&h), f16_nan, "f16 via f64");
}

#[test]
fn f64_rounds_twice_as_pytorch() {
    let f = fixtures();
    let t = f["f64"].clone();
    assert_eq!(t.dtype(), DType::F64);
    assert_bits(&bits(&t.to_dtype(DType::F16)), &ints(&f, "f64_to_f16"), f16_nan, "f64->f16");
    assert_bits(&bits(&t.to_dtype(DType::BF16)), &ints(&f, "f64_to_bf16"), bf16_nan, "f64->bf16");
    let h = Tensor::from_vec(vec![f16::from_f32(-2.5), f16::from_f32(3.75), f16::from_f32(100.5)], &[3]);
    assert_eq!(h.to_dtype(DType::I64).to_vec::<i64>(), ints(&f, "to_i64_from_f16"));
}

#[test]
fn ops_compute_in_f32_and_round_once() {
    let f = fixtures();
    for (name, dt) in [("f16", DType::F16), ("bf16", DType::BF16)] {
        let k = |s: &str| format!("ops.{name}.{s}");
        let nan = if dt == DType::F16 { f16_nan } else { bf16_nan };
        let a = from_bits(&ints(&f, &k("a")), dt, &[6, 16]);
        let b = from_bits(&ints(&f, &k("b")), dt, &[6, 16]);
        let w = from_bits(&ints(&f, &k("w")), dt, &[16, 5]);
        let check = |t: Tensor, key: &str| {
            assert_eq!(t.dtype(), dt, "{name} {key}: dtype");
            assert_bits(&bits(&t), &ints(&f, &k(key)), nan, &format!("{name} {key}"));
        };
        check(a.add(&b), "add");
        check(a.mul(&b), "mul");
        check(a.exp(), "exp");
        check(a.tanh(), "tanh");
        check(a.sum(), "sum");
        check(a.sum_dim(1, false), "sum1");
        check(a.mean_dim(0, false), "mean0");
        check(a.matmul(&w), "matmul");
        check(a.softmax(1), "softmax1");
        check(a.max_dim(1, false), "max1");
        assert_eq!(a.argmax(1, false).to_vec::<i64>(), ints(&f, &k("argmax1")));
        assert_eq!(a.gt(&b).to_vec::<bool>(), f[&k("gt")].to_vec::<bool>());
        // Moving elements keeps the dtype and the bits (no trip through f32).
        let tr = a.transpose(0, 1).contiguous();
        assert_eq!(tr.dtype(), dt);
        assert_eq!(bits(&tr.transpose(0, 1).contiguous()), bits(&a));
    }
}

#[test]
fn mixed_dtypes_are_clear_errors() {
    let a = Tensor::ones(&[2]).to_dtype(DType::BF16);
    let b = Tensor::ones(&[2]);
    let e = a.try_add(&b).unwrap_err().to_string();
    assert!(e.contains("add") && e.contains("BF16"), "{e}");
    // (the GPU's 16-bit tensors are tested in gpu_half.rs)
}

#[test]
fn prints_as_pytorch() {
    let t = Tensor::from_vec(vec![1.5f32, -2.0, 3.140625], &[3]).to_dtype(DType::BF16);
    assert_eq!(t.to_string(), "tensor([ 1.5000, -2.0000,  3.1406], dtype=torch.bfloat16)");
    let t = Tensor::from_vec(vec![0.5f32], &[]).to_dtype(DType::F16);
    assert_eq!(t.to_string(), "tensor(0.5000, dtype=torch.float16)");
}

#[test]
fn bf16_safetensors_from_pytorch_loads_and_saves() {
    let f = fixtures();
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/half_bf16.safetensors");
    let st: HashMap<String, Tensor> = io::load(p).unwrap().into_iter().collect();
    let w = &st["weight"];
    assert_eq!((w.dtype(), w.shape()), (DType::BF16, &[2usize, 3][..]));
    assert_eq!(w.to_dtype(DType::F32).to_vec::<f32>(), f["linear.weight"].to_vec::<f32>());
    assert_eq!(st["bias"].to_dtype(DType::F32).to_vec::<f32>(), f["linear.bias"].to_vec::<f32>());
    // Save and load again: same dtype, same bits.
    let bytes = io::save_bytes(&[("w".to_string(), w.clone())]).unwrap();
    let back = io::load_bytes(&bytes).unwrap();
    assert_eq!(back[0].1.dtype(), DType::BF16);
    assert_eq!(bits(&back[0].1), bits(w));
}

/// A conversion large enough to run in parallel pieces (the `half` crate's slice conversions)
/// gives, element for element, what the per-element route gives (`from_f32`, one rounding to
/// nearest even; PyTorch's), and widening back is exact: f32 bit patterns swept across every exponent,
/// with ties, subnormals, infinities and NaN among them.
#[test]
fn large_conversions_match_the_scalar_rounding() {
    let n = 300_001usize;
    let vals: Vec<f32> = (0..n)
        .map(|i| match i % 7 {
            0 => f32::from_bits((i as u32).wrapping_mul(2_654_435_761)),
            1 => f32::from_bits(0x3f80_8000 + (i as u32 % 4) * 0x1_0000),
            2 => f32::from_bits(i as u32 % 0x0080_0000),
            3 => [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -0.0, 65_520.0, 3.4e38][i % 6],
            _ => (i as f32 - 150_000.0) * 1.000_123_4e-3,
        })
        .collect();
    let t = Tensor::from_vec(vals.clone(), &[n]);
    let h = t.to_dtype(DType::F16).to_vec::<f16>();
    let b = t.to_dtype(DType::BF16).to_vec::<bf16>();
    for (i, &x) in vals.iter().enumerate() {
        let (wh, wb) = (f16::from_f32(x), bf16::from_f32(x));
        assert!(h[i].to_bits() == wh.to_bits() || (h[i].is_nan() && wh.is_nan()), "f16 at {i}: {x:e}");
        assert!(
            b[i].to_bits() == wb.to_bits() || (b[i].is_nan() && wb.is_nan()),
            "bf16 at {i}: {x:e}: {:#06x} vs scalar {:#06x}",
            b[i].to_bits(),
            wb.to_bits()
        );
    }
    let back_h = Tensor::from_vec(h.clone(), &[n]).to_dtype(DType::F32).to_vec::<f32>();
    let back_b = Tensor::from_vec(b.clone(), &[n]).to_dtype(DType::F32).to_vec::<f32>();
    for i in 0..n {
        let (eh, eb) = (h[i].to_f64(), b[i].to_f64());
        assert!(f64::from(back_h[i]) == eh || (eh.is_nan() && back_h[i].is_nan()), "f16 -> f32 at {i}");
        assert!(f64::from(back_b[i]) == eb || (eb.is_nan() && back_b[i].is_nan()), "bf16 -> f32 at {i}");
    }
}
