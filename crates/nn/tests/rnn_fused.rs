//! The fused recurrent layer op (one op per layer and direction on the CPU): finite-difference
//! gradient checks in f64 with initial states, two layers, both directions and batch-first input;
//! its backward against the composite of Variable ops (the rule it records under
//! `create_graph`); second derivatives; inference without a graph; the GPU composite against the
//! CPU op where an adapter exists.

use ember_autograd::{grad, grad_with, gradcheck, no_grad, Variable};
use ember_nn::{Gru, Lstm, Module, Rnn};
use ember_tensor::{DType, Device, Tensor};

fn rn(shape: &[usize]) -> Tensor {
    Tensor::randn(shape).to_dtype(DType::F64)
}

/// `sum(v * w)` for fixed pseudo-random weights `w` (so every output element matters differently).
fn weighted(v: &Variable) -> Variable {
    let n = v.numel();
    let w: Vec<f64> = (0..n).map(|i| ((i * 7919 % 23) as f64 - 11.0) / 7.0).collect();
    let w = Tensor::from_vec(w, &v.shape()).to_dtype(v.dtype()).to(&v.device());
    (v * &Variable::from(w)).sum()
}

/// The three recurrent layers behind one interface: `(output, h_n, c_n)`.
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

    fn run(&self, x: &Variable, h0: Option<&Variable>, c0: Option<&Variable>) -> Vec<Variable> {
        match self {
            Net::R(m) => {
                let (o, h) = m.forward_with_state(x, h0);
                vec![o, h]
            }
            Net::G(m) => {
                let (o, h) = m.forward_with_state(x, h0);
                vec![o, h]
            }
            Net::L(m) => {
                let (o, (h, c)) = m.forward_with_state(x, h0.map(|h| (h, c0.expect("c0"))));
                vec![o, h, c]
            }
        }
    }

    /// A scalar of every output (the output sequence, `h_n` and `c_n`).
    fn loss(&self, x: &Variable, h0: Option<&Variable>, c0: Option<&Variable>) -> Variable {
        let outs = self.run(x, h0, c0);
        outs.iter().skip(1).fold(weighted(&outs[0]), |acc, o| &acc + &weighted(o))
    }

    fn lstm(&self) -> bool {
        matches!(self, Net::L(_))
    }
}

/// Gradcheck in f64 of the inputs `x`, `h0` (and `c0`), then every parameter's gradient against
/// central differences.
fn check(net: Net, x_shape: &[usize], state_shape: &[usize]) {
    let m = net.module();
    m.to_dtype(DType::F64);
    let mut inputs = vec![rn(x_shape), rn(state_shape)];
    if net.lstm() {
        inputs.push(rn(state_shape));
    }
    gradcheck(|v| net.loss(&v[0], Some(&v[1]), v.get(2)), &inputs).unwrap();
    let vars: Vec<Variable> = inputs.iter().map(|t| Variable::from(t.clone())).collect();
    let loss = || net.loss(&vars[0], Some(&vars[1]), vars.get(2));
    m.zero_grad();
    loss().backward();
    let f = || loss().item::<f64>();
    for (name, p) in m.named_parameters() {
        let analytic = p.grad().unwrap_or_else(|| panic!("no gradient for {name}")).to_vec::<f64>();
        let base = p.data();
        let mut v = base.to_vec::<f64>();
        for i in 0..v.len() {
            let x0 = v[i];
            let eps = 1e-6;
            v[i] = x0 + eps;
            p.set_data(Tensor::from_vec(v.clone(), base.shape()));
            let hi = f();
            v[i] = x0 - eps;
            p.set_data(Tensor::from_vec(v.clone(), base.shape()));
            let lo = f();
            v[i] = x0;
            let numeric = (hi - lo) / (2.0 * eps);
            let a = analytic[i];
            assert!((a - numeric).abs() <= 1e-5 + 1e-3 * numeric.abs(), "{name}[{i}]: analytic {a}, numeric {numeric}");
        }
        p.set_data(base);
    }
}

#[test]
fn lstm_gradcheck_two_layers_bidirectional_batch_first_with_states() {
    ember_tensor::manual_seed(1);
    // [batch 2, seq 4, in 3]; states [layers 2 * directions 2, batch 2, hidden 4]
    check(Net::L(Lstm::new(3, 4).num_layers(2).bidirectional(true).batch_first(true)), &[2, 4, 3], &[4, 2, 4]);
    check(Net::L(Lstm::new(3, 2).bias(false)), &[5, 3, 3], &[1, 3, 2]);
}

#[test]
fn gru_gradcheck_two_layers_bidirectional_batch_first_with_states() {
    ember_tensor::manual_seed(2);
    check(Net::G(Gru::new(3, 4).num_layers(2).bidirectional(true).batch_first(true)), &[2, 4, 3], &[4, 2, 4]);
    check(Net::G(Gru::new(2, 3).bias(false)), &[3, 2, 2], &[1, 2, 3]);
    // unbatched input, one step
    check(Net::G(Gru::new(2, 3).num_layers(2)), &[1, 2], &[2, 3]);
}

#[test]
fn rnn_gradcheck_tanh_and_relu() {
    ember_tensor::manual_seed(3);
    check(Net::R(Rnn::new(3, 4).num_layers(2).bidirectional(true).batch_first(true)), &[2, 4, 3], &[4, 2, 4]);
    check(Net::R(Rnn::new(3, 4).nonlinearity_relu().bidirectional(true)), &[4, 2, 3], &[2, 2, 4]);
}

