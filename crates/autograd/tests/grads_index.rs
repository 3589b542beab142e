//! First-order gradients of the indexing ops (index_select gather scatter_add index_add embedding
//! masked_select flip repeat) and of sort/topk values against PyTorch's
//! (`scripts/fixtures/fam_index.py`). Every case holding a gradient is checked.

mod common;

use common::{tol, Fx};
use ember_autograd::Variable;

type F = fn(&[Variable]) -> Variable;

/// The index tensor (an I64 constant input) of a case.
fn ix(v: &Variable) -> ember_tensor::Tensor {
    v.data()
}

const CASES: [(&str, F); 40] = [
    ("index_select_d0", |v| v[0].index_select(0, &ix(&v[1]))),
    ("index_select_d1", |v| v[0].index_select(1, &ix(&v[1]))),
    ("index_select_d2", |v| v[0].index_select(2, &ix(&v[1]))),
    ("index_select_dneg", |v| v[0].index_select(-1, &ix(&v[1]))),
    ("index_select_0d", |v| v[0].index_select(1, &ix(&v[1]))),
    ("index_select_t", |v| v[0].transpose(0, 1).index_select(1, &ix(&v[1]))),
    ("gather_d0", |v| v[0].gather(0, &ix(&v[1]))),
    ("gather_d1", |v| v[0].gather(1, &ix(&v[1]))),
    ("gather_d2", |v| v[0].gather(2, &ix(&v[1]))),
    ("gather_dneg", |v| v[0].gather(-1, &ix(&v[1]))),
    ("gather_t", |v| v[0].transpose(0, 1).gather(1, &ix(&v[1]))),
    ("scatter_add_d0", |v| v[0].scatter_add(0, &ix(&v[1]), &v[2])),
    ("scatter_add_d1", |v| v[0].scatter_add(1, &ix(&v[1]), &v[2])),
    ("scatter_add_dneg", |v| v[0].scatter_add(-1, &ix(&v[1]), &v[2])),
    ("scatter_add_t", |v| v[0].transpose(0, 1).scatter_add(0, &ix(&v[1]), &v[2].transpose(0, 1))),
    ("index_add_d0", |v| v[0].index_add(0, &ix(&v[1]), &v[2])),
    ("index_add_d1", |v| v[0].index_add(1, &ix(&v[1]), &v[2])),
    ("index_add_dneg", |v| v[0].index_add(-1, &ix(&v[1]), &v[2])),
    ("index_add_t", |v| v[0].t().index_add(1, &ix(&v[1]), &v[2].t())),
    ("embedding", |v| Variable::embedding(&v[0], &ix(&v[1]))),
    ("embedding_1d", |v| Variable::embedding(&v[0], &ix(&v[1]))),
    ("embedding_0d", |v| Variable::embedding(&v[0], &ix(&v[1]))),
    ("masked_select", |v| v[0].masked_select(&ix(&v[1]))),
    ("masked_select_bcast", |v| v[0].masked_select(&ix(&v[1]))),
    ("flip_0", |v| v[0].flip(&[0])),
    ("flip_12", |v| v[0].flip(&[1, 2])),
    ("flip_neg", |v| v[0].flip(&[-1])),
    ("flip_t", |v| v[0].transpose(0, 2).flip(&[0, 1])),
    ("repeat", |v| v[0].repeat(&[2, 1])),
    ("repeat_lead", |v| v[0].repeat(&[2, 1, 3])),
    ("repeat_t", |v| v[0].t().repeat(&[1, 2])),
    ("sort_d0", |v| v[0].sort(0, false).0),
    ("sort_d1_desc", |v| v[0].sort(1, true).0),
    ("sort_mid", |v| v[0].sort(1, false).0),
    ("sort_neg_desc", |v| v[0].sort(-1, true).0),
    ("sort_t", |v| v[0].t().sort(1, false).0),
    ("topk_largest", |v| v[0].topk(3, 1, true, true).0),
    ("topk_smallest_d0", |v| v[0].topk(2, 0, false, true).0),
    ("topk_mid", |v| v[0].topk(5, 1, true, true).0),
    ("topk_t", |v| v[0].t().topk(1, -1, false, true).0),
];

#[test]
fn index_grads_match_pytorch() {
    let fx = Fx::load("tensor", "index");
    for sfx in ["f32", "f64"] {
        for (name, f) in CASES {
            let case = format!("{name}_{sfx}");
            fx.check_grads(&case, tol(sfx), |v| vec![f(v)]);
        }
    }
    fx.finish_grads();
}

/// sort and topk also return the indices: they match PyTorch's.
#[test]
fn sort_and_topk_indices_match_pytorch() {
    let fx = Fx::load("tensor", "index");
    for sfx in ["f32", "f64"] {
        let case = format!("sort_d1_desc_{sfx}");
        let x = Variable::new(fx.get(&case, "in0"), true);
        common::close(&x.sort(1, true).1, &fx.get(&case, "out1"), 0.0, &case);
        let case = format!("topk_largest_{sfx}");
        let x = Variable::new(fx.get(&case, "in0"), true);
        common::close(&x.topk(3, 1, true, true).1, &fx.get(&case, "out1"), 0.0, &case);
    }
}
