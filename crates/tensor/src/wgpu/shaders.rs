//! WGSL sources: the files of the `ember-shaders` crate (the top-level `shaders/` directory), and
//! how they are composed into modules. A kernel file uses the float type alias `T` and the helpers
//! of the library files; the host prepends `alias T = f32;` or `alias T = f64;` and the libraries it
//! needs, so one source serves both float widths (F64 only on adapters with SHADER_F64).

use crate::op_desc::{BinaryOp, CmpOp, ReduceKind, UnaryOp};
use crate::DType;

pub(crate) use ember_shaders::{
    ARGREDUCE, BINARY, COMPARE, CONV, COPY, CROSS_ENTROPY, CROSS_ENTROPY_BACKWARD, FILL, HALF, HALF_BITS, I64, INDEX,
    INDEX_MISC, JOIN, MATH, MATH_F32, MATH_F64, MATMUL, POOL, RANDOM, REDUCE, REDUCE_SUBGROUP, SCAN, SCATTER, SOFTMAX,
    SORT, STATS, STRIDED, UNARY,
};

/// The WGSL name of the float type for `dtype` (F64 -> f64, everything else f32).
fn float_name(dtype: DType) -> &'static str {
    if dtype == DType::F64 {
        "f64"
    } else {
        "f32"
    }
}

/// `alias T`, the float primitives for it, and the shared libraries, followed by `parts`.
fn compose(float: DType, libs: &[&str], parts: &[&str]) -> String {
    let mut s = format!("alias T = {};\n", float_name(float));
    s.push_str(if float == DType::F64 { MATH_F64 } else { MATH_F32 });
    for p in libs.iter().chain(parts) {
        s.push('\n');
        s.push_str(p);
    }
    s
}

/// An elementwise kernel file (unary, binary) over float type `float`.
pub(crate) fn elementwise(kernel: &str, float: DType) -> String {
    compose(float, &[MATH, I64, STRIDED], &[kernel])
}

/// `apply_float` and `apply_i64` of an elementwise kernel: a `switch` on its `OP` constant with
/// case `k` the WGSL of row `k` of the op table, so the kernel's numbers are the enum's by
/// construction. `args` are the parameters (`v` or `x`, `y`); a missing case returns the first.
fn apply_fns(rows: &[(&str, Option<&str>)], args: &[&str]) -> String {
    let first = args[0];
    let float: Vec<String> = args.iter().map(|a| format!("{a}: T")).collect();
    let int: Vec<String> = args.iter().map(|a| format!("{a}: I64")).collect();
    let mut f = format!("fn apply_float({}) -> T {{\n    switch OP {{\n", float.join(", "));
    let mut i = format!("fn apply_i64({}) -> I64 {{\n    switch OP {{\n", int.join(", "));
    for (k, (wf, wi)) in rows.iter().enumerate() {
        f.push_str(&format!("        case {k}u: {{ {wf} }}\n"));
        if let Some(wi) = wi {
            i.push_str(&format!("        case {k}u: {{ {wi} }}\n"));
        }
    }
    for s in [&mut f, &mut i] {
        s.push_str(&format!("        default: {{ return {first}; }}\n    }}\n}}\n"));
    }
    f + &i
}

/// The unary module over float type `float`: `unary.wgsl` (bindings, entry points) and its
/// `apply_float` / `apply_i64`, generated from the op table ([`UnaryOp::WGSL`]).
pub(crate) fn unary(float: DType) -> String {
    compose(float, &[MATH, I64, STRIDED], &[UNARY, &apply_fns(UnaryOp::WGSL, &["v"])])
}

/// The binary module over float type `float`: `binary.wgsl` and its `apply_float` /
/// `apply_i64`, generated from the op table ([`BinaryOp::WGSL`]).
pub(crate) fn binary(float: DType) -> String {
    compose(float, &[MATH, I64, STRIDED], &[BINARY, &apply_fns(BinaryOp::WGSL, &["x", "y"])])
}

/// The compare module over float type `float`: `compare.wgsl` with its `from_order` and
/// `nan_result` generated from the comparison table ([`CmpOp::WGSL`]: case `k` is row `k`), and the
/// `OP` numbers of the other tests (`TEST_AND`, `TEST_OR`, `TEST_ISNAN`, `TEST_ISFINITE`), which
/// follow the table's rows as `wgpu/compare.rs` numbers them.
pub(crate) fn compare(float: DType) -> String {
    let mut order = String::from("fn from_order(o: i32) -> bool {\n    switch OP {\n");
    let mut nan = String::from("fn nan_result() -> bool {\n    switch OP {\n");
    for (k, (test, on_nan)) in CmpOp::WGSL.iter().enumerate() {
        order.push_str(&format!("        case {k}u: {{ return {test}; }}\n"));
        nan.push_str(&format!("        case {k}u: {{ return {on_nan}; }}\n"));
    }
    for s in [&mut order, &mut nan] {
        s.push_str("        default: { return false; }\n    }\n}\n");
    }
    let n = CmpOp::WGSL.len();
    let tests = format!(
        "const TEST_AND: u32 = {}u;\nconst TEST_OR: u32 = {}u;\nconst TEST_ISNAN: u32 = {}u;\nconst TEST_ISFINITE: u32 = {}u;\n",
        n,
        n + 1,
        n + 2,
        n + 3
    );
    compose(float, &[MATH, I64, STRIDED], &[&tests, COMPARE, &order, &nan])
}

