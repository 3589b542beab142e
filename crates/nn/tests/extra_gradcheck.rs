//! Finite-difference gradient checks (f64) of the layers and functions of issue 12.

mod layers_common;

use ember_autograd::{gradcheck, Variable};
use ember_nn::functional as F;
use ember_nn::*;
use ember_tensor::{DType, Tensor};
use layers_common::{rn, weighted};

/// Checks a layer in f64: its parameters (and buffers) are converted to F64, `gradcheck` checks the
/// gradients of `f` with respect to `inputs`, then each parameter's gradient of `sum(f(x) * w)` is
/// compared element by element with central differences (step 1e-6).
#[track_caller]
fn check_module(m: &dyn Module, f: impl Fn(&[Variable]) -> Variable, inputs: &[Tensor]) {
    for (_, p) in m.named_parameters().into_iter().chain(m.named_buffers()) {
        if p.dtype().is_float() {
            p.set_data(p.data().to_dtype(DType::F64));
        }
    }
    gradcheck(&f, inputs).unwrap();
    let xs: Vec<Variable> = inputs.iter().map(|t| Variable::from(t.to_dtype(DType::F64))).collect();
    m.zero_grad();
    weighted(&f(&xs)).backward();
    let loss = || weighted(&f(&xs)).data().item::<f64>();
    for (name, p) in m.named_parameters() {
        let analytic = p.grad().unwrap_or_else(|| p.data().zeros_like()).to_vec::<f64>();
        let base = p.data();
        let mut v = base.to_vec::<f64>();
        for i in 0..v.len() {
            let x0 = v[i];
            let eps = 1e-6;
            v[i] = x0 + eps;
            p.set_data(Tensor::from_vec(v.clone(), base.shape()));
            let hi = loss();
            v[i] = x0 - eps;
            p.set_data(Tensor::from_vec(v.clone(), base.shape()));
            let lo = loss();
            v[i] = x0;
            let numeric = (hi - lo) / (2.0 * eps);
            let a = analytic[i];
            assert!(
                (a - numeric).abs() <= 1e-5 + 1e-3 * numeric.abs(),
                "{name}[{i}]: analytic {a}, finite differences {numeric}"
            );
        }
        p.set_data(base);
    }
}

#[test]
fn normalize_and_cosine() {
    gradcheck(|v| F::normalize(&v[0], 2.0, 1, 1e-12), &[rn(&[3, 4])]).unwrap();
    gradcheck(|v| F::normalize(&v[0], 3.0, 0, 1e-12), &[rn(&[3, 4])]).unwrap();
    gradcheck(|v| F::normalize(&v[0], 1.5, -1, 1e-12), &[rn(&[2, 3])]).unwrap();
    gradcheck(|v| F::cosine_similarity(&v[0], &v[1], 1, 1e-8), &[rn(&[3, 4]), rn(&[3, 4])]).unwrap();
    gradcheck(|v| F::cosine_similarity(&v[0], &v[1], -1, 1e-8), &[rn(&[1, 4]), rn(&[2, 3, 4])]).unwrap();
}

#[test]
fn mha_separate_projections() {
    let m = MultiheadAttention::new(4, 2).kdim(3).vdim(2);
    check_module(
        &m,
        |v| m.forward_qkv(&v[0], &v[1], &v[2], None, None, false).0,
        &[rn(&[3, 2, 4]), rn(&[2, 2, 3]), rn(&[2, 2, 2])],
    );
}

#[test]
fn encoder_stack() {
    let layer = TransformerEncoderLayer::new(4, 2).dim_feedforward(6).dropout(0.0).activation_gelu();
    let m = TransformerEncoder::new(layer, 2).norm(LayerNorm::new(4));
    check_module(&m, |v| m.forward(&v[0]), &[rn(&[3, 2, 4])]);
}

