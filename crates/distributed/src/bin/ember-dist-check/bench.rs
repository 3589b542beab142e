//! `ember-dist-check bench allreduce|mlp`: the measurements of `docs/distributed.md`, medians of
//! alternated rounds (the machine is shared and noisy). Run in release under `mpirun`.

use std::time::Instant;

use ember_autograd::Variable;
use ember_distributed::{self as dist, DistributedDataParallel, ProcessGroup, ReduceOp};
use ember_nn::{functional::cross_entropy, Linear, Module, Relu, Sequential};
use ember_optim::Adam;
use ember_tensor::{manual_seed, Tensor};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn e(err: ember_tensor::Error) -> String {
    err.to_string()
}

/// Dispatches on the first argument.
pub fn bench(args: &[String]) -> Result<(), String> {
    let pg = dist::init().map_err(e)?;
    match args.first().map(String::as_str) {
        Some("allreduce") => allreduce(&pg),
        Some("mlp") => mlp(&pg),
        _ => Err("bench allreduce|mlp".into()),
    }
}

/// Ember's `all_reduce` on an f32 tensor vs the plain `MPI_Allreduce` on a `Vec<f32>` of the same
/// size, alternating rounds.
fn allreduce(pg: &ProcessGroup) -> Result<(), String> {
    if pg.rank() == 0 {
        println!("| f32 elements | MiB | plain MPI_Allreduce ms | Ember all_reduce ms | overhead | Ember algbw GB/s |");
        println!("|---:|---:|---:|---:|---:|---:|");
    }
    for n in [1usize << 10, 1 << 16, 1 << 20, 1 << 22, 6_553_600] {
        let iters = if n <= 1 << 16 { 200 } else { 10 };
        let (mut raw, mut ember) = (Vec::new(), Vec::new());
        let mut t = Tensor::ones(&[n]);
        pg.all_reduce(&mut t, ReduceOp::Sum).map_err(e)?; // warm-up
        for _ in 0..7 {
            raw.push(pg.bench_raw_all_reduce(n, iters).map_err(e)?);
            pg.barrier().map_err(e)?;
            let t0 = Instant::now();
            for _ in 0..iters {
                pg.all_reduce(&mut t, ReduceOp::Sum).map_err(e)?;
            }
            ember.push(t0.elapsed().as_secs_f64() / iters as f64);
            pg.barrier().map_err(e)?;
        }
        let (raw, ember) = (median(&mut raw), median(&mut ember));
        if pg.rank() == 0 {
            let bytes = (n * 4) as f64;
            println!(
                "| {n} | {:.2} | {:.3} | {:.3} | {:+.0}% | {:.2} |",
                bytes / 1048576.0,
                raw * 1e3,
                ember * 1e3,
                (ember / raw - 1.0) * 100.0,
                bytes / ember / 1e9
            );
        }
    }
    Ok(())
}

fn mlp_model() -> Sequential {
    manual_seed(0);
    Sequential::new()
        .add(Linear::new(784, 512))
        .add(Relu::new())
        .add(Linear::new(512, 512))
        .add(Relu::new())
        .add(Linear::new(512, 10))
}

/// The mlp-step workload (global batch 128 split over the ranks, Adam): milliseconds per step
/// for the plain model (one process only), DDP with overlap and 1 MB buckets, DDP with the
/// all-reduces all at the end of backward (same buckets), and DDP with the default 25 MB buckets.
fn mlp(pg: &ProcessGroup) -> Result<(), String> {
    let (rank, n) = (pg.rank(), pg.world_size());
    let local = 128 / n;
    manual_seed(7);
    let x = Tensor::randn(&[128, 784]).narrow(0, rank * local, local);
    let y = Tensor::randint(0, 10, &[128]).narrow(0, rank * local, local);
    let (x, y) = (Variable::from(x), Variable::from(y));
    let plain = mlp_model();
    let overlap = DistributedDataParallel::new(mlp_model()).bucket_cap_mb(1.0);
    let at_end = DistributedDataParallel::new(mlp_model()).bucket_cap_mb(1.0).overlap_communication(false);
    let big = DistributedDataParallel::new(mlp_model());
    let models: Vec<(&str, &dyn Module)> = vec![
        ("plain model (no DDP)", &plain),
        ("DDP, 1 MB buckets, overlap", &overlap),
        ("DDP, 1 MB buckets, all-reduce after backward", &at_end),
        ("DDP, one 25 MB bucket", &big),
    ];
    let mut opts: Vec<Adam> = models.iter().map(|(_, m)| Adam::new(m.parameters(), 1e-3)).collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); models.len()];
    let step = |m: &dyn Module, opt: &mut Adam| {
        opt.zero_grad();
        cross_entropy(&m.forward(&x), &y).backward();
        opt.step();
    };
    for round in 0..12 {
        for (k, (_, m)) in models.iter().enumerate() {
            pg.barrier().map_err(e)?;
            let t0 = Instant::now();
            for _ in 0..5 {
                step(*m, &mut opts[k]);
            }
            if round > 1 {
                times[k].push(t0.elapsed().as_secs_f64() / 5.0);
            }
        }
    }
    let mut grads = Tensor::zeros(&[overlap.parameters().iter().map(|p| p.numel()).sum::<usize>()]);
    let mut comm = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        pg.all_reduce(&mut grads, ReduceOp::Sum).map_err(e)?;
        comm.push(t0.elapsed().as_secs_f64());
    }
    if rank == 0 {
        println!("mlp-step, {n} process(es), local batch {local} (global 128), Adam; median ms per step:");
        for (k, (name, _)) in models.iter().enumerate() {
            println!("  {name:<48} {:.2}", median(&mut times[k]) * 1e3);
        }
        println!("  all_reduce of all {} gradients alone        {:.2}", grads.numel(), median(&mut comm) * 1e3);
    }
    Ok(())
}
