//! GPU matrix product (`shaders/matmul.wgsl`): batched, tiled through workgroup memory with
//! register blocking (64 x 64 tiles of 4 x 4 per invocation, or 128 x 128 tiles of 8 x 8 for large
//! products); operands read through their strides, so transposed and broadcast (expanded) operands
//! need no copy.
//!
//! Entry point for `ops/matmul.rs`: [`matmul`]`(a, b)` for `a: [.., M, K]`, `b: [.., K, N]` (rank >= 2,
//! batch dims broadcast as `torch.matmul`), giving `[batch.., M, N]`. 1-d operands are the caller's
//! (unsqueeze / squeeze around this call).

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, shaders, storage, tensor, GpuStorage};
use crate::shape::broadcast_shapes;
use crate::{DType, Error, Result, Tensor};

/// The two tilings of `matmul.wgsl`: (entry point, tile edge). Which one a product takes: timed
/// per shape class on first use (`matmul_tune.rs`), else the size heuristic [`tiling`].
const SMALL: (&str, usize) = ("matmul", 64);
const BIG: (&str, usize) = ("matmul_big", 128);

/// Products with at least this many 128 x 128 tiles take the big tiling: enough workgroups to fill a
/// large GPU (about one per compute unit of a 132-unit card) while each does 4x the work.
const BIG_MIN_TILES: usize = 128;

/// The tiling for a `[bsz, m, n]` output. `EMBER_MATMUL_TILE=64` or `=128` forces one (benchmarks
/// and tests compare them).
fn tiling(bsz: usize, m: usize, n: usize) -> (&'static str, usize) {
    static FORCED: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    let forced = *FORCED.get_or_init(|| std::env::var("EMBER_MATMUL_TILE").ok().and_then(|v| v.parse().ok()));
    match forced {
        Some(64) => SMALL,
        Some(128) => BIG,
        _ if m >= 128 && n >= 128 && bsz * m.div_ceil(128) * n.div_ceil(128) >= BIG_MIN_TILES => BIG,
        _ => SMALL,
    }
}

/// Workgroups a product should reach before splitting K pays (a few per compute unit of a large GPU).
const SPLIT_TARGET: usize = 256;
/// The least K one split multiplies (shorter splits spend more on summing partials than they save).
const SPLIT_MIN_K: usize = 256;
/// The least K that is split at all: below it the extra dispatch of the sum (host work, a launch)
/// costs more than the idle compute units (issue 18: the layers of mlp-step, K = 512 and 784,
/// are one dispatch each).
const SPLIT_FROM_K: usize = 4 * SPLIT_MIN_K;

/// How to split K: (number of splits, K per split). Products whose output has few tiles but whose
/// K is long (weight gradients: `[C, N*H*W] @ [N*H*W, C*k*k]`) would otherwise run on a handful of
/// workgroups, each looping over all of K.
fn split_k(tiles: usize, k: usize) -> (usize, usize) {
    if tiles >= SPLIT_TARGET || k < SPLIT_FROM_K {
        return (1, k);
    }
    let splits = SPLIT_TARGET.div_ceil(tiles).min(k / SPLIT_MIN_K).max(1);
    // Chunks of whole 16-wide K slices; the last split may be shorter.
    let chunk = k.div_ceil(splits).next_multiple_of(16);
    (k.div_ceil(chunk), chunk)
}

/// How many K splits the F32 kernel would take for a `[bsz, m, n]` output of inner length `k` with
/// the 64 x 64 tiling (the most tiles, so the fewest splits; `matmul_half.rs` leaves products that
/// split to the widened path).
pub(crate) fn splits(bsz: usize, m: usize, n: usize, k: usize) -> usize {
    split_k(bsz * m.div_ceil(SMALL.1) * n.div_ceil(SMALL.1), k).0
}

/// `a` (shape `batch_a + [r, c]`) broadcast to `batch + [r, c]`, as a 3-d tensor `[B, r, c]`
/// (a view when the batch dims flatten without a copy).
fn to3(a: &Tensor, batch: &[usize]) -> Result<Tensor> {
    let rank = a.rank();
    let (r, c) = (a.shape()[rank - 2], a.shape()[rank - 1]);
    let mut full: Vec<usize> = batch.to_vec();
    full.extend([r, c]);
    let e = a.try_expand(&full)?;
    let b: usize = batch.iter().product();
    match batch.len() {
        0 => e.try_unsqueeze(0),
        1 => Ok(e),
        _ => e.try_reshape(&[b, r, c]),
    }
}

