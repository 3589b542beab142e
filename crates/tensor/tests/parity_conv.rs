//! Convolutions (`conv1d`, `conv2d`, `conv_transpose2d`) and their backward kernels against
//! PyTorch fixtures (outputs and input/weight/bias gradients), f32 and f64; errors; a naive
//! reference on strided inputs; the adjoint identity between conv2d and conv_transpose2d.

mod common;

use common::{assert_close, Fixtures};
use ember_tensor::{DType, Result, Tensor};

/// The arguments of one fixture case, read from its last input
/// `[sh, sw, ph, pw, dh, dw, oph, opw, groups]`.
struct Args {
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    output_padding: [usize; 2],
    groups: usize,
}

fn args(p: &Tensor) -> Args {
    let v: Vec<usize> = p.to_vec::<i64>().iter().map(|&x| x as usize).collect();
    Args {
        stride: [v[0], v[1]],
        padding: [v[2], v[3]],
        dilation: [v[4], v[5]],
        output_padding: [v[6], v[7]],
        groups: v[8],
    }
}

fn forward(kind: &str, x: &Tensor, w: &Tensor, b: Option<&Tensor>, a: &Args) -> Tensor {
    match kind {
        "conv1d" => x.conv1d(w, b, a.stride[1], a.padding[1], a.dilation[1], a.groups),
        "conv2d" => x.conv2d(w, b, a.stride, a.padding, a.dilation, a.groups),
        _ => x.conv_transpose2d(w, b, a.stride, a.padding, a.output_padding, a.groups, a.dilation),
    }
}

/// (grad of input, grad of weight) from the public backward kernels.
fn backward(kind: &str, g: &Tensor, x: &Tensor, w: &Tensor, a: &Args) -> (Tensor, Tensor) {
    let (xs, ws) = (x.shape(), w.shape());
    match kind {
        "conv1d" => {
            let (s, p, d) = (a.stride[1], a.padding[1], a.dilation[1]);
            (
                Tensor::conv1d_backward_input(g, w, xs, s, p, d, a.groups),
                Tensor::conv1d_backward_weight(g, x, ws, s, p, d, a.groups),
            )
        }
        "conv2d" => (
            Tensor::conv2d_backward_input(g, w, xs, a.stride, a.padding, a.dilation, a.groups),
            Tensor::conv2d_backward_weight(g, x, ws, a.stride, a.padding, a.dilation, a.groups),
        ),
        _ => (
            Tensor::conv_transpose2d_backward_input(
                g,
                w,
                xs,
                a.stride,
                a.padding,
                a.output_padding,
                a.groups,
                a.dilation,
            ),
            Tensor::conv_transpose2d_backward_weight(
                g,
                x,
                ws,
                a.stride,
                a.padding,
                a.output_padding,
                a.groups,
                a.dilation,
            ),
        ),
    }
}

/// The bias gradient: `g` summed over every dim but the channel dim.
fn bias_grad(g: &Tensor, channel_dim: usize) -> Tensor {
    let sh = g.shape();
    let (c, inner): (usize, usize) = (sh[channel_dim], sh[channel_dim + 1..].iter().product());
    let mut sums = vec![0.0f64; c];
    for (i, v) in g.to_vec::<f64>().iter().enumerate() {
        sums[(i / inner) % c] += v;
    }
    Tensor::from_vec(sums, &[c]).to_dtype(g.dtype())
}

#[test]
fn conv_matches_pytorch_with_gradients() {
    let fx = Fixtures::load("conv");
    let cases = fx.cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in &cases {
        let tol = if case.ends_with("f64") { 1e-10 } else { 1e-4 };
        let kind = case.split('_').next().unwrap().to_string();
        let ins = fx.inputs(case);
        let a = args(ins.last().unwrap());
        let (x, w) = (&ins[0], &ins[1]);
        let bias = if ins.len() == 4 { Some(&ins[2]) } else { None };
        fx.check1(case, tol, |_| forward(&kind, x, w, bias, &a));
        let g = fx.get(case, "gout0").expect("gradient fixture");
        let (gx, gw) = backward(&kind, &g, x, w, &a);
        assert_close(&gx, &fx.get(case, "grad0").unwrap(), tol, &format!("{case}/grad0"));
        assert_close(&gw, &fx.get(case, "grad1").unwrap(), tol, &format!("{case}/grad1"));
        if bias.is_some() {
            let unbatched = x.rank() == if kind == "conv1d" { 2 } else { 3 };
            let gb = bias_grad(&g, if unbatched { 0 } else { 1 });
            assert_close(&gb, &fx.get(case, "grad2").unwrap(), tol, &format!("{case}/grad2"));
        }
    }
    fx.finish();
}

