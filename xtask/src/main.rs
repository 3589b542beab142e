//! `cargo xtask <task>`: the project's task runner.
//!
//! - `test`: everything CI runs: format check, clippy with warnings denied, the line-count check,
//!   every test of the workspace (unit, integration, doc tests), ember-tensor's clippy and tests
//!   without the `gpu` feature (no wgpu compiled), then the digits example in release
//!   (`--min-accuracy 0.97`: a CNN trained end to end must reach 97% test accuracy), on the CPU and,
//!   when `EMBER_REQUIRE_GPU=1`, on the GPU too, each also in mixed precision (`--amp`).
//!   `ember-distributed` needs MPI to build, so the workspace steps exclude it; where `mpirun` is
//!   installed, its clippy and tests run as their own steps, then the digits example trains
//!   data-parallel on 2 processes (`mpi_steps`).
//!   `package` checks that the publishable crates package (`cargo package --workspace
//!   --no-verify`, the publish = false crates left out).
//!   Then the fuzz targets (`fuzz`, 20 s each) and the soaks in release (`soak`: 100,000 CPU
//!   steps; with a required GPU, 30,000 GPU steps, fewer than 100,000 to keep lavapipe's CI time).
//! - `loc`: lists source files longer than the limit (600 lines) and fails if any.
//! - `fuzz [--seconds N] [--target NAME]...`: mutation-fuzzes each loader of untrusted bytes
//!   (safetensors, CSV, IDX, gzip, model directories) for N seconds (default 30); crashing inputs land in
//!   `fuzz/crashes/` (see `fuzz/src/lib.rs`). Built in the dev profile on purpose: integer
//!   overflow checks and debug assertions stay on (release would wrap an overflowing size
//!   silently), dependencies are optimised anyway, and `cargo test` has already built it.
//! - `package [--verify]`: `cargo package` of the publishable crates, verified (each built from
//!   its packaged form) with `--verify`.
//! - `soak`: the 100,000-step CPU and GPU training runs with flat resident memory, in release.
//! - `bench [--vs-torch] [--device gpu] [--only NAME]`: the standard workloads in release, with
//!   PyTorch side by side (see `bench.rs`).
//! - `fixtures`: regenerates the PyTorch reference fixtures (needs `python3` with torch and
//!   safetensors).

mod bench;
mod bench_digits;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const LOC_LIMIT: usize = 600;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn run(name: &str, cmd: &mut Command) -> bool {
    let t = Instant::now();
    eprintln!("==> {name}: {cmd:?}");
    let ok = cmd.current_dir(root()).status().map(|s| s.success()).unwrap_or(false);
    eprintln!("<== {name}: {} in {:.1}s", if ok { "ok" } else { "FAILED" }, t.elapsed().as_secs_f64());
    ok
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".wgsl") {
            out.push(p);
        }
    }
}

fn loc() -> bool {
    let mut files = Vec::new();
    for d in ["crates", "xtask", "tests", "shaders", "examples", "fuzz"] {
        rust_files(&root().join(d), &mut files);
    }
    let mut ok = true;
    for f in files {
        let n = std::fs::read_to_string(&f).map(|s| s.lines().count()).unwrap_or(0);
        if n > LOC_LIMIT {
            eprintln!("loc: {} has {n} lines (limit {LOC_LIMIT}): split it by concern", f.display());
            ok = false;
        }
    }
    ok
}

/// `cargo run -p ember-fuzz -- <args>`: the dev profile, with overflow checks (see the docs above).
fn fuzz_cmd(args: &[String]) -> Command {
    let mut c = cargo();
    c.args(["run", "-p", "ember-fuzz", "--"]).args(args);
    c
}

/// The soaks (ignored tests) in release: 100,000 CPU steps, and 100,000 GPU steps where there is
/// an adapter (`EMBER_GPU_SOAK_STEPS` sets fewer; the GPU test skips without one).
fn soak_cmd() -> Command {
    let mut c = cargo();
    c.args([
        "test",
        "--release",
        "-p",
        "ember-tests",
        "--test",
        "soak",
        "--test",
        "gpu_memory",
        "--",
        "--ignored",
        "--nocapture",
    ]);
    c
}

