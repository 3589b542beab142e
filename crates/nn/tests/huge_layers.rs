//! A layer too large for memory panics with the allocator's message instead of aborting the
//! process (the issue's `Linear::new(1_000_000, 1_000_000)`, here with 2^48 weights so that it
//! fails the same way with or without Linux overcommit).

use ember_nn::{Linear, Module};

#[test]
fn an_impossible_linear_layer_panics_with_the_out_of_memory_message() {
    let r = std::panic::catch_unwind(|| Linear::new(1 << 24, 1 << 24));
    let e = r.err().expect("a 2^48-weight layer cannot be allocated");
    let m = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(m.starts_with("out of memory: rand: cannot allocate") && m.contains("on cpu"), "{m}");
    // the process is fine: a normal layer still works
    let l = Linear::new(3, 2);
    assert_eq!(l.parameters().len(), 2);
}
