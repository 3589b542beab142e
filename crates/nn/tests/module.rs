//! Module behaviour: PyTorch's parameter names for nested containers, train/eval reaching nested
//! children, moving to a device keeping the handles, parameter counts, zero_grad, default
//! initialisation statistics, ModuleList, and PyTorch-style reprs.

use ember_autograd::Variable;
use ember_nn::*;
use ember_tensor::{manual_seed, Device, Tensor};

fn bn_cnn() -> Sequential {
    Sequential::new()
        .add(Conv2d::new(3, 8, 3).padding(1).bias(false))
        .add(BatchNorm2d::new(8))
        .add(Relu::new())
        .add(Sequential::new().add(Conv2d::new(8, 4, 3).stride(2).padding(1)).add(Relu::new()))
        .add(Flatten::new())
        .add(Linear::new(4 * 4 * 4, 6))
        .add(LayerNorm::new(6))
        .add(Dropout::new(0.5))
        .add(Linear::new(6, 3))
}

#[test]
fn nested_parameter_names_are_pytorchs() {
    let names: Vec<String> = bn_cnn().named_parameters().into_iter().map(|(n, _)| n).collect();
    // from PyTorch: [n for n, _ in bn_cnn().named_parameters()]
    assert_eq!(
        names,
        [
            "0.weight",
            "1.weight",
            "1.bias",
            "3.0.weight",
            "3.0.bias",
            "5.weight",
            "5.bias",
            "6.weight",
            "6.bias",
            "8.weight",
            "8.bias"
        ]
    );
    let buffers: Vec<String> = bn_cnn().named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["1.running_mean", "1.running_var", "1.num_batches_tracked"]);
}

#[test]
fn num_parameters_matches_pytorch() {
    // from PyTorch: sum(p.numel() for p in model.parameters())
    assert_eq!(bn_cnn().num_parameters(), 947);
    let cnn = Sequential::new()
        .add(Conv2d::new(1, 16, 3).padding(1))
        .add(Relu::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(16 * 4 * 4, 10));
    assert_eq!(cnn.num_parameters(), 2730);
}

/// A container with a BatchNorm and a Dropout two levels down.
fn nested() -> Sequential {
    Sequential::new().add(Linear::new(4, 4)).add(Sequential::new().add(BatchNorm1d::new(4)).add(Dropout::new(0.5)))
}

#[test]
fn train_and_eval_reach_nested_children() {
    let m = nested();
    let inner = m.get(1).unwrap();
    let (bn, drop) = (inner.get_child(0), inner.get_child(1));
    assert!(m.is_training() && bn.is_training() && drop.is_training());
    m.eval();
    assert!(!m.is_training() && !inner.is_training() && !bn.is_training() && !drop.is_training());
    // in eval: dropout is the identity and batch norm uses its running statistics (0 and 1), so
    // the whole inner block is x / sqrt(1 + eps)
    let x = Variable::from(Tensor::randn(&[8, 4]));
    let y = inner.forward(&x).to_vec::<f32>();
    let want: Vec<f32> = x.to_vec::<f32>().iter().map(|v| v / (1.0f32 + 1e-5).sqrt()).collect();
    assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5));
    m.train();
    assert!(m.is_training() && bn.is_training() && drop.is_training());
}

/// `children()[i]` of a module (tests only).
trait GetChild {
    fn get_child(&self, i: usize) -> &dyn Module;
}

impl GetChild for &dyn Module {
    fn get_child(&self, i: usize) -> &dyn Module {
        self.children()[i].1
    }
}

#[test]
fn to_device_cpu_keeps_the_same_handles() {
    let m = bn_cnn();
    let before: Vec<Variable> = m.named_parameters().into_iter().chain(m.named_buffers()).map(|(_, v)| v).collect();
    let values: Vec<Vec<f64>> = before.iter().map(|v| v.to_vec::<f64>()).collect();
    m.to_device(&Device::Cpu);
    let after: Vec<Variable> = m.named_parameters().into_iter().chain(m.named_buffers()).map(|(_, v)| v).collect();
    assert_eq!(before.len(), after.len());
    for ((a, b), vals) in before.iter().zip(&after).zip(&values) {
        assert!(a.same(b), "a parameter was replaced by to_device");
        assert_eq!(&b.to_vec::<f64>(), vals);
        assert_eq!(b.device(), Device::Cpu);
    }
}

#[test]
fn zero_grad_clears_every_parameter() {
    let m = bn_cnn();
    let y = m.forward(&Variable::from(Tensor::randn(&[2, 3, 8, 8])));
    y.sum().backward();
    assert!(m.parameters().iter().all(|p| p.grad().is_some()));
    m.zero_grad();
    assert!(m.parameters().iter().all(|p| p.grad().is_none()));
}

fn stats(t: &Tensor) -> (f64, f64, f64, f64) {
    let v = t.to_vec::<f64>();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (mean, std, lo, hi)
}

/// Uniform in ±bound: inside the bound, spread over most of it, with the uniform's std.
#[track_caller]
fn assert_uniform(t: &Tensor, bound: f64, what: &str) {
    let (mean, std, lo, hi) = stats(t);
    assert!(lo >= -bound && hi <= bound, "{what}: values in [{lo}, {hi}] exceed ±{bound}");
    assert!(lo < -0.9 * bound && hi > 0.9 * bound, "{what}: values in [{lo}, {hi}] do not fill ±{bound}");
    assert!(mean.abs() < 0.1 * bound, "{what}: mean {mean}");
    let want_std = bound / 3f64.sqrt();
    assert!((std - want_std).abs() < 0.1 * want_std, "{what}: std {std}, expected {want_std}");
}