/// Direct 2-d convolution in f64 from row-major copies.
fn naive_conv2d(x: &Tensor, w: &Tensor, s: [usize; 2], p: [usize; 2], d: [usize; 2], groups: usize) -> Vec<f64> {
    let (xv, wv) = (x.to_vec::<f64>(), w.to_vec::<f64>());
    let [n, c, h, wd] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let [o, cg, kh, kw] = [w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]];
    let oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) / s[0] + 1;
    let ow = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) / s[1] + 1;
    let og = o / groups;
    let mut out = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            for y in 0..oh {
                for xo in 0..ow {
                    let mut acc = 0.0;
                    for ci in 0..cg {
                        let ic = (oc / og) * cg + ci;
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (y * s[0] + i * d[0]) as isize - p[0] as isize;
                                let ix = (xo * s[1] + j * d[1]) as isize - p[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                    let xi = ((b * c + ic) * h + iy as usize) * wd + ix as usize;
                                    acc += xv[xi] * wv[((oc * cg + ci) * kh + i) * kw + j];
                                }
                            }
                        }
                    }
                    out[((b * o + oc) * oh + y) * ow + xo] = acc;
                }
            }
        }
    }
    out
}

#[test]
fn conv2d_matches_naive_on_strided_inputs() {
    ember_tensor::manual_seed(11);
    // (n, c, h, w, o, k, stride, padding, dilation, groups)
    let configs = [
        (3, 4, 9, 7, 6, 3, [1, 2], [1, 0], [1, 1], 2),
        (2, 3, 8, 8, 3, 2, [3, 1], [0, 2], [2, 1], 3),
        (5, 2, 6, 5, 4, 1, [1, 1], [0, 0], [1, 1], 1),
        (1, 6, 5, 11, 6, 3, [2, 2], [2, 2], [1, 3], 6),
        (1, 16, 24, 20, 8, 3, [1, 1], [1, 1], [1, 1], 1),
    ];
    for dt in [DType::F32, DType::F64] {
        let tol = if dt == DType::F32 { 1e-4 } else { 1e-10 };
        for (n, c, h, wd, o, k, s, p, d, g) in configs {
            // a non-contiguous input: stored as [n, c, w, h] and transposed
            let x = Tensor::randn_dtype(&[n, c, wd, h], dt).transpose(2, 3);
            let w = Tensor::randn_dtype(&[o, k, c / g, k], dt).transpose(1, 2);
            let got = x.conv2d(&w, None, s, p, d, g).to_vec::<f64>();
            let want = naive_conv2d(&x, &w, s, p, d, g);
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= tol * (b.abs() + 1.0), "{:?}: {a} vs {b}", (n, c, h, wd, o, k, s, p, d, g));
            }
        }
    }
}

fn inner(a: &Tensor, b: &Tensor) -> f64 {
    a.to_vec::<f64>().iter().zip(b.to_vec::<f64>()).map(|(x, y)| x * y).sum()
}

/// Input shape, weight shape, stride, padding, dilation, groups.
type AdjointCase = (&'static [usize], &'static [usize], [usize; 2], [usize; 2], [usize; 2], usize);

