//! `GET /api/v1/audit-events?limit=&cursor=&type=`: the caller's workspace's audit trail,
//! newest first, a page at a time, optionally one event type only. Cursors are bound to the
//! workspace like message cursors.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::AuditEventType;
use yebolink_shared::domain::ids::AuditEventId;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::cursor::{decode_cursor, encode_cursor};
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::{page_limit, query_param};
use yebolink_shared::http::response::respond;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(list_audit_events(app, &req).await)
}

async fn list_audit_events<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let limit = page_limit(req)?;
    let after = query_param(req, "cursor")
        .map(|cursor| decode_cursor::<AuditEventId>(&cursor, user.workspace_id))
        .transpose()?;
    let event_type = query_param(req, "type")
        .map(|raw| {
            raw.parse::<AuditEventType>().map_err(|_| {
                ApiError::field("type", "must be one of the documented audit event types")
            })
        })
        .transpose()?;
    let page = app
        .store
        .list_audit_events(user.workspace_id, limit, after, event_type)
        .await?;
    let next_cursor = page
        .continue_after
        .map(|last| encode_cursor(user.workspace_id, last));
    Ok((
        StatusCode::OK,
        json!({ "events": page.events, "next_cursor": next_cursor }),
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
        app, assert_error, authorized, body_json, deactivated_event, request, seed_key, user,
    };

    fn list(owner: &UserCaller, query: &[(&str, &str)]) -> Request {
        let params: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        authorized(
            request("GET", "/api/v1/audit-events", None).with_query_string_parameters(params),
            &Principal::User(owner.clone()),
        )
    }

    #[tokio::test]
    async fn pages_walk_the_trail_newest_first_and_end_with_a_null_cursor() {
        let app = app();
        let owner = user();
        let mut keys = Vec::new();
        for _ in 0..3 {
            keys.push(
                seed_key(&app.store, owner.workspace_id, Scopes::all())
                    .await
                    .1,
            );
        }
        app.store
            .deactivate_api_key(owner.workspace_id, keys[0].id, deactivated_event)
            .await
            .unwrap();

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", "3")];
            if let Some(c) = cursor.as_deref() {
                query.push(("cursor", c));
            }
            let response = handle(&app, list(&owner, &query)).await;
            assert_eq!(response.status(), 200);
            let data = body_json(&response)["data"].clone();
            for event in data["events"].as_array().unwrap() {
                seen.push(event["type"].as_str().unwrap().to_owned());
            }
            match data["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(
            seen,
            [
                "api_key.deactivated",
                "api_key.created",
                "api_key.created",
                "api_key.created"
            ]
        );
    }

    #[tokio::test]
    async fn the_type_filter_keeps_only_that_type() {
        let app = app();
        let owner = user();
        let (_, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        app.store
            .deactivate_api_key(owner.workspace_id, key.id, deactivated_event)
            .await
            .unwrap();
        let response = handle(&app, list(&owner, &[("type", "api_key.deactivated")])).await;
        let events = body_json(&response)["data"]["events"].clone();
        assert_eq!(events.as_array().unwrap().len(), 1);
        assert_eq!(events[0]["target"]["id"], json!(key.id));
        assert_eq!(events[0]["target"]["key_prefix"], json!(key.key_prefix));
    }

    #[tokio::test]
    async fn another_workspaces_events_are_never_listed() {
        let app = app();
        seed_key(&app.store, user().workspace_id, Scopes::all()).await;
        let response = handle(&app, list(&user(), &[])).await;
        assert_eq!(body_json(&response)["data"]["events"], json!([]));
    }

    #[tokio::test]
    async fn bad_limits_types_and_foreign_cursors_are_validation_errors() {
        let app = app();
        let owner = user();
        let foreign = encode_cursor(user().workspace_id, AuditEventId::new());
        for (name, value) in [
            ("limit", "0"),
            ("limit", "101"),
            ("limit", "ten"),
            ("type", "api_key.exploded"),
            ("cursor", "!!!"),
            ("cursor", foreign.as_str()),
        ] {
            let response = handle(&app, list(&owner, &[(name, value)])).await;
            assert_error(&response, 400, "validation_error");
            let message = body_json(&response)["error"]["message"].clone();
            assert!(message.as_str().unwrap().starts_with(name), "{message}");
        }
    }
}
