//! Bad inputs to the layers and functions of issue 12: the checked form returns an error and the
//! plain form panics, each naming the op and the shapes (or values) at fault.

use ember_autograd::Variable;
use ember_nn::functional as F;
use ember_nn::*;
use ember_tensor::Tensor;
use ember_testutil::{assert_mentions, panic_message};

fn x(shape: &[usize]) -> Variable {
    Variable::from(Tensor::randn(shape))
}

/// `$try` fails and `$plain` panics, both naming `needles`.
macro_rules! bad {
    ($try:expr, $plain:expr, $needles:expr) => {{
        let err = $try.expect_err("the checked form should fail").to_string();
        assert_mentions(&err, &$needles);
        assert_mentions(&panic_message(|| drop($plain)), &$needles);
    }};
}

/// A layer's `try_forward` fails and its `forward` panics.
macro_rules! bad_layer {
    ($layer:expr, $input:expr, $needles:expr) => {{
        let m = $layer;
        let input = $input;
        bad!(m.try_forward(&input), m.forward(&input), $needles);
    }};
}

#[test]
fn normalize_cosine_unflatten() {
    bad!(F::try_normalize(&x(&[2, 3]), 2.0, 2, 1e-12), F::normalize(&x(&[2, 3]), 2.0, 2, 1e-12), ["normalize", "2"]);
    bad!(
        F::try_normalize(&x(&[2, 3]), 0.0, 1, 1e-12),
        F::normalize(&x(&[2, 3]), 0.0, 1, 1e-12),
        ["normalize", "p must be", "[2, 3]"]
    );
    bad!(
        F::try_cosine_similarity(&x(&[2, 3]), &x(&[4, 3]), 1, 1e-8),
        F::cosine_similarity(&x(&[2, 3]), &x(&[4, 3]), 1, 1e-8),
        ["cosine_similarity", "[2, 3]", "[4, 3]"]
    );
    bad_layer!(Unflatten::new(1, &[5, -1]), x(&[2, 12]), ["Unflatten", "[5, -1]", "[2, 12]", "12"]);
    bad_layer!(Unflatten::new(1, &[-1, -1]), x(&[2, 12]), ["Unflatten", "at most one -1"]);
    bad_layer!(Unflatten::new(3, &[2, 6]), x(&[2, 12]), ["Unflatten", "3"]);
}

#[test]
fn attention_and_transformer_shapes() {
    let mha = MultiheadAttention::new(8, 2).kdim(5).vdim(3);
    let (q, k, v) = (x(&[4, 2, 8]), x(&[6, 2, 5]), x(&[6, 2, 3]));
    bad!(
        mha.try_forward_qkv(&q, &x(&[6, 2, 8]), &v, None, None, false),
        mha.forward_qkv(&q, &x(&[6, 2, 8]), &v, None, None, false),
        ["MultiheadAttention", "kdim 5", "[6, 2, 8]"]
    );
    bad!(
        mha.try_forward_qkv(&q, &k, &x(&[5, 2, 3]), None, None, false),
        mha.forward_qkv(&q, &k, &x(&[5, 2, 3]), None, None, false),
        ["MultiheadAttention", "[6, 2, 5]", "[5, 2, 3]"]
    );
    let names: Vec<String> = mha.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    );
    assert_eq!(mha.k_proj_weight.as_ref().unwrap().shape(), vec![8, 5]);
    assert!(mha.in_proj_weight.is_none());
    // back to a packed projection when both sizes equal embed_dim again
    let packed = MultiheadAttention::new(8, 2).kdim(5).kdim(8);
    assert_eq!(packed.named_parameters()[0].0, "in_proj_weight");

    let dec = TransformerDecoderLayer::new(8, 2).dim_feedforward(4);
    bad!(
        dec.try_forward_with_masks(&x(&[3, 2, 8]), &x(&[5, 2, 6]), None, None, None, None),
        dec.forward2(&x(&[3, 2, 8]), &x(&[5, 2, 6])),
        ["TransformerDecoderLayer", "[3, 2, 8]", "[5, 2, 6]"]
    );
    bad!(
        dec.try_forward_with_masks(&x(&[3, 2, 8]), &x(&[5, 2, 8]), Some(&Tensor::zeros(&[3, 4])), None, None, None),
        dec.forward_with_masks(&x(&[3, 2, 8]), &x(&[5, 2, 8]), Some(&Tensor::zeros(&[3, 4])), None, None, None),
        ["TransformerDecoderLayer", "self_attn", "[3, 4]"]
    );
    assert_mentions(&panic_message(|| drop(dec.forward(&x(&[3, 2, 8])))), &["TransformerDecoderLayer", "forward2"]);

    let enc = TransformerEncoder::new(TransformerEncoderLayer::new(8, 2).dim_feedforward(4), 2);
    bad!(
        enc.try_forward_with_mask(&x(&[3, 2, 6]), None, None),
        enc.forward(&x(&[3, 2, 6])),
        ["TransformerEncoder", "layers.0", "[3, 2, 6]"]
    );

    let t = Transformer::new(8, 2).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(4);
    let (s, tg) = (x(&[5, 2, 8]), x(&[4, 3, 8]));
    bad!(
        t.try_forward_with_masks(&s, &tg, None, None, None, None, None, None),
        t.forward2(&s, &tg),
        ["Transformer", "[5, 2, 8]", "[4, 3, 8]"]
    );
    let e = Transformer::try_new(6, 4).err().unwrap().to_string();
    assert_mentions(&e, &["Transformer", "d_model (6)", "nhead (4)"]);
    // a bad dropout names the layer, not the attention block inside it
    let m = panic_message(|| drop(TransformerEncoderLayer::new(8, 2).dropout(1.5)));
    assert_mentions(&m, &["TransformerEncoderLayer: dropout", "1.5"]);
    let m = panic_message(|| drop(TransformerDecoderLayer::new(8, 2).dropout(-0.1)));
    assert_mentions(&m, &["TransformerDecoderLayer: dropout", "-0.1"]);
}

