//! Seeded train/test splits, plain and stratified (scikit-learn's `train_test_split`).

use ember_tensor::{DType, Error, Generator, Result};

use super::{Dataset, TensorDataset};

fn bad(msg: String) -> Error {
    Error::InvalidArgument { op: "train_test_split", msg }
}

/// Number of test samples: `ceil(test_size * n)`, as scikit-learn; both parts must be non-empty.
fn test_count(n: usize, test_size: f64) -> Result<usize> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(bad(format!("test_size should be a fraction in (0, 1), got {test_size}")));
    }
    // The tolerance keeps 0.3 * 100 = 30.000000000000004 at 30.
    let n_test = (test_size * n as f64 - 1e-9).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(bad(format!(
            "with {n} samples and test_size={test_size}, the {} set would be empty",
            if n_test == 0 { "test" } else { "train" }
        )));
    }
    Ok(n_test)
}

fn shuffle(v: &mut [usize], g: &mut Generator) {
    for i in (1..v.len()).rev() {
        let j = g.int_below(0, i as i64 + 1) as usize;
        v.swap(i, j);
    }
}

/// Shuffled `(train, test)` indices of `0..n` with `ceil(test_size * n)` in the test part; the same
/// `seed` gives the same split (the split has its own generator: it does not touch `manual_seed`'s).
///
/// ```
/// let (train, test) = ember::data::split_indices(10, 0.25, 0).unwrap();
/// assert_eq!((train.len(), test.len()), (7, 3));
/// assert_eq!(ember::data::split_indices(10, 0.25, 0).unwrap().1, test);
/// ```
pub fn split_indices(n: usize, test_size: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    let n_test = test_count(n, test_size)?;
    let mut g = Generator::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut g);
    let train = order.split_off(n_test);
    Ok((train, order))
}

/// Like [`split_indices`], but each class keeps its share in both parts (scikit-learn's
/// `stratify=y`): class `c` with `n_c` samples puts about `test_size * n_c` of them in the test
/// part. The total test count is `ceil(test_size * n)`, shared among the classes by largest
/// remainder. `labels` are class ids (any `i64`, need not be contiguous).
///
/// ```
/// let labels = [0i64, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
/// let (train, test) = ember::data::stratified_indices(&labels, 0.25, 0).unwrap();
/// let ones = test.iter().filter(|&&i| labels[i] == 1).count();
/// assert_eq!((train.len(), test.len(), ones), (9, 3, 2));
/// ```
pub fn stratified_indices(labels: &[i64], test_size: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = labels.len();
    let n_test = test_count(n, test_size)?;
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for (i, l) in labels.iter().enumerate() {
        let c = classes.binary_search(l).unwrap_or_default();
        members[c].push(i);
    }
    // Largest-remainder allocation of the test count over the classes (ties: smaller class id).
    let exact: Vec<f64> = members.iter().map(|m| n_test as f64 * m.len() as f64 / n as f64).collect();
    let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut by_rest: Vec<usize> = (0..classes.len()).collect();
    by_rest.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let short = n_test - take.iter().sum::<usize>();
    for &c in by_rest.iter().take(short) {
        take[c] += 1;
    }
    let mut g = Generator::new(seed);
    let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
    for (m, k) in members.iter_mut().zip(take) {
        shuffle(m, &mut g);
        test.extend_from_slice(&m[..k]);
        train.extend_from_slice(&m[k..]);
    }
    // Interleave the classes, so an unshuffled pass does not see one class after the other.
    shuffle(&mut train, &mut g);
    shuffle(&mut test, &mut g);
    Ok((train, test))
}

