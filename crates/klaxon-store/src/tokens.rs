//! API keys: account-level (full or read-only) and user tokens. Only a SHA-256 of each secret is stored;
//! the secret itself is returned once, at creation.

use crate::users::UserRow;
use crate::{Result, Store, dispatch, ids};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub kind: String,
    pub read_only: bool,
    pub user_id: Option<String>,
    pub token_last4: String,
    pub description: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// What kind of key to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewApiKey {
    Account { read_only: bool },
    User { user_id: String },
}

/// A key found by its secret, with its user for user tokens.
#[derive(Clone, Debug)]
pub struct ResolvedKey {
    pub key: ApiKeyRow,
    pub user: Option<UserRow>,
}

impl Store {
    /// Creates a key and returns it with its secret, which is not stored and cannot be shown again.
    pub async fn create_api_key(
        &self,
        kind: &NewApiKey,
        description: &str,
        now_ms: i64,
    ) -> Result<(ApiKeyRow, String)> {
        let secret = ids::api_key_secret();
        let row = dispatch!(self, p => q::tokens::insert(p, kind, &secret, description, now_ms))?;
        Ok((row, secret))
    }

    /// Makes sure `secret` is a live full-access account key (bootstrap). Idempotent.
    pub async fn ensure_account_key(&self, secret: &str, description: &str, now_ms: i64) -> Result<ApiKeyRow> {
        dispatch!(self, p => q::tokens::ensure_account(p, secret, description, now_ms))
    }

    /// Looks up a live (unrevoked) key by its secret. For user tokens the user must be live too.
    pub async fn api_key_by_secret(&self, secret: &str) -> Result<Option<ResolvedKey>> {
        let hash = ids::hash_secret(secret);
        dispatch!(self, p => q::tokens::resolve(p, &hash))
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>> {
        dispatch!(self, p => q::tokens::list(p))
    }

    /// Revokes a key by id; `NotFound` if there is no live key with that id.
    pub async fn revoke_api_key(&self, id: &str, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::tokens::revoke(p, id, now_ms))
    }
}
