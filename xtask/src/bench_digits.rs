//! The end-to-end workload of `cargo xtask bench`: the digits example (30 epochs of CNN training
//! on the CPU, evaluation after every epoch) timed as a whole process, against
//! `bench/torch_digits.py` doing the same in PyTorch. Wall time includes start-up, data loading and
//! (for PyTorch) the interpreter and `import torch`, as a user waiting for the program sees it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One timed run: wall seconds and the final test accuracy (percent) the program printed.
#[derive(Clone, Copy, Debug)]
pub struct DigitsRun {
    /// Process wall time in seconds.
    pub secs: f64,
    /// The final test accuracy in percent.
    pub accuracy: f64,
}

/// Builds the example in release; false when the build fails.
pub fn build(root: &Path) -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "ember", "--example", "digits"])
        .current_dir(root)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The percentage in a `final test accuracy 98.89% after 1.3s` line.
fn final_accuracy(stdout: &str) -> Option<f64> {
    let line = stdout.lines().find(|l| l.starts_with("final test accuracy "))?;
    line["final test accuracy ".len()..].split('%').next()?.trim().parse().ok()
}

fn timed(root: &Path, cmd: &mut Command) -> Option<DigitsRun> {
    let t = Instant::now();
    let out = cmd.current_dir(root).output().ok()?;
    let secs = t.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!("bench: {cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(DigitsRun { secs, accuracy: final_accuracy(&stdout)? })
}

/// Runs Ember's example on the CPU (30 epochs).
pub fn ember(root: &Path) -> Option<DigitsRun> {
    let exe = root.join("target/release/examples/digits");
    timed(root, Command::new(exe).args(["--device", "cpu", "--epochs", "30", "--out", "target/bench/digits"]))
}

/// Runs the PyTorch version (30 epochs).
pub fn torch(root: &Path) -> Option<DigitsRun> {
    timed(root, Command::new("python3").args(["bench/torch_digits.py", "--epochs", "30"]))
}

#[cfg(test)]
mod tests {
    use super::final_accuracy;

    #[test]
    fn parses_the_final_line() {
        assert_eq!(final_accuracy("epoch 1\nfinal test accuracy 98.89% after 1.3s\n"), Some(98.89));
        assert_eq!(final_accuracy("no such line"), None);
    }
}
