//! Reading and writing tensors in the safetensors format (PyTorch's and Hugging Face's interchange
//! format). Every malformed file is an `Err`: the header is parsed and bounds-checked by the
//! `safetensors` crate before any byte is read.

use std::path::Path;

use safetensors::tensor::{Dtype as StDtype, SafeTensors, TensorView};

use crate::{DType, Error, Result, Tensor};

fn to_st(d: DType) -> StDtype {
    match d {
        DType::F32 => StDtype::F32,
        DType::F64 => StDtype::F64,
        DType::I64 => StDtype::I64,
        DType::Bool => StDtype::BOOL,
        DType::F16 => StDtype::F16,
        DType::BF16 => StDtype::BF16,
    }
}

/// The elements of `b` (native byte order, as before: little-endian on every target Ember builds for) as a vector, reserved through the fallible allocation path
/// (a tensor the machine cannot hold is `OutOfMemory`, not an abort). One `memcpy` of the bytes
/// into the vector's buffer, whatever their alignment in the file buffer (an element-by-element
/// unaligned read ran at a fraction of the speed in the dev profile).
fn from_bytes<T: bytemuck::Pod + crate::Element>(b: &[u8]) -> Result<Vec<T>> {
    let n = b.len() / std::mem::size_of::<T>();
    let mut v: Vec<T> = crate::cpu::alloc::try_vec("load", n)?;
    let bytes = n * std::mem::size_of::<T>();
    // SAFETY: `v` has room for `n` elements (`bytes` bytes) and `b` holds at least `bytes`; the
    // regions are distinct allocations. `T` is `Pod` (f32, f64, i64): every bit pattern is a valid
    // value, so the `n` elements are initialised once the bytes are copied.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), v.as_mut_ptr() as *mut u8, bytes);
        v.set_len(n);
    }
    Ok(v)
}

/// safetensors checks the element count; the strides (sides of 0 counted as 1) must fit too:
/// `[0, 2^62, 2^62]` holds no element, but its strides overflow.
fn check_shape(name: &str, shape: &[usize]) -> Result<()> {
    if shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s.max(1))).is_none_or(|n| n > isize::MAX as usize) {
        return Err(Error::Parse(format!("safetensors: tensor '{name}' has shape {shape:?}, too large to address")));
    }
    Ok(())
}

/// One tensor of a parsed file.
fn tensor_of(name: &str, view: &safetensors::tensor::TensorView<'_>) -> Result<Tensor> {
    let shape = view.shape().to_vec();
    check_shape(name, &shape)?;
    let data = view.data();
    Ok(match view.dtype() {
        StDtype::F32 => Tensor::from_vec_unchecked(from_bytes::<f32>(data)?, &shape),
        StDtype::F64 => Tensor::from_vec_unchecked(from_bytes::<f64>(data)?, &shape),
        StDtype::I64 => Tensor::from_vec_unchecked(from_bytes::<i64>(data)?, &shape),
        StDtype::F16 => Tensor::from_vec_unchecked(from_bytes::<half::f16>(data)?, &shape),
        StDtype::BF16 => Tensor::from_vec_unchecked(from_bytes::<half::bf16>(data)?, &shape),
        StDtype::BOOL => Tensor::from_vec_unchecked(data.iter().map(|&b| b != 0).collect::<Vec<bool>>(), &shape),
        StDtype::I32 => Tensor::from_vec_unchecked(
            data.chunks_exact(4).map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect::<Vec<i64>>(),
            &shape,
        ),
        other => return Err(Error::Parse(format!("safetensors: tensor '{name}' has unsupported dtype {other:?}"))),
    })
}

/// Parses safetensors bytes into named tensors, in the file's order.
pub fn load_bytes(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    use rayon::prelude::*;
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Parse(format!("safetensors: {e}")))?;
    let views = st.iter().collect::<Vec<_>>();
    // tensors are copied out of the file buffer in parallel: a 90 MB checkpoint is memory-bound
    let tensors: Vec<Result<Tensor>> = views.par_iter().map(|(name, view)| tensor_of(name, view)).collect();
    views.iter().zip(tensors).map(|((name, _), t)| Ok((name.to_string(), t?))).collect()
}

