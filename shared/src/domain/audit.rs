//! The audit trail: what happened to a workspace's account and keys, who did it and from where.
//! An `AuditEvent` is built by the handler that makes a change and handed to the store, which
//! writes it in the same transaction as the change (login events, which change nothing, are
//! written alone). Its serde shape is exactly what `GET /api/v1/audit-events` shows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::api_key::ApiKeyRecord;
use crate::domain::ids::{AuditEventId, KeyId, UserId, WebhookId};
use crate::domain::keys::KeyPrefix;
use crate::domain::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditEventType {
    #[serde(rename = "user.registered")]
    UserRegistered,
    #[serde(rename = "user.login_succeeded")]
    UserLoginSucceeded,
    #[serde(rename = "user.login_failed")]
    UserLoginFailed,
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.rotated")]
    ApiKeyRotated,
    #[serde(rename = "api_key.updated")]
    ApiKeyUpdated,
    #[serde(rename = "api_key.deactivated")]
    ApiKeyDeactivated,
    #[serde(rename = "api_key.leak_reported")]
    ApiKeyLeakReported,
    /// 7 days and 1 day before a key expires (the webhook scheduler).
    #[serde(rename = "api_key.expiring")]
    ApiKeyExpiring,
    #[serde(rename = "webhook.created")]
    WebhookCreated,
    #[serde(rename = "webhook.updated")]
    WebhookUpdated,
    #[serde(rename = "webhook.deleted")]
    WebhookDeleted,
    #[serde(rename = "webhook.secret_rotated")]
    WebhookSecretRotated,
    /// By a `410 Gone` or days of failed deliveries (the owner's own disabling is an update).
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
}

impl AuditEventType {
    pub const ALL: [AuditEventType; 14] = [
        AuditEventType::UserRegistered,
        AuditEventType::UserLoginSucceeded,
        AuditEventType::UserLoginFailed,
        AuditEventType::ApiKeyCreated,
        AuditEventType::ApiKeyRotated,
        AuditEventType::ApiKeyUpdated,
        AuditEventType::ApiKeyDeactivated,
        AuditEventType::ApiKeyLeakReported,
        AuditEventType::ApiKeyExpiring,
        AuditEventType::WebhookCreated,
        AuditEventType::WebhookUpdated,
        AuditEventType::WebhookDeleted,
        AuditEventType::WebhookSecretRotated,
        AuditEventType::WebhookDisabled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            AuditEventType::UserRegistered => "user.registered",
            AuditEventType::UserLoginSucceeded => "user.login_succeeded",
            AuditEventType::UserLoginFailed => "user.login_failed",
            AuditEventType::ApiKeyCreated => "api_key.created",
            AuditEventType::ApiKeyRotated => "api_key.rotated",
            AuditEventType::ApiKeyUpdated => "api_key.updated",
            AuditEventType::ApiKeyDeactivated => "api_key.deactivated",
            AuditEventType::ApiKeyLeakReported => "api_key.leak_reported",
            AuditEventType::ApiKeyExpiring => "api_key.expiring",
            AuditEventType::WebhookCreated => "webhook.created",
            AuditEventType::WebhookUpdated => "webhook.updated",
            AuditEventType::WebhookDeleted => "webhook.deleted",
            AuditEventType::WebhookSecretRotated => "webhook.secret_rotated",
            AuditEventType::WebhookDisabled => "webhook.disabled",
        }
    }
}

impl fmt::Display for AuditEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownEventType;

impl FromStr for AuditEventType {
    type Err = UnknownEventType;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or(UnknownEventType)
    }
}

/// Who made the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    User {
        id: UserId,
    },
    /// A signed report from a secret scanner; `source` is where it found the key.
    LeakReport {
        source: String,
    },
    /// YeboLink itself: the webhook scheduler's reminders, an endpoint disabled by its answers.
    System,
}

/// What the change was made to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    ApiKey { id: KeyId, key_prefix: KeyPrefix },
    User { id: UserId },
    Webhook { id: WebhookId },
}

impl Target {
    pub fn api_key(key: &ApiKeyRecord) -> Self {
        Target::ApiKey {
            id: key.id,
            key_prefix: key.key_prefix.clone(),
        }
    }
}

/// Where a request came from, as the gateway saw it (read by `http::audit::origin_of`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: AuditEventId,
    #[serde(rename = "type")]
    pub event_type: AuditEventType,
    pub occurred_at: Timestamp,
    pub actor: Actor,
    pub target: Target,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Value,
    /// When storage may drop the event (TTL); not shown.
    #[serde(skip)]
    pub retain_until: Timestamp,
}

impl AuditEvent {
    /// A new event happening `now`, kept for `retention_days`.
    pub fn new(
        event_type: AuditEventType,
        actor: Actor,
        target: Target,
        origin: &RequestOrigin,
        details: Value,
        now: Timestamp,
        retention_days: u64,
    ) -> Self {
        let retention = i64::try_from(retention_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        Self {
            id: AuditEventId::new(),
            event_type,
            occurred_at: now,
            actor,
            target,
            source_ip: origin.source_ip.clone(),
            user_agent: origin.user_agent.clone(),
            details,
            retain_until: now.plus_seconds(retention),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_types_round_trip_through_their_names() {
        for t in AuditEventType::ALL {
            assert_eq!(t.as_str().parse::<AuditEventType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!("api_key.exploded".parse::<AuditEventType>().is_err());
    }

    #[test]
    fn an_event_shows_the_documented_shape() {
        let user = UserId::new();
        let event = AuditEvent::new(
            AuditEventType::UserLoginSucceeded,
            Actor::User { id: user },
            Target::User { id: user },
            &RequestOrigin {
                source_ip: Some("203.0.113.9".into()),
                user_agent: None,
            },
            json!({}),
            Timestamp::from_unix(0),
            400,
        );
        let shown = serde_json::to_value(&event).unwrap();
        assert_eq!(shown["type"], "user.login_succeeded");
        assert_eq!(shown["actor"], json!({"type": "user", "id": user}));
        assert_eq!(shown["target"], json!({"type": "user", "id": user}));
        assert_eq!(shown["source_ip"], "203.0.113.9");
        assert_eq!(shown["user_agent"], Value::Null);
        assert_eq!(shown["occurred_at"], "1970-01-01T00:00:00Z");
        assert!(shown.get("retain_until").is_none());
        assert_eq!(event.retain_until.unix(), 400 * 86_400);
        let back: AuditEvent = serde_json::from_value(shown).unwrap();
        assert_eq!(back.id, event.id);
        assert_eq!(back.actor, event.actor);
    }
}
