//! Lazy elementwise fusion on the GPU: every fused result equals the unfused GPU result (fusion
//! turned off with `with_gpu_fusion(false, ..)`) and the CPU's, for chains of unary, binary and
//! scalar ops on odd sizes, broadcasting, views of inputs and of pending results, F32/F64/I64, a
//! pending result consumed twice, chains past the node cap and past the input limit, and pending
//! results read by non-elementwise ops (matmul, reductions, indexing, copies).

mod gpu_util;

use ember_tensor::{gpu_realize, with_gpu_fusion, DType, Device, Tensor};
use ember_testutil::assert_allclose;
use gpu_util::{gpu, has_f64, Rng};

type Chain = fn(&[Tensor]) -> Tensor;

/// Runs `f` on the CPU inputs, on GPU copies with fusion on and with fusion off; the two GPU
/// results must agree (integers exactly; floats to a few units in the last place of the larger of
/// the value and 1: the same operations run in the same order, but a shader compiler may contract
/// `a * b + c` into one rounding once both sit in one kernel), and the CPU within `tol`.
fn check(what: &str, dev: Device, inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Tensor, tol: f64) {
    let want = f(inputs);
    let on_gpu: Vec<Tensor> = inputs.iter().map(|t| t.to(&dev)).collect();
    let fused = f(&on_gpu);
    let unfused = with_gpu_fusion(false, || f(&on_gpu));
    for (name, got) in [("fused", &fused), ("unfused", &unfused)] {
        assert_eq!(got.device(), dev, "{what} ({name}): device");
        assert_eq!(got.shape(), want.shape(), "{what} ({name}): shape");
        assert_eq!(got.dtype(), want.dtype(), "{what} ({name}): dtype");
    }
    let (fv, uv) = (fused.to_vec::<f64>(), unfused.to_vec::<f64>());
    if want.dtype() == DType::I64 {
        assert_eq!(fused.to_vec::<i64>(), unfused.to_vec::<i64>(), "{what}: fused vs unfused");
        assert_eq!(fused.to_vec::<i64>(), want.to_vec::<i64>(), "{what}: vs CPU");
        return;
    }
    let ulp = if want.dtype() == DType::F32 { 8.0 * f64::from(f32::EPSILON) } else { 8.0 * f64::EPSILON };
    for (k, (a, b)) in fv.iter().zip(&uv).enumerate() {
        let same = a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= ulp * a.abs().max(b.abs()).max(1.0);
        assert!(same, "{what}: element {k}: fused {a} vs unfused {b}");
    }
    assert_allclose(what, &fv, &want.to_vec::<f64>(), tol, tol);
}

fn input(rng: &mut Rng, shape: &[usize], dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let v = rng.vec(n, -3.0, 3.0);
    match dtype {
        DType::I64 => Tensor::from_vec(v.iter().map(|x| (x * 5.0).round() as i64).collect::<Vec<_>>(), shape),
        _ => Tensor::from_vec(v, shape).to_dtype(dtype),
    }
}

fn float_chains() -> Vec<(&'static str, Chain)> {
    vec![
        ("affine relu", |t| (&t[0] * 1.5 + &t[1]).relu() - 0.25),
        ("transcendental", |t| ((&t[0] - &t[1]).tanh().abs() + 1e-3).sqrt().log() * t[1].sigmoid()),
        ("exp/div", |t| t[0].exp() / (t[1].abs() + 1.0) - t[0].neg().exp()),
        ("params", |t| t[0].clamp(Some(-1.0), Some(0.5)).powf(2.0) + t[1].leaky_relu(0.1) * t[1].elu(0.7)),
        ("max/min/pow", |t| t[0].maximum(&t[1]).minimum(&(&t[1] * 0.5 + 1.0)).abs().pow(&(t[1].abs() * 0.5))),
        ("gelu/silu/softplus", |t| t[0].gelu() + t[1].silu() - (&t[0] * 2.0).softplus()),
        ("rsub/rdiv", |t| (3.0 - &t[0]) * (2.0 / (t[1].abs() + 0.5)) + t[0].sin() * t[1].cos()),
    ]
}

#[test]
fn float_chains_match_unfused_and_cpu_on_odd_sizes() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(1);
    let dtypes: &[DType] = if has_f64(dev) { &[DType::F32, DType::F64] } else { &[DType::F32] };
    for &dtype in dtypes {
        let tol = if dtype == DType::F32 { 2e-5 } else { 1e-10 };
        for n in [1, 7, 1000, 65537] {
            let ins = [input(&mut rng, &[n], dtype), input(&mut rng, &[n], dtype)];
            for (name, f) in float_chains() {
                check(&format!("{name} ({dtype}, {n})"), dev, &ins, &f, tol);
            }
        }
    }
}

