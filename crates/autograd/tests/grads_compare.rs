//! First-order gradients of `where_` and `masked_fill` against PyTorch's
//! (`scripts/fixtures/fam_compare.py`): broadcasting conditions and masks, a mask that widens the
//! result, non-contiguous operands. Every case holding a gradient is checked.

mod common;

use common::{tol, Fx};

#[test]
fn where_and_masked_fill_grads_match_pytorch() {
    let fx = Fx::load("tensor", "compare");
    for sfx in ["f32", "f64"] {
        let c = |n: &str| format!("{n}_{sfx}");
        // inputs: cond (Bool), x, y
        for name in ["where_bcast3", "where_same"] {
            fx.check_grads(&c(name), tol(sfx), |v| vec![v[1].where_(&v[0].data(), &v[2])]);
        }
        fx.check_grads(&c("where_t"), tol(sfx), |v| vec![v[1].t().where_(&v[0].data(), &v[2])]);
        // inputs: x, mask (Bool)
        let fills: [(&str, f64); 4] = [
            ("masked_fill_col", -1.5),
            ("masked_fill_row", 7.0),
            ("masked_fill_wide", 0.0),
            ("masked_fill_ninf", f64::NEG_INFINITY),
        ];
        for (name, value) in fills {
            fx.check_grads(&c(name), tol(sfx), |v| vec![v[0].masked_fill(&v[1].data(), value)]);
        }
        fx.check_grads(&c("masked_fill_t"), tol(sfx), |v| vec![v[0].t().masked_fill(&v[1].data(), 3.0)]);
    }
    fx.finish_grads();
}
