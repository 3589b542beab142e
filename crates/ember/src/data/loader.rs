//! [`DataLoader`]: iterates over a [`Dataset`] in (optionally shuffled) mini-batches.

use ember_tensor::Tensor;

use super::{Dataset, Sampler};

/// Mini-batches of a [`Dataset`]: PyTorch's `DataLoader(dataset, batch_size, shuffle, drop_last)`.
///
/// Each pass (`for (x, y) in &loader`, or [`iter`](DataLoader::iter)) yields `(inputs, targets)`
/// with the samples stacked along a new first dim. With [`shuffle`](DataLoader::shuffle) every pass
/// draws a fresh permutation from Ember's generator, so `ember::manual_seed` makes the sequence of
/// epochs repeat exactly. The last batch is smaller when the batch size does not divide the
/// dataset, unless [`drop_last`](DataLoader::drop_last) is set.
///
/// ```
/// use ember::data::{DataLoader, TensorDataset};
/// use ember::Tensor;
///
/// let ds = TensorDataset::new(Tensor::zeros(&[10, 3]), Tensor::zeros(&[10]));
/// let loader = DataLoader::new(&ds, 4).shuffle(true);
/// assert_eq!(loader.len(), 3); // 4 + 4 + 2
/// let sizes: Vec<usize> = loader.iter().map(|(x, _)| x.shape()[0]).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// assert_eq!(DataLoader::new(&ds, 4).drop_last(true).len(), 2);
/// ```
pub struct DataLoader<'a, D: Dataset + ?Sized> {
    dataset: &'a D,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    sampler: Option<&'a dyn Sampler>,
}

impl<D: Dataset + ?Sized> Clone for DataLoader<'_, D> {
    fn clone(&self) -> Self {
        DataLoader { ..*self }
    }
}

impl<'a, D: Dataset + ?Sized> DataLoader<'a, D> {
    /// Batches of `batch_size` samples of `dataset`, in order, the last one possibly smaller.
    ///
    /// **Panics** when `batch_size` is 0 (as PyTorch raises).
    #[track_caller]
    pub fn new(dataset: &'a D, batch_size: usize) -> DataLoader<'a, D> {
        if batch_size == 0 {
            panic!("DataLoader: batch_size should be a positive integer value, but got batch_size=0");
        }
        DataLoader { dataset, batch_size, shuffle: false, drop_last: false, sampler: None }
    }

    /// Reshuffles the samples at the start of every pass (default false).
    ///
    /// **Panics** when a [`sampler`](DataLoader::sampler) is set (as PyTorch raises).
    #[must_use]
    #[track_caller]
    pub fn shuffle(mut self, on: bool) -> Self {
        if on && self.sampler.is_some() {
            panic!("DataLoader: sampler option is mutually exclusive with shuffle");
        }
        self.shuffle = on;
        self
    }

    /// Takes the samples `sampler` lists, in its order, each pass (e.g. a
    /// [`DistributedSampler`](super::DistributedSampler): this rank's shard of the data set).
    ///
    /// **Panics** when shuffling is on: the sampler decides the order.
    #[must_use]
    #[track_caller]
    pub fn sampler(mut self, sampler: &'a dyn Sampler) -> Self {
        if self.shuffle {
            panic!("DataLoader: sampler option is mutually exclusive with shuffle");
        }
        self.sampler = Some(sampler);
        self
    }

    /// Drops the last batch when it would be smaller than `batch_size` (default false).
    #[must_use]
    pub fn drop_last(mut self, on: bool) -> Self {
        self.drop_last = on;
        self
    }

    /// Number of batches in one pass.
    pub fn len(&self) -> usize {
        let n = self.sampler.map_or(self.dataset.len(), |s| s.len());
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// True when a pass yields no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The dataset batched.
    pub fn dataset(&self) -> &'a D {
        self.dataset
    }

    /// One pass over the data (one epoch). With shuffling on, draws the permutation now.
    pub fn iter(&self) -> Batches<'a, D> {
        let mut order: Vec<usize> = match self.sampler {
            Some(s) => s.indices(),
            None => (0..self.dataset.len()).collect(),
        };
        let n = order.len();
        if self.shuffle {
            shuffle_in_place(&mut order);
        }
        let end = if self.drop_last { n - n % self.batch_size } else { n };
        Batches { dataset: self.dataset, order, batch_size: self.batch_size, pos: 0, end }
    }
}

