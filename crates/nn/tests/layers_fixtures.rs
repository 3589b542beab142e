//! Every layer against PyTorch (fixtures from scripts/fixtures/fam_nn_layers.py): the output, the
//! gradients of the input and of every parameter, and the buffers after the forward. BatchNorm in
//! training (batch statistics, running-statistics update) and evaluation mode.

#[macro_use]
mod layers_common;

use std::sync::OnceLock;

use ember_autograd::Variable;
use ember_nn::*;
use layers_common::{check_layer, Fx};

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| Fx::load("nn_layers.safetensors"))
}

layer_cases! {
    linear => Linear::new(4, 3);
    conv1d => Conv1d::new(3, 4, 3).stride(2).padding(1);
    conv1d_groups => Conv1d::new(4, 6, 3).dilation(2).groups(2).bias(false);
    conv2d => Conv2d::new(3, 4, 3).padding(1);
    conv2d_rect => Conv2d::new(4, 6, [3, 2]).stride([2, 1]).padding([1, 0]).dilation([1, 2]).groups(2);
    conv2d_unbatched => Conv2d::new(2, 3, 2).bias(false);
    conv_t2d => ConvTranspose2d::new(3, 2, 3).stride(2).padding(1).output_padding(1);
    conv_t2d_groups => ConvTranspose2d::new(4, 6, [2, 3]).stride([1, 2]).groups(2).dilation([2, 1]).bias(false);
    maxpool => MaxPool2d::new(2);
    maxpool_pad => MaxPool2d::new(3).stride(2).padding(1).ceil_mode(true);
    avgpool => AvgPool2d::new(2);
    avgpool_pad => AvgPool2d::new(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false);
    adaptive => AdaptiveAvgPool2d::new([2, 3]);
    bn1d_train => BatchNorm1d::new(4);
    bn1d_3d_train => BatchNorm1d::new(4);
    bn1d_eval => BatchNorm1d::new(4);
    bn2d_train => BatchNorm2d::new(3);
    bn2d_eval => BatchNorm2d::new(3);
    bn2d_cma_train => BatchNorm2d::new(3).momentum(None);
    bn2d_noaffine_train => BatchNorm2d::new(3).affine(false).eps(1e-3).momentum(0.3);
    bn2d_notrack_eval => BatchNorm2d::new(3).track_running_stats(false);
    ln => LayerNorm::new(5);
    ln_shape => LayerNorm::new_shape(&[3, 4]).eps(1e-3);
    ln_nobias => LayerNorm::new(4).bias(false);
    gn => GroupNorm::new(2, 6);
    gn_1group => GroupNorm::new(1, 4).affine(false);
    rms => RmsNorm::new(5);
    rms_shape_eps => RmsNorm::new_shape(&[2, 5]).eps(1e-3);
    embedding => Embedding::new(10, 4);
    embedding_pad => Embedding::new(8, 3).padding_idx(2);
    relu => Relu::new();
    leaky_relu => LeakyRelu::new().negative_slope(0.2);
    gelu => Gelu::new();
    gelu_tanh => Gelu::new().approximate("tanh");
    silu => Silu::new();
    elu => Elu::new().alpha(0.5);
    tanh => Tanh::new();
    sigmoid => Sigmoid::new();
    softmax => Softmax::new(0);
    log_softmax => LogSoftmax::new(-1);
    identity => Identity::new();
    dropout_eval => Dropout::new(0.5);
}

#[test]
fn bilinear() {
    let m = Bilinear::new(3, 4, 2);
    check_layer(fx(), "bilinear", &m, true, |x| m.forward2(&x[0], &x[1]));
}

#[test]
fn bilinear_nobias_3d() {
    let m = Bilinear::new(2, 3, 4).bias(false);
    check_layer(fx(), "bilinear_nobias_3d", &m, true, |x| m.forward2(&x[0], &x[1]));
}
