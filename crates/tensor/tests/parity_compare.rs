//! Comparisons, `where_`, `masked_fill` and the logical ops against PyTorch fixtures
//! (`scripts/fixtures/fam_compare.py`), plus their error messages.

mod common;

use common::Fixtures;
use ember_tensor::{DType, Tensor};

type Cmp = fn(&Tensor, &Tensor) -> Tensor;
type CmpScalar = fn(&Tensor, f64) -> Tensor;
type TryCmp = fn(&Tensor, &Tensor) -> ember_tensor::Result<Tensor>;

const OPS: [(&str, Cmp, CmpScalar); 6] = [
    ("eq", Tensor::eq, Tensor::eq_scalar),
    ("ne", Tensor::ne, Tensor::ne_scalar),
    ("lt", Tensor::lt, Tensor::lt_scalar),
    ("le", Tensor::le, Tensor::le_scalar),
    ("gt", Tensor::gt, Tensor::gt_scalar),
    ("ge", Tensor::ge, Tensor::ge_scalar),
];

#[test]
fn comparisons_match_pytorch() {
    let fx = Fixtures::load("compare");
    for sfx in ["f32", "f64", "i64"] {
        for (op, f, fs) in OPS {
            fx.check1(&format!("{op}_{sfx}"), 0.0, |x| f(&x[0], &x[1]));
            fx.check1(&format!("{op}_bcast_{sfx}"), 0.0, |x| f(&x[0], &x[1]));
            fx.check1(&format!("{op}_scalar_{sfx}"), 0.0, |x| fs(&x[0], 1.0));
            fx.check1(&format!("{op}_t_{sfx}"), 0.0, |x| f(&x[0].t(), &x[1].t()));
        }
        fx.check1(&format!("where_{sfx}"), 0.0, |x| x[1].where_(&x[0], &x[2]));
        fx.check1(&format!("masked_fill_{sfx}"), 0.0, |x| x[0].masked_fill(&x[1], 2.5));
    }
    fx.check1("lt_scalar_frac_i64", 0.0, |x| x[0].lt_scalar(0.5));
    fx.check1("eq_scalar_frac_i64", 0.0, |x| x[0].eq_scalar(0.5));
    fx.check1("ge_scalar_inf_i64", 0.0, |x| x[0].ge_scalar(f64::NEG_INFINITY));
    for sfx in ["f32", "f64"] {
        let c = |n: &str| format!("{n}_{sfx}");
        for (op, f, fs) in OPS {
            fx.check1(&c(&format!("nan_{op}")), 0.0, |x| f(&x[0], &x[1]));
            fx.check1(&c(&format!("nan_{op}_scalar")), 0.0, |x| fs(&x[0], 0.1));
        }
        fx.check1(&c("eq_scalar_nan"), 0.0, |x| x[0].eq_scalar(f64::NAN));
        fx.check1(&c("isnan"), 0.0, |x| x[0].isnan());
        fx.check1(&c("isfinite"), 0.0, |x| x[0].isfinite());
        fx.check1(&c("where_bcast3"), 0.0, |x| x[1].where_(&x[0], &x[2]));
        fx.check1(&c("where_same"), 0.0, |x| x[1].where_(&x[0], &x[2]));
        fx.check1(&c("where_t"), 0.0, |x| x[1].t().where_(&x[0], &x[2]));
        fx.check1(&c("masked_fill_col"), 0.0, |x| x[0].masked_fill(&x[1], -1.5));
        fx.check1(&c("masked_fill_row"), 0.0, |x| x[0].masked_fill(&x[1], 7.0));
        fx.check1(&c("masked_fill_wide"), 0.0, |x| x[0].masked_fill(&x[1], 0.0));
        fx.check1(&c("masked_fill_ninf"), 0.0, |x| x[0].masked_fill(&x[1], f64::NEG_INFINITY));
        fx.check1(&c("masked_fill_t"), 0.0, |x| x[0].t().masked_fill(&x[1], 3.0));
    }
    fx.check1("eq_bool", 0.0, |x| x[0].eq(&x[1]));
    fx.check1("lt_bool", 0.0, |x| x[0].lt(&x[1]));
    fx.check1("eq_scalar_one_bool", 0.0, |x| x[0].eq_scalar(1.0));
    fx.check1("eq_scalar_two_bool", 0.0, |x| x[0].eq_scalar(2.0));
    fx.check1("where_bool", 0.0, |x| x[1].where_(&x[0], &x[2]));
    fx.check1("masked_fill_bool", 0.0, |x| x[0].masked_fill(&x[1], 1.0));
    for sfx in ["bool", "f32", "i64"] {
        fx.check1(&format!("logical_not_{sfx}"), 0.0, |x| x[0].logical_not());
    }
    for sfx in ["bool", "mixed"] {
        fx.check1(&format!("logical_and_{sfx}"), 0.0, |x| x[0].logical_and(&x[1]));
        fx.check1(&format!("logical_or_{sfx}"), 0.0, |x| x[0].logical_or(&x[1]));
    }
    fx.check1("isnan_i64", 0.0, |x| x[0].isnan());
    fx.check1("isfinite_i64", 0.0, |x| x[0].isfinite());
    fx.finish();
}

