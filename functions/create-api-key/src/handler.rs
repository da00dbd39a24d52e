//! `POST /api/v1/api-keys`: creates a key for the caller's workspace. The full key is in this
//! response and nowhere else; only its SHA-256 is stored. A workspace holds at most
//! `WORKSPACE_KEY_LIMIT` active keys (409 `key_limit_reached`): its throughput is bounded by the
//! workspace-wide rate limit anyway, and its key list stays one page.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::api_key::ApiKeyRecord;
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::ids::KeyId;
use yebolink_shared::domain::keys::{parse_key_expiry, ApiKeySecret};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::key_settings::{parse_name, parse_scopes, policy_of_new_key};
use yebolink_shared::http::request::json_object;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views;
use yebolink_shared::storage::keys::KeyCreated;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(create_api_key(app, &req).await)
}

async fn create_api_key<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let body = json_object(req)?;
    let name = parse_name(body.required_str("name")?)?;
    let scopes = parse_scopes(body.optional_str_array("scopes")?.as_deref())?;
    let policy = policy_of_new_key(&body, &app.limits)?;

    let now = Timestamp::now();
    let expires_at = body
        .optional_str("expires_at")?
        .map(|raw| parse_key_expiry(raw, now))
        .transpose()
        .map_err(|problem| ApiError::field("expires_at", problem))?;

    let secret = ApiKeySecret::generate()?;
    let id = KeyId::new();
    let key = ApiKeyRecord {
        id,
        policy,
        quota_id: id,
        workspace_id: user.workspace_id,
        name,
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        scopes,
        is_active: true,
        last_used_at: None,
        created_at: now,
        expires_at,
        replaced_by: None,
        rotated_from: None,
        last_used_ip: None,
    };
    let created = event_for_request(
        &app.limits,
        req,
        AuditEventType::ApiKeyCreated,
        Actor::User { id: user.user_id },
        Target::api_key(&key),
        created_event_details(&key, app.limits.rate_limit_per_minute),
        now,
    );
    let limit = app.limits.workspace_key_limit;
    if app.store.create_api_key(&key, limit, &created).await? == KeyCreated::LimitReached {
        return Err(ApiError::KeyLimitReached { limit });
    }
    tracing::info!(key_id = %key.id, key_prefix = %key.key_prefix, workspace_id = %key.workspace_id, "API key created");
    Ok((
        StatusCode::CREATED,
        views::created_api_key(&key, secret, app.limits.rate_limit_per_minute, now),
    ))
}

