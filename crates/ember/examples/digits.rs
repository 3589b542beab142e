//! Trains a small CNN on the 8x8 handwritten digits (1797 images, 10 classes) and reports the
//! test accuracy: `cargo run --release --example digits`.
//!
//! The data (crates/ember/data/digits.csv.gz, see its README) has 64 pixel values in 0..16 and the
//! label per line. The program scales pixels to [0, 1], splits 80/20 with the classes stratified
//! (seeded), trains Conv(1->16) ReLU MaxPool Conv(16->32) ReLU MaxPool Linear(128->10) with Adam
//! (lr 1e-3, batch 32), prints the loss and test accuracy per epoch, and writes the weights
//! (safetensors, loadable by PyTorch) and loss/accuracy curves (PNG) to the output folder.
//!
//! Flags: `--epochs N` (30), `--device cpu|gpu|best` (best), `--out DIR` (target/digits),
//! `--min-accuracy A` (exit with status 1 if the final test accuracy is below A, e.g. 0.97),
//! `--data PATH` (the CSV, plain or gzip), `--amp` (mixed precision: the forward pass and the
//! loss run under `ember::autocast`, BF16 on the CPU and F16 on a GPU, as PyTorch's defaults per
//! device; the backward pass and the step go through `optim::GradScaler`; the parameters stay F32).
//!
//! Data-parallel: built with `--features distributed` (MPI installed), `mpirun -np N
//! target/release/examples/digits --distributed` trains on N processes: each rank takes its shard
//! of every epoch (`DistributedSampler`) in batches of 32 / N, so the global batch stays 32, and
//! `DistributedDataParallel` averages the gradients. Rank 0 prints and writes the outputs.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ember::data::{self, DataLoader, Dataset, DistributedSampler, TensorDataset};
use ember::plot::LineChart;
use ember::prelude::*;

/// Command-line options.
struct Args {
    epochs: usize,
    device: String,
    out: PathBuf,
    min_accuracy: Option<f64>,
    data: PathBuf,
    distributed: bool,
    amp: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        epochs: 30,
        device: "best".into(),
        out: PathBuf::from("target/digits"),
        min_accuracy: None,
        data: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz")),
        distributed: false,
        amp: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(
                "usage: digits [--epochs N] [--device cpu|gpu|best] [--out DIR] [--min-accuracy A] [--data PATH] \
                 [--distributed] [--amp]"
                    .into(),
            );
        }
        if flag == "--distributed" {
            a.distributed = true;
            continue;
        }
        if flag == "--amp" {
            a.amp = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag}: expected {what}, got {value:?}");
        match flag.as_str() {
            "--epochs" => a.epochs = value.parse().map_err(|_| bad("a whole number"))?,
            "--device" if ["cpu", "gpu", "best"].contains(&value.as_str()) => a.device = value,
            "--device" => return Err(bad("cpu, gpu or best")),
            "--out" => a.out = value.into(),
            "--min-accuracy" => {
                let v: f64 = value.parse().map_err(|_| bad("a fraction such as 0.97"))?;
                a.min_accuracy = Some(if v > 1.0 { v / 100.0 } else { v }); // 97 means 97%
            }
            "--data" => a.data = value.into(),
            _ => return Err(format!("unknown flag {flag} (try --help)")),
        }
    }
    Ok(a)
}

/// The network: two 3x3 convolutions with pooling (8x8 -> 4x4 -> 2x2), then a linear classifier.
fn model() -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Conv2d::new(1, 16, 3).padding(1))
        .add(nn::Relu::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Conv2d::new(16, 32, 3).padding(1))
        .add(nn::Relu::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Flatten::new())
        .add(nn::Linear::new(32 * 2 * 2, 10))
}

/// Runs `f` under autocast to `amp` (the 16-bit dtype) when given, else as it is.
fn maybe_autocast<R>(amp: Option<DType>, f: impl FnOnce() -> R) -> R {
    match amp {
        Some(dtype) => ember::autocast(dtype, f),
        None => f(),
    }
}

