//! The checks run under `mpirun` by the crate's tests: each returns `Err` describing the first
//! mismatch (the caller then aborts the job naming the rank).

use std::time::Duration;

use ember_autograd::Variable;
use ember_distributed::{self as dist, DistributedDataParallel, ProcessGroup, ReduceOp};
use ember_nn::{functional::cross_entropy, BatchNorm1d, Linear, Module, Relu, Sequential};
use ember_optim::Sgd;
use ember_tensor::{manual_seed, DType, Tensor};

type R = Result<(), String>;

fn ensure(ok: bool, what: impl FnOnce() -> String) -> R {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn e(err: ember_tensor::Error) -> String {
    err.to_string()
}

/// Every collective on F32/F64/I64, on sizes 0, 1, 7 and 100_003, with values that depend on the
/// rank and the index, against the values computed locally.
pub fn collectives() -> R {
    let pg = dist::init().map_err(e)?;
    let (rank, n) = (pg.rank(), pg.world_size());
    for size in [0usize, 1, 7, 100_003] {
        let val = |r: usize, i: usize| ((r * 31 + i * 7) % 101) as f64 - 50.0;
        let shape = [size];
        for dtype in [DType::F32, DType::F64, DType::I64] {
            let mine: Vec<f64> = (0..size).map(|i| val(rank, i)).collect();
            let make = |v: Vec<f64>| Tensor::from_vec(v, &shape).to_dtype(dtype);
            let sum: Vec<f64> = (0..size).map(|i| (0..n).map(|r| val(r, i)).sum()).collect();
            let max: Vec<f64> = (0..size).map(|i| (0..n).map(|r| val(r, i)).fold(f64::MIN, f64::max)).collect();
            let mut t = make(mine.clone());
            pg.all_reduce(&mut t, ReduceOp::Sum).map_err(e)?;
            ensure(t.dtype() == dtype && t.shape() == shape, || format!("all_reduce changed {dtype} {shape:?}"))?;
            ensure(t.to_vec::<f64>() == sum, || format!("all_reduce sum of {size} {dtype}"))?;
            let mut t = make(mine.clone());
            dist::all_reduce(&mut t, ReduceOp::Max).map_err(e)?;
            ensure(t.to_vec::<f64>() == max, || format!("all_reduce max of {size} {dtype}"))?;
            if dtype.is_float() {
                let mut t = make(mine.clone());
                pg.all_reduce(&mut t, ReduceOp::Mean).map_err(e)?;
                let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
                let close = t.to_vec::<f64>().iter().zip(&mean).all(|(a, b)| (a - b).abs() < 1e-5);
                ensure(close, || format!("all_reduce mean of {size} {dtype}"))?;
            } else {
                let mut t = make(mine.clone());
                ensure(pg.all_reduce(&mut t, ReduceOp::Mean).is_err(), || "Mean on I64 must fail".into())?;
            }
            let work = pg.all_reduce_async(&make(mine.clone()), ReduceOp::Sum).map_err(e)?;
            ensure(work.wait().map_err(e)?.to_vec::<f64>() == sum, || format!("all_reduce_async of {size} {dtype}"))?;
            // broadcast from the last rank
            let mut t = make(mine.clone());
            pg.broadcast(&mut t, n - 1).map_err(e)?;
            let want: Vec<f64> = (0..size).map(|i| val(n - 1, i)).collect();
            ensure(t.to_vec::<f64>() == want, || format!("broadcast of {size} {dtype}"))?;
            // all_gather: every rank's tensor in rank order
            let all = dist::all_gather(&make(mine.clone()).reshape(&[1, size])).map_err(e)?;
            ensure(all.len() == n, || "all_gather count".into())?;
            for (r, t) in all.iter().enumerate() {
                let want: Vec<f64> = (0..size).map(|i| val(r, i)).collect();
                ensure(t.shape() == [1, size] && t.to_vec::<f64>() == want, || format!("all_gather part {r}"))?;
            }
            // reduce_scatter: input [n * 3, size], this rank gets rows 3 * rank .. 3 * rank + 3 of the sum
            let rows: Vec<f64> = (0..n * 3 * size).map(|k| val(rank, k)).collect();
            let input = Tensor::from_vec(rows, &[n * 3, size]).to_dtype(dtype);
            let got = pg.reduce_scatter(&input, ReduceOp::Sum).map_err(e)?;
            let want: Vec<f64> =
                (rank * 3 * size..(rank + 1) * 3 * size).map(|k| (0..n).map(|r| val(r, k)).sum()).collect();
            ensure(got.shape() == [3, size] && got.to_vec::<f64>() == want, || {
                format!("reduce_scatter of {size} {dtype}")
            })?;
        }
    }
    // errors: bad src rank, Bool dtype, bad reduce_scatter shape, mismatched all_gather counts
    let mut t = Tensor::zeros(&[2]);
    ensure(pg.broadcast(&mut t, n).is_err(), || "broadcast from a rank out of range must fail".into())?;
    let mut b = Tensor::zeros(&[2]).eq(&Tensor::zeros(&[2]));
    let msg = pg.all_reduce(&mut b, ReduceOp::Sum).map_err(|x| x.to_string()).err().unwrap_or_default();
    ensure(msg.contains("all_reduce") && msg.contains("Bool"), || format!("Bool all_reduce error: {msg:?}"))?;
    if n > 1 {
        let bad = pg.reduce_scatter(&Tensor::zeros(&[n + 1]), ReduceOp::Sum).map_err(|x| x.to_string()).err();
        ensure(bad.is_some_and(|m| m.contains("multiple of the world size")), || "reduce_scatter shape check".into())?;
        let msg = pg.all_gather(&Tensor::zeros(&[rank + 1])).map_err(|x| x.to_string()).err().unwrap_or_default();
        ensure(msg.contains("different element counts"), || format!("all_gather count check: {msg:?}"))?;
    }
    pg.barrier().map_err(e)?;
    println!("[rank {rank}] collectives ok");
    Ok(())
}

/// The small model of the equality check: Linear 5-16-ReLU-3.
fn small_model() -> Sequential {
    Sequential::new().add(Linear::new(5, 16)).add(Relu::new()).add(Linear::new(16, 3))
}

fn flat_params(m: &impl Module) -> Vec<f32> {
    m.parameters().iter().flat_map(|p| p.data().to_vec::<f32>()).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The global batch of step `step`: 12 samples (every world of 1, 2, 3, 4 or 6 ranks splits it).
fn batch(step: usize) -> (Tensor, Tensor) {
    manual_seed(1000 + step as u64);
    let x = Tensor::randn(&[12, 5]);
    let y = Tensor::from_vec((0..12).map(|i| ((i * 7 + step) % 3) as i64).collect::<Vec<i64>>(), &[12]);
    (x, y)
}

/// Data-parallel training on `world_size` shards equals one process on the whole batches.
pub fn ddp(dir: &str) -> R {
    let pg = dist::init().map_err(e)?;
    let (rank, n) = (pg.rank(), pg.world_size());
    if !12usize.is_multiple_of(n) {
        return Err(format!("the ddp check needs a world size dividing 12, got {n}"));
    }
    let local = 12 / n;
    // Each rank initialises differently: DistributedDataParallel must copy rank 0's parameters.
    manual_seed(rank as u64);
    let ddp = DistributedDataParallel::new(small_model()).bucket_cap_mb(0.0002); // ~200 bytes: 3+ buckets
    ensure(ddp.buckets().len() >= 3, || format!("expected several buckets, got {:?}", ddp.buckets()))?;
    let mut opt = Sgd::new(ddp.parameters(), 0.1).momentum(0.9);
    let shard = |t: &Tensor| t.narrow(0, rank * local, local);
    let loss_of =
        |m: &dyn Module, x: &Tensor, y: &Tensor| cross_entropy(&m.forward(&Variable::from(x)), &Variable::from(y));
    for step in 0..20 {
        opt.zero_grad();
        if step % 5 == 4 {
            // gradient accumulation: two micro-batches, the first without averaging
            let (x, y) = batch(step);
            let (x2, y2) = batch(step + 100);
            ddp.no_sync(|| loss_of(&ddp, &shard(&x), &shard(&y)).backward());
            loss_of(&ddp, &shard(&x2), &shard(&y2)).backward();
        } else {
            let (x, y) = batch(step);
            loss_of(&ddp, &shard(&x), &shard(&y)).backward();
        }
        opt.step();
    }
    let mine = flat_params(&ddp);
    // every rank ends with rank 0's parameters
    let mut from0 = Tensor::from_vec(mine.clone(), &[mine.len()]);
    pg.broadcast(&mut from0, 0).map_err(e)?;
    let d = max_diff(&mine, &from0.to_vec::<f32>());
    ensure(d <= 1e-6, || format!("replicas differ from rank 0 by {d}"))?;
    if rank == 0 {
        // the reference: one process, rank 0's initial parameters, whole batches
        manual_seed(0);
        let reference = small_model();
        let mut opt = Sgd::new(reference.parameters(), 0.1).momentum(0.9);
        for step in 0..20 {
            opt.zero_grad();
            let (x, y) = batch(step);
            loss_of(&reference, &x, &y).backward();
            if step % 5 == 4 {
                let (x2, y2) = batch(step + 100);
                loss_of(&reference, &x2, &y2).backward();
            }
            opt.step();
        }
        let d = max_diff(&mine, &flat_params(&reference));
        println!("[rank 0] {n} processes vs 1 on the concatenated batches, 20 steps: max |diff| = {d:.2e}");
        ensure(d <= 1e-5, || format!("data-parallel parameters differ from one process's by {d}"))?;
    }
    buffers_and_unused(&pg)?;
    checkpoint(&pg, &ddp, dir)?;
    println!("[rank {rank}] ddp ok");
    Ok(())
}

/// Buffers come from rank 0; a parameter without gradient needs `finish_gradient_sync`.
fn buffers_and_unused(pg: &ProcessGroup) -> R {
    let rank = pg.rank();
    let bn = BatchNorm1d::new(4);
    for (_, b) in bn.named_buffers() {
        if b.dtype().is_float() {
            b.set_data(b.data().ones_like() * (rank as f64 + 2.0));
        }
    }
    let model = Sequential::new().add(Linear::new(3, 4)).add(bn).add(Linear::new(4, 2)).add(Linear::new(2, 2));
    // the last layer is never used: forward goes through the first three only
    struct FirstThree(Sequential);
    impl Module for FirstThree {
        fn forward(&self, x: &Variable) -> Variable {
            let kids = self.0.children();
            kids[..3].iter().fold(x.clone(), |h, (_, m)| m.forward(&h))
        }
        fn children(&self) -> Vec<(String, &dyn Module)> {
            self.0.children()
        }
    }
    let ddp = DistributedDataParallel::new(FirstThree(model));
    for (name, b) in ddp.named_buffers() {
        if b.dtype().is_float() {
            ensure(b.to_vec::<f32>().iter().all(|&v| v == 2.0), || format!("buffer {name} not rank 0's"))?;
        }
    }
    let x = Variable::from(Tensor::randn(&[4, 3]));
    ddp.forward(&x).sum().backward();
    ddp.finish_gradient_sync().map_err(e)?;
    let ok = ddp.parameters().iter().take(4).all(|p| p.grad().is_some());
    ensure(ok, || "finish_gradient_sync left a used parameter without gradient".into())?;
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ddp.forward(&x)));
    ensure(again.is_ok(), || "forward after finish_gradient_sync must work".into())
}

