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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;

    use yebolink_shared::domain::timestamp::Timestamp;
    use yebolink_shared::domain::webhook::{Delivery, WebhookEventType};
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, registered_endpoint, request, user,
    };

    fn list(id: &str, query: &[(&str, &str)]) -> Request {
        request("GET", &format!("/api/v1/webhooks/{id}/deliveries"), None)
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]))
            .with_query_string_parameters(
                query
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
            )
    }

    #[tokio::test]
    async fn deliveries_page_newest_first_and_a_cursor_works_only_in_its_workspace() {
        let (app, owner) = (app(), user());
        let endpoint =
            registered_endpoint(&app.store, owner.workspace_id, "http://127.0.0.1:9/").await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            let now = Timestamp::now();
            let d = Delivery::new(
                DeliveryId::new(),
                &endpoint,
                WebhookEventType::ApiKeyCreated,
                "{}".into(),
                now,
            );
            app.store.create_delivery(&d, now).await.unwrap();
            ids.push(d.id.to_string());
        }
        let who = Principal::User(owner.clone());
        let id = endpoint.id.to_string();
        let first = body_json(&handle(&app, authorized(list(&id, &[("limit", "2")]), &who)).await)
            ["data"]
            .clone();
        let shown: Vec<&str> = first["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(shown, [ids[2].as_str(), ids[1].as_str()]);
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let rest =
            body_json(&handle(&app, authorized(list(&id, &[("cursor", &cursor)]), &who)).await)
                ["data"]
                .clone();
        assert_eq!(rest["deliveries"][0]["id"], ids[0].as_str());
        assert_eq!(rest["next_cursor"], Value::Null);
        assert!(
            rest["deliveries"][0].get("body").is_none(),
            "the body stays with us"
        );

        // The cursor from another workspace, a bad limit, another workspace's endpoint.
        let other = Principal::User(user());
        assert_error(
            &handle(&app, authorized(list(&id, &[]), &other)).await,
            404,
            "not_found",
        );
        assert_error(
            &handle(&app, authorized(list(&id, &[("limit", "0")]), &who)).await,
            400,
            "validation_error",
        );
        let foreign = encode_cursor(user().workspace_id, &ids[1]);
        assert_error(
            &handle(&app, authorized(list(&id, &[("cursor", &foreign)]), &who)).await,
            400,
            "validation_error",
        );
    }
}
