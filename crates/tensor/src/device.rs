//! Where a tensor's storage lives.

use std::fmt;

use crate::{Error, Result};

/// The device that holds a tensor's storage and runs its ops.
///
/// The CPU is always available. GPU devices (wgpu: Vulkan, Metal, DX12, WebGPU) are numbered by adapter;
/// an op whose operands sit on different devices fails with [`Error::DeviceMismatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// Host memory, computed by the CPU backend.
    #[default]
    Cpu,
    /// The wgpu adapter with this index.
    Gpu(usize),
}

impl Device {
    /// The first GPU adapter, or an error naming why none is usable.
    ///
    /// The wgpu backend is not part of this build yet, so this returns [`Error::Device`].
    pub fn gpu() -> Result<Device> {
        Err(Error::Device("no GPU backend in this build of ember-tensor (wgpu backend not yet available)".into()))
    }

    /// The first GPU adapter if one is usable, else the CPU.
    pub fn best() -> Device {
        Device::gpu().unwrap_or(Device::Cpu)
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