#[test]
fn compare_errors_name_the_problem() {
    let has = |e: String, parts: &[&str]| {
        for p in parts {
            assert!(e.contains(p), "'{e}' lacks '{p}'");
        }
    };
    let f = Tensor::zeros(&[2, 3]);
    let i = Tensor::zeros_dtype(&[2, 3], DType::I64);
    let m = Tensor::zeros_dtype(&[2, 3], DType::Bool);
    let tries: [(&str, TryCmp); 6] = [
        ("eq", Tensor::try_eq),
        ("ne", Tensor::try_ne),
        ("lt", Tensor::try_lt),
        ("le", Tensor::try_le),
        ("gt", Tensor::try_gt),
        ("ge", Tensor::try_ge),
    ];
    for (op, g) in tries {
        has(g(&f, &i).unwrap_err().to_string(), &[&format!("{op}:"), "dtype mismatch", "F32", "I64"]);
        has(g(&f, &Tensor::zeros(&[4])).unwrap_err().to_string(), &[&format!("{op}:"), "[2, 3]", "[4]"]);
    }
    // where_
    has(f.try_where_(&f, &f).unwrap_err().to_string(), &["where:", "Bool", "F32"]);
    has(f.try_where_(&i, &f).unwrap_err().to_string(), &["where:", "Bool", "I64"]);
    has(f.try_where_(&m, &i).unwrap_err().to_string(), &["where:", "F32", "I64"]);
    has(f.try_where_(&m, &Tensor::zeros(&[4])).unwrap_err().to_string(), &["where:", "[2, 3]", "[4]"]);
    has(
        f.try_where_(&Tensor::zeros_dtype(&[5, 1, 1], DType::Bool), &Tensor::zeros(&[3, 3])).unwrap_err().to_string(),
        &["where:", "[5, 2, 3]", "[3, 3]"],
    );
    // masked_fill
    has(f.try_masked_fill(&f, 1.0).unwrap_err().to_string(), &["masked_fill:", "Bool", "F32"]);
    let bad = Tensor::zeros_dtype(&[3, 2], DType::Bool);
    has(f.try_masked_fill(&bad, 1.0).unwrap_err().to_string(), &["masked_fill:", "[2, 3]", "[3, 2]"]);
    // logical ops
    has(f.try_logical_and(&Tensor::zeros(&[4])).unwrap_err().to_string(), &["logical_and:", "[2, 3]", "[4]"]);
    has(f.try_logical_or(&Tensor::zeros(&[3, 1, 4])).unwrap_err().to_string(), &["logical_or:", "[3, 1, 4]"]);
}

#[test]
#[should_panic(expected = "lt: dtype mismatch: expected F32, got I64")]
fn comparison_of_mismatched_dtypes_panics() {
    let _ = Tensor::zeros(&[2]).lt(&Tensor::zeros_dtype(&[2], DType::I64));
}

#[test]
fn comparison_shapes_dtypes_and_views() {
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let c = x.gt(&Tensor::from_vec(vec![2.0f32, 4.0], &[2, 1]));
    assert_eq!(c.dtype(), DType::Bool);
    assert_eq!(c.to_vec::<bool>(), vec![false, false, true, false, true, true]);
    // a Bool result feeds reductions and selection
    assert_eq!(c.sum().item::<i64>(), 3);
    assert_eq!(x.masked_fill(&c.logical_not(), 0.0).to_vec::<f32>(), vec![0., 0., 3., 0., 5., 6.]);
    // 0-d operands
    let s = Tensor::scalar(2.0f64);
    assert_eq!(s.ge(&s).shape(), &[] as &[usize]);
    assert!(s.where_(&Tensor::scalar(false), &Tensor::scalar(7.0f64)).item::<f64>() == 7.0);
    // empty
    let e = Tensor::zeros(&[0, 3]);
    assert_eq!(e.eq(&Tensor::zeros(&[3])).shape(), &[0, 3]);
    assert_eq!(e.where_(&Tensor::zeros_dtype(&[1], DType::Bool), &e).shape(), &[0, 3]);
}
