//! First-order gradients of `conv1d`, `conv2d` and `conv_transpose2d` (input, weight and bias)
//! against PyTorch's (`scripts/fixtures/fam_conv.py`): stride, padding, dilation, groups,
//! depthwise, output padding, unbatched inputs. Every case holding a gradient is checked.

mod common;

use common::{tol, Fx};
use ember_autograd::{Conv2dOpts, Variable};

/// A case's arguments, from its last input `[sh, sw, ph, pw, dh, dw, oph, opw, groups]`.
struct Args {
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    output_padding: [usize; 2],
    groups: usize,
}

fn args(p: &Variable) -> Args {
    let v: Vec<usize> = p.data().to_vec::<i64>().iter().map(|&x| x as usize).collect();
    Args {
        stride: [v[0], v[1]],
        padding: [v[2], v[3]],
        dilation: [v[4], v[5]],
        output_padding: [v[6], v[7]],
        groups: v[8],
    }
}

fn forward(kind: &str, v: &[Variable]) -> Variable {
    let a = args(v.last().unwrap());
    let (x, w) = (&v[0], &v[1]);
    let b = if v.len() == 4 { Some(&v[2]) } else { None };
    match kind {
        "conv1d" => x.conv1d(w, b, a.stride[1], a.padding[1], a.dilation[1], a.groups),
        "conv2d" => {
            let o = Conv2dOpts { stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups };
            x.conv2d(w, b, o)
        }
        "convt2d" => x.conv_transpose2d(w, b, a.stride, a.padding, a.output_padding, a.groups, a.dilation),
        _ => panic!("unknown conv case kind {kind}"),
    }
}

#[test]
fn conv_grads_match_pytorch() {
    let fx = Fx::load("tensor", "conv");
    let cases = fx.grad_cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in &cases {
        let kind = case.split('_').next().unwrap().to_string();
        fx.check_grads(case, tol(case), |v| vec![forward(&kind, v)]);
    }
    fx.finish_grads();
}
