//! Soak: a long CPU training run (a small MLP, Adam) keeps a flat resident memory, measured from
//! `/proc/self/status` (VmRSS) after a warm-up and at checkpoints through the run.
//!
//! `cpu_training_memory_is_flat` runs 20,000 steps (a few seconds in the debug test profile) on
//! every `cargo test`; `cpu_training_100k_steps_memory_is_flat` is the full 100,000-step run, an
//! ignored test that `cargo xtask test` (and `cargo xtask soak`) runs in release, where it takes a
//! few seconds. One test binary of its own, and the two tests serialised by a lock: a test training
//! in a parallel thread would count its own memory in this one's measurement.

use std::sync::Mutex;

use ember::prelude::*;
use ember_tests::rss_bytes;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Resident memory may grow by at most this much after the warm-up (allocator noise is far below).
const BOUND: u64 = 4 << 20;

/// Trains for `steps` steps and returns (first loss, last loss, RSS after warm-up, highest RSS
/// at the checkpoints after it).
fn soak(steps: usize) -> (f32, f32, u64, u64) {
    ember::manual_seed(11);
    let model = nn::Sequential::new()
        .add(nn::Linear::new(8, 32))
        .add(nn::Tanh::new())
        .add(nn::Linear::new(32, 32))
        .add(nn::Relu::new())
        .add(nn::Linear::new(32, 4));
    let mut opt = optim::Adam::new(model.parameters(), 1e-3);
    let x = Variable::from(Tensor::randn(&[16, 8]));
    let y = Variable::from(Tensor::randn(&[16, 4]).argmax(1, false));
    let mut step = || {
        let loss = nn::functional::cross_entropy(&model.forward(&x), &y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        loss.data().item::<f32>()
    };
    let warm_up = 1000.min(steps / 10);
    let first = step();
    for _ in 1..warm_up {
        step();
    }
    let warm = rss_bytes().unwrap_or(0);
    let mut peak = warm;
    let mut last = first;
    for i in warm_up..steps {
        last = step();
        if i % (steps / 20).max(1) == 0 {
            peak = peak.max(rss_bytes().unwrap_or(0));
        }
    }
    peak = peak.max(rss_bytes().unwrap_or(0));
    (first, last, warm, peak)
}

fn check(steps: usize) {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = std::time::Instant::now();
    let (first, last, warm, peak) = soak(steps);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "soak: {steps} steps in {:.1}s, loss {first:.4} -> {last:.4}, RSS {:.2} MiB after warm-up, peak {:.2} MiB",
        t.elapsed().as_secs_f64(),
        mib(warm),
        mib(peak)
    );
    assert!(last.is_finite() && last < first, "training did not progress: loss {first} -> {last}");
    if cfg!(target_os = "linux") {
        assert!(warm > 0, "VmRSS unreadable");
        assert!(
            peak <= warm + BOUND,
            "resident memory grew by {:.2} MiB over {steps} steps ({:.2} -> {:.2} MiB)",
            mib(peak - warm),
            mib(warm),
            mib(peak)
        );
    }
}

#[test]
fn cpu_training_memory_is_flat() {
    check(20_000);
}

#[test]
#[ignore = "the full 100,000-step soak: run in release by `cargo xtask test` / `cargo xtask soak`"]
fn cpu_training_100k_steps_memory_is_flat() {
    check(100_000);
}
