//! Values a workspace owner types in: emails, passwords and names. Each parses from raw input or
//! says which rule it broke; handlers turn that into a `validation_error` naming the field.
//! Also the account records storage keeps: a new workspace with its owner, and login's view.

use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::timestamp::Timestamp;

/// An email address, trimmed and lowercased so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err("must be a valid email address")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 12 to 256 characters. Not `Debug`, so it cannot end up in a log line.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let chars = raw.chars().count();
        if (12..=256).contains(&chars) {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 12 to 256 characters")
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A human-readable name (workspace, API key): 1 to 100 characters after trimming, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        if (1..=100).contains(&name.chars().count()) {
            Ok(Self(name.to_owned()))
        } else {
            Err("must be 1 to 100 characters")
        }
    }

    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new workspace with its owner.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub workspace_id: WorkspaceId,
    pub workspace_name: DisplayName,
    pub user_id: UserId,
    pub email: Email,
    pub password_hash: String,
    pub created_at: Timestamp,
}

/// What login needs to check a password and issue a token.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub workspace_name: DisplayName,
    pub email: Email,
    pub password_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for raw in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@example..com",
            "ada@.example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} parsed");
        }
    }

    #[test]
    fn passwords_must_be_12_to_256_characters() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("exactly12chr").is_ok());
        assert!(Password::parse(&"x".repeat(256)).is_ok());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        assert!(Password::parse("ünïcødé-pässwörd").is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Prod key ").unwrap().as_str(),
            "Prod key"
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"n".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"n".repeat(101)).is_err());
        assert!(DisplayName::parse("tab\there").is_err());
        assert!(DisplayName::parse("Clé 🔑").is_ok());
    }
}
