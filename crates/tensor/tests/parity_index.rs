//! Indexing (index_select gather scatter scatter_add index_add embedding one_hot masked_select flip
//! repeat) and sorting (sort argsort topk) against PyTorch fixtures, f32 and f64. Where one of these
//! ops is the backward of another (index_add of index_select, scatter_add of gather, ...), PyTorch's
//! input gradients are checked too.

mod common;

use common::{assert_close, Fixtures};
use ember_tensor::Tensor;

/// Checks PyTorch's gradient of input `i` of `case` against `got`.
#[track_caller]
fn grad(fx: &Fixtures, case: &str, i: usize, tol: f64, got: Tensor) {
    let want = fx.get(case, &format!("grad{i}")).unwrap_or_else(|| panic!("{case}: no grad{i}"));
    assert_close(&got, &want, tol, &format!("index/{case}/grad{i}"));
}

/// The upstream gradient PyTorch used for output 0 of `case`.
fn gout(fx: &Fixtures, case: &str) -> Tensor {
    fx.get(case, "gout0").unwrap_or_else(|| panic!("{case}: no gout0"))
}

fn input(fx: &Fixtures, case: &str, i: usize) -> Tensor {
    fx.inputs(case)[i].clone()
}

#[test]
fn index_ops_match_pytorch() {
    let fx = Fixtures::load("index");
    for (sfx, tol) in [("f32", 1e-5), ("f64", 1e-10)] {
        let c = |n: &str| format!("{n}_{sfx}");
        // index_select, its gradient is index_add
        for (name, d) in [("index_select_d0", 0), ("index_select_d1", 1), ("index_select_d2", 2)] {
            fx.check1(&c(name), 0.0, |x| x[0].index_select(d, &x[1]));
            let (x, i) = (input(&fx, &c(name), 0), input(&fx, &c(name), 1));
            grad(&fx, &c(name), 0, tol, x.zeros_like().index_add(d, &i, &gout(&fx, &c(name))));
        }
        fx.check1(&c("index_select_dneg"), 0.0, |x| x[0].index_select(-1, &x[1]));
        fx.check1(&c("index_select_0d"), 0.0, |x| x[0].index_select(1, &x[1]));
        let n = c("index_select_0d");
        let (x, i) = (input(&fx, &n, 0), input(&fx, &n, 1));
        grad(&fx, &n, 0, tol, x.zeros_like().index_add(1, &i, &gout(&fx, &n)));
        fx.check1(&c("index_select_t"), 0.0, |x| x[0].transpose(0, 1).index_select(1, &x[1]));
        let n = c("index_select_t");
        let (x, i) = (input(&fx, &n, 0), input(&fx, &n, 1));
        grad(&fx, &n, 0, tol, x.t().zeros_like().index_add(1, &i, &gout(&fx, &n)).t());

        // gather, its gradient is scatter_add
        for (name, d) in [("gather_d0", 0), ("gather_d1", 1), ("gather_d2", 2), ("gather_dneg", -1)] {
            fx.check1(&c(name), 0.0, |x| x[0].gather(d, &x[1]));
            let (x, i) = (input(&fx, &c(name), 0), input(&fx, &c(name), 1));
            grad(&fx, &c(name), 0, tol, x.zeros_like().scatter_add(d, &i, &gout(&fx, &c(name))));
        }
        fx.check1(&c("gather_t"), 0.0, |x| x[0].transpose(0, 1).gather(1, &x[1]));
        let n = c("gather_t");
        let (x, i) = (input(&fx, &n, 0), input(&fx, &n, 1));
        grad(&fx, &n, 0, tol, x.t().zeros_like().scatter_add(1, &i, &gout(&fx, &n)).t());

        // scatter, scatter_value
        fx.check1(&c("scatter_d0"), 0.0, |x| x[0].scatter(0, &x[1], &x[2]));
        fx.check1(&c("scatter_d1"), 0.0, |x| x[0].scatter(1, &x[1], &x[2]));
        fx.check1(&c("scatter_value_dneg"), 0.0, |x| x[0].scatter_value(-1, &x[1], 2.5));
        fx.check1(&c("scatter_t"), 0.0, |x| x[0].transpose(0, 1).scatter(1, &x[1], &x[2].transpose(0, 1)));

        // scatter_add with collisions: d self = gout, d src = gout.gather
        for (name, d) in [("scatter_add_d0", 0), ("scatter_add_d1", 1), ("scatter_add_dneg", -1)] {
            fx.check1(&c(name), tol, |x| x[0].scatter_add(d, &x[1], &x[2]));
            let (i, g) = (input(&fx, &c(name), 1), gout(&fx, &c(name)));
            grad(&fx, &c(name), 0, 0.0, g.clone());
            grad(&fx, &c(name), 2, 0.0, g.gather(d, &i));
        }
        fx.check1(&c("scatter_add_small_index"), tol, |x| x[0].scatter_add(1, &x[1], &x[2]));
        let n = c("scatter_add_t");
        fx.check1(&n, tol, |x| x[0].transpose(0, 1).scatter_add(0, &x[1], &x[2].transpose(0, 1)));
        let (i, g) = (input(&fx, &n, 1), gout(&fx, &n));
        grad(&fx, &n, 0, 0.0, g.t());
        grad(&fx, &n, 2, 0.0, g.gather(0, &i).t());

        // index_add with collisions: d self = gout, d source = gout.index_select
        for (name, d) in [("index_add_d0", 0), ("index_add_d1", 1), ("index_add_dneg", -1)] {
            fx.check1(&c(name), tol, |x| x[0].index_add(d, &x[1], &x[2]));
            let (i, g) = (input(&fx, &c(name), 1), gout(&fx, &c(name)));
            grad(&fx, &c(name), 0, 0.0, g.clone());
            grad(&fx, &c(name), 2, 0.0, g.index_select(d, &i));
        }
        let n = c("index_add_t");
        fx.check1(&n, tol, |x| x[0].t().index_add(1, &x[1], &x[2].t()));
        let (i, g) = (input(&fx, &n, 1), gout(&fx, &n));
        grad(&fx, &n, 0, 0.0, g.t());
        grad(&fx, &n, 2, 0.0, g.index_select(1, &i).t());

        // embedding, its weight gradient is embedding_backward
        for name in ["embedding", "embedding_1d", "embedding_0d"] {
            fx.check1(&c(name), 0.0, |x| Tensor::embedding(&x[0], &x[1]));
            let i = input(&fx, &c(name), 1);
            grad(&fx, &c(name), 0, tol, Tensor::embedding_backward(&gout(&fx, &c(name)), &i, 10));
        }

        fx.check1(&c("masked_select"), 0.0, |x| x[0].masked_select(&x[1]));
        fx.check1(&c("masked_select_bcast"), 0.0, |x| x[0].masked_select(&x[1]));

        // flip, its gradient is the same flip
        for (name, dims) in [("flip_0", vec![0]), ("flip_12", vec![1, 2]), ("flip_neg", vec![-1])] {
            fx.check1(&c(name), 0.0, |x| x[0].flip(&dims));
            grad(&fx, &c(name), 0, 0.0, gout(&fx, &c(name)).flip(&dims));
        }
        fx.check1(&c("flip_t"), 0.0, |x| x[0].transpose(0, 2).flip(&[0, 1]));
        grad(&fx, &c("flip_t"), 0, 0.0, gout(&fx, &c("flip_t")).flip(&[0, 1]).transpose(0, 2));

        fx.check1(&c("repeat"), 0.0, |x| x[0].repeat(&[2, 1]));
        fx.check1(&c("repeat_lead"), 0.0, |x| x[0].repeat(&[2, 1, 3]));
        fx.check1(&c("repeat_t"), 0.0, |x| x[0].t().repeat(&[1, 2]));
    }
    fx.check1("gather_i64", 0.0, |x| x[0].gather(1, &x[1]));
    fx.check1("index_select_i64", 0.0, |x| x[0].index_select(1, &x[1]));
    fx.check1("scatter_add_i64", 0.0, |x| x[0].scatter_add(0, &x[1], &x[2]));
    fx.check1("flip_i64", 0.0, |x| x[0].flip(&[0, 1]));
    fx.check1("masked_select_bool", 0.0, |x| x[0].masked_select(&x[1]));
    fx.check1("one_hot_infer", 0.0, |x| x[0].one_hot(-1));
    fx.check1("one_hot_6", 0.0, |x| x[0].one_hot(6));
    sort_ops_match_pytorch(&fx);
    fx.finish();
}

