//! The pipeline cache: shader modules by name, bind-group layouts by binding pattern, and compute
//! pipelines keyed by module + entry point + specialisation (override constants).

use std::collections::HashMap;

use super::context::{lock, Context};

/// What a kernel needs to be built: a module (name and a way to produce its WGSL), an entry point,
/// override constants, and its bindings in order (`true` = read-only storage).
pub(crate) struct KernelSpec<'a> {
    pub module: &'a str,
    pub source: &'a dyn Fn() -> String,
    pub entry: &'static str,
    pub constants: &'a [(&'static str, f64)],
    pub read_only: &'a [bool],
    /// Whether wgpu adds runtime bounds checks to the module. `false` only for kernels that check
    /// every access themselves (the checks cost a matmul a large share of its speed).
    pub checked: bool,
}

#[derive(Clone)]
pub(crate) struct Pipeline {
    pub pipeline: ::wgpu::ComputePipeline,
    pub layout: ::wgpu::BindGroupLayout,
}

type PipelineKey = (String, &'static str, Vec<(&'static str, u64)>, Vec<bool>);

#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: HashMap<String, ::wgpu::ShaderModule>,
    layouts: HashMap<Vec<bool>, (::wgpu::BindGroupLayout, ::wgpu::PipelineLayout)>,
    pipelines: HashMap<PipelineKey, Pipeline>,
}

impl Context {
    /// The compiled pipeline for `spec`, built on first use.
    pub(crate) fn pipeline(&self, spec: &KernelSpec<'_>) -> Pipeline {
        let key: PipelineKey = (
            spec.module.to_string(),
            spec.entry,
            spec.constants.iter().map(|&(n, v)| (n, v.to_bits())).collect(),
            spec.read_only.to_vec(),
        );
        let mut cache = lock(&self.pipelines);
        if let Some(p) = cache.pipelines.get(&key) {
            return p.clone();
        }
        let device = &self.device;
        let module = cache
            .modules
            .entry(spec.module.to_string())
            .or_insert_with(|| {
                let src = (spec.source)();
                let desc = ::wgpu::ShaderModuleDescriptor {
                    label: Some(spec.module),
                    source: ::wgpu::ShaderSource::Wgsl(src.into()),
                };
                if spec.checked {
                    device.create_shader_module(desc)
                } else {
                    // SAFETY: `checked: false` is set only for kernels whose every storage access is
                    // guarded by an explicit bounds test against the sizes the host passes, and whose
                    // workgroup-array indices are bounded by construction (matmul.wgsl).
                    unsafe { device.create_shader_module_trusted(desc, ::wgpu::ShaderRuntimeChecks::unchecked()) }
                }
            })
            .clone();
        let (bgl, pl) = cache
            .layouts
            .entry(spec.read_only.to_vec())
            .or_insert_with(|| {
                let entries: Vec<::wgpu::BindGroupLayoutEntry> = spec
                    .read_only
                    .iter()
                    .enumerate()
                    .map(|(i, &read_only)| ::wgpu::BindGroupLayoutEntry {
                        binding: i as u32,
                        visibility: ::wgpu::ShaderStages::COMPUTE,
                        ty: ::wgpu::BindingType::Buffer {
                            ty: ::wgpu::BufferBindingType::Storage { read_only },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    })
                    .collect();
                let bgl = device.create_bind_group_layout(&::wgpu::BindGroupLayoutDescriptor {
                    label: Some("ember"),
                    entries: &entries,
                });
                let pl = device.create_pipeline_layout(&::wgpu::PipelineLayoutDescriptor {
                    label: Some("ember"),
                    bind_group_layouts: &[Some(&bgl)],
                    immediate_size: 0,
                });
                (bgl, pl)
            })
            .clone();
        let pipeline = device.create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
            label: Some(spec.entry),
            layout: Some(&pl),
            module: &module,
            entry_point: Some(spec.entry),
            compilation_options: ::wgpu::PipelineCompilationOptions {
                constants: spec.constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let p = Pipeline { pipeline, layout: bgl };
        cache.pipelines.insert(key, p.clone());
        p
    }
}
