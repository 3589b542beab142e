//! Storage: the buffer behind one or more tensors, on some device.

use crate::backend::{Backend, DeviceStorage};
use crate::cpu::backend::CPU;
use crate::{DType, Device};

/// Host-memory storage, one typed vector per dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// `bool` elements.
    Bool(Vec<bool>),
    /// IEEE half elements.
    F16(Vec<half::f16>),
    /// bfloat16 elements.
    BF16(Vec<half::bf16>),
}

impl CpuStorage {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
            CpuStorage::I64(_) => DType::I64,
            CpuStorage::Bool(_) => DType::Bool,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::BF16(_) => DType::BF16,
        }
    }

    /// Number of elements held.
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
            CpuStorage::I64(v) => v.len(),
            CpuStorage::Bool(v) => v.len(),
            CpuStorage::F16(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The storage of a tensor, on one device. Tensors share it through an `Arc`; it is never mutated
/// while shared. Its backend is found here once per op ([`Storage::backend`]).
#[derive(Debug)]
pub(crate) enum Storage {
    /// Host memory.
    Cpu(CpuStorage),
    /// The buffer of another backend (a GPU's, returned to its pool when dropped).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    Device(Box<dyn DeviceStorage>),
}

impl Storage {
    /// The device that holds this storage.
    #[inline]
    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Device(s) => s.device(),
        }
    }

    /// The dtype of the elements.
    #[inline]
    pub(crate) fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Device(s) => s.dtype(),
        }
    }

    /// Number of elements held.
    pub(crate) fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            Storage::Device(s) => s.len(),
        }
    }

    /// The backend that runs ops on this storage.
    #[inline]
    pub(crate) fn backend(&self) -> &'static dyn Backend {
        match self {
            Storage::Cpu(CpuStorage::F16(_) | CpuStorage::BF16(_)) => &crate::cpu::half::HALF,
            Storage::Cpu(_) => &CPU,
            Storage::Device(s) => s.backend(),
        }
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype` (every dtype, the 16-bit floats
/// included: bodies that only move, compare or convert elements).
#[macro_export]
#[doc(hidden)]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident, $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::DType::F16 => {
                type $T = $crate::half::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = $crate::half::bf16;
                $body
            }
        }
    };
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype` for numeric dtypes; `Bool` fails with
/// [`Error::UnsupportedDType`](crate::Error::UnsupportedDType) naming `$op`.
#[macro_export]
#[doc(hidden)]
macro_rules! with_numeric {
    ($op:expr, $dtype:expr, $T:ident, $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            d => return Err($crate::Error::UnsupportedDType { op: $op, dtype: d }),
        }
    };
}

/// Runs `$body` with `$T` bound to `f32` or `f64`; other dtypes fail naming `$op`.
#[macro_export]
#[doc(hidden)]
macro_rules! with_float {
    ($op:expr, $dtype:expr, $T:ident, $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            d => return Err($crate::Error::UnsupportedDType { op: $op, dtype: d }),
        }
    };
}
