//! The communication thread: the one thread of the process that calls MPI.
//!
//! `init` starts it; it initialises MPI (so it is MPI's "main thread" for every thread level),
//! then serves jobs from a channel, one blocking collective at a time, in the order they were
//! sent. Each job owns its buffer (a `Vec`), so no borrow has to outlive a non-blocking MPI
//! request: a caller that wants to overlap work with communication sends a job and waits on its
//! reply later (see `Work`). Collectives must be issued in the same order on every rank, which the
//! FIFO channel keeps as long as the program issues them in the same order (as MPI requires).

use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

use mpi::ffi;
use mpi::topology::Communicator;

/// A flat host buffer of one of the dtypes that travel over MPI.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Buf {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Buf {
    pub(crate) fn len(&self) -> usize {
        match self {
            Buf::F32(v) => v.len(),
            Buf::F64(v) => v.len(),
            Buf::I64(v) => v.len(),
        }
    }

    /// A zeroed buffer of the same dtype and `n` elements.
    pub(crate) fn zeros_like(&self, n: usize) -> Buf {
        match self {
            Buf::F32(_) => Buf::F32(vec![0.0; n]),
            Buf::F64(_) => Buf::F64(vec![0.0; n]),
            Buf::I64(_) => Buf::I64(vec![0; n]),
        }
    }

    fn ptr(&mut self) -> *mut c_void {
        match self {
            Buf::F32(v) => v.as_mut_ptr().cast(),
            Buf::F64(v) => v.as_mut_ptr().cast(),
            Buf::I64(v) => v.as_mut_ptr().cast(),
        }
    }

    fn elem_size(&self) -> usize {
        match self {
            Buf::F32(_) => 4,
            Buf::F64(_) | Buf::I64(_) => 8,
        }
    }

    fn datatype(&self) -> ffi::MPI_Datatype {
        // SAFETY: reading the constants rsmpi's C shim exports (set before main by the linker).
        unsafe {
            match self {
                Buf::F32(_) => ffi::RSMPI_FLOAT,
                Buf::F64(_) => ffi::RSMPI_DOUBLE,
                Buf::I64(_) => ffi::RSMPI_INT64_T,
            }
        }
    }
}

/// The reduction of `all_reduce` and `reduce_scatter`: PyTorch's `ReduceOp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// Element-wise sum over the ranks.
    Sum,
    /// Element-wise mean over the ranks (the sum divided by the world size; float dtypes only).
    Mean,
    /// Element-wise maximum over the ranks.
    Max,
}

/// What the communication thread does.
pub(crate) enum Job {
    AllReduce(Buf, ReduceOp),
    Broadcast(Buf, i32),
    AllGather(Buf),
    ReduceScatter(Buf, ReduceOp),
    Barrier,
    /// Times `iters` plain `MPI_Allreduce` calls on a buffer of `n` f32 (the benchmark baseline).
    RawAllReduce(usize, usize),
}

pub(crate) type Reply = Result<(Buf, Duration), String>;

/// What the thread learnt at start-up.
pub(crate) struct Hello {
    pub rank: usize,
    pub size: usize,
    pub local_rank: usize,
    pub thread_level: &'static str,
}

/// Messages to the thread: a job with its reply channel, or the request to finalise MPI.
pub(crate) enum Msg {
    Job(Job, Sender<Reply>),
    Finalize(Sender<()>),
}

/// Starts the thread and initialises MPI on it.
pub(crate) fn start() -> Result<(Sender<Msg>, Hello, std::thread::JoinHandle<()>), String> {
    let (tx, rx) = channel::<Msg>();
    let (hello_tx, hello_rx) = channel::<Result<Hello, String>>();
    let handle = std::thread::Builder::new()
        .name("ember-mpi".into())
        .spawn(move || serve(rx, hello_tx))
        .map_err(|e| format!("could not start the communication thread: {e}"))?;
    let hello = hello_rx.recv().map_err(|_| "the communication thread died during MPI_Init".to_string())??;
    Ok((tx, hello, handle))
}

fn serve(rx: Receiver<Msg>, hello_tx: Sender<Result<Hello, String>>) {
    let Some((universe, level)) = mpi::initialize_with_threading(mpi::Threading::Multiple) else {
        let _ = hello_tx.send(Err("MPI was already initialised in this process".into()));
        return;
    };
    let world = universe.world();
    // SAFETY: plain MPI calls on the world communicator after MPI_Init.
    unsafe {
        ffi::MPI_Comm_set_errhandler(ffi::RSMPI_COMM_WORLD, ffi::RSMPI_ERRORS_RETURN);
    }
    let local_rank = world.split_shared(world.rank()).rank() as usize;
    let thread_level = match level {
        mpi::Threading::Single => "single",
        mpi::Threading::Funneled => "funneled",
        mpi::Threading::Serialized => "serialized",
        mpi::Threading::Multiple => "multiple",
    };
    let hello = Hello { rank: world.rank() as usize, size: world.size() as usize, local_rank, thread_level };
    let size = hello.size;
    if hello_tx.send(Ok(hello)).is_err() {
        return;
    }
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Job(job, reply) => {
                let t = Instant::now();
                let out = run(job, size).map(|b| (b, t.elapsed()));
                let _ = reply.send(out);
            }
            Msg::Finalize(done) => {
                drop(universe); // MPI_Finalize
                let _ = done.send(());
                return;
            }
        }
    }
}