/// `<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>` when the shapes line up, and
/// `conv2d_backward_input` is that transposed convolution. The second configuration is one large
/// sample (channel-parallel im2col/col2im, threaded GEMM).
#[test]
fn conv_transpose2d_is_the_adjoint_of_conv2d() {
    ember_tensor::manual_seed(5);
    let configs: [AdjointCase; 2] = [
        (&[2, 4, 9, 8], &[6, 2, 3, 2], [2, 3], [1, 1], [2, 1], 2),
        (&[1, 16, 30, 26], &[24, 16, 3, 3], [1, 1], [1, 1], [1, 1], 1),
    ];
    for (xs, ws, s, p, d, g) in configs {
        let x = Tensor::randn_dtype(xs, DType::F64);
        let w = Tensor::randn_dtype(ws, DType::F64);
        let y = x.conv2d(&w, None, s, p, d, g);
        let dy = Tensor::randn_dtype(y.shape(), DType::F64);
        // output_padding recovers the input size lost to the stride's rounding
        let op = |i: usize| xs[2 + i] + 2 * p[i] - ((y.shape()[2 + i] - 1) * s[i] + d[i] * (ws[2 + i] - 1) + 1);
        let xt = dy.conv_transpose2d(&w, None, s, p, [op(0), op(1)], g, d);
        assert_eq!(xt.shape(), x.shape());
        let (lhs, rhs) = (inner(&y, &dy), inner(&x, &xt));
        assert!((lhs - rhs).abs() < 1e-9 * (lhs.abs() + 1.0), "{lhs} vs {rhs}");
        let bi = Tensor::conv2d_backward_input(&dy, &w, x.shape(), s, p, d, g);
        assert_close(&bi, &xt, 1e-12, "backward_input vs conv_transpose2d");
    }
}

fn err(r: Result<Tensor>) -> String {
    r.unwrap_err().to_string()
}

fn has(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "'{e}' lacks '{p}'");
    }
}

#[test]
fn conv_errors_name_the_problem() {
    let x = Tensor::zeros(&[1, 4, 5, 5]);
    let w = Tensor::zeros(&[2, 4, 3, 3]);
    let (one, zero) = ([1, 1], [0, 0]);
    has(&err(Tensor::zeros(&[3, 4]).try_conv2d(&w, None, one, zero, one, 1)), &["conv2d", "[3, 4]", "4D"]);
    has(&err(x.try_conv2d(&Tensor::zeros(&[2, 4, 3]), None, one, zero, one, 1)), &["conv2d", "[2, 4, 3]"]);
    let w3 = Tensor::zeros(&[2, 3, 3, 3]);
    has(&err(x.try_conv2d(&w3, None, one, zero, one, 1)), &["conv2d", "[2, 3, 3, 3]", "[1, 4, 5, 5]", "3 channels"]);
    let w_odd = Tensor::zeros(&[3, 2, 3, 3]);
    has(&err(x.try_conv2d(&w_odd, None, one, zero, one, 2)), &["conv2d", "groups=2", "out_channels 3"]);
    let x3 = Tensor::zeros(&[1, 3, 5, 5]);
    has(&err(x3.try_conv2d(&Tensor::zeros(&[4, 1, 3, 3]), None, one, zero, one, 2)), &["conv2d", "in_channels 3"]);
    has(&err(x.try_conv2d(&w, None, one, zero, one, 0)), &["conv2d", "groups"]);
    let big = Tensor::zeros(&[2, 4, 7, 3]);
    has(&err(x.try_conv2d(&big, None, one, zero, one, 1)), &["conv2d", "kernel", "[2, 4, 7, 3]", "[5, 5]", "[7, 3]"]);
    has(&err(x.try_conv2d(&w, None, [0, 1], zero, one, 1)), &["conv2d", "stride", "[0, 1]"]);
    has(&err(x.try_conv2d(&w, None, one, zero, [1, 0], 1)), &["conv2d", "dilation", "[1, 0]"]);
    has(&err(x.try_conv2d(&w, Some(&Tensor::zeros(&[3])), one, zero, one, 1)), &["conv2d", "bias", "[3]", "[2]"]);
    let w64 = Tensor::zeros_dtype(&[2, 4, 3, 3], DType::F64);
    has(&err(x.try_conv2d(&w64, None, one, zero, one, 1)), &["conv2d", "F32", "F64"]);
    let xi = Tensor::zeros_dtype(&[1, 4, 5, 5], DType::I64);
    has(&err(xi.try_conv2d(&w.to_dtype(DType::I64), None, one, zero, one, 1)), &["conv2d", "I64"]);
    // conv1d speaks in 1-d terms
    let x1 = Tensor::zeros(&[2, 3, 8]);
    let w1 = Tensor::zeros(&[4, 3, 3]);
    has(&err(x1.try_conv1d(&w1, None, 0, 0, 1, 1)), &["conv1d", "stride", "[0]"]);
    has(&err(x1.try_conv1d(&Tensor::zeros(&[4, 3, 3, 3]), None, 1, 0, 1, 1)), &["conv1d", "3D weight"]);
    has(&err(x1.try_conv1d(&Tensor::zeros(&[4, 3, 9]), None, 1, 0, 1, 1)), &["conv1d", "kernel", "[8]", "[9]"]);
    has(&err(Tensor::zeros(&[8]).try_conv1d(&w1, None, 1, 0, 1, 1)), &["conv1d", "[8]", "2D (unbatched) or 3D"]);
    // transposed convolution
    let wt = Tensor::zeros(&[4, 2, 3, 3]);
    has(
        &err(x3.try_conv_transpose2d(&wt, None, one, zero, zero, 1, one)),
        &["conv_transpose2d", "[4, 2, 3, 3]", "[1, 3, 5, 5]"],
    );
    has(&err(x.try_conv_transpose2d(&wt, None, one, zero, one, 1, one)), &["conv_transpose2d", "output padding"]);
    has(&err(x.try_conv_transpose2d(&wt, None, one, zero, zero, 3, one)), &["conv_transpose2d", "groups=3"]);
    let tiny = Tensor::zeros(&[1, 1, 1, 1]);
    has(&err(tiny.try_conv_transpose2d(&tiny, None, one, one, zero, 1, one)), &["conv_transpose2d", "too small"]);
    has(&err(x.try_conv_transpose2d(&wt, Some(&Tensor::zeros(&[4])), one, zero, zero, 1, one)), &["bias", "[4]"]);
    // backward kernels check the upstream gradient's shape
    let g = Tensor::zeros(&[1, 2, 4, 4]);
    let e = err(Tensor::try_conv2d_backward_input(&g, &w, &[1, 4, 5, 5], one, zero, one, 1));
    has(&e, &["conv2d_backward_input", "[1, 2, 4, 4]", "[1, 2, 3, 3]"]);
    let e = err(Tensor::try_conv2d_backward_weight(&g, &x, &[2, 4, 3, 3], one, zero, one, 1));
    has(&e, &["conv2d_backward_weight", "[1, 2, 4, 4]", "[1, 2, 3, 3]"]);
    let e = err(Tensor::try_conv1d_backward_input(&Tensor::zeros(&[2, 4, 5]), &w1, &[2, 3, 8], 1, 0, 1, 1));
    has(&e, &["conv1d_backward_input", "[2, 4, 5]", "[2, 4, 6]"]);
    let e = err(Tensor::try_conv_transpose2d_backward_input(&g, &wt, &[1, 4, 5, 5], one, zero, zero, 1, one));
    has(&e, &["conv_transpose2d_backward_input", "[1, 2, 4, 4]", "[1, 2, 7, 7]"]);
    let e = err(Tensor::try_conv_transpose2d_backward_weight(&g, &x, &[4, 2, 3, 3], one, zero, zero, 1, one));
    has(&e, &["conv_transpose2d_backward_weight", "[1, 2, 4, 4]", "[1, 2, 7, 7]"]);
}

