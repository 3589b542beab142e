//! GPU reductions (`shaders/reduce.wgsl`): sum, mean, max, min and product over the last dimension
//! or over all elements, as chunked workgroup tree reductions (correct for any subgroup size). On
//! devices with subgroups, sum, mean, max and min run the subgroup variants of
//! `shaders/reduce_subgroup.wgsl` instead (also correct for any subgroup size).
//!
//! Entry points for `ops/reduce.rs` (which validates dims and handles `keepdim`):
//! - [`reduce_last_dim`]`(kind, x)`: reduces the last dim of `x` (any layout): `[.., n] -> [..]`.
//! - [`reduce_all`]`(kind, x)`: reduces every element to a 0-d tensor.

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, shaders, storage, tensor, GpuStorage};
use crate::op_desc::ReduceKind;
use crate::{DType, Error, Result, Tensor};

std::thread_local! {
    /// Crate-private switch for tests: when set, this thread's reductions use the plain tree kernels
    /// even on devices with subgroups (`EMBER_NO_SUBGROUPS=1` does it process-wide).
    pub(crate) static FORCE_PLAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Elements one workgroup reduces per pass.
const CHUNK: usize = 4096;

/// Reduces the last dimension of `x`: shape `[.., n]` gives `[..]` (a 0-d tensor stays 0-d).
///
/// Errors: Bool (convert first), I64 mean, max/min over an empty dimension, F64 without SHADER_F64.
pub(crate) fn reduce_last_dim(kind: ReduceKind, x: &Tensor) -> Result<Tensor> {
    let shape = x.shape();
    let (out_shape, len) = match shape.split_last() {
        Some((&n, rest)) => (rest.to_vec(), n),
        None => (vec![], 1),
    };
    run(kind, x, &out_shape, len, None)
}

/// Reduces all elements of `x` to a 0-d tensor (same errors as [`reduce_last_dim`]).
pub(crate) fn reduce_all(kind: ReduceKind, x: &Tensor) -> Result<Tensor> {
    run(kind, x, &[], x.numel(), None)
}

/// Reduces `x` over the dims flagged in `mask` and reshapes the result to `out` (the caller's shape,
/// with or without the kept size-1 dims): the reduced dims are permuted last (and merged into one
/// when there are several), so the kernel reduces rows.
pub(crate) fn reduce_dims(kind: ReduceKind, x: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
    let shape = x.shape();
    let kept: Vec<usize> = (0..x.rank()).filter(|&d| !mask[d]).collect();
    let red: Vec<usize> = (0..x.rank()).filter(|&d| mask[d]).collect();
    let r = if kept.is_empty() {
        reduce_all(kind, x)?
    } else if let Some((rows, len, walk)) = strided_walk(x, &kept, &red) {
        // one kept dim and at most two reduced ones (after merging): read in place
        run(kind, x, &[rows], len, Some(walk))?
    } else if red.is_empty() {
        x.try_contiguous()?
    } else {
        let perm: Vec<usize> = kept.iter().chain(&red).copied().collect();
        let p = x.try_permute(&perm)?;
        let p = if red.len() == 1 {
            p
        } else {
            let mut s: Vec<usize> = kept.iter().map(|&d| shape[d]).collect();
            s.push(red.iter().map(|&d| shape[d]).product());
            p.try_contiguous()?.try_reshape(&s)?
        };
        reduce_last_dim(kind, &p)?
    };
    r.try_reshape(out)
}

/// Dims `(size, stride)` of `x` over `dims`, adjacent ones merged where they walk memory as one.
fn merged(x: &Tensor, dims: &[usize]) -> Vec<(usize, usize)> {
    let l = x.layout();
    let mut v: Vec<(usize, usize)> = Vec::new();
    for &d in dims {
        let (size, stride) = (l.shape[d], l.strides[d]);
        if size == 1 {
            continue;
        }
        match v.last_mut() {
            Some(last) if last.1 == stride * size => *last = (last.0 * size, stride),
            _ => v.push((size, stride)),
        }
    }
    v
}

/// For a reduction of `x` over `red` keeping `kept`, when the kept dims merge into one and the
/// reduced ones into at most two: `(rows, row length, [row stride, inner length, outer stride,
/// inner stride])` for the STRIDED first pass (`reduce.wgsl`), which then needs no copy.
fn strided_walk(x: &Tensor, kept: &[usize], red: &[usize]) -> Option<(usize, usize, [u32; 4])> {
    let k = merged(x, kept);
    let r = merged(x, red);
    let (rows, row_stride) = match k.as_slice() {
        [] => (1, 0),
        [one] => *one,
        _ => return None,
    };
    let ((outer, outer_stride), (inner, inner_stride)) = match r.as_slice() {
        [] => return None,
        [one] => ((1, 0), *one),
        [o, i] => (*o, *i),
        _ => return None,
    };
    let len = outer * inner;
    if rows == 0 || len == 0 {
        return None; // empty: the plain path's special cases
    }
    if outer == 1 && inner_stride == 1 && (rows == 1 || row_stride == len) {
        return None; // dense rows: the plain kernel
    }
    // the kernels' indices are u32; the plain path reports what does not fit
    let w = |v: usize| u32::try_from(v).ok();
    let walk = [w(row_stride)?, w(inner)?, w(outer_stride)?, w(inner_stride)?];
    w(x.layout().offset + (rows - 1) * row_stride + (outer - 1) * outer_stride + (inner - 1) * inner_stride)?;
    Some((rows, len, walk))
}

/// Reduces `x` (viewed as rows of `len` elements, or walked as `strided` says: see
/// [`strided_walk`]) to `out_shape`.
fn run(kind: ReduceKind, x: &Tensor, out_shape: &[usize], len: usize, strided: Option<[u32; 4]>) -> Result<Tensor> {
    let op = kind.name();
    let ctx = storage(x).ctx().clone();
    let dtype = x.dtype();
    ctx.require(op, dtype)?;
    let (entry, float) = match dtype {
        DType::F32 | DType::F64 => ("reduce_float", dtype),
        DType::I64 if kind != ReduceKind::Mean => ("reduce_i64", DType::F32),
        DType::I64 => crate::bail!(op, "could not infer output dtype: input dtype must be floating point, got I64"),
        d => return Err(Error::UnsupportedDType { op, dtype: d }),
    };
    let rows: usize = out_shape.iter().product();
    if len == 0 && rows > 0 {
        return match kind {
            ReduceKind::Sum => super::fill::full(out_shape, 0.0, dtype, ctx.index),
            ReduceKind::Mean => super::fill::full(out_shape, f64::NAN, dtype, ctx.index),
            ReduceKind::Prod => super::fill::full(out_shape, 1.0, dtype, ctx.index),
            _ => crate::bail!(op, "expected a non-empty reduction dimension (input shape {:?})", x.shape()),
        };
    }
    if rows == 0 {
        return Ok(tensor(GpuStorage::new(&ctx, op, dtype, 0)?, out_shape));
    }
    let x = if strided.is_some() { x.clone() } else { x.try_contiguous()? };
    let subgroups = ctx.has_subgroups() && kind != ReduceKind::Prod && !FORCE_PLAIN.with(|f| f.get());
    let (module, entry) = if subgroups {
        (
            format!("reduce subgroup ({float})"),
            if entry == "reduce_float" { "reduce_float_sg" } else { "reduce_i64_sg" },
        )
    } else {
        (format!("reduce ({float})"), entry)
    };
    let source = move || if subgroups { shaders::reduce_subgroup(float) } else { shaders::reduce(float) };
    let code = f64::from(kind.kernel_op());
    let plain_constants = [("OP", code), ("STRIDED", 0.0)];
    let strided_constants = [("OP", code), ("STRIDED", 1.0)];
    let spec = KernelSpec {
        checked: true,
        module: &module,
        source: &source,
        entry,
        constants: &plain_constants,
        read_only: &[true, false, true],
    };
    let mut walk = strided;
    // Each pass turns rows of `cur_len` into rows of `cpr` partials, until one value per row is left.
    let mut cur: Tensor = x;
    let mut cur_len = len;
    loop {
        let cpr = cur_len.div_ceil(CHUNK);
        let chunk = cur_len.min(CHUNK);
        let groups = check_u32(op, rows * cpr)?;
        let out = GpuStorage::new(&ctx, op, dtype, rows * cpr)?;
        let src = storage(&cur);
        let mut info =
            vec![groups, chunk as u32, check_u32(op, cur_len)?, cpr as u32, check_u32(op, cur.layout.offset)?];
        let pass_spec = match walk.take() {
            Some(w) => {
                info.extend(w);
                KernelSpec { constants: &strided_constants, ..spec }
            }
            None => KernelSpec { ..spec },
        };
        let info = Meta::words(&info);
        ctx.dispatch(&pass_spec, &[src.buffer(), out.buffer(), &info], ctx.grid(op, groups)?);
        cur = tensor(out, &[rows * cpr]);
        if cpr == 1 {
            break;
        }
        cur_len = cpr;
    }
    let out = cur.with_layout(crate::shape::Layout::contiguous(out_shape));
    if kind == ReduceKind::Mean {
        return out.try_mul_scalar(1.0 / len as f64);
    }
    Ok(out)
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

    fn reference(kind: ReduceKind, v: &[f64]) -> f64 {
        match kind {
            ReduceKind::Sum => v.iter().sum(),
            ReduceKind::Mean => v.iter().sum::<f64>() / v.len() as f64,
            ReduceKind::Max => {
                v.iter().copied().fold(f64::NEG_INFINITY, |a, b| if a.is_nan() || b > a { b } else { a })
            }
            ReduceKind::Min => v.iter().copied().fold(f64::INFINITY, |a, b| if a.is_nan() || b < a { b } else { a }),
            ReduceKind::Prod => v.iter().product(),
        }
    }

    fn close(got: f64, want: f64, scale: f64, tol: f64) -> bool {
        (got.is_nan() && want.is_nan()) || (got - want).abs() <= tol * scale.max(1.0)
    }

    /// Both kernels: the subgroup ones (on devices with subgroups) and the plain tree.
    #[test]
    fn reductions_match_a_reference() {
        let Some(dev) = gpu() else { return };
        let Device::Gpu(i) = dev else { unreachable!() };
        let ctx = super::super::context::get(i).unwrap();
        let (lo, hi) = (ctx.info.subgroup_min_size, ctx.info.subgroup_max_size);
        println!("subgroups: {} (sizes {lo} to {hi})", ctx.has_subgroups());
        for plain in [false, true] {
            FORCE_PLAIN.with(|f| f.set(plain));
            check_reductions(dev);
        }
    }

    fn check_reductions(dev: Device) {
        let kinds = [ReduceKind::Sum, ReduceKind::Mean, ReduceKind::Max, ReduceKind::Min];
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 8.0 - 4.0
        };
        for dtype in [DType::F32, DType::F64] {
            let tol = if dtype == DType::F32 { 1e-4 } else { 1e-10 };
            for shape in
                [vec![1usize], vec![63], vec![65], vec![1000], vec![70000], vec![5, 4097], vec![3, 9000], vec![300, 7]]
            {
                let n: usize = shape.iter().product();
                let v: Vec<f64> = (0..n).map(|_| next()).collect();
                let x = Tensor::from_vec(v.clone(), &shape).to_dtype(dtype);
                let g = x.to(&dev);
                let len = *shape.last().unwrap();
                for kind in kinds {
                    let all = reduce_all(kind, &g).unwrap();
                    assert_eq!(all.shape(), &[] as &[usize]);
                    let scale: f64 =
                        v.iter().map(|a| a.abs()).sum::<f64>() / if kind == ReduceKind::Mean { n as f64 } else { 1.0 };
                    let (got, want) = (all.item::<f64>(), reference(kind, &x.to_vec::<f64>()));
                    assert!(close(got, want, scale, tol), "{kind:?} all {dtype} {shape:?}: {got} vs {want}");
                    let rows = reduce_last_dim(kind, &g).unwrap();
                    assert_eq!(rows.shape(), &shape[..shape.len() - 1]);
                    let got = rows.to_vec::<f64>();
                    let xv = x.to_vec::<f64>();
                    for (r, chunk) in xv.chunks(len).enumerate() {
                        let want = reference(kind, chunk);
                        let scale = chunk.iter().map(|a| a.abs()).sum::<f64>();
                        assert!(
                            close(got[r], want, scale, tol),
                            "{kind:?} rows {dtype} {shape:?} row {r}: {} vs {want}",
                            got[r]
                        );
                    }
                }
            }
        }
        // Non-contiguous input, NaN propagation, integers, empty inputs and errors.
        let x = Tensor::from_vec((0..60).map(f64::from).collect::<Vec<_>>(), &[6, 10]).to_dtype(DType::F32);
        let t = x.to(&dev).t();
        let s = reduce_last_dim(ReduceKind::Sum, &t).unwrap().to_vec::<f64>();
        assert_eq!(s, (0..10).map(|c| (0..6).map(|r| (r * 10 + c) as f64).sum()).collect::<Vec<f64>>());
        let nan = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0], &[3]).to(&dev);
        assert!(reduce_all(ReduceKind::Max, &nan).unwrap().item::<f32>().is_nan());
        assert!(reduce_all(ReduceKind::Min, &nan).unwrap().item::<f32>().is_nan());
        let i = Tensor::from_vec(vec![i64::MAX, 2, -5, 1 << 40], &[2, 2]).to(&dev);
        assert_eq!(
            reduce_last_dim(ReduceKind::Sum, &i).unwrap().to_vec::<i64>(),
            vec![i64::MAX.wrapping_add(2), (1 << 40) - 5]
        );
        assert_eq!(reduce_all(ReduceKind::Max, &i).unwrap().item::<i64>(), i64::MAX);
        assert_eq!(reduce_all(ReduceKind::Min, &i).unwrap().item::<i64>(), -5);
        let e = Tensor::zeros(&[3, 0]).to(&dev);
        assert_eq!(reduce_last_dim(ReduceKind::Sum, &e).unwrap().to_vec::<f32>(), vec![0.0; 3]);
        assert!(reduce_last_dim(ReduceKind::Mean, &e).unwrap().to_vec::<f32>().iter().all(|v| v.is_nan()));
        let msg = reduce_last_dim(ReduceKind::Max, &e).unwrap_err().to_string();
        assert!(msg.contains("max") && msg.contains("[3, 0]"), "{msg}");
        assert_eq!(reduce_last_dim(ReduceKind::Sum, &Tensor::zeros(&[0, 4]).to(&dev)).unwrap().shape(), &[0]);
        assert!(reduce_all(ReduceKind::Mean, &i).unwrap_err().to_string().contains("mean"));
        assert!(reduce_all(ReduceKind::Sum, &i.to_dtype(DType::Bool)).is_err());
    }
}
