//! `mpirun -np N ember-dist-check <scenario>`: checks Ember's distributed layer under a real MPI
//! launcher (the crate's tests run it through `mpirun`; it also checks a cluster's setup).
//!
//! Scenarios: `collectives` (every collective on odd sizes, empty tensors, F32/F64/I64),
//! `ddp` (data-parallel training equals one process on the concatenated batches; buffers, no_sync,
//! unused parameters, checkpoints), `fail-panic R` / `fail-error R` / `fail-exit R` (rank R fails
//! at step 5 of a training loop: the whole job must end), `timeout R` (rank R never joins a
//! collective), `single` (checks made without a launcher), `bench` (see `docs/distributed.md`).
//! Exit status 0 when every check passed.

mod bench;
mod checks;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rank_arg = || args.get(1).and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    let result = match args.first().map(String::as_str) {
        Some("collectives") => checks::collectives(),
        Some("ddp") => checks::ddp(args.get(1).map(String::as_str).unwrap_or("target/ember-dist-check")),
        Some("fail-panic") => checks::fail(rank_arg(), checks::Failure::Panic),
        Some("fail-error") => checks::fail(rank_arg(), checks::Failure::Error),
        Some("fail-exit") => checks::fail(rank_arg(), checks::Failure::Exit),
        Some("timeout") => checks::timeout(rank_arg()),
        Some("single") => checks::single(),
        Some("bench") => bench::bench(&args[1..]),
        _ => Err("usage: ember-dist-check collectives|ddp [DIR]|fail-panic R|fail-error R|fail-exit R|timeout R|single|bench"
            .to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let rank = ember_distributed::get_rank();
            match ember_distributed::default_group() {
                Some(g) if g.world_size() > 1 => g.abort(1, &format!("error: {e}")),
                _ => {
                    eprintln!("[rank {rank}] error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