/// Rank 0 saves, every rank loads into a fresh model and gets the same parameters.
fn checkpoint(pg: &ProcessGroup, ddp: &DistributedDataParallel<Sequential>, dir: &str) -> R {
    std::fs::create_dir_all(dir).map_err(|x| format!("{dir}: {x}"))?;
    let path = format!("{dir}/ddp-{}.safetensors", pg.world_size());
    ddp.save_safetensors(&path).map_err(e)?;
    let fresh = small_model();
    fresh.load_safetensors(&path).map_err(e)?;
    ensure(flat_params(&fresh) == flat_params(ddp), || "a loaded checkpoint differs".into())?;
    let bad = ddp.save_safetensors("/nonexistent-dir/x.safetensors").map_err(|x| x.to_string()).err();
    ensure(bad.is_some(), || format!("rank {}: a failed save on rank 0 must fail every rank", pg.rank()))
}

/// How [`fail`] makes its rank fail.
pub enum Failure {
    /// A panic (the panic hook aborts the job).
    Panic,
    /// An error returned to `main`, which calls `ProcessGroup::abort`.
    Error,
    /// `std::process::exit(3)` without finalising MPI (the launcher ends the job).
    Exit,
}

/// Trains with DDP; rank `bad` fails at step 5 while the others go on into the next all-reduce.
pub fn fail(bad: usize, how: Failure) -> R {
    let pg = dist::init().map_err(e)?;
    manual_seed(0);
    let ddp = DistributedDataParallel::new(small_model());
    let mut opt = Sgd::new(ddp.parameters(), 0.1);
    for step in 0..1000 {
        if step == 5 && pg.rank() == bad {
            match how {
                Failure::Panic => panic!("injected failure at step {step}"),
                Failure::Error => return Err(format!("injected error at step {step}")),
                Failure::Exit => std::process::exit(3),
            }
        }
        let (x, y) = batch(step);
        opt.zero_grad();
        cross_entropy(&ddp.forward(&Variable::from(x)), &Variable::from(y)).backward();
        opt.step();
    }
    Err("the failing rank did not stop the job".into())
}

