//! The global GPU contexts: one wgpu instance, the adapters in preference order, and one lazily
//! created device + queue (with its buffer pool, pipeline cache and pending batch) per adapter index.
//!
//! `Device::Gpu(i)` is the `i`-th adapter of [`adapters`]: discrete GPUs first, then integrated,
//! virtual, other and software (CPU) adapters, each group in wgpu's enumeration order. The
//! environment variable `EMBER_ADAPTER` moves one adapter to index 0: a number picks that index of
//! the list, anything else the first adapter whose name contains it (case-insensitive).

use std::sync::{Arc, Mutex, OnceLock};

use super::bind_cache::BindGroupCache;
use super::encoder::Batch;
use super::pipeline::PipelineCache;
use super::pool::Pool;
use super::profile::{self, Profiler};
use crate::{DType, Error, Result};

/// A wgpu device and queue with the state Ember keeps for it.
pub(crate) struct Context {
    /// The `Device::Gpu` index.
    pub index: usize,
    pub device: ::wgpu::Device,
    pub queue: ::wgpu::Queue,
    pub info: ::wgpu::AdapterInfo,
    pub features: ::wgpu::Features,
    pub limits: ::wgpu::Limits,
    pub(crate) pool: Mutex<Pool>,
    pub(crate) pipelines: Mutex<PipelineCache>,
    pub(crate) batch: Mutex<Batch>,
    pub(crate) bind_groups: Mutex<BindGroupCache>,
    /// Kernel timestamps, with `EMBER_GPU_PROFILE=1` on adapters that have them.
    pub(crate) profiler: Option<Mutex<Profiler>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gpu:{} ({})", self.index, self.info.name)
    }
}

struct Adapters {
    _instance: ::wgpu::Instance,
    list: Vec<::wgpu::Adapter>,
    /// Why the list is empty or the `EMBER_ADAPTER` choice failed, if it did.
    problem: Option<String>,
}

fn rank(t: ::wgpu::DeviceType) -> u8 {
    match t {
        ::wgpu::DeviceType::DiscreteGpu => 0,
        ::wgpu::DeviceType::IntegratedGpu => 1,
        ::wgpu::DeviceType::VirtualGpu => 2,
        ::wgpu::DeviceType::Other => 3,
        ::wgpu::DeviceType::Cpu => 4,
    }
}

/// Moves the adapter chosen by `choice` (an index, or a case-insensitive name substring) to the front.
pub(crate) fn apply_choice<T>(list: &mut Vec<T>, names: &[String], choice: &str) -> std::result::Result<(), String> {
    let pick = match choice.trim().parse::<usize>() {
        Ok(i) if i < list.len() => Some(i),
        Ok(_) => None,
        Err(_) => {
            let c = choice.trim().to_lowercase();
            names.iter().position(|n| n.to_lowercase().contains(&c))
        }
    };
    match pick {
        Some(i) => {
            let a = list.remove(i);
            list.insert(0, a);
            Ok(())
        }
        None => Err(format!("EMBER_ADAPTER={choice:?} matches no adapter (available: {names:?})")),
    }
}

fn adapters() -> &'static Adapters {
    static ADAPTERS: OnceLock<Adapters> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        // Before any Vulkan code runs: keeps Mesa's display probe from printing driver noise.
        super::runtime_dir::ensure();
        let desc = ::wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let backends = desc.backends;
        let instance = ::wgpu::Instance::new(desc);
        let mut list = pollster::block_on(instance.enumerate_adapters(backends));
        list.sort_by_key(|a| rank(a.get_info().device_type));
        let mut problem =
            if list.is_empty() { Some(format!("wgpu found no adapter (backends {backends:?})")) } else { None };
        if let Ok(choice) = std::env::var("EMBER_ADAPTER") {
            if !choice.trim().is_empty() && !list.is_empty() {
                let names: Vec<String> = list.iter().map(|a| a.get_info().name).collect();
                if let Err(e) = apply_choice(&mut list, &names, &choice) {
                    problem = Some(e);
                    list.clear();
                }
            }
        }
        Adapters { _instance: instance, list, problem }
    })
}

/// Names and kinds of the usable adapters, in `Device::Gpu` index order.
pub fn adapter_names() -> Vec<String> {
    adapters()
        .list
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{} ({:?}, {:?})", i.name, i.device_type, i.backend)
        })
        .collect()
}

/// True when adapter `index` exists and is a hardware GPU (not a software rasteriser).
pub(crate) fn is_hardware(index: usize) -> bool {
    adapters().list.get(index).is_some_and(|a| a.get_info().device_type != ::wgpu::DeviceType::Cpu)
}

/// True when `EMBER_ADAPTER` names an adapter explicitly.
pub(crate) fn adapter_forced() -> bool {
    std::env::var("EMBER_ADAPTER").is_ok_and(|v| !v.trim().is_empty())
}

/// The context of adapter `index`, created on first use (and cached, errors included).
pub(crate) fn get(index: usize) -> Result<Arc<Context>> {
    type Slot = OnceLock<std::result::Result<Arc<Context>, Error>>;
    static CONTEXTS: OnceLock<Mutex<Vec<Arc<Slot>>>> = OnceLock::new();
    let slot = {
        let mut v = CONTEXTS.get_or_init(|| Mutex::new(Vec::new())).lock().unwrap_or_else(|e| e.into_inner());
        while v.len() <= index {
            v.push(Arc::new(OnceLock::new()));
        }
        v[index].clone()
    };
    slot.get_or_init(|| create(index).map(Arc::new)).clone()
}

