//! GPU reductions (being written).
