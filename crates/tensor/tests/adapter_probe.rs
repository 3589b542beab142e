//! The adapter probe prints no driver noise: run without `XDG_RUNTIME_DIR` (as under CI, ssh or
//! in a container), Mesa's Vulkan layer used to make libwayland print "error: XDG_RUNTIME_DIR is
//! invalid or not set in the environment." twice. This test runs its own binary again as a child
//! process with the variable removed, probes the adapters there, and checks the child's stderr.

#![cfg(feature = "gpu")]

use std::process::Command;

const CHILD: &str = "EMBER_ADAPTER_PROBE_CHILD";

/// In the child: probes the adapters and reports how many it found and what `XDG_RUNTIME_DIR`
/// became. In a normal test run (no `CHILD` variable) it only probes, which must not panic.
#[test]
fn probe_in_child() {
    let names = ember_tensor::adapter_names();
    if std::env::var_os(CHILD).is_some() {
        println!("adapters: {}", names.len());
        println!("XDG_RUNTIME_DIR={:?}", std::env::var_os("XDG_RUNTIME_DIR"));
    }
}

#[test]
fn adapter_probe_prints_no_xdg_runtime_dir_error() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", "probe_in_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("EMBER_KEEP_ENV")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("adapters: "), "the child did not probe:\n{stdout}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "the probe printed driver noise:\n{stderr}");
    if cfg!(target_os = "linux") {
        // The private directory the probe set (this user's, closed to others).
        assert!(stdout.contains("ember-runtime-"), "XDG_RUNTIME_DIR was not set:\n{stdout}");
    }
}

#[test]
fn a_user_set_xdg_runtime_dir_is_kept() {
    let exe = std::env::current_exe().unwrap();
    let dir = std::env::temp_dir();
    let out = Command::new(exe)
        .args(["--exact", "probe_in_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{stdout}");
    assert!(stdout.contains(&format!("XDG_RUNTIME_DIR={:?}", Some(dir.as_os_str()))), "{stdout}");
}
