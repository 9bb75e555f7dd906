//! Random identifiers, secret keys and timestamps.
//!
//! Clerk's IDs are a prefix followed by 27 random base62 characters (`org_…`, `orgmem_…`);
//! secret keys look like `sk_test_…`. All randomness comes from the operating system
//! (`getrandom`), so generated keys are fit to be secrets.

use std::time::{SystemTime, UNIX_EPOCH};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` random base62 characters, uniformly distributed (bytes of 248 and above are
/// rejected, so `byte % 62` has no bias).
///
/// # Panics
/// If the operating system's random source fails, which `getrandom` reports only when the
/// system has none at all.
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        for &b in &buf {
            if out.len() == len {
                break;
            }
            if b < 248 {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

/// A new identifier: `prefix` followed by 27 random base62 characters, e.g.
/// `new_id("org_")` → `org_2xQ…`.
pub fn new_id(prefix: &str) -> String {
    let mut id = String::from(prefix);
    id.push_str(&random_base62(27));
    id
}

/// A new random secret key, `sk_test_` followed by 48 base62 characters (about 285 bits).
pub fn generate_secret_key() -> String {
    let mut key = String::from("sk_test_");
    key.push_str(&random_base62(48));
    key
}

/// Milliseconds since the Unix epoch (Clerk's timestamp unit). A clock before 1970 gives 0.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_prefix_and_27_base62_characters() {
        let id = new_id("orgmem_");
        let rest = id.strip_prefix("orgmem_").unwrap();
        assert_eq!(rest.len(), 27);
        assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_id("org_"), new_id("org_"));
    }

    #[test]
    fn secret_keys_look_like_clerk_test_keys() {
        let key = generate_secret_key();
        assert!(key.starts_with("sk_test_"));
        assert_eq!(key.len(), "sk_test_".len() + 48);
    }
}
