//! [`init`] and [`ProcessGroup`]: who this process is among the job's processes.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ember_tensor::{Error, Result};

use crate::comm::{self, Buf, Hello, Job, Msg, Reply};

/// The processes of one MPI job (`MPI_COMM_WORLD`), as PyTorch's default process group.
///
/// Made by [`init`]; cheap to clone (a shared handle). Collectives on tensors are its methods
/// ([`all_reduce`](ProcessGroup::all_reduce), [`broadcast`](ProcessGroup::broadcast), ...) and the
/// crate's free functions of the same names, which use the group made by `init`.
#[derive(Clone)]
pub struct ProcessGroup(pub(crate) Arc<Shared>);

pub(crate) struct Shared {
    tx: Mutex<Sender<Msg>>,
    rank: usize,
    size: usize,
    local_rank: usize,
    thread_level: &'static str,
    timeout: Mutex<Duration>,
}

static DEFAULT: OnceLock<ProcessGroup> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Environment variables set by the launchers we know: their presence means we were started by one.
const LAUNCHER_VARS: [&str; 6] =
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD"];

fn err(msg: impl Into<String>) -> Error {
    Error::InvalidArgument { op: "distributed::init", msg: msg.into() }
}

/// Joins the job this process was started in (`mpirun -np N prog`, `srun prog`), once per process;
/// later calls return the same group. Started on its own, the process is a group of one.
///
/// Fails with a clear message when the environment asks for several processes that MPI does not
/// see: `WORLD_SIZE` (PyTorch's variable) or `EMBER_WORLD_SIZE` above 1 without a launcher, or
/// Slurm's `SLURM_NTASKS` above 1 while MPI reports a single process (an MPI built without Slurm's
/// PMI: use `mpirun`, or `srun --mpi=pmix`).
///
/// `init` also installs a panic hook: a rank that panics prints its message prefixed with its
/// rank and calls `MPI_Abort`, which ends every rank of the job (no rank is left waiting in a
/// collective). Any panic counts, on any thread, even one the program would catch with
/// `catch_unwind`: after `init`, a panic is fatal to the job. At exit MPI is finalised.
pub fn init() -> Result<ProcessGroup> {
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(g) = DEFAULT.get() {
        return Ok(g.clone());
    }
    let launched = LAUNCHER_VARS.iter().any(|v| std::env::var_os(v).is_some());
    for var in ["WORLD_SIZE", "EMBER_WORLD_SIZE"] {
        if let Ok(v) = std::env::var(var) {
            let n: usize = v.trim().parse().map_err(|_| err(format!("{var}={v:?} is not a whole number")))?;
            if n > 1 && !launched {
                return Err(err(format!(
                    "{var}={n} asks for {n} processes, but this one was not started by an MPI launcher: \
                     run it as `mpirun -np {n} <program>` (or `srun -n {n}` under Slurm)"
                )));
            }
        }
    }
    let (tx, hello, _handle) = comm::start().map_err(err)?;
    let Hello { rank, size, local_rank, thread_level } = hello;
    if let Ok(v) = std::env::var("SLURM_NTASKS") {
        if v.trim().parse::<usize>().is_ok_and(|n| n > 1) && size == 1 && !launched {
            return Err(err(format!(
                "SLURM_NTASKS={v} but MPI sees a single process: this MPI was not started through Slurm's \
                 PMI; launch with `srun --mpi=pmix` or `mpirun`"
            )));
        }
    }
    let timeout = match std::env::var("EMBER_DIST_TIMEOUT") {
        Ok(s) => Duration::from_secs_f64(
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|t| *t > 0.0)
                .ok_or_else(|| err(format!("EMBER_DIST_TIMEOUT={s:?}: expected seconds, e.g. 60")))?,
        ),
        Err(_) => Duration::from_secs(1800),
    };
    let group = ProcessGroup(Arc::new(Shared {
        tx: Mutex::new(tx),
        rank,
        size,
        local_rank,
        thread_level,
        timeout: Mutex::new(timeout),
    }));
    let _ = DEFAULT.set(group.clone());
    install_panic_hook(rank);
    // SAFETY: registering a plain extern "C" function with the C runtime.
    unsafe {
        libc::atexit(finalize_at_exit);
    }
    Ok(group)
}

/// The group made by [`init`], if it was called.
pub fn default_group() -> Option<ProcessGroup> {
    DEFAULT.get().cloned()
}

/// True once [`init`] has succeeded in this process.
pub fn is_initialized() -> bool {
    DEFAULT.get().is_some()
}

/// The group made by [`init`], or an error naming `op` when there is none.
pub(crate) fn default_or_err(op: &'static str) -> Result<ProcessGroup> {
    default_group().ok_or_else(|| Error::InvalidArgument {
        op,
        msg: "the default process group is not initialised: call ember::distributed::init() first".into(),
    })
}

fn install_panic_hook(rank: usize) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("[rank {rank}] panicked; aborting the MPI job so that no other rank waits for it");
        previous(info);
        comm::abort(1);
    }));
}

