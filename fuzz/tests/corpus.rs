//! Every committed corpus file and every regression input (a crash the fuzzer once found, since
//! fixed) loads through its target without panicking: a regression test per saved input.

use ember_fuzz::{files, quiet_panics, run_one, targets, Outcome};

#[test]
fn corpus_and_regressions_load_without_panicking() {
    quiet_panics();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = std::env::temp_dir().join(format!("ember-fuzz-test-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut failures = Vec::new();
    let (mut loaded, mut rejected) = (0, 0);
    for t in &targets::TARGETS {
        let inputs: Vec<_> = ["corpus", "regressions"].iter().flat_map(|d| files(&root.join(d).join(t.name))).collect();
        assert!(!inputs.is_empty(), "target {} has no corpus", t.name);
        for p in inputs {
            let bytes = std::fs::read(&p).unwrap();
            match run_one(t, &scratch.join(format!("input.{}", t.ext)), &bytes) {
                Outcome::Loaded => loaded += 1,
                Outcome::Rejected(_) => rejected += 1,
                Outcome::Panicked(msg) => failures.push(format!("{}: {msg}", p.display())),
            }
        }
    }
    std::fs::remove_dir_all(&scratch).unwrap();
    assert!(failures.is_empty(), "inputs that panic:\n{}", failures.join("\n"));
    // The corpus holds valid files (loaded) and corrupt ones (rejected) of every kind.
    assert!(loaded >= 4 && rejected >= 4, "{loaded} loaded, {rejected} rejected");
}

/// A planted bug: panics on any input whose 4-byte big-endian length field at offset 4 exceeds
/// the input's length (as a loader trusting a header field would).
fn planted(path: &std::path::Path) -> Result<(), String> {
    let b = std::fs::read(path).map_err(|e| e.to_string())?;
    let len = b.get(4..8).map(|f| u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize).ok_or("short")?;
    let _ = &b[8..8 + len]; // panics (out of range) when the field lies
    Ok(())
}

#[test]
fn the_fuzzer_finds_a_planted_bug_and_saves_the_input() {
    quiet_panics();
    let t = targets::Target { name: "planted", ext: "bin", run: planted };
    let dir = std::env::temp_dir().join(format!("ember-fuzz-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = vec![0, 0, 0, 0, 0, 0, 0, 2, 7, 7];
    let stats = ember_fuzz::fuzz(&t, vec![seed], std::time::Duration::from_secs(2), 5, &dir.join("in.bin"), &dir);
    assert!(stats.runs > 100, "only {} inputs in 2 s", stats.runs);
    assert_eq!(stats.crashes.len(), 1, "one planted bug, found once: {:?}", stats.crashes);
    let input = std::fs::read(&stats.crashes[0]).unwrap();
    assert!(matches!(run_one(&t, &dir.join("again.bin"), &input), Outcome::Panicked(_)), "saved input replays");
    let msg = std::fs::read_to_string(stats.crashes[0].with_extension("txt")).unwrap();
    assert!(msg.contains("out of range"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}
