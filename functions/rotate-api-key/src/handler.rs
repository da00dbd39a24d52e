//! `POST /api/v1/api-keys/{id}/rotate`: replaces a key with a new one (same name and scopes)
//! while the old key keeps working for `overlap_seconds` (default a day, at most a week), so
//! clients can switch over without breaking. The new key is shown once, like a created key.
//! One transaction writes the old key's new expiry, the new key and the event: there is never
//! a new key without the old key's overlap, or the reverse.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::api_key::{ApiKeyRecord, KeyStatus};
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::ids::KeyId;
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::{optional_json_object, path_id};
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views;
use yebolink_shared::storage::keys::{Rotated, Rotation};
use yebolink_shared::storage::Store;

pub const DEFAULT_OVERLAP_SECONDS: i64 = 86_400;
pub const MAX_OVERLAP_SECONDS: i64 = 604_800;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(rotate_api_key(app, &req).await)
}

async fn rotate_api_key<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let key_id: KeyId = path_id(req, "id")?;
    let overlap = optional_json_object(req)?
        .optional_integer("overlap_seconds", 0..=MAX_OVERLAP_SECONDS)?
        .unwrap_or(DEFAULT_OVERLAP_SECONDS);

    let now = Timestamp::now();
    let old = app
        .store
        .get_api_key(user.workspace_id, key_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if old.status(now) != KeyStatus::Active || old.replaced_by.is_some() {
        return Err(ApiError::KeyNotRotatable);
    }
    let secret = ApiKeySecret::generate()?;
    let new = ApiKeyRecord {
        id: KeyId::new(),
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        is_active: true,
        last_used_at: None,
        last_used_ip: None,
        created_at: now,
        // A key that had a lifetime gets the same lifetime again, counted from now.
        expires_at: old
            .expires_at
            .map(|expiry| now.plus_seconds(expiry.unix() - old.created_at.unix())),
        replaced_by: None,
        rotated_from: Some(old.id),
        // Everything else carries over: name, scopes, the policy, and the monthly count
        // (`quota_id`), so rotating never resets a quota.
        ..old.clone()
    };
    // The overlap never lengthens the old key's life.
    let old_expires_at = old.expires_at.map_or(now.plus_seconds(overlap), |expiry| {
        expiry.min(now.plus_seconds(overlap))
    });
    let event = event_for_request(
        &app.limits,
        req,
        AuditEventType::ApiKeyRotated,
        Actor::User { id: user.user_id },
        Target::api_key(&old),
        json!({
            "new_key_id": new.id,
            "new_key_prefix": new.key_prefix,
            "overlap_seconds": overlap,
            "old_key_expires_at": old_expires_at,
        }),
        now,
    );
    let rotation = Rotation {
        old,
        old_expires_at,
        new,
        event,
    };
    match app.store.rotate_api_key(&rotation).await? {
        Rotated::NotRotatable => Err(ApiError::KeyNotRotatable),
        Rotated::Rotated => {
            tracing::info!(
                key_id = %rotation.old.id,
                new_key_id = %rotation.new.id,
                new_key_prefix = %rotation.new.key_prefix,
                workspace_id = %user.workspace_id,
                "API key rotated"
            );
            Ok((
                StatusCode::CREATED,
                views::created_api_key(
                    &rotation.new,
                    secret,
                    app.limits.rate_limit_per_minute,
                    now,
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::services::auth::{verify_api_key, Principal, UserCaller};
    use yebolink_shared::storage::memory::MemoryStore;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, deactivated_event, request, seed_key, user,
    };

    fn rotate(owner: &UserCaller, id: &str, body: Option<Value>) -> Request {
        authorized(
            request("POST", &format!("/api/v1/api-keys/{id}/rotate"), body)
                .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())])),
            &Principal::User(owner.clone()),
        )
    }

    async fn works(app: &App<MemoryStore>, secret: &str, at: Timestamp) -> bool {
        verify_api_key(&app.store, secret, at).await.is_ok()
    }

    #[tokio::test]
    async fn both_keys_work_during_the_overlap_and_only_the_new_one_after() {
        let app = app();
        let owner = user();
        let (old_secret, old) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        let response = handle(
            &app,
            rotate(
                &owner,
                &old.id.to_string(),
                Some(json!({"overlap_seconds": 60})),
            ),
        )
        .await;
        assert_eq!(response.status(), 201);
        let data = &body_json(&response)["data"];
        let new_secret = data["key"].as_str().unwrap();
        assert_eq!(data["rotated_from"], json!(old.id));
        assert_eq!(data["name"], "seeded");
        assert_eq!(data["status"], "active");
        assert_eq!(data["expires_at"], Value::Null);

        let now = Timestamp::now();
        assert!(works(&app, &old_secret, now).await);
        assert!(works(&app, new_secret, now).await);
        let after = now.plus_seconds(61);
        assert!(!works(&app, &old_secret, after).await);
        assert!(works(&app, new_secret, after).await);

        let listed = app.store.list_api_keys(owner.workspace_id).await.unwrap();
        let old_now = listed.iter().find(|k| k.id == old.id).unwrap();
        assert_eq!(
            old_now.replaced_by.map(|id| id.to_string()),
            data["id"].as_str().map(str::to_owned)
        );
        assert!(old_now
            .expires_at
            .is_some_and(|e| e <= now.plus_seconds(61)));
    }

    #[tokio::test]
    async fn a_key_with_a_lifetime_is_replaced_by_one_with_the_same_lifetime_from_now() {
        let app = app();
        let owner = user();
        let (_, mut old) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        // Reseed with a 30-day lifetime that started 10 days ago.
        old.id = KeyId::new();
        old.created_at = Timestamp::now().plus_seconds(-10 * 86_400);
        old.expires_at = Some(old.created_at.plus_seconds(30 * 86_400));
        app.store
            .create_api_key(
                &old,
                u64::MAX,
                &yebolink_shared::testing::created_event(&old),
            )
            .await
            .unwrap();
        let response = handle(&app, rotate(&owner, &old.id.to_string(), None)).await;
        assert_eq!(response.status(), 201);
        let data = &body_json(&response)["data"];
        let expires = Timestamp::parse_rfc3339(data["expires_at"].as_str().unwrap()).unwrap();
        let created = Timestamp::parse_rfc3339(data["created_at"].as_str().unwrap()).unwrap();
        assert_eq!(expires.unix() - created.unix(), 30 * 86_400);
    }

    #[tokio::test]
    async fn a_replaced_deactivated_or_expired_key_is_not_rotatable() {
        let app = app();
        let owner = user();
        let (_, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        let id = key.id.to_string();
        assert_eq!(handle(&app, rotate(&owner, &id, None)).await.status(), 201);
        assert_error(
            &handle(&app, rotate(&owner, &id, None)).await,
            409,
            "key_not_rotatable",
        );

        let (_, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        app.store
            .deactivate_api_key(owner.workspace_id, key.id, deactivated_event)
            .await
            .unwrap();
        let response = handle(&app, rotate(&owner, &key.id.to_string(), None)).await;
        assert_error(&response, 409, "key_not_rotatable");

        let (_, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        let id = key.id.to_string();
        let zero = Some(json!({"overlap_seconds": 0}));
        assert_eq!(handle(&app, rotate(&owner, &id, zero)).await.status(), 201);
        let listed = app.store.list_api_keys(owner.workspace_id).await.unwrap();
        let old = listed.iter().find(|k| k.id == key.id).unwrap();
        assert_eq!(old.status(Timestamp::now()), KeyStatus::Expired);
    }

    #[tokio::test]
    async fn another_workspaces_or_unknown_key_is_not_found_and_nothing_changes() {
        let app = app();
        let (secret, key) = seed_key(&app.store, user().workspace_id, Scopes::all()).await;
        let stranger = user();
        for id in [key.id.to_string(), KeyId::new().to_string(), "nope".into()] {
            assert_error(
                &handle(&app, rotate(&stranger, &id, None)).await,
                404,
                "not_found",
            );
        }
        assert!(works(&app, &secret, Timestamp::now().plus_seconds(10 * 86_400)).await);
    }

    #[tokio::test]
    async fn a_bad_overlap_is_a_validation_error_and_nothing_changes() {
        let app = app();
        let owner = user();
        let (secret, key) = seed_key(&app.store, owner.workspace_id, Scopes::all()).await;
        for body in [
            json!({"overlap_seconds": -1}),
            json!({"overlap_seconds": 604_801}),
            json!({"overlap_seconds": "60"}),
            json!({"overlap_seconds": 1.5}),
            json!([]),
        ] {
            let response = handle(&app, rotate(&owner, &key.id.to_string(), Some(body))).await;
            assert_error(&response, 400, "validation_error");
        }
        assert_eq!(
            app.store
                .list_api_keys(owner.workspace_id)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(works(&app, &secret, Timestamp::now().plus_seconds(10 * 86_400)).await);
    }
}