/// At process exit: finalise MPI on the communication thread. If that does not finish within the
/// group's timeout (a peer still waits in a collective for this rank, which left early), the job
/// is aborted instead of hanging.
extern "C" fn finalize_at_exit() {
    let Some(g) = DEFAULT.get() else { return };
    let (done_tx, done_rx) = channel();
    let sent = g.0.tx.lock().map(|tx| tx.send(Msg::Finalize(done_tx)).is_ok()).unwrap_or(false);
    let wait = *g.0.timeout.lock().unwrap_or_else(|e| e.into_inner());
    if sent && done_rx.recv_timeout(wait).is_err() {
        eprintln!("[rank {}] MPI_Finalize did not complete within {wait:?}: aborting the job", g.0.rank);
        comm::abort(1);
    }
}

/// A collective started in the background: [`wait`](Work::wait) for its result (PyTorch's
/// `Work` from `async_op=True`).
pub struct Work<T> {
    pub(crate) rx: Receiver<Reply>,
    pub(crate) group: ProcessGroup,
    pub(crate) op: &'static str,
    #[allow(clippy::type_complexity)]
    pub(crate) finish: Box<dyn FnOnce(Buf) -> Result<T> + Send>,
}

impl<T> Work<T> {
    /// Blocks until the collective has finished on this rank; fails on an MPI error or when it
    /// takes longer than the group's timeout (a peer that died or never joined).
    pub fn wait(self) -> Result<T> {
        let buf = self.group.recv(&self.rx, self.op)?;
        (self.finish)(buf)
    }
}

/// # Who am I
impl ProcessGroup {
    /// This process's index in the job, `0..world_size()`.
    pub fn rank(&self) -> usize {
        self.0.rank
    }

    /// Number of processes in the job.
    pub fn world_size(&self) -> usize {
        self.0.size
    }

    /// This process's index among the job's processes on the same machine (which GPU to take).
    pub fn local_rank(&self) -> usize {
        self.0.local_rank
    }

    /// The thread support MPI granted (`"multiple"` with Open MPI); only Ember's communication
    /// thread calls MPI, so every level works.
    pub fn thread_level(&self) -> &'static str {
        self.0.thread_level
    }

    /// How long a collective may take before it fails (default 30 minutes, as PyTorch's; the
    /// environment variable `EMBER_DIST_TIMEOUT`, in seconds, sets it at `init`).
    pub fn timeout(&self) -> Duration {
        *self.0.timeout.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the collective timeout (see [`timeout`](ProcessGroup::timeout)).
    pub fn set_timeout(&self, t: Duration) {
        *self.0.timeout.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    /// Ends every rank of the job now with exit status `code` (`MPI_Abort`), after printing `msg`
    /// prefixed with this rank. What a rank that hit an error should do instead of returning, so
    /// that the others do not wait for it in their next collective.
    pub fn abort(&self, code: i32, msg: &str) -> ! {
        eprintln!("[rank {}] {msg}; aborting the MPI job", self.0.rank);
        comm::abort(code)
    }

    /// Sends `job` to the communication thread; the reply arrives on the returned channel.
    pub(crate) fn submit(&self, job: Job, op: &'static str) -> Result<Receiver<Reply>> {
        let (tx, rx) = channel();
        let sent = self.0.tx.lock().map(|t| t.send(Msg::Job(job, tx)).is_ok()).unwrap_or(false);
        if !sent {
            return Err(self.fail(op, "the communication thread has stopped (MPI was finalised)".into()));
        }
        Ok(rx)
    }

    /// Waits for a reply within the timeout.
    pub(crate) fn recv(&self, rx: &Receiver<Reply>, op: &'static str) -> Result<Buf> {
        let timeout = self.timeout();
        match rx.recv_timeout(timeout) {
            Ok(Ok((buf, _))) => Ok(buf),
            Ok(Err(e)) => Err(self.fail(op, e)),
            Err(_) => Err(self.fail(
                op,
                format!(
                    "timed out after {:.1}s: another rank failed, exited, or did not call the same collective",
                    timeout.as_secs_f64()
                ),
            )),
        }
    }

    /// Runs `job` and waits for it.
    pub(crate) fn call(&self, job: Job, op: &'static str) -> Result<Buf> {
        let rx = self.submit(job, op)?;
        self.recv(&rx, op)
    }

    pub(crate) fn fail(&self, op: &'static str, msg: String) -> Error {
        Error::InvalidArgument { op, msg: format!("rank {} of {}: {msg}", self.0.rank, self.0.size) }
    }

    /// Seconds per plain `MPI_Allreduce` of `n` f32 values (sum), timed on the communication
    /// thread over `iters` calls after one warm-up call: the baseline that
    /// [`all_reduce`](ProcessGroup::all_reduce)'s overhead is measured against.
    #[doc(hidden)]
    pub fn bench_raw_all_reduce(&self, n: usize, iters: usize) -> Result<f64> {
        self.call(Job::RawAllReduce(n, 1), "bench_raw_all_reduce")?;
        let rx = self.submit(Job::RawAllReduce(n, iters), "bench_raw_all_reduce")?;
        match rx.recv_timeout(self.timeout()) {
            Ok(Ok((_, took))) => Ok(took.as_secs_f64() / iters.max(1) as f64),
            Ok(Err(e)) => Err(self.fail("bench_raw_all_reduce", e)),
            Err(_) => Err(self.fail("bench_raw_all_reduce", "timed out".into())),
        }
    }
}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProcessGroup(rank {} of {}, local rank {})", self.0.rank, self.0.size, self.0.local_rank)
    }
}
