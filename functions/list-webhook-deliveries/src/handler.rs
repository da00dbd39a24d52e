//! `GET /api/v1/webhooks/{id}/deliveries?limit=&cursor=`: an endpoint's deliveries, newest
//! first, each with its attempts (kept 30 days).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::ids::DeliveryId;
use yebolink_shared::domain::webhook::delivery_view;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::cursor::{decode_cursor, encode_cursor};
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::{page_limit, query_param};
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::owned_endpoint;
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(app: &App<S>, req: Request) -> Response<Body> {
    respond(list_webhook_deliveries(app, &req).await)
}

async fn list_webhook_deliveries<S: Store + WebhookStore>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let limit = page_limit(req)?;
    let after = query_param(req, "cursor")
        .map(|cursor| decode_cursor::<DeliveryId>(&cursor, user.workspace_id))
        .transpose()?;
    let page = app.store.list_deliveries(endpoint.id, limit, after).await?;
    let views: Vec<Value> = page.deliveries.iter().map(delivery_view).collect();
    let next_cursor = page
        .continue_after
        .map(|last| encode_cursor(user.workspace_id, last));
    Ok((
        StatusCode::OK,
        json!({ "deliveries": views, "next_cursor": next_cursor }),
    ))
}