/// `MPI_Error_string` of a failed call's code.
fn check(code: c_int, what: &str) -> Result<(), String> {
    // SAFETY: reading the success constant; MPI_Error_string writes at most MPI_MAX_ERROR_STRING.
    if code == ffi::MPI_SUCCESS as c_int {
        return Ok(());
    }
    let mut text = vec![0u8; 1024];
    let mut len: c_int = 0;
    unsafe { ffi::MPI_Error_string(code, text.as_mut_ptr().cast(), &mut len) };
    text.truncate(len.max(0) as usize);
    Err(format!("{what} failed: {} (MPI error code {code})", String::from_utf8_lossy(&text)))
}

/// Elements per MPI call: counts are C ints, so larger buffers go in pieces.
const CHUNK: usize = 1 << 30;

fn mpi_op(op: ReduceOp) -> ffi::MPI_Op {
    // SAFETY: reading rsmpi's exported operation handles.
    unsafe {
        match op {
            ReduceOp::Sum | ReduceOp::Mean => ffi::RSMPI_SUM,
            ReduceOp::Max => ffi::RSMPI_MAX,
        }
    }
}

fn run(job: Job, size: usize) -> Result<Buf, String> {
    // SAFETY (every call below): the buffers are owned `Vec`s of exactly the element count and MPI
    // datatype passed, alive and not otherwise borrowed until the blocking call returns.
    unsafe {
        match job {
            Job::AllReduce(mut buf, op) => {
                let (n, es, dt) = (buf.len(), buf.elem_size(), buf.datatype());
                let mut out = buf.zeros_like(n);
                let (src, dst) = (buf.ptr().cast::<u8>(), out.ptr().cast::<u8>());
                let mut start = 0;
                loop {
                    let k = (n - start).min(CHUNK);
                    let code = ffi::MPI_Allreduce(
                        src.add(start * es).cast(),
                        dst.add(start * es).cast(),
                        k as c_int,
                        dt,
                        mpi_op(op),
                        ffi::RSMPI_COMM_WORLD,
                    );
                    check(code, "MPI_Allreduce")?;
                    start += k;
                    if start >= n {
                        break;
                    }
                }
                Ok(out)
            }
            Job::Broadcast(mut buf, root) => {
                let (n, es, dt) = (buf.len(), buf.elem_size(), buf.datatype());
                let p = buf.ptr().cast::<u8>();
                let mut start = 0;
                loop {
                    let k = (n - start).min(CHUNK);
                    let code = ffi::MPI_Bcast(p.add(start * es).cast(), k as c_int, dt, root, ffi::RSMPI_COMM_WORLD);
                    check(code, "MPI_Bcast")?;
                    start += k;
                    if start >= n {
                        break;
                    }
                }
                Ok(buf)
            }
            Job::AllGather(mut buf) => {
                let n = buf.len();
                if n > i32::MAX as usize {
                    return Err(format!("all_gather of {n} elements per rank: MPI counts stop at {}", i32::MAX));
                }
                let mut out = buf.zeros_like(n * size);
                let dt = buf.datatype();
                let code =
                    ffi::MPI_Allgather(buf.ptr(), n as c_int, dt, out.ptr(), n as c_int, dt, ffi::RSMPI_COMM_WORLD);
                check(code, "MPI_Allgather")?;
                Ok(out)
            }
            Job::ReduceScatter(mut buf, op) => {
                let n = buf.len() / size.max(1);
                if n > i32::MAX as usize {
                    return Err(format!("reduce_scatter of {n} elements per rank: MPI counts stop at {}", i32::MAX));
                }
                let mut out = buf.zeros_like(n);
                let dt = buf.datatype();
                let code = ffi::MPI_Reduce_scatter_block(
                    buf.ptr(),
                    out.ptr(),
                    n as c_int,
                    dt,
                    mpi_op(op),
                    ffi::RSMPI_COMM_WORLD,
                );
                check(code, "MPI_Reduce_scatter_block")?;
                Ok(out)
            }
            Job::Barrier => {
                check(ffi::MPI_Barrier(ffi::RSMPI_COMM_WORLD), "MPI_Barrier")?;
                Ok(Buf::F32(Vec::new()))
            }
            Job::RawAllReduce(n, iters) => {
                let (send, mut recv) = (vec![1.0f32; n], vec![0.0f32; n]);
                for _ in 0..iters {
                    let code = ffi::MPI_Allreduce(
                        send.as_ptr().cast(),
                        recv.as_mut_ptr().cast(),
                        n as c_int,
                        ffi::RSMPI_FLOAT,
                        ffi::RSMPI_SUM,
                        ffi::RSMPI_COMM_WORLD,
                    );
                    check(code, "MPI_Allreduce")?;
                }
                Ok(Buf::F32(recv))
            }
        }
    }
}

/// `MPI_Abort` on the world communicator: ends every rank of the job with `code`.
pub(crate) fn abort(code: i32) -> ! {
    // SAFETY: MPI_Abort may be called from any thread once MPI is initialised (Open MPI and
    // MPICH honour it at every thread level); it does not return.
    unsafe {
        ffi::MPI_Abort(ffi::RSMPI_COMM_WORLD, code);
    }
    std::process::abort()
}
