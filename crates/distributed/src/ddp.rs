//! [`DistributedDataParallel`]: the same model on every rank, gradients averaged in buckets whose
//! all-reduces run on the communication thread while the rest of the backward computes.

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, Weak};

use ember_autograd::Variable;
use ember_nn::Module;
use ember_tensor::{DType, Error, Result, Tensor};

use crate::collectives::{divide, from_buf, to_buf};
use crate::comm::{Buf, Job, ReduceOp, Reply};
use crate::group::{default_or_err, ProcessGroup};

/// Default bucket size, as PyTorch's `bucket_cap_mb=25`.
const DEFAULT_BUCKET_MB: f64 = 25.0;

/// Data-parallel training: PyTorch's `DistributedDataParallel`.
///
/// Every rank holds the same model and trains on its own shard of each global batch. `new`
/// copies rank 0's parameters and buffers to every rank. During `loss.backward()`, each
/// parameter's gradient, once complete, marks its bucket (parameters in reverse order, about
/// 25 MB per bucket, as PyTorch); a full bucket is flattened and its all-reduce handed to the
/// communication thread at once, so it travels while the backward goes on through the earlier
/// layers. When the last gradient of the backward arrives, the backward waits for every bucket
/// and writes the averaged gradients back to `.grad`: after `loss.backward()` returns, every rank
/// holds the same gradients and `opt.step()` keeps the replicas equal, as in PyTorch.
///
/// - [`no_sync`](Self::no_sync): backward passes inside it only accumulate local gradients
///   (gradient accumulation); the next backward outside averages the accumulated sums.
/// - A model whose backward leaves some parameters without a gradient must call
///   [`finish_gradient_sync`](Self::finish_gradient_sync) after `backward` (unused parameters
///   count as zero); otherwise the next `forward` fails with a message naming them.
/// - In training mode, `forward` first copies rank 0's buffers (batch-norm statistics) to every
///   rank (PyTorch's `broadcast_buffers=True`).
/// - The wrapper is a [`Module`] with the wrapped model's names (no `module.` prefix), so its
///   state dict loads into the plain model. [`save_safetensors`](Module::save_safetensors) writes
///   on rank 0 only (every rank returns its outcome); every rank can load the file.
///
/// A collective that fails (MPI error, a peer gone, the group's timeout) inside `backward`
/// panics with the error; `init`'s panic hook then aborts the whole job, naming the rank.
pub struct DistributedDataParallel<M: Module> {
    module: M,
    group: ProcessGroup,
    reducer: Arc<Mutex<Reducer>>,
    broadcast_buffers: bool,
}

struct Bucket {
    params: Vec<usize>,
    dtype: DType,
    ready: usize,
    work: Option<Receiver<Reply>>,
}

struct Reducer {
    group: ProcessGroup,
    params: Vec<(String, Variable)>,
    buckets: Vec<Bucket>,
    bucket_of: Vec<usize>,
    ready: Vec<bool>,
    n_ready: usize,
    next_launch: usize,
    sync: bool,
    overlap: bool,
}

impl<M: Module> DistributedDataParallel<M> {
    /// Wraps `module` for data-parallel training on the group made by `init`, copying rank 0's
    /// parameters and buffers to every rank.
    ///
    /// **Panics** before `init` or when the broadcast fails; see [`try_new`](Self::try_new).
    #[track_caller]
    pub fn new(module: M) -> Self {
        match Self::try_new(module) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`new`](Self::new).
    pub fn try_new(module: M) -> Result<Self> {
        let group = default_or_err("DistributedDataParallel::new")?;
        Self::with_group(module, &group)
    }

    /// Wraps `module` on an explicit group.
    pub fn with_group(module: M, group: &ProcessGroup) -> Result<Self> {
        let mut params: Vec<(String, Variable)> = Vec::new();
        for (name, p) in module.named_parameters() {
            if p.requires_grad() && !params.iter().any(|(_, q)| q.same(&p)) {
                params.push((name, p));
            }
        }
        let state: Vec<Variable> =
            module.named_parameters().into_iter().chain(module.named_buffers()).map(|(_, v)| v).collect();
        broadcast_flat(group, &state, "DistributedDataParallel::new")?;
        let n = params.len();
        let reducer = Arc::new(Mutex::new(Reducer {
            group: group.clone(),
            params,
            buckets: Vec::new(),
            bucket_of: vec![0; n],
            ready: vec![false; n],
            n_ready: 0,
            next_launch: 0,
            sync: true,
            overlap: true,
        }));
        lock(&reducer).make_buckets(DEFAULT_BUCKET_MB);
        let weak: Weak<Mutex<Reducer>> = Arc::downgrade(&reducer);
        for (i, (_, p)) in lock(&reducer).params.iter().enumerate() {
            let w = weak.clone();
            p.register_post_accumulate_grad_hook(move |_| {
                if let Some(r) = w.upgrade() {
                    if let Err(e) = lock(&r).on_ready(i) {
                        panic!("DistributedDataParallel: gradient all-reduce failed: {e}");
                    }
                }
            });
        }
        Ok(DistributedDataParallel { module, group: group.clone(), reducer, broadcast_buffers: true })
    }

