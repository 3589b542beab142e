//! The data loaders end to end: files written here (CSV, IDX, gzip), the shipped digits data, splits
//! and loaders together.

use std::path::PathBuf;

use ember::data::{self, mnist, DataLoader, Dataset, TensorDataset};
use ember::{DType, Tensor};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-data-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// A gzip file holding `data` in stored (uncompressed) DEFLATE blocks.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut g = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF];
    let blocks: Vec<&[u8]> = data.chunks(65535).collect();
    for (i, b) in blocks.iter().enumerate() {
        g.push(u8::from(i + 1 == blocks.len()));
        g.extend_from_slice(&(b.len() as u16).to_le_bytes());
        g.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        g.extend_from_slice(b);
    }
    g.extend_from_slice(&crc32(data).to_le_bytes());
    g.extend_from_slice(&(data.len() as u32).to_le_bytes());
    g
}

fn idx(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    dims.iter().for_each(|d| v.extend_from_slice(&d.to_be_bytes()));
    v.extend_from_slice(data);
    v
}

#[test]
fn digits_csv_loads_and_splits_stratified() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/ember/data/digits.csv.gz");
    let table = data::csv::load(path, false).unwrap();
    assert_eq!(table.shape(), &[1797, 65]);
    let (x, y) = data::csv::split_label(&table, -1).unwrap();
    assert_eq!((x.shape(), y.dtype()), (&[1797, 64][..], DType::I64));
    assert_eq!((x.max().item::<f32>(), x.min().item::<f32>()), (16.0, 0.0));
    let ds = TensorDataset::new(x, y);
    let (train, test) = data::stratified_split(&ds, 0.2, 0).unwrap();
    assert_eq!((train.len(), test.len()), (1437, 360));
    // Every class keeps its share (within one sample) in the test part.
    let all = ds.targets().to_vec::<i64>();
    let t = test.targets().to_vec::<i64>();
    for c in 0..10 {
        let n_c = all.iter().filter(|&&v| v == c).count() as f64;
        let t_c = t.iter().filter(|&&v| v == c).count() as f64;
        assert!((t_c - n_c * 360.0 / 1797.0).abs() <= 1.0, "class {c}: {t_c} of {n_c}");
    }
}

