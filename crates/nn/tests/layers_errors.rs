//! Bad inputs: every layer's checked forward returns an error, and its `forward` panics, with a
//! message naming the layer and the shapes (or the index); bad options panic at construction.

use ember_autograd::Variable;
use ember_nn::functional as F;
use ember_nn::*;
use ember_tensor::Tensor;
use ember_testutil::{assert_mentions, panic_message};

fn x(shape: &[usize]) -> Variable {
    Variable::from(Tensor::randn(shape))
}

fn idx(v: Vec<i64>) -> Variable {
    let n = v.len();
    Variable::from(Tensor::from_vec(v, &[n]))
}

/// Both paths fail: `try_forward` with an error and `forward` with a panic, each naming `needles`.
macro_rules! bad {
    ($layer:expr, $input:expr, $needles:expr) => {{
        let m = $layer;
        let input = $input;
        let err = m.try_forward(&input).expect_err("try_forward should fail").to_string();
        assert_mentions(&err, &$needles);
        assert_mentions(&panic_message(|| drop(m.forward(&input))), &$needles);
    }};
}

#[test]
fn conv_input_shapes_that_do_not_fit() {
    bad!(Conv2d::new(1, 16, 3), x(&[2, 3, 8, 8]), ["Conv2d(1, 16", "[2, 3, 8, 8]", "1 channels"]);
    bad!(Conv2d::new(1, 16, 5), x(&[2, 1, 3, 3]), ["Conv2d(1, 16, kernel_size=(5, 5)", "[2, 1, 3, 3]"]);
    bad!(Conv2d::new(1, 16, 3), x(&[8, 8]), ["Conv2d", "[8, 8]"]);
    bad!(Conv1d::new(2, 4, 3), x(&[2, 2, 8, 8]), ["Conv1d(2, 4", "[2, 2, 8, 8]"]);
    bad!(Conv1d::new(2, 4, 3), x(&[2, 3, 8]), ["Conv1d(2, 4", "[2, 3, 8]"]);
    bad!(ConvTranspose2d::new(3, 2, 3), x(&[1, 4, 5, 5]), ["ConvTranspose2d(3, 2", "[1, 4, 5, 5]"]);
}

#[test]
fn conv_rejects_another_dtype() {
    let x64 = Variable::from(Tensor::randn(&[1, 1, 4, 4]).to_dtype(ember_tensor::DType::F64));
    bad!(Conv2d::new(1, 2, 3), x64, ["Conv2d", "F64"]);
}

#[test]
fn pool_input_shapes_that_do_not_fit() {
    bad!(MaxPool2d::new(4), x(&[1, 1, 3, 3]), ["MaxPool2d(kernel_size=4", "3"]);
    bad!(MaxPool2d::new(2), x(&[4, 4]), ["MaxPool2d", "[4, 4]"]);
    bad!(MaxPool2d::new(2).padding(2), x(&[1, 1, 8, 8]), ["MaxPool2d", "pad"]);
    bad!(AvgPool2d::new(5), x(&[2, 3, 4, 4]), ["AvgPool2d(kernel_size=5", "4"]);
    bad!(AdaptiveAvgPool2d::new(2), x(&[5]), ["AdaptiveAvgPool2d(output_size=2)", "[5]"]);
}

#[test]
fn norm_input_shapes_that_do_not_fit() {
    bad!(BatchNorm2d::new(3), x(&[2, 3, 4]), ["BatchNorm2d(3", "4D", "[2, 3, 4]"]);
    bad!(BatchNorm2d::new(3), x(&[2, 4, 5, 5]), ["BatchNorm2d(3", "3 channels", "[2, 4, 5, 5]"]);
    bad!(BatchNorm1d::new(3), x(&[2, 3, 4, 5]), ["BatchNorm1d(3", "2D or 3D", "[2, 3, 4, 5]"]);
    bad!(BatchNorm2d::new(3), x(&[1, 3, 1, 1]), ["BatchNorm2d", "more than 1 value per channel", "[1, 3, 1, 1]"]);
    bad!(LayerNorm::new(4), x(&[2, 5]), ["LayerNorm((4,)", "[2, 5]"]);
    bad!(LayerNorm::new_shape(&[2, 3]), x(&[3, 2]), ["LayerNorm((2, 3)", "[3, 2]"]);
    bad!(GroupNorm::new(2, 4), x(&[2, 6, 3]), ["GroupNorm(2, 4", "[2, 6, 3]"]);
    bad!(RmsNorm::new(4), x(&[4, 3]), ["RmsNorm((4,)", "[4, 3]"]);
}

