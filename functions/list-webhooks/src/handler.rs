//! `GET /api/v1/webhooks`: the caller's workspace's endpoints, newest first, never a secret.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::webhook::endpoint_view;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::response::respond;
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(app: &App<S>, req: Request) -> Response<Body> {
    respond(list_webhooks(app, &req).await)
}

async fn list_webhooks<S: Store + WebhookStore>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoints = app.store.list_webhooks(user.workspace_id).await?;
    let views: Vec<Value> = endpoints.iter().map(endpoint_view).collect();
    Ok((StatusCode::OK, json!({ "webhooks": views })))
}