#[test]
fn decoder_stack() {
    let layer = TransformerDecoderLayer::new(4, 2).dim_feedforward(6).dropout(0.0).norm_first(true);
    let m = TransformerDecoder::new(layer, 2);
    let mask = Transformer::generate_square_subsequent_mask(3).to_dtype(DType::F64);
    check_module(
        &m,
        |v| m.forward_with_masks(&v[0], &v[1], Some(&mask), None, None, None),
        &[rn(&[3, 1, 4]), rn(&[2, 1, 4])],
    );
}

#[test]
fn transformer() {
    let m = Transformer::new(4, 2).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(4).dropout(0.0);
    check_module(&m, |v| m.forward2(&v[0], &v[1]), &[rn(&[2, 1, 4]), rn(&[3, 1, 4])]);
}

#[test]
fn activations() {
    gradcheck(|v| F::prelu(&v[0], &v[1]), &[rn(&[2, 3, 4]), rn(&[3])]).unwrap();
    gradcheck(|v| F::prelu(&v[0], &v[1]), &[rn(&[5]), rn(&[1])]).unwrap();
    gradcheck(|v| F::hardtanh(&v[0], -0.5, 0.7), &[rn(&[3, 4])]).unwrap();
    gradcheck(|v| F::mish(&v[0]), &[rn(&[3, 4])]).unwrap();
    gradcheck(|v| F::hardswish(&v[0]), &[&rn(&[4, 5]) * 3.0]).unwrap();
}

#[test]
fn pools_cells_and_norms() {
    gradcheck(|v| MaxPool1d::new(3).stride(2).padding(1).forward(&v[0]), &[rn(&[2, 2, 7])]).unwrap();
    gradcheck(|v| AvgPool1d::new(2).forward(&v[0]), &[rn(&[2, 2, 6])]).unwrap();
    let lstm = LstmCell::new(3, 2);
    check_module(
        &lstm,
        |v| {
            let (h, c) = lstm.forward_with_state(&v[0], Some((&v[1], &v[2])));
            &h + &(&c * 0.5)
        },
        &[rn(&[2, 3]), rn(&[2, 2]), rn(&[2, 2])],
    );
    let gru = GruCell::new(3, 2);
    check_module(&gru, |v| gru.forward_with_state(&v[0], Some(&v[1])), &[rn(&[2, 3]), rn(&[2, 2])]);
    gradcheck(|v| F::instance_norm(&v[0], Some(&v[1]), Some(&v[2]), 1e-5), &[rn(&[2, 3, 5]), rn(&[3]), rn(&[3])])
        .unwrap();
}

#[test]
fn convolutions() {
    gradcheck(
        |v| F::conv_transpose1d(&v[0], &v[1], Some(&v[2]), 2, 1, 1, 1, 1),
        &[rn(&[2, 2, 4]), rn(&[2, 3, 3]), rn(&[3])],
    )
    .unwrap();
    gradcheck(|v| F::conv_transpose1d(&v[0], &v[1], None, 1, 0, 0, 2, 2), &[rn(&[1, 4, 3]), rn(&[4, 1, 2])]).unwrap();
    gradcheck(
        |v| F::conv3d(&v[0], &v[1], Some(&v[2]), 1, 1, 1, 1),
        &[rn(&[1, 2, 3, 3, 3]), rn(&[2, 2, 2, 2, 2]), rn(&[2])],
    )
    .unwrap();
    gradcheck(
        |v| F::conv3d(&v[0], &v[1], None, [2, 1, 1], [0, 1, 0], [1, 1, 2], 2),
        &[rn(&[1, 2, 4, 3, 4]), rn(&[2, 1, 2, 2, 2])],
    )
    .unwrap();
}

