//! Matmul autotuning: the tiling of a product (`matmul.rs`: 64 x 64 or 128 x 128 output tiles) is
//! chosen per *shape class* by timing every candidate on the first product of that class, as
//! PyTorch's `cudnn.benchmark` does for convolutions. The choice is remembered per adapter in memory
//! and in a small file, so later processes skip the timing.
//!
//! - A shape class is `(batch, M, N, K)` each rounded up to a power of two, and the dtype.
//! - Products under [`TUNE_MIN_FLOP`] keep the size heuristic of `matmul.rs`: timing them would cost
//!   more than the better tiling could save.
//! - Timing: one warm-up run of each candidate (it compiles the pipeline and drains the work already
//!   queued), then [`REPS`] runs each, every run waited for; the fastest minimum wins. Wall-clock
//!   time, so it includes the submission, which is what the caller pays.
//! - The file: `$EMBER_CACHE_DIR/matmul-tune-v1.tsv`, else `$XDG_CACHE_HOME/ember/…`, else
//!   `$HOME/.cache/ember/…`; one line per choice, `adapter<TAB>dtype<TAB>class<TAB>tile`. Lines
//!   that do not parse are skipped; a file that cannot be read or written only costs the timing.
//! - `EMBER_MATMUL_AUTOTUNE=0` turns tuning off (the heuristic alone); `EMBER_MATMUL_TILE=64|128`
//!   forces a tiling and also skips it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::{DType, Result};

/// Products with fewer floating-point operations than this (2·B·M·N·K) are not timed.
pub(crate) const TUNE_MIN_FLOP: f64 = 2.0 * 512.0 * 512.0 * 512.0;
/// Timed runs per candidate (after one warm-up).
const REPS: usize = 3;

/// A tiling: (entry point of `matmul.wgsl`, tile edge).
pub(crate) type Tiling = (&'static str, usize);

/// The remembered choices (key: [`key`]) and where they are kept.
struct Table {
    path: Option<PathBuf>,
    choices: HashMap<String, usize>,
    /// How many classes this process has timed (tests read it).
    timed: usize,
}

fn table() -> &'static Mutex<Table> {
    static T: OnceLock<Mutex<Table>> = OnceLock::new();
    T.get_or_init(|| {
        let path = cache_file();
        let choices =
            path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).map(|s| parse(&s)).unwrap_or_default();
        Mutex::new(Table { path, choices, timed: 0 })
    })
}

/// The cache file's path (see the module docs), if any base directory is known.
fn cache_file() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = var("EMBER_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("ember")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("ember")))?;
    Some(dir.join("matmul-tune-v1.tsv"))
}

/// True unless `EMBER_MATMUL_AUTOTUNE=0` or `EMBER_MATMUL_TILE` is set.
fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        !std::env::var("EMBER_MATMUL_AUTOTUNE").is_ok_and(|v| v == "0")
            && std::env::var_os("EMBER_MATMUL_TILE").is_none()
    })
}

/// The shape class of a `[bsz, m, k] @ [bsz, k, n]` product: each extent rounded up to a power of two.
pub(crate) fn class(bsz: usize, m: usize, n: usize, k: usize) -> [usize; 4] {
    [bsz, m, n, k].map(|x| x.max(1).next_power_of_two())
}

/// The key of a choice: adapter, dtype and shape class, tab-separated (the file's first three fields).
fn key(adapter: &str, dtype: &str, class: [usize; 4]) -> String {
    let adapter: String = adapter.chars().map(|c| if c == '\t' || c == '\n' { ' ' } else { c }).collect();
    format!("{adapter}\t{dtype}\t{}x{}x{}x{}", class[0], class[1], class[2], class[3])
}

