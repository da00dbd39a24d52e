//! The JSON shapes clients see for sessions, keys, messages and usage series, in one place so every endpoint
//! that returns one returns the same fields.

use serde_json::{json, Value};

use crate::domain::account::{DisplayName, Email};
use crate::domain::api_key::{ApiKeyRecord, KeyStatus};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::keys::ApiKeySecret;
use crate::domain::message::MessageRecord;
use crate::domain::policy::KeyPolicy;
use crate::domain::timestamp::Timestamp;
use crate::domain::usage::UsageCounts;
use crate::http::error::ApiError;
use crate::services::jwt::JwtKeys;

/// Register's and login's `data`: a fresh token and who it is for.
pub fn session(
    jwt: &JwtKeys,
    user_id: UserId,
    email: &Email,
    workspace_id: WorkspaceId,
    workspace_name: &DisplayName,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let token = jwt.issue(user_id, workspace_id, now).map_err(|err| {
        tracing::error!(error = %err, "token signing failed");
        ApiError::Internal
    })?;
    Ok(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": jwt.ttl_seconds(),
        "workspace": { "id": workspace_id, "name": workspace_name },
        "user": { "id": user_id, "email": email },
    }))
}

/// A key's policy as every key view shows it: `rate_limit_per_minute` is the limit in force
/// (the key's own or `default_limit`); an unset setting is `null`.
pub fn key_policy(policy: &KeyPolicy, default_limit: u64) -> Value {
    json!({
        "rate_limit_per_minute": policy.rate_limit(default_limit),
        "allowed_ips": policy
            .allowed_ips
            .as_ref()
            .map(|blocks| blocks.iter().map(ToString::to_string).collect::<Vec<_>>()),
        "metadata": policy.metadata,
        "monthly_send_limit": policy.monthly_send_limit,
    })
}

fn with_policy(mut view: Value, key: &ApiKeyRecord, default_limit: u64) -> Value {
    if let (Some(view), Value::Object(policy)) =
        (view.as_object_mut(), key_policy(&key.policy, default_limit))
    {
        view.extend(policy);
    }
    view
}

/// A key as listed: never the secret, never the hash. `status` and `is_active` as of `now`;
/// `default_limit` is the deployment's `RATE_LIMIT_PER_MINUTE`.
pub fn api_key(key: &ApiKeyRecord, default_limit: u64, now: Timestamp) -> Value {
    let status = key.status(now);
    let view = json!({
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "scopes": key.scopes,
        "is_active": status == KeyStatus::Active,
        "status": status,
        "expires_at": key.expires_at,
        "replaced_by": key.replaced_by,
        "rotated_from": key.rotated_from,
        "last_used_at": key.last_used_at,
        "last_used_ip": key.last_used_ip,
        "created_at": key.created_at,
    });
    with_policy(view, key, default_limit)
}

/// The one response that shows a full key: create and rotate. The documented create fields,
/// plus `expires_at` and `status`, plus `rotated_from` for a key made by rotation.
pub fn created_api_key(
    key: &ApiKeyRecord,
    secret: ApiKeySecret,
    default_limit: u64,
    now: Timestamp,
) -> Value {
    let mut shown = json!({
        "id": key.id,
        "name": key.name,
        "key": secret.expose_once(),
        "key_prefix": key.key_prefix,
        "scopes": key.scopes,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "status": key.status(now),
        "warning": CREATED_KEY_WARNING,
    });
    if let Some(old) = key.rotated_from {
        shown["rotated_from"] = json!(old);
    }
    with_policy(shown, key, default_limit)
}

pub const CREATED_KEY_WARNING: &str = "Save this key securely. It will not be shown again.";

pub fn message(message: &MessageRecord) -> Value {
    let mut content = json!({ "text": message.text });
    if let Some(subject) = &message.subject {
        content["subject"] = json!(subject);
    }
    json!({
        "id": message.id,
        "to": message.to,
        "channel": message.channel,
        "content": content,
        "status": message.status,
        "segments": message.segments,
        "created_at": message.created_at,
    })
}

/// A series as the usage routes show it.
pub fn buckets_view(series: &[(Timestamp, UsageCounts)]) -> serde_json::Value {
    series
        .iter()
        .map(|(start, counts)| {
            serde_json::json!({
                "start": start,
                "requests": counts.requests,
                "rate_limited": counts.rate_limited,
                "denied": counts.denied,
            })
        })
        .collect()
}
