//! The native GPU kernels of comparisons, where/masked_fill, softmax, reductions, arg-reductions,
//! indexing and scatter-adds, convolutions and pooling against the CPU on many shapes: sizes that
//! are not multiples of the workgroup (0, 1, 63, 65, 1000, 70000), non-contiguous views, and the
//! exactness of atomic scatter-adds under heavy collisions.

#[macro_use]
mod gpu_util;

use ember_tensor::{DType, Error, Result, Tensor};
use gpu_util::{gpu, run_table, Case, Rng};

fn ok<T>(v: T) -> Result<T> {
    Ok::<T, Error>(v)
}

fn rnd(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n = shape.iter().product();
    let t = Tensor::from_vec(Rng::new(seed).vec(n, -3.0, 3.0), shape);
    if dtype == DType::I64 {
        t.floor().to_dtype(DType::I64)
    } else {
        t.to_dtype(dtype)
    }
}

fn ints(n: usize, seed: u64, hi: i64) -> Tensor {
    let mut r = Rng::new(seed);
    Tensor::from_vec((0..n).map(|_| r.uniform(0.0, hi as f64).floor() as i64).collect(), &[n])
}

type View = fn(&Tensor) -> Tensor;

/// (base shape, view, name): the view is applied on the device, so kernels see strided inputs.
fn views() -> Vec<(Vec<usize>, View, &'static str)> {
    vec![
        (vec![0], |t| t.clone(), "0"),
        (vec![1], |t| t.clone(), "1"),
        (vec![63], |t| t.clone(), "63"),
        (vec![65], |t| t.clone(), "65"),
        (vec![1000], |t| t.clone(), "1000"),
        (vec![70000], |t| t.clone(), "70000"),
        (vec![37, 41], |t| t.transpose(0, 1), "transpose"),
        (vec![10, 20], |t| t.narrow(1, 2, 13), "narrow"),
        (vec![1, 50], |t| t.expand(&[30, 50]), "expand"),
        (vec![4, 5, 6], |t| t.permute(&[2, 0, 1]).narrow(0, 1, 4), "permute+narrow"),
    ]
}

fn cases(dtype: DType) -> Vec<Case> {
    let mut v = vec![];
    for (i, (shape, view, name)) in views().into_iter().enumerate() {
        let s = i as u64 * 10;
        let what = |op: &str| format!("{op} {name} {dtype}");
        let (a, b, c) =
            (rnd(&shape, s, dtype), rnd(&shape, s + 1, dtype), rnd(&shape, s + 2, DType::F32).gt_scalar(0.0));
        v.push(case!(true, what("compare"), [a.clone(), b.clone()], |t| {
            let (x, y) = (view(&t[0]), view(&t[1]));
            ok(vec![x.lt(&y), x.ge(&y), x.eq(&x), x.ne_scalar(1.0), x.isnan(), x.isfinite(), x.logical_not()])
        }));
        v.push(case!(true, what("where masked_fill"), [a.clone(), b.clone(), c.clone()], |t| {
            let (x, y, m) = (view(&t[0]), view(&t[1]), view(&t[2]));
            ok(vec![x.where_(&m, &y), x.masked_fill(&m, -7.0), m.logical_and(&x.gt_scalar(0.0))])
        }));
        v.push(case!(true, what("reductions"), [a.clone()], |t| {
            let x = view(&t[0]);
            let last = x.rank() - 1;
            let mut r = vec![x.sum(), x.sum_dim(0, true), x.sum_dim(last, false), x.any(), x.all_dim(0, false)];
            if x.numel() > 0 {
                r.extend([x.max(), x.min_dim(last, true), x.argmax(0, false), x.argmin_all()]);
            }
            if dtype.is_float() {
                r.extend([x.mean_dim(0, false), x.softmax(last), x.log_softmax(0)]);
            }
            ok(r)
        }));
        let n = shape.iter().product::<usize>();
        v.push(case!(true, what("index"), [a.clone(), ints(n.max(1) * 2, s + 3, shape[0] as i64)], |t| {
            let x = view(&t[0]);
            let d0 = x.shape()[0] as i64;
            let idx = t[1].remainder_below(d0);
            if x.numel() == 0 {
                return x.try_index_select(0, &idx).map(|t| vec![t]);
            }
            let mut r = vec![x.index_select(0, &idx)];
            if x.numel() > 0 {
                let g = idx.narrow(0, 0, x.shape()[0]).reshape(&[-1]);
                let mut gshape = vec![1; x.rank()];
                gshape[0] = g.numel();
                r.push(x.gather(0, &g.reshape(&gshape)));
            }
            ok(r)
        }));
    }
    v
}

trait RemainderBelow {
    fn remainder_below(&self, n: i64) -> Tensor;
}

impl RemainderBelow for Tensor {
    /// `self % n` for non-negative I64 values (as a CPU computation re-uploaded to `self`'s device).
    fn remainder_below(&self, n: i64) -> Tensor {
        let v: Vec<i64> = self.to_vec::<i64>().iter().map(|&x| x % n.max(1)).collect();
        Tensor::from_vec(v, self.shape()).to(&self.device())
    }
}

#[test]
fn kernels_match_the_cpu_on_many_shapes() {
    let Some(dev) = gpu() else { return };
    for dtype in [DType::F32, DType::F64, DType::I64] {
        let cases = cases(dtype);
        run_table(dev, &cases);
    }
}