/// The choices of a cache file's text; lines that are not `adapter<TAB>dtype<TAB>class<TAB>tile`
/// with a numeric tile are skipped.
fn parse(text: &str) -> HashMap<String, usize> {
    text.lines()
        .filter_map(|l| {
            let (k, tile) = l.rsplit_once('\t')?;
            (k.split('\t').count() == 3).then_some(())?;
            Some((k.to_string(), tile.trim().parse().ok()?))
        })
        .collect()
}

/// Appends one choice to the cache file (creating its directory); errors are ignored (a read-only
/// home only costs the timing again in the next process).
fn remember(path: &Option<PathBuf>, key: &str, tile: usize) {
    use std::io::Write;
    let Some(path) = path else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{key}\t{tile}");
    }
}

/// The tiling for a product of shape `[bsz, m, n, k]` and `dtype` on `adapter`: `heuristic` when
/// tuning is off or the product is small, else the remembered choice of its class, else the fastest
/// candidate as timed by `run` (which runs the product with a given tiling and waits for it).
/// A candidate whose run fails is skipped; if all fail, the heuristic. The key's strings are
/// built only past the size and opt-out checks, so small products format nothing.
pub(crate) fn choose(
    adapter: &::wgpu::AdapterInfo,
    dtype: DType,
    shape: [usize; 4],
    candidates: &[Tiling],
    heuristic: Tiling,
    run: impl FnMut(Tiling) -> Result<()>,
) -> Tiling {
    let [bsz, m, n, k] = shape;
    if !enabled() || 2.0 * (bsz as f64) * (m as f64) * (n as f64) * (k as f64) < TUNE_MIN_FLOP {
        return heuristic;
    }
    let key = key(&adapter_key(adapter), &format!("{dtype}"), class(bsz, m, n, k));
    choose_in(table(), &key, candidates, heuristic, run)
}

/// [`choose`] on a given table (tests use their own).
fn choose_in(
    table: &Mutex<Table>,
    key: &str,
    candidates: &[Tiling],
    heuristic: Tiling,
    mut run: impl FnMut(Tiling) -> Result<()>,
) -> Tiling {
    let known = crate::wgpu::context::lock(table).choices.get(key).copied();
    if let Some(tile) = known {
        // a remembered tile no longer offered (an older build's file) falls back to the heuristic
        return candidates.iter().copied().find(|c| c.1 == tile).unwrap_or(heuristic);
    }
    // Timed without holding the lock: `run` enqueues GPU work and waits for it.
    let mut best: Option<(Duration, Tiling)> = None;
    for &c in candidates {
        if run(c).is_err() {
            continue;
        }
        let mut fastest = Duration::MAX;
        let mut ok = true;
        for _ in 0..REPS {
            let t = Instant::now();
            if run(c).is_err() {
                ok = false;
                break;
            }
            fastest = fastest.min(t.elapsed());
        }
        if ok && best.is_none_or(|(d, _)| fastest < d) {
            best = Some((fastest, c));
        }
    }
    let Some((_, choice)) = best else { return heuristic };
    let mut t = crate::wgpu::context::lock(table);
    t.timed += 1;
    if t.choices.insert(key.to_string(), choice.1).is_none() {
        remember(&t.path, key, choice.1);
    }
    choice
}

