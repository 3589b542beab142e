//! Cross-crate tests of Ember live in `tests/tests/`; this library holds helpers they share.

/// Asserts that two float slices agree within `rtol * |want| + atol`, naming the first mismatch.
pub fn assert_close(got: &[f64], want: &[f64], rtol: f64, atol: f64, ctx: &str) {
    assert_eq!(got.len(), want.len(), "{ctx}: length {} vs {}", got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan()) || g == w;
        assert!(ok, "{ctx}: element {i}: got {g}, want {w}");
    }
}

/// The GPU to test on, or `None` (after one skip line) when there is none and `EMBER_REQUIRE_GPU=1`
/// is not set; with it set, a missing GPU fails the test.
pub fn gpu() -> Option<ember::Device> {
    match ember::Device::gpu() {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("EMBER_REQUIRE_GPU=1 but no GPU is usable: {e}");
            }
            println!("skipping GPU test: no adapter (set EMBER_REQUIRE_GPU=1 to fail instead)");
            None
        }
    }
}

/// This process's resident memory in bytes (`VmRSS` of `/proc/self/status`), or `None` where
/// there is no procfs (not Linux).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
