//! The tensor ops, one file per family. Each file checks arguments (shapes, dims, dtypes, devices),
//! computes the output shape, and dispatches to the backend of the operands' device.

pub mod activation;
pub mod attention;
pub mod binary;
pub mod compare;
pub mod conv;
pub mod conv_transpose;
pub mod creation;
pub mod cross_entropy;
pub mod extrema;
pub mod fused;
pub mod fused_expr;
pub mod fused_formula;
pub mod fused_map;
pub mod index;
pub mod index_misc;
pub mod inplace;
pub mod join;
pub mod matmul;
pub mod movement;
pub mod multinomial;
pub mod norm_rows;
pub mod pool;
pub mod reduce;
pub mod scan;
pub mod softmax;
pub mod sort;
pub mod stats;
pub mod unary;