/// The matrix product of two GPU tensors of one float dtype: `[.., M, K] @ [.., K, N] -> [.., M, N]`.
///
/// Errors: ranks below 2, mismatched inner dims, batch dims that do not broadcast, dtypes other than
/// F32/F64/F16/BF16 (or F64 without SHADER_F64), devices or dtypes that differ. F16/BF16 products
/// run the 16-bit modules of `matmul_half.rs` (f32 sums, one rounding) and never split K.
pub(crate) fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    product(a, b, None, None)
}

/// A bias added by the product's epilogue: a 1-d tensor of one value per output column (`per_row:
/// false`, length N: Linear) or per output row (`per_row: true`, length M: a convolution).
#[derive(Clone, Copy)]
pub(crate) struct Bias<'a> {
    /// The values.
    pub t: &'a Tensor,
    /// Whether they go along the rows (M) rather than the columns (N).
    pub per_row: bool,
}

/// [`matmul`] plus `bias` in the same dispatch (`addmm`).
pub(crate) fn matmul_bias(a: &Tensor, b: &Tensor, bias: Bias<'_>) -> Result<Tensor> {
    product(a, b, None, Some(bias))
}

/// [`matmul`] (plus a `bias`) with the tiling chosen by [`tiling`], or `forced`.
fn product(a: &Tensor, b: &Tensor, forced: Option<(&'static str, usize)>, bias: Option<Bias<'_>>) -> Result<Tensor> {
    let op = "matmul";
    a.same_device(op, b)?;
    a.same_dtype(op, b)?;
    let ctx = storage(a).ctx().clone();
    let dtype = a.dtype();
    if !dtype.is_float() {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("{dtype} not yet implemented on the GPU (gpu:{})", ctx.index),
        });
    }
    ctx.require(op, dtype)?;
    if a.rank() < 2 || b.rank() < 2 {
        crate::bail!(op, "the GPU kernel needs operands of rank >= 2, got shapes {:?} and {:?}", a.shape(), b.shape());
    }
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
    let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
    if k != k2 {
        return Err(Error::ShapeMismatch { op, lhs: a.shape().to_vec(), rhs: b.shape().to_vec() });
    }
    let batch = broadcast_shapes(op, &a.shape()[..ra - 2], &b.shape()[..rb - 2])?;
    let bsz: usize = batch.iter().product();
    let mut out_shape = batch.to_vec();
    out_shape.extend([m, n]);
    if bsz * m * n == 0 {
        return Ok(tensor(GpuStorage::new(&ctx, op, dtype, 0)?, &out_shape));
    }
    if let Some(bv) = bias {
        a.same_device(op, bv.t)?;
        a.same_dtype(op, bv.t)?;
        let want = if bv.per_row { m } else { n };
        if bv.t.shape() != [want] {
            crate::bail!(
                op,
                "bias of shape {:?} given for a product of shape {out_shape:?}; expected [{want}]",
                bv.t.shape()
            );
        }
    }
    if k == 0 {
        let zeros = super::fill::full(&out_shape, 0.0, dtype, ctx.index)?;
        return match bias {
            Some(Bias { t, per_row: true }) => zeros.try_add(&t.try_unsqueeze(1)?),
            Some(Bias { t, per_row: false }) => zeros.try_add(t),
            None => Ok(zeros),
        };
    }
    let (a3, b3) = (to3(a, &batch)?, to3(b, &batch)?);
    let walk = |t: &Tensor| {
        let l = t.layout();
        [l.offset, l.strides[0], l.strides[1], l.strides[2]]
    };
    let gemm = Gemm {
        a: &a3,
        b: &b3,
        mnk: [m, n, k],
        bsz,
        a_walk: walk(&a3),
        b_walk: walk(&b3),
        bias,
        implicit: Implicit::default(),
    };
    let c = tensor(launch(&gemm, forced)?, &out_shape);
    if c.dtype() != dtype {
        // a 16-bit product written as F32 (`matmul_half.rs`): rounded once
        return super::convert::cast(&c, dtype);
    }
    Ok(c)
}

