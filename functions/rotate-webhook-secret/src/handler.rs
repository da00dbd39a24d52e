//! `POST /api/v1/webhooks/{id}/rotate-secret`: a new signing secret, shown in this answer only.
//! For 24 hours every delivery is signed with both, so receivers can switch without a gap.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::audit::AuditEventType;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{WebhookSecret, PREVIOUS_SECRET_SECONDS};
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::{change_endpoint, endpoint_event, owned_endpoint};
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(app: &App<S>, req: Request) -> Response<Body> {
    respond(rotate_webhook_secret(app, &req).await)
}

async fn rotate_webhook_secret<S: Store + WebhookStore>(
    app: &App<S>,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let secret = WebhookSecret::generate().map_err(|_| ApiError::ServiceUnavailable)?;
    let rotated = change_endpoint(&app.store, endpoint, |current| {
        let now = Timestamp::now();
        let mut next = current.clone();
        next.previous_secret = Some((
            current.secret.clone(),
            now.plus_seconds(PREVIOUS_SECRET_SECONDS),
        ));
        next.secret = secret.clone();
        next.updated_at = now;
        let event = endpoint_event(
            &app.limits,
            req,
            user.user_id,
            AuditEventType::WebhookSecretRotated,
            next.id,
            json!({}),
            now,
        );
        Ok(Some((next, event)))
    })
    .await?;
    let until = rotated.previous_secret.as_ref().map(|(_, until)| *until);
    Ok((
        StatusCode::OK,
        json!({
            "id": rotated.id,
            "secret": rotated.secret.as_str(),
            "previous_secret_expires_at": until,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{
        app, assert_error, authorized, body_json, registered_endpoint, request, user,
    };

    fn rotate(id: &str) -> Request {
        request(
            "POST",
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]))
    }

    #[tokio::test]
    async fn a_new_secret_is_shown_once_and_the_old_one_signs_for_a_day() {
        let (app, owner) = (app(), user());
        let endpoint =
            registered_endpoint(&app.store, owner.workspace_id, "http://127.0.0.1:9/").await;
        let response = handle(
            &app,
            authorized(
                rotate(&endpoint.id.to_string()),
                &Principal::User(owner.clone()),
            ),
        )
        .await;
        assert_eq!(response.status(), 200);
        let data = body_json(&response)["data"].clone();
        let stored = app
            .store
            .get_webhook(owner.workspace_id, endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(data["secret"], stored.secret.as_str());
        assert_ne!(stored.secret, endpoint.secret);
        let (previous, until) = stored.previous_secret.clone().unwrap();
        assert_eq!(previous, endpoint.secret);
        assert_eq!(data["previous_secret_expires_at"], json!(until));
        assert_eq!(stored.signing_secrets(Timestamp::now()).len(), 2);
        // Another workspace's endpoint is not found, and keeps its secret.
        let other = handle(
            &app,
            authorized(rotate(&endpoint.id.to_string()), &Principal::User(user())),
        )
        .await;
        assert_error(&other, 404, "not_found");
        let after = app
            .store
            .get_webhook(owner.workspace_id, endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.secret, stored.secret);
    }
}
