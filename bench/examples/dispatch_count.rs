//! GPU dispatches per training step of mlp-step and cnn-step, with lazy elementwise fusion off and
//! on (`docs/performance.md` records the counts). Counts, unlike times, mean the same on any
//! adapter, lavapipe included (the losses are checked by `tests/tests/gpu_training.rs`).
//!
//! `cargo run -p ember-bench --example dispatch_count`

use ember::prelude::*;
use ember::tensor::{gpu_dispatch_count, with_gpu_fusion};
use ember_bench::workloads::{cnn_step, mlp_step};

/// Dispatches of the third step (the first two build pipelines and optimizer state).
fn per_step(mut step: impl FnMut()) -> u64 {
    step();
    step();
    let before = gpu_dispatch_count();
    step();
    gpu_dispatch_count() - before
}

fn main() {
    let dev = Device::gpu().expect("dispatch_count needs a GPU adapter (lavapipe will do)");
    for fusion in [false, true] {
        with_gpu_fusion(fusion, || {
            ember::manual_seed(0);
            let mlp = per_step(mlp_step(&dev));
            ember::manual_seed(0);
            let cnn = per_step(cnn_step(&dev));
            println!(
                "fusion {}: mlp-step {mlp} dispatches, cnn-step {cnn} dispatches",
                if fusion { "on " } else { "off" }
            );
        });
    }
}
