//! GPU convolutions as implicit GEMMs of the matmul kernel (`shaders/matmul.wgsl`): the forward
//! and the weight gradient read the input's columns straight from `x` (no im2col buffer), the
//! weight gradient reads `dy` in place and gives the bias gradient as one more column of the same
//! product; the input gradient is `W^T @ dy` and col2im (`shaders/conv.wgsl`, a gather, no
//! atomics). The entry points mirror `cpu/conv.rs` (and serve `conv_transpose2d`).

use super::matmul::{launch, matmul, Bias, Gemm, Implicit};
use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, groups_for, shaders, storage, tensor, GpuStorage};
use crate::op_desc::ConvGeom;
use crate::{Error, Result, Tensor};

/// Runs `entry` of conv.wgsl from `src` into a new tensor of `shape` (one invocation per output).
fn run(op: &'static str, entry: &'static str, src: &Tensor, g: &ConvGeom, shape: &[usize]) -> Result<Tensor> {
    run_with(op, (entry, &[]), src, g, shape)
}

/// [`run`] with override constants.
fn run_with(
    op: &'static str,
    (entry, constants): (&'static str, &[(&'static str, f64)]),
    src: &Tensor,
    g: &ConvGeom,
    shape: &[usize],
) -> Result<Tensor> {
    let dtype = src.dtype();
    if !dtype.is_float() {
        return Err(Error::UnsupportedDType { op, dtype });
    }
    let ctx = storage(src).ctx().clone();
    ctx.require(op, dtype)?;
    let total: usize = shape.iter().product();
    let out = GpuStorage::new(&ctx, op, dtype, total)?;
    if total > 0 {
        let src = dense(src)?;
        let v = [total, g.n, g.c, g.h, g.w, g.kh, g.kw, g.oh, g.ow].into_iter().chain(steps(g));
        let info: Vec<u32> = v.chain([src.layout.offset]).map(|x| check_u32(op, x)).collect::<Result<_>>()?;
        let info = Meta::words(&info);
        let module = format!("conv ({dtype})");
        let source = move || shaders::elementwise(shaders::CONV, dtype);
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry,
            constants,
            read_only: &[true, false, true],
        };
        ctx.dispatch(&spec, &[storage(&src).buffer(), out.buffer(), &info], ctx.grid(op, groups_for(total))?);
    }
    Ok(tensor(out, shape))
}

/// `t` with dense strides, at any offset: `t` itself when it has them (a parameter that is a view
/// into an optimizer's packed buffer is read in place), else a dense copy.
pub(crate) fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        return Ok(t.clone());
    }
    t.try_contiguous()
}

/// `dy` (`[n, o, oh, ow]`) as `[G, O/G, N * L]` (a copy).
fn grouped_dy(dy: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    let l = g.oh * g.ow;
    dy.try_reshape(&[g.n, g.o, l])?.try_permute(&[1, 0, 2])?.try_contiguous()?.try_reshape(&[
        g.groups,
        g.o / g.groups,
        g.n * l,
    ])
}

/// The weight `[o, c/G, kh, kw]` as `[G, O/G, K]` (a view of a dense weight).
fn grouped_w(w: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    w.try_reshape(&[g.groups, g.o / g.groups, g.c / g.groups * g.kh * g.kw])
}

/// The geometry's stride, padding and dilation (rows, then columns, of each), as the kernels'
/// info words have them.
fn steps(g: &ConvGeom) -> [usize; 6] {
    [g.stride[0], g.stride[1], g.padding[0], g.padding[1], g.dilation[0], g.dilation[1]]
}

/// Words 19 to 33 of the matmul kernel's info for geometry `g` (A's batch modulus `a_mod`).
fn conv_words(op: &'static str, g: &ConvGeom, a_mod: usize) -> Result<[u32; 15]> {
    let taps = g.c / g.groups * g.kh * g.kw;
    let v = [a_mod, g.h, g.w, g.kh, g.kw, g.ow, g.oh * g.ow].into_iter().chain(steps(g)).chain([g.c * g.h * g.w, taps]);
    let mut out = [0u32; 15];
    for (o, x) in out.iter_mut().zip(v) {
        *o = check_u32(op, x)?;
    }
    // the kernel finds the furthest tap of the furthest output position in i32 arithmetic
    let reach = (g.oh * g.stride[0] + g.kh * g.dilation[0]).max(g.ow * g.stride[1] + g.kw * g.dilation[1]);
    if reach > i32::MAX as usize || g.padding[0].max(g.padding[1]) > i32::MAX as usize {
        crate::bail!(
            op,
            "a convolution reaching {reach} input positions (padding {:?}) exceeds the GPU kernel's 32-bit indices",
            g.padding
        );
    }
    check_u32(op, g.n * g.c * g.h * g.w)?;
    Ok(out)
}

/// Fails unless `t` is F32 or F64 (the matmul kernel's dtypes), naming `op`.
fn float(op: &'static str, t: &Tensor) -> Result<()> {
    if t.dtype().is_float() {
        return Ok(());
    }
    Err(Error::UnsupportedDType { op, dtype: t.dtype() })
}

