//! Identifier newtypes. Each wraps a UUID so that a key id can never be passed where a workspace
//! id is expected. Keys and messages use UUIDv7: time-ordered, so DynamoDB sort keys list
//! newest first with no sorting in memory.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// A string that is not a canonical (hyphenated, lowercase) UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a canonical UUID")]
pub struct InvalidId;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $new:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self($new)
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            /// Accepts only the canonical form (hyphenated, lowercase), so one id has one
            /// spelling.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let id = uuid::fmt::Hyphenated::from_str(s).map_err(|_| InvalidId)?.into_uuid();
                if id.hyphenated().to_string() == s {
                    Ok(Self(id))
                } else {
                    Err(InvalidId)
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A workspace: the tenant every key and message belongs to.
    WorkspaceId,
    Uuid::new_v4()
);
uuid_id!(
    /// A workspace owner who logs in with a password.
    UserId,
    Uuid::new_v4()
);
uuid_id!(
    /// An API key's public id (not the secret).
    KeyId,
    Uuid::now_v7()
);
uuid_id!(
    /// A message; time-ordered.
    MessageId,
    Uuid::now_v7()
);
uuid_id!(
    /// An audit event; time-ordered, so the trail lists newest first from its sort key.
    AuditEventId,
    Uuid::now_v7()
);
uuid_id!(
    /// A webhook endpoint of a workspace.
    WebhookId,
    Uuid::now_v7()
);
uuid_id!(
    /// One event to one endpoint: the `webhook-id` of all its attempts. Time-ordered, so an
    /// endpoint's deliveries list newest first from their sort key.
    DeliveryId,
    Uuid::now_v7()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_canonical_uuids() {
        let id = KeyId::new();
        assert_eq!(id.to_string().parse::<KeyId>().unwrap(), id);
        assert!("not-a-uuid".parse::<KeyId>().is_err());
        assert!(id.as_uuid().simple().to_string().parse::<KeyId>().is_err());
        assert!(format!("{{{id}}}").parse::<KeyId>().is_err());
        assert!(id.to_string().to_uppercase().parse::<KeyId>().is_err());
    }

    #[test]
    fn message_ids_sort_in_creation_order() {
        let first = MessageId::new();
        let second = MessageId::new();
        assert!(first.to_string() < second.to_string());
    }
}
