//! Rnn, Lstm and Gru against PyTorch (`scripts/fixtures/fam_nn_rnn.py`): outputs, final states and
//! gradients of the input, the initial states and every parameter; state-dict interop; init
//! statistics; bad inputs.

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_nn::{Gru, Lstm, Module, Rnn};
use ember_tensor::{DType, Tensor};

/// A fixture file of `crates/nn/tests/fixtures`.
struct Fx(HashMap<String, Tensor>);

impl Fx {
    fn load(file: &str) -> Fx {
        let path = format!("{}/tests/fixtures/{file}.safetensors", env!("CARGO_MANIFEST_DIR"));
        Fx(ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect())
    }
    fn get(&self, case: &str, key: &str) -> Tensor {
        self.try_get(case, key).unwrap_or_else(|| panic!("fixture {case}/{key} missing"))
    }
    fn try_get(&self, case: &str, key: &str) -> Option<Tensor> {
        self.0.get(&format!("{case}/{key}")).cloned()
    }
    /// The PyTorch state dict stored for `case`.
    fn state(&self, case: &str) -> Vec<(String, Tensor)> {
        let pre = format!("{case}/p.");
        self.0.iter().filter_map(|(k, v)| k.strip_prefix(&pre).map(|n| (n.to_string(), v.clone()))).collect()
    }
}

use ember_testutil::assert_close as close;

const TOL: f64 = 1e-4;

enum Net {
    R(Rnn),
    L(Lstm),
    G(Gru),
}

impl Net {
    fn module(&self) -> &dyn Module {
        match self {
            Net::R(m) => m,
            Net::L(m) => m,
            Net::G(m) => m,
        }
    }

    fn run(&self, x: &Variable, h0: Option<&Variable>, c0: Option<&Variable>) -> Vec<(&'static str, Variable)> {
        match self {
            Net::R(m) => {
                let (out, hn) = m.forward_with_state(x, h0);
                vec![("out", out), ("hn", hn)]
            }
            Net::G(m) => {
                let (out, hn) = m.forward_with_state(x, h0);
                vec![("out", out), ("hn", hn)]
            }
            Net::L(m) => {
                let state = h0.map(|h| (h, c0.expect("c0 fixture")));
                let (out, (hn, cn)) = m.forward_with_state(x, state);
                vec![("out", out), ("hn", hn), ("cn", cn)]
            }
        }
    }
}