/// The `api_key.created` event's details: what the key was created with.
fn created_event_details(key: &ApiKeyRecord, default_limit: u64) -> Value {
    let mut details =
        json!({ "name": key.name, "scopes": key.scopes, "expires_at": key.expires_at });
    if let (Some(details), Value::Object(policy)) = (
        details.as_object_mut(),
        views::key_policy(&key.policy, default_limit),
    ) {
        details.extend(policy);
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;
    use yebolink_shared::domain::api_key::KeyStatus;
    use yebolink_shared::domain::keys::ApiKeySecret;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::services::auth::{verify_api_key, AuthError, KeyRefusal, Principal};
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, deactivated_event, key_caller, request, user,
    };

    fn create(body: Value) -> Request {
        request("POST", "/api/v1/api-keys", Some(body))
    }

    #[tokio::test]
    async fn created_key_is_shown_once_and_stored_only_as_its_hash() {
        let app = app();
        let owner = user();
        let response = handle(
            &app,
            authorized(
                create(json!({"name": "Production API Key"})),
                &Principal::User(owner.clone()),
            ),
        )
        .await;
        assert_eq!(response.status(), 201);
        let data = &body_json(&response)["data"];
        let key = data["key"].as_str().unwrap();
        assert_eq!(data["key_prefix"], format!("{}...", &key[..11]));
        assert_eq!(data["scopes"], json!(["send_messages", "read_messages"]));
        assert_eq!(data["warning"], views::CREATED_KEY_WARNING);

        let stored = app.store.list_api_keys(owner.workspace_id).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].key_hash, ApiKeySecret::parse(key).unwrap().hash());
        assert!(!format!("{stored:?}").contains(&key[4..]));
    }

    #[tokio::test]
    async fn scopes_are_validated_and_deduplicated() {
        let app = app();
        let owner = Principal::User(user());
        let response = handle(
            &app,
            authorized(
                create(json!({"name": "r", "scopes": ["read_messages", "read_messages"]})),
                &owner,
            ),
        )
        .await;
        assert_eq!(
            body_json(&response)["data"]["scopes"],
            json!(["read_messages"])
        );
        for scopes in [json!([]), json!(["admin"]), json!("send_messages")] {
            let response = handle(
                &app,
                authorized(create(json!({"name": "k", "scopes": scopes})), &owner),
            )
            .await;
            assert_error(&response, 400, "validation_error");
        }
    }

    #[tokio::test]
    async fn a_key_can_never_create_a_key() {
        let app = app();
        let key = Principal::ApiKey(key_caller(user().workspace_id, Scopes::all()));
        let response = handle(&app, authorized(create(json!({"name": "sneaky"})), &key)).await;
        assert_error(&response, 401, "unauthorized");
    }

    #[tokio::test]
    async fn without_authorizer_context_or_inline_auth_the_request_is_refused() {
        let app = app();
        let response = handle(&app, create(json!({"name": "anon"}))).await;
        assert_error(&response, 401, "unauthorized");
    }

    #[tokio::test]
    async fn a_workspace_past_its_key_limit_gets_a_409_until_it_deactivates_one() {
        let mut app = app();
        app.limits.workspace_key_limit = 2;
        let owner = Principal::User(user());
        let mut ids = Vec::new();
        for _ in 0..2 {
            let reply = handle(&app, authorized(create(json!({"name": "k"})), &owner)).await;
            assert_eq!(reply.status(), 201);
            ids.push(body_json(&reply)["data"]["id"].as_str().unwrap().to_owned());
        }
        let reply = handle(&app, authorized(create(json!({"name": "k"})), &owner)).await;
        assert_error(&reply, 409, "key_limit_reached");
        let Principal::User(caller) = &owner else {
            unreachable!()
        };
        assert_eq!(
            app.store
                .list_api_keys(caller.workspace_id)
                .await
                .unwrap()
                .len(),
            2
        );
        app.store
            .deactivate_api_key(
                caller.workspace_id,
                ids[0].parse().unwrap(),
                deactivated_event,
            )
            .await
            .unwrap();
        let reply = handle(&app, authorized(create(json!({"name": "k"})), &owner)).await;
        assert_eq!(reply.status(), 201);
    }

    #[tokio::test]
    async fn a_key_created_with_expires_at_works_until_then_and_is_refused_from_then_on() {
        let app = app();
        let owner = user();
        let expiry = Timestamp::now().plus_seconds(3600);
        let response = handle(
            &app,
            authorized(
                create(json!({"name": "ci", "expires_at": expiry.rfc3339()})),
                &Principal::User(owner.clone()),
            ),
        )
        .await;
        assert_eq!(response.status(), 201);
        let data = &body_json(&response)["data"];
        assert_eq!(data["expires_at"], expiry.rfc3339());
        assert_eq!(data["status"], "active");
        let key = data["key"].as_str().unwrap();
        let at = |t: Timestamp| verify_api_key(&app.store, key, t);
        assert!(at(expiry.plus_seconds(-1)).await.is_ok());
        assert!(matches!(
            at(expiry).await,
            Err(AuthError::InvalidApiKey(KeyRefusal::Expired))
        ));
        let stored = &app.store.list_api_keys(owner.workspace_id).await.unwrap()[0];
        assert_eq!(stored.status(expiry), KeyStatus::Expired);
        assert_eq!(views::api_key(stored, 100, expiry)["is_active"], false);
    }

    #[tokio::test]
    async fn an_expiry_too_soon_too_late_or_not_rfc3339_is_refused_naming_the_field() {
        let app = app();
        let owner = user();
        let now = Timestamp::now();
        for expires_at in [
            json!(now.plus_seconds(30).rfc3339()),
            json!(now.plus_seconds(-3600).rfc3339()),
            json!(now.plus_seconds(3 * 365 * 86_400).rfc3339()),
            json!("tomorrow"),
            json!(1_900_000_000),
        ] {
            let response = handle(
                &app,
                authorized(
                    create(json!({"name": "k", "expires_at": expires_at})),
                    &Principal::User(owner.clone()),
                ),
            )
            .await;
            assert_error(&response, 400, "validation_error");
            let message = body_json(&response)["error"]["message"].clone();
            assert!(
                message.as_str().unwrap().starts_with("expires_at"),
                "{message}"
            );
        }
        assert!(app
            .store
            .list_api_keys(owner.workspace_id)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn creating_a_key_records_an_event_naming_the_key_and_the_owner() {
        let app = app();
        let owner = user();
        let response = handle(
            &app,
            authorized(
                create(json!({"name": "ci"})),
                &Principal::User(owner.clone()),
            ),
        )
        .await;
        let id = body_json(&response)["data"]["id"].clone();
        let page = app
            .store
            .list_audit_events(owner.workspace_id, 10, None, None)
            .await
            .unwrap();
        let shown = serde_json::to_value(&page.events).unwrap();
        assert_eq!(shown[0]["type"], "api_key.created");
        assert_eq!(shown[0]["target"]["id"], id);
        assert_eq!(
            shown[0]["actor"],
            json!({"type": "user", "id": owner.user_id})
        );
    }
}
