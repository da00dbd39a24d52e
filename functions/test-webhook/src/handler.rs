//! `POST /api/v1/webhooks/{id}/test`: sends a `webhook.test` event to the endpoint now, within
//! this request, and answers with the delivery and its attempt (retried later like any other
//! if it failed).

use std::time::SystemTime;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::bootstrap::logging::write_metric_line;
use yebolink_shared::domain::ids::DeliveryId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{delivery_view, payload, Delivery, WebhookEventType};
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::metrics::webhook_attempt_line;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::owned_endpoint;
use yebolink_shared::services::webhooks::{send_now, Webhooks};
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: Request,
) -> Response<Body> {
    respond(test_webhook(app, hooks, &req).await)
}

async fn test_webhook<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let now = Timestamp::now();
    let body = payload(
        WebhookEventType::WebhookTest,
        now,
        json!({ "webhook_id": endpoint.id, "message": "A test event from YeboLink" }),
    );
    let delivery = Delivery::new(
        DeliveryId::new(),
        &endpoint,
        WebhookEventType::WebhookTest,
        body,
        now,
    );
    let sent = send_now(
        &app.store,
        &hooks.sender,
        &hooks.settings,
        &endpoint,
        &delivery,
    )
    .await?
    .ok_or(ApiError::DeliveryInProgress)?;
    write_metric_line(&webhook_attempt_line(
        env!("CARGO_PKG_NAME"),
        &sent,
        SystemTime::now(),
    ));
    Ok((StatusCode::OK, delivery_view(&sent)))
}
