//! Error messages of the core ops (views, creation, access, binary ops, I/O): every bad input is an
//! `Err` whose message names the op and the offending values, and the panicking forms panic with it.

use ember_tensor::{io, DType, Result, Tensor};

/// The message of an expected error.
#[track_caller]
fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.unwrap_err().to_string()
}

/// Asserts that `msg` contains every part.
#[track_caller]
fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

fn x23() -> Tensor {
    Tensor::arange(0.0, 6.0, 1.0).reshape(&[2, 3])
}

#[test]
fn reshape_and_view() {
    let x = x23();
    has(&err(x.try_reshape(&[7])), &["reshape", "[7]", "[2, 3]", "6 elements"]);
    has(&err(x.try_reshape(&[4, -1])), &["reshape", "[4, -1]", "[2, 3]"]);
    has(&err(x.try_reshape(&[-1, -1])), &["reshape", "only one dimension can be inferred", "[-1, -1]"]);
    has(&err(x.try_reshape(&[-2, -3])), &["reshape", "invalid shape dimension -2 at index 0 of shape [-2, -3]"]);
    has(&err(x.try_reshape(&[i64::MAX, 4])), &["reshape", "[2, 3]"]);
    has(&err(x.try_view(&[4])), &["view", "[4]", "[2, 3]"]);
    has(&err(x.try_view(&[-1, -1])), &["view", "only one dimension can be inferred"]);
    has(
        &err(x.t().try_view(&[6])),
        &["view size [6] is not compatible with input tensor's size [3, 2] and stride [1, 3]", "reshape"],
    );
    has(&err(x.try_flatten(0, 2)), &["flatten", "range of [-2, 1]", "got 2"]);
    has(&err(x.try_flatten(1, 0)), &["flatten", "start_dim 1 cannot come after end_dim 0"]);
    has(&err(x.try_flatten(-1, -2)), &["flatten", "start_dim 1 cannot come after end_dim 0"]);
}

#[test]
fn dims_out_of_range_name_dim_and_range() {
    let x = x23();
    has(
        &err(x.try_transpose(0, 2)),
        &["transpose: dimension out of range (expected to be in range of [-2, 1], but got 2)"],
    );
    has(&err(x.try_transpose(-3, 0)), &["transpose", "[-2, 1]", "got -3"]);
    has(&err(Tensor::scalar(1.0f32).try_transpose(0, 1)), &["transpose", "[-1, 0]", "got 1"]);
    has(&err(x.try_permute(&[0, 2])), &["permute", "[-2, 1]", "got 2"]);
    has(
        &err(x.try_unsqueeze(3)),
        &["unsqueeze: dimension out of range (expected to be in range of [-3, 2], but got 3)"],
    );
    has(&err(x.try_unsqueeze(-4)), &["unsqueeze", "[-3, 2]", "got -4"]);
    has(&err(x.try_squeeze(2)), &["squeeze", "[-2, 1]", "got 2"]);
    has(&err(x.try_narrow(5, 0, 1)), &["narrow", "[-2, 1]", "got 5"]);
    has(&err(x.try_select(-3, 0)), &["select", "[-2, 1]", "got -3"]);
    has(&err(x.try_split(1, 2)), &["split", "[-2, 1]", "got 2"]);
    has(&err(x.try_split_sizes(&[1, 1], 2)), &["split", "[-2, 1]", "got 2"]);
    has(&err(x.try_chunk(2, -3)), &["chunk", "[-2, 1]", "got -3"]);
}