#[test]
fn integer_chains_match_unfused_and_cpu() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(2);
    let chains: Vec<(&str, Chain)> = vec![
        ("arith", |t| (&t[0] * 3.0 + &t[1]) - t[1].abs() * &t[0]),
        ("neg/relu/sign", |t| (-&t[0]).relu() + t[1].sign() * 7.0 - t[0].maximum(&t[1])),
        ("clamp/min/pow", |t| {
            t[0].clamp(Some(-4.0), Some(4.0)).minimum(&t[1]).pow(&t[1].abs().clamp(Some(0.0), Some(3.0))) + 1.0
        }),
        ("floor keeps ints", |t| (t[0].floor() + t[1].round()) * 2.0),
    ];
    for n in [1, 7, 1000, 65537] {
        let ins = [input(&mut rng, &[n], DType::I64), input(&mut rng, &[n], DType::I64)];
        for (name, f) in &chains {
            check(&format!("{name} (I64, {n})"), dev, &ins, f, 0.0);
        }
    }
    // Integer true division leaves the integers (a cast): the chain around it still agrees.
    let ins = [input(&mut rng, &[33], DType::I64), input(&mut rng, &[33], DType::I64)];
    check("i64 / i64 -> f32", dev, &ins, &|t| (&t[0] + 1.0) / &(t[1].abs() + 1.0) * 2.0, 1e-6);
}

#[test]
fn broadcasting_rows_columns_and_scalars() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(3);
    for dtype in [DType::F32, DType::I64] {
        let tol = if dtype == DType::F32 { 1e-5 } else { 0.0 };
        let x = input(&mut rng, &[37, 65], dtype);
        let row = input(&mut rng, &[65], dtype);
        let col = input(&mut rng, &[37, 1], dtype);
        let s = input(&mut rng, &[], dtype);
        let ins = [x, row, col, s];
        check(&format!("row+col+scalar ({dtype})"), dev, &ins, &|t| (&t[0] + &t[1]) * &t[2] - &t[3], tol);
        check(&format!("outer ({dtype})"), dev, &ins, &|t| (&t[2] * 2.0) * (&t[1] + 1.0) + &t[3], tol);
        // a pending row broadcast over the rows is computed first, then read with stride 0
        check(&format!("pending row broadcast ({dtype})"), dev, &ins, &|t| (&t[1] * 3.0 - 1.0) + &t[0], tol);
        check(&format!("3-d ({dtype})"), dev, &ins, &|t| (t[0].reshape(&[1, 37, 65]) + &t[2]).maximum(&t[3]), tol);
    }
}

#[test]
fn views_of_inputs_and_of_pending_results() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(4);
    let ins = [input(&mut rng, &[23, 41], DType::F32), input(&mut rng, &[41, 23], DType::F32)];
    let views: Vec<(&str, Chain)> = vec![
        ("transposed input", |t| (t[0].t() * 2.0 + &t[1]).relu()),
        ("sliced input", |t| t[0].narrow(1, 3, 20).exp() - t[1].narrow(0, 1, 23).t().narrow(1, 0, 20)),
        ("expanded input", |t| t[0].narrow(0, 0, 1).expand(&[5, 41]) * 0.5 + 1.0),
        ("transpose of pending", |t| (&t[0] * 2.0 + 1.0).t() - &t[1]),
        ("slice of pending", |t| (&t[0] + 1.0).narrow(1, 5, 10).sqrt() * 3.0),
        ("expand of pending", |t| (t[0].narrow(0, 2, 1) * 2.0).expand(&[9, 41]) + 0.5),
        ("reshape of pending", |t| (&t[0] - 0.5).reshape(&[41, 23]) * &t[1]),
        ("permute+contiguous", |t| (t[1].t() + &t[0]).unsqueeze(0).permute(&[2, 0, 1]).contiguous() * 2.0),
        ("select of pending", |t| (&t[0] * 3.0).select(0, 4).exp()),
    ];
    for (name, f) in views {
        check(name, dev, &ins, &f, 1e-5);
    }
}

#[test]
fn pending_results_consumed_twice_and_shared_subexpressions() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(5);
    let ins = [input(&mut rng, &[1000], DType::F32), input(&mut rng, &[1000], DType::F32)];
    check(
        "two consumers",
        dev,
        &ins,
        &|t| {
            let b = &t[0] * 2.0 + &t[1];
            let c1 = b.exp() * 0.01;
            let c2 = &b * 3.0;
            let first = c1.to_vec::<f32>(); // c1 computed (b inlined and written), then c2 reads b
            assert_eq!(first.len(), 1000);
            c2 - c1 + &b
        },
        1e-5,
    );
    // A doubling DAG: each level uses the previous one twice. As a tree it has 2^40 nodes; the
    // expression is computed in bounded pieces.
    check(
        "doubling dag",
        dev,
        &[input(&mut rng, &[777], DType::F32).abs() * 0.1],
        &|t| {
            let mut x = t[0].clone();
            for _ in 0..40 {
                x = (&x * &x + &x) * 0.5;
            }
            x
        },
        1e-5,
    );
}

