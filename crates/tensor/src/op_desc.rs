//! The op descriptors: what an op asks a backend to compute, named once for `ops/` (which builds
//! them), `cpu/` and `wgpu/` (which run them). The module depends on no backend, so neither backend
//! imports the other's types nor `ops/`'s, and a new backend finds here everything its kernels take.

use smallvec::SmallVec;

use crate::shape::Dims;

/// Writes [`UnaryOp`] and its per-op facts from one table (the invocation below).
macro_rules! unary_ops {
    ($(
        $(#[doc = $doc:literal])*
        $V:ident $(($($field:ty),*))? => $name:literal, keeps_int: $ki:literal,
            wgsl: $wf:literal, wgsl_i64: $wi:expr;
    )*) => {
        /// The unary elementwise ops, as the backends see them: one row of the table in
        /// `op_desc.rs` each, which also gives the PyTorch name, the integer rule and the WGSL of
        /// the GPU kernel (`docs/adding-an-op.md`).
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum UnaryOp {
            $( $(#[doc = $doc])* $V $(($($field),*))?, )*
        }

        /// The row of each op in the table (its index in [`UnaryOp::WGSL`]).
        #[derive(Clone, Copy)]
        enum UnaryRow {
            $( $V, )*
        }

        impl UnaryOp {
            /// The PyTorch name of the op, used in error messages.
            pub fn name(self) -> &'static str {
                match self {
                    $( UnaryOp::$V { .. } => $name, )*
                }
            }

            /// True for ops that keep integer dtypes integral (the rest promote `I64` to `F32`, as
            /// PyTorch).
            pub fn keeps_int(self) -> bool {
                match self {
                    $( UnaryOp::$V { .. } => $ki, )*
                }
            }

            /// The op's row in the table: its index in [`UnaryOp::WGSL`] and the `OP` constant of the
            /// GPU kernel.
            pub fn index(self) -> u32 {
                match self {
                    $( UnaryOp::$V { .. } => UnaryRow::$V as u32, )*
                }
            }

            /// Per row, the WGSL statements computing the op of `v: T` (a float; parameters in
            /// `sc[0]`, `sc[1]`), and for integer ops those of `v: I64` (parameters in `sci`; `None`
            /// returns `v`). The GPU backend turns them into the `switch` of `unary.wgsl`.
            pub const WGSL: &'static [(&'static str, Option<&'static str>)] = &[ $( ($wf, $wi), )* ];
        }
    };
}

unary_ops! {
    /// `-x`
    Neg => "neg", keeps_int: true, wgsl: "return -v;", wgsl_i64: Some("return i64_neg(v);");
    /// `|x|`
    Abs => "abs", keeps_int: true, wgsl: "return abs(v);", wgsl_i64: Some("return i64_abs(v);");
    /// `e^x`
    Exp => "exp", keeps_int: false, wgsl: "return m_exp(v);", wgsl_i64: None;
    /// natural log
    Log => "log", keeps_int: false, wgsl: "return m_log(v);", wgsl_i64: None;
    /// `ln(1 + x)`
    Log1p => "log1p", keeps_int: false, wgsl: "return m_log1p(v);", wgsl_i64: None;
    /// square root
    Sqrt => "sqrt", keeps_int: false, wgsl: "return m_sqrt(v);", wgsl_i64: None;
    /// `1 / sqrt(x)`
    Rsqrt => "rsqrt", keeps_int: false, wgsl: "return 1.0 / m_sqrt(v);", wgsl_i64: None;
    /// sine
    Sin => "sin", keeps_int: false, wgsl: "return m_sin(v);", wgsl_i64: None;
    /// cosine
    Cos => "cos", keeps_int: false, wgsl: "return m_cos(v);", wgsl_i64: None;
    /// hyperbolic tangent
    Tanh => "tanh", keeps_int: false, wgsl: "return m_tanh(v);", wgsl_i64: None;
    /// `1 / (1 + e^-x)`, computed stably for large |x|
    Sigmoid => "sigmoid", keeps_int: false, wgsl: "return m_sigmoid(v);", wgsl_i64: None;
    /// `max(x, 0)`
    Relu => "relu", keeps_int: true, wgsl: "return select(v, 0.0, is_negative(v));",
        wgsl_i64: Some("return select(v, I64(0u, 0u), i64_is_neg(v));");
    /// `x * Φ(x)` with the exact (erf) normal CDF, PyTorch's default GELU
    Gelu => "gelu", keeps_int: false, wgsl: "return 0.5 * v * (1.0 + m_erf(v * 7.07106781186547524401e-01));",
        wgsl_i64: None;
    /// `x * sigmoid(x)`
    Silu => "silu", keeps_int: false, wgsl: "return v * m_sigmoid(v);", wgsl_i64: None;
    /// `ln(1 + e^x)`, linear above 20 (PyTorch's threshold)
    Softplus => "softplus", keeps_int: false, wgsl: "if (v > 20.0) { return v; } return m_log1p(m_exp(v));",
        wgsl_i64: None;
    /// -1, 0 or 1
    Sign => "sign", keeps_int: true,
        // 0, -0 and NaN are their own sign.
        wgsl: "if (v > 0.0) { return 1.0; } if (v < 0.0) { return -1.0; } return v;",
        wgsl_i64: Some("if (i64_is_neg(v)) { return I64(0xffffffffu, 0xffffffffu); } \
                        return select(I64(1u, 0u), v, v.x == 0u && v.y == 0u);");
    /// round down
    Floor => "floor", keeps_int: true, wgsl: "return floor(v);", wgsl_i64: None;
    /// round up
    Ceil => "ceil", keeps_int: true, wgsl: "return ceil(v);", wgsl_i64: None;
    /// round half to even
    Round => "round", keeps_int: true, wgsl: "return round(v);", wgsl_i64: None;
    /// `1 / x`
    Recip => "reciprocal", keeps_int: false, wgsl: "return 1.0 / v;", wgsl_i64: None;
    /// the error function
    Erf => "erf", keeps_int: false, wgsl: "return m_erf(v);", wgsl_i64: None;
    /// `x ** e`
    Powf(f64) => "pow", keeps_int: false, wgsl: "if (sc[0] == 2.0) { return v * v; } return m_pow(v, sc[0]);",
        wgsl_i64: None;
    /// `min(max(x, lo), hi)`; either bound may be absent
    Clamp(Option<f64>, Option<f64>) => "clamp", keeps_int: true,
        wgsl: "if (is_nan(v)) { return v; } var r = v; if (r < sc[0]) { r = sc[0]; } if (r > sc[1]) { r = sc[1]; } \
               return r;",
        wgsl_i64: Some("return i64_min(i64_max(v, sci[0]), sci[1]);");
    /// `x` if positive, else `slope * x`
    LeakyRelu(f64) => "leaky_relu", keeps_int: false, wgsl: "return select(v * sc[0], v, v > 0.0);", wgsl_i64: None;
    /// `x` if positive, else `alpha * (e^x - 1)`
    Elu(f64) => "elu", keeps_int: false, wgsl: "return select(sc[0] * m_expm1(v), v, v > 0.0);", wgsl_i64: None;
}

/// Writes [`BinaryOp`] and its per-op facts from one table, as [`UnaryOp`]'s: name, and the WGSL
/// of the GPU kernel's case (`x`, `y` of float type `T`; `I64` for the integer column).
macro_rules! binary_ops {
    ($(
        $(#[doc = $doc:literal])*
        $V:ident => $name:literal, wgsl: $wf:literal, wgsl_i64: $wi:expr;
    )*) => {
        /// The binary arithmetic ops, as the backends see them: one row of the table in
        /// `op_desc.rs` each (PyTorch name and the WGSL of the GPU kernel).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum BinaryOp {
            $( $(#[doc = $doc])* $V, )*
        }

        impl BinaryOp {
            /// The PyTorch name of the op, used in error messages.
            pub fn name(self) -> &'static str {
                match self {
                    $( BinaryOp::$V => $name, )*
                }
            }

            /// The op's row in the table: its index in [`BinaryOp::WGSL`] and the `OP` constant of
            /// the GPU kernel.
            pub fn index(self) -> u32 {
                self as u32
            }

            /// Per row, the WGSL statements computing the op of `x, y: T`, and of `x, y: I64` for
            /// ops with an integer kernel (`None`: the op never reaches the kernel with I64).
            pub const WGSL: &'static [(&'static str, Option<&'static str>)] = &[ $( ($wf, $wi), )* ];
        }
    };
}

binary_ops! {
    /// `a + b`
    Add => "add", wgsl: "return x + y;", wgsl_i64: Some("return i64_add(x, y);");
    /// `a - b`
    Sub => "sub", wgsl: "return x - y;", wgsl_i64: Some("return i64_sub(x, y);");
    /// `a * b`
    Mul => "mul", wgsl: "return x * y;", wgsl_i64: Some("return i64_mul(x, y);");
    /// `a / b` (true division: integers give F32, as PyTorch)
    Div => "div", wgsl: "return x / y;", wgsl_i64: None;
    /// `a ** b`
    Pow => "pow", wgsl: "return m_pow(x, y);", wgsl_i64: Some("return i64_pow(x, y);");
    /// elementwise max, NaN-propagating
    Maximum => "maximum", wgsl: "if (is_nan(x) || is_nan(y)) { return t_nan(); } return select(x, y, y > x);",
        wgsl_i64: Some("return i64_max(x, y);");
    /// elementwise min, NaN-propagating
    Minimum => "minimum", wgsl: "if (is_nan(x) || is_nan(y)) { return t_nan(); } return select(x, y, y < x);",
        wgsl_i64: Some("return i64_min(x, y);");
}

/// Writes [`CmpOp`] and its per-op facts from one table, as [`UnaryOp`]'s: name, the WGSL test of
/// an ordering `o` (-1, 0 or 1 for less, equal, greater) and the result when an operand is NaN.
macro_rules! cmp_ops {
    ($(
        $(#[doc = $doc:literal])*
        $V:ident => $name:literal, order: $order:literal, nan: $nan:literal;
    )*) => {
        /// The comparison ops, as the backends see them: one row of the table in `op_desc.rs`
        /// each (PyTorch name, the WGSL test of an ordering, the result with a NaN operand).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum CmpOp {
            $( $(#[doc = $doc])* $V, )*
        }

        impl CmpOp {
            /// The PyTorch name of the op, used in error messages.
            pub fn name(self) -> &'static str {
                match self {
                    $( CmpOp::$V => $name, )*
                }
            }

            /// The op's row in the table: its index in [`CmpOp::WGSL`] and the `OP` constant of
            /// the GPU's compare kernel.
            pub fn index(self) -> u32 {
                self as u32
            }

            /// Per row, the WGSL expression testing the ordering `o: i32` of the operands, and the
            /// result (`true`/`false`) when one of them is NaN.
            pub const WGSL: &'static [(&'static str, &'static str)] = &[ $( ($order, $nan), )* ];
        }
    };
}

cmp_ops! {
    /// `a == b`
    Eq => "eq", order: "o == 0", nan: "false";
    /// `a != b` (true when either is NaN)
    Ne => "ne", order: "o != 0", nan: "true";
    /// `a < b`
    Lt => "lt", order: "o < 0", nan: "false";
    /// `a <= b`
    Le => "le", order: "o <= 0", nan: "false";
    /// `a > b`
    Gt => "gt", order: "o > 0", nan: "false";
    /// `a >= b`
    Ge => "ge", order: "o >= 0", nan: "false";
}

/// The reductions a backend computes in one kernel (the GPU's `reduce_dims`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    /// Sum (same dtype: F32, F64, I64 wrapping).
    Sum,
    /// Sum divided by the count (F32, F64; NaN for an empty reduction, as PyTorch).
    Mean,
    /// Maximum, NaN-propagating.
    Max,
    /// Minimum, NaN-propagating.
    Min,
    /// Product (same dtype: F32, F64, I64 wrapping; 1 for an empty reduction).
    Prod,
}

impl ReduceKind {
    /// The PyTorch name of the reduction, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "sum",
            ReduceKind::Mean => "mean",
            ReduceKind::Max => "max",
            ReduceKind::Min => "min",
            ReduceKind::Prod => "prod",
        }
    }

    /// The reduction kernels' operations in the order of their `OP` numbers, each with the WGSL
    /// constant `reduce.wgsl` and `reduce_subgroup.wgsl` know it by (`wgpu/shaders.rs` writes the
    /// constants from this table), so the kernels' numbers are the table's by construction. `Mean`
    /// has no row: it runs the sum kernel and divides.
    pub const KERNELS: [(ReduceKind, &'static str); 4] = [
        (ReduceKind::Sum, "RED_SUM"),
        (ReduceKind::Max, "RED_MAX"),
        (ReduceKind::Min, "RED_MIN"),
        (ReduceKind::Prod, "RED_PROD"),
    ];

    /// The `OP` of the kernel computing this reduction: its row in [`ReduceKind::KERNELS`] (the
    /// sum's for `Mean`).
    pub fn kernel_op(self) -> u32 {
        let k = if self == ReduceKind::Mean { ReduceKind::Sum } else { self };
        ReduceKind::KERNELS.iter().position(|(r, _)| *r == k).unwrap_or(0) as u32
    }
}

/// The geometry of a reduction: `outer` independent slabs of `n` rows of `inner` elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    /// Product of the dims before the reduced one.
    pub outer: usize,
    /// Size of the reduced dim.
    pub n: usize,
    /// Product of the dims after the reduced one.
    pub inner: usize,
}

impl Axis {
    /// The whole tensor as one row of `numel` elements.
    pub fn all(numel: usize) -> Axis {
        Axis { outer: 1, n: numel, inner: 1 }
    }

    /// Dim `d` of a dense tensor of `shape` (a 0-d tensor is one element).
    pub fn of(shape: &[usize], d: usize) -> Axis {
        if shape.is_empty() {
            return Axis { outer: 1, n: 1, inner: 1 };
        }
        Axis { outer: shape[..d].iter().product(), n: shape[d], inner: shape[d + 1..].iter().product() }
    }

    /// Number of outputs (`outer * inner`).
    pub fn out_len(&self) -> usize {
        self.outer * self.inner
    }
}

/// Which dims a reduction folds: one flag per input dim.
pub type Mask = SmallVec<[bool; 6]>;

/// How `scatter` combines a source value with the destination element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScatterMode {
    /// Overwrite (`scatter`): with colliding indices the last source in row-major order wins.
    Set,
    /// Accumulate (`scatter_add`).
    Add,
}