#[test]
fn bad_sizes_and_indices() {
    let x = x23();
    has(&err(x.try_permute(&[0])), &["permute", "got 1 dims for a tensor of rank 2"]);
    has(&err(x.try_permute(&[1, -1])), &["permute", "repeated dim 1 in [1, -1]"]);
    has(&err(x.try_narrow(1, 2, 2)), &["narrow", "start (2) + length (2) exceeds dimension size (3) of dim 1"]);
    has(&err(x.try_narrow(1, usize::MAX, 2)), &["narrow", "exceeds dimension size (3)"]);
    has(&err(x.try_narrow(0, 1, usize::MAX)), &["narrow", "exceeds dimension size (2)"]);
    has(&err(Tensor::scalar(1.0f32).try_narrow(0, 0, 1)), &["narrow", "0-dim"]);
    has(&err(x.try_select(1, 3)), &["select: index 3 is out of bounds for dimension with size 3"]);
    has(&err(x.try_select(0, -3)), &["select", "index -3", "size 2"]);
    has(&err(Tensor::scalar(1.0f32).try_select(0, 0)), &["select", "0-dim"]);
    has(&err(x.try_split(0, 1)), &["split", "split_size can only be 0 if dimension size is 0", "size of 3"]);
    has(&err(x.try_split_sizes(&[1, 1], 1)), &["split", "[1, 1]", "size 3 of dim 1"]);
    has(&err(x.try_split_sizes(&[usize::MAX, 4], 1)), &["split", "size 3 of dim 1"]);
    has(&err(x.try_chunk(0, 1)), &["chunk", "number of chunks must be greater than 0"]);
    has(&err(Tensor::scalar(1.0f32).try_chunk(2, 0)), &["chunk", "at least a 1-dimensional tensor"]);
    has(&err(x.try_expand(&[4])), &["expand", "number of sizes provided (1)", "number of dimensions (2)"]);
    has(&err(x.try_expand(&[2, 4])), &["expand", "[2, 3]", "[2, 4]"]);
    has(&err(x.try_expand(&[-1, 2, 3])), &["expand", "-1", "leading, non-existing dimension (0)"]);
    has(&err(x.try_expand(&[2, -2])), &["expand", "invalid size -2"]);
}

#[test]
fn creation_and_access() {
    has(
        &err(Tensor::try_from_vec(vec![1.0f32; 5], &[2, 3])),
        &["from_vec", "5 elements given for shape [2, 3] (6 elements)"],
    );
    has(&err(Tensor::try_from_vec(vec![1i64], &[usize::MAX, 2])), &["from_vec", "1 elements given", "too many"]);
    has(&err(x23().try_item::<f32>()), &["item", "a Tensor with 6 elements cannot be converted to a scalar", "[2, 3]"]);
    has(&err(Tensor::zeros(&[0]).try_item::<f32>()), &["item", "0 elements"]);
    has(&err(Tensor::try_arange(0.0, 5.0, 0.0, DType::F32)), &["arange", "start 0, end 5, step 0"]);
    has(&err(Tensor::try_arange(0.0, 5.0, -1.0, DType::I64)), &["arange", "inconsistent with step sign", "step -1"]);
    has(&err(Tensor::try_arange(0.0, f64::NAN, 1.0, DType::F32)), &["arange", "end NaN"]);
    has(&err(Tensor::try_randint(5, 5, &[2])), &["randint", "from=5 >= to=5"]);
    has(&err(Tensor::try_randint(3, -1, &[2])), &["randint", "from=3 >= to=-1"]);
}

#[test]
fn binary_and_unary() {
    let x = x23();
    has(&err(x.try_add(&Tensor::zeros(&[2]))), &["add: shape mismatch: [2, 3] vs [2]"]);
    has(&err(x.try_maximum(&Tensor::zeros(&[3, 1, 4]))), &["maximum", "[2, 3]", "[3, 1, 4]"]);
    has(&err(x.try_div(&x.to_dtype(DType::F64))), &["div: dtype mismatch: expected F32, got F64"]);
    has(&err(x.to_dtype(DType::I64).try_sub(&x)), &["sub", "expected I64, got F32"]);
    let b = Tensor::from_vec(vec![true, false], &[2]);
    has(&err(b.try_mul(&b)), &["mul", "Bool"]);
    has(&err(x.try_clamp(None, None)), &["clamp", "at least one of 'min' or 'max' must not be None"]);
}

