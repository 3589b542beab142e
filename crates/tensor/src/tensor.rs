//! The [`Tensor`] type: shared storage seen through a layout.

use std::borrow::Cow;
use std::sync::Arc;

use crate::backend::Backend;
use crate::cpu::strided;
use crate::shape::Layout;
use crate::storage::{CpuStorage, Storage};
use crate::{DType, Device, Element, Error, Result};

/// An n-dimensional array on some [`Device`], of some [`DType`].
///
/// Cloning is cheap: clones share the storage. Views (`reshape`, `transpose`, `narrow`, `expand`, ...)
/// share it too; ops never mutate shared storage, so a view never changes behind your back.
///
/// ```
/// use ember_tensor::Tensor;
/// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let u = &t.transpose(0, 1) * 2.0;
/// assert_eq!(u.to_vec::<f32>(), vec![2.0, 6.0, 4.0, 8.0]);
/// ```
#[derive(Clone)]
pub struct Tensor {
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
}

/// Unwraps a checked result, panicking with its message at the caller's location.
#[track_caller]
#[inline]
pub(crate) fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// # Construction and access
impl Tensor {
    /// A tensor over `storage` with `layout`; the caller guarantees the layout fits the storage.
    pub(crate) fn from_parts(storage: Arc<Storage>, layout: Layout) -> Tensor {
        let dtype = storage.dtype();
        Tensor { storage, layout, dtype }
    }

    /// A contiguous CPU tensor of `shape` owning `data`; `data.len()` must equal the element count.
    pub(crate) fn from_cpu(data: CpuStorage, shape: &[usize]) -> Tensor {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        crate::cpu::malloc::tune_once();
        Tensor::from_parts(Arc::new(Storage::Cpu(data)), Layout::contiguous(shape))
    }