/// The shape of one convolution, seen from the forward direction: input `[n, c, h, w]`, weight
/// `[o, c / groups, kh, kw]`, output `[n, o, oh, ow]`. (A transposed convolution is described by the
/// convolution it is the input-gradient of.) Sizes are validated by `ops/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Output height (at most what stride, padding and dilation give).
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Stride (height, width), each ≥ 1.
    pub stride: [usize; 2],
    /// Zero padding (height, width).
    pub padding: [usize; 2],
    /// Dilation (height, width), each ≥ 1.
    pub dilation: [usize; 2],
    /// Number of groups, dividing `c` and `o`.
    pub groups: usize,
}

/// One output position's window along one spatial dim.
///
/// The input positions are `start, start + step, ...` below `end` (already clipped to the input;
/// `start >= end` marks a window lying wholly in the padding). `divisor` is what an average over the
/// window divides by along this dim (the clipped or the padded length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolWindow {
    /// First input position (after skipping the left padding).
    pub start: usize,
    /// One past the last input position.
    pub end: usize,
    /// The length an average divides by along this dim.
    pub divisor: usize,
}

/// A checked 2-d pooling problem: `planes` independent `in_h x in_w` planes (N*C of them, row-major)
/// and, per output row and column, its input window.
#[derive(Clone, Debug)]
pub struct Pool2dPlan {
    /// Number of planes (N*C, or C when unbatched).
    pub planes: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// The window of each output row.
    pub rows: Vec<PoolWindow>,
    /// The window of each output column.
    pub cols: Vec<PoolWindow>,
    /// Distance between window elements (the dilation) along H and W.
    pub step: [usize; 2],
    /// True for a 2x2 stride-2 unpadded undilated pool whose windows all lie inside the input.
    pub fast_2x2: bool,
    /// The full output shape (NCHW or CHW).
    pub out_shape: Dims,
}
