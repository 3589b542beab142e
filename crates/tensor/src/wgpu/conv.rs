//! GPU convolutions (`shaders/conv.wgsl` + the matmul kernel): im2col into columns laid out
//! `[G, K, N * L]`, one batched matmul over the groups, and col2im (a gather, no atomics) for the
//! input gradient. The three entry points mirror `cpu/conv.rs` (and serve `conv_transpose2d`).

use super::matmul::{matmul, matmul_bias, Bias};
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
        let src = src.try_contiguous()?;
        let v = [
            total,
            g.n,
            g.c,
            g.h,
            g.w,
            g.kh,
            g.kw,
            g.oh,
            g.ow,
            g.stride[0],
            g.stride[1],
            g.padding[0],
            g.padding[1],
            g.dilation[0],
            g.dilation[1],
            src.layout.offset,
        ];
        let info: Vec<u32> = v.iter().map(|&x| check_u32(op, x)).collect::<Result<_>>()?;
        let info = ctx.upload_words(op, &info)?;
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
        ctx.release(info);
    }
    Ok(tensor(out, shape))
}

/// The columns of `x` (`[n, c, h, w]`) as `[G, K, N * L]`.
fn im2col(op: &'static str, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    let kk = g.c / g.groups * g.kh * g.kw;
    let cols = run(op, "im2col", x, g, &[g.c * g.kh * g.kw, g.n, g.oh * g.ow])?;
    cols.try_reshape(&[g.groups, kk, g.n * g.oh * g.ow])
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

/// The convolution `[n, c, h, w] * [o, c/G, kh, kw] (+ bias [o]) -> [n, o, oh, ow]`.
pub(crate) fn forward(op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
    let cols = im2col(op, x, g)?;
    let l = g.oh * g.ow;
    if g.groups == 1 {
        // One product batched over the images, `W [O, K] @ cols[:, n] [K, L]`, reading the columns
        // in place (`[K, N, L]` seen as `[N, K, L]`) and writing `[N, O, L]`, the output's layout,
        // with the bias (one per output channel, a row of each product) added by its epilogue.
        let k = g.c * g.kh * g.kw;
        let w2 = w.try_reshape(&[g.o, k])?;
        let cols = cols.try_reshape(&[k, g.n, l])?.try_permute(&[1, 0, 2])?;
        let y = match bias {
            Some(t) => matmul_bias(&w2, &cols, Bias { t, per_row: true })?,
            None => matmul(&w2, &cols)?,
        };
        return y.try_reshape(&[g.n, g.o, g.oh, g.ow]);
    }
    let y = matmul(&grouped_w(w, g)?, &cols)?; // [G, O/G, N*L]
    let y = y.try_reshape(&[g.o, g.n, l])?.try_permute(&[1, 0, 2])?;
    let y = match bias {
        Some(b) => y.try_add(&b.try_reshape(&[g.o, 1])?)?,
        None => y.try_contiguous()?,
    };
    y.try_reshape(&[g.n, g.o, g.oh, g.ow])
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

/// The weight gradient `[o, c/G, kh, kw]` of `dy` `[n, o, oh, ow]` and `x` `[n, c, h, w]`:
/// `dy_g @ cols_g^T`, summed over the batch by the product itself.
pub(crate) fn backward_weight(op: &'static str, dy: &Tensor, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    let cols = im2col(op, x, g)?;
    let dw = matmul(&grouped_dy(dy, g)?, &cols.try_transpose(1, 2)?)?; // [G, O/G, K]
    dw.try_reshape(&[g.o, g.c / g.groups, g.kh, g.kw])
}
