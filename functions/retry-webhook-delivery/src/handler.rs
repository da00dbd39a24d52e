//! `POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry`: one more attempt of a delivery
//! now, within this request, with the same `webhook-id`, whatever its status.

use std::time::SystemTime;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use yebolink_shared::bootstrap::logging::write_metric_line;
use yebolink_shared::domain::ids::DeliveryId;
use yebolink_shared::domain::webhook::delivery_view;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::authenticate_user;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::metrics::webhook_attempt_line;
use yebolink_shared::http::request::path_id;
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
    respond(retry_webhook_delivery(app, hooks, &req).await)
}

async fn retry_webhook_delivery<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    req: &Request,
) -> Result<(StatusCode, Value), ApiError> {
    let user = authenticate_user(app, req).await?;
    let endpoint = owned_endpoint(&app.store, user.workspace_id, req).await?;
    let id: DeliveryId = path_id(req, "delivery_id")?;
    let delivery = app
        .store
        .get_delivery(endpoint.id, id)
        .await?
        .filter(|d| d.workspace_id == user.workspace_id)
        .ok_or(ApiError::NotFound)?;
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
    use serde_json::json;
    use std::collections::HashMap;
    use yebolink_shared::domain::audit::{AuditEventType, Target};
    use yebolink_shared::domain::timestamp::Timestamp;
    use yebolink_shared::domain::webhook::{Delivery, DeliveryStatus, WebhookEventType};
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::testing::{
        answering_receiver, app, assert_error, authorized, body_json, event, request, user,
        webhook_endpoint, webhooks,
    };

    fn retry(id: &str, delivery: &str) -> Request {
        request(
            "POST",
            &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/retry"),
            None,
        )
        .with_path_parameters(HashMap::from([
            ("id".to_owned(), id.to_owned()),
            ("delivery_id".to_owned(), delivery.to_owned()),
        ]))
    }

    #[tokio::test]
    async fn a_failed_delivery_is_sent_again_now_and_only_for_its_own_endpoint() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let (url, requests) = answering_receiver(Vec::new()).await;
        let endpoint = webhook_endpoint(owner.workspace_id, &url);
        let other_endpoint = webhook_endpoint(owner.workspace_id, &url);
        for e in [&endpoint, &other_endpoint] {
            let made = event(AuditEventType::WebhookCreated, Target::Webhook { id: e.id });
            app.store.create_webhook(e, 10, &made).await.unwrap();
        }
        let now = Timestamp::now();
        let mut failed = Delivery::new(
            DeliveryId::new(),
            &endpoint,
            WebhookEventType::ApiKeyCreated,
            "{}".into(),
            now,
        );
        failed.status = DeliveryStatus::Failed;
        failed.next_attempt_at = None;
        app.store.create_delivery(&failed, now).await.unwrap();
        let who = Principal::User(owner.clone());

        let response = handle(
            &app,
            &hooks,
            authorized(
                retry(&endpoint.id.to_string(), &failed.id.to_string()),
                &who,
            ),
        )
        .await;
        let data = body_json(&response)["data"].clone();
        assert_eq!(
            (data["status"].clone(), data["id"].clone()),
            (json!("succeeded"), json!(failed.id))
        );
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Named under another endpoint, or by another workspace: not found, and not sent.
        let wrong = handle(
            &app,
            &hooks,
            authorized(
                retry(&other_endpoint.id.to_string(), &failed.id.to_string()),
                &who,
            ),
        )
        .await;
        assert_error(&wrong, 404, "not_found");
        let stranger = handle(
            &app,
            &hooks,
            authorized(
                retry(&endpoint.id.to_string(), &failed.id.to_string()),
                &Principal::User(user()),
            ),
        )
        .await;
        assert_error(&stranger, 404, "not_found");
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
