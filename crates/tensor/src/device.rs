//! Where a tensor's storage lives.

use std::fmt;

use crate::Result;

/// The device that holds a tensor's storage and runs its ops.
///
/// The CPU is always available. GPU devices (wgpu: Vulkan, Metal, DX12, WebGPU) are numbered by adapter;
/// an op whose operands sit on different devices fails with [`Error::DeviceMismatch`](crate::Error::DeviceMismatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// Host memory, computed by the CPU backend.
    #[default]
    Cpu,
    /// The wgpu adapter with this index.
    Gpu(usize),
}

impl Device {
    /// The first GPU adapter (`Gpu(0)`), or [`Error::Device`](crate::Error::Device) naming why none is usable
    /// (in a build without the `gpu` feature: that it was built without it).
    ///
    /// Adapters are ordered discrete, integrated, virtual, other, software; the environment variable
    /// `EMBER_ADAPTER` (a name substring or an index) picks another one as `Gpu(0)`. The device is
    /// created on first use, with the adapter's own limits and f64 shaders where supported.
    pub fn gpu() -> Result<Device> {
        Device::gpu_at(0)
    }

    /// GPU adapter `index` (see [`Device::gpu`] for the order), or [`Error::Device`](crate::Error::Device).
    pub fn gpu_at(index: usize) -> Result<Device> {
        crate::backend::registry::gpu_open(index).map(|_| Device::Gpu(index))
    }

    /// The first GPU if it is a hardware adapter (or chosen with `EMBER_ADAPTER`), else the CPU.
    ///
    /// Software rasterisers (e.g. Mesa's lavapipe) are usable through [`Device::gpu`] but slower than
    /// the CPU backend, so `best` skips them unless `EMBER_ADAPTER` names one.
    pub fn best() -> Device {
        let usable = crate::backend::registry::gpu_preferred();
        match Device::gpu() {
            Ok(d) if usable => d,
            _ => Device::Cpu,
        }
    }

    /// True for [`Device::Cpu`].
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Gpu(i) => write!(f, "gpu:{i}"),
        }
    }
}