/// Loads PyTorch's weights, runs the case, and compares outputs and all gradients.
fn check(fx: &Fx, case: &str, net: Net) {
    let m = net.module();
    m.load_state_dict(&fx.state(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
    let leaf = |k: &str| fx.try_get(case, k).map(|t| Variable::new(t, true));
    let (x, h0, c0) = (leaf("x").unwrap(), leaf("h0"), leaf("c0"));
    let outs = net.run(&x, h0.as_ref(), c0.as_ref());
    if h0.is_none() {
        // forward returns the output sequence of forward_with_state
        close(&m.forward(&x).data(), &fx.get(case, "out"), TOL, &format!("{case}: forward"));
    }
    let mut loss: Option<Variable> = None;
    for (k, o) in &outs {
        close(&o.data(), &fx.get(case, k), TOL, &format!("{case}: {k}"));
        let term = (o * &Variable::from(fx.get(case, &format!("w.{k}")))).sum();
        loss = Some(match loss {
            None => term,
            Some(l) => &l + &term,
        });
    }
    loss.unwrap().backward();
    for (k, v) in [("x", Some(&x)), ("h0", h0.as_ref()), ("c0", c0.as_ref())] {
        if let Some(v) = v {
            close(&v.grad().expect("input grad"), &fx.get(case, &format!("g.{k}")), TOL, &format!("{case}: grad {k}"));
        }
    }
    for (name, p) in m.named_parameters() {
        let want = fx.get(case, &format!("g.p.{name}"));
        close(
            &p.grad().unwrap_or_else(|| panic!("{case}: no grad for {name}")),
            &want,
            TOL,
            &format!("{case}: grad {name}"),
        );
    }
}

#[test]
fn rnn_matches_pytorch() {
    let fx = Fx::load("nn_rnn");
    check(&fx, "rnn_tanh", Net::R(Rnn::new(4, 5)));
    check(&fx, "rnn_relu_2l_bf_h0", Net::R(Rnn::new(4, 5).num_layers(2).nonlinearity_relu().batch_first(true)));
    check(&fx, "rnn_nobias", Net::R(Rnn::new(4, 5).bias(false)));
    check(&fx, "rnn_unbatched_h0", Net::R(Rnn::new(4, 5)));
    check(&fx, "rnn_bidir_2l", Net::R(Rnn::new(4, 5).num_layers(2).bidirectional(true)));
}

#[test]
fn lstm_matches_pytorch() {
    let fx = Fx::load("nn_rnn");
    check(&fx, "lstm_1l", Net::L(Lstm::new(4, 5)));
    check(&fx, "lstm_2l_h0", Net::L(Lstm::new(4, 5).num_layers(2)));
    check(&fx, "lstm_3l_bf", Net::L(Lstm::new(4, 5).num_layers(3).batch_first(true)));
    check(&fx, "lstm_unbatched_h0", Net::L(Lstm::new(4, 5)));
    check(&fx, "lstm_unbatched_bf", Net::L(Lstm::new(4, 5).batch_first(true).num_layers(2)));
    check(&fx, "lstm_nobias", Net::L(Lstm::new(4, 5).bias(false)));
    check(&fx, "lstm_bidir_bf_h0", Net::L(Lstm::new(4, 5).num_layers(2).bidirectional(true).batch_first(true)));
    check(&fx, "lstm_long", Net::L(Lstm::new(3, 4)));
}

#[test]
fn gru_matches_pytorch() {
    let fx = Fx::load("nn_rnn");
    check(&fx, "gru_1l", Net::G(Gru::new(4, 5)));
    check(&fx, "gru_2l_bf_h0", Net::G(Gru::new(4, 5).num_layers(2).batch_first(true)));
    check(&fx, "gru_unbatched_h0", Net::G(Gru::new(4, 5)));
    check(&fx, "gru_nobias", Net::G(Gru::new(4, 5).bias(false)));
    check(&fx, "gru_bidir", Net::G(Gru::new(4, 5).bidirectional(true)));
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ember_nn_rnn_{}_{name}", std::process::id()))
}

#[test]
fn lstm_state_dict_interop_with_pytorch() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let lstm = Lstm::new(3, 4).num_layers(2).batch_first(true);
    lstm.load_safetensors(format!("{dir}/lstm_state.safetensors")).unwrap();
    let io: HashMap<String, Tensor> =
        ember_tensor::io::load(format!("{dir}/lstm_io.safetensors")).unwrap().into_iter().collect();
    let (out, (hn, cn)) = lstm.forward_with_state(&Variable::from(io["x"].clone()), None);
    close(&out.data(), &io["out"], TOL, "out");
    close(&hn.data(), &io["hn"], TOL, "h_n");
    close(&cn.data(), &io["cn"], TOL, "c_n");

    // Ember's file has PyTorch's names, shapes and values
    let path = tmp("lstm.safetensors");
    lstm.save_safetensors(&path).unwrap();
    let mut ours = ember_tensor::io::load(&path).unwrap();
    let mut torch = ember_tensor::io::load(format!("{dir}/lstm_state.safetensors")).unwrap();
    std::fs::remove_file(&path).ok();
    ours.sort_by(|a, b| a.0.cmp(&b.0));
    torch.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(ours.len(), torch.len());
    for ((n1, t1), (n2, t2)) in ours.iter().zip(&torch) {
        assert_eq!(n1, n2);
        assert_eq!(t1.dtype(), DType::F32);
        close(t1, t2, 0.0, n1);
    }
    // and a fresh module loads it back
    let again = Lstm::new(3, 4).num_layers(2).batch_first(true);
    again.load_state_dict(&ours).unwrap();
    assert_eq!(again.forward(&Variable::from(io["x"].clone())).to_vec::<f32>(), out.to_vec::<f32>());
}

#[test]
fn parameter_names_and_shapes_are_pytorchs() {
    let shapes = |m: &dyn Module| -> Vec<(String, Vec<usize>)> {
        m.named_parameters().into_iter().map(|(n, p)| (n, p.shape())).collect()
    };
    let s = |n: &str, sh: &[usize]| (n.to_string(), sh.to_vec());
    assert_eq!(
        shapes(&Gru::new(3, 4).num_layers(2).bidirectional(true)),
        vec![
            s("weight_ih_l0", &[12, 3]),
            s("weight_hh_l0", &[12, 4]),
            s("bias_ih_l0", &[12]),
            s("bias_hh_l0", &[12]),
            s("weight_ih_l0_reverse", &[12, 3]),
            s("weight_hh_l0_reverse", &[12, 4]),
            s("bias_ih_l0_reverse", &[12]),
            s("bias_hh_l0_reverse", &[12]),
            s("weight_ih_l1", &[12, 8]),
            s("weight_hh_l1", &[12, 4]),
            s("bias_ih_l1", &[12]),
            s("bias_hh_l1", &[12]),
            s("weight_ih_l1_reverse", &[12, 8]),
            s("weight_hh_l1_reverse", &[12, 4]),
            s("bias_ih_l1_reverse", &[12]),
            s("bias_hh_l1_reverse", &[12]),
        ]
    );
    assert_eq!(shapes(&Rnn::new(3, 4).bias(false)), vec![s("weight_ih_l0", &[4, 3]), s("weight_hh_l0", &[4, 4])]);
    assert_eq!(Lstm::new(3, 4).num_layers(3).num_parameters(), (16 * 3 + 16 * 4 + 32) + 2 * (16 * 4 + 16 * 4 + 32));
}

#[test]
fn init_is_uniform_within_pytorch_bounds() {
    ember_tensor::manual_seed(7);
    let hidden = 64;
    let k = 1.0 / (hidden as f64).sqrt();
    let nets: [Box<dyn Module>; 3] =
        [Box::new(Rnn::new(32, hidden)), Box::new(Lstm::new(32, hidden).num_layers(2)), Box::new(Gru::new(32, hidden))];
    for net in &nets {
        let vals: Vec<f64> = net.parameters().iter().flat_map(|p| p.data().to_vec::<f64>()).collect();
        let n = vals.len() as f64;
        assert!(vals.iter().all(|v| v.abs() <= k), "values outside ±1/sqrt(hidden)");
        let mean = vals.iter().sum::<f64>() / n;
        let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 5.0 * k / (3.0 * n).sqrt(), "mean {mean}");
        // uniform(-k, k) has variance k^2 / 3
        assert!((var / (k * k / 3.0) - 1.0).abs() < 0.05, "variance {var} vs {}", k * k / 3.0);
        for p in net.parameters() {
            assert!(p.requires_grad());
            assert_eq!(p.dtype(), DType::F32);
        }
    }
}