/// Pair results as `check` wants them.
fn pair((a, b): (Tensor, Tensor)) -> Vec<Tensor> {
    vec![a, b]
}

fn sort_ops_match_pytorch(fx: &Fixtures) {
    for sfx in ["f32", "f64"] {
        let c = |n: &str| format!("{n}_{sfx}");
        // sort and topk gradients scatter the upstream gradient back through the indices
        let sorts: [(&str, isize, bool); 4] =
            [("sort_d0", 0, false), ("sort_d1_desc", 1, true), ("sort_mid", 1, false), ("sort_neg_desc", -1, true)];
        for (name, d, desc) in sorts {
            fx.check(&c(name), 0.0, |x| pair(x[0].sort(d, desc)));
            let (x, (_, i)) = (input(fx, &c(name), 0), input(fx, &c(name), 0).sort(d, desc));
            grad(fx, &c(name), 0, 0.0, x.zeros_like().scatter_add(d, &i, &gout(fx, &c(name))));
        }
        fx.check(&c("sort_t"), 0.0, |x| pair(x[0].t().sort(1, false)));
        let x = input(fx, &c("sort_t"), 0);
        let i = x.t().argsort(1, false);
        grad(fx, &c("sort_t"), 0, 0.0, x.t().zeros_like().scatter_add(1, &i, &gout(fx, &c("sort_t"))).t());
        fx.check(&c("sort_ties"), 0.0, |x| pair(x[0].sort(1, false)));
        fx.check(&c("sort_ties_desc"), 0.0, |x| pair(x[0].sort(0, true)));
        fx.check1(&c("argsort_ties"), 0.0, |x| x[0].argsort(-1, false));
        fx.check(&c("sort_nan"), 0.0, |x| pair(x[0].sort(1, false)));
        fx.check(&c("sort_nan_desc"), 0.0, |x| pair(x[0].sort(1, true)));

        let topks: [(&str, usize, isize, bool); 3] =
            [("topk_largest", 3, 1, true), ("topk_smallest_d0", 2, 0, false), ("topk_mid", 5, 1, true)];
        for (name, k, d, largest) in topks {
            fx.check(&c(name), 0.0, |x| pair(x[0].topk(k, d, largest, true)));
            let x = input(fx, &c(name), 0);
            let (_, i) = x.topk(k, d, largest, true);
            grad(fx, &c(name), 0, 0.0, x.zeros_like().scatter_add(d, &i, &gout(fx, &c(name))));
        }
        fx.check(&c("topk_t"), 0.0, |x| pair(x[0].t().topk(1, -1, false, true)));
        let x = input(fx, &c("topk_t"), 0);
        let (_, i) = x.t().topk(1, -1, false, true);
        grad(fx, &c("topk_t"), 0, 0.0, x.t().zeros_like().scatter_add(-1, &i, &gout(fx, &c("topk_t"))).t());
        fx.check(&c("topk_unsorted"), 0.0, |x| pair(x[0].topk(4, 1, true, false)));
        fx.check(&c("topk_nan"), 0.0, |x| pair(x[0].topk(2, 1, true, true)));
    }
    fx.check("sort_i64", 0.0, |x| pair(x[0].sort(1, false)));
    fx.check("sort_i64_desc_d0", 0.0, |x| pair(x[0].sort(0, true)));
    fx.check("topk_i64", 0.0, |x| pair(x[0].topk(2, 1, true, true)));
}

