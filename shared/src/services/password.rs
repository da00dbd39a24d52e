//! Password hashing with Argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP
//! recommends). Unknown emails still pay for one verification, so timing does not reveal
//! which emails have accounts.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::domain::account::Password;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// PHC string (`$argon2id$v=19$...`) for storage.
pub fn hash_password(password: &Password) -> Result<String, HashError> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|_| HashError)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| HashError)?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| HashError)
}

/// True only if `stored` is a valid hash of `candidate`.
pub fn verify_password(candidate: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(candidate.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spend the same work as a real verification, for logins with an unknown email.
pub fn verify_against_dummy(candidate: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        Password::parse("dummy-password-for-timing")
            .ok()
            .and_then(|p| hash_password(&p).ok())
    });
    if let Some(stored) = dummy {
        let _ = verify_password(candidate, stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let password = Password::parse("correct horse battery").unwrap();
        let stored = hash_password(&password).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(!stored.contains("correct horse"));
        assert!(verify_password("correct horse battery", &stored));
        assert!(!verify_password("correct horse battery!", &stored));
        assert!(!verify_password("anything", "not-a-phc-string"));
    }
}