/// The convolution `[n, c, h, w] * [o, c/G, kh, kw] (+ bias [o]) -> [n, o, oh, ow]`: one product
/// per image and group, `W_g [O/G, K] @ cols [K, L]`, with the columns read from `x` by the kernel
/// and the output written in its `[N, O, L]` layout; the bias (one per output channel, a row of
/// each product) is added by the product's epilogue when there is one group.
pub(crate) fn forward(op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
    float(op, x)?;
    x.same_dtype(op, w)?;
    let ctx = storage(x).ctx().clone();
    ctx.require(op, x.dtype())?;
    let (taps, og, l) = (g.c / g.groups * g.kh * g.kw, g.o / g.groups, g.oh * g.ow);
    let shape = [g.n, g.o, g.oh, g.ow];
    let add_bias = |y: Tensor| match bias {
        Some(b) => y.try_add(&b.try_reshape(&[g.o, 1, 1])?),
        None => Ok(y),
    };
    if g.n * g.o * l == 0 {
        return Ok(tensor(GpuStorage::new(&ctx, op, x.dtype(), 0)?, &shape));
    }
    if taps == 0 {
        return add_bias(super::fill::full(&shape, 0.0, x.dtype(), ctx.index)?);
    }
    let (x, w) = (dense(x)?, dense(w)?);
    let one = g.groups == 1;
    let gemm = Gemm {
        a: &w,
        b: &x,
        mnk: [og, l, taps],
        bsz: g.n * g.groups,
        a_walk: [w.layout().offset, og * taps, taps, 1],
        b_walk: [x.layout().offset, g.c / g.groups * g.h * g.w, 0, 0],
        bias: bias.filter(|_| one).map(|t| Bias { t, per_row: true }),
        implicit: Implicit { im2col: 1, conv: conv_words(op, g, g.groups)?, ..Implicit::default() },
    };
    let y = tensor(launch(&gemm, None)?, &shape);
    if one {
        Ok(y)
    } else {
        add_bias(y)
    }
}

/// The input gradient `[n, c, h, w]` of `dy` `[n, o, oh, ow]`: `col2im(W_g^T @ dy_g)`, plus a
/// per-channel `init` (`[c]`, the bias of a transposed convolution).
pub(crate) fn backward_input(
    op: &'static str,
    dy: &Tensor,
    w: &Tensor,
    init: Option<&Tensor>,
    g: &ConvGeom,
) -> Result<Tensor> {
    let dx = if g.groups == 1 {
        // W^T [K, O] @ dy[n] [O, L] for every image n, reading dy in place: columns [N, K, L].
        let k = g.c * g.kh * g.kw;
        let wt = w.try_reshape(&[g.o, k])?.try_transpose(0, 1)?;
        let dcols = matmul(&wt, &dy.try_reshape(&[g.n, g.o, g.oh * g.ow])?)?;
        run_with(op, ("col2im", &[("NKL", 1.0)]), &dcols, g, &[g.n, g.c, g.h, g.w])?
    } else {
        let dcols = matmul(&grouped_w(w, g)?.try_transpose(1, 2)?, &grouped_dy(dy, g)?)?; // [G, K, N*L]
        run(op, "col2im", &dcols, g, &[g.n, g.c, g.h, g.w])?
    };
    match init {
        Some(b) => dx.try_add(&b.try_reshape(&[g.c, 1, 1])?),
        None => Ok(dx),
    }
}

/// The weight gradient `[o, c/G, kh, kw]` of `dy` `[n, o, oh, ow]` and `x` `[n, c, h, w]`, and
/// with `with_bias` the bias gradient `[o]` (dy summed over images and positions): per group one
/// product `dy_g [O/G, N * L] @ cols_g^T [N * L, K (+ 1)]` summed over the batch by the product
/// itself, `dy` read in place as `[N, O, L]` and the columns (plus a column of ones, whose
/// product is the bias gradient) from `x`. Both gradients are views of one buffer.
pub(crate) fn backward_weight_bias(
    op: &'static str,
    dy: &Tensor,
    x: &Tensor,
    g: &ConvGeom,
    with_bias: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    float(op, dy)?;
    dy.same_dtype(op, x)?;
    let ctx = storage(dy).ctx().clone();
    ctx.require(op, dy.dtype())?;
    let (taps, og, l) = (g.c / g.groups * g.kh * g.kw, g.o / g.groups, g.oh * g.ow);
    let ws = [g.o, g.c / g.groups, g.kh, g.kw];
    let cols = taps + usize::from(with_bias);
    let out = if g.o * cols == 0 {
        tensor(GpuStorage::new(&ctx, op, dy.dtype(), 0)?, &[0])
    } else if g.n * l == 0 {
        super::fill::full(&[g.o * cols], 0.0, dy.dtype(), ctx.index)?
    } else {
        let dy3 = dy.try_reshape(&[g.n, g.o, l])?;
        let x = dense(x)?;
        let (ly, st) = (dy3.layout(), &dy3.layout().strides);
        let gemm = Gemm {
            a: &dy3,
            b: &x,
            mnk: [og, cols, g.n * l],
            bsz: g.groups,
            a_walk: [ly.offset, og * st[1], st[1], st[2]],
            b_walk: [x.layout().offset, g.c / g.groups * g.h * g.w, 0, 0],
            bias: None,
            implicit: Implicit { a_k2: Some((l, st[0])), im2col: 2, conv: conv_words(op, g, 1)?, split_col: with_bias },
        };
        tensor(launch(&gemm, None)?, &[g.o * cols])
    };
    let dw = out.try_narrow(0, 0, g.o * taps)?.try_reshape(&ws)?;
    let db = if with_bias { Some(out.try_narrow(0, g.o * taps, g.o)?) } else { None };
    Ok((dw, db))
}
