//! `POST /api/v1/webhooks`: registers an endpoint of the caller's workspace (at most 10), with
//! its signing secret, shown in this answer only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::AuditEventType;
use yebolink_shared::domain::ids::WebhookId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{
    endpoint_view, WebhookEndpoint, WebhookEventType, WebhookSecret, MAX_ENDPOINTS_PER_WORKSPACE,
};
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::json_object;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::{
    endpoint_event, only_fields, parse_description, parse_events, parse_url, CREATE_FIELDS,
};
use yebolink_shared::services::webhooks::Webhooks;
use yebolink_shared::storage::webhooks::{WebhookCreated, WebhookStore};
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: Request,
) -> Response<Body> {
    respond(create_webhook(app, hooks, &req).await)
}

async fn create_webhook<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let body = json_object(req)?;
    only_fields(&body, &CREATE_FIELDS)?;
    let url = parse_url(body.required_str("url")?, hooks.settings.url_policy).await?;
    let events = parse_events(&body)?.unwrap_or_else(|| WebhookEventType::SUBSCRIBABLE.to_vec());
    let description = parse_description(&body)?.flatten();
    let now = Timestamp::now();
    let secret = WebhookSecret::generate().map_err(|_| ApiError::ServiceUnavailable)?;
    let endpoint = WebhookEndpoint {
        id: WebhookId::new(),
        workspace_id: user.workspace_id,
        url,
        events,
        description,
        disabled: None,
        secret,
        previous_secret: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let event = endpoint_event(
        &app.limits,
        req,
        user.user_id,
        AuditEventType::WebhookCreated,
        endpoint.id,
        json!({ "url": endpoint.url, "events": endpoint.events }),
        now,
    );
    match app
        .store
        .create_webhook(&endpoint, MAX_ENDPOINTS_PER_WORKSPACE, &event)
        .await?
    {
        WebhookCreated::LimitReached => Err(ApiError::WebhookLimitReached {
            limit: MAX_ENDPOINTS_PER_WORKSPACE,
        }),
        WebhookCreated::Created => {
            tracing::info!(webhook_id = %endpoint.id, workspace_id = %user.workspace_id, "webhook endpoint created");
            let mut view = endpoint_view(&endpoint);
            view["secret"] = json!(endpoint.secret.as_str());
            Ok((StatusCode::CREATED, view))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, request, user, webhooks,
    };

    fn create(body: Value) -> Request {
        request("POST", "/api/v1/webhooks", Some(body))
    }

    #[tokio::test]
    async fn an_endpoint_is_created_with_every_key_event_and_its_secret_shown_once() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let response = handle(
            &app,
            &hooks,
            authorized(
                create(json!({"url": "http://127.0.0.1:9/hook"})),
                &Principal::User(owner.clone()),
            ),
        )
        .await;
        assert_eq!(response.status(), 201);
        let data = body_json(&response)["data"].clone();
        assert!(data["secret"].as_str().unwrap().starts_with("whsec_"));
        assert_eq!(data["events"].as_array().unwrap().len(), 6);
        assert_eq!(
            (data["status"].clone(), data["disabled_reason"].clone()),
            (json!("enabled"), Value::Null)
        );
        let stored = app.store.list_webhooks(owner.workspace_id).await.unwrap();
        assert_eq!(stored.len(), 1);
        let trail = app
            .store
            .list_audit_events(owner.workspace_id, 5, None, None)
            .await
            .unwrap();
        assert_eq!(trail.events[0].event_type, AuditEventType::WebhookCreated);
        assert!(!serde_json::to_string(&trail.events)
            .unwrap()
            .contains("whsec_"));
    }

    #[tokio::test]
    async fn bad_settings_are_400s_naming_their_field_and_create_nothing() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        for (body, field) in [
            (json!({}), "url"),
            (json!({"url": "https://example.com/hook"}), "url"),
            (
                json!({"url": "http://127.0.0.1/", "events": ["api_key.created", "nope"]}),
                "events[1]",
            ),
            (json!({"url": "http://127.0.0.1/", "events": []}), "events"),
            (
                json!({"url": "http://127.0.0.1/", "description": "x".repeat(201)}),
                "description",
            ),
            (
                json!({"url": "http://127.0.0.1/", "secret": "whsec_mine"}),
                "secret",
            ),
        ] {
            let response = handle(
                &app,
                &hooks,
                authorized(create(body), &Principal::User(owner.clone())),
            )
            .await;
            assert_error(&response, 400, "validation_error");
            let message = body_json(&response)["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.starts_with(&format!("{field}:")), "{message}");
        }
        assert!(app
            .store
            .list_webhooks(owner.workspace_id)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn the_eleventh_endpoint_is_a_409() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        for expected in [201; 10].into_iter().chain([409]) {
            let response = handle(
                &app,
                &hooks,
                authorized(
                    create(json!({"url": "http://localhost:9/"})),
                    &Principal::User(owner.clone()),
                ),
            )
            .await;
            assert_eq!(response.status(), expected);
        }
    }

    #[tokio::test]
    async fn an_api_key_cannot_create_an_endpoint() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let key = yebolink_shared::testing::key_caller(
            owner.workspace_id,
            yebolink_shared::domain::scopes::Scopes::all(),
        );
        let response = handle(
            &app,
            &hooks,
            authorized(
                create(json!({"url": "http://127.0.0.1/"})),
                &Principal::ApiKey(key),
            ),
        )
        .await;
        assert_eq!(response.status(), 401);
        assert!(app
            .store
            .list_webhooks(owner.workspace_id)
            .await
            .unwrap()
            .is_empty());
    }
}