/// Reads every tensor of a safetensors file, in the file's order.
///
/// Each tensor is read straight from the file into its own storage (`pread` at its offset, the
/// tensors in parallel), so the bytes are copied once; only the header is read first, into the
/// start of a zero-filled buffer of the file's length whose other pages are never touched, for
/// the `safetensors` crate to parse and bounds-check it against that length.
pub fn load(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let p = path.as_ref();
    let named = |e: Error| match e {
        Error::Parse(m) => Error::Parse(format!("{}: {m}", p.display())),
        other => other,
    };
    #[cfg(unix)]
    {
        load_file(p).map_err(named)
    }
    #[cfg(not(unix))]
    {
        let bytes = std::fs::read(p).map_err(|e| Error::Io(format!("{}: {e}", p.display())))?;
        load_bytes(&bytes).map_err(named)
    }
}

#[cfg(unix)]
fn load_file(p: &Path) -> Result<Vec<(String, Tensor)>> {
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    let io = |e: std::io::Error| Error::Io(format!("{}: {e}", p.display()));
    let file = std::fs::File::open(p).map_err(io)?;
    let len = usize::try_from(file.metadata().map_err(io)?.len())
        .map_err(|_| Error::Parse("safetensors: the file is too large to address".into()))?;
    let mut buf = crate::cpu::alloc::try_zeroed_bytes("load", len)?;
    let mut n8 = [0u8; 8];
    let head = if len >= 8 {
        file.read_exact_at(&mut n8, 0).map_err(io)?;
        (u64::from_le_bytes(n8).saturating_add(8)).min(len as u64) as usize
    } else {
        len
    };
    file.read_exact_at(&mut buf[..head], 0).map_err(io)?;
    let (n, meta) = SafeTensors::read_metadata(&buf).map_err(|e| Error::Parse(format!("safetensors: {e}")))?;
    drop(buf);
    let names = meta.offset_keys();
    let base = 8 + n as u64;
    let read = |name: &String| -> Result<Tensor> {
        let info = meta.info(name).expect("a name of the header");
        check_shape(name, &info.shape)?;
        let (b, e) = info.data_offsets;
        let at = base + b as u64;
        fn typed<T: bytemuck::Pod + crate::Element>(file: &std::fs::File, at: u64, bytes: usize) -> Result<Vec<T>> {
            let mut v: Vec<T> = crate::cpu::alloc::try_filled("load", bytes / std::mem::size_of::<T>(), T::ZERO)?;
            // a large tensor (an embedding table can be half a checkpoint) is read in 4 MiB
            // pieces in parallel: copying from the page cache, and faulting in the fresh pages,
            // then runs on every core
            const PIECE: usize = 4 << 20;
            bytemuck::cast_slice_mut::<T, u8>(&mut v).par_chunks_mut(PIECE).enumerate().try_for_each(
                |(i, piece)| file.read_exact_at(piece, at + (i * PIECE) as u64).map_err(|e| Error::Io(e.to_string())),
            )?;
            Ok(v)
        }
        let raw = || -> Result<Vec<u8>> {
            let mut v = crate::cpu::alloc::try_zeroed_bytes("load", e - b)?;
            file.read_exact_at(&mut v, at).map_err(|e| Error::Io(e.to_string()))?;
            Ok(v)
        };
        let shape = &info.shape;
        Ok(match info.dtype {
            StDtype::F32 => Tensor::from_vec_unchecked(typed::<f32>(&file, at, e - b)?, shape),
            StDtype::F64 => Tensor::from_vec_unchecked(typed::<f64>(&file, at, e - b)?, shape),
            StDtype::I64 => Tensor::from_vec_unchecked(typed::<i64>(&file, at, e - b)?, shape),
            StDtype::F16 => Tensor::from_vec_unchecked(typed::<half::f16>(&file, at, e - b)?, shape),
            StDtype::BF16 => Tensor::from_vec_unchecked(typed::<half::bf16>(&file, at, e - b)?, shape),
            _ => {
                return tensor_of(
                    name,
                    &TensorView::new(info.dtype, shape.clone(), &raw()?)
                        .map_err(|e| Error::Parse(format!("safetensors: tensor '{name}': {e}")))?,
                )
            }
        })
    };
    let tensors: Vec<Result<Tensor>> = names.par_iter().map(read).collect();
    names
        .into_iter()
        .zip(tensors)
        .map(|(name, t)| {
            t.map(|t| (name, t)).map_err(|e| match e {
                Error::Io(m) => Error::Io(format!("{}: {m}", p.display())),
                other => other,
            })
        })
        .collect()
}

