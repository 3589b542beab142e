//! Mutation fuzzing of Ember's loaders of untrusted bytes, on stable Rust.
//!
//! `cargo-fuzz` needs a nightly compiler; this harness needs none. For each target ([`targets`]) it
//! takes the seeds in `fuzz/corpus/<target>/` (small valid and corrupt files), mutates them
//! ([`mutate`]: bit flips, byte inserts and deletes, splices, interesting integers over header
//! fields, extreme numbers in text), writes each mutant to a scratch file and loads it through
//! Ember's public loader, under `catch_unwind`. Loaders must return `Err` on bad input, so a panic
//! is a finding: the input is saved to `fuzz/crashes/<target>-<hash>.bin` with the panic message
//! beside it. Mutants that still load join the pool of inputs to mutate (up to [`POOL`]), which
//! keeps mutating deeper into valid files. There is no coverage feedback: the harness is blind but
//! fast, and the committed corpus holds a valid file of every kind so mutants start near the
//! interesting paths. A process abort (stack overflow, failed allocation) or a hang cannot be
//! caught in-process: `main.rs` runs each target in a child process and saves the scratch file
//! (the input being loaded) when the child dies or runs past its time.
//!
//! Every saved crash, once fixed, moves to `fuzz/regressions/<target>/`; `tests/corpus.rs` loads
//! every corpus and regression file on each `cargo test`.

pub mod model_dir;
pub mod mutate;
pub mod targets;

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mutate::Rng;
use targets::Target;

/// Inputs that loaded, kept for further mutation, at most this many per target.
pub const POOL: usize = 512;

thread_local! {
    /// The panic message and location of this thread's last panic, recorded by [`quiet_panics`]
    /// (per thread: tests running in parallel must not see each other's panics).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook with one that records the message instead of printing it.
pub fn quiet_panics() {
    panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        LAST_PANIC.with(|l| *l.borrow_mut() = Some(format!("panicked at {at}: {msg}")));
    }));
}

/// What loading one input did.
#[derive(Debug)]
pub enum Outcome {
    /// The loader accepted it.
    Loaded,
    /// The loader returned this error.
    Rejected(String),
    /// The loader (or a check on its result) panicked with this message.
    Panicked(String),
}

/// Writes `input` to `scratch` and loads it with `target`, catching a panic.
pub fn run_one(target: &Target, scratch: &Path, input: &[u8]) -> Outcome {
    if let Err(e) = std::fs::write(scratch, input) {
        return Outcome::Rejected(format!("cannot write the scratch file {}: {e}", scratch.display()));
    }
    match panic::catch_unwind(AssertUnwindSafe(|| (target.run)(scratch))) {
        Ok(Ok(())) => Outcome::Loaded,
        Ok(Err(e)) => Outcome::Rejected(e),
        // a panic on another thread (rayon, a loader's helper thread) is re-raised here: its
        // message is then in the payload, not in this thread's record
        Err(payload) => Outcome::Panicked(LAST_PANIC.with(|l| l.borrow_mut().take()).unwrap_or_else(|| {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
            format!("panicked on another thread: {}", msg.unwrap_or_default())
        })),
    }
}

/// The files of `dir` (sorted, non-recursive); none if it does not exist.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// FNV-1a of `data`, to name saved inputs.
pub fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3))
}

/// Counts of one fuzzing run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Inputs tried.
    pub runs: u64,
    /// Of which loaded.
    pub loaded: u64,
    /// Inputs that panicked (each saved).
    pub crashes: Vec<PathBuf>,
    /// The slowest single load.
    pub slowest: Duration,
}

/// Fuzzes `target` for `time`, starting from `seeds`; saves panicking inputs under `crashes`.
pub fn fuzz(target: &Target, seeds: Vec<Vec<u8>>, time: Duration, seed: u64, scratch: &Path, crashes: &Path) -> Stats {
    let mut rng = Rng::new(seed);
    let mut pool = if seeds.is_empty() { vec![Vec::new()] } else { seeds };
    let mut stats = Stats::default();
    // One saved input per panic location: the same bug found again is not saved again.
    let mut seen = std::collections::HashSet::new();
    let start = Instant::now();
    while start.elapsed() < time {
        let a = rng.below(pool.len());
        let b = rng.below(pool.len());
        let input = mutate::mutant(&pool[a], &pool[b], &mut rng);
        let t = Instant::now();
        let outcome = run_one(target, scratch, &input);
        stats.slowest = stats.slowest.max(t.elapsed());
        stats.runs += 1;
        match outcome {
            Outcome::Loaded => {
                stats.loaded += 1;
                if pool.len() < POOL {
                    pool.push(input);
                }
            }
            Outcome::Rejected(_) => {}
            Outcome::Panicked(msg) => {
                let at = msg.split(": ").next().unwrap_or_default().to_string();
                if !seen.insert(at) {
                    continue;
                }
                let _ = std::fs::create_dir_all(crashes);
                let path = crashes.join(format!("{}-{:016x}.bin", target.name, hash(&input)));
                let _ = std::fs::write(&path, &input);
                let _ = std::fs::write(path.with_extension("txt"), &msg);
                eprintln!("fuzz {}: CRASH saved to {}: {msg}", target.name, path.display());
                stats.crashes.push(path);
            }
        }
    }
    stats
}
