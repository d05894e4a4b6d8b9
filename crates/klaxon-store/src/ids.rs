//! Identifiers and secrets in PagerDuty's shapes.
//!
//! Configuration ids are `P` + 6 uppercase alphanumerics (`PSWK4Q7`), random. High-volume records
//! (incidents, alerts, log entries, inbox events, notes, change events, jobs) get a [`long_id`]: `Q` + 13
//! (`Q1869ITH09X2CV`, the shape PagerDuty uses for its newer ids), which is *time-ordered*: 8 base-36
//! digits of the wall-clock millisecond, then 5 digits of a per-process counter that starts at a random
//! value. Two reasons: 2.2 billion random 7-character ids would collide by the birthday bound within a
//! few hundred thousand incidents, and random keys scatter every insert over the whole index (each one a
//! different page to write and fsync), while time-ordered keys append at the index's right edge. The
//! clock here only orders and spreads ids; no rule reads it (rules take the injected clock); it is the
//! one checked exception to clippy's clock rule outside `klaxon-server/src/clock.rs`. Within a process
//! ids never repeat (the counter would have to wrap within one millisecond); across nodes a repeat needs
//! the same millisecond and the same counter value, and fails only the one transaction.
//!
//! Integration keys are 32 lowercase hex characters. API keys are 32 alphanumerics and are stored only as
//! their SHA-256.

use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// A calendar feed's secret token: 43 alphanumerics, about 256 bits of randomness (62^43 > 2^256).
pub fn calendar_token() -> String {
    random_from(ALNUM, 43)
}

/// A resource id: `P` + 6 characters.
pub fn resource_id() -> String {
    format!("P{}", random_from(UPPER_ALNUM, 6))
}

const BASE36: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn push_base36(out: &mut String, mut value: u64, digits: usize) {
    let mut buf = [b'0'; 16];
    for slot in buf[..digits].iter_mut().rev() {
        *slot = BASE36[(value % 36) as usize];
        value /= 36;
    }
    out.extend(buf[..digits].iter().map(|b| *b as char));
}

/// The per-process counter behind [`long_id`] (seeded at random, so nodes start apart).
fn counter() -> &'static AtomicU64 {
    static COUNTER: OnceLock<AtomicU64> = OnceLock::new();
    COUNTER.get_or_init(|| AtomicU64::new(rand::rng().random_range(0..36u64.pow(5))))
}

/// A time-ordered id for high-volume records: `Q` + 13 characters (see the module documentation).
///
/// The workspace's one clock read outside `klaxon-server/src/clock.rs` (ARCHITECTURE.md, Invariants): the
/// millisecond only spreads ids over the index, no rule reads it, and taking it from the caller would
/// thread a `now` through every writer of high-volume rows for no behavioural gain. A system clock before
/// 1970 gives prefix 0; the counter still keeps ids apart.
#[allow(clippy::disallowed_methods)] // Documented exception: see above.
pub fn long_id() -> String {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let n = counter().fetch_add(1, Ordering::Relaxed);
    let mut id = String::with_capacity(14);
    id.push('Q');
    push_base36(&mut id, ms % 36u64.pow(8), 8);
    push_base36(&mut id, n % 36u64.pow(5), 5);
    id
}

/// A routing key: 32 lowercase hex characters.
pub fn integration_key() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// A new API key secret (shown once, never stored).
pub fn api_key_secret() -> String {
    random_from(ALNUM, 32)
}

/// The stored form of an API key: lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_pagerduty_shapes() {
        let id = resource_id();
        assert_eq!(id.len(), 7);
        assert!(id.starts_with('P'));
        assert!(id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        let long = long_id();
        assert_eq!(long.len(), 14);
        assert!(long.starts_with('Q'));
        assert!(long.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        let key = integration_key();
        assert_eq!(key.len(), 32);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(api_key_secret().len(), 32);
    }

    #[test]
    fn long_ids_never_repeat_and_sort_by_creation_within_a_millisecond_run() {
        let ids: Vec<String> = (0..10_000).map(|_| long_id()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        // Sorted by time prefix; the counter may wrap once, so allow at most one step back per millisecond.
        let backwards = ids.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(backwards <= 1, "{backwards} ids sorted before their predecessor");
    }

    #[test]
    fn secrets_hash_to_stable_hex() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