fn idx(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

/// `msg` names the op and every value in `parts`.
#[track_caller]
fn names(e: ember_tensor::Error, parts: &[&str]) {
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "error '{msg}' should mention '{p}'");
    }
}

#[test]
fn out_of_range_indices_are_errors() {
    let x = Tensor::zeros(&[3, 4]);
    for bad in [4i64, -1] {
        let b = bad.to_string();
        names(x.try_index_select(1, &idx(&[0, bad], &[2])).unwrap_err(), &["index_select", &b, "size 4"]);
        names(x.try_gather(1, &idx(&[0, bad], &[1, 2])).unwrap_err(), &["gather", &b, "size 4"]);
        names(x.try_scatter(1, &idx(&[bad], &[1, 1]), &x).unwrap_err(), &["scatter", &b, "size 4"]);
        names(x.try_scatter_value(1, &idx(&[bad], &[1, 1]), 1.0).unwrap_err(), &["scatter", &b, "size 4"]);
        names(x.try_scatter_add(1, &idx(&[bad], &[1, 1]), &x).unwrap_err(), &["scatter_add", &b, "size 4"]);
        let src = Tensor::zeros(&[3, 1]);
        names(x.try_index_add(1, &idx(&[bad], &[1]), &src).unwrap_err(), &["index_add", &b, "size 4"]);
        names(Tensor::try_embedding(&x.t(), &idx(&[bad, 0], &[2])).unwrap_err(), &["embedding", &b, "size 4"]);
        let g = Tensor::zeros(&[1, 3]);
        names(Tensor::try_embedding_backward(&g, &idx(&[bad], &[1]), 4).unwrap_err(), &["embedding_backward", &b]);
        names(idx(&[0, bad], &[2]).try_one_hot(4).unwrap_err(), &["one_hot", &b, "size 4"]);
    }
    // one_hot: a class equal to num_classes
    names(idx(&[0, 3], &[2]).try_one_hot(3).unwrap_err(), &["one_hot", "index 3", "size 3"]);
    names(Tensor::from_vec(Vec::<i64>::new(), &[0]).try_one_hot(-1).unwrap_err(), &["one_hot", "empty"]);
}