#[test]
fn stacks_hold_deep_copies_and_transformer_is_xavier() {
    let layer = TransformerEncoderLayer::new(8, 2).dim_feedforward(4);
    let enc = TransformerEncoder::new(layer, 3);
    let p = enc.named_parameters();
    let w0 = &p.iter().find(|(n, _)| n == "layers.0.linear1.weight").unwrap().1;
    let w2 = &p.iter().find(|(n, _)| n == "layers.2.linear1.weight").unwrap().1;
    assert_eq!(w0.to_vec::<f32>(), w2.to_vec::<f32>(), "copies start equal (deepcopy)");
    assert!(!w0.same(w2), "but are distinct parameters");
    assert_eq!(enc.num_parameters(), 3 * (3 * 64 + 24 + 64 + 8 + 32 + 4 + 32 + 8 + 4 * 8));

    let t = Transformer::new(16, 2).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(32);
    for (name, p) in t.named_parameters() {
        if p.shape().len() == 2 {
            let s = p.shape();
            let bound = (6.0 / (s[0] + s[1]) as f64).sqrt();
            assert!(p.to_vec::<f32>().iter().all(|v| (v.abs() as f64) <= bound + 1e-6), "{name} is not xavier-uniform");
        }
    }
    let m = Transformer::generate_square_subsequent_mask(3).to_vec::<f32>();
    let inf = f32::NEG_INFINITY;
    assert_eq!(m, vec![0.0, inf, inf, 0.0, 0.0, inf, 0.0, 0.0, 0.0]);
}

