//! Data-parallel training across processes and machines over MPI: `ember::distributed`.
//!
//! A program started by an MPI launcher (`mpirun -np 4 prog`, or Slurm's `srun`) calls [`init`]
//! once and learns its [`rank`](ProcessGroup::rank) among [`world_size`](ProcessGroup::world_size)
//! processes. Then:
//!
//! - collectives on tensors, as `torch.distributed`: [`all_reduce`] (with [`ReduceOp`] `Sum`,
//!   `Mean`, `Max`), [`broadcast`], [`all_gather`], [`reduce_scatter`], [`barrier`], also as
//!   methods of [`ProcessGroup`] and, for overlap, [`ProcessGroup::all_reduce_async`]. F32, F64
//!   and I64 tensors of any size (empty too) on any device; GPU tensors are staged through host
//!   memory (downloaded, reduced over MPI, uploaded).
//! - [`DistributedDataParallel`]: wraps a model, averages gradients during `backward` in buckets
//!   whose all-reduces overlap the rest of the backward.
//! - `DistributedSampler` (in `ember::data`, re-exported by the facade's `ember::distributed`):
//!   a disjoint shard of the data set per rank, reshuffled per epoch.
//!
//! One thread per process (Ember's communication thread) makes every MPI call, in the order the
//! program issues collectives; it owns the buffers of the collectives in flight. A rank that
//! panics after `init` aborts the whole job (`MPI_Abort`, the rank named in the message), a
//! collective that waits longer than the group's timeout fails with an error naming the rank,
//! and [`ProcessGroup::abort`] ends the job from a rank that hit an error: no rank is left
//! waiting for a peer that is gone. See `docs/distributed.md` for launching on several machines.
//!
//! ```no_run
//! use ember_distributed::{self as dist, ReduceOp};
//! use ember_tensor::Tensor;
//!
//! let pg = dist::init()?;
//! let mut t = Tensor::from_vec(vec![pg.rank() as f32; 3], &[3]);
//! dist::all_reduce(&mut t, ReduceOp::Sum)?; // 0 + 1 + ... on every rank
//! let n = pg.world_size() as f32;
//! assert_eq!(t.to_vec::<f32>(), vec![n * (n - 1.0) / 2.0; 3]);
//! # Ok::<(), ember_tensor::Error>(())
//! ```
#![warn(missing_docs)]

mod collectives;
mod comm;
mod ddp;
mod group;

pub use collectives::{all_gather, all_reduce, barrier, broadcast, get_rank, get_world_size, reduce_scatter};
pub use comm::ReduceOp;
pub use ddp::DistributedDataParallel;
pub use group::{default_group, init, is_initialized, ProcessGroup, Work};
