//! Secret calendar feed tokens, one per schedule or user, made on first use (`calendar_feeds`).

use crate::{Result, Store, dispatch};

/// Whose feed a token opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedOwner {
    Schedule,
    User,
}

impl FeedOwner {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedOwner::Schedule => "schedule",
            FeedOwner::User => "user",
        }
    }
}

impl Store {
    /// The feed token of a schedule or user, made (random, [`crate::ids::calendar_token`]) if it has none.
    pub async fn calendar_token(&self, owner: FeedOwner, owner_id: &str, now_ms: i64) -> Result<String> {
        dispatch!(self, p => q::calendar_feeds::token_for(p, owner.as_str(), owner_id, now_ms))
    }

    /// The owner id a token opens, if it is a token of that kind.
    pub async fn calendar_feed_owner(&self, owner: FeedOwner, token: &str) -> Result<Option<String>> {
        dispatch!(self, p => q::calendar_feeds::owner_of(p, owner.as_str(), token))
    }
}
