//! GPU `var`, `std` and `logsumexp` (`shaders/stats.wgsl`), two-pass like the CPU kernels: the input
//! is viewed as dense rows (reduced dims permuted last and merged, as [`super::reduce::reduce_dims`]
//! does), the centre of each row is reduced first (mean for var/std, max for logsumexp, by
//! `reduce.wgsl`), then `centered` sums `(x - mean)²` or `exp(x - max)` per chunk, the chunk partials
//! of a row are summed by `reduce.wgsl`, and `finish` divides (and takes the square root) or takes the
//! log and adds the centre back. Entry points for `ops/stats.rs`, which validates dims and dtypes.

use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::reduce::reduce_last_dim;
use super::{check_u32, groups_for, shaders, storage, tensor, GpuStorage};
use crate::op_desc::ReduceKind;
use crate::{Error, Result, Tensor};

/// Elements one workgroup of `centered` folds (as `reduce.wgsl`'s chunks).
const CHUNK: usize = 4096;

/// Which statistic a pass computes (the `MODE` override of `stats.wgsl`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Variance.
    Var,
    /// Standard deviation.
    Std,
    /// `log Σ exp`.
    LogSumExp,
}

impl Mode {
    fn code(self) -> f64 {
        match self {
            Mode::Var => 0.0,
            Mode::Std => 1.0,
            Mode::LogSumExp => 2.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Var => "var",
            Mode::Std => "std",
            Mode::LogSumExp => "logsumexp",
        }
    }
}

/// Variance (or standard deviation, when `sqrt`) of the float GPU tensor `x` over the dims flagged in
/// `mask`, shaped `out`: divided by `n - 1` when `unbiased` (NaN when that is 0), else by `n`.
pub(crate) fn var(x: &Tensor, mask: &[bool], unbiased: bool, sqrt: bool, out: &[usize]) -> Result<Tensor> {
    run(if sqrt { Mode::Std } else { Mode::Var }, x, mask, unbiased, out)
}

/// `log Σ exp(x)` of the float GPU tensor `x` over the dims flagged in `mask`, shaped `out` (rows of
/// `-inf` or empty rows give `-inf`, rows holding `+inf` give `+inf`, NaN propagates).
pub(crate) fn logsumexp(x: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
    run(Mode::LogSumExp, x, mask, false, out)
}

/// `x` as a dense `[rows, n]` tensor whose rows are the elements reduced into one output (kept dims
/// in order first, reduced dims last); returns it with `rows` and `n`.
fn as_rows(x: &Tensor, mask: &[bool]) -> Result<(Tensor, usize, usize)> {
    let shape = x.shape();
    let kept: Vec<usize> = (0..x.rank()).filter(|&d| !mask[d]).collect();
    let red: Vec<usize> = (0..x.rank()).filter(|&d| mask[d]).collect();
    let rows: usize = kept.iter().map(|&d| shape[d]).product();
    let n: usize = red.iter().map(|&d| shape[d]).product();
    let perm: Vec<usize> = kept.iter().chain(&red).copied().collect();
    let p = x.try_permute(&perm)?.try_contiguous()?.try_reshape(&[rows, n])?;
    Ok((p, rows, n))
}

fn run(mode: Mode, x: &Tensor, mask: &[bool], unbiased: bool, out: &[usize]) -> Result<Tensor> {
    let op = mode.name();
    let dtype = x.dtype();
    if !dtype.is_float() {
        return Err(Error::UnsupportedDType { op, dtype });
    }
    let ctx = storage(x).ctx().clone();
    ctx.require(op, dtype)?;
    let rows: usize = x.shape().iter().zip(mask).filter(|d| !*d.1).map(|d| *d.0).product();
    let n: usize = x.shape().iter().zip(mask).filter(|d| *d.1).map(|d| *d.0).product();
    if rows == 0 {
        return Ok(tensor(GpuStorage::new(&ctx, op, dtype, 0)?, out));
    }
    if n == 0 {
        let v = if mode == Mode::LogSumExp { f64::NEG_INFINITY } else { f64::NAN };
        return super::fill::full(out, v, dtype, ctx.index);
    }
    let (p, rows, n) = as_rows(x, mask)?;
    let centre_kind = if mode == Mode::LogSumExp { ReduceKind::Max } else { ReduceKind::Mean };
    let centres = reduce_last_dim(centre_kind, &p)?.try_contiguous()?;
    let module = format!("stats ({dtype})");
    let source = move || shaders::plain(shaders::STATS, dtype);
    let constants = [("MODE", mode.code())];
    let read_only = [true, true, false, true];
    let spec = |entry| KernelSpec {
        checked: true,
        module: &module,
        source: &source,
        entry,
        constants: &constants,
        read_only: &read_only,
    };

    // Sums of the centred terms, one per chunk of a row, then per row.
    let cpr = n.div_ceil(CHUNK);
    let groups = check_u32(op, rows * cpr)?;
    let partials = GpuStorage::new(&ctx, op, dtype, rows * cpr)?;
    let info = [
        groups,
        n.min(CHUNK) as u32,
        check_u32(op, n)?,
        check_u32(op, cpr)?,
        check_u32(op, p.layout.offset)?,
        check_u32(op, centres.layout.offset)?,
    ];
    let info = Meta::words(&info);
    let bufs: &[&dyn Binding] = &[storage(&p).buffer(), storage(&centres).buffer(), partials.buffer(), &info];
    ctx.dispatch(&spec("centered"), bufs, ctx.grid(op, groups)?);
    let mut sums = tensor(partials, &[rows, cpr]);
    if cpr > 1 {
        sums = reduce_last_dim(ReduceKind::Sum, &sums)?.try_contiguous()?;
    }

    // The result of each row from its sum and centre.
    let div = if mode == Mode::LogSumExp { 0 } else { n - usize::from(unbiased) };
    let result = GpuStorage::new(&ctx, op, dtype, rows)?;
    let info = [
        check_u32(op, rows)?,
        check_u32(op, sums.layout.offset)?,
        check_u32(op, centres.layout.offset)?,
        check_u32(op, div)?,
    ];
    let info = Meta::words(&info);
    let bufs: &[&dyn Binding] = &[storage(&sums).buffer(), storage(&centres).buffer(), result.buffer(), &info];
    ctx.dispatch(&spec("finish"), bufs, ctx.grid(op, groups_for(rows))?);
    tensor(result, &[rows]).try_reshape(out)
}
