//! `DELETE /api/v1/webhooks/{id}`: removes an endpoint of the caller's workspace; nothing is
//! sent to it from then on (its pending deliveries end unsent).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::ids::WebhookId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::path_id;
use yebolink_shared::http::response::respond;
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(app: &App<S>, req: Request) -> Response<Body> {
    respond(delete_webhook(app, &req).await)
}

async fn delete_webhook<S: Store + WebhookStore>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let id: WebhookId = path_id(req, "id")?;
    let event = event_for_request(
        &app.limits,
        req,
        AuditEventType::WebhookDeleted,
        Actor::User { id: user.user_id },
        Target::Webhook { id },
        json!({}),
        Timestamp::now(),
    );
    if !app
        .store
        .delete_webhook(user.workspace_id, id, &event)
        .await?
    {
        return Err(ApiError::NotFound);
    }
    tracing::info!(webhook_id = %id, workspace_id = %user.workspace_id, "webhook endpoint deleted");
    Ok((
        StatusCode::OK,
        json!({ "message": "Webhook endpoint deleted" }),
    ))
}
