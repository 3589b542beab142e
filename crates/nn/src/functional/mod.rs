//! Functional forms of the layers and losses, as `torch.nn.functional`.

mod activation;
mod attention;
mod conv;
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
#[allow(unused_imports)]
pub use dropout::*;
#[allow(unused_imports)]
pub use loss::*;
#[allow(unused_imports)]
pub use norm::*;
#[allow(unused_imports)]
pub use pool::*;