    /// Bucket size in megabytes (default 25, as PyTorch's `bucket_cap_mb`).
    #[must_use]
    pub fn bucket_cap_mb(self, mb: f64) -> Self {
        lock(&self.reducer).make_buckets(mb);
        self
    }

    /// Whether buckets are all-reduced as soon as they are ready during the backward (default
    /// true) or all at its end; off, communication does not overlap computation (for measuring).
    #[must_use]
    pub fn overlap_communication(self, on: bool) -> Self {
        lock(&self.reducer).overlap = on;
        self
    }

    /// Whether training-mode `forward` copies rank 0's buffers to every rank first (default true).
    #[must_use]
    pub fn broadcast_buffers(mut self, on: bool) -> Self {
        self.broadcast_buffers = on;
        self
    }

    /// Number of gradient buckets and the parameter names in each, in all-reduce order.
    pub fn buckets(&self) -> Vec<Vec<String>> {
        let r = lock(&self.reducer);
        r.buckets.iter().map(|b| b.params.iter().map(|&i| r.params[i].0.clone()).collect()).collect()
    }

    /// The wrapped model (PyTorch's `ddp.module`).
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The process group the gradients are averaged over.
    pub fn group(&self) -> &ProcessGroup {
        &self.group
    }

    /// Runs `f` (typically forward and backward) without averaging gradients: they only
    /// accumulate locally, and the first backward after it averages the accumulated sums
    /// (PyTorch's `with ddp.no_sync():`).
    pub fn no_sync<R>(&self, f: impl FnOnce() -> R) -> R {
        let before = std::mem::replace(&mut lock(&self.reducer).sync, false);
        struct Restore<'a>(&'a Mutex<Reducer>, bool);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                lock(self.0).sync = self.1;
            }
        }
        let _restore = Restore(&self.reducer, before);
        f()
    }

    /// Completes a gradient averaging that the backward left open because some parameters got
    /// no gradient (they count as zero). A no-op when every gradient arrived (the usual case).
    pub fn finish_gradient_sync(&self) -> Result<()> {
        let mut r = lock(&self.reducer);
        if r.n_ready == 0 {
            return Ok(());
        }
        r.finish()
    }

    /// Copies rank 0's buffers (batch-norm running statistics, ...) to every rank.
    pub fn sync_buffers(&self) -> Result<()> {
        let bufs: Vec<Variable> = self.module.named_buffers().into_iter().map(|(_, v)| v).collect();
        broadcast_flat(&self.group, &bufs, "DistributedDataParallel::sync_buffers")
    }
}

impl Reducer {
    /// Buckets of at most `cap_mb` megabytes, one dtype each, filled in reverse parameter order
    /// (the order a backward usually completes them).
    fn make_buckets(&mut self, cap_mb: f64) {
        let cap = (cap_mb.max(0.0) * 1024.0 * 1024.0) as usize;
        self.buckets.clear();
        let mut bytes = 0usize;
        for i in (0..self.params.len()).rev() {
            let data = self.params[i].1.data();
            let size = data.numel() * data.dtype().size_in_bytes();
            let fits = self.buckets.last().is_some_and(|b| b.dtype == data.dtype() && bytes + size <= cap.max(1));
            if !fits {
                self.buckets.push(Bucket { params: Vec::new(), dtype: data.dtype(), ready: 0, work: None });
                bytes = 0;
            }
            bytes += size;
            let b = self.buckets.len() - 1;
            self.buckets[b].params.push(i);
            self.bucket_of[i] = b;
        }
    }

    fn on_ready(&mut self, i: usize) -> Result<()> {
        if !self.sync || self.ready[i] || self.group.world_size() == 1 {
            return Ok(()); // alone, the local gradient is the average
        }
        self.ready[i] = true;
        self.n_ready += 1;
        self.buckets[self.bucket_of[i]].ready += 1;
        if self.overlap {
            while self.next_launch < self.buckets.len() {
                let b = &self.buckets[self.next_launch];
                if b.ready < b.params.len() {
                    break;
                }
                self.launch(self.next_launch)?;
                self.next_launch += 1;
            }
        }
        if self.n_ready == self.params.len() {
            self.finish()?;
        }
        Ok(())
    }

    /// Flattens bucket `b`'s gradients (zeros where there is none) and starts their all-reduce.
    fn launch(&mut self, b: usize) -> Result<()> {
        let bucket = &self.buckets[b];
        let mut flat: Option<Buf> = None;
        for &i in &bucket.params {
            let p = &self.params[i].1;
            let g = p.grad().unwrap_or_else(|| p.data().zeros_like());
            let part = to_buf(&g, "DistributedDataParallel")?;
            match (&mut flat, part) {
                (None, part) => flat = Some(part),
                (Some(Buf::F32(a)), Buf::F32(x)) => a.extend_from_slice(&x),
                (Some(Buf::F64(a)), Buf::F64(x)) => a.extend_from_slice(&x),
                (Some(_), _) => {
                    return Err(Error::InvalidArgument {
                        op: "DistributedDataParallel",
                        msg: format!("gradient of {} is not of its bucket's dtype {}", self.params[i].0, bucket.dtype),
                    })
                }
            }
        }
        let flat = flat.unwrap_or(Buf::F32(Vec::new()));
        let rx = self.group.submit(Job::AllReduce(flat, ReduceOp::Sum), "DistributedDataParallel all_reduce")?;
        self.buckets[b].work = Some(rx);
        Ok(())
    }

