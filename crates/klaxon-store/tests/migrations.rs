//! Tidy checks on migrations: the rendered per-backend files match their common source, and both
//! backends produce the same tables and columns.

// Test support outside #[test] functions may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use klaxon_store::{Location, Store, render_migration};
use std::path::Path;

fn migrations() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/common");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).expect("migrations/common exists").map(|e| e.expect("readable entry").path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("readable migration"))
        })
        .collect()
}

#[test]
fn rendered_migrations_match_their_common_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let bless = std::env::var_os("KLAXON_BLESS").is_some();
    for (name, common) in migrations() {
        for (backend, pg) in [("sqlite", false), ("postgres", true)] {
            let path = root.join(backend).join(&name);
            let expected = render_migration(&common, pg);
            if bless {
                std::fs::write(&path, &expected).expect("writable migration");
            }
            let actual = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                actual == expected,
                "{} is stale: run `KLAXON_BLESS=1 cargo test -p klaxon-store --test migrations`",
                path.display()
            );
        }
    }
    for backend in ["sqlite", "postgres"] {
        let count = std::fs::read_dir(root.join(backend)).expect("backend dir").count();
        assert_eq!(count, migrations().len(), "{backend}/ holds a migration without a common source");
    }
}

#[tokio::test]
async fn both_backends_produce_the_same_tables_and_columns() {
    let Ok(pg_base) = std::env::var("KLAXON_TEST_POSTGRES_URL") else {
        eprintln!("KLAXON_TEST_POSTGRES_URL unset: the parity test needs PostgreSQL (the README test command sets it)");
        if std::env::var_os("CI").is_some() {
            panic!("KLAXON_TEST_POSTGRES_URL must be set in CI");
        }
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Store::open(Location::SqliteDir(dir.path())).await.expect("sqlite opens");
    let db = klaxon_store::testing::TestDatabase::create(&pg_base).await.expect("fresh database");
    let url = db.url.clone();
    let postgres = Store::open(Location::Postgres(&url)).await.expect("postgres opens");
    let a = sqlite.schema_columns().await.expect("sqlite schema");
    let b = postgres.schema_columns().await.expect("postgres schema");
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[tokio::test]
async fn refuses_a_database_migrated_by_a_newer_klaxon() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(Location::SqliteDir(dir.path())).await.expect("opens");
    store.close().await;
    let db = dir.path().join("klaxon.db");
    let conn = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.expect("raw connect");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (999, 'from the future', TRUE, x'00', 0)",
    )
    .execute(&conn)
    .await
    .expect("insert future migration");
    conn.close().await;
    let err = Store::open(Location::SqliteDir(dir.path())).await.err().expect("refused");
    let message = err.to_string();
    assert!(message.contains("newer Klaxon"), "{message}");
    assert!(message.contains("999"), "{message}");
}
