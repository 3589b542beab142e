//! The standard workloads of `shared/API.md`, timed with warm-up and repetitions; prints one JSON
//! object per line (`{"name": .., "unit": .., "median": .., "min": .., "max": .., "reps": ..}`).
//! `cargo xtask bench` runs it (in release) next to `bench/torch_ref.py` and prints the table.
//!
//! On a GPU, mlp-step and cnn-step also get rows `<name>-dispatches` and `<name>-submissions`: the
//! GPU work of one step (`ember::tensor::gpu_counters`).
//!
//! Usage: `ember-bench [--device cpu|gpu] [--only NAME] [--rss-mlp] [--no-malloc-tune]`.

mod peak;

use ember_bench::{workloads, workloads_half, workloads_nlp};

use std::time::Instant;

use ember::Device;

/// Times `f` (`reps` runs after `warmup`); returns the seconds of each run.
fn time_runs(warmup: usize, reps: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        f();
    }
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// One result line: `scale` turns seconds into the unit (e.g. 1e3 for ms), or `flops` into GFLOP/s.
fn report(name: &str, unit: &str, device: &str, secs: &mut [f64], convert: impl Fn(f64) -> f64) {
    secs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let vals: Vec<f64> = secs.iter().map(|&s| convert(s)).collect();
    let med = vals[vals.len() / 2];
    let (lo, hi) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    println!(
        "{{\"name\": \"{name}\", \"device\": \"{device}\", \"unit\": \"{unit}\", \"median\": {med:.6}, \"min\": {lo:.6}, \"max\": {hi:.6}, \"reps\": {}}}",
        vals.len()
    );
}