    /// A contiguous CPU tensor of `shape` from a typed vector (length already checked).
    pub(crate) fn from_vec_unchecked<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        Tensor::from_cpu(T::wrap(data), shape)
    }

    /// A tensor of `shape` holding `data` in row-major order.
    ///
    /// **Panics** when `data.len()` is not the product of `shape`; see [`Tensor::try_from_vec`].
    #[track_caller]
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        ok(Tensor::try_from_vec(data, shape))
    }

    /// Checked form of [`Tensor::from_vec`]: a shape whose element count overflows is an error
    /// naming it, as is a length that does not match.
    pub fn try_from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let n = crate::shape::checked_numel("from_vec", shape).map_err(|e| Error::InvalidArgument {
            op: "from_vec",
            msg: format!(
                "{} elements given for shape {shape:?} (too many elements: {})",
                data.len(),
                e.to_string().trim_start_matches("from_vec: ")
            ),
        })?;
        if n != data.len() {
            return Err(Error::InvalidArgument {
                op: "from_vec",
                msg: format!("{} elements given for shape {:?} ({n} elements)", data.len(), shape),
            });
        }
        Ok(Tensor::from_vec_unchecked(data, shape))
    }

    /// A tensor of `shape` copied from a slice. **Panics** on a length mismatch.
    #[track_caller]
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Tensor {
        ok(Tensor::try_from_slice(data, shape))
    }

    /// Checked form of [`Tensor::from_slice`] (the copy is allocated fallibly).
    pub fn try_from_slice<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        let mut v = crate::cpu::alloc::try_vec::<T>("from_slice", data.len())?;
        v.extend_from_slice(data);
        Tensor::try_from_vec(v, shape)
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar<T: Element>(v: T) -> Tensor {
        Tensor::from_vec_unchecked(vec![v], &[])
    }

    /// The size of each dimension.
    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.layout.shape
    }

    /// The size of dimension `dim` (negative counts from the end). **Panics** on a bad dim.
    #[track_caller]
    pub fn size(&self, dim: impl crate::Dim) -> usize {
        let d = ok(crate::shape::normalize_dim("size", dim.to_isize(), self.rank()));
        if self.rank() == 0 {
            1
        } else {
            self.layout.shape[d]
        }
    }

    /// Strides in elements (PyTorch's `stride()`).
    #[inline]
    pub fn strides(&self) -> &[usize] {
        &self.layout.strides
    }

    /// The layout: shape, strides and storage offset.
    #[inline]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of dimensions (`dim()` in PyTorch).
    #[inline]
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    /// Number of dimensions, PyTorch's name.
    #[inline]
    pub fn dim(&self) -> usize {
        self.rank()
    }

    /// Number of elements.
    #[inline]
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The element type.
    #[inline]
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device holding the storage.
    #[inline]
    pub fn device(&self) -> Device {
        self.storage.device()
    }

    /// True when the elements are dense and row-major in storage.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// True when both tensors share one storage (one is a view of the other, or both of a third).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// True when the storage is host memory (the CPU backend's), which in-place ops may write
    /// directly when they hold it alone.
    #[inline]
    pub(crate) fn is_host(&self) -> bool {
        matches!(*self.storage, Storage::Cpu(_))
    }

    /// This tensor's elements, mutable, when it is the only handle to its CPU storage and
    /// contiguous (so writing them changes what no other tensor can see); `None` otherwise.
    pub(crate) fn cpu_unique_mut<T: Element>(&mut self) -> Option<&mut [T]> {
        if !self.layout.is_contiguous() {
            return None;
        }
        let (off, n) = (self.layout.offset, self.numel());
        match Arc::get_mut(&mut self.storage)? {
            Storage::Cpu(s) => T::slice_mut(s).map(|v| &mut v[off..off + n]),
            Storage::Device(_) => None,
        }
    }

    /// The elements in row-major order as a typed slice: borrowed when the tensor is contiguous,
    /// gathered into a new vector otherwise. The dtype must be `T`'s (checked by the caller).
    ///
    /// **Panics** on a device (GPU) tensor: ops without a kernel on their backend reach the CPU
    /// kernel through the host fallback (`crate::backend::host`), which hands it host copies.
    #[track_caller]
    pub(crate) fn cpu_data<T: Element>(&self) -> Cow<'_, [T]> {
        ok(self.try_cpu_data())
    }

    /// [`Tensor::cpu_data`] whose gather copy is allocated fallibly (`OutOfMemory`).
    #[track_caller]
    pub(crate) fn try_cpu_data<T: Element>(&self) -> Result<Cow<'_, [T]>> {
        let s = match &*self.storage {
            Storage::Cpu(s) => T::slice(s).expect("cpu_data: dtype checked by caller"),
            Storage::Device(g) => panic!("{}", gpu_not_implemented("a CPU kernel", g.device())),
        };
        if self.layout.is_contiguous() {
            let n = self.numel();
            Ok(Cow::Borrowed(&s[self.layout.offset..self.layout.offset + n]))
        } else {
            Ok(Cow::Owned(strided::try_gather(s, &self.layout)?))
        }
    }

    /// The raw typed storage slice and layout (for kernels that walk strides themselves).
    ///
    /// **Panics** on a GPU tensor (see [`Tensor::cpu_data`]).
    #[track_caller]
    pub(crate) fn cpu_raw<T: Element>(&self) -> (&[T], &Layout) {
        let s = match &*self.storage {
            Storage::Cpu(s) => T::slice(s).expect("cpu_raw: dtype checked by caller"),
            Storage::Device(g) => panic!("{}", gpu_not_implemented("a CPU kernel", g.device())),
        };
        (s, &self.layout)
    }

    /// Copies the elements out in row-major order, converted to `T` as [`Tensor::to_dtype`] would.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1i64, 2, 3], &[3]);
    /// assert_eq!(t.to_vec::<i64>(), vec![1, 2, 3]);
    /// assert_eq!(t.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    /// ```
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        // Download first: the conversion then runs on the CPU, whatever the GPU supports.
        let t = self.to(&Device::Cpu);
        let t = if t.dtype == T::DTYPE { t } else { t.to_dtype(T::DTYPE) };
        t.cpu_data::<T>().into_owned()
    }

    /// The one value of a one-element tensor. **Panics** if the tensor has more than one element.
    #[track_caller]
    pub fn item<T: Element>(&self) -> T {
        ok(self.try_item())
    }

    /// Checked form of [`Tensor::item`].
    pub fn try_item<T: Element>(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::InvalidArgument {
                op: "item",
                msg: format!(
                    "a Tensor with {} elements cannot be converted to a scalar (shape {:?})",
                    self.numel(),
                    self.shape()
                ),
            });
        }
        Ok(self.to_vec::<T>()[0])
    }

    /// A contiguous tensor with the same values: `self` (shared) when already contiguous, else a copy
    /// (on the tensor's device).
    ///
    /// **Panics** when a GPU copy fails (out of device memory); see [`Tensor::try_contiguous`].
    #[must_use]
    #[track_caller]
    pub fn contiguous(&self) -> Tensor {
        ok(self.try_contiguous())
    }

    /// Checked form of [`Tensor::contiguous`].
    pub fn try_contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() && self.layout.offset == 0 && self.storage_len() == self.numel() {
            return Ok(self.clone());
        }
        self.backend().contiguous(self)
    }

    fn storage_len(&self) -> usize {
        self.storage.len()
    }

    /// The backend of this tensor's device: where every op on it is dispatched, once.
    #[inline]
    pub(crate) fn backend(&self) -> &'static dyn Backend {
        self.storage.backend()
    }

    /// The tensor on `device` (shared when already there): an upload to a GPU, a download to the CPU
    /// (which waits for the GPU work that produces it).
    ///
    /// ```no_run
    /// # use ember_tensor::{Device, Tensor};
    /// let gpu = Device::gpu().unwrap();
    /// let x = Tensor::from_vec(vec![1.0f32, -2.0], &[2]).to(&gpu);
    /// assert_eq!(x.abs().to(&Device::Cpu).to_vec::<f32>(), vec![1.0, 2.0]);
    /// ```
    ///
    /// **Panics** when the device is unavailable; see [`Tensor::try_to`].
    #[must_use]
    #[track_caller]
    pub fn to(&self, device: &Device) -> Tensor {
        ok(self.try_to(device))
    }

    /// Checked form of [`Tensor::to`].
    pub fn try_to(&self, device: &Device) -> Result<Tensor> {
        if self.device() == *device {
            return Ok(self.clone());
        }
        // Through host memory: the source backend downloads, the target's uploads.
        let host = self.backend().download(self)?;
        match device {
            Device::Cpu => Ok(host),
            _ => crate::backend::registry::for_device(*device)?.upload(&host, *device),
        }
    }

    /// A new tensor with these values converted to `dtype` (float to int truncates toward zero,
    /// nonzero to `true`), or `self` shared when the dtype already matches. Runs on the tensor's
    /// device.
    ///
    /// **Panics** when the GPU cannot run the cast (F64 without f64 shaders, out of memory); see
    /// [`Tensor::try_to_dtype`].
    #[must_use]
    #[track_caller]
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        ok(self.try_to_dtype(dtype))
    }

    /// Checked form of [`Tensor::to_dtype`].
    pub fn try_to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype {
            return Ok(self.clone());
        }
        self.backend().cast(self, dtype)
    }

    /// Checks that `other` is on the same device, naming `op` otherwise.
    pub(crate) fn same_device(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.device() != other.device() {
            return Err(Error::DeviceMismatch { op, lhs: self.device(), rhs: other.device() });
        }
        Ok(())
    }

    /// Checks that `other` has the same dtype, naming `op` otherwise.
    pub(crate) fn same_dtype(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.dtype != other.dtype {
            return Err(Error::DTypeMismatch { op, expected: self.dtype, got: other.dtype });
        }
        Ok(())
    }

    /// A view of the same storage with another layout (the caller guarantees it fits).
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor { storage: self.storage.clone(), layout, dtype: self.dtype }
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The message of a CPU kernel reached with a GPU tensor (a bug: ops go through the host fallback).
fn gpu_not_implemented(what: &str, device: Device) -> String {
    format!("{what}: called with a tensor on {device}; GPU operands must go through the host fallback")
}
