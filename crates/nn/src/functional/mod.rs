//! Functional forms of the layers and losses, as `torch.nn.functional`.

mod activation;
mod activation_extra;
mod attention;
mod checked;
mod conv;
mod conv_extra;
mod distance;
mod dropout;
mod embedding_bag;
mod instance_norm;
mod loss;
mod norm;
mod pool;
mod resample;

#[allow(unused_imports)]
pub use activation::*;
#[allow(unused_imports)]
pub use activation_extra::*;
#[allow(unused_imports)]
pub use attention::*;
#[allow(unused_imports)]
pub use conv::*;
#[allow(unused_imports)]
pub use conv_extra::*;
// named, not a glob: norm.rs has a crate-private `normalize` of its own
pub use distance::{cosine_similarity, normalize, try_cosine_similarity, try_normalize};
#[allow(unused_imports)]
pub use dropout::*;
#[allow(unused_imports)]
pub use embedding_bag::*;
#[allow(unused_imports)]
pub use instance_norm::*;
#[allow(unused_imports)]
pub use loss::*;
#[allow(unused_imports)]
pub use norm::*;
#[allow(unused_imports)]
pub use pool::*;
#[allow(unused_imports)]
pub use resample::*;
