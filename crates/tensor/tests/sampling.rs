//! `multinomial` (its distribution, checked statistically, seeding, and its errors) and the integer
//! `arange` (`I64` from integer arguments, as PyTorch).

use ember_tensor::{manual_seed, DType, Tensor};

/// Pearson's chi-square statistic of observed counts against expected probabilities.
fn chi_square(counts: &[usize], p: &[f64]) -> f64 {
    let n: usize = counts.iter().sum();
    counts.iter().zip(p).map(|(&c, &p)| (c as f64 - n as f64 * p).powi(2) / (n as f64 * p)).sum()
}

/// One test: the generator is process-wide, so the seeded draws must not interleave with another
/// test's.
#[test]
fn multinomial_distribution_and_seeding() {
    manual_seed(11);
    // with replacement: counts follow w / sum(w) (chi-square, 3 dof: 99.99% quantile is 21.1)
    let w = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
    let n = 40_000;
    let s = w.multinomial(n, true);
    assert_eq!((s.shape(), s.dtype()), (&[n][..], DType::I64));
    let mut counts = [0usize; 4];
    for i in s.to_vec::<i64>() {
        counts[i as usize] += 1;
    }
    let chi = chi_square(&counts, &[0.1, 0.2, 0.3, 0.4]);
    assert!(chi < 21.1, "counts {counts:?}: chi-square {chi}");

    // without replacement, 2 of 3 per row over many rows: the pair (first, second) has probability
    // p_i p_j / (1 - p_i); each row's two draws differ
    let rows = 30_000;
    let p = [0.5, 0.3, 0.2];
    let w = Tensor::from_vec(p.iter().cycle().take(3 * rows).map(|&x| x * 7.0).collect::<Vec<f64>>(), &[rows, 3]);
    let s = w.multinomial(2, false);
    assert_eq!(s.shape(), &[rows, 2]);
    let v = s.to_vec::<i64>();
    let mut pairs = [0usize; 9];
    for r in v.chunks(2) {
        assert_ne!(r[0], r[1], "a row drew the same category twice without replacement");
        pairs[(r[0] * 3 + r[1]) as usize] += 1;
    }
    let (mut obs, mut exp) = (vec![], vec![]);
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                obs.push(pairs[i * 3 + j]);
                exp.push(p[i] * p[j] / (1.0 - p[i]));
            }
        }
    }
    let chi = chi_square(&obs, &exp); // 5 dof: 99.99% quantile is 25.7
    assert!(chi < 25.7, "pair counts {obs:?}: chi-square {chi}");

    // a zero weight is never drawn; asking for every category without replacement gives a permutation
    let w = Tensor::from_vec(vec![0.0f32, 5.0, 0.0, 1.0, 2.0], &[5]);
    let draws = w.multinomial(1000, true).to_vec::<i64>();
    assert!(draws.iter().all(|&i| i != 0 && i != 2));
    let mut perm = Tensor::from_vec(vec![1.0f32, 1.0, 1.0, 1.0], &[4]).multinomial(4, false).to_vec::<i64>();
    perm.sort();
    assert_eq!(perm, vec![0, 1, 2, 3]);

    // seeded: the same seed repeats the same draws
    manual_seed(5);
    let a = Tensor::rand(&[3, 6]).multinomial(4, true).to_vec::<i64>();
    manual_seed(5);
    let b = Tensor::rand(&[3, 6]).multinomial(4, true).to_vec::<i64>();
    assert_eq!(a, b);
}

#[track_caller]
fn multinomial_fails(w: Tensor, k: usize, replacement: bool, needles: &[&str]) {
    let e = w.try_multinomial(k, replacement).expect_err("should fail").to_string();
    for n in needles {
        assert!(e.contains(n), "{e:?} should mention {n:?}");
    }
    let p = std::panic::catch_unwind(|| w.multinomial(k, replacement)).expect_err("should panic");
    let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("multinomial"), "{msg:?}");
}

#[test]
fn multinomial_errors() {
    let v = |x: Vec<f32>| {
        let n = x.len();
        Tensor::from_vec(x, &[n])
    };
    multinomial_fails(Tensor::ones(&[2, 2, 2]), 1, true, &["multinomial", "1 or 2 dim", "[2, 2, 2]"]);
    multinomial_fails(Tensor::from_vec(vec![1i64, 2], &[2]), 1, true, &["multinomial", "floating point", "I64"]);
    multinomial_fails(v(vec![1.0, -1.0]), 1, true, &["multinomial", "element < 0"]);
    multinomial_fails(v(vec![1.0, f32::NAN]), 1, true, &["multinomial", "nan"]);
    multinomial_fails(v(vec![0.0, 0.0]), 1, true, &["multinomial", "sum of probabilities <= 0"]);
    multinomial_fails(v(vec![1.0, 1.0]), 3, false, &["multinomial", "num_samples = 3 > prob_dist.size(-1) = 2"]);
    multinomial_fails(v(vec![1.0, 0.0, 0.0]), 2, false, &["multinomial", "not enough", "1 nonzero"]);
    multinomial_fails(v(vec![1.0, 1.0]), 0, true, &["multinomial", "num_samples = 0"]);
}

#[test]
fn arange_over_integers_is_i64() {
    let t = Tensor::arange(0, 5, 1);
    assert_eq!((t.dtype(), t.to_vec::<i64>()), (DType::I64, vec![0, 1, 2, 3, 4]));
    let t = Tensor::arange(10i64, 0i64, -3i64);
    assert_eq!(t.to_vec::<i64>(), vec![10, 7, 4, 1]);
    let n: usize = 4;
    assert_eq!(Tensor::arange(1, n, 2).to_vec::<i64>(), vec![1, 3]);
    assert_eq!(Tensor::arange(3, 3, 1).shape(), &[0]);
    // exact beyond f64's 2^53
    let big = (1i64 << 60) + 1;
    assert_eq!(Tensor::arange(big, big + 2, 1).to_vec::<i64>(), vec![big, big + 1]);
    // any float argument gives F32, as torch.arange's default dtype
    let t = Tensor::arange(0, 2, 0.5);
    assert_eq!((t.dtype(), t.to_vec::<f32>()), (DType::F32, vec![0.0, 0.5, 1.0, 1.5]));
    assert_eq!(Tensor::arange(0.0, 3.0, 1.0).dtype(), DType::F32);
    let e = Tensor::try_arange_i64(0, 5, 0).unwrap_err().to_string();
    assert!(e.contains("arange") && e.contains("step 0"), "{e}");
    let e = Tensor::try_arange_i64(0, 5, -1).unwrap_err().to_string();
    assert!(e.contains("arange") && e.contains("inconsistent"), "{e}");
    let p = std::panic::catch_unwind(|| Tensor::arange(5, 0, 1)).expect_err("should panic");
    assert!(p.downcast_ref::<String>().unwrap().contains("arange"));
}
