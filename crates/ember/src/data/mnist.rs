//! The IDX format of MNIST and Fashion-MNIST (`train-images-idx3-ubyte`, `...-labels-idx1-ubyte`,
//! plain or `.gz`).
//!
//! An IDX file is: two zero bytes, a type code, the number of dims, each dim as a big-endian `u32`,
//! then the elements, big-endian, row-major. Every inconsistency (wrong magic, unknown type, data
//! shorter or longer than the dims say) is an error naming the file.
//!
//! ```
//! use ember::data::mnist;
//! // A 2x3 "image" file of unsigned bytes (type 0x08), written by hand.
//! let idx = [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 253, 254, 255];
//! let t = mnist::parse_idx(&idx)?;
//! assert_eq!(t.shape(), &[2, 3]);
//! assert_eq!(t.to_vec::<f32>(), vec![0.0, 1.0, 2.0, 253.0, 254.0, 255.0]);
//! assert!(mnist::parse_idx(&idx[..17]).is_err()); // truncated
//! # Ok::<(), ember::Error>(())
//! ```

use std::path::Path;

use ember_tensor::{DType, Error, Result, Tensor};

fn corrupt(msg: String) -> Error {
    Error::Parse(format!("idx: {msg}"))
}

fn with_path(p: &Path, e: Error) -> Error {
    match e {
        Error::Parse(m) => Error::Parse(format!("{}: {m}", p.display())),
        other => other,
    }
}

/// Reads an IDX file (gzip-compressed or not) into a tensor of its dims.
///
/// The element type decides the dtype: unsigned and signed bytes (`0x08`, `0x09`), `i16` (`0x0B`)
/// and `f32` (`0x0D`) give `F32` (exact for the integer types), `i32` (`0x0C`) gives `I64`, `f64`
/// (`0x0E`) gives `F64`. For the usual tensors, see [`load_images`] and [`load_labels`].
pub fn load_idx(path: impl AsRef<Path>) -> Result<Tensor> {
    let p = path.as_ref();
    let bytes = super::gzip::read_maybe_gz(p)?;
    parse_idx(&bytes).map_err(|e| with_path(p, e))
}

/// Parses the bytes of an (inflated) IDX file; see [`load_idx`].
pub fn parse_idx(bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < 4 {
        return Err(corrupt(format!("file of {} bytes is shorter than the 4-byte header", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(corrupt(format!(
            "not an IDX file: magic starts {:02x} {:02x}, expected 00 00",
            bytes[0], bytes[1]
        )));
    }
    let (code, ndim) = (bytes[2], bytes[3] as usize);
    let size = match code {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        _ => return Err(corrupt(format!("unknown element type code {code:#04x}"))),
    };
    let head = 4 + 4 * ndim;
    let dims_bytes =
        bytes.get(4..head).ok_or_else(|| corrupt(format!("truncated header: {ndim} dims need {head} bytes")))?;
    let dims: Vec<usize> =
        dims_bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    // The strides multiply the sides with zeros counted as 1: they must fit too, even when a side
    // of 0 leaves no element (dims [0, 2^32-1, 2^32-1, 2^32-1] hold nothing, but overflow).
    let span = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d.max(1))).filter(|&n| n <= isize::MAX as usize);
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|n| n.checked_mul(size).is_some() && span.is_some())
        .ok_or_else(|| corrupt(format!("dims {dims:?} are too large")))?;
    let data = &bytes[head..];
    if data.len() != count * size {
        return Err(corrupt(format!(
            "{} data: dims {dims:?} need {} bytes, the file has {}",
            if data.len() < count * size { "truncated" } else { "trailing" },
            count * size,
            data.len()
        )));
    }
    let t = match code {
        0x08 => Tensor::from_vec(data.iter().map(|&b| b as f32).collect::<Vec<f32>>(), &dims),
        0x09 => Tensor::from_vec(data.iter().map(|&b| b as i8 as f32).collect::<Vec<f32>>(), &dims),
        0x0B => Tensor::from_vec(
            data.chunks_exact(2).map(|c| i16::from_be_bytes([c[0], c[1]]) as f32).collect::<Vec<f32>>(),
            &dims,
        ),
        0x0C => Tensor::from_vec(
            data.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as i64).collect::<Vec<i64>>(),
            &dims,
        ),
        0x0D => Tensor::from_vec(
            data.chunks_exact(4).map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<f32>>(),
            &dims,
        ),
        _ => Tensor::from_vec(
            data.chunks_exact(8).map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8]))).collect::<Vec<f64>>(),
            &dims,
        ),
    };
    Ok(t)
}

/// Reads an IDX image file `[n, h, w]` as an `F32` tensor `[n, 1, h, w]` scaled to `[0, 1]`
/// (pixels divided by 255), ready for a `Conv2d(1, ...)`.
pub fn load_images(path: impl AsRef<Path>) -> Result<Tensor> {
    let p = path.as_ref();
    let t = load_idx(p)?;
    if t.rank() != 3 || t.dtype() != DType::F32 {
        return Err(with_path(
            p,
            corrupt(format!("expected images [n, h, w] of bytes, got {} of shape {:?}", t.dtype(), t.shape())),
        ));
    }
    Ok(t.unsqueeze(1) / 255.0)
}