/// Fisher-Yates shuffle with Ember's process-wide generator (one lock for the whole permutation).
fn shuffle_in_place(v: &mut [usize]) {
    ember_tensor::with_generator(|g| {
        for i in (1..v.len()).rev() {
            let j = g.int_below(0, i as i64 + 1) as usize;
            v.swap(i, j);
        }
    });
}

impl<'a, D: Dataset + ?Sized> IntoIterator for &DataLoader<'a, D> {
    type Item = (Tensor, Tensor);
    type IntoIter = Batches<'a, D>;

    fn into_iter(self) -> Batches<'a, D> {
        self.iter()
    }
}

/// The batches of one pass of a [`DataLoader`], each `(inputs, targets)`.
pub struct Batches<'a, D: Dataset + ?Sized> {
    dataset: &'a D,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
    end: usize,
}

impl<D: Dataset + ?Sized> Batches<'_, D> {
    /// The sample indices of this pass, in the order they are batched.
    pub fn order(&self) -> &[usize] {
        &self.order[..self.end]
    }
}

impl<D: Dataset + ?Sized> Iterator for Batches<'_, D> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        if self.pos >= self.end {
            return None;
        }
        let stop = (self.pos + self.batch_size).min(self.end);
        let batch = self.dataset.get_batch(&self.order[self.pos..stop]);
        self.pos = stop;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.pos).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl<D: Dataset + ?Sized> ExactSizeIterator for Batches<'_, D> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TensorDataset;

    fn ds(n: usize) -> TensorDataset {
        let x = Tensor::arange(0.0, n as f64, 1.0).reshape(&[n as isize, 1]);
        let y = Tensor::from_vec((0..n as i64).collect::<Vec<i64>>(), &[n]);
        TensorDataset::new(x, y)
    }

    #[test]
    fn sequential_covers_everything_in_order() {
        let d = ds(7);
        let l = DataLoader::new(&d, 3);
        let ys: Vec<Vec<i64>> = l.iter().map(|(_, y)| y.to_vec::<i64>()).collect();
        assert_eq!(ys, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        assert_eq!(l.iter().len(), 3);
        let ys: Vec<Vec<i64>> = l.clone().drop_last(true).iter().map(|(_, y)| y.to_vec::<i64>()).collect();
        assert_eq!(ys, vec![vec![0, 1, 2], vec![3, 4, 5]]);
        // Inputs and targets stay paired.
        for (x, y) in &l {
            assert_eq!(
                x.reshape(&[-1]).to_vec::<f32>(),
                y.to_vec::<i64>().iter().map(|&v| v as f32).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn shuffle_is_a_seeded_permutation_per_epoch() {
        let d = ds(50);
        let l = DataLoader::new(&d, 8).shuffle(true);
        crate::manual_seed(3);
        let e1: Vec<usize> = l.iter().order().to_vec();
        let e2: Vec<usize> = l.iter().order().to_vec();
        assert_ne!(e1, e2, "each epoch draws a new order");
        let mut sorted = e1.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        crate::manual_seed(3);
        assert_eq!(l.iter().order(), &e1[..]);
        assert_eq!(l.iter().order(), &e2[..]);
        let got: Vec<i64> = {
            crate::manual_seed(3);
            l.iter().flat_map(|(_, y)| y.to_vec::<i64>()).collect()
        };
        assert_eq!(got, e1.iter().map(|&i| i as i64).collect::<Vec<_>>());
    }

    #[test]
    fn empty_and_zero_batch() {
        let d = ds(2);
        assert!(DataLoader::new(&d, 3).drop_last(true).is_empty());
        assert_eq!(DataLoader::new(&d, 3).drop_last(true).iter().count(), 0);
        let msg = std::panic::catch_unwind(|| DataLoader::new(&d, 0).len()).unwrap_err();
        assert!(msg.downcast_ref::<&str>().unwrap().contains("batch_size=0"));
    }
}
