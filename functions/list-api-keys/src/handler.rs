//! `GET /api/v1/api-keys`: the caller's workspace's keys, newest first, expired and deactivated
//! included, each with its `status` as of now.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(list_api_keys(app, &req).await)
}

async fn list_api_keys<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let keys = app.store.list_api_keys(user.workspace_id).await?;
    let now = Timestamp::now();
    let default_limit = app.limits.rate_limit_per_minute;
    let api_keys: Vec<Value> = keys
        .iter()
        .map(|key| views::api_key(key, default_limit, now))
        .collect();
    Ok((StatusCode::OK, json!({ "api_keys": api_keys })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, request, seed_key, user,
    };

    #[tokio::test]
    async fn lists_only_the_callers_keys_newest_first_without_secrets() {
        let app = app();
        let owner = user();
        let (first_secret, first) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        let (_, second) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        seed_key(&app.store, user().workspace_id, Scopes::all()).await;

        let response = handle(
            &app,
            authorized(
                request("GET", "/api/v1/api-keys", None),
                &Principal::User(owner),
            ),
        )
        .await;
        assert_eq!(response.status(), 200);
        let body = body_json(&response);
        let ids: Vec<&str> = body["data"]["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [second.id.to_string(), first.id.to_string()]);
        let listed = &body["data"]["api_keys"][1];
        assert_eq!(listed["is_active"], true);
        assert!(listed["last_used_at"].is_null());
        assert!(listed.get("key").is_none());
        assert!(!body.to_string().contains(&first_secret[4..]));
        assert!(!body.to_string().contains(first.key_hash.as_str()));
    }

    #[tokio::test]
    async fn a_database_outage_is_a_503() {
        let app = app();
        app.store.set_unavailable(true);
        let response = handle(
            &app,
            authorized(
                request("GET", "/api/v1/api-keys", None),
                &Principal::User(user()),
            ),
        )
        .await;
        assert_error(&response, 503, "service_unavailable");
    }
}
