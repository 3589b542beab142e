//! The canonical program of shared/API.md, exactly as written there; only the file it saves goes to
//! a temporary folder instead of the working directory.

use ember::prelude::*;

/// The tests of this file draw from the process-wide generator: one at a time.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn model_path() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ember-canonical-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("model.safetensors")
}

fn canonical() -> ember::Result<()> {
    ember::manual_seed(0);
    let device = Device::best(); // first GPU adapter, else the CPU
    let model = nn::Sequential::new()
        .add(nn::Conv2d::new(1, 16, 3).padding(1))
        .add(nn::Relu::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Flatten::new())
        .add(nn::Linear::new(16 * 4 * 4, 10));
    model.to_device(&device);
    let mut opt = optim::Adam::new(model.parameters(), 1e-3);
    let (x, y) = (Tensor::randn(&[32, 1, 8, 8]), Tensor::from_vec(vec![3i64; 32], &[32]));
    let logits = model.forward(&Variable::from(x.to(&device)));
    let loss = nn::functional::cross_entropy(&logits, &Variable::from(y.to(&device)));
    opt.zero_grad();
    loss.backward();
    opt.step();
    println!("loss {}", loss.data().item::<f32>());
    model.save_safetensors(model_path())?; // PyTorch state_dict names: "0.weight", "4.bias", ...
    Ok(())
}

#[test]
fn canonical_program_runs_and_saves_pytorch_names() {
    let _one = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    canonical().unwrap();
    let path = model_path();
    let saved = ember::tensor::io::load(&path).unwrap();
    let mut names: Vec<(String, Vec<usize>)> = saved.iter().map(|(n, t)| (n.clone(), t.shape().to_vec())).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("0.bias".to_string(), vec![16]),
            ("0.weight".to_string(), vec![16, 1, 3, 3]),
            ("4.bias".to_string(), vec![10]),
            ("4.weight".to_string(), vec![10, 256]),
        ]
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn canonical_program_repeats_under_the_seed() {
    // Two runs from the same seed produce the same weights after the step.
    let _one = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let run = || {
        ember::manual_seed(0);
        let model = nn::Sequential::new()
            .add(nn::Conv2d::new(1, 16, 3).padding(1))
            .add(nn::Relu::new())
            .add(nn::MaxPool2d::new(2))
            .add(nn::Flatten::new())
            .add(nn::Linear::new(16 * 4 * 4, 10));
        let mut opt = optim::Adam::new(model.parameters(), 1e-3);
        let x = Tensor::randn(&[32, 1, 8, 8]);
        let y = Tensor::from_vec(vec![3i64; 32], &[32]);
        let loss = nn::functional::cross_entropy(&model.forward(&Variable::from(x)), &Variable::from(y));
        opt.zero_grad();
        loss.backward();
        opt.step();
        (loss.data().item::<f32>(), model.parameters()[0].data().to_vec::<f32>())
    };
    let (l1, w1) = run();
    let (l2, w2) = run();
    assert!(l1.is_finite() && l1 > 0.0);
    assert_eq!((l1, w1), (l2, w2));
}
