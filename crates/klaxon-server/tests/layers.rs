//! Tidy check of the server's layers, reading the source files as text: the state depends on no handler,
//! handlers depend on neither the router nor each other, and shared rendering depends on no handler.
//!
//! - `src/state.rs` imports no handler module (`api`, `health`, `events`), nor `render`, `router` or
//!   `server`; it may name `events::ingest` (the Events API's queue and caches, which the state owns).
//! - A module under `src/api/` imports neither `crate::router`/`crate::server` nor another module under
//!   `src/api/` (`crate::api::x` or `super::x`), except the shared `config_common`; nor the other handler
//!   modules (`crate::events`, `crate::health`). What two handlers share goes to `src/render/`.
//! - `src/events/`, `src/health.rs` and `src/render/` import neither the router nor the server, and
//!   `src/render/` imports no handler module.

// Test support outside #[test] functions may panic: an unreadable source tree is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// The one module under `src/api/` that the others may import.
const SHARED_API_MODULE: &str = "config_common";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The `crate::…` and `super::…` paths a file names, comments removed, with grouped imports expanded
/// (`crate::{a, b::c}` gives `crate::a` and `crate::b::c`).
fn paths_named(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let code: String = text.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut paths = Vec::new();
    for root in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(root) {
            let after = &rest[at + root.len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for item in inner.split(',') {
                    paths.push(format!("{root}{}", item.trim()));
                }
            } else {
                let end = after.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(after.len());
                paths.push(format!("{root}{}", &after[..end]));
            }
            rest = after;
        }
    }
    paths
}

fn names(path: &str, module: &str) -> bool {
    path == module || path.starts_with(&format!("{module}::"))
}

fn relative(file: &Path) -> String {
    file.strip_prefix(src()).unwrap().display().to_string()
}

fn api_modules() -> Vec<String> {
    rust_files(&src().join("api"))
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|m| m != "mod")
        .collect()
}

/// Every forbidden path named by `files`, as `file: path`.
fn violations(files: &[PathBuf], forbidden: impl Fn(&Path, &str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        for path in paths_named(file) {
            if forbidden(file, &path) {
                found.push(format!("{}: {path}", relative(file)));
            }
        }
    }
    found
}

#[test]
fn the_state_depends_on_no_handler_nor_on_the_router() {
    let found = violations(&[src().join("state.rs")], |_, path| {
        ["crate::api", "crate::health", "crate::render", "crate::router", "crate::server"]
            .iter()
            .any(|m| names(path, m))
            || (names(path, "crate::events") && !names(path, "crate::events::ingest"))
    });
    assert!(found.is_empty(), "state.rs must not depend on handlers, render or the router: {found:#?}");
}

#[test]
fn rest_handlers_import_neither_the_router_nor_each_other() {
    let modules = api_modules();
    assert!(modules.len() > 5 && modules.iter().any(|m| m == SHARED_API_MODULE), "{modules:?}");
    let files: Vec<PathBuf> = rust_files(&src().join("api")).into_iter().filter(|f| !f.ends_with("mod.rs")).collect();
    let found = violations(&files, |file, path| {
        let own = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let sibling = |m: &String| *m != own && *m != SHARED_API_MODULE;
        ["crate::router", "crate::server", "crate::events", "crate::health"].iter().any(|m| names(path, m))
            || modules
                .iter()
                .filter(|m| sibling(m))
                .any(|m| names(path, &format!("crate::api::{m}")) || names(path, &format!("super::{m}")))
    });
    assert!(
        found.is_empty(),
        "a module under src/api/ imports the router or another handler module (shared rendering goes to \
         src/render/, shared validation to api::{SHARED_API_MODULE}): {found:#?}"
    );
}

#[test]
fn nothing_below_the_router_imports_it_and_render_imports_no_handler() {
    let mut files = rust_files(&src().join("events"));
    files.extend(rust_files(&src().join("render")));
    files.push(src().join("health.rs"));
    files.push(src().join("state.rs"));
    let found = violations(&files, |file, path| {
        let in_render = file.starts_with(src().join("render"));
        names(path, "crate::router")
            || names(path, "crate::server")
            || (in_render && ["crate::api", "crate::events", "crate::health"].iter().any(|m| names(path, m)))
    });
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_checks_see_imports_in_their_usual_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.rs");
    std::fs::write(
        &file,
        "use crate::api::users::render_user;\nuse crate::{router, state::App};\n// use crate::server;\n\
         let s = super::services::render_service(app);\n",
    )
    .unwrap();
    assert_eq!(
        paths_named(&file),
        ["crate::api::users::render_user", "crate::router", "crate::state::App", "super::services::render_service"]
    );
}
