//! GPU vs CPU parity of the elementwise families (unary, binary, scalar forms) on random inputs:
//! several shapes, sizes that are not multiples of the workgroup, empty and 1-element tensors,
//! non-contiguous views (transpose, narrow, expand, permute) and broadcasting.

mod gpu_util;

use ember_tensor::{DType, Device, Tensor};
use ember_testutil::assert_allclose;
use gpu_util::{gpu, has_f64, Rng};

type View = fn(&Tensor) -> Tensor;

/// (base shape, view applied to the base on both devices, name).
fn views() -> Vec<(Vec<usize>, View, &'static str)> {
    vec![
        (vec![], |t| t.clone(), "0-d"),
        (vec![0], |t| t.clone(), "empty"),
        (vec![3, 0], |t| t.clone(), "empty 2-d"),
        (vec![1], |t| t.clone(), "1 element"),
        (vec![63], |t| t.clone(), "63"),
        (vec![65], |t| t.clone(), "65"),
        (vec![1000], |t| t.clone(), "1000"),
        (vec![70000], |t| t.clone(), "70000"),
        (vec![37, 41], |t| t.transpose(0, 1), "transpose"),
        (vec![10, 20], |t| t.narrow(1, 2, 13), "narrow"),
        (vec![1, 50], |t| t.expand(&[30, 50]), "expand"),
        (vec![4, 5, 6], |t| t.permute(&[2, 0, 1]).narrow(0, 1, 4), "permute+narrow"),
        (vec![3, 1, 7], |t| t.squeeze(1).t(), "squeeze+t"),
    ]
}