#[test]
fn default_init_follows_pytorch() {
    manual_seed(7);
    let fc = Linear::new(100, 50);
    assert_uniform(&fc.weight.data(), 0.1, "Linear weight");
    let (_, _, lo, hi) = stats(&fc.bias.as_ref().unwrap().data());
    assert!(lo >= -0.1 && hi <= 0.1);

    let conv = Conv2d::new(4, 64, 3);
    assert_uniform(&conv.weight.data(), 1.0 / 36f64.sqrt(), "Conv2d weight");
    // groups shrink fan_in
    let grouped = Conv2d::new(8, 64, 3).groups(4);
    assert_eq!(grouped.weight.shape(), vec![64, 2, 3, 3]);
    assert_uniform(&grouped.weight.data(), 1.0 / 18f64.sqrt(), "grouped Conv2d weight");
    // a transposed conv's fan_in is weight.size(1) * k * k = out_channels * 9
    let convt = ConvTranspose2d::new(64, 4, 3);
    assert_eq!(convt.weight.shape(), vec![64, 4, 3, 3]);
    assert_uniform(&convt.weight.data(), 1.0 / 36f64.sqrt(), "ConvTranspose2d weight");
    let c1 = Conv1d::new(5, 64, 4);
    assert_uniform(&c1.weight.data(), 1.0 / 20f64.sqrt(), "Conv1d weight");
    let bl = Bilinear::new(16, 8, 32);
    assert_uniform(&bl.weight.data(), 0.25, "Bilinear weight");

    let emb = Embedding::new(200, 50);
    let (mean, std, _, _) = stats(&emb.weight.data());
    assert!(mean.abs() < 0.05 && (std - 1.0).abs() < 0.05, "Embedding N(0, 1): mean {mean} std {std}");

    let bn = BatchNorm2d::new(3);
    assert_eq!(bn.weight().unwrap().to_vec::<f32>(), vec![1.0; 3]);
    assert_eq!(bn.bias().unwrap().to_vec::<f32>(), vec![0.0; 3]);
    assert_eq!(bn.running_mean().unwrap().to_vec::<f32>(), vec![0.0; 3]);
    assert_eq!(bn.running_var().unwrap().to_vec::<f32>(), vec![1.0; 3]);
    assert_eq!(bn.num_batches_tracked().unwrap().item::<i64>(), 0);
    let ln = LayerNorm::new_shape(&[2, 3]);
    assert_eq!(ln.weight.as_ref().unwrap().to_vec::<f32>(), vec![1.0; 6]);
    assert_eq!(ln.bias.as_ref().unwrap().to_vec::<f32>(), vec![0.0; 6]);
    assert_eq!(GroupNorm::new(2, 4).weight.as_ref().unwrap().to_vec::<f32>(), vec![1.0; 4]);
    assert_eq!(RmsNorm::new(3).weight.as_ref().unwrap().to_vec::<f32>(), vec![1.0; 3]);
    let padded = Embedding::new(5, 2).padding_idx(-1);
    assert_eq!(padded.weight.data().narrow(0, 4, 1).to_vec::<f32>(), vec![0.0, 0.0]);
}

#[test]
fn optional_parameters_follow_the_options() {
    let names = |m: &dyn Module| m.named_parameters().into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(names(&Conv2d::new(2, 3, 3).bias(false)), ["weight"]);
    assert_eq!(names(&ConvTranspose2d::new(2, 3, 3).bias(false).bias(true)), ["weight", "bias"]);
    assert_eq!(names(&LayerNorm::new(3).bias(false)), ["weight"]);
    assert!(names(&LayerNorm::new(3).elementwise_affine(false)).is_empty());
    assert!(names(&GroupNorm::new(1, 3).affine(false)).is_empty());
    assert!(names(&RmsNorm::new(3).elementwise_affine(false)).is_empty());
    let bn = BatchNorm1d::new(3).affine(false).track_running_stats(false);
    assert!(bn.state_dict().is_empty());
}

#[test]
fn module_list_registers_but_does_not_run() {
    let mut list = ModuleList::new().add(Linear::new(2, 3));
    list.push(BatchNorm1d::new(3));
    let names: Vec<String> = list.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    );
    assert_eq!(list.len(), 2);
    list.eval();
    assert!(!list.get(1).unwrap().is_training());
    let x = Variable::from(Tensor::ones(&[1, 2]));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| list.forward(&x))).unwrap_err();
    assert!(err.downcast_ref::<String>().unwrap().contains("ModuleList has no forward"));
}

#[test]
fn reprs_read_like_pytorchs() {
    assert_eq!(
        format!("{:?}", Conv2d::new(4, 6, [3, 2]).stride(2).groups(2).bias(false)),
        "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 2), groups=2, bias=False)"
    );
    assert_eq!(format!("{:?}", Conv1d::new(3, 4, 3)), "Conv1d(3, 4, kernel_size=(3,), stride=(1,))");
    assert_eq!(
        format!("{:?}", ConvTranspose2d::new(3, 2, 3).stride(2).output_padding(1)),
        "ConvTranspose2d(3, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"
    );
    assert_eq!(
        format!("{:?}", MaxPool2d::new(2)),
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    );
    assert_eq!(
        format!("{:?}", BatchNorm2d::new(16)),
        "BatchNorm2d(16, eps=0.00001, momentum=0.1, affine=True, track_running_stats=True)"
    );
    assert_eq!(format!("{:?}", LayerNorm::new(8)), "LayerNorm((8,), eps=0.00001, elementwise_affine=True)");
    assert_eq!(format!("{:?}", Embedding::new(10, 3).padding_idx(0)), "Embedding(10, 3, padding_idx=0)");
}
