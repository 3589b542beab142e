//! Anomaly mode (process-wide, so in its own test binary, one test): the first backward rule that
//! produces a NaN or infinite gradient is named in the error.

use ember_autograd::{detect_anomaly, is_anomaly_enabled, Variable};
use ember_tensor::Tensor;

fn v(data: &[f64]) -> Variable {
    Variable::new(Tensor::from_vec(data.to_vec(), &[data.len()]), true)
}

#[test]
fn anomaly_mode_names_the_op_whose_backward_produced_the_nan() {
    // off: the NaN flows into .grad silently
    assert!(!is_anomaly_enabled());
    let x = v(&[0.0, 4.0]);
    let recorded_off = x.sqrt(); // recorded while anomaly mode is off: no location kept
    (&x.sqrt() * 2.0 + 1.0).sum().backward();
    assert!(x.grad().unwrap().to_vec::<f64>()[0].is_infinite());

    detect_anomaly(true);
    assert!(is_anomaly_enabled());
    // sqrt at 0: the rules of sum, add and mul run first and are fine; sqrt's gives inf
    let x = v(&[0.0, 4.0]);
    let line = line!() + 1;
    let e = (&x.sqrt() * 2.0 + 1.0).sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("anomaly") && e.contains("'sqrt'") && e.contains("nan or inf"), "{e}");
    // the forward call's source location (recorded only in anomaly mode) is this file and line
    let at = format!("the forward call of 'sqrt' was at {}:{line}:", file!());
    assert!(e.contains(&at), "{e}\nwanted {at}");
    // an infinite gradient made in the middle of the graph: the rule of mul gives g * inf
    let (a, b) = (v(&[0.0]), v(&[1.0]));
    let line = line!() + 1;
    let e = (&a.recip() * &b.mul_scalar(0.0)).sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("'mul'") && e.contains("input 1"), "{e}");
    assert!(e.contains(&format!("{}:{line}:", file!())), "{e}"); // the `*` operator's line
                                                                 // through grad() too, and finite gradients pass
    let x = v(&[1.0, 2.0]);
    let g = ember_autograd::grad(&x.log().sum(), &[&x], false);
    assert_eq!(g[0].data().to_vec::<f64>(), vec![1.0, 0.5]);
    let e = ember_autograd::try_grad(&v(&[-1.0]).sqrt().sum(), &[], false);
    assert!(e.is_ok(), "no inputs: nothing to check");
    let y = v(&[0.0]);
    let e = ember_autograd::try_grad(&y.log().sum(), &[&y], false).unwrap_err().to_string();
    assert!(e.contains("'log'") && e.contains(file!()), "{e}");
    // a graph recorded with anomaly mode off names the op without a location
    let e = recorded_off.sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("'sqrt'") && !e.contains("forward call"), "{e}");
    detect_anomaly(false);
    assert!(!is_anomaly_enabled());
}