#[test]
fn chains_past_the_node_cap_and_the_input_limit() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(6);
    let ins = [input(&mut rng, &[1001], DType::F32), input(&mut rng, &[1001], DType::F32)];
    check(
        "300-op chain",
        dev,
        &ins,
        &|t| {
            let mut x = t[0].clone();
            for k in 0..100 {
                x = ((&x * 0.9 + &t[1]) * 0.5).tanh() + f64::from(k) * 1e-3;
            }
            x
        },
        1e-4,
    );
    let many: Vec<Tensor> = (0..40).map(|_| input(&mut rng, &[513], DType::F32)).collect();
    check(
        "40 distinct inputs",
        dev,
        &many,
        &|t| {
            let mut acc = t[0].clone();
            for (k, x) in t.iter().enumerate().skip(1) {
                acc = if k % 2 == 0 { acc + x } else { acc - x * 0.5 };
            }
            acc
        },
        1e-5,
    );
    let many: Vec<Tensor> = (0..30).map(|_| input(&mut rng, &[70], DType::I64)).collect();
    check("30 distinct i64 inputs", dev, &many, &|t| t.iter().skip(1).fold(t[0].clone(), |a, x| a * 3.0 - x), 0.0);
}

#[test]
fn pending_results_feed_every_other_kind_of_op() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(7);
    let ins = [input(&mut rng, &[31, 17], DType::F32), input(&mut rng, &[17, 9], DType::F32)];
    let ops: Vec<(&str, Chain)> = vec![
        ("matmul", |t| (&t[0] * 2.0).relu().matmul(&(&t[1] + 1.0)) - 1.0),
        ("linear-like", |t| ((t[0].matmul(&t[1]) + &t[1].narrow(0, 0, 1)).relu() * 2.0).sum_dim(1, false)),
        ("sum", |t| (t[0].exp() * 0.5).sum()),
        ("mean_dim", |t| (&t[0] - 1.0).abs().mean_dim(0, true) + 1.0),
        ("max_dim", |t| (&t[0] * -1.0).max_dim(1, false) * 2.0),
        ("softmax", |t| (&t[0] * 3.0).softmax(1).log()),
        ("index_select", |t| {
            (&t[0] + 2.0).index_select(0, &Tensor::from_vec(vec![3i64, 0, 30], &[3]).to(&t[0].device()))
        }),
        ("gather", |t| (t[0].sin()).gather(1, &Tensor::from_vec(vec![16i64; 31], &[31, 1]).to(&t[0].device()))),
        ("cat", |t| Tensor::cat(&[&t[0] * 2.0, t[0].exp()], 0) + 1.0),
        ("to_dtype", |t| (&t[0] * 10.0).to_dtype(DType::I64).to_dtype(DType::F32) + 0.5),
        ("compare/where", |t| (&t[0] * 2.0).where_(&(&t[0] + 1.0).gt_scalar(0.5), &t[0].exp())),
        ("cumsum", |t| (&t[0] * 0.5).cumsum(1) - 1.0),
    ];
    for (name, f) in ops {
        check(name, dev, &ins, &f, 1e-4);
    }
}

#[test]
fn full_tensors_and_explicit_flush() {
    let Some(dev) = gpu() else { return };
    let z = Tensor::try_full_on(&[3, 5], 2.5, DType::F32, &dev).unwrap();
    let o = Tensor::try_full_on(&[3, 5], 7.0, DType::I64, &dev).unwrap();
    assert_eq!(z.to_vec::<f32>(), vec![2.5; 15]);
    assert_eq!((o * 2.0 + 1.0).to_vec::<i64>(), vec![15; 15]);
    // A large full read by a matmul is filled first (the fill kernel path).
    let big = Tensor::try_full_on(&[64, 64], 0.5, DType::F32, &dev).unwrap();
    let m = big.matmul(&(Tensor::try_full_on(&[64, 3], 1.0, DType::F32, &dev).unwrap() * 2.0));
    assert_eq!(m.to_vec::<f32>(), vec![64.0; 192]);
    let x = Tensor::arange(0.0, 10.0, 1.0).to(&dev);
    let y = (&x * 2.0 + 1.0).relu();
    gpu_realize(&y).unwrap();
    gpu_realize(&y).unwrap(); // computed once; a second call does nothing
    assert_eq!(y.to_vec::<f32>(), (0..10).map(|v| 2.0 * v as f32 + 1.0).collect::<Vec<_>>());
    // Too large for any buffer: still an error at the op, as without fusion.
    let e = Tensor::try_full_on(&[1 << 40], 0.0, DType::F32, &dev).unwrap_err();
    assert!(matches!(e, ember_tensor::Error::OutOfMemory(_)), "{e}");
    gpu_realize(&Tensor::ones(&[2])).unwrap(); // a CPU tensor: nothing to do
}

#[test]
fn threads_record_and_compute_shared_pending_results() {
    let Some(dev) = gpu() else { return };
    let x = Tensor::arange(0.0, 4096.0, 1.0).to(&dev);
    let shared = (&x * 0.5 + 1.0).sqrt();
    let want: Vec<f32> = (0..4096).map(|v| (v as f32 * 0.5 + 1.0).sqrt() * 2.0 + 1.0).collect();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = shared.clone();
            std::thread::spawn(move || (&s * 2.0 + 1.0).to_vec::<f32>())
        })
        .collect();
    for h in handles {
        let got = h.join().unwrap();
        assert_allclose(
            "threads",
            &got.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
            &want.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
            1e-6,
            1e-6,
        );
    }
}
