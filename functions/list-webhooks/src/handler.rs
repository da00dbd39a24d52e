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

#[cfg(test)]
mod tests {
    use super::*;
    use yebolink_shared::domain::audit::{AuditEventType, Target};
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{
        app, authorized, body_json, event, request, user, webhook_endpoint,
    };

    #[tokio::test]
    async fn the_list_is_the_workspaces_own_newest_first_and_never_shows_a_secret() {
        let (app, owner) = (app(), user());
        let mut made = Vec::new();
        for workspace_id in [owner.workspace_id, owner.workspace_id, user().workspace_id] {
            let endpoint = webhook_endpoint(workspace_id, "http://127.0.0.1:9/");
            let created = event(
                AuditEventType::WebhookCreated,
                Target::Webhook { id: endpoint.id },
            );
            app.store
                .create_webhook(&endpoint, 10, &created)
                .await
                .unwrap();
            made.push(endpoint);
        }
        let response = handle(
            &app,
            authorized(
                request("GET", "/api/v1/webhooks", None),
                &Principal::User(owner),
            ),
        )
        .await;
        let listed = body_json(&response)["data"]["webhooks"].clone();
        let ids: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [made[1].id.to_string(), made[0].id.to_string()]);
        assert!(!listed.to_string().contains("whsec_"));
    }
}
