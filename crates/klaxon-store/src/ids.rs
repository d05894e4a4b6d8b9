//! Identifiers and secrets in PagerDuty's shapes.
//!
//! Resource ids are `P` + 6 uppercase alphanumerics (`PSWK4Q7`); log entries and other high-volume
//! records are `Q` + 13 (`Q1869ITH09X2CV`). Integration keys are 32 lowercase hex characters. API keys
//! are 32 alphanumerics and are stored only as their SHA-256.

use rand::Rng;
use sha2::{Digest, Sha256};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// A resource id: `P` + 6 characters.
pub fn resource_id() -> String {
    format!("P{}", random_from(UPPER_ALNUM, 6))
}

/// A long id for high-volume records: `Q` + 13 characters.
pub fn long_id() -> String {
    format!("Q{}", random_from(UPPER_ALNUM, 13))
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
        assert_eq!(long_id().len(), 14);
        let key = integration_key();
        assert_eq!(key.len(), 32);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(api_key_secret().len(), 32);
    }

    #[test]
    fn secrets_hash_to_stable_hex() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
