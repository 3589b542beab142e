//! [`Sampler`]: which samples a [`DataLoader`](super::DataLoader) takes, in which order; and
//! [`DistributedSampler`], each rank's shard of a data set for data-parallel training.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Dataset;

/// The sample indices of one pass over a data set (PyTorch's `torch.utils.data.Sampler`); set one
/// on a loader with [`DataLoader::sampler`](super::DataLoader::sampler).
pub trait Sampler: Send + Sync {
    /// The indices of the next pass, in order.
    fn indices(&self) -> Vec<usize>;
    /// How many indices a pass yields.
    fn len(&self) -> usize;
    /// True when a pass yields nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Each rank's share of a data set: PyTorch's `DistributedSampler(dataset, num_replicas, rank,
/// shuffle=True, seed=0, drop_last=False)`.
///
/// The indices are permuted by a generator seeded with `seed + epoch` (the same permutation on
/// every rank, new each epoch: call [`set_epoch`](Self::set_epoch) at the start of each epoch),
/// padded by repeating the first indices up to a multiple of `num_replicas` (or truncated with
/// [`drop_last`](Self::drop_last)), and rank `r` takes every `num_replicas`-th index starting at
/// `r`. The shards are disjoint (apart from the padding) and equally long, so every rank runs the
/// same number of batches and no rank waits in an all-reduce the others never reach.
///
/// ```
/// use ember::data::{DataLoader, DistributedSampler, Sampler, TensorDataset};
/// use ember::Tensor;
///
/// let ds = TensorDataset::new(Tensor::zeros(&[10, 2]), Tensor::zeros(&[10]));
/// let shards: Vec<Vec<usize>> =
///     (0..3).map(|rank| DistributedSampler::new(&ds, 3, rank).indices()).collect();
/// assert!(shards.iter().all(|s| s.len() == 4)); // 10 padded to 12, 4 per rank
/// let mut all: Vec<usize> = shards.concat();
/// all.sort();
/// all.dedup();
/// assert_eq!(all, (0..10).collect::<Vec<_>>()); // together they cover the data set
///
/// let sampler = DistributedSampler::new(&ds, 3, 1).seed(7);
/// let loader = DataLoader::new(&ds, 2).sampler(&sampler);
/// assert_eq!(loader.len(), 2);
/// sampler.set_epoch(1); // a new permutation for the next pass
/// assert_eq!(loader.iter().count(), 2);
/// ```
#[derive(Debug)]
pub struct DistributedSampler {
    dataset_len: usize,
    num_replicas: usize,
    rank: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    epoch: AtomicU64,
}

impl DistributedSampler {
    /// Rank `rank`'s share of `dataset` among `num_replicas` ranks (from `ember::distributed`'s
    /// process group: `world_size()` and `rank()`), shuffled, seed 0, epoch 0.
    ///
    /// **Panics** when `num_replicas` is 0 or `rank >= num_replicas` (as PyTorch raises).
    #[track_caller]
    pub fn new<D: Dataset + ?Sized>(dataset: &D, num_replicas: usize, rank: usize) -> DistributedSampler {
        if num_replicas == 0 || rank >= num_replicas {
            panic!(
                "DistributedSampler: invalid rank {rank}, rank should be in the interval [0, {}] (num_replicas {num_replicas})",
                num_replicas as isize - 1
            );
        }
        DistributedSampler {
            dataset_len: dataset.len(),
            num_replicas,
            rank,
            shuffle: true,
            seed: 0,
            drop_last: false,
            epoch: AtomicU64::new(0),
        }
    }

    /// Whether to permute the indices (default true); off, rank `r` takes `r, r + R, r + 2R, ...`.
    #[must_use]
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }

    /// The seed of the permutations, the same on every rank (default 0).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Drops the tail that does not divide evenly instead of padding with repeated samples.
    #[must_use]
    pub fn drop_last(mut self, on: bool) -> Self {
        self.drop_last = on;
        self
    }

    /// Sets the epoch: the next pass uses the permutation of `seed + epoch` (through `&self`, so a
    /// loader holding the sampler keeps working).
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// The epoch last set.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Samples per rank and pass.
    pub fn num_samples(&self) -> usize {
        if self.drop_last {
            self.dataset_len / self.num_replicas
        } else {
            self.dataset_len.div_ceil(self.num_replicas)
        }
    }
}

impl Sampler for DistributedSampler {
    fn indices(&self) -> Vec<usize> {
        let n = self.dataset_len;
        let mut order: Vec<usize> = (0..n).collect();
        if self.shuffle {
            let mut state = self.seed.wrapping_add(self.epoch());
            for i in (1..n).rev() {
                let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
        }
        let total = self.num_samples() * self.num_replicas;
        if total > n && n > 0 {
            let pad: Vec<usize> = order.iter().cycle().take(total - n).copied().collect();
            order.extend(pad);
        }
        order.truncate(total);
        order.into_iter().skip(self.rank).step_by(self.num_replicas).collect()
    }

    fn len(&self) -> usize {
        self.num_samples()
    }
}

/// SplitMix64: a small, well-mixed generator; the permutation depends only on `seed + epoch`.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TensorDataset;
    use ember_tensor::Tensor;

    fn ds(n: usize) -> TensorDataset {
        TensorDataset::new(Tensor::zeros(&[n, 1]), Tensor::zeros(&[n]))
    }

    #[test]
    fn shards_are_disjoint_equal_and_cover_with_padding() {
        for (n, r) in [(10, 3), (12, 4), (7, 2), (1, 3), (0, 2)] {
            let d = ds(n);
            let shards: Vec<Vec<usize>> = (0..r).map(|k| DistributedSampler::new(&d, r, k).indices()).collect();
            assert!(shards.iter().all(|s| s.len() == n.div_ceil(r)), "{n} {r}: {shards:?}");
            let all = shards.concat();
            let mut uniq = all.clone();
            uniq.sort();
            uniq.dedup();
            assert_eq!(uniq, (0..n).collect::<Vec<_>>());
            assert_eq!(all.len() - uniq.len(), n.div_ceil(r) * r - n, "only the padding repeats");
            let dropped: Vec<usize> =
                (0..r).flat_map(|k| DistributedSampler::new(&d, r, k).drop_last(true).indices()).collect();
            assert_eq!(dropped.len(), n / r * r);
            let mut u = dropped.clone();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), dropped.len(), "drop_last repeats nothing");
        }
    }

    #[test]
    fn epochs_reshuffle_the_same_way_on_every_rank() {
        let d = ds(50);
        let s = DistributedSampler::new(&d, 2, 0).seed(3);
        let other = DistributedSampler::new(&d, 2, 1).seed(3);
        let e0 = s.indices();
        assert_eq!(s.indices(), e0, "same epoch, same order");
        s.set_epoch(1);
        other.set_epoch(1);
        let e1 = s.indices();
        assert_ne!(e0, e1, "a new epoch, a new order");
        let mut both = [e1, other.indices()].concat();
        both.sort();
        assert_eq!(both, (0..50).collect::<Vec<_>>(), "the ranks' shards of one epoch partition the data");
        let plain = DistributedSampler::new(&d, 2, 1).shuffle(false).indices();
        assert_eq!(&plain[..3], &[1, 3, 5]);
    }

    #[test]
    #[should_panic(expected = "invalid rank 2")]
    fn rank_out_of_range_panics() {
        let _ = DistributedSampler::new(&ds(4), 2, 2);
    }
}