/// The implicit-convolution modes of `matmul.wgsl` (built by `conv.rs`; the default is a plain
/// product of strided operands).
#[derive(Clone, Copy, Default)]
pub(crate) struct Implicit {
    /// A's K as two dims: (inner length, outer stride); the inner stride is A's column stride.
    pub a_k2: Option<(usize, usize)>,
    /// B as implicit columns of a convolution input: 0 none, 1 forward, 2 weight gradient.
    pub im2col: u32,
    /// Words 19 to 33 of the kernel's info: A's batch modulus, then the convolution geometry.
    pub conv: [u32; 15],
    /// The final output's last column goes after all its other columns (weight and bias gradient).
    pub split_col: bool,
}

/// One product for `matmul.wgsl`: `C[bsz, m, n] = A @ B`, A and B read from the buffers of `a` and
/// `b` through (offset, batch stride, row stride, column stride) walks.
pub(crate) struct Gemm<'a> {
    /// The tensor whose buffer is A.
    pub a: &'a Tensor,
    /// The tensor whose buffer is B (the convolution input in the implicit modes).
    pub b: &'a Tensor,
    /// M, N, K.
    pub mnk: [usize; 3],
    /// The number of products.
    pub bsz: usize,
    /// A's offset, batch stride, row stride, column stride.
    pub a_walk: [usize; 4],
    /// B's offset, batch stride, row stride, column stride.
    pub b_walk: [usize; 4],
    /// A bias added by the epilogue.
    pub bias: Option<Bias<'a>>,
    /// The implicit-convolution modes.
    pub implicit: Implicit,
}

/// Runs `g` (tiling `forced`, else tuned or the heuristic; K split where the output has few
/// tiles) into a new dense buffer of `bsz * m * n` elements.
pub(crate) fn launch(g: &Gemm<'_>, forced: Option<(&'static str, usize)>) -> Result<GpuStorage> {
    let op = "matmul";
    let ctx = storage(g.a).ctx().clone();
    let dtype = g.a.dtype();
    let ([m, n, k], bsz) = (g.mnk, g.bsz);
    check_u32(op, bsz * m * n)?;
    let mut info = vec![check_u32(op, m)?, check_u32(op, n)?, check_u32(op, k)?];
    for w in g.a_walk.iter().chain(&g.b_walk) {
        info.push(check_u32(op, *w)?);
    }
    let (entry, tile) = forced.unwrap_or_else(|| {
        let run = |t| launch(g, Some(t)).and_then(|_| ctx.synchronize());
        super::matmul_tune::choose(&ctx.info, dtype, [bsz, m, n, k], &[SMALL, BIG], tiling(bsz, m, n), run)
    });
    // 16-bit products never split K (`matmul_half.rs` takes only those that would not).
    let (splits, chunk) = if dtype.is_half() { (1, k) } else { split_k(bsz * m.div_ceil(tile) * n.div_ceil(tile), k) };
    info.extend([check_u32(op, splits)?, check_u32(op, chunk)?, check_u32(op, bsz)?]);
    // bias offset, column stride, row stride (zeros without a bias)
    info.extend(match g.bias {
        Some(bv) => {
            let st = check_u32(op, bv.t.layout().strides[0])?;
            [check_u32(op, bv.t.layout().offset)?, if bv.per_row { 0 } else { st }, if bv.per_row { st } else { 0 }]
        }
        None => [0, 0, 0],
    });
    let im = g.implicit;
    if im.a_k2.is_some() || im.im2col != 0 {
        let (inner, outer) = im.a_k2.unwrap_or((1, 0));
        info.extend([check_u32(op, inner)?, check_u32(op, outer)?]);
        info.extend(im.conv);
    }
    let bias_buf = g.bias.map(|bv| storage(bv.t).buffer());
    if splits == 1 {
        let out_dtype = super::matmul_half::out_dtype(&ctx, dtype, n);
        let out = GpuStorage::new(&ctx, op, out_dtype, bsz * m * n)?;
        dispatch(g, &out, &info, (entry, tile), bias_buf, im.split_col)?;
        return Ok(out);
    }
    // Partial products [batch, split, M, N], summed over the splits (the bias added there).
    check_u32(op, bsz * splits * m * n)?;
    let partial = GpuStorage::new(&ctx, op, dtype, bsz * splits * m * n)?;
    dispatch(g, &partial, &info, (entry, tile), None, false)?;
    let out = GpuStorage::new(&ctx, op, dtype, bsz * m * n)?;
    let grid = ctx.grid(op, check_u32(op, (bsz * m * n).div_ceil(256))?)?;
    let info = Meta::words(&info);
    let p = partial.buffer();
    let constants =
        [("BIAS", f64::from(u8::from(bias_buf.is_some()))), ("SPLIT_COL", f64::from(u8::from(im.split_col)))];
    let spec = KernelSpec { constants: &constants, ..spec(&ctx, dtype, n, "split_sum") };
    ctx.dispatch(&spec, &[p, p, out.buffer(), &info, bias_buf.unwrap_or(p), p], grid);
    Ok(out)
}