#[test]
fn dropout_between_layers_only_in_training() {
    let lstm = Lstm::new(3, 8).num_layers(2).dropout(0.5);
    let plain = Lstm::new(3, 8).num_layers(2);
    plain.load_state_dict(&lstm.state_dict()).unwrap();
    let x = Variable::from(Tensor::randn(&[4, 2, 3]));
    let (a, b) = (lstm.forward(&x).to_vec::<f32>(), lstm.forward(&x).to_vec::<f32>());
    assert_ne!(a, b, "training mode draws new dropout masks");
    lstm.eval();
    assert!(!lstm.is_training());
    assert_eq!(lstm.forward(&x).to_vec::<f32>(), plain.forward(&x).to_vec::<f32>());
}

#[test]
fn long_sequences_backpropagate() {
    // the time split is a tree of narrow views: check a sequence far past its leaves
    let gru = Gru::new(2, 3);
    let x = Variable::new(Tensor::randn(&[300, 1, 2]), true);
    let (out, hn) = gru.forward_with_state(&x, None);
    assert_eq!(out.data().select(0, 299).to_vec::<f32>(), hn.data().select(0, 0).to_vec::<f32>());
    out.sum().backward();
    assert_eq!(x.grad().unwrap().shape(), &[300, 1, 2]);
    // the last step's input only reaches the last output
    let g = x.grad().unwrap().to_vec::<f32>();
    assert!(g.iter().all(|v| v.is_finite()));
}

