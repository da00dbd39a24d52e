//! `PATCH /api/v1/webhooks/{id}`: changes an endpoint's `url`, `events` or `description`, or
//! disables (`enabled: false`) or re-enables it (`enabled: true`, which also forgets its
//! failing streak).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{endpoint_view, DisabledReason};
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::json_object;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::{
    change_endpoint, only_fields, owned_endpoint, parse_description, parse_enabled, parse_events,
    parse_url, EDIT_FIELDS,
};
use yebolink_shared::services::webhooks::Webhooks;
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: Request,
) -> Response<Body> {
    respond(update_webhook(app, hooks, &req).await)
}

async fn update_webhook<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let body = json_object(req)?;
    only_fields(&body, &EDIT_FIELDS)?;
    let url = match body.sent("url") {
        Some(_) => Some(parse_url(body.required_str("url")?, hooks.settings.url_policy).await?),
        None => None,
    };
    let events = parse_events(&body)?;
    let description = parse_description(&body)?;
    let enabled = parse_enabled(&body)?;
    let changed = change_endpoint(&app.store, endpoint, |current| {
        let mut next = current.clone();
        if let Some(url) = &url {
            next.url.clone_from(url);
        }
        if let Some(events) = &events {
            next.events.clone_from(events);
        }
        if let Some(description) = &description {
            next.description.clone_from(description);
        }
        match enabled {
            Some(true) => (next.disabled, next.failing_since) = (None, None),
            Some(false) if next.disabled.is_none() => next.disabled = Some(DisabledReason::Manual),
            _ => {}
        }
        if next == *current {
            return Ok(None);
        }
        let now = Timestamp::now();
        next.updated_at = now;
        let event = event_for_request(
            &app.limits,
            req,
            AuditEventType::WebhookUpdated,
            Actor::User { id: user.user_id },
            Target::Webhook { id: next.id },
            json!({ "changed": body.fields().collect::<Vec<_>>() }),
            now,
        );
        Ok(Some((next, event)))
    })
    .await?;
    Ok((StatusCode::OK, endpoint_view(&changed)))
}
