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

fn from_bytes<T: bytemuck::Pod>(b: &[u8]) -> Vec<T> {
    // The bytes may be unaligned inside the file buffer: copy element by element.
    b.chunks_exact(std::mem::size_of::<T>()).map(bytemuck::pod_read_unaligned::<T>).collect()
}

/// Parses safetensors bytes into named tensors, in the file's order.
pub fn load_bytes(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Parse(format!("safetensors: {e}")))?;
    let mut out = Vec::new();
    for (name, view) in st.iter() {
        let shape = view.shape().to_vec();
        // safetensors checks the element count; the strides (sides of 0 counted as 1) must fit
        // too: [0, 2^62, 2^62] holds no element, but its strides overflow.
        if shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s.max(1))).is_none_or(|n| n > isize::MAX as usize) {
            return Err(Error::Parse(format!(
                "safetensors: tensor '{name}' has shape {shape:?}, too large to address"
            )));
        }
        let data = view.data();
        let t = match view.dtype() {
            StDtype::F32 => Tensor::from_vec_unchecked(from_bytes::<f32>(data), &shape),
            StDtype::F64 => Tensor::from_vec_unchecked(from_bytes::<f64>(data), &shape),
            StDtype::F16 => Tensor::from_vec_unchecked(from_bytes::<half::f16>(data), &shape),
            StDtype::BF16 => Tensor::from_vec_unchecked(from_bytes::<half::bf16>(data), &shape),
            StDtype::I64 => Tensor::from_vec_unchecked(from_bytes::<i64>(data), &shape),
            StDtype::BOOL => Tensor::from_vec_unchecked(data.iter().map(|&b| b != 0).collect::<Vec<bool>>(), &shape),
            StDtype::I32 => Tensor::from_vec_unchecked(
                from_bytes::<i32>(data).into_iter().map(i64::from).collect::<Vec<i64>>(),
                &shape,
            ),
            other => return Err(Error::Parse(format!("safetensors: tensor '{name}' has unsupported dtype {other:?}"))),
        };
        out.push((name.to_string(), t));
    }
    Ok(out)
}

/// Reads every tensor of a safetensors file.
pub fn load(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let p = path.as_ref();
    let bytes = std::fs::read(p).map_err(|e| Error::Io(format!("{}: {e}", p.display())))?;
    load_bytes(&bytes).map_err(|e| match e {
        Error::Parse(m) => Error::Parse(format!("{}: {m}", p.display())),
        other => other,
    })
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
