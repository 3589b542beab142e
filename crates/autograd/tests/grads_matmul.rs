//! First-order gradients of `matmul` (every rank combination, broadcast batch dims, transposed
//! operands), `mm`, `bmm`, `dot` and `linear` against PyTorch's (`scripts/fixtures/fam_matmul.py`).
//! Every case holding a gradient is checked.

mod common;

use common::{tol, Fx};
use ember_autograd::Variable;

type F = fn(&[Variable]) -> Variable;

fn tr(v: &Variable) -> Variable {
    v.transpose(-1, -2)
}

#[test]
fn matmul_grads_match_pytorch() {
    let fx = Fx::load("tensor", "matmul");
    let plain =
        ["dot", "mv", "vm", "mm", "batched", "bcast", "nd_2d", "d2_nd", "v_nd", "nd_v", "one", "mm_big", "many_small"];
    let special: [(&str, F); 11] = [
        ("mm_ta", |v| tr(&v[0]).matmul(&v[1])),
        ("mm_tb", |v| v[0].matmul(&tr(&v[1]))),
        ("mm_tab", |v| tr(&v[0]).matmul(&tr(&v[1]))),
        ("batched_ta", |v| tr(&v[0]).matmul(&v[1])),
        ("nd_2d_perm", |v| v[0].transpose(0, 1).matmul(&v[1])),
        ("bmm", |v| v[0].bmm(&v[1])),
        ("mm_fn", |v| v[0].mm(&v[1])),
        ("dot_fn", |v| v[0].dot(&v[1])),
        ("linear", |v| v[0].linear(&v[1], Some(&v[2]))),
        ("linear_nobias", |v| v[0].linear(&v[1], None)),
        ("linear_1d", |v| v[0].linear(&v[1], Some(&v[2]))),
    ];
    for sfx in ["f32", "f64"] {
        for name in plain {
            let case = format!("{name}_{sfx}");
            if fx.try_get(&case, "gout0").is_some() {
                fx.check_grads(&case, tol(sfx), |v| vec![v[0].matmul(&v[1])]);
            }
        }
        for (name, f) in special {
            let case = format!("{name}_{sfx}");
            fx.check_grads(&case, tol(sfx), |v| vec![f(v)]);
        }
        let case = format!("linear_wt_{sfx}");
        fx.check_grads(&case, tol(sfx), |v| vec![v[0].linear(&tr(&v[1]), Some(&v[2]))]);
    }
    fx.finish_grads();
}
