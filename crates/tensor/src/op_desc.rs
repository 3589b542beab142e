//! The op descriptors: what an op asks a backend to compute, named once for `ops/` (which builds
//! them), `cpu/` and `wgpu/` (which run them). The module depends on no backend, so neither backend
//! imports the other's types nor `ops/`'s, and a new backend finds here everything its kernels take.

use smallvec::SmallVec;

use crate::shape::Dims;

/// The unary elementwise ops, as the backends see them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `e^x`
    Exp,
    /// natural log
    Log,
    /// `ln(1 + x)`
    Log1p,
    /// square root
    Sqrt,
    /// `1 / sqrt(x)`
    Rsqrt,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// hyperbolic tangent
    Tanh,
    /// `1 / (1 + e^-x)`, computed stably for large |x|
    Sigmoid,
    /// `max(x, 0)`
    Relu,
    /// `x * Φ(x)` with the exact (erf) normal CDF, PyTorch's default GELU
    Gelu,
    /// `x * sigmoid(x)`
    Silu,
    /// `ln(1 + e^x)`, linear above 20 (PyTorch's threshold)
    Softplus,
    /// -1, 0 or 1
    Sign,
    /// round down
    Floor,
    /// round up
    Ceil,
    /// round half to even
    Round,
    /// `1 / x`
    Recip,
    /// the error function
    Erf,
    /// `x ** e`
    Powf(f64),
    /// `min(max(x, lo), hi)`; either bound may be absent
    Clamp(Option<f64>, Option<f64>),
    /// `x` if positive, else `slope * x`
    LeakyRelu(f64),
    /// `x` if positive, else `alpha * (e^x - 1)`
    Elu(f64),
}

impl UnaryOp {
    /// The PyTorch name of the op, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Silu => "silu",
            UnaryOp::Softplus => "softplus",
            UnaryOp::Sign => "sign",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Round => "round",
            UnaryOp::Recip => "reciprocal",
            UnaryOp::Erf => "erf",
            UnaryOp::Powf(_) => "pow",
            UnaryOp::Clamp(..) => "clamp",
            UnaryOp::LeakyRelu(_) => "leaky_relu",
            UnaryOp::Elu(_) => "elu",
        }
    }

    /// True for ops that keep integer dtypes integral (the rest promote `I64` to `F32`, as PyTorch).
    pub fn keeps_int(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Relu
                | UnaryOp::Sign
                | UnaryOp::Floor
                | UnaryOp::Ceil
                | UnaryOp::Round
                | UnaryOp::Clamp(..)
        )
    }
}

/// The binary arithmetic ops, as the backends see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b` (true division: integers give F32, as PyTorch)
    Div,
    /// `a ** b`
    Pow,
    /// elementwise max, NaN-propagating
    Maximum,
    /// elementwise min, NaN-propagating
    Minimum,
}

impl BinaryOp {
    /// The PyTorch name of the op, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
        }
    }
}

/// The comparison ops, as the backends see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
}

impl CmpOp {
    /// The PyTorch name of the op, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }
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
