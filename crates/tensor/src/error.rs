//! The error type of every checked (`try_*`) operation and of I/O.

use std::fmt;

use crate::{DType, Device};

/// Everything that can go wrong in `ember-tensor`.
///
/// Each variant names the op that failed and the values involved, so the message alone tells a user
/// what to fix, as PyTorch's `RuntimeError` messages do.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Two shapes that had to agree (or broadcast) do not.
    ShapeMismatch {
        /// The op that failed.
        op: &'static str,
        /// The left-hand or first shape.
        lhs: Vec<usize>,
        /// The right-hand or second shape.
        rhs: Vec<usize>,
    },
    /// Two dtypes that had to agree do not, or a dtype the op does not support.
    DTypeMismatch {
        /// The op that failed.
        op: &'static str,
        /// The dtype the op wanted (the first operand's, or what it supports).
        expected: DType,
        /// The dtype it was given.
        got: DType,
    },
    /// The op does not support this dtype at all.
    UnsupportedDType {
        /// The op that failed.
        op: &'static str,
        /// The dtype given.
        dtype: DType,
    },
    /// Operands live on different devices.
    DeviceMismatch {
        /// The op that failed.
        op: &'static str,
        /// The first operand's device.
        lhs: Device,
        /// The second operand's device.
        rhs: Device,
    },
    /// A dimension index outside `-rank..rank`.
    DimOutOfRange {
        /// The op that failed.
        op: &'static str,
        /// The dim given.
        dim: isize,
        /// The tensor's rank.
        rank: usize,
    },
    /// An element index outside its dimension.
    IndexOutOfRange {
        /// The op that failed.
        op: &'static str,
        /// The index given.
        index: i64,
        /// The size of the dimension indexed.
        size: usize,
    },
    /// A reshape whose element count does not match.
    BadReshape {
        /// The op that failed.
        op: &'static str,
        /// The tensor's shape.
        from: Vec<usize>,
        /// The shape asked for (`-1` kept as given).
        to: Vec<isize>,
    },
    /// Any other invalid argument, described in words.
    InvalidArgument {
        /// The op that failed.
        op: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// No GPU adapter, or a device that could not be created.
    Device(String),
    /// A file could not be read or written.
    Io(String),
    /// A file's contents are corrupt or not what was expected.
    Parse(String),
    /// A device allocation failed.
    OutOfMemory(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch { op, lhs, rhs } => {
                write!(f, "{op}: shape mismatch: {lhs:?} vs {rhs:?}")
            }
            Error::DTypeMismatch { op, expected, got } => {
                write!(f, "{op}: dtype mismatch: expected {expected}, got {got}")
            }
            Error::UnsupportedDType { op, dtype } => {
                write!(f, "{op}: not supported for dtype {dtype}")
            }
            Error::DeviceMismatch { op, lhs, rhs } => {
                write!(f, "{op}: expected all tensors on the same device, got {lhs} and {rhs}")
            }
            Error::DimOutOfRange { op, dim, rank } => {
                let lo = -(*rank as isize).max(1);
                let hi = (*rank as isize).max(1) - 1;
                write!(f, "{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
            }
            Error::IndexOutOfRange { op, index, size } => {
                write!(f, "{op}: index {index} is out of bounds for dimension with size {size}")
            }
            Error::BadReshape { op, from, to } => {
                let n: usize = from.iter().product();
                write!(f, "{op}: shape {to:?} is invalid for input of shape {from:?} ({n} elements)")
            }
            Error::InvalidArgument { op, msg } => write!(f, "{op}: {msg}"),
            Error::Device(m) => write!(f, "device: {m}"),
            Error::Io(m) => write!(f, "io: {m}"),
            Error::Parse(m) => write!(f, "parse: {m}"),
            Error::OutOfMemory(m) => write!(f, "out of memory: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error::InvalidArgument`] from a format string.
#[macro_export]
macro_rules! bail {
    ($op:expr, $($arg:tt)*) => {
        return Err($crate::Error::InvalidArgument { op: $op, msg: format!($($arg)*) })
    };
}