#[test]
fn group3_layers_and_functions() {
    bad!(
        F::try_prelu(&x(&[2, 3, 4]), &x(&[4])),
        F::prelu(&x(&[2, 3, 4]), &x(&[4])),
        ["prelu", "[4]", "[2, 3, 4]", "3 channels"]
    );
    bad_layer!(PRelu::new().num_parameters(5), x(&[2, 3]), ["prelu", "[5]", "[2, 3]"]);
    bad_layer!(MaxPool1d::new(3), x(&[2, 3, 2]), ["MaxPool1d", "[2, 3, 2]"]);
    bad_layer!(AvgPool1d::new(2), x(&[2]), ["AvgPool1d", "[2]"]);
    let lstm = LstmCell::new(4, 3);
    bad!(lstm.try_forward_with_state(&x(&[2, 5]), None), lstm.forward(&x(&[2, 5])), ["LstmCell", "[N, 4]", "[2, 5]"]);
    let (h, c) = (x(&[2, 3]), x(&[3, 3]));
    bad!(
        lstm.try_forward_with_state(&x(&[2, 4]), Some((&h, &c))),
        lstm.forward_with_state(&x(&[2, 4]), Some((&h, &c))),
        ["LstmCell", "[2, 3]", "[3, 3]"]
    );
    let gru = GruCell::new(4, 3);
    bad!(
        gru.try_forward_with_state(&x(&[4]), Some(&h)),
        gru.forward_with_state(&x(&[4]), Some(&h)),
        ["GruCell", "[3]", "[2, 3]"]
    );
    bad_layer!(ConvTranspose1d::new(3, 2, 3), x(&[1, 4, 5]), ["ConvTranspose1d", "[1, 4, 5]"]);
    bad_layer!(ConvTranspose1d::new(3, 2, 3), x(&[5]), ["ConvTranspose1d", "[5]"]);
    bad_layer!(Conv3d::new(2, 3, 3), x(&[1, 3, 4, 4, 4]), ["Conv3d", "[1, 3, 4, 4, 4]", "2 input channels"]);
    bad_layer!(Conv3d::new(1, 3, 3), x(&[1, 1, 2, 4, 4]), ["Conv3d", "depth span 3", "[1, 1, 2, 4, 4]"]);
    bad_layer!(Conv3d::new(1, 3, 3), x(&[1, 4, 4]), ["Conv3d", "[1, 4, 4]"]);
    bad_layer!(InstanceNorm1d::new(3), x(&[2, 4, 5]), ["InstanceNorm1d", "[2, 4, 5]"]);
    bad_layer!(InstanceNorm2d::new(3), x(&[3, 5]), ["InstanceNorm2d", "[3, 5]"]);
    bad_layer!(Upsample::new(), x(&[1, 2, 3, 3]), ["interpolate", "exactly one of size", "[1, 2, 3, 3]"]);
    bad_layer!(Upsample::new().scale_factor(2.0).mode("bilinear"), x(&[1, 2, 3]), ["bilinear", "4-D", "[1, 2, 3]"]);
    bad_layer!(Upsample::new().scale_factor(2.0).mode("lanczos"), x(&[1, 2, 3, 3]), ["unknown mode", "lanczos"]);
    bad_layer!(Upsample::new().scale_factor(2.0).mode("bicubic"), x(&[1, 2, 3]), ["bicubic", "4-D", "[1, 2, 3]"]);
    bad_layer!(Upsample::new().size(&[2]).mode("area").align_corners(true), x(&[1, 2, 3]), ["align_corners"]);
    bad_layer!(Upsample::new().scale_factor(2.0).align_corners(true), x(&[1, 2, 3, 3]), ["align_corners"]);
    bad_layer!(PixelShuffle::new(2), x(&[1, 6, 3, 3]), ["pixel_shuffle", "[1, 6, 3, 3]"]);
    bad_layer!(PixelUnshuffle::new(2), x(&[1, 2, 3, 4]), ["pixel_unshuffle", "[1, 2, 3, 4]"]);
    let v = x(&[1, 2, 3]);
    bad!(
        F::try_pad(&v, &[3, 0], "reflect", 0.0),
        F::pad(&v, &[3, 0], "reflect", 0.0),
        ["pad", "reflect", "(3, 0)", "size 3"]
    );
    bad!(
        F::try_pad(&v, &[1, 1, 1], "constant", 0.0),
        F::pad(&v, &[1, 1, 1], "constant", 0.0),
        ["pad", "even length", "[1, 2, 3]"]
    );
    bad!(F::try_pad(&v, &[1, 1], "mirror", 0.0), F::pad(&v, &[1, 1], "mirror", 0.0), ["pad", "mirror"]);
    let bag = EmbeddingBag::new(5, 2);
    let idx = |v: Vec<i64>, s: &[usize]| Variable::from(Tensor::from_vec(v, s));
    let o = |v: Vec<i64>| {
        let n = v.len();
        Tensor::from_vec(v, &[n])
    };
    bad!(
        bag.try_forward_with_offsets(&idx(vec![0, 7], &[2]), &o(vec![0])),
        bag.forward_with_offsets(&idx(vec![0, 7], &[2]), &o(vec![0])),
        ["embedding_bag", "index 7", "5 rows"]
    );
    bad!(
        bag.try_forward_with_offsets(&idx(vec![0, 1, 2], &[3]), &o(vec![1, 2])),
        bag.forward_with_offsets(&idx(vec![0, 1, 2], &[3]), &o(vec![1, 2])),
        ["embedding_bag", "[1, 2]", "start at 0"]
    );
    bad!(
        bag.try_forward_with_offsets(&idx(vec![0, 1], &[1, 2]), &o(vec![0])),
        bag.forward_with_offsets(&idx(vec![0, 1], &[1, 2]), &o(vec![0])),
        ["embedding_bag", "2-D", "offsets has to be None"]
    );
    bad_layer!(EmbeddingBag::new(5, 2).mode("median"), idx(vec![0, 1], &[1, 2]), ["embedding_bag", "median"]);
}