#[test]
fn resampling_and_padding() {
    let x = || rn(&[1, 2, 3, 4]);
    gradcheck(|v| F::interpolate(&v[0], None, Some(2.0), "nearest", None), &[x()]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], Some(&[5, 7]), None, "bilinear", Some(false)), &[x()]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], Some(&[2, 6]), None, "bilinear", Some(true)), &[x()]).unwrap();
    gradcheck(|v| F::pixel_shuffle(&v[0], 2), &[rn(&[1, 4, 2, 3])]).unwrap();
    gradcheck(|v| F::pixel_unshuffle(&v[0], 2), &[rn(&[1, 1, 4, 2])]).unwrap();
    for mode in ["constant", "reflect", "replicate", "circular"] {
        gradcheck(|v| F::pad(&v[0], &[2, 1, 1, 2], mode, 0.3), &[x()]).unwrap();
    }
}

#[test]
fn embedding_bag() {
    let idx = Variable::from(Tensor::from_vec(vec![1i64, 0, 3, 3, 2, 1], &[6]));
    let offsets = Tensor::from_vec(vec![0i64, 2, 2, 5], &[4]);
    for mode in ["sum", "mean", "max"] {
        gradcheck(|v| F::embedding_bag(&idx, &v[0], Some(&offsets), mode), &[rn(&[4, 3])]).unwrap();
    }
    let idx2 = Variable::from(Tensor::from_vec(vec![1i64, 0, 3, 3, 2, 1], &[2, 3]));
    gradcheck(|v| F::embedding_bag(&idx2, &v[0], None, "mean"), &[rn(&[4, 3])]).unwrap();
}

#[test]
fn bicubic_trilinear_and_area_resampling() {
    let x = || rn(&[1, 2, 3, 4]);
    gradcheck(|v| F::interpolate(&v[0], Some(&[5, 6]), None, "bicubic", None), &[x()]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], Some(&[2, 7]), None, "bicubic", Some(true)), &[x()]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], None, Some(1.5), "bicubic", None), &[x()]).unwrap();
    let vol = || rn(&[1, 1, 2, 3, 2]);
    gradcheck(|v| F::interpolate(&v[0], Some(&[3, 2, 4]), None, "trilinear", None), &[vol()]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], None, Some(2.0), "trilinear", Some(true)), &[vol()]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], Some(&[2]), None, "area", None), &[rn(&[2, 2, 5])]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], Some(&[2, 3]), None, "area", None), &[x()]).unwrap();
    gradcheck(|v| F::interpolate(&v[0], Some(&[3, 2, 5]), None, "area", None), &[vol()]).unwrap();
}

#[test]
fn embedding_bag_weights_and_padding() {
    let idx = Variable::from(Tensor::from_vec(vec![1i64, 0, 3, 3, 2, 1], &[6]));
    let offsets = Tensor::from_vec(vec![0i64, 2, 2, 5], &[4]);
    // gradients to the table and to the per-sample weights
    gradcheck(
        |v| F::embedding_bag_with(&idx, &v[0], Some(&offsets), "sum", Some(&v[1]), None),
        &[rn(&[4, 3]), rn(&[6])],
    )
    .unwrap();
    for mode in ["sum", "mean", "max"] {
        gradcheck(|v| F::embedding_bag_with(&idx, &v[0], Some(&offsets), mode, None, Some(3)), &[rn(&[4, 3])]).unwrap();
    }
}

#[test]
fn instance_norm_with_running_statistics() {
    // training: the instance statistics' gradients (the running ones are buffers, no gradient)
    let m = InstanceNorm2d::new(2).affine(true).track_running_stats(true);
    check_module(&m, |v| m.forward(&v[0]), &[rn(&[2, 2, 3, 3])]);
    // evaluation: normalised by the running statistics, an affine map of the input
    let m = InstanceNorm1d::new(3).affine(true).track_running_stats(true).momentum(0.5);
    m.forward(&Variable::from(rn(&[2, 3, 4]).to_dtype(DType::F32))); // running statistics off their defaults
    m.eval();
    check_module(&m, |v| m.forward(&v[0]), &[rn(&[2, 3, 4])]);
}
