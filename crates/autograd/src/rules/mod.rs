//! Backward rules, by op family. Each file defines the `Variable` methods of its family: the forward
//! call on the data and, a few lines below it, the backward rule written with Variable ops, so the
//! rule is itself differentiable (higher-order gradients come for free where the rule's ops have
//! rules). Accumulation lives once, in `graph.rs`.

mod compare;
pub mod conv;
mod elementwise;
mod index;
mod join;
mod linalg;
mod movement;
mod operators;
mod pool;
mod reduce;
mod scan;
