//! `cargo xtask bench [--vs-torch] [--device gpu] [--only NAME]`: the standard workloads of
//! `shared/API.md` in release (and the digits example end to end, `bench_digits`), optionally alternating with the same workloads in PyTorch
//! (`bench/torch_ref.py`), with a table of medians and Ember/PyTorch ratios; results in
//! `target/bench/results.json`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::bench_digits;

/// Set once the CPU line has been printed.
static CPU_SHOWN: std::sync::OnceLock<()> = std::sync::OnceLock::new();

/// One workload result as printed by either side.
#[derive(Clone, Debug)]
struct Row {
    name: String,
    device: String,
    unit: String,
    median: f64,
    min: f64,
    max: f64,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\": "))? + key.len() + 4;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('"'))
}

fn parse(out: &str) -> Vec<Row> {
    out.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| {
            Some(Row {
                name: field(l, "name")?.to_string(),
                device: field(l, "device")?.to_string(),
                unit: field(l, "unit")?.to_string(),
                median: field(l, "median")?.parse().ok()?,
                min: field(l, "min")?.parse().ok()?,
                max: field(l, "max")?.parse().ok()?,
            })
        })
        .collect()
}

fn run(root: &Path, cmd: &mut Command) -> Vec<Row> {
    match cmd.current_dir(root).output() {
        Ok(o) => {
            if !o.status.success() {
                eprintln!("bench: {cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
            }
            let out = String::from_utf8_lossy(&o.stdout);
            // the CPU's model and vector width (ember-bench prints it once per run)
            if let Some(cpu) = out.lines().find(|l| l.starts_with("cpu: ")) {
                if CPU_SHOWN.set(()).is_ok() {
                    println!("{cpu}");
                }
            }
            parse(&out)
        }
        Err(e) => {
            eprintln!("bench: cannot run {cmd:?}: {e}");
            Vec::new()
        }
    }
}

/// The digits example end to end on the CPU, alternating with PyTorch's version: the faster of two
/// runs each, as rows `digits-e2e` (seconds); the accuracies are printed.
fn digits(root: &Path, torch_ok: bool, ember: &mut BTreeMap<String, Row>, torch: &mut BTreeMap<String, Row>) {
    if !bench_digits::build(root) {
        eprintln!("bench: building the digits example failed");
        return;
    }
    let rounds = if torch_ok { 2 } else { 1 };
    let (mut e, mut t) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        e.extend(bench_digits::ember(root));
        if torch_ok {
            t.extend(bench_digits::torch(root));
        }
    }
    let row = |runs: &[bench_digits::DigitsRun], who: &str, m: &mut BTreeMap<String, Row>| {
        let secs: Vec<f64> = runs.iter().map(|r| r.secs).collect();
        let Some(best) = secs.iter().copied().reduce(f64::min) else { return };
        let accs: Vec<String> = runs.iter().map(|r| format!("{:.2}%", r.accuracy)).collect();
        println!("digits-e2e {who}: wall {secs:.2?} s, final test accuracy {}", accs.join(", "));
        let max = secs.iter().copied().fold(best, f64::max);
        let device = "cpu".to_string();
        m.insert(
            "digits-e2e".into(),
            Row { name: "digits-e2e".into(), device, unit: "s".into(), median: best, min: best, max },
        );
    };
    row(&e, "ember", ember);
    row(&t, "pytorch", torch);
}

/// Runs the benchmarks; returns false when the build or a run failed.
pub fn bench(root: &Path, args: &[String]) -> bool {
    let vs_torch = args.iter().any(|a| a == "--vs-torch");
    let pass: Vec<String> = args.iter().filter(|a| *a != "--vs-torch").cloned().collect();
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "ember-bench"])
        .current_dir(root)
        .status();
    if !build.map(|s| s.success()).unwrap_or(false) {
        return false;
    }
    let exe = root.join("target/release/ember-bench");
    let torch_ok =
        vs_torch && Command::new("python3").args(["-c", "import torch"]).status().map(|s| s.success()).unwrap_or(false);
    if vs_torch && !torch_ok {
        eprintln!("bench: --vs-torch asked but `python3 -c 'import torch'` fails; running Ember alone");
    }
    let mut ember: BTreeMap<String, Row> = BTreeMap::new();
    let mut torch: BTreeMap<String, Row> = BTreeMap::new();
    // alternate: Ember, PyTorch, Ember, PyTorch; keep the better median of each (least disturbed)
    let rounds = if torch_ok { 2 } else { 1 };
    let keep = |m: &mut BTreeMap<String, Row>, rows: Vec<Row>| {
        for r in rows {
            let better = |old: &Row| if r.unit == "GFLOP/s" { r.median > old.median } else { r.median < old.median };
            if m.get(&r.name).is_none_or(better) {
                m.insert(r.name.clone(), r);
            }
        }
    };
    for _ in 0..rounds {
        keep(&mut ember, run(root, Command::new(&exe).args(&pass)));
        if torch_ok {
            let mut c = Command::new("python3");
            c.arg("bench/torch_ref.py").args(&pass);
            keep(&mut torch, run(root, &mut c));
        }
    }
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
    let on_gpu = args.windows(2).any(|w| w[0] == "--device" && w[1] != "cpu");
    if !on_gpu && only.is_none_or(|o| "digits-e2e".starts_with(o.as_str())) {
        digits(root, torch_ok, &mut ember, &mut torch);
    }
    keep(&mut ember, run(root, Command::new(&exe).arg("--rss-mlp")));
    if torch_ok {
        let mut c = Command::new("python3");
        c.args(["bench/torch_ref.py", "--rss-mlp"]);
        keep(&mut torch, run(root, &mut c));
    }
    println!(
        "{:<22} {:>8} {:>12} {:>20} {:>12} {:>10}",
        "workload", "unit", "ember", "ember min..max", "pytorch", "ratio"
    );
    let mut json = String::from("[\n");
    for (name, r) in &ember {
        let t = torch.get(name);
        // Ember's median over PyTorch's: above 1 is better for GFLOP/s, below 1 for times and memory
        let ratio = t.map(|t| r.median / t.median);
        println!(
            "{:<22} {:>8} {:>12.3} {:>9.3}..{:<10.3} {:>12} {:>10}",
            name,
            r.unit,
            r.median,
            r.min,
            r.max,
            t.map(|t| format!("{:.3}", t.median)).unwrap_or_else(|| "-".into()),
            ratio.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into())
        );
        json.push_str(&format!(
            "  {{\"name\": \"{name}\", \"device\": \"{}\", \"unit\": \"{}\", \"ember\": {}, \"pytorch\": {}, \"ratio\": {}}},\n",
            r.device,
            r.unit,
            r.median,
            t.map(|t| t.median.to_string()).unwrap_or_else(|| "null".into()),
            ratio.map(|x| x.to_string()).unwrap_or_else(|| "null".into())
        ));
    }
    if json.ends_with(",\n") {
        json.truncate(json.len() - 2);
        json.push('\n');
    }
    json.push(']');
    let dir = root.join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("results.json"), json);
    println!("ratio: Ember/PyTorch (GFLOP/s: higher is better for Ember; ms, us, s, MiB: lower is better)");
    !ember.is_empty()
}
