//! GPU `sort` / `argsort` / `topk` along one dim (`shaders/sort.wgsl`): a stable bitonic sort of
//! (key, index) pairs, keys being the elements' bits mapped to an unsigned order equal to the CPU's
//! (NaN above everything, -0 == +0, descending inverts the key) and the index breaking ties, so
//! the result equals the CPU's stable sort exactly. Lines are padded to a power of two `P`.
//!
//! Lines of up to 1024 elements sort in one dispatch, in workgroup memory (several short lines per
//! workgroup). Longer lines sort tiles of 1024 in workgroup memory, then for each larger bitonic
//! stage run one global compare-exchange dispatch per distance >= 1024 and finish the stage in a
//! tile (the last writes the outputs): `1 + sum(log2(k / 1024))` dispatches, 36 for 70000.
//! The kernels move raw words only, so F64 sorts even without f64 shader support.

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, groups_for, shaders, storage, tensor, GpuStorage};
use crate::op_desc::Axis;
use crate::{DType, Error, Result, Tensor};

/// Pairs sorted in workgroup memory by one `sort_tile` workgroup (as in `sort.wgsl`).
const TILE: usize = 1024;
/// `info` flag: keys descending.
const DESC: u32 = 1;
/// `info` flag: the tile loads its pairs from the input (else from the scratch arrays).
const LOAD: u32 = 2;
/// `info` flag: the tile writes the outputs (else the scratch arrays).
const FINAL: u32 = 4;

/// The module of `sort.wgsl` for elements of `dtype`: the storage word alias `W` and `key_of`.
pub(crate) fn source(dtype: DType) -> String {
    let (w, key) = match dtype {
        DType::F32 => ("u32", "key_f32"),
        DType::F64 => ("vec2<u32>", "key_f64"),
        DType::I64 => ("vec2<u32>", "key_i64"),
        DType::Bool => ("u32", "key_bool"),
        // No GPU storage of the 16-bit floats exists yet (`GpuStorage::new` refuses them).
        DType::F16 | DType::BF16 => ("u32", "key_f32"),
    };
    format!("alias W = {w};\nfn key_of(w: W) -> vec2<u32> {{\n    return {key}(w);\n}}\n{}", shaders::SORT)
}

/// Records one dispatch of `entry` for `dtype` over `groups` workgroups.
fn dispatch(x: &Tensor, entry: &'static str, bufs: [&::wgpu::Buffer; 5], info: &[u32; 10], groups: u32) -> Result<()> {
    let op = "sort";
    let ctx = storage(x).ctx();
    let dtype = x.dtype();
    let info = Meta::words(info);
    let module = format!("sort ({dtype})");
    let src = move || source(dtype);
    let spec = KernelSpec {
        checked: true,
        module: &module,
        source: &src,
        entry,
        constants: &[],
        read_only: &[true, false, false, false, false, true],
    };
    let [x, keys, ids, vals, idxs] = bufs;
    ctx.dispatch(&spec, &[x, keys, ids, vals, idxs, &info], ctx.grid(op, groups)?);
    Ok(())
}

