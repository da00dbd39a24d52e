//! `GET /api/v1/api-keys/{id}/usage?granularity=&from=&to=`: what one key of the caller's
//! workspace did, bucket by bucket (hours or days, UTC), oldest first, every bucket present.
//! A deactivated key's history stays readable; another workspace's key is a 404.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::ids::KeyId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::{path_id, query_range};
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views::buckets_view;
use yebolink_shared::services::usage::key_series;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(key_usage(app, &req).await)
}

async fn key_usage<S: Store>(app: &App<S>, req: &Request) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let key_id: KeyId = path_id(req, "id")?;
    let range = query_range(req, Timestamp::now())?;
    let key = app
        .store
        .get_api_key(user.workspace_id, key_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let series = key_series(&app.store, &key, &range).await?;
    Ok((
        StatusCode::OK,
        json!({
            "key_id": key.id,
            "granularity": range.granularity.as_str(),
            "buckets": buckets_view(&series),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::services::auth::{Principal, UserCaller};
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, deactivated_event, request, seed_key, sends, user,
    };

    fn usage(owner: &UserCaller, key: &str, query: &[(&str, &str)]) -> Request {
        let params: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path = format!("/api/v1/api-keys/{key}/usage");
        authorized(
            request("GET", &path, None)
                .with_path_parameters(HashMap::from([("id".to_string(), key.to_string())]))
                .with_query_string_parameters(params),
            &Principal::User(owner.clone()),
        )
    }

    #[tokio::test]
    async fn sends_show_at_once_in_the_current_hour_with_429s_and_403s_counted() {
        let app = app(); // 5 requests a minute per key
        let owner = user();
        let (secret, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        sends(&app, &secret, &key, 7).await;
        let (read_secret, read_only) = seed_key(
            &app.store,
            owner.workspace_id,
            Scopes::from_stored("read_messages").unwrap(),
        )
        .await;
        sends(&app, &read_secret, &read_only, 2).await;

        let response = handle(
            &app,
            usage(&owner, &key.id.to_string(), &[("granularity", "hour")]),
        )
        .await;
        assert_eq!(response.status(), 200);
        let data = body_json(&response)["data"].clone();
        assert_eq!(data["key_id"], key.id.to_string());
        assert_eq!(data["granularity"], "hour");
        let buckets = data["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 24);
        let now = buckets.last().unwrap();
        // Allowing for a minute that turned during the test: all 7 land in the last bucket
        // or the one before.
        let total: u64 = buckets
            .iter()
            .map(|b| b["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 7);
        assert!(now["requests"].as_u64().unwrap() >= 1);
        let limited: u64 = buckets
            .iter()
            .map(|b| b["rate_limited"].as_u64().unwrap())
            .sum();
        assert!(limited >= 2, "{buckets:?}");

        let response = handle(&app, usage(&owner, &read_only.id.to_string(), &[])).await;
        let data = body_json(&response)["data"].clone();
        assert_eq!(data["granularity"], "day");
        let buckets = data["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 30);
        let last = buckets.last().unwrap();
        assert_eq!(
            (last["requests"].clone(), last["denied"].clone()),
            (json!(2), json!(2))
        );
    }

    #[tokio::test]
    async fn another_workspaces_key_or_a_garbage_id_is_404() {
        let app = app();
        let (_, theirs) = seed_key(&app.store, user().workspace_id, Scopes::all()).await;
        let me = user();
        for id in [theirs.id.to_string(), "not-a-uuid".into()] {
            assert_error(&handle(&app, usage(&me, &id, &[])).await, 404, "not_found");
        }
    }

    #[tokio::test]
    async fn bad_queries_are_400s_naming_the_field() {
        let app = app();
        let owner = user();
        let (_, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        for (query, field) in [
            (vec![("granularity", "week")], "granularity"),
            (vec![("from", "yesterday")], "from"),
            (vec![("to", "2026-13-01T00:00:00Z")], "to"),
            (
                vec![
                    ("granularity", "hour"),
                    ("from", "2026-01-01T00:00:00Z"),
                    ("to", "2026-01-08T01:00:00Z"),
                ],
                "from",
            ),
            (
                vec![
                    ("from", "2026-01-01T00:00:00Z"),
                    ("to", "2026-04-02T00:00:00Z"),
                ],
                "from",
            ),
            (
                vec![
                    ("from", "2026-01-02T00:00:00Z"),
                    ("to", "2026-01-01T00:00:00Z"),
                ],
                "from",
            ),
        ] {
            let response = handle(&app, usage(&owner, &key.id.to_string(), &query)).await;
            assert_error(&response, 400, "validation_error");
            let message = body_json(&response)["error"]["message"].clone();
            assert!(
                message.as_str().unwrap().starts_with(&format!("{field}:")),
                "{query:?}: {message}"
            );
        }
    }

    #[tokio::test]
    async fn a_deactivated_keys_history_is_still_readable() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 100;
        let owner = user();
        let (secret, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        sends(&app, &secret, &key, 3).await;
        app.store
            .deactivate_api_key(owner.workspace_id, key.id, deactivated_event)
            .await
            .unwrap();
        let response = handle(&app, usage(&owner, &key.id.to_string(), &[])).await;
        let data = body_json(&response)["data"].clone();
        assert_eq!(data["buckets"][29]["requests"], 3);
    }

    #[tokio::test]
    async fn the_store_down_is_a_503() {
        let app = app();
        let owner = user();
        let (_, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        app.store.set_unavailable(true);
        assert_error(
            &handle(&app, usage(&owner, &key.id.to_string(), &[])).await,
            503,
            "service_unavailable",
        );
    }
}
