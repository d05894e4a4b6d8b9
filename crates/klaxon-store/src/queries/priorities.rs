//! SQL for priorities.

use super::{Db, Pools};
use crate::Result;
use crate::priorities::PriorityRow;

pub async fn all(p: &Pools) -> Result<Vec<PriorityRow>> {
    Ok(sqlx::query_as::<Db, PriorityRow>(
        "SELECT id, name, description, color, position FROM priorities ORDER BY position, id",
    )
    .fetch_all(&p.read)
    .await?)
}
