//! GPU matmul (being written).
