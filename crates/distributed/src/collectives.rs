//! Collectives on tensors: `all_reduce`, `broadcast`, `all_gather`, `reduce_scatter`, `barrier`.
//!
//! Tensors of dtype F32, F64 and I64, of any shape and size (empty included), on any device. The
//! data travels through host memory: a GPU tensor is downloaded, reduced over MPI, and uploaded
//! again to the same device (no GPU-direct transfer yet; see `docs/distributed.md`).

use ember_tensor::{DType, Device, Error, Result, Tensor};

use crate::comm::{Buf, Job, ReduceOp};
use crate::group::{default_or_err, ProcessGroup, Work};

/// The tensor's values, row-major, in host memory.
pub(crate) fn to_buf(t: &Tensor, op: &'static str) -> Result<Buf> {
    Ok(match t.dtype() {
        DType::F32 => Buf::F32(t.to_vec::<f32>()),
        DType::F64 => Buf::F64(t.to_vec::<f64>()),
        DType::I64 => Buf::I64(t.to_vec::<i64>()),
        other => return Err(Error::UnsupportedDType { op, dtype: other }),
    })
}

/// A tensor of `shape` on `device` holding `buf`.
pub(crate) fn from_buf(buf: Buf, shape: &[usize], device: &Device) -> Result<Tensor> {
    let t = match buf {
        Buf::F32(v) => Tensor::try_from_vec(v, shape)?,
        Buf::F64(v) => Tensor::try_from_vec(v, shape)?,
        Buf::I64(v) => Tensor::try_from_vec(v, shape)?,
    };
    Ok(if *device == Device::Cpu { t } else { t.to(device) })
}

/// Divides every element by `n` (the `Mean` of a sum over `n` ranks).
pub(crate) fn divide(buf: &mut Buf, n: usize) {
    match buf {
        Buf::F32(v) => v.iter_mut().for_each(|x| *x /= n as f32),
        Buf::F64(v) => v.iter_mut().for_each(|x| *x /= n as f64),
        Buf::I64(_) => unreachable!("Mean on I64 is refused before any communication"),
    }
}

fn check_op(t: &Tensor, op: ReduceOp, name: &'static str) -> Result<()> {
    if op == ReduceOp::Mean && !t.dtype().is_float() {
        return Err(Error::InvalidArgument {
            op: name,
            msg: format!("ReduceOp::Mean needs a float tensor, got {} (use Sum and divide)", t.dtype()),
        });
    }
    Ok(())
}

/// # Collectives
impl ProcessGroup {
    /// Reduces `tensor` element-wise over every rank and stores the result in it on every rank
    /// (PyTorch's `dist.all_reduce(tensor, op)`).
    ///
    /// Every rank must call it with a tensor of the same shape and dtype; fails on an unsupported
    /// dtype (F32, F64, I64 travel), `Mean` on I64, an MPI error, or the timeout.
    pub fn all_reduce(&self, tensor: &mut Tensor, op: ReduceOp) -> Result<()> {
        *tensor = self.all_reduce_async(tensor, op)?.wait()?;
        Ok(())
    }

    /// Starts an all-reduce of `tensor`'s current values in the background; `wait()` returns the
    /// reduced tensor (PyTorch's `async_op=True`). Collectives run in the order they are started.
    pub fn all_reduce_async(&self, tensor: &Tensor, op: ReduceOp) -> Result<Work<Tensor>> {
        const NAME: &str = "all_reduce";
        check_op(tensor, op, NAME)?;
        let buf = to_buf(tensor, NAME)?;
        let (shape, device, size) = (tensor.shape().to_vec(), tensor.device(), self.world_size());
        let rx = self.submit(Job::AllReduce(buf, op), NAME)?;
        Ok(Work {
            rx,
            group: self.clone(),
            op: NAME,
            finish: Box::new(move |mut buf| {
                if op == ReduceOp::Mean {
                    divide(&mut buf, size);
                }
                from_buf(buf, &shape, &device)
            }),
        })
    }

    /// Replaces `tensor` on every rank with rank `src`'s (PyTorch's `dist.broadcast(tensor, src)`).
    pub fn broadcast(&self, tensor: &mut Tensor, src: usize) -> Result<()> {
        const NAME: &str = "broadcast";
        if src >= self.world_size() {
            return Err(self.fail(NAME, format!("src rank {src} is out of range for a world of {}", self.world_size())));
        }
        let buf = to_buf(tensor, NAME)?;
        let out = self.call(Job::Broadcast(buf, src as i32), NAME)?;
        *tensor = from_buf(out, tensor.shape(), &tensor.device())?;
        Ok(())
    }