fn test() -> bool {
    let mut steps: Vec<(&str, Command)> = vec![
        ("fmt", {
            let mut c = cargo();
            c.args(["fmt", "--all", "--", "--check"]);
            c
        }),
        ("clippy", {
            let mut c = cargo();
            c.args([
                "clippy",
                "--workspace",
                "--exclude",
                "ember-distributed",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]);
            c
        }),
        ("test", {
            let mut c = cargo();
            c.args(["test", "--workspace", "--exclude", "ember-distributed"]);
            c
        }),
        // ember-tensor without its default `gpu` feature: no wgpu is compiled, the CPU backend
        // alone passes the crate's tests and clippy (GPU tests skip: `Device::gpu()` is an error).
        ("clippy-no-gpu", {
            let mut c = cargo();
            c.args(["clippy", "-p", "ember-tensor", "--no-default-features", "--all-targets", "--", "-D", "warnings"]);
            c
        }),
        ("test-no-gpu", {
            let mut c = cargo();
            c.args(["test", "-p", "ember-tensor", "--no-default-features"]);
            // GPU tests skip here: no GPU can exist in this build, whatever CI requires elsewhere.
            c.env_remove("EMBER_REQUIRE_GPU");
            c
        }),
        // The publishable crates package: everything they build from is inside them (shaders,
        // guide, data). `--no-verify`: the verifying form, `cargo xtask package --verify`,
        // succeeds for every crate but took 2,056 s after the test build (docs/performance.md:
        // each packaged crate rebuilds gemm, naga and wgpu with its own feature unification), too
        // much for CI's budget; it is the check to run before a release.
        ("package", package_cmd(false)),
        // End to end, in release: the digits CNN must train to 97% test accuracy (about 10 s of
        // training on 2 cores, after the release build).
        ("digits", digits_cmd("cpu", false)),
        // The same training in mixed precision (`--amp`: autocast to BF16 with GradScaler) must
        // reach the same accuracy (issue 17).
        ("digits-amp", digits_cmd("cpu", true)),
        // Every loader of untrusted bytes, mutation-fuzzed for 20 s each (100 s in all; the harness
        // was built by the test step): a panic, abort or hang fails CI.
        ("fuzz", fuzz_cmd(&["--seconds".into(), "20".into()])),
        // 100,000 CPU training steps with flat resident memory (6.5 s measured in release, after
        // the release build the digits step already made).
        // The GPU soak with 30,000 steps where a GPU is required (lavapipe: see gpu_memory.rs).
        ("soak", {
            let mut c = soak_cmd();
            c.env("EMBER_GPU_SOAK_STEPS", "30000");
            c
        }),
    ];
    // Where a GPU is required (CI sets EMBER_REQUIRE_GPU=1 with lavapipe installed), the same
    // training must reach the same accuracy on the GPU (about 2 minutes on lavapipe).
    if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        steps.push(("digits-gpu", digits_cmd("gpu", false)));
        // and in mixed precision (autocast to F16 on the GPU, GradScaler)
        steps.push(("digits-gpu-amp", digits_cmd("gpu", true)));
    }
    steps.extend(mpi_steps());
    let mut ok = loc();
    if !ok {
        eprintln!("loc: FAILED");
    }
    for (name, mut cmd) in steps {
        if !run(name, &mut cmd) {
            ok = false;
            if name != "fmt" && name != "clippy" {
                break;
            }
        }
    }
    ok
}

/// The digits example in release: 30 epochs on `device` (`cpu` or `gpu`; with `amp`, in mixed
/// precision), failing below 97% test accuracy, writing to `target/digits[-gpu][-amp]`.
fn digits_cmd(device: &str, amp: bool) -> Command {
    let mut c = cargo();
    c.args(["run", "--release", "-p", "ember", "--example", "digits", "--"]);
    c.args(["--epochs", "30", "--device", device]);
    if amp {
        c.arg("--amp");
    }
    let gpu = if device == "gpu" { "-gpu" } else { "" };
    let half = if amp { "-amp" } else { "" };
    c.args(["--min-accuracy", "0.97", "--out", &format!("target/digits{gpu}{half}")]);
    c
}