fn err_of<T>(r: ember_tensor::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_inputs_name_the_layer_and_shapes() {
    let lstm = Lstm::new(4, 5).num_layers(2);
    let v = |s: &[usize]| Variable::from(Tensor::zeros(s));
    let e = err_of(lstm.try_forward(&v(&[6, 3, 7])));
    assert!(e.contains("Lstm") && e.contains("input_size") && e.contains("Expected 4, got 7"), "{e}");
    let e = err_of(lstm.try_forward(&v(&[2, 6, 3, 4])));
    assert!(e.contains("Lstm") && e.contains("2-D") && e.contains("4-D") && e.contains("[2, 6, 3, 4]"), "{e}");
    let e = err_of(lstm.try_forward(&v(&[4])));
    assert!(e.contains("1-D"), "{e}");
    let e = err_of(lstm.try_forward(&v(&[0, 2, 4])));
    assert!(e.contains("sequence length"), "{e}");
    let e = err_of(lstm.try_forward(&Variable::from(Tensor::zeros_dtype(&[3, 2, 4], DType::F64))));
    assert!(e.contains("Lstm") && e.contains("F64") && e.contains("F32"), "{e}");

    // states
    let x = v(&[6, 3, 4]);
    let e = err_of(lstm.try_forward_with_state(&x, Some((&v(&[2, 2, 5]), &v(&[2, 3, 5])))));
    assert!(e.contains("Lstm") && e.contains("h0") && e.contains("[2, 3, 5]") && e.contains("[2, 2, 5]"), "{e}");
    let e = err_of(lstm.try_forward_with_state(&x, Some((&v(&[2, 3, 5]), &v(&[1, 3, 5])))));
    assert!(e.contains("c0") && e.contains("[1, 3, 5]"), "{e}");
    let e = err_of(lstm.try_forward_with_state(&v(&[6, 4]), Some((&v(&[2, 1, 5]), &v(&[2, 1, 5])))));
    assert!(e.contains("unbatched") && e.contains("2-D") && e.contains("3-D"), "{e}");
    let gru = Gru::new(4, 5);
    let e = err_of(gru.try_forward_with_state(&x, Some(&v(&[3, 5]))));
    assert!(e.contains("Gru") && e.contains("batched 3-D") && e.contains("[3, 5]"), "{e}");
    let e = err_of(Rnn::new(4, 5).try_forward_with_state(&x, Some(&v(&[1, 3, 6]))));
    assert!(e.contains("Rnn") && e.contains("[1, 3, 5]") && e.contains("[1, 3, 6]"), "{e}");
}

#[test]
#[should_panic(expected = "Gru: input.size(-1) must be equal to input_size. Expected 4, got 3")]
fn forward_panics_with_the_message() {
    let _ = Gru::new(4, 5).forward(&Variable::from(Tensor::zeros(&[2, 1, 3])));
}

#[test]
#[should_panic(expected = "Rnn: num_layers must be at least 1")]
fn zero_layers_is_rejected() {
    let _ = Rnn::new(4, 5).num_layers(0);
}

#[test]
#[should_panic(expected = "Lstm: dropout must be a probability in [0, 1], got 1.5")]
fn bad_dropout_is_rejected() {
    let _ = Lstm::new(4, 5).dropout(1.5);
}

#[test]
fn loading_a_mismatched_state_dict_fails_cleanly() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    // a one-layer LSTM lacks the l1 tensors of the saved two-layer one
    let e = Lstm::new(3, 4).load_safetensors(format!("{dir}/lstm_state.safetensors")).unwrap_err().to_string();
    assert!(e.to_lowercase().contains("unexpected key") && e.contains("_l1"), "{e}");
    let e = Lstm::new(3, 5)
        .num_layers(2)
        .load_safetensors(format!("{dir}/lstm_state.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("size mismatch") && e.contains("[16, 3]") && e.contains("[20, 3]"), "{e}");
}
