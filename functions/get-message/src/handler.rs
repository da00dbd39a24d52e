//! `GET /api/v1/messages/{id}`: one message of the key's workspace; any other id is a 404.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use yebolink_shared::auth::KeyCaller;
use yebolink_shared::ids::MessageId;
use yebolink_shared::ratelimit::admit;
use yebolink_shared::request::path_id;
use yebolink_shared::response::respond;
use yebolink_shared::scopes::Scope;
use yebolink_shared::store::Store;
use yebolink_shared::{views, ApiError, App};

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    let (key, quota) = match admit(app, &req, Scope::ReadMessages).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    quota.stamp(respond(get_message(app, &req, &key).await))
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
    use yebolink_shared::auth::Principal;
    use yebolink_shared::ids::WorkspaceId;
    use yebolink_shared::message::Channel;
    use yebolink_shared::scopes::Scopes;
    use yebolink_shared::store::MessageRecord;
    use yebolink_shared::testing::{app, assert_error, authorized, body_json, key_caller, request};
    use yebolink_shared::timestamp::Timestamp;

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
}
