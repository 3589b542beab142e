//! The module API: the provided `forward`, non-strict loading, `train()`/`eval()` reaching every
//! module, and the typed `ModuleList<T>`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ember_autograd::Variable;
use ember_nn::{Bilinear, Dropout, IncompatibleKeys, Linear, Module, ModuleList, Relu};
use ember_tensor::Tensor;

/// A two-input module with no one-input forward of its own.
struct Pair {
    a: Linear,
    b: Linear,
}

impl Pair {
    fn call(&self, x: &Variable, y: &Variable) -> Variable {
        &self.a.forward(x) + &self.b.forward(y)
    }
}

impl Module for Pair {
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("a".into(), &self.a), ("b".into(), &self.b)]
    }
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).unwrap_err();
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn provided_forward_fails_naming_the_type() {
    let m = Pair { a: Linear::new(2, 3), b: Linear::new(2, 3) };
    let x = Variable::from(Tensor::ones(&[1, 2]));
    assert_eq!(m.call(&x, &x).shape(), vec![1, 3]);
    let msg = panic_message(|| {
        m.forward(&x);
    });
    assert!(msg.contains("NotImplementedError") && msg.contains("module_api::Pair"), "{msg}");
    // through a Box<dyn Module> as well
    let boxed: Box<dyn Module> = Box::new(m);
    let msg = panic_message(|| {
        boxed.forward(&x);
    });
    assert!(msg.contains("module_api::Pair"), "{msg}");
}

#[test]
fn non_strict_loading_returns_the_incompatible_keys() {
    let m = Pair { a: Linear::new(2, 3), b: Linear::new(2, 3) };
    let before_b = m.b.weight.data().to_vec::<f32>();
    let state = vec![
        ("a.weight".to_string(), Tensor::full(&[3, 2], 1.5)),
        ("a.bias".to_string(), Tensor::full(&[3], -1.0)),
        ("c.weight".to_string(), Tensor::zeros(&[1])),
    ];
    let strict = m.load_state_dict_with(&state, true).unwrap_err().to_string();
    assert!(strict.contains("Missing key(s)") && strict.contains("\"b.weight\"") && strict.contains("\"c.weight\""));
    assert_ne!(m.a.weight.data().to_vec::<f32>(), vec![1.5; 6], "a strict failure changes nothing");
    let keys = m.load_state_dict_with(&state, false).unwrap();
    assert_eq!(
        keys,
        IncompatibleKeys {
            missing_keys: vec!["b.weight".into(), "b.bias".into()],
            unexpected_keys: vec!["c.weight".into()]
        }
    );
    assert_eq!(m.a.weight.data().to_vec::<f32>(), vec![1.5; 6]);
    assert_eq!(m.a.bias.as_ref().unwrap().data().to_vec::<f32>(), vec![-1.0; 3]);
    assert_eq!(m.b.weight.data().to_vec::<f32>(), before_b);
    // a full, matching state dict: strict succeeds and reports nothing left out
    let full = m.state_dict();
    assert_eq!(m.load_state_dict_with(&full, true).unwrap(), IncompatibleKeys::default());
    // a wrong shape is an error even when not strict, and changes nothing
    let bad = vec![("a.bias".to_string(), Tensor::zeros(&[4])), ("b.bias".to_string(), Tensor::zeros(&[3]))];
    let err = m.load_state_dict_with(&bad, false).unwrap_err().to_string();
    assert!(err.contains("size mismatch for a.bias") && err.contains("[4]"), "{err}");
    assert_ne!(m.b.bias.as_ref().unwrap().data().to_vec::<f32>(), vec![0.0; 3]);
}

#[test]
fn eval_reaches_a_struct_of_layers_without_mode() {
    let m = Pair { a: Linear::new(2, 3), b: Linear::new(2, 3) };
    assert!(m.is_training());
    m.eval();
    assert!(!m.is_training() && !m.a.is_training() && !m.b.is_training());
    m.train();
    assert!(m.is_training() && m.a.is_training());
    // a single built-in layer keeps its own mode too
    let fc = Linear::new(2, 2);
    fc.eval();
    assert!(!fc.is_training());
}