/// A kernel file that needs only the float primitives and the i64 helpers (stats, scan, argreduce).
pub(crate) fn plain(kernel: &str, float: DType) -> String {
    compose(float, &[I64], &[kernel])
}

/// `matmul.wgsl`'s storage accessors for the F32/F64 kernels: elements of `T`, read and written as
/// they are (the 16-bit ones are `matmul_half.rs`'s).
const MATMUL_IO: &str = "alias IN = T;
alias OUT = T;
fn get_a(i: u32) -> T { return a[i]; }
fn get_b(i: u32) -> T { return b[i]; }
fn get_bias(i: u32) -> T { return bias[i]; }
fn get_mask(i: u32) -> T { return mask[i]; }
fn put_c(i: u32, v: T) { c[i] = v; }
fn put_c2(i: u32, x: T, y: T) { c[i] = x; c[i + 1u] = y; }
fn put_c4(i: u32, v: vec4<T>) { c[i] = v.x; c[i + 1u] = v.y; c[i + 2u] = v.z; c[i + 3u] = v.w; }
";

/// The matrix-product module (`matmul.wgsl`) over float type `float` (F32 or F64).
pub(crate) fn matmul(float: DType) -> String {
    compose(float, &[I64], &[MATMUL_IO, MATMUL])
}

/// The 16-bit matrix-product module: `matmul.wgsl` with the accessors `io` (from `matmul_half.rs`),
/// computing in f32; `f16` puts `enable f16;` first (storage typed `array<f16>`).
pub(crate) fn matmul_half(io: &str, f16: bool) -> String {
    let body = compose(DType::F32, &[I64], &[HALF_BITS, io, MATMUL]);
    if f16 {
        format!("enable f16;\n{body}")
    } else {
        body
    }
}

/// The reduction module with its subgroup entry points (devices with `wgpu::Features::SUBGROUP`).
pub(crate) fn reduce_subgroup(float: DType) -> String {
    compose(float, &[I64], &[&reduce_ops(), REDUCE, REDUCE_SUBGROUP])
}

/// The reduction module (`reduce.wgsl`, no subgroups) over float type `float`, after the constants
/// naming its `OP` numbers.
pub(crate) fn reduce(float: DType) -> String {
    compose(float, &[I64], &[&reduce_ops(), REDUCE])
}

/// `const RED_SUM: u32 = 0u;` and the others: the reduction kernels' `OP` numbers, from the table
/// [`ReduceKind::KERNELS`] (row `k` is `OP` `k`).
fn reduce_ops() -> String {
    ReduceKind::KERNELS.iter().enumerate().map(|(k, (_, name))| format!("const {name}: u32 = {k}u;\n")).collect()
}

/// The WGSL storage type of one element of `dtype` (Bool is a u32 0/1, I64 two u32 words).
fn storage_type(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::I64 => "I64",
        // Bool is a u32 0/1; the 16-bit floats are packed words that `copy` never sees (`convert.rs`)
        DType::Bool | DType::F16 | DType::BF16 => "u32",
    }
}

/// The gather/cast module converting `src` elements to `dst`.
pub(crate) fn copy(src: DType, dst: DType) -> String {
    use DType::*;
    let (float, s, d, body) = if src == dst {
        // Raw words: no arithmetic, so F64 copies work without f64 shader support.
        let w = if matches!(src, F64 | I64) { "vec2<u32>" } else { "u32" };
        (F32, w, w, "return v;")
    } else {
        let body = match (src, dst) {
            (F32, F64) => "return f64(v);",
            (F64, F32) => "return f32(v);",
            (F32 | F64, I64) => "return i64_from_t(v);",
            (I64, F32 | F64) => "return i64_to_t(v);",
            (F32 | F64, Bool) => "return select(0u, 1u, v != 0.0 || is_nan(v));",
            (Bool, F32 | F64) => "return T(v);",
            (I64, Bool) => "return select(0u, 1u, v.x != 0u || v.y != 0u);",
            (Bool, I64) => "return I64(v, 0u);",
            _ => unreachable!("src == dst handled above"),
        };
        let float = if src == F64 || dst == F64 { F64 } else { F32 };
        (float, storage_type(src), storage_type(dst), body)
    };
    let header = format!("alias SRC = {s};\nalias DST = {d};\nfn convert(v: SRC) -> DST {{\n    {body}\n}}\n");
    compose(float, &[self::I64, STRIDED], &[&header, COPY])
}