#[test]
#[should_panic(expected = "conv2d: given groups=1, weight of shape [2, 3, 3, 3]")]
fn conv2d_panics_on_channel_mismatch() {
    let _ = Tensor::zeros(&[1, 4, 5, 5]).conv2d(&Tensor::zeros(&[2, 3, 3, 3]), None, [1, 1], [0, 0], [1, 1], 1);
}

#[test]
fn conv_edge_shapes() {
    // empty batch, and a padded input smaller than the kernel's reach on one side
    let y = Tensor::zeros(&[0, 2, 5, 5]).conv2d(
        &Tensor::ones(&[3, 2, 3, 3]),
        Some(&Tensor::ones(&[3])),
        [1, 1],
        [0, 0],
        [1, 1],
        1,
    );
    assert_eq!(y.shape(), &[0, 3, 3, 3]);
    let x = Tensor::ones(&[1, 1, 2, 2]);
    let y = x.conv2d(&Tensor::ones(&[1, 1, 3, 3]), None, [1, 1], [1, 1], [1, 1], 1);
    assert_eq!(y.to_vec::<f32>(), vec![4.0; 4]);
    let y = x.conv2d(&Tensor::ones(&[1, 1, 1, 1]), None, [3, 3], [2, 2], [1, 1], 1);
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec::<f32>(), vec![0.0, 0.0, 0.0, 1.0]);
}
