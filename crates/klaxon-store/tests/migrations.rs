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

/// Applies the migrations before jobs v2 (0006) to an empty database, through a runtime migrator over
/// copies of the rendered files.
async fn migrate_to_v1_jobs<DB>(pool: &sqlx::Pool<DB>, backend: &str)
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Connection: sqlx::migrate::Migrate,
{
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        if name.as_str() < "0006" {
            std::fs::copy(&path, dir.path().join(&name)).expect("copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.expect("migrator");
    migrator.run(pool).await.expect("v1 migrations");
}

/// v1 rows: a scheduled ack timer, a parked job (due 9999-12-31), a leased job and a job that failed once.
const V1_JOBS: &str = "INSERT INTO jobs (id, kind, unique_key, payload, due_at, lease_owner, lease_until, attempts,
                                         last_error, created_at) VALUES
    ('QTIMER', 'incident.ack_timeout', 'incident.ack_timeout:QINC1', '{\"incident_id\":\"QINC1\"}', 5000, NULL, NULL,
     0, NULL, 1000),
    ('QPARKED', 'test.kind', 'parked-key', '{}', 253402300799000, NULL, NULL, 10, 'it broke', 1001),
    ('QLEASED', 'test.kind', NULL, '{}', 2000, 'node-x', 9000, 1, NULL, 1002),
    ('QFAILED', 'test.kind', NULL, '{}', 3000, NULL, NULL, 1, 'once', 1003)";

async fn check_v1_jobs_migrated(store: &Store) {
    let job = |id: &'static str| async move { store.job_by_id(id).await.expect("read").expect("the job") };
    let timer = job("QTIMER").await;
    assert_eq!(
        (timer.status.as_str(), timer.queue.as_str(), timer.subject.as_deref(), timer.unique_key.as_deref()),
        ("scheduled", "incident_timers", Some("incident:QINC1"), Some("incident.ack_timeout:QINC1"))
    );
    let parked = job("QPARKED").await;
    assert_eq!((parked.status.as_str(), parked.unique_key, parked.finished_at), ("failed", None, Some(1001)));
    assert_eq!(parked.last_error.as_deref(), Some("it broke"));
    let leased = job("QLEASED").await;
    assert_eq!((leased.status.as_str(), leased.lease_owner.as_deref()), ("running", Some("node-x")));
    assert_eq!(job("QFAILED").await.status, "retrying");
    assert_eq!(job("QLEASED").await.queue, "default");
    assert!(store.job_attempts("QTIMER").await.expect("attempts").is_empty());
}

#[tokio::test]
async fn v1_jobs_are_migrated_to_v2_statuses_queues_and_subjects_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("klaxon.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.expect("raw connect");
    migrate_to_v1_jobs(&pool, "sqlite").await;
    sqlx::query(V1_JOBS).execute(&pool).await.expect("v1 jobs");
    pool.close().await;

    let store = Store::open(Location::SqliteDir(dir.path())).await.expect("migrates");
    check_v1_jobs_migrated(&store).await;
}

#[tokio::test]
async fn v1_jobs_are_migrated_to_v2_statuses_queues_and_subjects_on_postgres() {
    let Ok(pg_base) = std::env::var("KLAXON_TEST_POSTGRES_URL") else {
        eprintln!("KLAXON_TEST_POSTGRES_URL unset: skipping the PostgreSQL half");
        return;
    };
    let db = klaxon_store::testing::TestDatabase::create(&pg_base).await.expect("fresh database");
    let url = db.url.clone();
    let pool = sqlx::PgPool::connect(&url).await.expect("raw connect");
    migrate_to_v1_jobs(&pool, "postgres").await;
    sqlx::query(V1_JOBS).execute(&pool).await.expect("v1 jobs");
    pool.close().await;

    let store = Store::open(Location::Postgres(&url)).await.expect("migrates");
    check_v1_jobs_migrated(&store).await;
}

/// No partial index of the final schema tests a column against an `IN` list of constants: SQLite evaluates
/// a partial index's WHERE for every row written and builds such a list into a temporary b-tree at every
/// execution of a statement, which the events batch runs once per row (the jobs claim index's
/// `status IN (...)` cost 24,000 instructions per new incident; ARCHITECTURE.md, "The jobs table").
#[tokio::test]
async fn no_partial_index_tests_an_in_list() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(Location::SqliteDir(dir.path())).await.unwrap());
    let db = rusqlite::Connection::open(dir.path().join("klaxon.db")).unwrap();
    let mut statement =
        db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").unwrap();
    let indexes: Vec<(String, String)> =
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert!(indexes.iter().any(|(name, _)| name == "jobs_claim"), "the schema was read");
    for (name, sql) in indexes {
        let upper = sql.to_uppercase();
        if let Some((_, predicate)) = upper.split_once(" WHERE ") {
            assert!(!predicate.contains(" IN "), "partial index {name} tests an IN list: {sql}");
        }
    }
}
