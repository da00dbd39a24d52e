//! `PATCH /api/v1/webhooks/{id}`: changes an endpoint's `url`, `events` or `description`, or
//! disables (`enabled: false`) or re-enables it (`enabled: true`, which also forgets its
//! failing streak).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::AuditEventType;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{endpoint_view, DisabledReason};
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::json_object;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::{
    change_endpoint, endpoint_event, only_fields, owned_endpoint, parse_description, parse_enabled,
    parse_events, parse_url, EDIT_FIELDS,
};
use yebolink_shared::services::webhooks::Webhooks;
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: Request,
) -> Response<Body> {
    respond(update_webhook(app, hooks, &req).await)
}

async fn update_webhook<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let body = json_object(req)?;
    only_fields(&body, &EDIT_FIELDS)?;
    let url = match body.sent("url") {
        Some(_) => Some(parse_url(body.required_str("url")?, hooks.settings.url_policy).await?),
        None => None,
    };
    let events = parse_events(&body)?;
    let description = parse_description(&body)?;
    let enabled = parse_enabled(&body)?;
    let changed = change_endpoint(&app.store, endpoint, |current| {
        let mut next = current.clone();
        if let Some(url) = &url {
            next.url.clone_from(url);
        }
        if let Some(events) = &events {
            next.events.clone_from(events);
        }
        if let Some(description) = &description {
            next.description.clone_from(description);
        }
        match enabled {
            Some(true) => (next.disabled, next.failing_since) = (None, None),
            Some(false) if next.disabled.is_none() => next.disabled = Some(DisabledReason::Manual),
            _ => {}
        }
        if next == *current {
            return Ok(None);
        }
        let now = Timestamp::now();
        next.updated_at = now;
        let event = endpoint_event(
            &app.limits,
            req,
            user.user_id,
            AuditEventType::WebhookUpdated,
            next.id,
            json!({ "changed": body.fields().collect::<Vec<_>>() }),
            now,
        );
        Ok(Some((next, event)))
    })
    .await?;
    Ok((StatusCode::OK, endpoint_view(&changed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::domain::audit::{AuditEventType, Target};
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, event, registered_endpoint, request, user,
        webhook_endpoint, webhooks,
    };

    fn patch(id: &str, body: Value) -> Request {
        request("PATCH", &format!("/api/v1/webhooks/{id}"), Some(body))
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]))
    }

    #[tokio::test]
    async fn disabling_by_hand_then_enabling_clears_the_reason_and_the_failing_streak() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let mut endpoint = webhook_endpoint(owner.workspace_id, "http://127.0.0.1:9/");
        endpoint.failing_since = Some(Timestamp::now());
        let made = event(
            AuditEventType::WebhookCreated,
            Target::Webhook { id: endpoint.id },
        );
        app.store
            .create_webhook(&endpoint, 10, &made)
            .await
            .unwrap();
        let id = endpoint.id.to_string();
        let who = Principal::User(owner.clone());

        let off = handle(
            &app,
            &hooks,
            authorized(patch(&id, json!({"enabled": false})), &who),
        )
        .await;
        assert_eq!(body_json(&off)["data"]["disabled_reason"], "manual");
        let on = handle(
            &app,
            &hooks,
            authorized(patch(&id, json!({"enabled": true})), &who),
        )
        .await;
        assert_eq!(body_json(&on)["data"]["status"], "enabled");
        let stored = app
            .store
            .get_webhook(owner.workspace_id, endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.disabled, stored.failing_since, stored.version),
            (None, None, 3)
        );

        // A PATCH that changes nothing writes nothing.
        let same = handle(
            &app,
            &hooks,
            authorized(patch(&id, json!({"enabled": true})), &who),
        )
        .await;
        assert_eq!(same.status(), 200);
        let trail = app
            .store
            .list_audit_events(
                owner.workspace_id,
                10,
                None,
                Some(AuditEventType::WebhookUpdated),
            )
            .await
            .unwrap();
        assert_eq!(trail.events.len(), 2);
    }

    #[tokio::test]
    async fn another_workspaces_endpoint_is_not_found_and_unchanged() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let endpoint =
            registered_endpoint(&app.store, owner.workspace_id, "http://127.0.0.1:9/").await;
        let other = Principal::User(user());
        let response = handle(
            &app,
            &hooks,
            authorized(
                patch(&endpoint.id.to_string(), json!({"enabled": false})),
                &other,
            ),
        )
        .await;
        assert_error(&response, 404, "not_found");
        let response = handle(&app, &hooks, authorized(patch("nope", json!({})), &other)).await;
        assert_error(&response, 404, "not_found");
        let stored = app
            .store
            .get_webhook(owner.workspace_id, endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, endpoint);
    }

    #[tokio::test]
    async fn a_refused_url_or_an_unknown_field_changes_nothing() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let endpoint =
            registered_endpoint(&app.store, owner.workspace_id, "http://127.0.0.1:9/").await;
        let who = Principal::User(owner.clone());
        let id = endpoint.id.to_string();
        for body in [
            json!({"url": "http://169.254.169.254/latest/meta-data", "description": "x"}),
            json!({"description": "x", "secret": "whsec_x"}),
            json!({"enabled": "yes"}),
        ] {
            let response = handle(&app, &hooks, authorized(patch(&id, body), &who)).await;
            assert_error(&response, 400, "validation_error");
        }
        let stored = app
            .store
            .get_webhook(owner.workspace_id, endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, endpoint);
    }
}