#[test]
fn batch_norm_of_one_value_per_channel_leaves_the_state_alone() {
    let bn = BatchNorm1d::new(3);
    assert!(bn.try_forward(&x(&[1, 3])).is_err());
    assert_eq!(bn.num_batches_tracked().unwrap().item::<i64>(), 0);
    assert_eq!(bn.running_var().unwrap().to_vec::<f32>(), vec![1.0; 3]);
    // in evaluation a single sample is fine
    bn.eval();
    assert_eq!(bn.forward(&x(&[1, 3])).shape(), vec![1, 3]);
}

#[test]
fn embedding_index_out_of_range() {
    bad!(Embedding::new(10, 3), idx(vec![1, 10, 2]), ["Embedding(10, 3)", "index 10", "num_embeddings 10"]);
    bad!(Embedding::new(10, 3), idx(vec![-1]), ["Embedding(10, 3)", "index -1", "num_embeddings 10"]);
    bad!(Embedding::new(4, 2), x(&[3]), ["Embedding(4, 2)", "I64", "F32"]);
}

#[test]
fn bilinear_shapes_that_do_not_fit() {
    let bl = Bilinear::new(3, 4, 2);
    let err = bl.try_forward2(&x(&[5, 3]), &x(&[5, 5])).unwrap_err().to_string();
    assert_mentions(&err, &["Bilinear(in1_features=3", "[5, 3]", "[5, 5]"]);
    let err = bl.try_forward2(&x(&[5, 3]), &x(&[4, 4])).unwrap_err().to_string();
    assert_mentions(&err, &["Bilinear", "[5, 3]", "[4, 4]", "leading dims"]);
    assert_mentions(&panic_message(|| drop(bl.forward(&x(&[5, 3])))), &["Bilinear takes two inputs", "forward2"]);
}

#[test]
fn bad_options_panic_naming_the_layer() {
    assert_mentions(
        &panic_message(|| {
            let _ = Dropout::new(1.5);
        }),
        &["Dropout", "1.5"],
    );
    assert_mentions(
        &panic_message(|| {
            let _ = Conv2d::new(4, 6, 3).groups(4);
        }),
        &["Conv2d", "groups=4", "6"],
    );
    assert_mentions(
        &panic_message(|| {
            let _ = GroupNorm::new(3, 4);
        }),
        &["GroupNorm", "num_groups=3"],
    );
    assert_mentions(
        &panic_message(|| {
            let _ = Gelu::new().approximate("fast");
        }),
        &["Gelu", "fast"],
    );
    assert_mentions(
        &panic_message(|| {
            let _ = Embedding::new(5, 2).padding_idx(5);
        }),
        &["Embedding", "padding_idx 5"],
    );
}

#[test]
fn functional_forms_check_their_arguments() {
    let v = x(&[4, 3]);
    let err = F::try_batch_norm(&v, None, None, None, None, false, 0.1, 1e-5).unwrap_err().to_string();
    assert_mentions(&err, &["batch_norm", "running_mean"]);
    let err = F::try_group_norm(&x(&[2, 6, 3]), 4, None, None, 1e-5).unwrap_err().to_string();
    assert_mentions(&err, &["group_norm", "num_groups=4", "[2, 6, 3]"]);
    let w = Variable::from(Tensor::ones(&[4]));
    let err = F::try_layer_norm(&v, &[3], Some(&w), None, 1e-5).unwrap_err().to_string();
    assert_mentions(&err, &["layer_norm", "weight", "[4]", "[3]"]);
    let err = F::try_dropout(&v, -0.1, true).unwrap_err().to_string();
    assert_mentions(&err, &["dropout", "-0.1"]);
    let err = F::try_conv1d(&x(&[1, 2, 2]), &x(&[3, 2, 5]), None, 1, 0, 1, 1).unwrap_err().to_string();
    assert_mentions(&err, &["conv1d"]);
    let err = F::try_max_pool2d(&x(&[1, 1, 2, 2]), 3, 3, 0, 1, false).unwrap_err().to_string();
    assert_mentions(&err, &["max_pool2d"]);
    let err = F::try_linear(&v, &x(&[2, 5]), None).unwrap_err().to_string();
    assert_mentions(&err, &["[4, 3]", "[2, 5]"]);
}
