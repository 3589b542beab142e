//! Data loading: datasets, mini-batches, splits and file formats, as `torch.utils.data`.
//!
//! - [`Dataset`]: indexed `(input, target)` samples; [`TensorDataset`]: the rows of two tensors.
//! - [`DataLoader`]: shuffled (seeded by `ember::manual_seed`) mini-batches, stacked; a
//!   [`Sampler`] such as [`DistributedSampler`] (one rank's shard) picks the samples instead.
//! - [`train_test_split`], [`stratified_split`]: seeded splits (and their index forms).
//! - [`csv`]: numeric CSV files (`.csv` or `.csv.gz`); [`mnist`]: IDX files (`.gz` too).
//!
//! ```
//! use ember::data::{self, DataLoader, Dataset, TensorDataset};
//!
//! let table = data::csv::parse("0,0,0\n0,1,1\n1,0,1\n1,1,0\n", false)?;
//! let (x, y) = data::csv::split_label(&table, -1)?;
//! let ds = TensorDataset::new(x, y);
//! ember::manual_seed(0);
//! let loader = DataLoader::new(&ds, 2).shuffle(true);
//! let mut seen = 0;
//! for (xb, yb) in &loader {
//!     assert_eq!((xb.shape(), yb.shape()), (&[2, 2][..], &[2][..]));
//!     seen += yb.shape()[0];
//! }
//! assert_eq!(seen, ds.len());
//! # Ok::<(), ember::Error>(())
//! ```

pub mod csv;
mod dataset;
pub(crate) mod gzip;
mod loader;
pub mod mnist;
mod sampler;
mod split;

pub use dataset::{Dataset, TensorDataset};
pub use loader::{Batches, DataLoader};
pub use sampler::{DistributedSampler, Sampler};
pub use split::{split_indices, stratified_indices, stratified_split, train_test_split};
