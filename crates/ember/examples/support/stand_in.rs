// TODO(merge): STAND-INS, to delete when the real pieces land.
//
// `nn::Conv2d`, `nn::MaxPool2d`, `nn::functional::cross_entropy` (ember-nn, wt-nnlayers/wt-nnloss)
// and `optim::Adam`, `optim::Sgd` (ember-optim, wt-optim) are being written at the same time as the
// data crate. Until they are merged, programs that need them `include!` this file at their crate
// root: it defines local `nn` and `optim` modules that re-export everything of `ember::nn` /
// `ember::optim` and add minimal versions of the missing items under the names and signatures of
// shared/API.md. A local module shadows the prelude's `nn`/`optim`, and an explicit re-export
// shadows a glob one, so the code using them is written exactly as it will be after the merge and
// keeps compiling when the real items appear. Remove the `include!` line (and this file) then.
//
// Users: crates/ember/examples/digits.rs, docs/guide.md (hidden lines), tests/tests/*.rs.

#[allow(dead_code, unused_imports)]
mod nn {
    pub use crate::stand_in::{Conv2d, MaxPool2d};
    pub use ember::nn::*;
    pub mod functional {
        pub use crate::stand_in::cross_entropy;
        pub use ember::nn::functional::*;
    }
}

#[allow(dead_code, unused_imports)]
mod optim {
    pub use crate::stand_in::{Adam, Sgd};
    pub use ember::optim::*;
}

#[allow(dead_code)]
mod stand_in {
    use ember::autograd::{Conv2dOpts, Variable};
    use ember::nn::{init, Module};
    use ember::Tensor;

    /// Minimal `nn::Conv2d` (square kernel, stride, padding, bias; PyTorch's default init).
    pub struct Conv2d {
        pub weight: Variable,
        pub bias: Option<Variable>,
        stride: usize,
        padding: usize,
    }

    impl Conv2d {
        pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Conv2d {
            let fan_in = in_channels * kernel_size * kernel_size;
            let w = init::kaiming_uniform_default(&[out_channels, in_channels, kernel_size, kernel_size]);
            let b = init::bias_uniform(out_channels, fan_in);
            Conv2d { weight: Variable::new(w, true), bias: Some(Variable::new(b, true)), stride: 1, padding: 0 }
        }
        pub fn stride(mut self, s: usize) -> Conv2d {
            self.stride = s;
            self
        }
        pub fn padding(mut self, p: usize) -> Conv2d {
            self.padding = p;
            self
        }
    }

    impl Module for Conv2d {
        fn forward(&self, x: &Variable) -> Variable {
            let o = Conv2dOpts { stride: [self.stride; 2], padding: [self.padding; 2], ..Conv2dOpts::default() };
            x.conv2d(&self.weight, self.bias.as_ref(), o)
        }
        fn own_parameters(&self) -> Vec<(String, Variable)> {
            let mut p = vec![("weight".to_string(), self.weight.clone())];
            p.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
            p
        }
    }

    /// Minimal `nn::MaxPool2d` (square window, stride = window).
    pub struct MaxPool2d(usize);

    impl MaxPool2d {
        pub fn new(kernel_size: usize) -> MaxPool2d {
            MaxPool2d(kernel_size)
        }
    }

    impl Module for MaxPool2d {
        fn forward(&self, x: &Variable) -> Variable {
            x.max_pool2d([self.0; 2], [self.0; 2], [0, 0], [1, 1], false)
        }
    }

    /// Minimal `nn::functional::cross_entropy` (class-index targets, mean reduction).
    pub fn cross_entropy(input: &Variable, target: &Variable) -> Variable {
        let picked = input.log_softmax(1).gather(1, &target.data().unsqueeze(1));
        -&picked.mean()
    }

    fn no_grad_update(params: &[Variable], mut f: impl FnMut(usize, &Variable, &Tensor)) {
        ember::no_grad(|| {
            for (i, p) in params.iter().enumerate() {
                if let Some(g) = p.grad() {
                    f(i, p, &g);
                }
            }
        })
    }

    /// Minimal `optim::Adam` (PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay).
    pub struct Adam {
        params: Vec<Variable>,
        lr: f64,
        betas: (f64, f64),
        eps: f64,
        t: i32,
        m: Vec<Option<Tensor>>,
        v: Vec<Option<Tensor>>,
    }

    impl Adam {
        pub fn new(params: Vec<Variable>, lr: f64) -> Adam {
            let n = params.len();
            Adam { params, lr, betas: (0.9, 0.999), eps: 1e-8, t: 0, m: vec![None; n], v: vec![None; n] }
        }
        pub fn zero_grad(&mut self) {
            self.params.iter().for_each(|p| p.zero_grad());
        }
        pub fn lr(&self) -> f64 {
            self.lr
        }
        pub fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
        pub fn step(&mut self) {
            self.t += 1;
            let (b1, b2) = self.betas;
            let (bc1, bc2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
            let (lr, eps) = (self.lr, self.eps);
            let (m, v) = (&mut self.m, &mut self.v);
            no_grad_update(&self.params, |i, p, g| {
                let mi = match &m[i] {
                    Some(mi) => mi * b1 + g * (1.0 - b1),
                    None => g * (1.0 - b1),
                };
                let vi = match &v[i] {
                    Some(vi) => vi * b2 + &(g * g) * (1.0 - b2),
                    None => &(g * g) * (1.0 - b2),
                };
                let update = &(&mi * (lr / bc1)) / &((&vi / bc2).sqrt() + eps);
                p.set_data(&p.data() - &update);
                m[i] = Some(mi);
                v[i] = Some(vi);
            });
        }
    }

    /// Minimal `optim::Sgd` (plain steps, optional momentum as PyTorch's).
    pub struct Sgd {
        params: Vec<Variable>,
        lr: f64,
        momentum: f64,
        buf: Vec<Option<Tensor>>,
    }

    impl Sgd {
        pub fn new(params: Vec<Variable>, lr: f64) -> Sgd {
            let n = params.len();
            Sgd { params, lr, momentum: 0.0, buf: vec![None; n] }
        }
        pub fn momentum(mut self, m: f64) -> Sgd {
            self.momentum = m;
            self
        }
        pub fn zero_grad(&mut self) {
            self.params.iter().for_each(|p| p.zero_grad());
        }
        pub fn lr(&self) -> f64 {
            self.lr
        }
        pub fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
        pub fn step(&mut self) {
            let (lr, mom, buf) = (self.lr, self.momentum, &mut self.buf);
            no_grad_update(&self.params, |i, p, g| {
                let d = match (&buf[i], mom > 0.0) {
                    (Some(b), true) => b * mom + g,
                    _ => g.clone(),
                };
                p.set_data(&p.data() - &(&d * lr));
                if mom > 0.0 {
                    buf[i] = Some(d);
                }
            });
        }
    }
}
