//! Liveness and housekeeping queries.

use super::Pools;
use crate::Result;

pub async fn ping(p: &Pools) -> Result<()> {
    sqlx::query("SELECT 1").execute(&p.read).await?;
    Ok(())
}
