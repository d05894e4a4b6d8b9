//! Helpers for test suites that run against PostgreSQL: each test gets a database of its own.

use crate::Result;
use rand::Rng;
use sqlx::Connection;

/// Creates an empty database named `klaxon_test_<random>` on the server `base_url` points at and
/// returns a URL for it.
pub async fn fresh_postgres_database(base_url: &str) -> Result<String> {
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    let suffix: u64 = rand::rng().random();
    let name = format!("klaxon_test_{suffix:016x}");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    conn.close().await?;
    let mut url = url::Url::parse(base_url).map_err(|e| crate::StoreError::Rejected(e.to_string()))?;
    url.set_path(&name);
    Ok(url.to_string())
}
