//! Tidy check: incident state and log entries are written in one layer. Only the command layer
//! (`queries/commands.rs`) and the events batch that applies the same rules (`queries/event_processing.rs`)
//! write incidents, their assignments, acknowledgements and alerts; only `queries/log_entries.rs` writes log
//! entries; only `queries/notifications.rs` writes an incident's notification intents (and `queries/handoffs.rs`
//! records on-call handoff intents, which belong to no incident). A new entry point therefore cannot change an incident without going through
//! `klaxon_core::command`. (Reads the sources as text; raw-row test fixtures are exempt.)

use std::path::{Path, PathBuf};

/// SQL that changes an incident, and the only files allowed to contain it.
const RULES: &[(&str, &[&str])] = &[
    ("INSERT INTO log_entries", &["klaxon-store/src/queries/log_entries.rs"]),
    ("UPDATE incidents", &["klaxon-store/src/queries/commands.rs", "klaxon-store/src/queries/event_processing.rs"]),
    (
        "INSERT INTO incidents",
        &["klaxon-store/src/queries/commands.rs", "klaxon-store/src/queries/event_processing.rs"],
    ),
    (
        "incident_assignments (",
        &["klaxon-store/src/queries/commands.rs", "klaxon-store/src/queries/event_processing.rs"],
    ),
    (
        "DELETE FROM incident_assignments",
        &["klaxon-store/src/queries/commands.rs", "klaxon-store/src/queries/event_processing.rs"],
    ),
    (
        "incident_acknowledgements (",
        &["klaxon-store/src/queries/commands.rs", "klaxon-store/src/queries/event_processing.rs"],
    ),
    (
        "DELETE FROM incident_acknowledgements",
        &["klaxon-store/src/queries/commands.rs", "klaxon-store/src/queries/event_processing.rs"],
    ),
    ("INSERT INTO incident_notes", &["klaxon-store/src/queries/commands.rs"]),
    ("UPDATE alerts", &["klaxon-store/src/queries/commands.rs", "klaxon-store/src/queries/event_processing.rs"]),
    // Notification intents change with their incident (`queries/notifications.rs::write_paging`, called by
    // both writers above); on-call handoff intents, which have no incident, are recorded by the handoff scan.
    (
        "INSERT INTO notifications",
        &["klaxon-store/src/queries/notifications.rs", "klaxon-store/src/queries/handoffs.rs"],
    ),
    ("UPDATE notifications", &["klaxon-store/src/queries/notifications.rs"]),
];

/// Files that write raw rows on purpose (failure tests), never built into the binary.
const EXEMPT: &[&str] = &["klaxon-store/src/queries/fixtures.rs"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_command_layer_writes_incidents_and_only_one_module_writes_log_entries() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["klaxon-core", "klaxon-store", "klaxon-server", "klaxon"] {
        sources(&crates.join(krate).join("src"), &mut files);
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let name = file.to_string_lossy().replace('\\', "/");
        if EXEMPT.iter().any(|e| name.ends_with(e)) {
            continue;
        }
        for (needle, allowed) in RULES {
            if text.contains(needle) && !allowed.iter().any(|a| name.ends_with(a)) {
                broken.push(format!("{name} contains {needle:?} (only {allowed:?} may)"));
            }
        }
    }
    assert!(broken.is_empty(), "incident writes outside the command layer:\n{}", broken.join("\n"));
}
