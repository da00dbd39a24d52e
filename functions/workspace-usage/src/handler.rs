//! `GET /api/v1/usage?granularity=&from=&to=`: the caller's workspace's usage, every key's
//! buckets summed, plus each key's request total for the range, busiest first. Keys that
//! cannot have been used in the range (created after it, or last used before it) cost no read.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::usage::may_have_usage;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::query_range;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views::buckets_view;
use yebolink_shared::services::usage::key_series;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(workspace_usage(app, &req).await)
}

async fn workspace_usage<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let range = query_range(req, Timestamp::now())?;
    let keys = app.store.list_api_keys(user.workspace_id).await?;
    let mut totals: Vec<_> = range.starts().map(|t| (t, Default::default())).collect();
    let mut per_key = Vec::with_capacity(keys.len());
    for key in &keys {
        let mut requests = 0;
        if may_have_usage(key, &range) {
            let series = key_series(&app.store, key, &range).await?;
            for ((_, sum), (_, counts)) in totals.iter_mut().zip(series) {
                requests += counts.requests;
                *sum += counts;
            }
        }
        per_key.push((key, requests));
    }
    // Busiest first; among equals, newest first (the order keys are listed in).
    per_key.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    let keys: Vec<Value> = per_key
        .iter()
        .map(|(key, requests)| {
            json!({
                "id": key.id,
                "name": key.name,
                "key_prefix": key.key_prefix,
                "requests": requests,
            })
        })
        .collect();
    Ok((
        StatusCode::OK,
        json!({
            "granularity": range.granularity.as_str(),
            "buckets": buckets_view(&totals),
            "keys": keys,
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
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, request, seed_key, sends, user,
    };

    fn usage(owner: &UserCaller, query: &[(&str, &str)]) -> Request {
        let params: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        authorized(
            request("GET", "/api/v1/usage", None).with_query_string_parameters(params),
            &Principal::User(owner.clone()),
        )
    }

    #[tokio::test]
    async fn sums_every_key_and_lists_keys_busiest_first() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 100;
        let owner = user();
        let mut keys = Vec::new();
        for n in [2, 5, 0] {
            let (secret, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
            sends(&app, &secret, &key, n).await;
            keys.push(key);
        }
        // Another workspace's traffic never shows.
        let (secret, foreign) = seed_key(&app.store, user().workspace_id, Scopes::all()).await;
        sends(&app, &secret, &foreign, 9).await;

        let response = handle(&app, usage(&owner, &[("granularity", "hour")])).await;
        assert_eq!(response.status(), 200);
        let data = body_json(&response)["data"].clone();
        let buckets = data["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 24);
        let total: u64 = buckets
            .iter()
            .map(|b| b["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 7);
        let listed: Vec<(String, u64)> = data["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["id"].as_str().unwrap().to_owned(),
                    k["requests"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            vec![
                (keys[1].id.to_string(), 5),
                (keys[0].id.to_string(), 2),
                (keys[2].id.to_string(), 0),
            ]
        );
        assert_eq!(data["keys"][0]["key_prefix"], keys[1].key_prefix.as_str());
    }

    #[tokio::test]
    async fn bad_granularity_is_a_400_and_the_store_down_a_503() {
        let app = app();
        let owner = user();
        assert_error(
            &handle(&app, usage(&owner, &[("granularity", "minute")])).await,
            400,
            "validation_error",
        );
        app.store.set_unavailable(true);
        assert_error(
            &handle(&app, usage(&owner, &[])).await,
            503,
            "service_unavailable",
        );
    }
}
