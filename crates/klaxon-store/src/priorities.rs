//! Incident priorities (P1–P5 are seeded by the first migration), ordered most to least severe.

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PriorityRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub color: String,
    pub position: i32,
}

impl Store {
    /// All priorities, most severe first.
    pub async fn priorities(&self) -> Result<Vec<PriorityRow>> {
        dispatch!(self, p => q::priorities::all(p))
    }
}