#[test]
fn safetensors_bad_files() {
    let bytes = io::save_bytes(&[("a".into(), Tensor::ones(&[2, 3])), ("b".into(), x23())]).unwrap();
    assert_eq!(io::load_bytes(&bytes).unwrap().len(), 2);
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        has(&err(io::load_bytes(&bytes[..cut])), &["safetensors"]);
    }
    has(&err(io::load_bytes(&bytes[..4])), &["safetensors: header too small"]);
    has(&err(io::load_bytes(&bytes[..bytes.len() - 1])), &["safetensors", "not fully covered"]);
    let mut bad = bytes.clone();
    bad[0] = 0xff;
    bad[1] = 0xff;
    has(&err(io::load_bytes(&bad)), &["safetensors: invalid header length"]);
    let mut bad = bytes.clone();
    bad[9] = b'#';
    has(&err(io::load_bytes(&bad)), &["safetensors: invalid JSON in header"]);
    has(&err(io::load("/nonexistent-dir/w.safetensors")), &["io", "/nonexistent-dir/w.safetensors", "No such file"]);
    let dir = std::env::temp_dir().join(format!("ember-errors-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("truncated.safetensors");
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let e = err(io::load(&path));
    std::fs::remove_dir_all(&dir).unwrap();
    has(&e, &["safetensors", "not fully covered"]);
}

#[test]
#[should_panic(expected = "reshape: shape [7] is invalid for input of shape [2, 3] (6 elements)")]
fn reshape_panics() {
    let _ = x23().reshape(&[7]);
}

#[test]
#[should_panic(expected = "transpose: dimension out of range (expected to be in range of [-2, 1], but got 2)")]
fn transpose_panics() {
    let _ = x23().transpose(0, 2);
}

#[test]
#[should_panic(expected = "select: index 3 is out of bounds for dimension with size 3")]
fn select_panics() {
    let _ = x23().select(1, 3);
}

#[test]
#[should_panic(expected = "narrow: start (2) + length (2) exceeds dimension size (3) of dim 1")]
fn narrow_panics() {
    let _ = x23().narrow(1, 2, 2);
}

#[test]
#[should_panic(expected = "expand: shape mismatch: [2, 3] vs [2, 4]")]
fn expand_panics() {
    let _ = x23().expand(&[2, 4]);
}

#[test]
#[should_panic(expected = "from_vec: 5 elements given for shape [2, 3] (6 elements)")]
fn from_vec_panics() {
    let _ = Tensor::from_vec(vec![0.0f64; 5], &[2, 3]);
}

#[test]
#[should_panic(expected = "item: a Tensor with 6 elements cannot be converted to a scalar")]
fn item_panics() {
    let _ = x23().item::<f32>();
}

#[test]
#[should_panic(expected = "arange: invalid range: start 0, end 5, step 0")]
fn arange_panics() {
    let _ = Tensor::arange(0.0, 5.0, 0.0);
}

#[test]
#[should_panic(expected = "randint: random_ expects 'from' to be less than 'to', but got from=2 >= to=1")]
fn randint_panics() {
    let _ = Tensor::randint(2, 1, &[3]);
}

#[test]
#[should_panic(expected = "mul: dtype mismatch: expected F32, got I64")]
fn binary_dtype_panics() {
    let _ = x23() * x23().to_dtype(DType::I64);
}

#[test]
#[should_panic(expected = "clamp: at least one of 'min' or 'max' must not be None")]
fn clamp_panics() {
    let _ = x23().clamp(None, None);
}

#[test]
#[should_panic(expected = "size: dimension out of range (expected to be in range of [-2, 1], but got 2)")]
fn size_panics() {
    let _ = x23().size(2);
}

#[test]
#[should_panic(expected = "t: expects a tensor with <= 2 dimensions, but self is 3D")]
fn t_panics() {
    let _ = Tensor::zeros(&[1, 2, 3]).t();
}