#[test]
fn csv_plain_gzip_and_errors() {
    let dir = temp_dir("csv");
    let text = "x1,x2,label\n0.5,1,0\n1.5,-2,1\n2.5,3e1,2\n";
    std::fs::write(dir.join("t.csv"), text).unwrap();
    std::fs::write(dir.join("t.csv.gz"), gzip_stored(text.as_bytes())).unwrap();
    let a = data::csv::load(dir.join("t.csv"), true).unwrap();
    let b = data::csv::load(dir.join("t.csv.gz"), true).unwrap();
    assert_eq!(a.to_vec::<f32>(), vec![0.5, 1.0, 0.0, 1.5, -2.0, 1.0, 2.5, 30.0, 2.0]);
    assert_eq!(a.to_vec::<f32>(), b.to_vec::<f32>());

    std::fs::write(dir.join("bad.csv"), "1,2,3\n4,5\n").unwrap();
    let e = data::csv::load(dir.join("bad.csv"), false).unwrap_err().to_string();
    assert!(e.contains("bad.csv") && e.contains("line 2 has 2 fields"), "{e}");
    let mut gz = gzip_stored(text.as_bytes());
    gz.truncate(gz.len() - 3);
    std::fs::write(dir.join("cut.csv.gz"), gz).unwrap();
    let e = data::csv::load(dir.join("cut.csv.gz"), true).unwrap_err().to_string();
    assert!(e.contains("cut.csv.gz") && e.contains("truncated"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mnist_idx_images_and_labels() {
    let dir = temp_dir("idx");
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 4) as u8).collect();
    std::fs::write(dir.join("img-idx3-ubyte"), idx(0x08, &[3, 4, 5], &pixels)).unwrap();
    std::fs::write(dir.join("img-idx3-ubyte.gz"), gzip_stored(&idx(0x08, &[3, 4, 5], &pixels))).unwrap();
    std::fs::write(dir.join("lab-idx1-ubyte"), idx(0x08, &[3], &[7, 0, 9])).unwrap();

    let raw = mnist::load_idx(dir.join("img-idx3-ubyte")).unwrap();
    assert_eq!((raw.shape(), raw.dtype()), (&[3, 4, 5][..], DType::F32));
    let images = mnist::load_images(dir.join("img-idx3-ubyte.gz")).unwrap();
    assert_eq!(images.shape(), &[3, 1, 4, 5]);
    let want: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    assert_eq!(images.to_vec::<f32>(), want);
    let labels = mnist::load_labels(dir.join("lab-idx1-ubyte")).unwrap();
    assert_eq!((labels.dtype(), labels.to_vec::<i64>()), (DType::I64, vec![7, 0, 9]));
    let ds = TensorDataset::new(images, labels);
    let (x, y) = DataLoader::new(&ds, 2).iter().next().unwrap();
    assert_eq!((x.shape(), y.to_vec::<i64>()), (&[2, 1, 4, 5][..], vec![7, 0]));

    // Corrupt files: errors naming the file and the problem, never a panic.
    let full = idx(0x08, &[3, 4, 5], &pixels);
    std::fs::write(dir.join("short"), &full[..full.len() - 1]).unwrap();
    let e = mnist::load_idx(dir.join("short")).unwrap_err().to_string();
    assert!(e.contains("short") && e.contains("truncated data") && e.contains("need 60 bytes"), "{e}");
    for cut in 0..16 {
        std::fs::write(dir.join("cut"), &full[..cut]).unwrap();
        assert!(mnist::load_idx(dir.join("cut")).is_err(), "cut at {cut}");
    }
    let mut gz = gzip_stored(&full);
    let n = gz.len();
    gz[n - 6] ^= 0xFF; // CRC-32
    std::fs::write(dir.join("crc.gz"), gz).unwrap();
    let e = mnist::load_idx(dir.join("crc.gz")).unwrap_err().to_string();
    assert!(e.contains("crc.gz") && e.contains("CRC-32"), "{e}");
    let e = mnist::load_labels(dir.join("img-idx3-ubyte")).unwrap_err().to_string();
    assert!(e.contains("expected labels [n]") && e.contains("[3, 4, 5]"), "{e}");
    let e = mnist::load_images(dir.join("lab-idx1-ubyte")).unwrap_err().to_string();
    assert!(e.contains("expected images"), "{e}");
    assert!(mnist::load_idx(dir.join("missing")).unwrap_err().to_string().contains("missing"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn loader_epochs_cover_the_split_and_repeat_under_the_seed() {
    let x = Tensor::arange(0.0, 100.0, 1.0).reshape(&[100, 1]);
    let y = Tensor::from_vec((0..100).map(|i| i % 5).collect::<Vec<i64>>(), &[100]);
    let ds = TensorDataset::new(x, y);
    let (train, test) = data::train_test_split(&ds, 0.25, 3).unwrap();
    assert_eq!((train.len(), test.len()), (75, 25));
    let loader = DataLoader::new(&train, 16).shuffle(true);
    assert_eq!(loader.len(), 5);
    let epoch = || -> Vec<f32> { loader.iter().flat_map(|(x, _)| x.to_vec::<f32>()).collect() };
    ember::manual_seed(11);
    let (e1, e2) = (epoch(), epoch());
    ember::manual_seed(11);
    assert_eq!((epoch(), epoch()), (e1.clone(), e2.clone()));
    assert_ne!(e1, e2);
    let mut seen = e1.clone();
    seen.sort_by(f32::total_cmp);
    let mut want = train.inputs().to_vec::<f32>();
    want.sort_by(f32::total_cmp);
    assert_eq!(seen, want, "one epoch visits every training sample once");
    // Inputs and targets stay paired through shuffling: target = input mod 5.
    for (xb, yb) in &loader {
        let pairs = xb.to_vec::<f32>().into_iter().zip(yb.to_vec::<i64>());
        pairs.for_each(|(xv, yv)| assert_eq!(xv as i64 % 5, yv));
    }
    let sizes: Vec<usize> = loader.clone().drop_last(true).iter().map(|(x, _)| x.shape()[0]).collect();
    assert_eq!(sizes, [16, 16, 16, 16]);
}