/// The gradients of the fused backward (plain `backward`) equal those of the composite of Variable
/// ops (what the op's rule differentiates under `create_graph`), in F32 at a larger size.
#[test]
fn fused_backward_matches_the_composite() {
    ember_tensor::manual_seed(4);
    // each net with its input and state shapes
    let nets = [
        (Net::L(Lstm::new(6, 16).num_layers(2).bidirectional(true)), [7, 5, 6], [4, 5, 16]),
        (Net::L(Lstm::new(6, 16).batch_first(true).bias(false)), [7, 5, 6], [1, 7, 16]),
        (Net::G(Gru::new(6, 16).num_layers(2).bidirectional(true).batch_first(true)), [7, 5, 6], [4, 7, 16]),
        (Net::R(Rnn::new(6, 16).nonlinearity_relu().num_layers(2)), [7, 5, 6], [2, 5, 16]),
        (Net::R(Rnn::new(6, 16).bidirectional(true)), [1, 5, 6], [2, 5, 16]),
    ];
    for (k, (net, xs, hs)) in nets.iter().enumerate() {
        let m = net.module();
        let x = Variable::new(Tensor::randn(xs), true);
        let h0 = Variable::new(Tensor::randn(hs), true);
        let c0 = net.lstm().then(|| Variable::new(Tensor::randn(hs), true));
        let mut targets: Vec<Variable> = vec![x.clone(), h0.clone()];
        targets.extend(c0.clone());
        targets.extend(m.parameters());
        let refs: Vec<&Variable> = targets.iter().collect();
        let fused = grad(&net.loss(&x, Some(&h0), c0.as_ref()), &refs, false);
        let composite = grad(&net.loss(&x, Some(&h0), c0.as_ref()), &refs, true);
        for (i, (a, b)) in fused.iter().zip(&composite).enumerate() {
            ember_testutil::assert_close(&a.data(), &b.data(), 1e-4, &format!("net {k}, input {i}"));
        }
    }
}

/// Second derivatives through the op (its rule under `create_graph` is the composite, itself
/// differentiable), checked by finite differences of the first derivative.
#[test]
fn second_derivatives_through_the_fused_op() {
    ember_tensor::manual_seed(5);
    let lstm = Lstm::new(2, 3);
    lstm.to_dtype(DType::F64);
    let f = |v: &[Variable]| {
        let (out, (h, c)) = lstm.forward_with_state(&v[0], Some((&v[1], &v[2])));
        let loss = &(&weighted(&out) + &weighted(&h)) + &weighted(&c);
        let g = grad(&loss, &[&v[0], &v[1]], true);
        &(&g[0] * &g[0]).sum() + &weighted(&g[1])
    };
    gradcheck(f, &[rn(&[3, 2, 2]), rn(&[1, 2, 3]), rn(&[1, 2, 3])]).unwrap();
    let gru = Gru::new(2, 3).bidirectional(true);
    gru.to_dtype(DType::F64);
    let f = |v: &[Variable]| {
        let (out, h) = gru.forward_with_state(&v[0], Some(&v[1]));
        let g = grad(&(&weighted(&out) + &weighted(&h)), &[&v[0]], true);
        (&g[0] * &g[0]).sum()
    };
    gradcheck(f, &[rn(&[3, 2, 2]), rn(&[2, 2, 3])]).unwrap();
}

#[test]
fn inference_without_a_graph_gives_the_same_outputs() {
    let lstm = Lstm::new(4, 8).num_layers(2).batch_first(true);
    let x = Variable::from(Tensor::randn(&[3, 5, 4]));
    let with = lstm.forward(&x);
    assert!(with.requires_grad());
    let without = no_grad(|| lstm.forward(&x));
    assert!(!without.requires_grad());
    assert_eq!(with.to_vec::<f32>(), without.to_vec::<f32>());
    // a graph kept with retain_graph gives the same gradients twice
    let (out, (hn, cn)) = lstm.forward_with_state(&x, None);
    let loss = &(&weighted(&out) + &weighted(&hn)) + &weighted(&cn);
    let params = lstm.parameters();
    let w = &params[1];
    let g1 = grad_with(&[&loss], &[None], &[w], true, false).unwrap();
    loss.backward();
    assert_eq!(g1[0].to_vec::<f32>(), w.grad().unwrap().to_vec::<f32>());
}

/// On a GPU (lavapipe in CI) the layer runs the composite of Variable ops; it agrees with the
/// CPU's fused op, outputs and gradients.
#[test]
fn gpu_composite_agrees_with_the_cpu_op() {
    let Ok(gpu) = Device::gpu() else {
        if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") {
            panic!("EMBER_REQUIRE_GPU=1 but no GPU is usable");
        }
        println!("skipping GPU test: no adapter");
        return;
    };
    ember_tensor::manual_seed(6);
    let cpu_net = Lstm::new(3, 5).num_layers(2).bidirectional(true).batch_first(true);
    let gpu_net = Lstm::new(3, 5).num_layers(2).bidirectional(true).batch_first(true);
    gpu_net.load_state_dict(&cpu_net.state_dict()).unwrap();
    gpu_net.to_device(&gpu);
    let x = Tensor::randn(&[2, 4, 3]);
    let run = |net: &Lstm, dev: &Device| {
        let xv = Variable::new(x.to(dev), true);
        let (out, (hn, cn)) = net.forward_with_state(&xv, None);
        (&(&weighted(&out) + &weighted(&hn)) + &weighted(&cn)).backward();
        let mut got = vec![out.data().to(&Device::Cpu), xv.grad().unwrap().to(&Device::Cpu)];
        got.extend(net.parameters().iter().map(|p| p.grad().unwrap().to(&Device::Cpu)));
        got
    };
    let (a, b) = (run(&cpu_net, &Device::Cpu), run(&gpu_net, &gpu));
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        ember_testutil::assert_close(b, a, 1e-4, &format!("tensor {i}"));
    }
}
