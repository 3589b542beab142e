//! The fuzz targets: each loads one input through Ember's public load path, from a file (so gzip
//! detection, UTF-8 checks and path-naming errors run too), and checks what it returns.
//!
//! A target returns `Ok` when the input loaded, `Err` with the loader's message when it was
//! rejected; both are fine. A panic is a finding (loaders must return `Err`), and so is a loaded
//! tensor whose data disagrees with its shape (checked here with `assert!`).
//!
//! The model-directory target lives in [`crate::model_dir`].

use std::path::Path;

use ember::data::{csv, mnist};
use ember::nn::Module;
use ember::Tensor;

/// One fuzz target.
pub struct Target {
    /// The name: `cargo xtask fuzz --target NAME`, and `fuzz/corpus/NAME/` holds its seeds.
    pub name: &'static str,
    /// The extension of the scratch file the input is written to.
    pub ext: &'static str,
    /// Loads the file at the path (which holds the input).
    pub run: fn(&Path) -> Result<(), String>,
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: [Target; 5] = [
    Target { name: "safetensors", ext: "safetensors", run: safetensors },
    Target { name: "csv", ext: "csv", run: csv_file },
    Target { name: "idx", ext: "idx", run: idx },
    Target { name: "gzip", ext: "gz", run: gzip },
    Target { name: "model_dir", ext: "bin", run: crate::model_dir::run },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A loaded tensor must hold exactly as many elements as its shape says, all readable.
fn consistent(t: &Tensor) {
    let n: usize = t.shape().iter().product();
    assert_eq!(t.numel(), n, "tensor of shape {:?} reports {} elements", t.shape(), t.numel());
    let v = t.to_dtype(ember::DType::F64).to_vec::<f64>();
    assert_eq!(v.len(), n, "tensor of shape {:?} holds {} values", t.shape(), v.len());
}

fn safetensors(path: &Path) -> Result<(), String> {
    let state = ember::tensor::io::load(path).map_err(|e| e.to_string())?;
    for (_, t) in &state {
        consistent(t);
    }
    // A loaded state dict goes into a module: names, shapes and dtypes are checked there.
    let fc = ember::nn::Linear::new(2, 3);
    let _ = fc.load_state_dict(&state);
    Ok(())
}

fn csv_file(path: &Path) -> Result<(), String> {
    let table = csv::load(path, false).map_err(|e| e.to_string());
    if let Ok(t) = &table {
        consistent(t);
        if let Ok((x, y)) = csv::split_label(t, -1) {
            consistent(&x);
            consistent(&y);
        }
    }
    let labeled = csv::load_labeled(path, true, -1).map_err(|e| e.to_string());
    if let Ok((x, y)) = &labeled {
        consistent(x);
        consistent(y);
    }
    table.and(labeled).map(|_| ())
}

fn idx(path: &Path) -> Result<(), String> {
    let t = mnist::load_idx(path).map_err(|e| e.to_string())?;
    consistent(&t);
    if let Ok(l) = mnist::load_labels(path) {
        consistent(&l);
    }
    if let Ok(i) = mnist::load_images(path) {
        consistent(&i);
    }
    Ok(())
}

fn gzip(path: &Path) -> Result<(), String> {
    // Inflating is the part under test; the inflated bytes then meet the IDX parser.
    let t = mnist::load_idx(path).map_err(|e| e.to_string())?;
    consistent(&t);
    Ok(())
}