#[test]
fn bad_index_dtype_rank_and_shape_are_errors() {
    let x = Tensor::zeros(&[3, 4]);
    let fi = Tensor::zeros(&[2]);
    names(x.try_index_select(0, &fi).unwrap_err(), &["index_select", "I64", "F32"]);
    names(x.try_gather(0, &fi.reshape(&[1, 2])).unwrap_err(), &["gather", "I64", "F32"]);
    names(x.try_scatter(0, &fi.reshape(&[1, 2]), &x).unwrap_err(), &["scatter", "I64", "F32"]);
    names(x.try_scatter_add(0, &fi.reshape(&[1, 2]), &x).unwrap_err(), &["scatter_add", "I64", "F32"]);
    names(x.try_index_add(0, &fi, &x).unwrap_err(), &["index_add", "I64", "F32"]);
    names(Tensor::try_embedding(&x, &fi).unwrap_err(), &["embedding", "I64", "F32"]);
    names(x.try_one_hot(3).unwrap_err(), &["one_hot", "I64", "F32"]);
    names(x.try_masked_select(&x).unwrap_err(), &["masked_select", "Bool", "F32"]);
    // wrong index rank
    let i2 = idx(&[0, 1], &[1, 2]);
    names(x.try_index_select(0, &i2).unwrap_err(), &["index_select", "0-d or 1-d", "[1, 2]"]);
    names(x.try_index_add(0, &i2, &x).unwrap_err(), &["index_add", "0-d or 1-d", "[1, 2]"]);
    names(x.try_gather(0, &idx(&[0], &[1])).unwrap_err(), &["gather", "same number of dimensions", "[1]", "[3, 4]"]);
    names(x.try_scatter(0, &idx(&[0], &[1]), &x).unwrap_err(), &["scatter", "same number of dimensions"]);
    names(x.try_scatter(0, &i2, &Tensor::zeros(&[4])).unwrap_err(), &["scatter", "src", "[4]"]);
    // sizes: index larger than input outside dim, than src, source shape of index_add
    names(x.try_gather(0, &idx(&[0; 5], &[1, 5])).unwrap_err(), &["gather", "[1, 5]", "[3, 4]", "dim 1"]);
    names(
        x.try_scatter_add(0, &idx(&[0; 4], &[2, 2]), &Tensor::zeros(&[1, 4])).unwrap_err(),
        &["scatter_add", "[2, 2]", "[1, 4]"],
    );
    names(
        x.try_index_add(0, &idx(&[0, 1], &[2]), &Tensor::zeros(&[3, 4])).unwrap_err(),
        &["index_add", "[3, 4]", "(2)"],
    );
    names(Tensor::try_embedding(&Tensor::zeros(&[4]), &idx(&[0], &[1])).unwrap_err(), &["embedding", "2-d", "[4]"]);
    let e = Tensor::try_embedding_backward(&Tensor::zeros(&[3, 2]), &idx(&[0, 1], &[2]), 4).unwrap_err();
    names(e, &["embedding_backward", "[3, 2]", "[2]"]);
    names(
        x.try_masked_select(&Tensor::from_vec(vec![true; 3], &[3])).unwrap_err(),
        &["masked_select", "[3, 4]", "[3]"],
    );
    // dtypes of src / source, Bool accumulation
    let xi = idx(&[0; 12], &[3, 4]);
    names(x.try_scatter(0, &idx(&[0], &[1, 1]), &xi).unwrap_err(), &["scatter", "F32", "I64"]);
    names(x.try_index_add(0, &idx(&[0], &[1]), &xi.narrow(0, 0, 1)).unwrap_err(), &["index_add", "F32", "I64"]);
    let b = Tensor::from_vec(vec![true; 4], &[4]);
    names(b.try_scatter_add(0, &idx(&[0], &[1]), &b).unwrap_err(), &["scatter_add", "Bool"]);
}