    /// Starts the buckets not started yet (in order), waits for all, writes the averages back.
    fn finish(&mut self) -> Result<()> {
        while self.next_launch < self.buckets.len() {
            self.launch(self.next_launch)?;
            self.next_launch += 1;
        }
        let size = self.group.world_size();
        for b in 0..self.buckets.len() {
            let Some(rx) = self.buckets[b].work.take() else { continue };
            let mut buf = self.group.recv(&rx, "DistributedDataParallel all_reduce")?;
            divide(&mut buf, size);
            let mut start = 0;
            for &i in &self.buckets[b].params {
                let p = &self.params[i].1;
                let data = p.data();
                let n = data.numel();
                let part = match &buf {
                    Buf::F32(v) => Buf::F32(v[start..start + n].to_vec()),
                    Buf::F64(v) => Buf::F64(v[start..start + n].to_vec()),
                    Buf::I64(v) => Buf::I64(v[start..start + n].to_vec()),
                };
                start += n;
                p.set_grad(Some(from_buf(part, data.shape(), &data.device())?));
            }
        }
        for b in &mut self.buckets {
            b.ready = 0;
        }
        self.ready.iter_mut().for_each(|r| *r = false);
        self.n_ready = 0;
        self.next_launch = 0;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Broadcasts the data of `vars` from rank 0, one flat message per dtype.
fn broadcast_flat(group: &ProcessGroup, vars: &[Variable], op: &'static str) -> Result<()> {
    for dtype in [DType::F32, DType::F64, DType::I64] {
        let of: Vec<&Variable> = vars.iter().filter(|v| v.dtype() == dtype).collect();
        if of.is_empty() {
            continue;
        }
        let parts: Vec<Tensor> = of.iter().map(|v| v.data().reshape(&[-1])).collect();
        let mut flat = Tensor::try_cat(&parts, 0)?;
        group.broadcast(&mut flat, 0).map_err(|e| Error::InvalidArgument { op, msg: e.to_string() })?;
        let mut start = 0;
        for v in of {
            let data = v.data();
            let n = data.numel();
            v.set_data(flat.narrow(0, start, n).reshape(data.shape()).to(&data.device()));
            start += n;
        }
    }
    Ok(())
}

impl<M: Module> Module for DistributedDataParallel<M> {
    /// The wrapped model's forward. In training mode (with gradients on) it first copies rank 0's
    /// buffers to every rank; it fails if the previous backward left the gradient averaging open.
    fn forward(&self, input: &Variable) -> Variable {
        {
            let r = lock(&self.reducer);
            if r.n_ready > 0 && r.n_ready < r.params.len() {
                let missing: Vec<&str> =
                    r.params.iter().zip(&r.ready).filter(|(_, ok)| !**ok).map(|((n, _), _)| n.as_str()).collect();
                panic!(
                    "DistributedDataParallel: the previous backward produced no gradient for parameters {missing:?}, so \
                     their averaging is still open: call finish_gradient_sync() after backward when some parameters \
                     are unused"
                );
            }
        }
        if self.broadcast_buffers && self.module.is_training() && ember_autograd::is_grad_enabled() {
            if let Err(e) = self.sync_buffers() {
                panic!("{e}");
            }
        }
        self.module.forward(input)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.module.children()
    }
    fn own_parameters(&self) -> Vec<(String, Variable)> {
        self.module.own_parameters()
    }
    fn own_buffers(&self) -> Vec<(String, Variable)> {
        self.module.own_buffers()
    }
    fn named_parameters(&self) -> Vec<(String, Variable)> {
        self.module.named_parameters()
    }
    fn named_buffers(&self) -> Vec<(String, Variable)> {
        self.module.named_buffers()
    }
    fn set_own_training(&self, on: bool) {
        self.module.set_own_training(on)
    }
    fn is_training(&self) -> bool {
        self.module.is_training()
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.module.state_dict()
    }
    fn load_state_dict(&self, state: &[(String, Tensor)]) -> Result<()> {
        self.module.load_state_dict(state)
    }
    /// Rank 0 writes the state dict (the replicas are equal); every rank returns rank 0's outcome.
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        let outcome =
            if self.group.rank() == 0 { ember_tensor::io::save(&self.state_dict(), path.as_ref()) } else { Ok(()) };
        let mut flag = Tensor::from_vec(vec![i64::from(outcome.is_err())], &[1]);
        self.group.broadcast(&mut flag, 0)?;
        match outcome {
            Err(e) => Err(e),
            Ok(()) if flag.to_vec::<i64>()[0] != 0 => Err(Error::Io(format!(
                "save_safetensors: rank 0 failed to write {} (see its error)",
                path.as_ref().display()
            ))),
            Ok(()) => Ok(()),
        }
    }
}
