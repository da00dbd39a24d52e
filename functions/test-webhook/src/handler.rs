//! `POST /api/v1/webhooks/{id}/test`: sends a `webhook.test` event to the endpoint now, within
//! this request, and answers with the delivery and its attempt (retried later like any other
//! if it failed).

use std::time::SystemTime;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::bootstrap::logging::write_metric_line;
use yebolink_shared::domain::ids::DeliveryId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{delivery_view, payload, Delivery, WebhookEventType};
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::metrics::webhook_attempt_line;
use yebolink_shared::http::response::respond;
use yebolink_shared::http::webhooks::{attempt_now, owned_endpoint};
use yebolink_shared::services::webhooks::Webhooks;
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: Request,
) -> Response<Body> {
    respond(test_webhook(app, hooks, &req).await)
}

async fn test_webhook<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let now = Timestamp::now();
    let body = payload(
        WebhookEventType::WebhookTest,
        now,
        json!({ "webhook_id": endpoint.id, "message": "A test event from YeboLink" }),
    );
    let delivery = Delivery::new(
        DeliveryId::new(),
        &endpoint,
        WebhookEventType::WebhookTest,
        body,
        now,
    );
    let sent = attempt_now(&app.store, hooks, &endpoint, &delivery).await?;
    write_metric_line(&webhook_attempt_line(
        env!("CARGO_PKG_NAME"),
        &sent,
        SystemTime::now(),
    ));
    Ok((StatusCode::OK, delivery_view(&sent)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::collections::HashMap;

    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{
        answering_receiver, app, assert_error, authorized, body_json, registered_endpoint, request,
        user, webhooks,
    };

    fn test(id: &str) -> Request {
        request("POST", &format!("/api/v1/webhooks/{id}/test"), None)
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]))
    }

    #[tokio::test]
    async fn a_test_event_is_sent_within_the_request_and_a_failure_is_left_for_a_retry() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let (url, requests) = answering_receiver(vec![503]).await;
        let endpoint = registered_endpoint(&app.store, owner.workspace_id, &url).await;
        let who = Principal::User(owner.clone());
        let first = body_json(
            &handle(
                &app,
                &hooks,
                authorized(test(&endpoint.id.to_string()), &who),
            )
            .await,
        )["data"]
            .clone();
        assert_eq!(
            (first["event_type"].clone(), first["status"].clone()),
            (json!("webhook.test"), json!("pending"))
        );
        assert_eq!(first["attempts"][0]["status_code"], 503);
        assert!(first["next_attempt_at"].is_string());
        let second = body_json(
            &handle(
                &app,
                &hooks,
                authorized(test(&endpoint.id.to_string()), &who),
            )
            .await,
        )["data"]
            .clone();
        assert_eq!(second["status"], "succeeded");
        assert_ne!(
            first["id"], second["id"],
            "each test is a delivery of its own"
        );
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
        let stranger = handle(
            &app,
            &hooks,
            authorized(test(&endpoint.id.to_string()), &Principal::User(user())),
        )
        .await;
        assert_error(&stranger, 404, "not_found");
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
