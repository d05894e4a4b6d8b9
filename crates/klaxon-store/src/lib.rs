//! Klaxon's storage: one code path over SQLite (the embedded default) and PostgreSQL.
//!
//! How one code path serves two databases: every query lives once, in `src/queries/`, and that directory
//! is compiled twice, as `sqlite::q` and `postgres::q`, each time with `Db` bound to that backend (see
//! `sqlite.rs` and `postgres.rs`). SQL is written in the dialect both accept (`$1` placeholders,
//! `RETURNING`, `ON CONFLICT`, partial indexes). The [`Store`] facade picks the compiled copy for the
//! configured backend with the `dispatch!` macro, so callers never see a backend type.
//!
//! Each area has a facade file (`users.rs`, `tokens.rs`, ...) holding its row types and `impl Store`
//! methods, and a query file (`queries/users.rs`, ...) holding the SQL.
//!
//! Instants are stored as BIGINT Unix milliseconds; callers pass `now` in (the store never reads a clock).

// `queries/` is compiled once per backend on purpose (see above).
#![allow(clippy::duplicate_mod)]

mod error;
pub mod ids;
mod migrate;
mod postgres;
mod sqlite;
mod sqlite_handle;
#[cfg(feature = "testing")]
pub mod testing;

pub mod calendar_feeds;
pub mod change_events;
pub mod commands;
pub mod contact_methods;
pub mod escalation_policies;
pub mod events;
pub mod handoffs;
pub mod incidents;
pub mod integrations;
pub mod jobs;
pub mod maintenance_windows;
pub mod notification_rules;
pub mod notifications;
pub mod oncalls;
pub mod priorities;
pub mod schedules;
pub mod services;
pub mod teams;
pub mod timers;
pub mod tokens;
pub mod users;

pub use error::StoreError;
pub use migrate::{SCHEMA_VERSION, render_migration};

use std::path::Path;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs the same query function against whichever backend is configured.
macro_rules! dispatch {
    ($store:expr, $p:ident => $body:expr) => {
        match &*$store.backend {
            $crate::Backend::Sqlite($p) => {
                #[allow(unused_imports)]
                use $crate::sqlite::q;
                $body.await
            }
            $crate::Backend::Postgres($p) => {
                #[allow(unused_imports)]
                use $crate::postgres::q;
                $body.await
            }
        }
    };
}
pub(crate) use dispatch;

/// Inside a `dispatch!` body: begins a write transaction on the selected backend.
#[macro_export]
#[doc(hidden)]
macro_rules! queries_begin_write {
    ($p:expr) => {
        q::begin_write($p).await
    };
}

pub(crate) enum Backend {
    Sqlite(sqlite::Pools),
    Postgres(postgres::Pools),
}

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// Connection-pool figures for metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// The database, opened and migrated. Cheap to clone (pools are shared).
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: std::sync::Arc<Backend>,
    /// The job runner's wake-up hook (see `jobs.rs`), shared by the clones of this store.
    pub(crate) job_wakeup: std::sync::Arc<std::sync::RwLock<Option<jobs::JobWakeup>>>,
    /// How many times this process committed an incident left with nobody assignable (nobody on call at
    /// any level tried), shared by the clones of this store; the server exports it as a counter.
    pub(crate) unassignable: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Where the data lives: a SQLite file in a data directory, or a PostgreSQL URL.
#[derive(Clone)]
pub enum Location<'a> {
    SqliteDir(&'a Path),
    Postgres(&'a str),
}

impl Store {
    /// Opens the database, creating the SQLite file (and directory) if needed, and applies migrations.
    /// Refuses a database that a newer Klaxon has migrated.
    pub async fn open(location: Location<'_>) -> Result<Store> {
        let backend = match location {
            Location::SqliteDir(dir) => Backend::Sqlite(sqlite::open(dir).await?),
            Location::Postgres(url) => Backend::Postgres(postgres::open(url).await?),
        };
        let store = Store {
            backend: std::sync::Arc::new(backend),
            job_wakeup: Default::default(),
            unassignable: Default::default(),
        };
        match &*store.backend {
            Backend::Sqlite(p) => migrate::run(&p.write, &sqlite::MIGRATOR).await?,
            Backend::Postgres(p) => migrate::run(&p.write, &postgres::MIGRATOR).await?,
        }
        Ok(store)
    }

    pub fn kind(&self) -> BackendKind {
        match &*self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Answers whether the database responds now (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, p => q::meta::ping(p))
    }

    /// Lists `(table, column)` pairs of Klaxon's own tables, sorted; used to prove both backends agree.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>> {
        match &*self.backend {
            Backend::Sqlite(p) => sqlite::schema_columns(&p.read).await,
            Backend::Postgres(p) => postgres::schema_columns(&p.read).await,
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        match &*self.backend {
            Backend::Sqlite(p) => PoolStats {
                size: p.read.size() + p.write.size(),
                idle: (p.read.num_idle() + p.write.num_idle()) as u32,
            },
            Backend::Postgres(p) => PoolStats { size: p.write.size(), idle: p.write.num_idle() as u32 },
        }
    }

    /// Closes the pools, waiting for in-flight statements.
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite(p) => {
                p.read.close().await;
                p.write.close().await;
            }
            Backend::Postgres(p) => p.write.close().await,
        }
    }
}

impl Store {
    /// How many times this process committed an incident left with nobody assignable: the command layer's
    /// `Effects::unassignable` and the events batch's count, added after their transactions commit.
    pub fn unassignable_incidents(&self) -> u64 {
        self.unassignable.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn count_unassignable(&self, n: u64) {
        if n > 0 {
            self.unassignable.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
