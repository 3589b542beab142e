//! `#[derive(Module)]`: names as PyTorch's `state_dict`, nesting, `Vec`, `Option`, arrays, skipped
//! and plain-data fields, buffers, renamed fields, the forward attribute, and train/eval reach.

use ember_autograd::Variable;
use ember_nn::{BatchNorm1d, Dropout, LayerNorm, Linear, Module, ModuleList, Relu, TrainingFlag};
use ember_tensor::Tensor;

#[derive(Module)]
#[module(forward = Self::run)]
struct Block {
    fc: Linear,
    act: Relu,
    drop: Dropout,
}

impl Block {
    fn run(&self, x: &Variable) -> Variable {
        self.drop.forward(&self.act.forward(&self.fc.forward(x)))
    }
}

/// Everything a field can be.
#[derive(Module)]
struct Net {
    scale: Variable,
    #[module(buffer)]
    steps: Variable,
    blocks: Vec<Block>,
    extra: Option<Linear>,
    absent: Option<Linear>,
    #[module(name = "LayerNorm")]
    norm: LayerNorm,
    pair: [Linear; 2],
    list: ModuleList<Linear>,
    bn: BatchNorm1d,
    #[module(skip)]
    shadow: Linear,
    width: usize,
    label: String,
    plain: Tensor,
}

fn net() -> Net {
    Net {
        scale: Variable::new(Tensor::ones(&[1]), true),
        steps: Variable::from(Tensor::zeros(&[1])),
        blocks: (0..2).map(|_| Block { fc: Linear::new(4, 4), act: Relu::new(), drop: Dropout::new(0.5) }).collect(),
        extra: Some(Linear::new(4, 2).no_bias()),
        absent: None,
        norm: LayerNorm::new(4),
        pair: [Linear::new(1, 1), Linear::new(1, 1).no_bias()],
        list: ModuleList::from_vec(vec![Linear::new(2, 2)]),
        bn: BatchNorm1d::new(3),
        shadow: Linear::new(9, 9),
        width: 4,
        label: "net".into(),
        plain: Tensor::zeros(&[2]),
    }
}

#[test]
fn names_follow_pytorchs_state_dict() {
    let m = net();
    let names: Vec<String> = m.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "scale",
            "steps",
            "blocks.0.fc.weight",
            "blocks.0.fc.bias",
            "blocks.1.fc.weight",
            "blocks.1.fc.bias",
            "extra.weight",
            "LayerNorm.weight",
            "LayerNorm.bias",
            "pair.0.weight",
            "pair.0.bias",
            "pair.1.weight",
            "list.0.weight",
            "list.0.bias",
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked",
        ]
    );
    let params: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert!(params.contains(&"scale".to_string()) && !params.contains(&"steps".to_string()));
    let buffers: Vec<String> = m.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["steps", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]);
    let children: Vec<String> = m.children().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        children,
        ["blocks.0", "blocks.1", "extra", "LayerNorm", "pair.0", "pair.1", "list", "bn"],
        "plain data ({} {} {:?}) and the skipped field ({:?}) register nothing",
        m.width,
        m.label,
        m.plain.shape(),
        m.shadow.weight.shape()
    );
    // a round trip through the state dict keeps every value
    let other = net();
    other.load_state_dict(&m.state_dict()).unwrap();
    assert_eq!(other.blocks[1].fc.weight.data().to_vec::<f32>(), m.blocks[1].fc.weight.data().to_vec::<f32>());
}

#[test]
fn forward_attribute_and_mode_reach_every_field() {
    ember_tensor::manual_seed(0);
    let m = net();
    let x = Variable::from(Tensor::randn(&[8, 4]));
    let b = &m.blocks[0];
    assert_ne!(b.forward(&x).to_vec::<f32>(), b.forward(&x).to_vec::<f32>(), "dropout fires in training");
    m.eval();
    assert!(!m.is_training());
    assert!(m.blocks.iter().all(|b| !b.drop.is_training() && !b.is_training()));
    assert!(!m.bn.is_training() && !m.list.is_training() && !m.pair[1].is_training());
    assert_eq!(b.forward(&x).to_vec::<f32>(), b.forward(&x).to_vec::<f32>(), "no dropout in evaluation");
    assert!(m.shadow.is_training(), "a skipped field is not reached");
    m.train();
    assert!(m.is_training() && m.blocks[1].drop.is_training());
}

/// A module of parameters only, keeping its own mode in a `TrainingFlag` field.
#[derive(Module)]
struct Scale(Variable, TrainingFlag);

/// A generic container: `T` bounded by `Module` counts as a child.
#[derive(Module)]
struct Wrap<T: Module> {
    inner: T,
    head: Option<Linear>,
}

#[test]
fn tuple_structs_flags_and_generics() {
    let s = Scale(Variable::new(Tensor::ones(&[2]), true), TrainingFlag::new());
    let names: Vec<String> = s.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0"]);
    s.eval();
    assert!(!s.is_training() && !s.1.get());
    let w = Wrap { inner: Scale(Variable::new(Tensor::ones(&[1]), true), TrainingFlag::new()), head: None };
    let names: Vec<String> = w.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["inner.0"]);
    w.eval();
    assert!(!w.is_training());
    let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.forward(&Variable::from(Tensor::ones(&[1])));
    }))
    .unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.contains("NotImplementedError") && msg.contains("Wrap<"), "{msg}");
}
