//! `POST /api/v1/webhooks`: registers an endpoint of the caller's workspace (at most 10), with
//! its signing secret, shown in this answer only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::ids::WebhookId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{
    endpoint_view, WebhookEndpoint, WebhookEventType, WebhookSecret, MAX_ENDPOINTS_PER_WORKSPACE,
};
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::json_object;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::{
    only_fields, parse_description, parse_events, parse_url, CREATE_FIELDS,
};
use yebolink_shared::services::webhooks::Webhooks;
use yebolink_shared::storage::webhooks::{WebhookCreated, WebhookStore};
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: Request,
) -> Response<Body> {
    respond(create_webhook(app, hooks, &req).await)
}

async fn create_webhook<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let body = json_object(req)?;
    only_fields(&body, &CREATE_FIELDS)?;
    let url = parse_url(body.required_str("url")?, hooks.settings.url_policy).await?;
    let events = parse_events(&body)?.unwrap_or_else(|| WebhookEventType::SUBSCRIBABLE.to_vec());
    let description = parse_description(&body)?.flatten();
    let now = Timestamp::now();
    let secret = WebhookSecret::generate().map_err(|_| ApiError::ServiceUnavailable)?;
    let endpoint = WebhookEndpoint {
        id: WebhookId::new(),
        workspace_id: user.workspace_id,
        url,
        events,
        description,
        disabled: None,
        secret,
        previous_secret: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let event = event_for_request(
        &app.limits,
        req,
        AuditEventType::WebhookCreated,
        Actor::User { id: user.user_id },
        Target::Webhook { id: endpoint.id },
        json!({ "url": endpoint.url, "events": endpoint.events }),
        now,
    );
    match app
        .store
        .create_webhook(&endpoint, MAX_ENDPOINTS_PER_WORKSPACE, &event)
        .await?
    {
        WebhookCreated::LimitReached => Err(ApiError::WebhookLimitReached {
            limit: MAX_ENDPOINTS_PER_WORKSPACE,
        }),
        WebhookCreated::Created => {
            tracing::info!(webhook_id = %endpoint.id, workspace_id = %user.workspace_id, "webhook endpoint created");
            let mut view = endpoint_view(&endpoint);
            view["secret"] = json!(endpoint.secret.as_str());
            Ok((StatusCode::CREATED, view))
        }
    }
}