fn create(index: usize) -> Result<Context> {
    let ads = adapters();
    let Some(adapter) = ads.list.get(index) else {
        let why = ads.problem.clone().unwrap_or_else(|| format!("{} adapter(s) available", ads.list.len()));
        return Err(Error::Device(format!("no GPU adapter found for gpu:{index}: {why}")));
    };
    let info = adapter.get_info();
    // Subgroup operations speed up reductions; `EMBER_NO_SUBGROUPS=1` leaves them off (plain kernels).
    let no_subgroups = std::env::var("EMBER_NO_SUBGROUPS").is_ok_and(|v| v == "1");
    let wanted = if no_subgroups {
        ::wgpu::Features::SHADER_F64
    } else {
        ::wgpu::Features::SHADER_F64 | ::wgpu::Features::SUBGROUP
    };
    // f16 shaders run the F16 matmul on `array<f16>` storage; `EMBER_NO_SHADER_F16=1` leaves them off
    // (packed words, as BF16 and adapters without the feature).
    let no_f16 = std::env::var("EMBER_NO_SHADER_F16").is_ok_and(|v| v == "1");
    let wanted = if no_f16 { wanted } else { wanted | ::wgpu::Features::SHADER_F16 };
    // Timestamps only when profiling was asked for (`EMBER_GPU_PROFILE=1`, see profile.rs).
    let wanted = if profile::requested() { wanted | ::wgpu::Features::TIMESTAMP_QUERY } else { wanted };
    let features = adapter.features() & wanted;
    let limits = adapter.limits();
    let desc = ::wgpu::DeviceDescriptor {
        label: Some("ember"),
        required_features: features,
        required_limits: limits.clone(),
        memory_hints: ::wgpu::MemoryHints::Performance,
        ..Default::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&desc))
        .map_err(|e| Error::Device(format!("gpu:{index} ({}): could not create a device: {e}", info.name)))?;
    let profiler = features.contains(::wgpu::Features::TIMESTAMP_QUERY).then(|| Mutex::new(Profiler::new(&device)));
    Ok(Context {
        index,
        device,
        queue,
        info,
        features,
        limits,
        pool: Mutex::new(Pool::default()),
        pipelines: Mutex::new(PipelineCache::default()),
        batch: Mutex::new(Batch::default()),
        bind_groups: Mutex::new(BindGroupCache::default()),
        profiler,
    })
}

/// Fails when `dtype` is F64 and the adapter lacks f64 shaders, naming the op and the adapter.
pub(crate) fn check_f64(op: &'static str, dtype: DType, has_f64: bool, index: usize, adapter: &str) -> Result<()> {
    if dtype == DType::F64 && !has_f64 {
        return Err(Error::InvalidArgument {
            op,
            msg: format!(
                "F64 on the GPU needs the SHADER_F64 feature, which adapter gpu:{index} ({adapter}) lacks; \
                 convert to F32 or move the tensor to the CPU"
            ),
        });
    }
    Ok(())
}

impl Context {
    /// True when the device runs f64 shaders.
    pub fn has_f64(&self) -> bool {
        self.features.contains(::wgpu::Features::SHADER_F64)
    }

    /// True when the device runs subgroup operations (`wgpu::Features::SUBGROUP` was requested).
    pub fn has_subgroups(&self) -> bool {
        self.features.contains(::wgpu::Features::SUBGROUP)
    }

    /// True when the device runs f16 shaders (`wgpu::Features::SHADER_F16` was requested).
    pub fn has_f16(&self) -> bool {
        self.features.contains(::wgpu::Features::SHADER_F16)
    }

    /// Fails with a clear error when `op` would need f64 shaders this adapter lacks.
    pub fn require(&self, op: &'static str, dtype: DType) -> Result<()> {
        check_f64(op, dtype, self.has_f64(), self.index, &self.info.name)
    }
}

/// Locks a mutex, ignoring poisoning (a panic elsewhere leaves the pool and caches consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_check_names_op_and_adapter() {
        let e = check_f64("exp", DType::F64, false, 0, "Toy GPU").unwrap_err().to_string();
        assert!(e.contains("exp") && e.contains("Toy GPU") && e.contains("SHADER_F64") && e.contains("gpu:0"), "{e}");
        assert!(check_f64("exp", DType::F64, true, 0, "Toy GPU").is_ok());
        assert!(check_f64("exp", DType::F32, false, 0, "Toy GPU").is_ok());
    }

    #[test]
    fn adapter_choice() {
        let names = vec!["NVIDIA RTX".to_string(), "llvmpipe (LLVM 15)".to_string()];
        let mut l = vec![0, 1];
        apply_choice(&mut l, &names, "LLVMpipe").unwrap();
        assert_eq!(l, vec![1, 0]);
        let mut l = vec![0, 1];
        apply_choice(&mut l, &names, "1").unwrap();
        assert_eq!(l, vec![1, 0]);
        let mut l = vec![0, 1];
        let e = apply_choice(&mut l, &names, "radeon").unwrap_err();
        assert!(e.contains("radeon") && e.contains("llvmpipe"), "{e}");
        assert!(apply_choice(&mut l, &names, "7").is_err());
    }
}
