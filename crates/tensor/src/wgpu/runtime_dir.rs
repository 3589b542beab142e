//! Keeps the adapter probe quiet where no desktop session exists (CI, ssh, containers).
//!
//! On Linux, Mesa's Vulkan loader layer `VK_LAYER_MESA_device_select` (installed with lavapipe and
//! Mesa's GPU drivers) asks the Wayland compositor for the default GPU while the adapters are
//! enumerated. libwayland's `wl_display_connect` then prints `error: XDG_RUNTIME_DIR is invalid or
//! not set in the environment.` to stderr when that variable is missing or not an absolute path,
//! the first line a newcomer sees although nothing is wrong (compute needs no display).
//!
//! [`ensure`] points a missing `XDG_RUNTIME_DIR` at a private directory, as a login session would:
//! `$TMPDIR/ember-runtime-<uid>`, created with mode `0700` (the XDG base-directory spec's
//! requirement), and used only if it is a real directory (not a symlink) owned by this user and
//! closed to everyone else; otherwise nothing is set and the message stays. With the variable set,
//! libwayland finds no compositor socket there and fails silently, as it does on any desktop
//! without Wayland. The directory is shared by this user's Ember processes (not one per process),
//! so no litter accumulates in the temporary directory. Nothing else is silenced: every other
//! message of the driver or the loader still reaches stderr, and a variable the user set is never
//! changed.
//!
//! Setting an environment variable is only sound while no other thread reads the environment
//! through C's `getenv` (Rust's own readers take std's lock): `ensure` runs once, just before the
//! wgpu instance is created, which is before any Vulkan or Mesa code of this process runs; the
//! remaining risk is a user thread calling C's `getenv` at that moment, the same as for any
//! `std::env::set_var` (an `unsafe fn` from edition 2024 on, for that reason). Set
//! `XDG_RUNTIME_DIR` yourself, or `EMBER_KEEP_ENV=1`, to keep Ember from touching the environment.

/// Sets `XDG_RUNTIME_DIR` to a private directory when it is missing or relative (see the module
/// docs); returns the directory it set, if any.
#[cfg(target_os = "linux")]
pub(crate) fn ensure() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

    let current = std::env::var_os("XDG_RUNTIME_DIR");
    if current.as_ref().is_some_and(|d| std::path::Path::new(d).is_absolute())
        || std::env::var_os("EMBER_KEEP_ENV").is_some_and(|v| v == "1")
    {
        return None;
    }
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = std::env::temp_dir().join(format!("ember-runtime-{uid}"));
    // An existing directory is fine (another Ember process made it); any other failure means no dir.
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 || !dir.is_absolute() {
        return None;
    }
    std::env::set_var("XDG_RUNTIME_DIR", &dir);
    Some(dir)
}

/// Elsewhere (no Mesa Wayland probe): nothing to do.
#[cfg(not(target_os = "linux"))]
pub(crate) fn ensure() -> Option<std::path::PathBuf> {
    None
}
