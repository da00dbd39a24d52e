//! `PATCH /api/v1/api-keys/{id}`: edits a key of the caller's workspace in place: its name,
//! scopes and policy. The key item, its lookup item (what the authorizer reads on the very next
//! request) and an `api_key.updated` event with each changed field's old and new value are
//! written in one transaction. Only an active key that has not been rotated can be edited.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use yebolink_shared::domain::api_key::{editable, ApiKeyRecord};
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::ids::KeyId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::key_settings::{key_edit, EDITABLE_FIELDS};
use yebolink_shared::http::request::{json_object, path_id};
use yebolink_shared::http::response::respond;
use yebolink_shared::http::views;
use yebolink_shared::storage::keys::{KeyUpdate, Updated};
use yebolink_shared::storage::Store;

/// Reads of a key that a concurrent change may make stale before this one gives up (503).
const ATTEMPTS: usize = 3;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(update_api_key(app, &req).await)
}

async fn update_api_key<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let key_id: KeyId = path_id(req, "id")?;
    let edit = key_edit(&json_object(req)?, &app.limits)?;
    let default_limit = app.limits.rate_limit_per_minute;
    // Read, edit, and write under conditions that pin what was read: a change in between
    // (another edit, a deactivation, a rotation) fails them, and the key is read again.
    for _ in 0..ATTEMPTS {
        let now = Timestamp::now();
        let old = app
            .store
            .get_api_key(user.workspace_id, key_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !editable(&old, now) {
            return Err(ApiError::KeyNotEditable);
        }
        let new = edit.applied_to(&old);
        if new == old {
            return Ok((StatusCode::OK, views::api_key(&old, default_limit, now)));
        }
        let event = event_for_request(
            &app.limits,
            req,
            AuditEventType::ApiKeyUpdated,
            Actor::User { id: user.user_id },
            Target::api_key(&old),
            json!({ "changes": changes(&old, &new, default_limit) }),
            now,
        );
        let update = KeyUpdate {
            old,
            new,
            event,
            now,
        };
        if app.store.update_api_key(&update).await? == Updated::Updated {
            tracing::info!(key_id = %key_id, workspace_id = %user.workspace_id, "API key updated");
            return Ok((
                StatusCode::OK,
                views::api_key(&update.new, default_limit, now),
            ));
        }
    }
    tracing::warn!(key_id = %key_id, "API key kept changing during its edit");
    Err(ApiError::ServiceUnavailable)
}

