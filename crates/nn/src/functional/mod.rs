//! Functional forms of the layers and losses, as `torch.nn.functional`.

mod activation;
mod attention;
mod conv;
mod distance;
mod dropout;
mod loss;
mod norm;
mod pool;

#[allow(unused_imports)]
pub use activation::*;
#[allow(unused_imports)]
pub use attention::*;
#[allow(unused_imports)]
pub use conv::*;
// named, not a glob: norm.rs has a crate-private `normalize` of its own
pub use distance::{cosine_similarity, normalize, try_cosine_similarity, try_normalize};
#[allow(unused_imports)]
pub use dropout::*;
#[allow(unused_imports)]
pub use loss::*;
#[allow(unused_imports)]
pub use norm::*;
#[allow(unused_imports)]
pub use pool::*;