    /// Every rank's `tensor`, in rank order, on every rank (PyTorch's `dist.all_gather`). All
    /// ranks must pass the same shape; a rank whose element count differs makes every rank fail
    /// with an error listing the counts.
    pub fn all_gather(&self, tensor: &Tensor) -> Result<Vec<Tensor>> {
        const NAME: &str = "all_gather";
        let size = self.world_size();
        let counts = self.call(Job::AllGather(Buf::I64(vec![tensor.numel() as i64])), NAME)?;
        if let Buf::I64(c) = &counts {
            if c.iter().any(|&n| n != tensor.numel() as i64) {
                return Err(self.fail(NAME, format!("ranks passed different element counts {c:?} (rank order)")));
            }
        }
        let buf = to_buf(tensor, NAME)?;
        let n = tensor.numel();
        let all = self.call(Job::AllGather(buf), NAME)?;
        let mut out = Vec::with_capacity(size);
        for r in 0..size {
            let part = match &all {
                Buf::F32(v) => Buf::F32(v[r * n..(r + 1) * n].to_vec()),
                Buf::F64(v) => Buf::F64(v[r * n..(r + 1) * n].to_vec()),
                Buf::I64(v) => Buf::I64(v[r * n..(r + 1) * n].to_vec()),
            };
            out.push(from_buf(part, tensor.shape(), &tensor.device())?);
        }
        Ok(out)
    }

    /// Reduces `input` over the ranks and gives rank `r` the `r`-th of `world_size` equal slices
    /// along dim 0 (PyTorch's `dist.reduce_scatter_tensor(output, input, op)`): an input of shape
    /// `[world_size * k, ...]` gives `[k, ...]`.
    pub fn reduce_scatter(&self, input: &Tensor, op: ReduceOp) -> Result<Tensor> {
        const NAME: &str = "reduce_scatter";
        check_op(input, op, NAME)?;
        let size = self.world_size();
        let shape = input.shape();
        if shape.is_empty() || !shape[0].is_multiple_of(size) {
            return Err(self.fail(
                NAME,
                format!("the input's first dim must be a multiple of the world size {size}, got shape {shape:?}"),
            ));
        }
        let mut out_shape = shape.to_vec();
        out_shape[0] /= size;
        let mut buf = self.call(Job::ReduceScatter(to_buf(input, NAME)?, op), NAME)?;
        if op == ReduceOp::Mean {
            divide(&mut buf, size);
        }
        from_buf(buf, &out_shape, &input.device())
    }

    /// Waits until every rank has reached this call (PyTorch's `dist.barrier()`).
    pub fn barrier(&self) -> Result<()> {
        self.call(Job::Barrier, "barrier").map(|_| ())
    }
}

/// [`ProcessGroup::all_reduce`] on the group made by [`init`](crate::init).
pub fn all_reduce(tensor: &mut Tensor, op: ReduceOp) -> Result<()> {
    default_or_err("all_reduce")?.all_reduce(tensor, op)
}

/// [`ProcessGroup::broadcast`] on the group made by [`init`](crate::init).
pub fn broadcast(tensor: &mut Tensor, src: usize) -> Result<()> {
    default_or_err("broadcast")?.broadcast(tensor, src)
}

/// [`ProcessGroup::all_gather`] on the group made by [`init`](crate::init).
pub fn all_gather(tensor: &Tensor) -> Result<Vec<Tensor>> {
    default_or_err("all_gather")?.all_gather(tensor)
}

/// [`ProcessGroup::reduce_scatter`] on the group made by [`init`](crate::init).
pub fn reduce_scatter(input: &Tensor, op: ReduceOp) -> Result<Tensor> {
    default_or_err("reduce_scatter")?.reduce_scatter(input, op)
}

/// [`ProcessGroup::barrier`] on the group made by [`init`](crate::init).
pub fn barrier() -> Result<()> {
    default_or_err("barrier")?.barrier()
}

/// This process's rank in the group made by [`init`](crate::init) (0 before `init`).
pub fn get_rank() -> usize {
    crate::default_group().map_or(0, |g| g.rank())
}

/// The number of processes of the group made by [`init`](crate::init) (1 before `init`).
pub fn get_world_size() -> usize {
    crate::default_group().map_or(1, |g| g.world_size())
}