/// Peak resident memory of this process in KiB (Linux `VmHWM`), if known.
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // The application's choice (a library leaves the allocator alone): glibc keeps freed step
    // buffers for reuse instead of unmapping them (see `ember::tensor::tune_malloc`);
    // `--no-malloc-tune` measures glibc's defaults.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--no-malloc-tune") {
        ember::tensor::tune_malloc();
    }
    let arg = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let device = match arg("--device").as_deref() {
        Some("gpu") => match Device::gpu() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("ember-bench: {e}");
                std::process::exit(2);
            }
        },
        _ => Device::Cpu,
    };
    let dev_name = if device.is_cpu() { "cpu" } else { "gpu" };
    if args.iter().any(|a| a == "--rss-mlp") {
        // a separate process measures the peak memory of the mlp-step loop alone
        workloads::mlp_loop(&device, 50);
        println!("{{\"name\": \"mlp-step-peak-rss\", \"device\": \"{dev_name}\", \"unit\": \"MiB\", \"median\": {:.1}, \"min\": 0, \"max\": 0, \"reps\": 1}}", peak_rss_kib().unwrap_or(0) as f64 / 1024.0);
        return;
    }
    let only = arg("--only");
    let want = |n: &str| only.as_deref().is_none_or(|o| n.starts_with(o));
    ember::manual_seed(0);
    if device.is_cpu() {
        // the bench table prints this line above the results
        println!("cpu: {}", peak::cpu_model());
    }
    if device.is_cpu() && want("cpu-peak-fma") {
        // the threads this run computes with (RAYON_NUM_THREADS=1 gives one core's peak), so
        // that the GFLOP/s of the products compare with the peak they can reach
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = rayon::current_num_threads().clamp(1, cores);
        let mut runs: Vec<f64> = (0..5).filter_map(|_| peak::peak_fma_gflops(threads)).collect();
        if !runs.is_empty() {
            // report() takes seconds; pass GFLOP/s through unchanged
            report("cpu-peak-fma", "GFLOP/s", dev_name, &mut runs, |g| g);
        }
    }
    // 4096 only on a GPU (issue 18's targets); on 2 CPU cores it would take seconds per run
    let sizes: &[usize] = if device.is_cpu() { &[256, 1024, 2048] } else { &[256, 1024, 2048, 4096] };
    for &n in sizes {
        let name = format!("matmul-{n}");
        if !want(&name) {
            continue;
        }
        let mut run = workloads::matmul(&device, n);
        let reps = if n >= 4096 {
            3
        } else if n >= 2048 {
            5
        } else if n >= 1024 {
            10
        } else {
            50
        };
        let mut t = time_runs(2, reps, &mut run);
        let flops = 2.0 * (n as f64).powi(3);
        report(&name, "GFLOP/s", dev_name, &mut t, |s| flops / s / 1e9);
        print_kernel_times(&name);
    }
    // 16-bit matmuls (issue 17): on a GPU the native 16-bit kernel (wgpu/matmul_half.rs)
    let half: &[(usize, ember::DType, &str)] = if device.is_cpu() {
        &[(1024, ember::DType::BF16, "bf16"), (2048, ember::DType::BF16, "bf16"), (1024, ember::DType::F16, "f16")]
    } else {
        &[
            (1024, ember::DType::F16, "f16"),
            (2048, ember::DType::F16, "f16"),
            (1024, ember::DType::BF16, "bf16"),
            (2048, ember::DType::BF16, "bf16"),
        ]
    };
    for &(n, dtype, suffix) in half {
        let name = format!("matmul-{n}-{suffix}");
        if !want(&name) {
            continue;
        }
        let mut run = workloads_half::matmul_half(&device, n, dtype);
        let mut t = time_runs(2, if n >= 2048 { 5 } else { 10 }, &mut run);
        let flops = 2.0 * (n as f64).powi(3);
        report(&name, "GFLOP/s", dev_name, &mut t, |s| flops / s / 1e9);
    }
    if device.is_cpu() && want("mlp-step-amp") {
        let mut step = workloads_half::mlp_step_amp(&device);
        let mut t = time_runs(5, 30, &mut step);
        report("mlp-step-amp", "ms", dev_name, &mut t, |s| s * 1e3);
    }
    if want("mlp-step") {
        let mut step = workloads::mlp_step(&device);
        let mut t = time_runs(5, 30, &mut step);
        report("mlp-step", "ms", dev_name, &mut t, |s| s * 1e3);
        print_kernel_times("mlp-step");
        report_gpu_work("mlp-step", &device, &mut step);
    }
    if want("cnn-step") {
        let mut step = workloads::cnn_step(&device);
        let mut t = time_runs(5, 30, &mut step);
        report("cnn-step", "ms", dev_name, &mut t, |s| s * 1e3);
        print_kernel_times("cnn-step");
        report_gpu_work("cnn-step", &device, &mut step);
    }
    for (name, reps) in [("bert-infer", 10), ("bert-train", 5), ("lstm-step", 10), ("transformer-step", 10)] {
        // bert-infer runs on either device (issue 18 compares it with PyTorch CUDA); the training
        // workloads are the CPU's (issue 13)
        if !want(name) || (!device.is_cpu() && name != "bert-infer") {
            continue;
        }
        let mut step: Box<dyn FnMut()> = match name {
            "bert-infer" => Box::new(workloads_nlp::bert_infer(&device)),
            "bert-train" => Box::new(workloads_nlp::bert_train()),
            "lstm-step" => Box::new(workloads_nlp::lstm_step()),
            _ => Box::new(workloads_nlp::transformer_step()),
        };
        let mut t = time_runs(2, reps, &mut step);
        report(name, "ms", dev_name, &mut t, |s| s * 1e3);
    }
    if want("small-op") {
        let inner = 10_000;
        let mut run = workloads::small_op(&device, inner);
        let mut t = time_runs(3, 15, &mut run);
        report("small-op", "us", dev_name, &mut t, |s| s / inner as f64 * 1e6);
    }
    if want("small-autograd") {
        let inner = 2_000;
        let mut run = workloads::small_autograd(&device, inner);
        let mut t = time_runs(3, 15, &mut run);
        report("small-autograd", "us", dev_name, &mut t, |s| s / inner as f64 * 1e6);
    }
    if !device.is_cpu() {
        print_kernel_times("the remaining workloads");
        // ops that ran through the host fallback (download, CPU kernel, upload) during the workloads
        eprintln!("host fallbacks: {:?}", ember::tensor::host_fallbacks());
    }
}

/// On a GPU: the dispatches and submissions of one more run of `step` (warmed up by the timed runs),
/// as rows `<name>-dispatches` and `<name>-submissions` (counts per step).
fn report_gpu_work(name: &str, device: &Device, step: &mut impl FnMut()) {
    if device.is_cpu() {
        return;
    }
    let before = ember::tensor::gpu_counters();
    step();
    let c = ember::tensor::gpu_counters() - before;
    for (what, n) in [("dispatches", c.dispatches), ("submissions", c.submissions)] {
        let mut one = [n as f64];
        report(&format!("{name}-{what}"), what, "gpu", &mut one, |v| v);
    }
}

/// With `EMBER_GPU_PROFILE=1`: the GPU kernels that ran since the last call, longest first, then
/// their totals are reset (so each workload gets its own breakdown).
fn print_kernel_times(what: &str) {
    let times = ember::tensor::gpu_kernel_times();
    ember::tensor::reset_gpu_kernel_times();
    if times.is_empty() {
        return;
    }
    let total: f64 = times.iter().map(|t| t.total_ms).sum();
    eprintln!("GPU kernel time in {what} (warm-up included): {total:.2} ms");
    for t in times.iter().take(12) {
        eprintln!("  {:>9.3} ms {:>5.1}% {:>7} calls  {}", t.total_ms, 100.0 * t.total_ms / total, t.calls, t.kernel);
    }
}
