//! Cross-crate tests of Ember live in `tests/tests/`; this library holds helpers they share.

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