fn tol(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

/// Checks that `f` gives the same result on the GPU as on the CPU.
fn check(what: &str, dev: Device, inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Tensor) {
    let want = f(inputs);
    let on_gpu: Vec<Tensor> = inputs.iter().map(|t| t.to(&dev)).collect();
    let got = f(&on_gpu);
    assert_eq!(got.device(), dev, "{what}: result device");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let t = tol(want.dtype());
    assert_allclose(what, &got.to_vec::<f64>(), &want.to_vec::<f64>(), t, t);
}

fn random(rng: &mut Rng, shape: &[usize], dtype: DType, lo: f64, hi: f64) -> Tensor {
    let n = shape.iter().product();
    let v = rng.vec(n, lo, hi);
    let t = Tensor::from_vec(v, shape);
    if dtype == DType::I64 {
        t.floor().to_dtype(DType::I64)
    } else {
        t.to_dtype(dtype)
    }
}

/// Values where the special cases live: zeros, infinities, NaN, large magnitudes, halves.
fn specials(dtype: DType) -> Tensor {
    let v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1e-8,
        -1e-8,
        19.5,
        25.0,
        -30.0,
        88.0,
        -100.0,
        700.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let n = v.len();
    Tensor::from_vec(v, &[n]).to_dtype(dtype)
}

type Unary = (&'static str, fn(&Tensor) -> Tensor, bool);

fn unary_ops() -> Vec<Unary> {
    // (name, op, keeps integers)
    vec![
        ("neg", |t| t.neg(), true),
        ("abs", |t| t.abs(), true),
        ("exp", |t| t.exp(), false),
        ("log", |t| t.log(), false),
        ("log1p", |t| t.log1p(), false),
        ("sqrt", |t| t.sqrt(), false),
        ("rsqrt", |t| t.rsqrt(), false),
        ("sin", |t| t.sin(), false),
        ("cos", |t| t.cos(), false),
        ("tanh", |t| t.tanh(), false),
        ("sigmoid", |t| t.sigmoid(), false),
        ("relu", |t| t.relu(), true),
        ("gelu", |t| t.gelu(), false),
        ("silu", |t| t.silu(), false),
        ("softplus", |t| t.softplus(), false),
        ("sign", |t| t.sign(), true),
        ("floor", |t| t.floor(), true),
        ("ceil", |t| t.ceil(), true),
        ("round", |t| t.round(), true),
        ("recip", |t| t.recip(), false),
        ("erf", |t| t.erf(), false),
        ("powf 2", |t| t.powf(2.0), false),
        ("powf 3", |t| t.powf(3.0), false),
        ("powf -1.5", |t| t.powf(-1.5), false),
        ("powf 0.5", |t| t.powf(0.5), false),
        ("clamp", |t| t.clamp(Some(-1.5), Some(2.0)), true),
        ("clamp_min", |t| t.clamp_min(0.25), true),
        ("clamp_max", |t| t.clamp_max(-0.75), true),
        ("leaky_relu", |t| t.leaky_relu(0.01), false),
        ("elu", |t| t.elu(1.3), false),
        ("square", |t| t.square(), true),
    ]
}

#[test]
fn unary_parity() {
    let Some(dev) = gpu() else { return };
    let mut dtypes = vec![DType::F32, DType::I64];
    if has_f64(dev) {
        dtypes.push(DType::F64);
    }
    let mut rng = Rng::new(1);
    for &dtype in &dtypes {
        for (shape, view, vname) in views() {
            let x = view(&random(&mut rng, &shape, dtype, -4.0, 4.0));
            for (name, f, _) in unary_ops() {
                check(&format!("{name} {dtype} {vname}"), dev, std::slice::from_ref(&x), &|t| f(&t[0]));
            }
        }
        if dtype != DType::I64 {
            let x = specials(dtype);
            for (name, f, _) in unary_ops() {
                check(&format!("{name} {dtype} specials"), dev, std::slice::from_ref(&x), &|t| f(&t[0]));
            }
        }
    }
}

#[test]
fn unary_wide_ranges() {
    // Larger magnitudes than unary_parity: argument reduction (sin, cos), overflow (exp, tanh), erf tails.
    let Some(dev) = gpu() else { return };
    let mut dtypes = vec![DType::F32];
    if has_f64(dev) {
        dtypes.push(DType::F64);
    }
    let mut rng = Rng::new(2);
    for dtype in dtypes {
        let x = random(&mut rng, &[4000], dtype, -60.0, 60.0);
        for (name, f, _) in unary_ops() {
            if matches!(name, "powf 3" | "powf -1.5" | "square" | "powf 2") {
                continue;
            }
            check(&format!("{name} {dtype} wide"), dev, std::slice::from_ref(&x), &|t| f(&t[0]));
        }
        let x = random(&mut rng, &[4000], dtype, 1e-6, 1e6);
        for name in ["log", "log1p", "sqrt", "rsqrt"] {
            let f = unary_ops().into_iter().find(|u| u.0 == name).unwrap().1;
            check(&format!("{name} {dtype} positive"), dev, std::slice::from_ref(&x), &|t| f(&t[0]));
        }
    }
}

#[test]
fn int_unary_extremes() {
    let Some(dev) = gpu() else { return };
    let v = vec![0i64, 1, -1, i64::MAX, i64::MIN, 1 << 40, -(1 << 40) - 7, 123_456_789_012];
    let x = Tensor::from_vec(v.clone(), &[v.len()]);
    for (name, f, keeps) in unary_ops() {
        if keeps && name != "square" {
            let got = f(&x.to(&dev)).to_vec::<i64>();
            assert_eq!(got, f(&x).to_vec::<i64>(), "{name} i64 extremes");
        }
    }
}

type Binary = (&'static str, fn(&Tensor, &Tensor) -> Tensor);

fn binary_ops() -> Vec<Binary> {
    vec![
        ("add", |a, b| a.add(b)),
        ("sub", |a, b| a.sub(b)),
        ("mul", |a, b| a.mul(b)),
        ("div", |a, b| a.div(b)),
        ("pow", |a, b| a.pow(b)),
        ("maximum", |a, b| a.maximum(b)),
        ("minimum", |a, b| a.minimum(b)),
    ]
}

type Pair = (Vec<usize>, Vec<usize>, fn(&Tensor) -> Tensor, &'static str);

fn pairs() -> Vec<Pair> {
    vec![
        (vec![], vec![], |t| t.clone(), "0-d"),
        (vec![1], vec![1], |t| t.clone(), "1 element"),
        (vec![0, 3], vec![3], |t| t.clone(), "empty"),
        (vec![65], vec![65], |t| t.clone(), "65"),
        (vec![70000], vec![70000], |t| t.clone(), "70000"),
        (vec![1000], vec![], |t| t.clone(), "tensor-scalar"),
        (vec![], vec![63], |t| t.clone(), "scalar-tensor"),
        (vec![3, 1, 5], vec![4, 5], |t| t.clone(), "broadcast both"),
        (vec![37, 41], vec![41, 37], |t| t.t(), "transposed rhs"),
        (vec![6, 20], vec![20, 20], |t| t.narrow(0, 3, 6), "narrowed rhs"),
        (vec![30, 50], vec![1, 50], |t| t.expand(&[30, 50]), "expanded rhs"),
        (vec![2, 3, 4, 5, 6], vec![6, 1, 3, 1, 5], |t| t.permute(&[1, 2, 3, 4, 0]), "rank 5 permuted"),
    ]
}

#[test]
fn binary_parity() {
    let Some(dev) = gpu() else { return };
    let mut dtypes = vec![DType::F32, DType::I64];
    if has_f64(dev) {
        dtypes.push(DType::F64);
    }
    let mut rng = Rng::new(3);
    for &dtype in &dtypes {
        for (sa, sb, view, pname) in pairs() {
            let a = random(&mut rng, &sa, dtype, -3.0, 3.0);
            let b = view(&random(&mut rng, &sb, dtype, -3.0, 3.0));
            for (name, f) in binary_ops() {
                let b = if name == "pow" && dtype == DType::I64 { b.abs() } else { b.clone() };
                check(&format!("{name} {dtype} {pname}"), dev, &[a.clone(), b], &|t| f(&t[0], &t[1]));
            }
        }
        if dtype != DType::I64 {
            let a = specials(dtype);
            let b = specials(dtype).flip_for_test();
            for (name, f) in binary_ops() {
                check(&format!("{name} {dtype} specials"), dev, &[a.clone(), b.clone()], &|t| f(&t[0], &t[1]));
            }
        }
    }
}

trait FlipForTest {
    fn flip_for_test(&self) -> Tensor;
}

impl FlipForTest for Tensor {
    /// The elements in reverse order (a CPU helper; `flip` belongs to another family).
    fn flip_for_test(&self) -> Tensor {
        let mut v = self.to_vec::<f64>();
        v.reverse();
        Tensor::from_vec(v, self.shape()).to_dtype(self.dtype())
    }
}

#[test]
fn int_binary_wraps_like_the_cpu() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(4);
    let n = 5000;
    let a: Vec<i64> = (0..n).map(|_| rng.next_u64() as i64).collect();
    let b: Vec<i64> =
        (0..n).map(|i| if i % 3 == 0 { (rng.next_u64() % 50) as i64 } else { rng.next_u64() as i64 }).collect();
    let (a, b) = (Tensor::from_vec(a, &[n]), Tensor::from_vec(b, &[n]));
    for (name, f) in binary_ops() {
        if name == "div" {
            continue;
        }
        let got = f(&a.to(&dev), &b.to(&dev)).to_vec::<i64>();
        assert_eq!(got, f(&a, &b).to_vec::<i64>(), "{name} i64 full range");
    }
}

#[test]
fn scalar_forms_and_operators() {
    let Some(dev) = gpu() else { return };
    let mut rng = Rng::new(5);
    for dtype in [DType::F32, DType::I64] {
        let x = random(&mut rng, &[7, 9], dtype, -5.0, 5.0);
        let fs: Vec<(&str, View)> = vec![
            ("add_scalar", |t| t.add_scalar(2.0)),
            ("sub_scalar", |t| t.sub_scalar(0.5)),
            ("mul_scalar", |t| t * 3.0),
            ("div_scalar", |t| t / 4.0),
            ("rsub", |t| 1.0 - t),
            ("rdiv", |t| 2.0 / t),
            ("pow_scalar", |t| t.pow_scalar(2.0)),
            ("maximum_scalar", |t| t.maximum_scalar(0.0)),
            ("neg op", |t| -t),
            ("chain", |t| ((t * 2.0 + 1.0).abs() + t.t().t()).relu()),
        ];
        for (name, f) in fs {
            check(&format!("{name} {dtype}"), dev, std::slice::from_ref(&x), &|t| f(&t[0]));
        }
    }
}

#[test]
fn errors_name_the_op() {
    let Some(dev) = gpu() else { return };
    let g = Tensor::ones(&[3]).to(&dev);
    let c = Tensor::ones(&[3]);
    let e = g.try_add(&c).unwrap_err().to_string();
    assert!(e.contains("add") && e.contains("gpu:0") && e.contains("cpu"), "{e}");
    let b = Tensor::ones(&[3]).to_dtype(DType::Bool).to(&dev);
    let e = b.try_add(&b).unwrap_err().to_string();
    assert!(e.contains("add") && e.contains("Bool"), "{e}");
    let e = g.try_add(&Tensor::ones(&[4]).to(&dev)).unwrap_err().to_string();
    assert!(e.contains("add") && e.contains("[3]") && e.contains("[4]"), "{e}");
    // Ops without a GPU kernel run on the host and return their result on the GPU.
    let img = Tensor::ones(&[1, 1, 4, 4]).to(&dev);
    let y = img.avg_pool2d([2, 2], [2, 2], [0, 0], false, true);
    assert_eq!((y.device(), y.to_vec::<f32>()), (dev, vec![1.0; 4]));
}

#[test]
#[should_panic(expected = "add: expected all tensors on the same device")]
fn mixing_devices_panics_with_the_op_name() {
    let Some(dev) = gpu() else { panic!("add: expected all tensors on the same device (no GPU: skipped)") };
    let _ = &Tensor::ones(&[2]).to(&dev) + &Tensor::ones(&[2]);
}