/// Mean cross-entropy and accuracy of `model` on a whole dataset, without recording a graph
/// (under autocast to `amp` when given, as the training forward).
fn evaluate(model: &impl Module, ds: &TensorDataset, device: &Device, amp: Option<DType>) -> (f64, f64) {
    no_grad(|| {
        let y = ds.targets().to(device);
        let x = Variable::from(ds.inputs().to(device));
        let (logits, loss) = maybe_autocast(amp, || {
            let logits = model.forward(&x);
            let loss = nn::functional::cross_entropy(&logits, &Variable::from(y.clone()));
            (logits, loss)
        });
        let correct = logits.data().argmax(1, false).eq(&y).to_dtype(DType::F32).sum();
        (loss.data().item::<f32>() as f64, correct.item::<f32>() as f64 / ds.len() as f64)
    })
}

/// `[#####-----]`-style progress on one terminal line.
fn progress(epoch: usize, epochs: usize, done: usize, total: usize, loss: f64) {
    const W: usize = 30;
    let fill = done * W / total.max(1);
    let bar = format!("{}{}", "#".repeat(fill), "-".repeat(W - fill));
    eprint!("\repoch {epoch:>3}/{epochs} [{bar}] {done:>3}/{total} loss {loss:.4}");
    let _ = std::io::stderr().flush();
}

/// This process's place in a data-parallel run (rank 0 of 1 when training alone).
struct Place {
    rank: usize,
    world: usize,
}

/// With the `distributed` feature: joins the MPI job, wraps the model in
/// `DistributedDataParallel`, sums statistics over the ranks, ends the job on an error.
#[cfg(feature = "distributed")]
mod dist {
    use ember::distributed::{self, DistributedDataParallel, ReduceOp};
    use ember::prelude::*;

    pub fn join(on: bool) -> ember::Result<super::Place> {
        if !on {
            return Ok(super::Place { rank: 0, world: 1 });
        }
        let pg = distributed::init()?;
        Ok(super::Place { rank: pg.rank(), world: pg.world_size() })
    }

    pub fn wrap(m: nn::Sequential, on: bool) -> Box<dyn Module> {
        if on {
            Box::new(DistributedDataParallel::new(m))
        } else {
            Box::new(m)
        }
    }

    pub fn sum(v: [f64; 2], on: bool) -> ember::Result<[f64; 2]> {
        if !on {
            return Ok(v);
        }
        let mut t = Tensor::from_vec(v.to_vec(), &[2]);
        distributed::all_reduce(&mut t, ReduceOp::Sum)?;
        let s = t.to_vec::<f64>();
        Ok([s[0], s[1]])
    }

    pub fn fail(msg: &str) {
        if let Some(pg) = distributed::default_group().filter(|g| g.world_size() > 1) {
            pg.abort(1, msg);
        }
    }
}

/// Without the `distributed` feature, `--distributed` is refused.
#[cfg(not(feature = "distributed"))]
mod dist {
    use ember::prelude::*;

    pub fn join(on: bool) -> ember::Result<super::Place> {
        if on {
            return Err(ember::Error::InvalidArgument {
                op: "digits",
                msg: "--distributed needs a build with `--features distributed` (and MPI installed)".into(),
            });
        }
        Ok(super::Place { rank: 0, world: 1 })
    }

    pub fn wrap(m: nn::Sequential, _on: bool) -> Box<dyn Module> {
        Box::new(m)
    }

    pub fn sum(v: [f64; 2], _on: bool) -> ember::Result<[f64; 2]> {
        Ok(v)
    }

    pub fn fail(_msg: &str) {}
}