/// The 16-bit float conversion module (`half.wgsl`: integer bit manipulation only, so it needs
/// neither `f16` nor the float library).
pub(crate) fn half() -> String {
    format!("{STRIDED}\n{HALF_BITS}\n{HALF}")
}

/// Every module the backend can build, by name, for validation (tests compile each with naga, with
/// f64 enabled). Names say which shader files they contain.
#[doc(hidden)]
pub fn all_modules() -> Vec<(String, String)> {
    const ALL: [DType; 4] = [DType::F32, DType::F64, DType::I64, DType::Bool];
    let mut v = Vec::new();
    for f in [DType::F32, DType::F64] {
        v.push((format!("unary.wgsl ({f})"), unary(f)));
        v.push((format!("binary.wgsl ({f})"), binary(f)));
        v.push((format!("reduce.wgsl ({f})"), reduce(f)));
        v.push((format!("matmul.wgsl ({f})"), matmul(f)));
        v.push((format!("reduce.wgsl + reduce_subgroup.wgsl ({f}, subgroups)"), reduce_subgroup(f)));
        v.push((format!("stats.wgsl ({f})"), plain(STATS, f)));
        v.push((format!("compare.wgsl ({f})"), compare(f)));
        v.push((format!("softmax.wgsl ({f})"), elementwise(SOFTMAX, f)));
        v.push((format!("argreduce.wgsl ({f})"), plain(ARGREDUCE, f)));
        v.push((format!("conv.wgsl ({f})"), elementwise(CONV, f)));
        v.push((format!("pool.wgsl ({f})"), elementwise(POOL, f)));
        v.push((format!("scan.wgsl ({f})"), plain(SCAN, f)));
        v.push((format!("random.wgsl ({f})"), elementwise(RANDOM, f)));
        v.push((format!("cross_entropy.wgsl ({f})"), plain(CROSS_ENTROPY, f)));
        v.push((format!("cross_entropy_backward.wgsl ({f})"), plain(CROSS_ENTROPY_BACKWARD, f)));
    }
    for s in ALL {
        for d in ALL {
            v.push((format!("copy.wgsl ({s} -> {d})"), copy(s, d)));
        }
        v.push((format!("sort.wgsl ({s})"), super::sort::source(s)));
    }
    v.extend(super::matmul_half::all_modules());
    v.push(("fill.wgsl".to_string(), FILL.to_string()));
    v.push(("half.wgsl".to_string(), half()));
    v.push(("index.wgsl".to_string(), elementwise(INDEX, DType::F32)));
    v.push(("join.wgsl".to_string(), elementwise(JOIN, DType::F32)));
    v.push(("index_misc.wgsl".to_string(), elementwise(INDEX_MISC, DType::F32)));
    v.push(("scatter.wgsl".to_string(), elementwise(SCATTER, DType::F32)));
    v
}

/// The shader files (names under `shaders/`) and their text, for the validation test.
#[doc(hidden)]
pub fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("math_f32.wgsl", MATH_F32),
        ("math_f64.wgsl", MATH_F64),
        ("math.wgsl", MATH),
        ("i64.wgsl", I64),
        ("strided.wgsl", STRIDED),
        ("unary.wgsl", UNARY),
        ("binary.wgsl", BINARY),
        ("copy.wgsl", COPY),
        ("fill.wgsl", FILL),
        ("half.wgsl", HALF),
        ("half_bits.wgsl", HALF_BITS),
        ("reduce.wgsl", REDUCE),
        ("matmul.wgsl", MATMUL),
        ("reduce_subgroup.wgsl", REDUCE_SUBGROUP),
        ("stats.wgsl", STATS),
        ("compare.wgsl", COMPARE),
        ("softmax.wgsl", SOFTMAX),
        ("index.wgsl", INDEX),
        ("argreduce.wgsl", ARGREDUCE),
        ("conv.wgsl", CONV),
        ("pool.wgsl", POOL),
        ("scan.wgsl", SCAN),
        ("sort.wgsl", SORT),
        ("join.wgsl", JOIN),
        ("index_misc.wgsl", INDEX_MISC),
        ("scatter.wgsl", SCATTER),
        ("random.wgsl", RANDOM),
        ("cross_entropy.wgsl", CROSS_ENTROPY),
        ("cross_entropy_backward.wgsl", CROSS_ENTROPY_BACKWARD),
    ]
}
