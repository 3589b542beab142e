//! `ember-fuzz [--seconds N] [--target NAME]... [--seed S]`: fuzzes each loader for N seconds (30
//! by default), each in a child process of its own so that an abort or a hang is caught too, and
//! fails when any input panicked, aborted or hung (saved to `fuzz/crashes/`). Run by
//! `cargo xtask fuzz`, in the dev profile (overflow checks on; see `xtask/src/main.rs`). See the
//! crate docs (`lib.rs`) for the method.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ember_fuzz::{files, fuzz, hash, quiet_panics, targets};

/// Exit code of a worker that found (and saved) panicking inputs.
const FOUND: u8 = 3;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Args {
    seconds: u64,
    targets: Vec<String>,
    seed: u64,
    worker: Option<(String, PathBuf)>,
}

fn parse_args() -> Result<Args, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    let mut a = Args { seconds: 30, targets: Vec::new(), seed: now, worker: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => a.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--seed" => a.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--target" => a.targets.push(value("--target")?),
            "--worker" => {
                let name = value("--worker")?;
                a.worker = Some((name, PathBuf::from(value("--worker")?)));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    for t in &a.targets {
        if targets::target(t).is_none() {
            let names: Vec<&str> = targets::TARGETS.iter().map(|t| t.name).collect();
            return Err(format!("unknown target {t:?} (targets: {names:?})"));
        }
    }
    Ok(a)
}

/// In the child: fuzzes one target, writing each input to `scratch` before loading it.
fn worker(name: &str, scratch: &Path, seconds: u64, seed: u64) -> ExitCode {
    quiet_panics();
    let target = targets::target(name).expect("checked by parse_args");
    let seeds: Vec<Vec<u8>> =
        files(&fuzz_dir().join("corpus").join(name)).iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let n_seeds = seeds.len();
    let crashes = fuzz_dir().join("crashes");
    let stats = fuzz(target, seeds, Duration::from_secs(seconds), seed, scratch, &crashes);
    println!(
        "fuzz {name}: {} inputs ({:.0}/s) from {n_seeds} seeds, {} loaded, {} crashing, slowest load {:.1} ms",
        stats.runs,
        stats.runs as f64 / seconds.max(1) as f64,
        stats.loaded,
        stats.crashes.len(),
        stats.slowest.as_secs_f64() * 1e3
    );
    if stats.crashes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FOUND)
    }
}

/// Saves the input a dead or hung child was loading.
fn save_scratch(name: &str, kind: &str, scratch: &Path) -> Option<PathBuf> {
    let input = std::fs::read(scratch).ok()?;
    let dir = fuzz_dir().join("crashes");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{name}-{kind}-{:016x}.bin", hash(&input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Runs one target in a child process; true when it found nothing.
fn supervise(name: &str, ext: &str, seconds: u64, seed: u64, dir: &Path) -> bool {
    let scratch = dir.join(format!("{name}.{ext}"));
    let exe = std::env::current_exe().expect("own path");
    let mut child = match Command::new(exe)
        .args(["--worker", name])
        .arg(&scratch)
        .args(["--seconds", &seconds.to_string(), "--seed", &seed.to_string()])
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fuzz {name}: cannot start the worker: {e}");
            return false;
        }
    };
    // A worker stops on its own after `seconds`; one slow input may overrun by a little.
    let deadline = Instant::now() + Duration::from_secs(seconds + 60);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return true,
            Ok(Some(status)) if status.code() == Some(i32::from(FOUND)) => return false,
            Ok(Some(status)) => {
                let saved = save_scratch(name, "abort", &scratch);
                eprintln!("fuzz {name}: the worker died ({status}); input saved to {saved:?}");
                return false;
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let saved = save_scratch(name, "hang", &scratch);
                eprintln!("fuzz {name}: the worker hung past {}s; input saved to {saved:?}", seconds + 60);
                return false;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                eprintln!("fuzz {name}: cannot wait for the worker: {e}");
                return false;
            }
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ember-fuzz: {e}\nusage: ember-fuzz [--seconds N] [--target NAME]... [--seed S]");
            return ExitCode::FAILURE;
        }
    };
    if let Some((name, scratch)) = &args.worker {
        return worker(name, scratch, args.seconds, args.seed);
    }
    // Each input is written to a scratch file before it is loaded: in memory (`/dev/shm`) where
    // there is one, since a disk-backed temporary directory can cost milliseconds per write.
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    let dir = base.join(format!("ember-fuzz-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("ember-fuzz: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    println!("ember-fuzz: seed {} (rerun with --seed {} to repeat)", args.seed, args.seed);
    let mut ok = true;
    for t in targets::TARGETS.iter().filter(|t| args.targets.is_empty() || args.targets.iter().any(|n| n == t.name)) {
        ok &= supervise(t.name, t.ext, args.seconds, args.seed, &dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("ember-fuzz: findings saved in {}", fuzz_dir().join("crashes").display());
        ExitCode::FAILURE
    }
}
