//! The webhook routes' common parts: the caller's endpoint named by the path (another
//! workspace's is a 404 like an unknown one), an endpoint's settings as a request sends them
//! (`url`, checked against the URL policy with DNS; `events`; `description`; on an edit
//! `enabled`: each problem a 400 naming its field, and an unknown field one too), and the
//! optimistic write of a changed endpoint.

use lambda_http::Request;
use serde_json::Value;

use crate::domain::audit::{Actor, AuditEvent, AuditEventType, Target};
use crate::domain::ids::{UserId, WebhookId, WorkspaceId};
use crate::domain::limits::Limits;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{Delivery, WebhookEndpoint, WebhookEventType, MAX_DESCRIPTION_CHARS};
use crate::domain::webhook_target::UrlPolicy;
use crate::http::audit::event_for_request;
use crate::http::error::ApiError;
use crate::http::request::{path_id, JsonObject};
use crate::services::webhooks::{check_endpoint_url, send_now, Webhooks};
use crate::storage::webhooks::WebhookStore;

/// The endpoint `{id}` of the path, if it is the workspace's.
pub async fn owned_endpoint<S: WebhookStore>(
    store: &S,
    workspace_id: WorkspaceId,
    req: &Request,
) -> Result<WebhookEndpoint, ApiError> {
    let id: WebhookId = path_id(req, "id")?;
    store
        .get_webhook(workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The audit event of a change `user` made to endpoint `id` with `req`.
pub fn endpoint_event(
    limits: &Limits,
    req: &Request,
    user_id: UserId,
    event_type: AuditEventType,
    id: WebhookId,
    details: Value,
    now: Timestamp,
) -> AuditEvent {
    let (actor, target) = (Actor::User { id: user_id }, Target::Webhook { id });
    event_for_request(limits, req, event_type, actor, target, details, now)
}

/// One attempt of `delivery` now, within the request (`test`, `retry`): the delivery as
/// recorded, or 409 while another attempt holds it.
pub async fn attempt_now<S: WebhookStore>(
    store: &S,
    hooks: &Webhooks,
    endpoint: &WebhookEndpoint,
    delivery: &Delivery,
) -> Result<Delivery, ApiError> {
    send_now(store, &hooks.sender, &hooks.settings, endpoint, delivery)
        .await?
        .ok_or(ApiError::DeliveryInProgress)
}

/// Writes `change` applied to the endpoint with the event it makes, re-reading and applying it
/// again if a concurrent write got there first. `change` answers the new endpoint and its
/// event, or `None` when nothing changes. The endpoint as written (or unchanged).
pub async fn change_endpoint<S, F>(
    store: &S,
    mut endpoint: WebhookEndpoint,
    change: F,
) -> Result<WebhookEndpoint, ApiError>
where
    S: WebhookStore,
    F: Fn(&WebhookEndpoint) -> Result<Option<(WebhookEndpoint, AuditEvent)>, ApiError>,
{
    for _ in 0..3 {
        let Some((mut next, event)) = change(&endpoint)? else {
            return Ok(endpoint);
        };
        next.version = endpoint.version + 1;
        if store.save_webhook(&next, Some(&event)).await? {
            return Ok(next);
        }
        endpoint = store
            .get_webhook(endpoint.workspace_id, endpoint.id)
            .await?
            .ok_or(ApiError::NotFound)?;
    }
    Err(ApiError::ServiceUnavailable)
}

pub const CREATE_FIELDS: [&str; 3] = ["url", "events", "description"];
pub const EDIT_FIELDS: [&str; 4] = ["url", "events", "description", "enabled"];

/// A 400 for the first field sent that is not among `known`.
pub fn only_fields(body: &JsonObject, known: &[&str]) -> Result<(), ApiError> {
    match body.fields().find(|f| !known.contains(f)) {
        Some(unknown) => Err(ApiError::field(
            unknown,
            &format!("is not a webhook setting ({})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

pub async fn parse_url(raw: &str, policy: UrlPolicy) -> Result<String, ApiError> {
    check_endpoint_url(raw, policy)
        .await
        .map(|url| url.url.to_string())
        .map_err(|problem| ApiError::field("url", problem))
}

/// `events`: subscribable types, at least one; repeats collapse. Absent means all.
pub fn parse_events(body: &JsonObject) -> Result<Option<Vec<WebhookEventType>>, ApiError> {
    let Some(raw) = body.sent("events").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Array(items) = raw else {
        return Err(ApiError::field("events", "must be an array of event types"));
    };
    if items.is_empty() {
        return Err(ApiError::field(
            "events",
            "must name at least one event type",
        ));
    }
    let mut events = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let event = item
            .as_str()
            .and_then(WebhookEventType::parse_subscribable)
            .ok_or_else(|| {
                ApiError::field(
                    &format!("events[{i}]"),
                    "is not an event type (api_key.created, api_key.updated, api_key.rotated, \
                     api_key.deactivated, api_key.leak_reported, api_key.expiring)",
                )
            })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    Ok(Some(events))
}

/// `description`: up to 200 characters; `null` or `""` means none. `Some(None)` clears it.
pub fn parse_description(body: &JsonObject) -> Result<Option<Option<String>>, ApiError> {
    match body.sent("description") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) if text.chars().count() > MAX_DESCRIPTION_CHARS => Err(
            ApiError::field("description", "must be at most 200 characters"),
        ),
        Some(Value::String(text)) if text.chars().any(char::is_control) => Err(ApiError::field(
            "description",
            "must not hold control characters",
        )),
        Some(Value::String(text)) => {
            Ok(Some(Some(text.trim().to_owned()).filter(|t| !t.is_empty())))
        }
        Some(_) => Err(ApiError::field("description", "must be a string or null")),
    }
}

pub fn parse_enabled(body: &JsonObject) -> Result<Option<bool>, ApiError> {
    match body.sent("enabled") {
        None => Ok(None),
        Some(Value::Bool(enabled)) => Ok(Some(*enabled)),
        Some(_) => Err(ApiError::field("enabled", "must be true or false")),
    }
}
