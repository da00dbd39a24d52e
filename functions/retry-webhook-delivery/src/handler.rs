//! `POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry`: one more attempt of a delivery
//! now, within this request, with the same `webhook-id`, whatever its status.

use std::time::SystemTime;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use yebolink_shared::bootstrap::logging::write_metric_line;
use yebolink_shared::domain::ids::DeliveryId;
use yebolink_shared::domain::webhook::delivery_view;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::metrics::webhook_attempt_line;
use yebolink_shared::http::request::path_id;
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
    respond(retry_webhook_delivery(app, hooks, &req).await)
}

async fn retry_webhook_delivery<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let id: DeliveryId = path_id(req, "delivery_id")?;
    let delivery = app
        .store
        .get_delivery(endpoint.id, id)
        .await?
        .filter(|d| d.workspace_id == user.workspace_id)
        .ok_or(ApiError::NotFound)?;
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