/// Rank `bad` never joins the all-reduce; the others' collectives time out (after
/// `EMBER_DIST_TIMEOUT`) and end the job.
pub fn timeout(bad: usize) -> R {
    let pg = dist::init().map_err(e)?;
    if pg.rank() == bad {
        std::thread::sleep(Duration::from_secs(600));
        return Ok(());
    }
    let mut t = Tensor::ones(&[3]);
    pg.all_reduce(&mut t, ReduceOp::Sum).map_err(e)?;
    Err("an all-reduce without every rank returned".into())
}

/// Without a launcher: a group of one, and a clear error when `WORLD_SIZE` asks for more.
pub fn single() -> R {
    if std::env::var("WORLD_SIZE").is_ok_and(|v| v != "1") {
        let msg = dist::init().map(|_| ()).map_err(e).err().unwrap_or_default();
        println!("{msg}");
        return ensure(msg.contains("mpirun -np"), || format!("expected a launcher error, got {msg:?}"));
    }
    let pg = dist::init().map_err(e)?;
    ensure(pg.rank() == 0 && pg.world_size() == 1 && pg.local_rank() == 0, || format!("{pg:?}"))?;
    let mut t = Tensor::from_vec(vec![1.5f64, -2.0], &[2]);
    pg.all_reduce(&mut t, ReduceOp::Mean).map_err(e)?;
    ensure(t.to_vec::<f64>() == [1.5, -2.0], || "single all_reduce".into())?;
    println!("single ok: {pg:?}, thread level {}", pg.thread_level());
    Ok(())
}
