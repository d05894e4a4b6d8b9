//! Architecture invariant: klaxon-core performs no I/O. It must never depend (directly or through
//! another crate) on an async runtime, a database driver, an HTTP server or an HTTP client.

// Test support outside #[test] functions may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn core_has_no_io_dependencies() {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "klaxon-core", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    for forbidden in ["tokio", "sqlx", "axum", "reqwest", "hyper", "mio"] {
        let hit = tree.lines().any(|line| line.split_whitespace().next() == Some(forbidden));
        assert!(!hit, "klaxon-core must not depend on {forbidden}:\n{tree}");
    }
}
