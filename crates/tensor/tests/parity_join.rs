//! `cat` and `stack` against PyTorch fixtures, f32 and f64, with PyTorch's input gradients (the
//! gradient of a joined input is its slice of the upstream gradient).

mod common;

use common::{assert_close, Fixtures};
use ember_tensor::{DType, Tensor};

/// Checks that the gradient of each input of `case` is its slice of `gout0` along `dim`.
#[track_caller]
fn cat_grads(fx: &Fixtures, case: &str, dim: isize, transposed: &[bool]) {
    let g = fx.get(case, "gout0").expect("gout0");
    let ins = fx.inputs(case);
    let d = if dim < 0 { (dim + g.rank() as isize) as usize } else { dim as usize };
    let mut start = 0;
    for (i, x) in ins.iter().enumerate() {
        let want = fx.get(case, &format!("grad{i}")).expect("grad");
        let got = if x.shape() == [0] {
            x.zeros_like()
        } else {
            let len = if transposed[i] { x.shape()[x.rank() - 1 - d] } else { x.shape()[d] };
            let part = g.narrow(d, start, len);
            start += len;
            if transposed[i] {
                part.t()
            } else {
                part
            }
        };
        assert_close(&got, &want, 0.0, &format!("join/{case}/grad{i}"));
    }
}

/// Checks that the gradient of input `i` of a stack `case` is `gout0.select(dim, i)`.
#[track_caller]
fn stack_grads(fx: &Fixtures, case: &str, dim: isize) {
    let g = fx.get(case, "gout0").expect("gout0");
    for i in 0..fx.inputs(case).len() {
        let want = fx.get(case, &format!("grad{i}")).expect("grad");
        assert_close(&g.select(dim, i as i64), &want, 0.0, &format!("join/{case}/grad{i}"));
    }
}

#[test]
fn join_matches_pytorch() {
    let fx = Fixtures::load("join");
    for sfx in ["f32", "f64"] {
        let c = |n: &str| format!("{n}_{sfx}");
        let cats: [(&str, isize); 7] = [
            ("cat_d0", 0),
            ("cat_d1", 1),
            ("cat_d2", 2),
            ("cat_dneg", -1),
            ("cat_one", 1),
            ("cat_size0", 1),
            ("cat_legacy_empty", 2),
        ];
        for (name, d) in cats {
            fx.check1(&c(name), 0.0, |x| Tensor::cat(x, d));
            let n = fx.inputs(&c(name)).len();
            cat_grads(&fx, &c(name), d, &vec![false; n]);
        }
        fx.check1(&c("cat_t_d0"), 0.0, |x| Tensor::cat(&[x[0].t(), x[1].t()], 0));
        cat_grads(&fx, &c("cat_t_d0"), 0, &[true, true]);
        fx.check1(&c("cat_t_d1"), 0.0, |x| Tensor::cat_refs(&[&x[0].t(), &x[1]], 1));
        cat_grads(&fx, &c("cat_t_d1"), 1, &[true, false]);
        fx.check1(&c("cat_t3"), 0.0, |x| Tensor::cat(&[x[0].transpose(0, 2), x[1].clone()], 1));
        let g = fx.get(&c("cat_t3"), "gout0").unwrap();
        assert_close(&g.narrow(1, 0, 3).transpose(0, 2), &fx.get(&c("cat_t3"), "grad0").unwrap(), 0.0, "cat_t3/grad0");
        assert_close(&g.narrow(1, 3, 3), &fx.get(&c("cat_t3"), "grad1").unwrap(), 0.0, "cat_t3/grad1");

        fx.check1(&c("stack_d0"), 0.0, |x| Tensor::stack(x, 0));
        stack_grads(&fx, &c("stack_d0"), 0);
        fx.check1(&c("stack_mid"), 0.0, |x| Tensor::stack(x, 2));
        stack_grads(&fx, &c("stack_mid"), 2);
        fx.check1(&c("stack_last"), 0.0, |x| Tensor::stack_refs(&[&x[0], &x[1]], 3));
        stack_grads(&fx, &c("stack_last"), 3);
        fx.check1(&c("stack_neg"), 0.0, |x| Tensor::stack(x, -2));
        stack_grads(&fx, &c("stack_neg"), -2);
        fx.check1(&c("stack_t"), 0.0, |x| Tensor::stack(&[x[0].t(), x[1].clone()], 1));
        let g = fx.get(&c("stack_t"), "gout0").unwrap();
        assert_close(&g.select(1, 0).t(), &fx.get(&c("stack_t"), "grad0").unwrap(), 0.0, "stack_t/grad0");
        assert_close(&g.select(1, 1), &fx.get(&c("stack_t"), "grad1").unwrap(), 0.0, "stack_t/grad1");
    }
    fx.check1("cat_i64", 0.0, |x| Tensor::cat(x, 1));
    fx.check1("stack_i64", 0.0, |x| Tensor::stack(x, 1));
    fx.check1("cat_bool", 0.0, |x| Tensor::cat(x, 0));
    fx.finish();
}

#[track_caller]
fn names(e: ember_tensor::Error, parts: &[&str]) {
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "error '{msg}' should mention '{p}'");
    }
}

#[test]
fn join_errors_name_the_problem() {
    let a = Tensor::zeros(&[2, 3]);
    let b = Tensor::zeros(&[2, 4]);
    names(Tensor::try_cat(&[], 0).unwrap_err(), &["cat", "non-empty"]);
    names(Tensor::try_stack(&[], 0).unwrap_err(), &["stack", "non-empty"]);
    let e = Tensor::try_cat(&[a.clone(), a.clone(), b.clone()], 0).unwrap_err();
    names(e, &["cat", "dimension 0", "position 0", "[2, 3]", "position 2", "[2, 4]"]);
    names(Tensor::try_cat(&[a.clone(), Tensor::zeros(&[2, 3, 1])], 0).unwrap_err(), &["cat", "[2, 3]", "[2, 3, 1]"]);
    let i = Tensor::zeros_dtype(&[2, 3], DType::I64);
    names(Tensor::try_cat(&[a.clone(), i.clone()], 0).unwrap_err(), &["cat", "F32", "position 1", "I64"]);
    names(Tensor::try_stack(&[a.clone(), i], 0).unwrap_err(), &["stack", "F32", "I64"]);
    names(Tensor::try_stack(&[a.clone(), b], 1).unwrap_err(), &["stack", "[2, 3]", "entry 0", "[2, 4]", "entry 1"]);
    names(Tensor::try_cat(&[a.clone(), a.clone()], 2).unwrap_err(), &["cat", "got 2"]);
    names(Tensor::try_cat(&[a.clone(), a.clone()], -3).unwrap_err(), &["cat", "got -3"]);
    names(Tensor::try_stack(&[a.clone(), a.clone()], 3).unwrap_err(), &["stack", "got 3"]);
    names(Tensor::try_cat(&[Tensor::scalar(1.0f32)], 0).unwrap_err(), &["cat", "zero-dimensional", "position 0"]);
    // legacy empty tensors are skipped, but a [0, 3] tensor is not legacy
    assert_eq!(Tensor::cat(&[Tensor::zeros(&[0]), a.clone()], 1).shape(), &[2, 3]);
    names(Tensor::try_cat(&[Tensor::zeros(&[0, 2]), a], 0).unwrap_err(), &["cat", "[0, 2]"]);
}

#[test]
#[should_panic(expected = "cat: sizes of tensors must match except in dimension 1")]
fn cat_panics_with_message() {
    let _ = Tensor::cat(&[Tensor::zeros(&[2, 3]), Tensor::zeros(&[3, 3])], 1);
}
