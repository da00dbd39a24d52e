//! `GET /api/v1/messages/{id}`: one message of the key's workspace; any other id is a 404.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use yebolink_shared::domain::ids::MessageId;
use yebolink_shared::domain::scopes::Scope;
use yebolink_shared::http::app::App;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::gate::{admit_alongside, with_quota};
use yebolink_shared::http::request::path_id;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views;
use yebolink_shared::services::auth::KeyCaller;
use yebolink_shared::storage::Store;

/// The read has no side effect, so it runs beside the rate-limit counters
/// (`http::gate::admit_alongside`): a refusal discards it and is the answer.
pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    let read = async |key: &KeyCaller| get_message(app, &req, key).await;
    match admit_alongside(app, &req, Scope::ReadMessages, read).await {
        Ok((quota, result)) => with_quota(quota, respond(result)),
        Err(refusal) => refusal,
    }
}

async fn get_message<S: Store>(
    app: &App<S>,
    req: &Request,
    key: &KeyCaller,
) -> Result<(StatusCode, Value), ApiError> {
    let id: MessageId = path_id(req, "id")?;
    let message = app
        .store
        .get_message(key.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::OK, views::message(&message)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::domain::ids::WorkspaceId;
    use yebolink_shared::domain::message::{Channel, MessageRecord};
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::domain::timestamp::Timestamp;
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{app, assert_error, authorized, body_json, key_caller, request};

    fn get(key: &KeyCaller, id: &str) -> Request {
        authorized(
            request("GET", &format!("/api/v1/messages/{id}"), None),
            &Principal::ApiKey(key.clone()),
        )
        .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]))
    }

    #[tokio::test]
    async fn own_message_is_returned_and_other_workspaces_are_not_found() {
        let app = app();
        let owner = key_caller(WorkspaceId::new(), Scopes::all());
        let message = MessageRecord {
            id: MessageId::new(),
            workspace_id: owner.workspace_id,
            key_id: owner.key_id,
            to: "ada@example.com".into(),
            channel: Channel::Email,
            text: "Hello".into(),
            subject: Some("Hi".into()),
            status: "queued".into(),
            segments: 1,
            created_at: Timestamp::from_unix(1_762_084_800),
        };
        app.store
            .put_message(&message, None, Timestamp::now())
            .await
            .unwrap();

        let response = handle(&app, get(&owner, &message.id.to_string())).await;
        assert_eq!(response.status(), 200);
        let data = &body_json(&response)["data"];
        assert_eq!(data["content"]["subject"], "Hi");
        assert_eq!(data["created_at"], "2025-11-02T12:00:00Z");

        let stranger = key_caller(WorkspaceId::new(), Scopes::all());
        assert_error(
            &handle(&app, get(&stranger, &message.id.to_string())).await,
            404,
            "not_found",
        );
        assert_error(
            &handle(&app, get(&owner, "not-a-uuid")).await,
            404,
            "not_found",
        );
    }

    #[tokio::test]
    async fn a_read_error_after_admission_is_a_503_with_the_quota_headers() {
        let app = app();
        let owner = key_caller(WorkspaceId::new(), Scopes::all());
        app.store.set_message_reads_unavailable(true);
        let response = handle(&app, get(&owner, &MessageId::new().to_string())).await;
        assert_error(&response, 503, "service_unavailable");
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
    }

    #[tokio::test]
    async fn a_request_over_the_limit_is_refused_although_its_read_would_succeed() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 1;
        let owner = key_caller(WorkspaceId::new(), Scopes::all());
        let id = MessageId::new().to_string();
        assert_error(&handle(&app, get(&owner, &id)).await, 404, "not_found");
        let refused = handle(&app, get(&owner, &id)).await;
        assert_error(&refused, 429, "rate_limited");
        assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    }

    #[tokio::test]
    async fn the_store_down_fails_closed_with_503() {
        let app = app();
        app.store.set_unavailable(true);
        let owner = key_caller(WorkspaceId::new(), Scopes::all());
        let response = handle(&app, get(&owner, &MessageId::new().to_string())).await;
        assert_error(&response, 503, "service_unavailable");
        assert!(!response.headers().contains_key("x-ratelimit-remaining"));
    }
}
