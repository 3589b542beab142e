//! `autocast(BF16, ...)` against `torch.autocast("cpu", dtype=torch.bfloat16)` (fixture by
//! scripts/fixtures/autocast.py): a small MLP's forward values, the dtype of each op's output, and
//! the f32 gradients of its f32 parameters through the casts; nesting and restoring on panic.

use std::collections::HashMap;

use ember_autograd::{autocast, autocast_dtype, Variable};
use ember_tensor::{io, DType, Tensor};

fn fixtures() -> HashMap<String, Tensor> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/autocast.safetensors");
    io::load(p).unwrap().into_iter().collect()
}

fn close(got: &Tensor, want: &Tensor, tol: f32, what: &str) {
    let g = got.to_dtype(DType::F32).to_vec::<f32>();
    let w = want.to_vec::<f32>();
    assert_eq!(g.len(), w.len(), "{what}");
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}[{i}]: {a} vs PyTorch {b}");
    }
}

#[test]
fn mlp_under_bf16_autocast_matches_pytorch() {
    let f = fixtures();
    let leaf = |k: &str| Variable::new(f[k].clone(), true);
    let (w1, b1, w2, b2) = (leaf("w1"), leaf("b1"), leaf("w2"), leaf("b2"));
    let x = Variable::new(f["x"].clone(), false);
    let onehot = Variable::new(f["onehot"].clone(), false);
    let (h, logits, mm, logp, p, loss) = autocast(DType::BF16, || {
        let h = x.linear(&w1, Some(&b1)).relu();
        let logits = h.linear(&w2, Some(&b2));
        let mm = x.matmul(&w1.t());
        let logp = logits.log_softmax(1);
        let p = logits.softmax(1);
        let loss = (&logp.to_dtype(DType::F32) * &onehot).sum().mul_scalar(-0.25);
        (h, logits, mm, logp, p, loss)
    });
    assert_eq!(autocast_dtype(), None);
    let code = |v: &Variable| i64::from(v.dtype() == DType::BF16);
    let dtypes: Vec<i64> = [&h, &logits, &mm, &logp, &p, &loss].iter().map(|v| code(v)).collect();
    assert_eq!(dtypes, f["dtypes"].to_vec::<i64>(), "output dtypes (1 = bfloat16) as PyTorch's");
    // bf16 has 8 bits of precision: one rounding of each op, compared at 2^-7 relative
    let tol = 1.0 / 128.0;
    close(&h.data(), &f["h"], tol, "h");
    close(&logits.data(), &f["logits"], 2.0 * tol, "logits");
    close(&p.data(), &f["p"], 2.0 * tol, "softmax");
    close(&loss.data(), &f["loss"], 2.0 * tol, "loss");
    loss.backward();
    for (v, k) in [(&w1, "g_w1"), (&b1, "g_b1"), (&w2, "g_w2"), (&b2, "g_b2")] {
        let g = v.grad().unwrap();
        assert_eq!(g.dtype(), DType::F32, "{k}: gradient in the parameter's dtype");
        close(&g, &f[k], 4.0 * tol, k);
    }
}

#[test]
fn nests_and_restores_on_panic() {
    assert_eq!(autocast_dtype(), None);
    autocast(DType::BF16, || {
        assert_eq!(autocast_dtype(), Some(DType::BF16));
        autocast(DType::F16, || assert_eq!(autocast_dtype(), Some(DType::F16)));
        assert_eq!(autocast_dtype(), Some(DType::BF16));
        let r = std::panic::catch_unwind(|| autocast(DType::F16, || panic!("inside")));
        assert!(r.is_err());
        assert_eq!(autocast_dtype(), Some(DType::BF16));
    });
    assert_eq!(autocast_dtype(), None);
    // outside autocast nothing changes
    let a = Variable::new(Tensor::ones(&[2, 2]), false);
    assert_eq!(a.matmul(&a).dtype(), DType::F32);
}