fn run(args: &Args) -> ember::Result<f64> {
    let Place { rank, world } = dist::join(args.distributed)?;
    let lead = rank == 0;
    ember::manual_seed(0);
    let device = match args.device.as_str() {
        "cpu" => Device::Cpu,
        "gpu" => Device::gpu()?,
        _ => Device::best(),
    };

    // Data: [1797, 65] -> images [n, 1, 8, 8] in [0, 1] and labels [n]; stratified 80/20 split.
    let table = data::csv::load(&args.data, false)?;
    let (pixels, labels) = data::csv::split_label(&table, -1)?;
    let images = (pixels / 16.0).reshape(&[-1, 1, 8, 8]);
    let (train, test) = data::stratified_split(&TensorDataset::new(images, labels), 0.2, 0)?;
    // Data-parallel: each rank its shard of every epoch, in batches of 32 / world (global 32).
    let sampler = DistributedSampler::new(&train, world, rank).seed(0);
    let loader = if args.distributed {
        DataLoader::new(&train, (32 / world).max(1)).sampler(&sampler)
    } else {
        DataLoader::new(&train, 32).shuffle(true)
    };
    if lead {
        println!(
            "digits: {} train / {} test images of 8x8, 10 classes; device {device}; {} epochs of {} batches{}",
            train.len(),
            test.len(),
            args.epochs,
            loader.len(),
            if args.distributed {
                format!(" of {} per rank on {world} ranks", loader.batch_size())
            } else {
                String::new()
            }
        );
    }

    let model = model();
    model.to_device(&device);
    if lead {
        println!("model: {} parameters", model.num_parameters());
    }
    let model = dist::wrap(model, args.distributed);
    let mut opt = optim::Adam::new(model.parameters(), 1e-3);
    // Mixed precision: PyTorch's autocast dtype per device (bfloat16 on the CPU, float16 on CUDA)
    // and dynamic loss scaling (needed for F16's narrow range; harmless for BF16).
    let amp = args.amp.then(|| if device.is_cpu() { DType::BF16 } else { DType::F16 });
    let mut scaler = optim::GradScaler::new().enabled(args.amp);
    if lead && args.amp {
        println!("mixed precision: autocast to {} with GradScaler", amp.expect("set with --amp"));
    }
    let show_bar = lead && std::io::stderr().is_terminal();
    let (mut train_losses, mut test_losses, mut accuracies) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    for epoch in 1..=args.epochs {
        let t0 = Instant::now();
        model.train();
        sampler.set_epoch(epoch as u64);
        let (mut sum, mut seen) = (0.0, 0usize);
        for (step, (x, y)) in loader.iter().enumerate() {
            let (x, target) = (Variable::from(x.to(&device)), Variable::from(y.to(&device)));
            let loss = maybe_autocast(amp, || nn::functional::cross_entropy(&model.forward(&x), &target));
            opt.zero_grad();
            // without --amp the scaler is disabled: scale() is the identity and step() steps
            scaler.scale(&loss).backward();
            scaler.step(&mut opt);
            scaler.update();
            sum += loss.data().item::<f32>() as f64 * y.shape()[0] as f64;
            seen += y.shape()[0];
            if show_bar {
                progress(epoch, args.epochs, step + 1, loader.len(), sum / seen as f64);
            }
        }
        let [sum, seen] = dist::sum([sum, seen as f64], args.distributed)?; // over the ranks
        let seen = seen as usize;
        model.eval();
        let (test_loss, acc) = evaluate(&model, &test, &device, amp);
        if show_bar {
            eprint!("\r\x1b[2K");
        }
        if lead {
            println!(
                "epoch {epoch:>3}/{}  train loss {:.4}  test loss {test_loss:.4}  test accuracy {:.2}%  ({:.2}s)",
                args.epochs,
                sum / seen as f64,
                acc * 100.0,
                t0.elapsed().as_secs_f64()
            );
        }
        train_losses.push(sum / seen as f64);
        test_losses.push(test_loss);
        accuracies.push(acc * 100.0);
    }
    let acc = accuracies.last().copied().unwrap_or(0.0) / 100.0;
    if !lead {
        return Ok(acc); // every rank holds the same model; rank 0 reports and writes
    }
    println!("final test accuracy {:.2}% after {:.1}s", acc * 100.0, start.elapsed().as_secs_f64());

    std::fs::create_dir_all(&args.out).map_err(|e| ember::Error::Io(format!("{}: {e}", args.out.display())))?;
    let weights = args.out.join("digits_cnn.safetensors");
    model.save_safetensors(&weights)?;
    let chart = LineChart::new(640, 400).title("digits CNN: cross-entropy loss").x_label("epoch");
    chart.series("train", &train_losses).series("test", &test_losses).save_png(args.out.join("loss.png"))?;
    let chart = LineChart::new(640, 400).title("digits CNN: test accuracy, percent").x_label("epoch");
    chart.series("test accuracy", &accuracies).save_png(args.out.join("accuracy.png"))?;
    println!("wrote {}, loss.png and accuracy.png", weights.display());
    Ok(acc)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(acc) => match args.min_accuracy {
            Some(min) if acc < min => {
                eprintln!("FAILED: test accuracy {:.2}% is below --min-accuracy {:.2}%", acc * 100.0, min * 100.0);
                ExitCode::FAILURE
            }
            _ => ExitCode::SUCCESS,
        },
        Err(e) => {
            dist::fail(&format!("error: {e}")); // ends every rank of a data-parallel job
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