/// Each editable field whose value changed, as the key view shows it: `{"old", "new"}`.
fn changes(old: &ApiKeyRecord, new: &ApiKeyRecord, default_limit: u64) -> Map<String, Value> {
    let shown = |key: &ApiKeyRecord| {
        let mut view = views::key_policy(&key.policy, default_limit);
        view["name"] = json!(key.name);
        view["scopes"] = json!(key.scopes);
        view
    };
    let (before, after) = (shown(old), shown(new));
    let stored_differs = |field: &str| match field {
        "rate_limit_per_minute" => {
            old.policy.rate_limit_per_minute != new.policy.rate_limit_per_minute
        }
        _ => before[field] != after[field],
    };
    EDITABLE_FIELDS
        .iter()
        .filter(|field| stored_differs(field))
        .map(|field| {
            let change = json!({ "old": before[*field], "new": after[*field] });
            ((*field).to_owned(), change)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::domain::ids::WorkspaceId;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::services::auth::{verify_api_key_from, Principal, UserCaller};
    use yebolink_shared::storage::memory::MemoryStore;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, deactivated_event, request, seed_key,
    };

    fn patch(owner: &UserCaller, id: KeyId, body: Value) -> Request {
        authorized(
            request("PATCH", &format!("/api/v1/api-keys/{id}"), Some(body)),
            &Principal::User(owner.clone()),
        )
        .with_path_parameters(HashMap::from([("id".to_owned(), id.to_string())]))
    }

    async fn owner_with_key(app: &App<MemoryStore>) -> (UserCaller, String, ApiKeyRecord) {
        let workspace = WorkspaceId::new();
        let (secret, key) = seed_key(&app.store, workspace, Scopes::all()).await;
        let owner = UserCaller {
            user_id: yebolink_shared::domain::ids::UserId::new(),
            workspace_id: workspace,
        };
        (owner, secret, key)
    }

    #[tokio::test]
    async fn an_edit_takes_effect_on_the_next_decision_and_is_audited() {
        let app = app();
        let (owner, secret, key) = owner_with_key(&app).await;
        let body = json!({
            "rate_limit_per_minute": 7,
            "allowed_ips": ["203.0.113.9/24"],
            "metadata": {"team": "growth"},
            "monthly_send_limit": 50,
        });
        let response = handle(&app, patch(&owner, key.id, body)).await;
        assert_eq!(response.status(), 200);
        let data = &body_json(&response)["data"];
        assert_eq!(data["rate_limit_per_minute"], 7);
        assert_eq!(data["allowed_ips"], json!(["203.0.113.0/24"]));
        assert_eq!(data["metadata"], json!({"team": "growth"}));
        assert_eq!(data["monthly_send_limit"], 50);

        let inside =
            verify_api_key_from(&app.store, &secret, Timestamp::now(), Some("203.0.113.1"));
        let caller = inside.await.unwrap();
        assert!(caller.address_allowed);
        assert_eq!(caller.rate_limit_per_minute, Some(7));
        assert_eq!(caller.monthly_send_limit, Some(50));
        let outside = verify_api_key_from(&app.store, &secret, Timestamp::now(), Some("10.0.0.1"));
        assert!(!outside.await.unwrap().address_allowed);

        let events = app
            .store
            .list_audit_events(owner.workspace_id, 10, None, None)
            .await
            .unwrap();
        let updated = &events.events[0];
        assert_eq!(updated.event_type, AuditEventType::ApiKeyUpdated);
        let changes = &updated.details["changes"];
        let default = app.limits.rate_limit_per_minute;
        assert_eq!(
            changes["rate_limit_per_minute"],
            json!({"old": default, "new": 7})
        );
        assert_eq!(
            changes["allowed_ips"],
            json!({"old": null, "new": ["203.0.113.0/24"]})
        );
        assert!(
            changes.get("name").is_none(),
            "unchanged fields are not listed"
        );

        // null clears; the limit returns to the default.
        let cleared = json!({"allowed_ips": null, "rate_limit_per_minute": null});
        let response = handle(&app, patch(&owner, key.id, cleared)).await;
        let data = &body_json(&response)["data"];
        assert_eq!(data["allowed_ips"], Value::Null);
        assert_eq!(data["rate_limit_per_minute"], default);
        assert_eq!(data["monthly_send_limit"], 50, "what was not sent stays");
    }

    #[tokio::test]
    async fn bad_edits_are_400s_that_change_nothing() {
        let app = app();
        let (owner, _, key) = owner_with_key(&app).await;
        for (body, field) in [
            (json!({}), "body"),
            (json!({"colour": "red"}), "colour"),
            (json!({"name": null}), "name"),
            (json!({"scopes": []}), "scopes"),
            (json!({"rate_limit_per_minute": 0}), "rate_limit_per_minute"),
            (json!({"allowed_ips": []}), "allowed_ips"),
            (json!({"allowed_ips": ["10.0.0.1", "x"]}), "allowed_ips[1]"),
            (json!({"metadata": {"a": 1}}), "metadata.a"),
            (
                json!({"monthly_send_limit": 10_000_001}),
                "monthly_send_limit",
            ),
            (
                json!({"name": "ok", "allowed_ips": "10.0.0.1"}),
                "allowed_ips",
            ),
        ] {
            let response = handle(&app, patch(&owner, key.id, body.clone())).await;
            assert_error(&response, 400, "validation_error");
            let message = body_json(&response)["error"]["message"].clone();
            let message = message.as_str().unwrap();
            assert!(
                message.starts_with(&format!("{field}: ")),
                "{body}: {message}"
            );
        }
        let stored = app
            .store
            .get_api_key(owner.workspace_id, key.id)
            .await
            .unwrap();
        assert_eq!(stored, Some(key), "nothing changed");
    }

    #[tokio::test]
    async fn a_deactivated_key_is_not_editable_and_another_workspaces_is_not_found() {
        let app = app();
        let (owner, _, key) = owner_with_key(&app).await;
        let stranger = UserCaller {
            workspace_id: WorkspaceId::new(),
            ..owner.clone()
        };
        let rename = json!({"name": "renamed"});
        let response = handle(&app, patch(&stranger, key.id, rename.clone())).await;
        assert_error(&response, 404, "not_found");
        app.store
            .deactivate_api_key(owner.workspace_id, key.id, deactivated_event)
            .await
            .unwrap();
        let response = handle(&app, patch(&owner, key.id, rename)).await;
        assert_error(&response, 409, "key_not_editable");
    }
}
