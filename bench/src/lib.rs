//! The standard workloads of `shared/API.md` as a library: the `ember-bench` binary times them,
//! and `examples/cnn_ops.rs` takes them apart op by op.

pub mod workloads;
pub mod workloads_half;
pub mod workloads_nlp;
