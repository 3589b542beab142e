//! Runs `ember-dist-check` under `mpirun` on loopback (cargo's test harness is not an MPI program,
//! so every check is a subprocess with a timeout): collectives, data-parallel equality with one
//! process, and failing ranks that must end the whole job with an error naming them, never hang.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ember-dist-check");

/// Runs `cmd` for at most `limit`; returns (exit success, stdout + stderr, seconds taken).
fn run_limited(mut cmd: Command, limit: Duration) -> (bool, String, f64) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e} (is Open MPI's mpirun installed?)"));
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for mpirun") {
            break s;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = t_out.join().unwrap() + &t_err.join().unwrap();
    (status.success(), text, t.elapsed().as_secs_f64())
}

/// `mpirun -np n ember-dist-check args...`, oversubscribed (more ranks than cores), as root too.
fn mpirun(n: usize, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new("mpirun");
    let open_mpi = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("Open MPI"));
    if open_mpi {
        c.arg("--oversubscribe");
        c.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        c.env("OMPI_MCA_rmaps_base_oversubscribe", "1");
    }
    c.args(["-np", &n.to_string(), BIN]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn check_ok(n: usize, args: &[&str]) -> String {
    let (ok, out, secs) = run_limited(mpirun(n, args, &[("EMBER_DIST_TIMEOUT", "60")]), Duration::from_secs(180));
    assert!(ok, "mpirun -np {n} {args:?} failed after {secs:.1}s:\n{out}");
    out
}

#[test]
fn collectives_on_odd_sizes_empty_tensors_and_every_dtype() {
    for n in [2, 3] {
        let out = check_ok(n, &["collectives"]);
        for r in 0..n {
            assert!(out.contains(&format!("[rank {r}] collectives ok")), "{out}");
        }
    }
}

#[test]
fn data_parallel_training_equals_one_process_on_the_concatenated_batches() {
    let dir = std::env::temp_dir().join(format!("ember-ddp-{}", std::process::id()));
    let dir = dir.to_str().unwrap();
    for n in [2, 3] {
        let out = check_ok(n, &["ddp", dir]);
        // the driver itself fails above 1e-5; the line shows the measured difference
        assert!(out.contains(&format!("{n} processes vs 1 on the concatenated batches, 20 steps")), "{out}");
        for r in 0..n {
            assert!(out.contains(&format!("[rank {r}] ddp ok")), "{out}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_single_process_needs_no_launcher_and_a_missing_launcher_is_named() {
    let (ok, out, _) = run_limited(
        {
            let mut c = Command::new(BIN);
            c.arg("single");
            c
        },
        Duration::from_secs(60),
    );
    assert!(ok && out.contains("single ok"), "{out}");
    let (ok, out, _) = run_limited(
        {
            let mut c = Command::new(BIN);
            c.arg("single").env("WORLD_SIZE", "4");
            c
        },
        Duration::from_secs(60),
    );
    assert!(ok, "{out}");
    assert!(out.contains("WORLD_SIZE=4 asks for 4 processes") && out.contains("mpirun -np 4"), "{out}");
}

/// A failing rank (or one that never joins) must end every rank with an error naming a rank,
/// well within the time limit (collectives time out after 5 s here).
fn assert_job_fails(scenario: &str, bad: usize, named: &str) {
    let env = [("EMBER_DIST_TIMEOUT", "5")];
    let (ok, out, secs) = run_limited(mpirun(3, &[scenario, &bad.to_string()], &env), Duration::from_secs(120));
    assert!(!ok, "{scenario}: the job should fail:\n{out}");
    assert!(out.contains(named), "{scenario}: expected {named:?} in the output:\n{out}");
    assert!(secs < 60.0, "{scenario}: took {secs:.1}s");
}

#[test]
fn a_panicking_rank_aborts_the_job() {
    // Our own line, and a failed job. Open MPI's "MPI_ABORT was invoked" text is not checked: its
    // help-message subsystem itself can fail under load ("ORTE_ERROR_LOG: Out of resource in
    // show_help.c") while the abort works.
    assert_job_fails("fail-panic", 1, "[rank 1] panicked");
}

#[test]
fn a_rank_returning_an_error_aborts_the_job() {
    assert_job_fails("fail-error", 2, "[rank 2] error: injected error at step 5");
}

#[test]
fn a_rank_that_exits_early_makes_the_others_time_out() {
    assert_job_fails("fail-exit", 1, "timed out after 5.0s");
}

#[test]
fn a_rank_that_never_joins_a_collective_makes_the_others_time_out() {
    assert_job_fails("timeout", 2, "all_reduce: rank ");
    assert_job_fails("timeout", 2, "timed out after 5.0s");
}