/// The pipeline of `matmul.wgsl`'s `entry` for `dtype` and `n` output columns (entry points:
/// matmul, matmul_big, split_sum; bindings a, b, c, info, bias, mask); the 16-bit modules are
/// `matmul_half.rs`'s.
fn spec(ctx: &super::context::Context, dtype: DType, n: usize, entry: &'static str) -> KernelSpec<'static> {
    static NAMES: [&str; 2] = ["matmul (F32)", "matmul (F64)"];
    fn f32_source() -> String {
        shaders::matmul(DType::F32)
    }
    fn f64_source() -> String {
        shaders::matmul(DType::F64)
    }
    let f64 = dtype == DType::F64;
    let (module, source): (&'static str, &'static dyn Fn() -> String) = if dtype.is_half() {
        super::matmul_half::module(ctx, dtype, n)
    } else {
        (NAMES[f64 as usize], if f64 { &f64_source } else { &f32_source })
    };
    KernelSpec {
        // Every global access in matmul.wgsl is guarded and workgroup indices are bounded.
        checked: false,
        module,
        source,
        entry,
        constants: &[],
        read_only: &[true, true, false, true, true, true],
    }
}

/// Records the product `g` into `out` with one tiling (`split_col`: the kernel writes the final
/// output with its last column apart).
fn dispatch(
    g: &Gemm<'_>,
    out: &GpuStorage,
    info: &[u32],
    (entry, tile): (&'static str, usize),
    bias: Option<&::wgpu::Buffer>,
    split_col: bool,
) -> Result<()> {
    let op = "matmul";
    let ctx = storage(g.a).ctx().clone();
    let dtype = g.a.dtype();
    let (m, n, bsz) = (g.mnk[0], g.mnk[1], g.bsz * info[11] as usize);
    let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
    let grid = [n.div_ceil(tile), m.div_ceil(tile), bsz];
    if grid.iter().any(|&x| x > max) {
        crate::bail!(
            op,
            "a product of {} x [{m}, {}] @ [{}, {n}] needs {grid:?} workgroups, above the limit {max} of gpu:{}",
            g.bsz,
            g.mnk[2],
            g.mnk[2],
            ctx.index
        );
    }
    // Coalescing: which way neighbouring invocations walk each operand (see matmul.wgsl); the
    // weight gradient's implicit columns are read along K (neighbouring output positions).
    // A pending relu gradient operand is read from its gradient, masked by relu's output.
    let a_relu = relu_operand(g.a);
    let b_relu = if a_relu.is_none() && g.implicit.im2col == 0 { relu_operand(g.b) } else { None };
    let (sa, sb) = (&g.a_walk, &g.b_walk);
    let a_m_major = sa[2] == 1 && sa[3] != 1 && m > 1;
    let b_k_major = match g.implicit.im2col {
        0 => sb[2] == 1 && sb[3] != 1 && n > 1,
        mode => mode == 2,
    };
    let flag = |b: bool| f64::from(u8::from(b));
    let constants = [
        ("A_M_MAJOR", flag(a_m_major)),
        ("B_K_MAJOR", flag(b_k_major)),
        ("BIAS", flag(bias.is_some())),
        ("A_K2", flag(g.implicit.a_k2.is_some())),
        ("A_RELU", flag(a_relu.is_some())),
        ("B_RELU", flag(b_relu.is_some())),
        ("IM2COL", f64::from(g.implicit.im2col)),
        ("SPLIT_COL", flag(split_col)),
    ];
    let info = Meta::words(info);
    let grid = [grid[0] as u32, grid[1] as u32, grid[2] as u32];
    let spec = KernelSpec { constants: &constants, ..spec(&ctx, dtype, n, entry) };
    let pick = |t: &Tensor, relu: &Option<[Tensor; 2]>| relu.as_ref().map_or(t, |r| &r[0]).clone();
    let (at, bt) = (pick(g.a, &a_relu), pick(g.b, &b_relu));
    let (ab, bb) = (storage(&at).try_buffer()?, storage(&bt).try_buffer()?);
    let mask = match a_relu.as_ref().or(b_relu.as_ref()) {
        Some(r) => storage(&r[1]).try_buffer()?,
        None => ab,
    };
    ctx.dispatch(&spec, &[ab, bb, out.buffer(), &info, bias.unwrap_or(ab), mask], grid);
    Ok(())
}

/// The gradient and relu's output of `t` when `t` is a pending relu gradient whose two operands
/// are read element for element (so `t`'s walk indexes them as it indexes `t`).
fn relu_operand(t: &Tensor) -> Option<[Tensor; 2]> {
    let lazy = super::fusion::pending(t)?;
    if !matches!(lazy.op, super::fusion::LazyOp::ReluGrad) {
        return None;
    }
    let [g, o] = [&lazy.args[0], &lazy.args[1]];
    let dense = |x: &Tensor| super::fusion::reads_in_order(x) && x.dtype() == t.dtype();
    (dense(g) && dense(o)).then(|| [g.clone(), o.clone()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Device;

    fn gpu() -> Option<Device> {
        match Device::gpu() {
            Ok(d) => Some(d),
            Err(e) if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") => panic!("no GPU: {e}"),
            Err(_) => {
                println!("skipping GPU test: no adapter (set EMBER_REQUIRE_GPU=1 to fail instead)");
                None
            }
        }
    }

    /// Naive `[B, M, K] @ [B, K, N]` in f64 over row-major data.
    fn naive(a: &[f64], b: &[f64], bs: usize, m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; bs * m * n];
        for p in 0..bs {
            for i in 0..m {
                for j in 0..n {
                    c[(p * m + i) * n + j] = (0..k).map(|l| a[(p * m + i) * k + l] * b[(p * k + l) * n + j]).sum();
                }
            }
        }
        c
    }

    #[test]
    fn split_k_covers_k_in_whole_slices() {
        assert_eq!(split_k(300, 100_000), (1, 100_000), "enough tiles: no split");
        assert_eq!(split_k(1, 300), (1, 300), "short K: no split");
        assert_eq!(split_k(16, 784), (1, 784), "mlp-step K: no split");
        for (tiles, k) in [(1, 50_176), (3, 12_544), (2, 1100), (1, 5000), (100, 4096)] {
            let (splits, chunk) = split_k(tiles, k);
            assert!(splits > 1 && chunk % 16 == 0 && chunk >= SPLIT_MIN_K, "{tiles} {k}: {splits} x {chunk}");
            assert!((splits - 1) * chunk < k && splits * chunk >= k, "{tiles} {k}: {splits} x {chunk}");
            assert!(tiles * splits <= 2 * SPLIT_TARGET, "{tiles} {k}: {splits}");
        }
    }

    #[test]
    fn matmul_matches_a_naive_product() {
        let Some(dev) = gpu() else { return };
        let mut seed = 11u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for dtype in [DType::F32, DType::F64] {
            let tol = if dtype == DType::F32 { 1e-4 } else { 1e-10 };
            for (bs, m, k, n) in [
                (1, 1, 1, 1),
                (1, 5, 3, 7),
                (2, 64, 64, 64),
                (3, 65, 17, 130),
                (1, 1, 300, 1),
                (2, 100, 1, 33),
                (2, 130, 37, 259),
                (1, 128, 24, 128),
                // Split K (few output tiles, long K): partial products summed on the device.
                (1, 3, 5000, 5),
                (2, 20, 1000, 9),
            ] {
                let av: Vec<f64> = (0..bs * m * k).map(|_| next()).collect();
                let bv: Vec<f64> = (0..bs * k * n).map(|_| next()).collect();
                let want = naive(&av, &bv, bs, m, k, n);
                let a = Tensor::from_vec(av, &[bs, m, k]).to_dtype(dtype).to(&dev);
                let b = Tensor::from_vec(bv, &[bs, k, n]).to_dtype(dtype).to(&dev);
                let check = |c: Tensor, what: &str| {
                    let got = c.to_vec::<f64>();
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g - w).abs() <= tol * (1.0 + w.abs()) * (k as f64).sqrt(),
                            "{what} {dtype} {bs}x{m}x{k}x{n} [{i}]: {g} vs {w}"
                        );
                    }
                };
                // Transposed operands are read through strides, no copy.
                let at = a.transpose(1, 2).contiguous().transpose(1, 2);
                let bt = b.transpose(1, 2).contiguous().transpose(1, 2);
                for tiling in [SMALL, BIG] {
                    check(product(&a, &b, Some(tiling), None).unwrap(), &format!("plain {}", tiling.0));
                    check(product(&at, &bt, Some(tiling), None).unwrap(), &format!("transposed {}", tiling.0));
                    check(product(&at, &b, Some(tiling), None).unwrap(), &format!("transposed A {}", tiling.0));
                    check(product(&a, &bt, Some(tiling), None).unwrap(), &format!("transposed B {}", tiling.0));
                }
                check(matmul(&a, &b).unwrap(), "default");
            }
        }
        // Broadcast batch dims: [2, 1, M, K] @ [3, K, N] -> [2, 3, M, N], and a 2-d weight.
        let a = Tensor::from_vec((0..2 * 4 * 5).map(|v| v as f32 * 0.1).collect::<Vec<_>>(), &[2, 1, 4, 5]);
        let w = Tensor::from_vec((0..3 * 5 * 6).map(|v| (v % 7) as f32 - 3.0).collect::<Vec<_>>(), &[3, 5, 6]);
        let c = matmul(&a.to(&dev), &w.to(&dev)).unwrap();
        assert_eq!(c.shape(), &[2, 3, 4, 6]);
        let av = a.to_vec::<f64>();
        let wv = w.to_vec::<f64>();
        let got = c.to_vec::<f64>();
        for i in 0..2 {
            for j in 0..3 {
                let want = naive(&av[i * 20..(i + 1) * 20], &wv[j * 30..(j + 1) * 30], 1, 4, 5, 6);
                for (g, w) in got[(i * 3 + j) * 24..(i * 3 + j + 1) * 24].iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "broadcast batch ({i}, {j}): {g} vs {w}");
                }
            }
        }
        let w2 = w.select(0, 1).to(&dev);
        assert_eq!(matmul(&a.to(&dev), &w2).unwrap().shape(), &[2, 1, 4, 6]);
        // Empty and K = 0.
        let e = matmul(&Tensor::zeros(&[3, 0]).to(&dev), &Tensor::zeros(&[0, 2]).to(&dev)).unwrap();
        assert_eq!(e.to_vec::<f32>(), vec![0.0; 6]);
        assert_eq!(
            matmul(&Tensor::zeros(&[0, 4]).to(&dev), &Tensor::zeros(&[4, 2]).to(&dev)).unwrap().shape(),
            &[0, 2]
        );
        // Errors.
        let g = Tensor::zeros(&[3, 4]).to(&dev);
        let msg = matmul(&g, &g).unwrap_err().to_string();
        assert!(msg.contains("matmul") && msg.contains("[3, 4]"), "{msg}");
        assert!(matmul(&g.to_dtype(DType::I64), &g.t().to_dtype(DType::I64)).unwrap_err().to_string().contains("I64"));
        assert!(matmul(&Tensor::zeros(&[4]).to(&dev), &g.t()).is_err());
    }
}
