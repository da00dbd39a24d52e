//! API key secrets and what is derived from them. A key is `ybk_` + 48 lowercase hex: 40 hex of
//! CSPRNG output (160 bits) then 8 hex of CRC32 over everything before it, so a mistyped or
//! made-up key is rejected without a database read. Only the SHA-256 (`KeyHash`) is stored.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::timestamp::Timestamp;

pub const KEY_PREFIX: &str = "ybk_";
const RANDOM_HEX: usize = 40;
const CHECKSUM_HEX: usize = 8;
const KEY_LEN: usize = KEY_PREFIX.len() + RANDOM_HEX + CHECKSUM_HEX;
/// Characters of the key shown in listings (`ybk_` + 7), as in the public docs.
const DISPLAY_CHARS: usize = 11;

/// Shortest lifetime a key may be created with: an expiry closer than this is a mistake.
pub const MIN_KEY_LIFETIME_SECONDS: i64 = 60;
/// Longest: two years, so even a forgotten key ends.
pub const MAX_KEY_LIFETIME_SECONDS: i64 = 2 * 365 * 86_400;

/// A requested `expires_at`: RFC 3339, at least a minute and at most two years after `now`.
pub fn parse_key_expiry(raw: &str, now: Timestamp) -> Result<Timestamp, &'static str> {
    let expiry = Timestamp::parse_rfc3339(raw).ok_or("must be an RFC 3339 date-time")?;
    let lifetime = expiry.unix() - now.unix();
    if lifetime < MIN_KEY_LIFETIME_SECONDS {
        Err("must be at least 60 seconds in the future")
    } else if lifetime > MAX_KEY_LIFETIME_SECONDS {
        Err("must be at most 2 years in the future")
    } else {
        Ok(expiry)
    }
}

/// The full secret. Deliberately not `Debug`/`Display`/`Serialize`: it leaves the process only
/// through `expose_once` in the create response.
pub struct ApiKeySecret(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedKey;

impl ApiKeySecret {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut random = [0u8; RANDOM_HEX / 2];
        getrandom::fill(&mut random)?;
        let body = format!("{KEY_PREFIX}{}", hex::encode(random));
        let checksum = crc32fast::hash(body.as_bytes());
        Ok(Self(format!("{body}{checksum:08x}")))
    }

    /// Format and checksum check; no I/O.
    pub fn parse(raw: &str) -> Result<Self, MalformedKey> {
        if raw.len() != KEY_LEN || !raw.starts_with(KEY_PREFIX) {
            return Err(MalformedKey);
        }
        let hex_part = &raw[KEY_PREFIX.len()..];
        if !hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(MalformedKey);
        }
        let (body, checksum) = raw.split_at(KEY_LEN - CHECKSUM_HEX);
        let expected = format!("{:08x}", crc32fast::hash(body.as_bytes()));
        if expected != checksum {
            return Err(MalformedKey);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    pub fn prefix(&self) -> KeyPrefix {
        KeyPrefix(format!("{}...", &self.0[..DISPLAY_CHARS]))
    }

    /// The only way to read the secret: for the one response that shows it.
    pub fn expose_once(self) -> String {
        self.0
    }
}

/// Hex SHA-256 of a full key: the only form in which a key is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, so a stored hash never leaks through timing.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// What users see of a key: `ybk_1234567...`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn from_stored(prefix: String) -> Self {
        Self(prefix)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_format() {
        let key = ApiKeySecret::generate().unwrap().expose_once();
        assert_eq!(key.len(), 52);
        assert!(key.starts_with("ybk_"));
        assert!(key[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn generated_keys_parse_and_are_unique() {
        let a = ApiKeySecret::generate().unwrap().expose_once();
        let b = ApiKeySecret::generate().unwrap().expose_once();
        assert_ne!(a, b);
        assert!(ApiKeySecret::parse(&a).is_ok());
    }

    #[test]
    fn a_single_mistyped_character_fails_the_checksum() {
        let key = ApiKeySecret::generate().unwrap().expose_once();
        let mut typo = key.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            ApiKeySecret::parse(&String::from_utf8(typo).unwrap()).err(),
            Some(MalformedKey)
        );
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for raw in [
            "",
            "ybk_",
            "ybk_1234567890abcdef1234567890abcdef1234567890abcdef",
            "YBK_1234567890abcdef1234567890abcdef1234567890abcdef",
            "ybk_1234567890ABCDEF1234567890abcdef1234567890abcdef",
            "ybk_1234567890abcdef1234567890abcdef1234567890abcdeg",
            "ybk_ü234567890abcdef1234567890abcdef1234567890abcde",
        ] {
            assert!(ApiKeySecret::parse(raw).is_err(), "{raw:?} parsed");
        }
    }

    #[test]
    fn prefix_is_the_first_eleven_characters_and_an_ellipsis() {
        let secret = ApiKeySecret::generate().unwrap();
        let prefix = secret.prefix();
        let key = secret.expose_once();
        assert_eq!(prefix.as_str(), format!("{}...", &key[..11]));
    }

    #[test]
    fn hash_is_sha256_hex_of_the_full_key_and_never_the_key() {
        let secret = ApiKeySecret::generate().unwrap();
        let hash = secret.hash();
        let key = secret.expose_once();
        assert_eq!(hash.as_str().len(), 64);
        assert!(!hash.as_str().contains(&key[4..]));
        assert!(hash.matches(&ApiKeySecret::parse(&key).unwrap().hash()));
    }

    #[test]
    fn expiry_must_be_rfc3339_between_a_minute_and_two_years_ahead() {
        let now = Timestamp::from_unix(1_762_084_800); // 2025-11-02T12:00:00Z
        assert_eq!(
            parse_key_expiry("2025-11-02T12:01:00Z", now),
            Ok(now.plus_seconds(60))
        );
        assert_eq!(
            parse_key_expiry("2027-11-02T12:00:00Z", now),
            Ok(now.plus_seconds(MAX_KEY_LIFETIME_SECONDS))
        );
        for raw in [
            "2025-11-02T12:00:59Z",
            "2020-01-01T00:00:00Z",
            "2027-11-02T12:00:01Z",
            "next week",
            "1762084900",
        ] {
            assert!(parse_key_expiry(raw, now).is_err(), "{raw}");
        }
    }
}
