//! `DELETE /api/v1/api-keys/{id}`: deactivates a key of the caller's workspace, finally and at
//! once (the authorizer reads the key's state on every request). Safe to retry.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::api_key::ApiKeyRecord;
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::ids::KeyId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::path_id;
use yebolink_shared::http::response::respond;
use yebolink_shared::storage::keys::Deactivation;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(deactivate_api_key(app, &req).await)
}

async fn deactivate_api_key<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let key_id: KeyId = path_id(req, "id")?;
    let deactivated = |key: &ApiKeyRecord| {
        event_for_request(
            &app.limits,
            req,
            AuditEventType::ApiKeyDeactivated,
            Actor::User { id: user.user_id },
            Target::api_key(key),
            json!({}),
            Timestamp::now(),
        )
    };
    match app
        .store
        .deactivate_api_key(user.workspace_id, key_id, deactivated)
        .await?
    {
        Deactivation::NotFound => Err(ApiError::NotFound),
        Deactivation::Deactivated | Deactivation::AlreadyInactive => {
            tracing::info!(key_id = %key_id, workspace_id = %user.workspace_id, "API key deactivated");
            Ok((
                StatusCode::OK,
                json!({ "message": "API key deactivated successfully" }),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::services::auth::{verify_api_key, AuthError, KeyRefusal, Principal};
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, request, seed_key, user,
    };

    fn delete(id: &str) -> Request {
        request("DELETE", &format!("/api/v1/api-keys/{id}"), None)
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]))
    }

    #[tokio::test]
    async fn deactivated_key_is_rejected_on_next_request_and_repeats_answer_the_same() {
        let app = app();
        let owner = user();
        let (secret, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        assert!(verify_api_key(&app.store, &secret, Timestamp::now())
            .await
            .is_ok());

        for _ in 0..2 {
            let response = handle(
                &app,
                authorized(delete(&key.id.to_string()), &Principal::User(owner.clone())),
            )
            .await;
            assert_eq!(response.status(), 200);
            assert_eq!(
                body_json(&response)["data"]["message"],
                "API key deactivated successfully"
            );
        }
        assert!(matches!(
            verify_api_key(&app.store, &secret, Timestamp::now()).await,
            Err(AuthError::InvalidApiKey(KeyRefusal::Deactivated))
        ));
        let listed = app.store.list_api_keys(owner.workspace_id).await.unwrap();
        assert!(!listed[0].is_active);
    }

    #[tokio::test]
    async fn another_workspaces_key_is_not_found_and_keeps_working() {
        let app = app();
        let (secret, key) = seed_key(&app.store, user().workspace_id, Scopes::all()).await;
        let response = handle(
            &app,
            authorized(delete(&key.id.to_string()), &Principal::User(user())),
        )
        .await;
        assert_error(&response, 404, "not_found");
        assert!(verify_api_key(&app.store, &secret, Timestamp::now())
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn ids_that_are_not_uuids_are_not_found() {
        let app = app();
        for id in ["nope", "123", "../x", "550e8400e29b41d4a716446655440000"] {
            let response = handle(&app, authorized(delete(id), &Principal::User(user()))).await;
            assert_error(&response, 404, "not_found");
        }
    }
}