/// `cargo package` of every publishable crate of the workspace (with `verify`, each is built from
/// its packaged form). Left out: the crates with `publish = false` (xtask, bench, tests, fuzz,
/// testutil). `ember-distributed` is in: the facade names it as an optional dependency, so `ember`
/// packages only beside it; verifying it needs an MPI installation and libclang (its build runs
/// bindgen on `mpi.h`), packaging without verification does not.
fn package_cmd(verify: bool) -> Command {
    let mut c = cargo();
    c.args(["package", "--workspace", "--allow-dirty"]);
    for p in ["xtask", "ember-bench", "ember-tests", "ember-fuzz", "ember-testutil"] {
        c.args(["--exclude", p]);
    }
    if verify {
        // Verification builds each packaged crate in `target/package/<crate>/target`, empty, with
        // cargo's default dev profile (a packaged manifest has no workspace profile): every
        // dependency compiled again per crate (11.5 min). With the target directory named
        // explicitly, the verify builds share the workspace's `target/`, and with the workspace's
        // dev profile given as configuration their dependencies have the test build's
        // fingerprints, so the test build's artifacts are reused.
        c.env(
            "CARGO_TARGET_DIR",
            std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from),
        );
        for kv in [
            "profile.dev.opt-level=1",
            "profile.dev.debug=1",
            "profile.dev.package.\"*\".opt-level=3",
            "profile.dev.package.\"*\".debug=false",
        ] {
            c.args(["--config", kv]);
        }
    } else {
        c.arg("--no-verify");
    }
    c
}

/// The distributed steps, where MPI is installed (`mpirun --version` runs): clippy and tests of
/// `ember-distributed` (its tests start `mpirun` themselves), then the digits example built with
/// `--features distributed` and trained on 2 processes to 97% (as root, Open MPI needs
/// `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`, which CI sets).
fn mpi_steps() -> Vec<(&'static str, Command)> {
    let Ok(version) = Command::new("mpirun").arg("--version").output() else {
        eprintln!("note: no mpirun: the distributed steps are skipped (apt-get install openmpi-bin libopenmpi-dev libclang-dev)");
        return Vec::new();
    };
    let mut clippy = cargo();
    clippy.args(["clippy", "-p", "ember-distributed", "-p", "ember", "--features", "ember/distributed"]);
    clippy.args(["--all-targets", "--", "-D", "warnings"]);
    let mut test = cargo();
    test.args(["test", "-p", "ember-distributed"]);
    let mut build = cargo();
    build.args(["build", "--release", "-p", "ember", "--features", "distributed", "--example", "digits"]);
    let target = target_dir();
    let mut digits = Command::new("mpirun");
    if String::from_utf8_lossy(&version.stdout).contains("Open MPI") {
        digits.arg("--oversubscribe");
    }
    digits.args(["-np", "2"]).arg(target.join("release/examples/digits"));
    digits.args(["--distributed", "--epochs", "30", "--device", "cpu", "--min-accuracy", "0.97"]);
    digits.args(["--out", "target/digits-distributed"]);
    vec![
        ("clippy-distributed", clippy),
        ("test-distributed", test),
        ("build-digits-distributed", build),
        ("digits-distributed", digits),
    ]
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, a config file, or `target/`), from `cargo metadata`.
fn target_dir() -> PathBuf {
    let out = cargo().args(["metadata", "--format-version", "1", "--no-deps"]).current_dir(root()).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    let key = "\"target_directory\":\"";
    match text.find(key) {
        Some(i) => {
            let rest = &text[i + key.len()..];
            PathBuf::from(rest[..rest.find('"').unwrap_or(0)].replace("\\\\", "\\"))
        }
        None => root().join("target"),
    }
}

fn fixtures() -> bool {
    run("fixtures", Command::new("python3").arg("scripts/fixtures/gen.py"))
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let ok = match task.as_str() {
        "test" => test(),
        "loc" => loc(),
        "fixtures" => fixtures(),
        "fuzz" => {
            let rest: Vec<String> = std::env::args().skip(2).collect();
            run("fuzz", &mut fuzz_cmd(&rest))
        }
        "soak" => run("soak", &mut soak_cmd()),
        "package" => run("package", &mut package_cmd(std::env::args().any(|a| a == "--verify"))),
        "bench" => {
            let rest: Vec<String> = std::env::args().skip(2).collect();
            bench::bench(&root(), &rest)
        }
        _ => {
            eprintln!("usage: cargo xtask <test|loc|bench|fixtures|fuzz [--seconds N] [--target NAME]|soak|package [--verify]>");
            false
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