/// Atomic scatter-adds lose no update however many indices collide: sums of ones are exact in
/// f32 up to 2^24, and I64 sums carry from the low word exactly.
#[test]
fn scatter_add_is_exact_under_collisions() {
    let Some(dev) = gpu() else { return };
    let n = 200_000;
    let idx = Tensor::from_vec(vec![0i64; n], &[n]).to(&dev);
    let ones = Tensor::ones(&[n]).to(&dev);
    let z = Tensor::zeros(&[2]).to(&dev);
    assert_eq!(z.scatter_add(0, &idx, &ones).to_vec::<f32>(), vec![n as f32, 0.0]);
    let spread = Tensor::from_vec((0..n as i64).map(|i| i % 3).collect(), &[n]).to(&dev);
    let counts = Tensor::zeros(&[3]).to(&dev).index_add(0, &spread, &ones).to_vec::<f32>();
    assert_eq!(counts, vec![66667.0, 66667.0, 66666.0]);
    let big: Vec<i64> = (0..5000).map(|i| if i % 7 == 0 { -(1 << 40) } else { 0xFFFF_FFFF }).collect();
    let want: i64 = big.iter().fold(i64::MAX - 3, |a, &b| a.wrapping_add(b));
    let src = Tensor::from_vec(big, &[5000]).to(&dev);
    let dst = Tensor::from_vec(vec![i64::MAX - 3], &[1]).to(&dev);
    let got = dst.scatter_add(0, &Tensor::from_vec(vec![0i64; 5000], &[5000]).to(&dev), &src);
    assert_eq!(got.to_vec::<i64>(), vec![want]);
    // Embedding gradients: many rows into few (every row of the weight gets its count).
    let rows = Tensor::from_vec((0..3000).map(|i| i % 5).collect::<Vec<i64>>(), &[30, 100]).to(&dev);
    let g = Tensor::embedding_backward(&Tensor::ones(&[30, 100, 4]).to(&dev), &rows, 5);
    assert_eq!(g.to_vec::<f32>(), vec![600.0; 20]);
}

/// An index out of range on the GPU is the CPU's error, for huge and negative values too, and the
/// device stays usable.
#[test]
fn out_of_range_indices_are_errors() {
    let Some(dev) = gpu() else { return };
    let w = Tensor::ones(&[4, 3]);
    for bad in [4i64, -1, i64::MAX, i64::MIN, 1 << 32] {
        let i = Tensor::from_vec(vec![0, 3, bad, 1, bad], &[5]);
        let cpu = Tensor::try_embedding(&w, &i).unwrap_err();
        let gpu = Tensor::try_embedding(&w.to(&dev), &i.to(&dev)).unwrap_err();
        assert_eq!(gpu, cpu, "embedding {bad}");
        assert!(matches!(gpu, Error::IndexOutOfRange { index, size: 4, .. } if index == bad), "{gpu}");
        let g = w.to(&dev).try_gather(0, &i.reshape(&[5, 1]).to(&dev)).unwrap_err();
        assert_eq!(g, w.try_gather(0, &i.reshape(&[5, 1])).unwrap_err());
        let s = w.to(&dev).try_index_add(0, &i.to(&dev), &Tensor::ones(&[5, 3]).to(&dev)).unwrap_err();
        assert_eq!(s, w.try_index_add(0, &i, &Tensor::ones(&[5, 3])).unwrap_err());
    }
    let e = (Tensor::ones(&[3]).to(&dev) * 2.0).to_vec::<f32>();
    assert_eq!(e, vec![2.0; 3]);
}

/// Larger convolutions and pools (several workgroups, odd sizes) against the CPU.
#[test]
fn conv_and_pool_on_larger_shapes() {
    let Some(dev) = gpu() else { return };
    // F64, so sums over hundreds of products compare at 1e-10 (the kernels are dtype-generic).
    let x = rnd(&[2, 6, 33, 31], 1, DType::F64);
    let w = rnd(&[8, 3, 3, 5], 2, DType::F64);
    let b = rnd(&[8], 3, DType::F64);
    let cases = vec![
        case!(true, "conv2d large", [x.clone(), w.clone(), b.clone()], |t| {
            let y = t[0].try_conv2d(&t[1], Some(&t[2]), [2, 1], [1, 2], [1, 2], 2)?;
            let dy = y.sin();
            ok(vec![
                Tensor::conv2d_backward_input(&dy, &t[1], t[0].shape(), [2, 1], [1, 2], [1, 2], 2),
                Tensor::conv2d_backward_weight(&dy, &t[0], t[1].shape(), [2, 1], [1, 2], [1, 2], 2),
                y,
            ])
        }),
        case!(true, "conv2d transposed input", [x.clone(), rnd(&[4, 6, 1, 1], 4, DType::F64)], |t| {
            t[0].transpose(2, 3).try_conv2d(&t[1], None, [1, 1], [0, 0], [1, 1], 1)
        }),
        case!(true, "max_pool2d large", [rnd(&[3, 5, 130, 111], 5, DType::F32)], |t| {
            let (y, i) = t[0].try_max_pool2d_with_indices([3, 3], [2, 2], [1, 1], [1, 1], false)?;
            ok(vec![Tensor::max_pool2d_backward(&y, &i, t[0].shape()), y, i])
        }),
    ];
    run_table(dev, &cases);
}
