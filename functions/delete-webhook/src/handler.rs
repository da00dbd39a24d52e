//! `DELETE /api/v1/webhooks/{id}`: removes an endpoint of the caller's workspace; nothing is
//! sent to it from then on (its pending deliveries end unsent).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::AuditEventType;
use yebolink_shared::domain::ids::WebhookId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::path_id;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::endpoint_event;
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
    let event = endpoint_event(
        &app.limits,
        req,
        user.user_id,
        AuditEventType::WebhookDeleted,
        id,
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{
        app, assert_error, authorized, registered_endpoint, request, user,
    };

    fn delete(id: &str) -> Request {
        request("DELETE", &format!("/api/v1/webhooks/{id}"), None)
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]))
    }

    #[tokio::test]
    async fn an_endpoint_is_deleted_once_and_only_by_its_workspace() {
        let (app, owner) = (app(), user());
        let endpoint =
            registered_endpoint(&app.store, owner.workspace_id, "http://127.0.0.1:9/").await;
        let id = endpoint.id.to_string();
        assert_error(
            &handle(&app, authorized(delete(&id), &Principal::User(user()))).await,
            404,
            "not_found",
        );
        assert_eq!(
            handle(
                &app,
                authorized(delete(&id), &Principal::User(owner.clone()))
            )
            .await
            .status(),
            200
        );
        assert!(app
            .store
            .list_webhooks(owner.workspace_id)
            .await
            .unwrap()
            .is_empty());
        assert_error(
            &handle(&app, authorized(delete(&id), &Principal::User(owner))).await,
            404,
            "not_found",
        );
    }
}