/// The adapter part of a key: name, graphics API and driver, so a driver update re-tunes.
pub(crate) fn adapter_key(info: &::wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {} {})", info.name, info.backend, info.driver, info.driver_info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    const A: Tiling = ("matmul", 64);
    const B: Tiling = ("matmul_big", 128);

    fn fresh(path: Option<PathBuf>) -> Mutex<Table> {
        Mutex::new(Table { path, choices: HashMap::new(), timed: 0 })
    }

    #[test]
    fn classes_round_up_to_powers_of_two() {
        assert_eq!(class(1, 1000, 1000, 1000), [1, 1024, 1024, 1024]);
        assert_eq!(class(3, 1024, 513, 0), [4, 1024, 1024, 1]);
        assert_eq!(key("NVIDIA\tH100", "f32", [1, 2, 4, 8]), "NVIDIA H100\tf32\t1x2x4x8");
    }

    #[test]
    fn the_file_round_trips_and_skips_bad_lines() {
        let text = "gpu\tf32\t1x1024x1024x1024\t128\nbroken line\ngpu\tf64\t1x2x2x2\tnot-a-number\n\
                    x\ty\t1x2x2x2\t64\n";
        let m = parse(text);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m["gpu\tf32\t1x1024x1024x1024"], 128);
        assert_eq!(m["x\ty\t1x2x2x2"], 64);
    }

    #[test]
    fn the_fastest_candidate_wins_and_is_remembered() {
        let dir = std::env::temp_dir().join(format!("ember-tune-test-{}", std::process::id()));
        let path = dir.join("matmul-tune-v1.tsv");
        let _ = std::fs::remove_file(&path);
        let t = fresh(Some(path.clone()));
        let mut runs = Vec::new();
        let slow_a = |c: Tiling| {
            runs.push(c.1);
            std::thread::sleep(Duration::from_millis(if c == A { 6 } else { 1 }));
            Ok(())
        };
        assert_eq!(choose_in(&t, "gpu\tf32\t1x1x1x1", &[A, B], A, slow_a), B);
        assert_eq!(runs.len(), 2 * (REPS + 1), "one warm-up and {REPS} timed runs each: {runs:?}");
        // remembered: no more runs, in memory and in the file
        let never = |_: Tiling| -> Result<()> { panic!("a remembered class is not timed again") };
        assert_eq!(choose_in(&t, "gpu\tf32\t1x1x1x1", &[A, B], A, never), B);
        assert_eq!(lock_timed(&t), 1);
        assert_eq!(parse(&std::fs::read_to_string(&path).unwrap())["gpu\tf32\t1x1x1x1"], 128);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn lock_timed(t: &Mutex<Table>) -> usize {
        crate::wgpu::context::lock(t).timed
    }

    #[test]
    fn failing_candidates_are_skipped_and_all_failing_gives_the_heuristic() {
        let t = fresh(None);
        let b_fails = |c: Tiling| if c == B { Err(Error::Device("no".into())) } else { Ok(()) };
        assert_eq!(choose_in(&t, "k1", &[A, B], B, b_fails), A);
        let all_fail = |_: Tiling| Err(Error::Device("no".into()));
        assert_eq!(choose_in(&t, "k2", &[A, B], B, all_fail), B);
        assert!(!crate::wgpu::context::lock(&t).choices.contains_key("k2"), "a failed tuning is not remembered");
    }

    #[test]
    fn a_remembered_tile_no_longer_offered_gives_the_heuristic() {
        let t = fresh(None);
        crate::wgpu::context::lock(&t).choices.insert("k".into(), 256);
        assert_eq!(choose_in(&t, "k", &[A, B], A, |_| Ok(())), A);
    }

    #[test]
    fn a_real_product_is_tuned_once_per_class() {
        let Ok(dev) = crate::Device::gpu() else { return };
        if !enabled() {
            return;
        }
        let a = crate::Tensor::randn(&[600, 512]).to(&dev);
        let b = crate::Tensor::randn(&[512, 520]).to(&dev);
        let c = a.matmul(&b).to(&crate::Device::Cpu);
        let ctx = super::super::storage(&a).ctx().clone();
        let k = key(&adapter_key(&ctx.info), "F32", class(1, 600, 520, 512));
        assert!(crate::wgpu::context::lock(table()).choices.contains_key(&k), "the class was not tuned: {k}");
        let c2 = a.matmul(&b).to(&crate::Device::Cpu);
        let want = a.to(&crate::Device::Cpu).matmul(&b.to(&crate::Device::Cpu));
        for got in [c, c2] {
            let (g, w) = (got.to_vec::<f32>(), want.to_vec::<f32>());
            let err = g.iter().zip(&w).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(err < 1e-3, "max error {err}");
        }
    }
}
