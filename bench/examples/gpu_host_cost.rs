//! Host work per GPU training step: the CPU time of the calling thread (recording dispatches,
//! bind groups, metadata uploads, submissions, autograd) per step and per dispatch of mlp-step and
//! cnn-step. The adapter's own execution runs on other threads (lavapipe's too), so this number
//! means the same on a software adapter as on a GPU, unlike a step's wall time.
//!
//! `cargo run --release -p ember-bench --example gpu_host_cost [-- STEPS]`

use ember::prelude::*;
use ember::tensor::{gpu_dispatch_count, with_gpu_fusion};
use ember_bench::workloads::{cnn_step, mlp_step};

/// Nanoseconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`, first field).
fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("needs Linux schedstat");
    s.split_whitespace().next().and_then(|v| v.parse().ok()).expect("schedstat's first field")
}

/// (host µs per step, dispatches per step) over `steps` steps after three warm-up steps; the
/// median of five rounds.
fn measure(steps: usize, mut step: impl FnMut()) -> (f64, u64) {
    for _ in 0..3 {
        step();
    }
    let mut per_step = Vec::new();
    let mut dispatches = 0;
    for _ in 0..5 {
        let (t0, d0) = (thread_cpu_ns(), gpu_dispatch_count());
        for _ in 0..steps {
            step();
        }
        per_step.push((thread_cpu_ns() - t0) as f64 / 1e3 / steps as f64);
        dispatches = (gpu_dispatch_count() - d0) / steps as u64;
    }
    per_step.sort_by(f64::total_cmp);
    (per_step[2], dispatches)
}

/// Host µs per dispatch of unfused tiny adds (one dispatch, one metadata upload each).
fn tiny_ops(dev: &Device, n: usize) -> f64 {
    let a = Tensor::ones(&[4]).to(dev);
    let b = Tensor::ones(&[4]).to(dev);
    with_gpu_fusion(false, || {
        let run = || {
            let mut x = a.clone();
            for _ in 0..n {
                x = x.add(&b);
            }
            x.to_vec::<f32>()
        };
        run();
        let mut per = Vec::new();
        for _ in 0..5 {
            let (t0, d0) = (thread_cpu_ns(), gpu_dispatch_count());
            let v = run();
            assert_eq!(v[0], 1.0 + n as f32);
            per.push((thread_cpu_ns() - t0) as f64 / 1e3 / (gpu_dispatch_count() - d0) as f64);
        }
        per.sort_by(f64::total_cmp);
        per[2]
    })
}

fn main() {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let dev = Device::gpu().expect("gpu_host_cost needs a GPU adapter (lavapipe will do)");
    if std::env::args().nth(2).as_deref() == Some("mlp-only") {
        // for profiling the host side of one workload (perf record --tid ...)
        let (us, d) = measure(steps, mlp_step(&dev));
        println!("mlp-step: {us:.0} us host CPU per step, {d} dispatches");
        return;
    }
    println!("tiny add: {:.1} us host CPU per dispatch", tiny_ops(&dev, 2000));
    ember::manual_seed(0);
    let (mlp, mlp_d) = measure(steps, mlp_step(&dev));
    ember::manual_seed(0);
    let (cnn, cnn_d) = measure(steps, cnn_step(&dev));
    for (name, us, d) in [("mlp-step", mlp, mlp_d), ("cnn-step", cnn, cnn_d)] {
        println!("{name}: {us:.0} us host CPU per step, {d} dispatches, {:.1} us per dispatch", us / d as f64);
    }
}