/// Serialises named tensors (any device; copied to the host) into safetensors bytes.
pub fn save_bytes(tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let host: Vec<(String, Tensor, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            let bytes = match t.dtype() {
                DType::F32 => bytemuck::cast_slice(&t.to_vec::<f32>()).to_vec(),
                DType::F64 => bytemuck::cast_slice(&t.to_vec::<f64>()).to_vec(),
                DType::I64 => bytemuck::cast_slice(&t.to_vec::<i64>()).to_vec(),
                DType::Bool => t.to_vec::<bool>().into_iter().map(u8::from).collect(),
                DType::F16 => bytemuck::cast_slice(&t.to_vec::<half::f16>()).to_vec(),
                DType::BF16 => bytemuck::cast_slice(&t.to_vec::<half::bf16>()).to_vec(),
            };
            (n.clone(), t.clone(), bytes)
        })
        .collect();
    let mut views = Vec::with_capacity(host.len());
    for (n, t, b) in &host {
        let v = TensorView::new(to_st(t.dtype()), t.shape().to_vec(), b)
            .map_err(|e| Error::Io(format!("safetensors: {n}: {e}")))?;
        views.push((n.as_str(), v));
    }
    safetensors::tensor::serialize(views, None).map_err(|e| Error::Io(format!("safetensors: {e}")))
}

/// Writes named tensors to a safetensors file.
pub fn save(tensors: &[(String, Tensor)], path: impl AsRef<Path>) -> Result<()> {
    let p = path.as_ref();
    let bytes = save_bytes(tensors)?;
    std::fs::write(p, bytes).map_err(|e| Error::Io(format!("{}: {e}", p.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_corrupt() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).transpose(0, 1);
        let b = Tensor::from_vec(vec![3i64, -1], &[2]);
        let bytes = save_bytes(&[("a".into(), a.clone()), ("b".into(), b.clone())]).unwrap();
        let back = load_bytes(&bytes).unwrap();
        let get = |n: &str| back.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(get("a").to_vec::<f32>(), a.to_vec::<f32>());
        assert_eq!(get("b").to_vec::<i64>(), vec![3, -1]);
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            assert!(load_bytes(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = 0xff;
        bad[1] = 0xff;
        assert!(load_bytes(&bad).is_err());
    }

    #[test]
    fn a_zero_sized_shape_whose_strides_overflow_is_an_error() {
        // Found by the fuzz corpus: [0, 2^62, 2^62] holds no element (safetensors accepts it), but
        // its strides overflowed (a panic in debug builds, wrapped strides in release).
        let header =
            br#"{"t":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        let e = load_bytes(&bytes).unwrap_err().to_string();
        assert!(e.contains("'t'") && e.contains("too large to address"), "{e}");
        let ok = br#"{"t":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}"#;
        let mut bytes = (ok.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(ok);
        assert_eq!(load_bytes(&bytes).unwrap()[0].1.shape(), &[0, 3]);
    }
}