/// Reads an IDX label file `[n]` as an `I64` tensor of class indices. Labels stored as floats
/// (type `0x0D` or `0x0E`) must be whole numbers that the float holds exactly (at most 2^24 in
/// magnitude for `f32`, 2^53 for `f64`): any other is an error naming the file and the index.
pub fn load_labels(path: impl AsRef<Path>) -> Result<Tensor> {
    let p = path.as_ref();
    let t = load_idx(p)?;
    labels_of(t).map_err(|e| with_path(p, e))
}

/// Checks that `t` is `[n]` of whole numbers in range and converts it to `I64`.
fn labels_of(t: Tensor) -> Result<Tensor> {
    if t.rank() != 1 {
        return Err(corrupt(format!("expected labels [n], got shape {:?}", t.shape())));
    }
    let exact = match t.dtype() {
        DType::F64 => (1u64 << 53) as f64,
        _ => f64::from(1u32 << 24),
    };
    if t.dtype().is_float() {
        for (i, v) in t.to_vec::<f64>().into_iter().enumerate() {
            if !v.is_finite() || v.abs() > exact || v.fract() != 0.0 {
                return Err(corrupt(format!(
                    "label {i} is {v:e}: not a whole number that the file's {} elements hold exactly (at most {exact:e} in magnitude)",
                    t.dtype()
                )));
            }
        }
    }
    Ok(t.to_dtype(DType::I64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn element_types() {
        let t = parse_idx(&idx(0x09, &[2], &[0xFF, 0x05])).unwrap();
        assert_eq!(t.to_vec::<f32>(), vec![-1.0, 5.0]);
        let t = parse_idx(&idx(0x0B, &[1], &(-300i16).to_be_bytes())).unwrap();
        assert_eq!(t.to_vec::<f32>(), vec![-300.0]);
        let t = parse_idx(&idx(0x0C, &[1], &70000i32.to_be_bytes())).unwrap();
        assert_eq!((t.dtype(), t.to_vec::<i64>()), (DType::I64, vec![70000]));
        let t = parse_idx(&idx(0x0D, &[1], &1.5f32.to_be_bytes())).unwrap();
        assert_eq!(t.to_vec::<f32>(), vec![1.5]);
        let t = parse_idx(&idx(0x0E, &[1, 1], &(-2.25f64).to_be_bytes())).unwrap();
        assert_eq!((t.dtype(), t.shape(), t.to_vec::<f64>()), (DType::F64, &[1usize, 1][..], vec![-2.25]));
    }

    #[test]
    fn corrupt_files() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0, 0, 8], "shorter than the 4-byte header"),
            (vec![1, 0, 8, 1, 0, 0, 0, 1, 7], "magic starts 01 00"),
            (idx(0x07, &[1], &[0]), "unknown element type code 0x07"),
            (vec![0, 0, 8, 3, 0, 0, 0, 1], "truncated header: 3 dims"),
            (idx(0x08, &[2, 3], &[1, 2, 3, 4, 5]), "truncated data: dims [2, 3] need 6 bytes, the file has 5"),
            (idx(0x08, &[1], &[1, 2]), "trailing data"),
            (idx(0x0C, &[3], &[0; 8]), "need 12 bytes"),
            (idx(0x0E, &[u32::MAX, u32::MAX, u32::MAX], &[]), "too large"),
        ];
        for (bytes, want) in cases {
            let e = parse_idx(&bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should contain {want}");
        }
    }

    #[test]
    fn float_labels_are_range_checked() {
        let ok =
            labels_of(parse_idx(&idx(0x0D, &[2], &[3.0f32.to_be_bytes(), 7.0f32.to_be_bytes()].concat())).unwrap());
        assert_eq!(ok.unwrap().to_vec::<i64>(), vec![3, 7]);
        for (code, bytes) in [
            (0x0D, 1e20f32.to_be_bytes().to_vec()),
            (0x0D, (-1e20f32).to_be_bytes().to_vec()),
            (0x0D, 1.5f32.to_be_bytes().to_vec()),
            (0x0D, f32::NAN.to_be_bytes().to_vec()),
            (0x0E, 1e20f64.to_be_bytes().to_vec()),
        ] {
            let e = labels_of(parse_idx(&idx(code, &[1], &bytes)).unwrap()).unwrap_err().to_string();
            assert!(e.contains("label 0 is") && e.contains("whole number"), "{e}");
        }
        // The header's dims: a product that overflows, or one that exceeds the file, is an error
        // before anything is allocated.
        let e = parse_idx(&idx(0x08, &[1 << 31, 1 << 31, 1 << 31], &[1, 2, 3])).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        let e = parse_idx(&idx(0x08, &[0, u32::MAX, u32::MAX, u32::MAX], &[])).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}"); // found by the fuzz corpus: strides overflowed
        let e = parse_idx(&idx(0x0E, &[1 << 30, 1 << 30], &[0; 16])).unwrap_err().to_string();
        assert!(e.contains("truncated data") && e.contains("the file has 16"), "{e}");
    }
}
