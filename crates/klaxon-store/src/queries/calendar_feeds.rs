//! SQL of calendar feed tokens.

use super::{Pools, begin_write};
use crate::{Result, ids};

const TOKEN_OF: &str = "SELECT token FROM calendar_feeds WHERE owner_type = $1 AND owner_id = $2";

pub async fn token_for(p: &Pools, owner_type: &str, owner_id: &str, now: i64) -> Result<String> {
    let existing: Option<(String,)> =
        sqlx::query_as(TOKEN_OF).bind(owner_type).bind(owner_id).fetch_optional(&p.read).await?;
    if let Some((token,)) = existing {
        return Ok(token);
    }
    let mut tx = begin_write(p).await?;
    sqlx::query(
        "INSERT INTO calendar_feeds (token, owner_type, owner_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner_type, owner_id) DO NOTHING",
    )
    .bind(ids::calendar_token())
    .bind(owner_type)
    .bind(owner_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // A racing request may have made it first: read whichever token won.
    let (token,): (String,) = sqlx::query_as(TOKEN_OF).bind(owner_type).bind(owner_id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(token)
}

pub async fn owner_of(p: &Pools, owner_type: &str, token: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT owner_id FROM calendar_feeds WHERE token = $1 AND owner_type = $2")
            .bind(token)
            .bind(owner_type)
            .fetch_optional(&p.read)
            .await?;
    Ok(row.map(|(id,)| id))
}