/// A custom module holding dropouts in a `Vec`, with no flag of its own.
struct Stack {
    fcs: Vec<Linear>,
    drops: Vec<Dropout>,
    act: Relu,
}

impl Module for Stack {
    fn forward(&self, x: &Variable) -> Variable {
        let mut h = x.clone();
        for (fc, d) in self.fcs.iter().zip(&self.drops) {
            h = d.forward(&self.act.forward(&fc.forward(&h)));
        }
        h
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut c: Vec<(String, &dyn Module)> = Vec::new();
        c.extend(self.fcs.iter().enumerate().map(|(i, m)| (format!("fcs.{i}"), m as &dyn Module)));
        c.extend(self.drops.iter().enumerate().map(|(i, m)| (format!("drops.{i}"), m as &dyn Module)));
        c.push(("act".into(), &self.act));
        c
    }
}

#[test]
fn eval_reaches_dropout_inside_a_vec() {
    ember_tensor::manual_seed(3);
    let m = Stack {
        fcs: vec![Linear::new(8, 64), Linear::new(64, 64)],
        drops: vec![Dropout::new(0.5), Dropout::new(0.5)],
        act: Relu::new(),
    };
    let x = Variable::from(Tensor::randn(&[4, 8]));
    let a = m.forward(&x).to_vec::<f32>();
    let b = m.forward(&x).to_vec::<f32>();
    assert_ne!(a, b, "dropout is random in training mode");
    m.eval();
    assert!(!m.is_training() && m.drops.iter().all(|d| !d.is_training()));
    let a = m.forward(&x).to_vec::<f32>();
    assert_eq!(a, m.forward(&x).to_vec::<f32>(), "no dropout in evaluation mode");
    m.train();
    assert!(m.drops.iter().all(|d| d.is_training()));
}

#[test]
fn typed_module_list_gives_the_items_type() {
    let mut list: ModuleList<Bilinear> = (0..2).map(|_| Bilinear::new(2, 3, 4)).collect();
    list.append(Bilinear::new(2, 3, 4));
    let (x, y) = (Variable::from(Tensor::ones(&[5, 2])), Variable::from(Tensor::ones(&[5, 3])));
    for b in &list {
        assert_eq!(b.forward2(&x, &y).shape(), vec![5, 4]);
    }
    assert_eq!(list[2].forward2(&x, &y).shape(), vec![5, 4]);
    let names: Vec<String> = list.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]);
    list.eval();
    assert!(!list.is_training() && !list.get(0).unwrap().is_training());
    assert!(list.get(3).is_none());
    let msg = panic_message(|| {
        let _ = &list[7];
    });
    assert!(msg.contains("index 7 is out of range for a list of 3 modules"), "{msg}");
    // the untyped list still takes modules of any kinds
    let mixed = ModuleList::new().add(Linear::new(2, 2)).add(Relu::new());
    let h = mixed.iter().fold(x, |h, m| m.forward(&h));
    assert_eq!(h.shape(), vec![5, 2]);
}

#[test]
fn eval_reaches_every_layer_with_parameters() {
    // Each layer with parameters keeps its own mode, so a user module made only of them (through
    // `Vec<Box<dyn Module>>` here) switches with `eval()` / `train()`.
    let layers: Vec<Box<dyn Module>> = vec![
        Box::new(ember_nn::PRelu::new()),
        Box::new(ember_nn::ConvTranspose1d::new(2, 3, 3)),
        Box::new(ember_nn::Conv3d::new(2, 3, 3)),
        Box::new(ember_nn::EmbeddingBag::new(5, 4)),
        Box::new(ember_nn::InstanceNorm1d::new(3).affine(true)),
        Box::new(ember_nn::InstanceNorm2d::new(3)),
        Box::new(ember_nn::LstmCell::new(3, 4)),
        Box::new(ember_nn::GruCell::new(3, 4)),
    ];
    for l in &layers {
        assert!(l.is_training());
        l.eval();
        assert!(!l.is_training());
        l.train();
        assert!(l.is_training());
    }
}
