//! Errors point at the user's line: a panicking layer forward, functional form or loss reports the
//! caller's file (this test file) as the panic location, not a file inside ember-nn or
//! ember-autograd (`#[track_caller]` through every layer, including `Module::forward` itself, so
//! that containers such as `Sequential` pass the location through `dyn Module`).

use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use ember_autograd::Variable;
use ember_nn::functional as F;
use ember_nn::*;
use ember_tensor::Tensor;

/// The location (`file`, `line`) recorded by the panic hook for the last panic.
static LAST: Mutex<Option<(String, u32)>> = Mutex::new(None);

/// Runs `f`, which must panic, and returns the file and line the panic reported.
fn panic_location(f: impl FnOnce()) -> (String, u32) {
    *LAST.lock().unwrap() = None;
    let r = catch_unwind(AssertUnwindSafe(f));
    assert!(r.is_err(), "expected a panic");
    LAST.lock().unwrap().clone().expect("the hook saw the panic")
}

fn x(shape: &[usize]) -> Variable {
    Variable::from(Tensor::randn(shape))
}

/// Asserts that the panic of `$e` is reported at this file, on the line of the call.
macro_rules! at_caller {
    ($name:expr, $e:expr) => {{
        let (file, line) = panic_location(|| {
            let _ = $e;
        });
        assert!(file.ends_with("caller_location.rs"), "{}: panic located at {file}:{line}, not at the caller", $name);
        assert_eq!(line, line!(), "{}: panic located at line {line}", $name);
    }};
}

// One test body: the panic hook is process-wide, so the cases run in sequence.
#[test]
fn layer_panics_point_at_the_caller() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if let Some(l) = info.location() {
            *LAST.lock().unwrap() = Some((l.file().to_string(), l.line()));
        }
        default(info);
    }));
    let linear = Linear::new(3, 2);
    at_caller!("Linear", linear.forward(&x(&[4, 5])));
    let conv = Conv2d::new(3, 8, 3);
    at_caller!("Conv2d", conv.forward(&x(&[1, 2, 8, 8])));
    let ln = LayerNorm::new(4);
    at_caller!("LayerNorm", ln.forward(&x(&[2, 5])));
    let emb = Embedding::new(10, 3);
    let bad_idx = Variable::from(Tensor::from_vec(vec![1i64, 12], &[2]));
    at_caller!("Embedding", emb.forward(&bad_idx));
    let logits = x(&[4, 3]);
    let target = Variable::from(Tensor::from_vec(vec![0i64, 1, 2], &[3]));
    at_caller!("cross_entropy", F::cross_entropy(&logits, &target));
    at_caller!("CrossEntropyLoss", CrossEntropyLoss::new().forward(&logits, &target));
    let seq = Sequential::new().add(Linear::new(3, 4)).add(Relu::new()).add(Linear::new(5, 2));
    at_caller!("Sequential", seq.forward(&x(&[2, 3])));
    let boxed: Box<dyn Module> = Box::new(Linear::new(3, 2));
    at_caller!("Box<dyn Module>", boxed.forward(&x(&[2, 7])));
    at_caller!("BatchNorm1d", BatchNorm1d::new(4).forward(&x(&[3, 5])));
    at_caller!("Lstm", Lstm::new(4, 8).forward(&x(&[5, 2, 3])));
    at_caller!("Conv1d", Conv1d::new(3, 4, 3).forward(&x(&[1, 2, 9])));
    at_caller!("GroupNorm", GroupNorm::new(2, 4).forward(&x(&[2, 6, 3])));
    at_caller!("RmsNorm", RmsNorm::new(4).forward(&x(&[2, 3])));
    at_caller!("Gru", Gru::new(4, 8).forward(&x(&[5, 2, 3])));
    at_caller!("MaxPool2d", MaxPool2d::new(3).forward(&x(&[1, 1, 2, 2])));
    at_caller!("TransformerEncoderLayer", TransformerEncoderLayer::new(8, 2).forward(&x(&[3, 2, 6])));
    at_caller!("F::linear", F::linear(&x(&[2, 3]), &x(&[4, 5]), None));
    at_caller!("F::conv2d", F::conv2d(&x(&[1, 3, 4, 4]), &x(&[2, 4, 3, 3]), None, 1, 0, 1, 1));
    at_caller!("F::layer_norm", F::layer_norm(&x(&[2, 3]), &[4], None, None, 1e-5));
    at_caller!("MseLoss", MseLoss::new().forward(&x(&[2, 3]), &x(&[3, 2])));
    at_caller!("Variable::matmul", x(&[2, 3]).matmul(&x(&[4, 5])));
    let _ = panic::take_hook();
}