/// Splits a dataset into `(train, test)` datasets, `ceil(test_size * len)` samples in the test one,
/// seeded. See [`split_indices`].
///
/// ```
/// use ember::data::{train_test_split, Dataset, TensorDataset};
/// use ember::Tensor;
/// let ds = TensorDataset::new(Tensor::zeros(&[100, 4]), Tensor::zeros(&[100]));
/// let (train, test) = train_test_split(&ds, 0.2, 42)?;
/// assert_eq!((train.len(), test.len()), (80, 20));
/// # Ok::<(), ember::Error>(())
/// ```
pub fn train_test_split(dataset: &TensorDataset, test_size: f64, seed: u64) -> Result<(TensorDataset, TensorDataset)> {
    let (train, test) = split_indices(dataset.len(), test_size, seed)?;
    Ok((dataset.subset(&train), dataset.subset(&test)))
}

/// Splits a dataset whose targets are class indices (an `I64` tensor of shape `[n]`) into
/// `(train, test)` datasets with the same class proportions, seeded. See [`stratified_indices`].
///
/// ```
/// use ember::data::{stratified_split, Dataset, TensorDataset};
/// use ember::Tensor;
/// let y = Tensor::from_vec((0..100).map(|i| (i % 4) as i64).collect::<Vec<i64>>(), &[100]);
/// let ds = TensorDataset::new(Tensor::zeros(&[100, 2]), y);
/// let (train, test) = stratified_split(&ds, 0.2, 0)?;
/// let threes = test.targets().to_vec::<i64>().iter().filter(|&&c| c == 3).count();
/// assert_eq!((train.len(), test.len(), threes), (80, 20, 5));
/// # Ok::<(), ember::Error>(())
/// ```
pub fn stratified_split(dataset: &TensorDataset, test_size: f64, seed: u64) -> Result<(TensorDataset, TensorDataset)> {
    let y = dataset.targets();
    if y.dtype() != DType::I64 || y.rank() != 1 {
        return Err(Error::InvalidArgument {
            op: "stratified_split",
            msg: format!(
                "targets must be class indices, an I64 tensor of shape [n]; got {} of shape {:?}",
                y.dtype(),
                y.shape()
            ),
        });
    }
    let (train, test) = stratified_indices(&y.to_vec::<i64>(), test_size, seed)?;
    Ok((dataset.subset(&train), dataset.subset(&test)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_tensor::Tensor;

    #[test]
    fn plain_split_partitions() {
        let (mut a, mut b) = split_indices(1797, 0.2, 7).unwrap();
        assert_eq!((a.len(), b.len()), (1437, 360));
        a.append(&mut b);
        a.sort();
        assert_eq!(a, (0..1797).collect::<Vec<_>>());
        assert_ne!(split_indices(100, 0.2, 1).unwrap().1, split_indices(100, 0.2, 2).unwrap().1);
    }

    #[test]
    fn stratified_keeps_proportions() {
        // Unbalanced classes 10 and -3 and 7: 60, 30 and 10 samples.
        let labels: Vec<i64> = (0..100)
            .map(|i| {
                if i < 60 {
                    10
                } else if i < 90 {
                    -3
                } else {
                    7
                }
            })
            .collect();
        let (train, test) = stratified_indices(&labels, 0.3, 0).unwrap();
        let count = |v: &[usize], c: i64| v.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(&test, 10), count(&test, -3), count(&test, 7)), (18, 9, 3));
        assert_eq!(train.len() + test.len(), 100);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(stratified_indices(&labels, 0.3, 0).unwrap(), (train, test));
    }

    #[test]
    fn bad_fractions_and_targets() {
        for t in [0.0, 1.0, -0.5, f64::NAN] {
            let e = split_indices(10, t, 0).unwrap_err().to_string();
            assert!(e.contains("test_size"), "{e}");
        }
        let e = split_indices(1, 0.5, 0).unwrap_err().to_string();
        assert!(e.contains("train set would be empty"), "{e}");
        let ds = TensorDataset::new(Tensor::zeros(&[4, 2]), Tensor::zeros(&[4]));
        let e = stratified_split(&ds, 0.5, 0).unwrap_err().to_string();
        assert!(e.contains("I64") && e.contains("F32"), "{e}");
    }
}
