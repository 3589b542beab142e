//! Layers, one per file; each file's public items are re-exported here.

mod activation;
mod activation_extra;
mod attention;
mod batch_norm;
mod bilinear;
mod conv;
mod conv_extra;
mod dropout;
mod embedding;
mod embedding_bag;
mod flatten;
mod group_norm;
mod gru;
mod identity;
mod instance_norm;
mod layer_norm;
mod linear;
mod lstm;
mod module_list;
mod pool;
mod pool1d;
mod resample;
mod rms_norm;
mod rnn;
mod rnn_cell;
mod rnn_fused;
mod rnn_gemm;
mod rnn_kernels;
mod rnn_parts;
mod sequential;
mod transformer;
mod transformer_common;
mod transformer_decoder;
mod transformer_model;
mod transformer_stack;
mod unflatten;

#[allow(unused_imports)]
pub use activation::*;
#[allow(unused_imports)]
pub use activation_extra::*;
#[allow(unused_imports)]
pub use attention::*;
#[allow(unused_imports)]
pub use batch_norm::*;
#[allow(unused_imports)]
pub use bilinear::*;
#[allow(unused_imports)]
pub use conv::*;
#[allow(unused_imports)]
pub use conv_extra::*;
#[allow(unused_imports)]
pub use dropout::*;
#[allow(unused_imports)]
pub use embedding::*;
#[allow(unused_imports)]
pub use embedding_bag::*;
#[allow(unused_imports)]
pub use flatten::*;
#[allow(unused_imports)]
pub use group_norm::*;
#[allow(unused_imports)]
pub use gru::*;
#[allow(unused_imports)]
pub use identity::*;
#[allow(unused_imports)]
pub use instance_norm::*;
#[allow(unused_imports)]
pub use layer_norm::*;
#[allow(unused_imports)]
pub use linear::*;
#[allow(unused_imports)]
pub use lstm::*;
#[allow(unused_imports)]
pub use module_list::*;
#[allow(unused_imports)]
pub use pool::*;
#[allow(unused_imports)]
pub use pool1d::*;
#[allow(unused_imports)]
pub use resample::*;
#[allow(unused_imports)]
pub use rms_norm::*;
#[allow(unused_imports)]
pub use rnn::*;
#[allow(unused_imports)]
pub use rnn_cell::*;
#[allow(unused_imports)]
pub use sequential::*;
#[allow(unused_imports)]
pub use transformer::*;
#[allow(unused_imports)]
pub use transformer_decoder::*;
#[allow(unused_imports)]
pub use transformer_model::*;
#[allow(unused_imports)]
pub use transformer_stack::*;
#[allow(unused_imports)]
pub use unflatten::*;