#[test]
fn bad_dims_are_errors() {
    let x = Tensor::zeros(&[3, 4]);
    let i = idx(&[0], &[1]);
    names(x.try_index_select(2, &i).unwrap_err(), &["index_select", "got 2"]);
    names(x.try_index_select(-3, &i).unwrap_err(), &["index_select", "got -3"]);
    names(x.try_gather(5, &i.reshape(&[1, 1])).unwrap_err(), &["gather", "got 5"]);
    names(x.try_scatter_add(-3, &i.reshape(&[1, 1]), &x).unwrap_err(), &["scatter_add", "got -3"]);
    names(x.try_index_add(2, &i, &x).unwrap_err(), &["index_add", "got 2"]);
    names(x.try_flip(&[2]).unwrap_err(), &["flip", "got 2"]);
    names(x.try_flip(&[1, -1]).unwrap_err(), &["flip", "dim 1", "multiple"]);
    names(x.try_repeat(&[2]).unwrap_err(), &["repeat", "[2]", "[3, 4]"]);
    names(x.try_sort(2, false).unwrap_err(), &["sort", "got 2"]);
    names(x.try_argsort(-3, false).unwrap_err(), &["sort", "got -3"]);
    names(x.try_topk(1, 2, true, true).unwrap_err(), &["topk", "got 2"]);
    names(x.try_topk(5, 1, true, true).unwrap_err(), &["topk", "k (5)", "size 4"]);
    names(x.try_topk(4, 0, false, true).unwrap_err(), &["topk", "k (4)", "size 3"]);
}

#[test]
#[should_panic(expected = "gather: index 7 is out of bounds for dimension with size 4")]
fn gather_panics_with_message() {
    let _ = Tensor::zeros(&[3, 4]).gather(1, &idx(&[7], &[1, 1]));
}

#[test]
#[should_panic(expected = "topk: k (9) is out of range")]
fn topk_panics_with_message() {
    let _ = Tensor::zeros(&[3, 4]).topk(9, -1, true, true);
}
