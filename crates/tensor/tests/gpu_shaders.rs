//! Every WGSL file of `shaders/` is part of at least one module the backend builds, and every such
//! module parses and validates with naga (f64 enabled; the f32 modules must not need it).

#![cfg(feature = "gpu")]

use ember_tensor::wgpu::shaders;

fn validate(name: &str, src: &str, caps: naga::valid::Capabilities) {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
}

#[test]
fn every_module_validates() {
    for (name, src) in shaders::all_modules() {
        let mut caps = if name.contains("F64") {
            naga::valid::Capabilities::FLOAT64
        } else {
            // Modules for adapters without SHADER_F64 must not touch f64.
            naga::valid::Capabilities::empty()
        };
        // Only the subgroup modules (built for devices with wgpu::Features::SUBGROUP) may use subgroups.
        if name.contains("subgroups") {
            caps |= naga::valid::Capabilities::SUBGROUP;
        }
        // Only the f16-storage matmul (built for devices with wgpu::Features::SHADER_F16) may use f16.
        if name.contains("f16 storage") {
            caps |= naga::valid::Capabilities::SHADER_FLOAT16;
        }
        validate(&name, &src, caps);
    }
}

#[test]
fn every_shader_file_is_used() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shaders");
    let known: Vec<&str> = shaders::files().iter().map(|(n, _)| *n).collect();
    let modules = shaders::all_modules();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let file = path.file_name().unwrap().to_str().unwrap().to_string();
            assert!(known.contains(&file.as_str()), "{file} is not listed in wgpu::shaders::files()");
            let text = std::fs::read_to_string(&path).unwrap();
            let (_, embedded) = shaders::files().into_iter().find(|(n, _)| *n == file).unwrap();
            assert_eq!(text, embedded, "{file}: stale include_str!");
            assert!(modules.iter().any(|(_, m)| m.contains(text.trim())), "{file} is in no module");
        }
    }
}
