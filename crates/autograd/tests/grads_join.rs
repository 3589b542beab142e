//! First-order gradients of `cat` and `stack` against PyTorch's (`scripts/fixtures/fam_join.py`):
//! every dim, a size-0 input, legacy empty `[0]` inputs, transposed inputs. Every case holding a
//! gradient is checked.

mod common;

use common::{tol, Fx};
use ember_autograd::Variable;

#[test]
fn join_grads_match_pytorch() {
    let fx = Fx::load("tensor", "join");
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
            fx.check_grads(&c(name), tol(sfx), |v| vec![Variable::cat(v, d)]);
        }
        fx.check_grads(&c("cat_t_d0"), tol(sfx), |v| vec![Variable::cat(&[v[0].t(), v[1].t()], 0)]);
        fx.check_grads(&c("cat_t_d1"), tol(sfx), |v| vec![Variable::cat(&[v[0].t(), v[1].clone()], 1)]);
        fx.check_grads(&c("cat_t3"), tol(sfx), |v| vec![Variable::cat(&[v[0].transpose(0, 2), v[1].clone()], 1)]);
        for (name, d) in [("stack_d0", 0isize), ("stack_mid", 2), ("stack_last", 3), ("stack_neg", -2)] {
            fx.check_grads(&c(name), tol(sfx), |v| vec![Variable::stack(v, d)]);
        }
        fx.check_grads(&c("stack_t"), tol(sfx), |v| vec![Variable::stack(&[v[0].t(), v[1].clone()], 1)]);
    }
    fx.finish_grads();
}
