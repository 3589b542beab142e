//! `ember-autograd`: [`Variable`], the dynamic graph recorded as the program runs, and `backward`.
//!
//! Every op on Variables runs the tensor op on the data and, when a gradient is needed, records a
//! node holding the inputs and a backward rule. `backward` walks the nodes in reverse creation order,
//! accumulating gradients. Backward rules are written with Variable ops, so with `create_graph` the
//! gradients are themselves differentiable: gradients of gradients, Hessian-vector products,
//! gradient penalties.
//!
//! ```
//! use ember_autograd::{grad, Variable};
//! use ember_tensor::Tensor;
//! let x = Variable::new(Tensor::from_vec(vec![2.0f64], &[]), true);
//! let y = x.powf(3.0);                          // x^3
//! let dy = &grad(&y, &[&x], true)[0];           // 3x^2 = 12
//! let d2y = &grad(dy, &[&x], false)[0];         // 6x = 12
//! assert_eq!(dy.data().item::<f64>(), 12.0);
//! assert_eq!(d2y.data().item::<f64>(), 12.0);
//! ```
#![warn(missing_docs)]

mod autocast;
mod dot;
pub mod gradcheck;
mod graph;
mod idhash;
mod inplace;
mod mode;
mod rules;
mod variable;

pub use autocast::{autocast, autocast_dtype, autocast_inputs, autocast_policy, AutocastArgs, CastPolicy, POLICIES};
pub use gradcheck::gradcheck;
pub use graph::{grad, grad_with, run_backward, try_grad};
pub use mode::{detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad};
pub use rules::conv::Conv2dOpts;
pub use variable::{live_nodes, BackwardCtx, BackwardFn, Hook, PostAccumulateHook, Variable};
