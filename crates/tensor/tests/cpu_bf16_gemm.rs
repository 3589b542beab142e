//! BF16 `matmul` / `linear` on the CPU (`cpu/bf16_gemm.rs`, AVX512-BF16 where the CPU has it,
//! else the widened f32 path), against an f64 reference of the same bf16 operands rounded once to
//! bf16: small-integer operands (every sum exact in f32, so the result is bit-exact), normal
//! random operands (within one bf16 step of the reference), odd K, edges of the 12 x 32 tiles,
//! transposed and strided views, broadcast batches, a bias, infinities, NaN and overflow.

use ember_tensor::{DType, Tensor};

/// `[.., m, k] @ [.., k, n]` in f64 from the bf16 values (batch dims broadcast by `matmul`).
fn reference(a: &Tensor, b: &Tensor, bias: Option<&Tensor>) -> Vec<f64> {
    let (a, b) = (a.to_dtype(DType::F64), b.to_dtype(DType::F64));
    let c = a.matmul(&b);
    let c = match bias {
        Some(bias) => c.add(&bias.to_dtype(DType::F64)),
        None => c,
    };
    c.to_vec::<f64>()
}

/// The bf16 value nearest `x` (round to nearest even), as f64.
fn bf16_of(x: f64) -> f64 {
    f64::from(half::bf16::from_f64(x).to_f32())
}

fn ints(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7 + seed * 13) % 9) as f32 - 4.0).collect()
}

fn bf(v: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).to_dtype(DType::BF16)
}

fn exact(got: &Tensor, want: &[f64], what: &str) {
    assert_eq!(got.dtype(), DType::BF16, "{what}");
    let g = got.to_vec::<f64>();
    assert_eq!(g.len(), want.len(), "{what}: lengths");
    for (i, (x, w)) in g.iter().zip(want).enumerate() {
        let w = bf16_of(*w);
        assert!(x == &w || (x.is_nan() && w.is_nan()), "{what}: element {i}: got {x}, want {w}");
    }
}

#[test]
fn integer_products_are_bit_exact_at_every_tile_edge() {
    println!("native bf16 kernel: {}", ember_tensor::cpu::bf16_gemm::available());
    // (m, k, n): each at least 2^15 multiply-adds (the native kernel's threshold)
    for (m, k, n) in
        [(37, 301, 45), (13, 64, 40), (100, 7, 50), (2, 2048, 9), (300, 128, 1), (12, 96, 32), (25, 33, 65)]
    {
        let a = bf(ints(m * k, 1), &[m, k]);
        let b = bf(ints(k * n, 2), &[k, n]);
        exact(&a.matmul(&b), &reference(&a, &b, None), &format!("{m}x{k}x{n}"));
        // transposed views: a stored column-major, b stored column-major
        let at = bf(ints(m * k, 3), &[k, m]).t();
        let bt = bf(ints(k * n, 4), &[n, k]).t();
        exact(&at.matmul(&bt), &reference(&at, &bt, None), &format!("{m}x{k}x{n} transposed"));
        // every other column of a wider matrix (a column stride of 2)
        let wide = bf(ints(m * 2 * k, 5), &[m, 2 * k]);
        let strided = wide.reshape(&[m, k, 2]).select(2, 1);
        exact(&strided.matmul(&b), &reference(&strided, &b, None), &format!("{m}x{k}x{n} strided"));
    }
}

#[test]
fn batches_broadcast_and_linear_with_bias() {
    let a = bf(ints(3 * 40 * 65, 6), &[3, 40, 65]);
    let b = bf(ints(65 * 33, 7), &[65, 33]);
    exact(&a.matmul(&b), &reference(&a, &b, None), "[3, 40, 65] @ [65, 33]");
    let b2 = bf(ints(2 * 65 * 33, 8), &[2, 1, 65, 33]);
    exact(&a.matmul(&b2), &reference(&a, &b2, None), "[3, 40, 65] @ [2, 1, 65, 33]");
    let x = bf(ints(50 * 70, 9), &[50, 70]);
    let w = bf(ints(40 * 70, 10), &[40, 70]);
    let bias = bf(ints(40, 11), &[40]);
    exact(&x.linear(&w, Some(&bias)), &reference(&x, &w.t(), Some(&bias)), "linear with bias");
    exact(&x.linear(&w, None), &reference(&x, &w.t(), None), "linear");
    // a batch of rows through linear's 2-d form: [2, 25, 70] flattened by the op
    let x3 = x.reshape(&[2, 25, 70]);
    exact(&x3.linear(&w, Some(&bias)).reshape(&[50, 40]), &reference(&x, &w.t(), Some(&bias)), "3-d linear");
}

#[test]
fn random_products_are_within_one_bf16_step() {
    ember_tensor::manual_seed(17);
    for (m, k, n) in [(64, 300, 70), (129, 513, 47)] {
        let a = Tensor::randn(&[m, k]).to_dtype(DType::BF16);
        let b = Tensor::randn(&[k, n]).to_dtype(DType::BF16);
        let got = a.matmul(&b).to_vec::<f64>();
        let want = reference(&a, &b, None);
        let mut equal = 0;
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            // f32 sums in another order than f64's can cross one rounding boundary of bf16
            let step = bf16_of(w.abs()) * 2f64.powi(-7) + 1e-30;
            assert!((g - w).abs() <= step, "{m}x{k}x{n} element {i}: got {g}, reference {w}");
            equal += usize::from(*g == bf16_of(*w));
        }
        assert!(equal * 100 >= got.len() * 95, "{m}x{k}x{n}: only {equal} of {} round like the reference", got.len());
    }
}

#[test]
fn infinities_nan_and_overflow_follow_ieee() {
    let (m, k, n) = (16, 64, 40);
    let mut av = ints(m * k, 12);
    av[0] = f32::INFINITY; // row 0 meets +inf: +-inf or NaN where the column has 0 at k = 0
    av[k + 3] = f32::NAN; // row 1 is NaN everywhere
    let a = bf(av, &[m, k]);
    let b = bf(ints(k * n, 13), &[k, n]);
    exact(&a.matmul(&b), &reference(&a, &b, None), "specials");
    let got = a.matmul(&b).to_vec::<f32>();
    assert!(got[n..2 * n].iter().all(|x| x.is_nan()), "NaN row");
    // positive terms summing past f32's range: +inf in any order
    let big = bf(vec![1.0e38; m * k], &[m, k]);
    let four = bf(vec![4.0; k * n], &[k, n]);
    exact(&big.matmul(&four), &reference(&big, &four, None), "overflow");
    assert!(big.matmul(&four).to_vec::<f32>().iter().all(|&x| x == f32::INFINITY), "overflow to +inf");
}

#[test]
fn empty_and_small_products_take_the_widened_path() {
    let a = bf(vec![], &[0, 5]);
    let b = bf(ints(5 * 3, 1), &[5, 3]);
    assert_eq!(a.matmul(&b).shape(), &[0, 3]);
    let a = bf(ints(4 * 5, 2), &[4, 5]);
    exact(&a.matmul(&b), &reference(&a, &b, None), "small");
    let k0 = bf(vec![], &[4, 0]).matmul(&bf(vec![], &[0, 3]));
    assert_eq!(k0.to_vec::<f32>(), vec![0.0; 12]);
}
