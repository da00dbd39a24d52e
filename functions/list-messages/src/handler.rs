//! `GET /api/v1/messages?limit=&cursor=`: the key's workspace's messages, newest first, a page
//! at a time. A cursor names the last message of a page and the workspace it belongs to, so a
//! cursor from another workspace, or an edited one, is refused rather than followed.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::scopes::Scope;
use yebolink_shared::http::app::App;
use yebolink_shared::http::cursor::{decode_cursor, encode_cursor};
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::gate::{admit_alongside, with_quota};
use yebolink_shared::http::request::{page_limit, query_param};
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views;
use yebolink_shared::services::auth::KeyCaller;
use yebolink_shared::storage::Store;

/// The read has no side effect, so it runs beside the rate-limit counters
/// (`http::gate::admit_alongside`): a refusal discards it and is the answer.
pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    let read = async |key: &KeyCaller| list_messages(app, &req, key).await;
    match admit_alongside(app, &req, Scope::ReadMessages, read).await {
        Ok((quota, result)) => with_quota(quota, respond(result)),
        Err(refusal) => refusal,
    }
}

async fn list_messages<S: Store>(
    app: &App<S>,
    req: &Request,
    key: &KeyCaller,
) -> Result<(StatusCode, Value), ApiError> {
    let limit = page_limit(req)?;
    let after = query_param(req, "cursor")
        .map(|cursor| decode_cursor(&cursor, key.workspace_id))
        .transpose()?;
    let page = app
        .store
        .list_messages(key.workspace_id, limit, after)
        .await?;
    let next_cursor = match page.messages.last() {
        Some(last) if page.has_more => Some(encode_cursor(key.workspace_id, last.id)),
        _ => None,
    };
    let messages: Vec<Value> = page.messages.iter().map(views::message).collect();
    Ok((
        StatusCode::OK,
        json!({ "messages": messages, "next_cursor": next_cursor }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::domain::ids::{MessageId, WorkspaceId};
    use yebolink_shared::domain::message::{Channel, MessageRecord};
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::domain::timestamp::Timestamp;
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{app, assert_error, authorized, body_json, key_caller, request};

    fn list(key: &KeyCaller, query: &[(&str, &str)]) -> Request {
        let params: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        authorized(
            request("GET", "/api/v1/messages", None),
            &Principal::ApiKey(key.clone()),
        )
        .with_query_string_parameters(params)
    }

    async fn seed_messages<S: Store>(store: &S, key: &KeyCaller, count: usize) -> Vec<MessageId> {
        let mut ids = Vec::new();
        for i in 0..count {
            let message = MessageRecord {
                id: MessageId::new(),
                workspace_id: key.workspace_id,
                key_id: key.key_id,
                to: "+26876123456".into(),
                channel: Channel::Sms,
                text: format!("message {i}"),
                subject: None,
                status: "queued".into(),
                segments: 1,
                created_at: Timestamp::now(),
            };
            store
                .put_message(&message, None, Timestamp::now())
                .await
                .unwrap();
            ids.push(message.id);
        }
        ids
    }

    #[tokio::test]
    async fn pages_walk_all_messages_newest_first_and_end_with_a_null_cursor() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 100;
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        let mut expected = seed_messages(&app.store, &key, 5).await;
        expected.reverse();

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", "2")];
            if let Some(c) = &cursor {
                query.push(("cursor", c));
            }
            let response = handle(&app, list(&key, &query)).await;
            assert_eq!(response.status(), 200);
            let data = body_json(&response)["data"].clone();
            for m in data["messages"].as_array().unwrap() {
                seen.push(m["id"].as_str().unwrap().parse::<MessageId>().unwrap());
            }
            match data["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn a_cursor_from_another_workspace_is_refused() {
        let app = app();
        let theirs = key_caller(WorkspaceId::new(), Scopes::all());
        let ids = seed_messages(&app.store, &theirs, 2).await;
        let foreign_cursor = encode_cursor(theirs.workspace_id, ids[1]);
        let mine = key_caller(WorkspaceId::new(), Scopes::all());
        let response = handle(&app, list(&mine, &[("cursor", &foreign_cursor)])).await;
        assert_error(&response, 400, "validation_error");
    }

    #[tokio::test]
    async fn bad_limits_and_garbage_cursors_are_400s() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 100;
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        for query in [
            [("limit", "0")],
            [("limit", "101")],
            [("limit", "abc")],
            [("limit", "-1")],
            [("cursor", "!!!")],
            [("cursor", "bm9wZQ")],
        ] {
            let response = handle(&app, list(&key, &query)).await;
            assert_error(&response, 400, "validation_error");
        }
    }

    #[tokio::test]
    async fn a_send_only_key_cannot_read() {
        let app = app();
        let key = key_caller(
            WorkspaceId::new(),
            Scopes::from_stored("send_messages").unwrap(),
        );
        assert_error(
            &handle(&app, list(&key, &[])).await,
            403,
            "insufficient_scope",
        );
    }
    #[tokio::test]
    async fn a_read_error_after_admission_is_a_503_with_the_quota_headers() {
        let app = app();
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        app.store.set_message_reads_unavailable(true);
        let response = handle(&app, list(&key, &[])).await;
        assert_error(&response, 503, "service_unavailable");
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
    }

    #[tokio::test]
    async fn over_the_limit_the_refusal_wins_over_the_pages_own_answer() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 1;
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        let garbage = [("cursor", "!!!")];
        assert_error(
            &handle(&app, list(&key, &garbage)).await,
            400,
            "validation_error",
        );
        assert_error(
            &handle(&app, list(&key, &garbage)).await,
            429,
            "rate_limited",
        );
    }
}
