//! What a key's owner sets on a key, read from a create or an edit body: its name, its scopes
//! and its policy (`domain::policy`). Every error is a 400 that names its field.

use serde_json::Value;

use crate::domain::account::DisplayName;
use crate::domain::api_key::KeyEdit;
use crate::domain::invalid::InvalidField;
use crate::domain::limits::Limits;
use crate::domain::policy::{
    parse_allowed_ips, parse_metadata, parse_monthly_send_limit, parse_rate_limit, KeyPolicy,
};
use crate::domain::scopes::{Scopes, ScopesError};
use crate::http::error::ApiError;
use crate::http::request::JsonObject;

/// The fields an edit (`PATCH /api/v1/api-keys/{id}`) may send.
pub const EDITABLE_FIELDS: [&str; 6] = [
    "name",
    "scopes",
    "rate_limit_per_minute",
    "allowed_ips",
    "metadata",
    "monthly_send_limit",
];

pub fn parse_name(raw: &str) -> Result<DisplayName, ApiError> {
    DisplayName::parse(raw).map_err(|problem| ApiError::field("name", problem))
}

/// Scopes as sent (`None`: the default, both).
pub fn parse_scopes(requested: Option<&[String]>) -> Result<Scopes, ApiError> {
    Scopes::from_request(requested).map_err(|err| match err {
        ScopesError::Empty => ApiError::field("scopes", "must not be empty"),
        ScopesError::Unknown(_) => {
            ApiError::field("scopes", "each must be send_messages or read_messages")
        }
    })
}

/// The policy of a new key: each setting sent (and not `null`), the rest unset.
pub fn policy_of_new_key(body: &JsonObject, limits: &Limits) -> Result<KeyPolicy, ApiError> {
    let given = |field: &str| body.sent(field).filter(|v| !v.is_null());
    Ok(KeyPolicy {
        rate_limit_per_minute: given("rate_limit_per_minute")
            .map(|v| parse_rate_limit(v, limits.workspace_rate_limit_per_minute))
            .transpose()?,
        allowed_ips: given("allowed_ips").map(parse_allowed_ips).transpose()?,
        metadata: given("metadata").map(parse_metadata).transpose()?,
        monthly_send_limit: given("monthly_send_limit")
            .map(parse_monthly_send_limit)
            .transpose()?,
    })
}

/// An edit: at least one field, none unknown; `null` clears the addresses, the metadata and
/// the monthly limit, and returns the rate limit to the default.
pub fn key_edit(body: &JsonObject, limits: &Limits) -> Result<KeyEdit, ApiError> {
    if let Some(unknown) = body.fields().find(|f| !EDITABLE_FIELDS.contains(f)) {
        return Err(ApiError::field(
            unknown,
            "is not a setting that can be changed (name, scopes, rate_limit_per_minute, \
             allowed_ips, metadata, monthly_send_limit)",
        ));
    }
    if body.fields().next().is_none() {
        return Err(ApiError::field(
            "body",
            "must change at least one of name, scopes, rate_limit_per_minute, allowed_ips, \
             metadata, monthly_send_limit",
        ));
    }
    let name = match body.sent("name") {
        None => None,
        Some(_) => Some(parse_name(body.required_str("name")?)?),
    };
    let scopes = match body.sent("scopes") {
        None => None,
        Some(Value::Null) => return Err(ApiError::field("scopes", "must not be null")),
        Some(_) => Some(parse_scopes(body.optional_str_array("scopes")?.as_deref())?),
    };
    let max = limits.workspace_rate_limit_per_minute;
    Ok(KeyEdit {
        name,
        scopes,
        rate_limit_per_minute: clearable(body, "rate_limit_per_minute", |v| {
            parse_rate_limit(v, max)
        })?,
        allowed_ips: clearable(body, "allowed_ips", parse_allowed_ips)?,
        metadata: clearable(body, "metadata", parse_metadata)?,
        monthly_send_limit: clearable(body, "monthly_send_limit", parse_monthly_send_limit)?,
    })
}

/// A setting of an edit: `None` not sent, `Some(None)` sent as `null` (cleared).
fn clearable<T>(
    body: &JsonObject,
    field: &str,
    parse: impl Fn(&Value) -> Result<T, InvalidField>,
) -> Result<Option<Option<T>>, ApiError> {
    match body.sent(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) => Ok(Some(Some(parse(value)?))),
    }
}