/// Stable sort of a GPU tensor along `dim` (any dtype; a 0-d tensor is one element): the values
/// and the I64 indices they came from, as `cpu::sort::sort`.
pub(crate) fn sort(x: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    if x.rank() == 0 {
        let (v, i) = sort(&x.try_reshape(&[1])?, 0, descending)?;
        return Ok((v.try_reshape(&[0usize; 0])?, i.try_reshape(&[0usize; 0])?));
    }
    let op = "sort";
    let ctx = storage(x).ctx().clone();
    let numel = x.numel();
    let vals = GpuStorage::new(&ctx, op, x.dtype(), numel)?;
    let idxs = GpuStorage::new(&ctx, op, DType::I64, numel)?;
    if numel > 0 {
        let x = x.try_contiguous()?;
        let ax = Axis::of(x.shape(), dim);
        let p = ax.n.next_power_of_two();
        let total = check_u32(op, ax.out_len().saturating_mul(p))?;
        let desc = if descending { DESC } else { 0 };
        let base = [
            check_u32(op, ax.out_len())?,
            check_u32(op, ax.n)?,
            check_u32(op, ax.inner)?,
            check_u32(op, x.layout.offset)?,
            p as u32,
            total,
        ];
        let info = |k0: usize, k1: usize, j: usize, flags: u32| {
            let [a, b, c, d, e, f] = base;
            [a, b, c, d, e, f, k0 as u32, k1 as u32, j as u32, flags]
        };
        let tiles = (total as usize).div_ceil(TILE) as u32;
        let xb = storage(&x).buffer();
        let (vb, ib) = (vals.buffer(), idxs.buffer());
        if p <= TILE {
            let dummy = ctx.upload_words(op, &[0; 4])?;
            let r = dispatch(&x, "sort_tile", [xb, &dummy, &dummy, vb, ib], &info(2, p, 0, desc | LOAD | FINAL), tiles);
            ctx.release(dummy);
            r?;
        } else {
            let keys = ctx.acquire(op, u64::from(total) * 8)?;
            let ids = ctx.acquire(op, u64::from(total) * 4)?;
            let r = (|| -> Result<()> {
                let bufs = [xb, &keys, &ids, vb, ib];
                dispatch(&x, "sort_tile", bufs, &info(2, TILE, 0, desc | LOAD), tiles)?;
                let mut k = 2 * TILE;
                while k <= p {
                    let mut j = k / 2;
                    while j >= TILE {
                        dispatch(&x, "sort_global", bufs, &info(k, k, j, 0), groups_for(total as usize / 2))?;
                        j /= 2;
                    }
                    let last = if k == p { FINAL } else { 0 };
                    dispatch(&x, "sort_tile", bufs, &info(k, k, 0, last), tiles)?;
                    k *= 2;
                }
                Ok(())
            })();
            ctx.release(keys);
            ctx.release(ids);
            r?;
        }
    }
    Ok((tensor(vals, x.shape()), tensor(idxs, x.shape())))
}

/// The `k` largest (`largest`) or smallest elements of an F32/F64/I64 GPU tensor along `dim` and
/// their I64 indices, as `cpu::sort::topk`: the first `k` of the stable sort (ties to the lower
/// index, NaN largest); unless `sorted`, those `k` are put back in index order by sorting their
/// indices and taking the values at them.
pub(crate) fn topk(x: &Tensor, k: usize, dim: usize, largest: bool, sorted: bool) -> Result<(Tensor, Tensor)> {
    let op = "topk";
    if x.dtype() == DType::Bool {
        return Err(Error::UnsupportedDType { op, dtype: DType::Bool });
    }
    if x.rank() == 0 {
        let (v, i) = topk(&x.try_reshape(&[1])?, k, 0, largest, sorted)?;
        let s = |t: Tensor| if t.numel() == 1 { t.try_reshape(&[0usize; 0]) } else { Ok(t) };
        return Ok((s(v)?, s(i)?));
    }
    let (v, i) = sort(x, dim, largest)?;
    if k == x.shape()[dim] && sorted {
        return Ok((v, i));
    }
    let (v, i) = (v.try_narrow(dim, 0, k)?.try_contiguous()?, i.try_narrow(dim, 0, k)?.try_contiguous()?);
    if sorted || v.numel() == 0 {
        return Ok((v, i));
    }
    let (i, _) = sort(&i, dim, false)?;
    let x = x.try_contiguous()?;
    let ax = Axis::of(x.shape(), dim);
    let ctx = storage(&x).ctx().clone();
    let out = GpuStorage::new(&ctx, op, x.dtype(), i.numel())?;
    let (inner, offset, total) = (check_u32(op, ax.inner)?, check_u32(op, x.layout.offset)?, check_u32(op, i.numel())?);
    let info = [0, k as u32, inner, offset, ax.n as u32, total, 0, 0, 0, 0];
    let dummy = ctx.upload_words(op, &[0; 4])?;
    let bufs = [storage(&x).buffer(), &dummy, &dummy, out.buffer(), storage(&i).buffer()];
    let r = dispatch(&x, "take", bufs, &info, groups_for(i.numel()));
    ctx.release(dummy);
    r?;
    Ok((tensor(out, i.shape()), i))
}
