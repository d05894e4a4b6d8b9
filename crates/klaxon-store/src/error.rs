//! The store's typed errors. The HTTP layer maps them to status codes once, at its boundary.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken; the string names the field (e.g. `name`).
    #[error("{field} has already been taken")]
    Conflict { field: &'static str },
    /// A rule the store enforces, with a message for the caller (e.g. deleting a policy still in use).
    #[error("{0}")]
    Rejected(String),
    /// A command broke an incident rule (decided by `klaxon_core::command`); `index` is the position of
    /// the incident in the request (0 for a single incident), so the caller can name the field.
    #[error("{error}")]
    Incident { index: usize, error: klaxon_core::incident::IncidentError },
    #[error(
        "this database was migrated by a newer Klaxon (schema version {found}; this build knows up to {known}); refusing to start"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite failed on the write connection's own handle (the events write path, see `sqlite_handle.rs`).
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot open data directory: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// A deadlock or serialization failure (PostgreSQL): the transaction can simply be run again.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40P01") | Some("40001"))
            }
            _ => false,
        }
    }

    /// Maps a unique-constraint violation to `Conflict { field }`, leaving other errors as they are.
    pub fn unique_as(self, field: &'static str) -> StoreError {
        match &self {
            StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                StoreError::Conflict { field }
            }
            _ => self,
        }
    }
}
