//! The one-minute schedule: every delivery that is due (a retry, or a claim whose holder died)
//! gets its attempt, and every key whose expiry reminder is due gets its `api_key.expiring`
//! audit event, which the change stream turns into deliveries.

use std::time::SystemTime;

use serde_json::{json, Value};
use yebolink_shared::bootstrap::logging::write_metric_line;
use yebolink_shared::bootstrap::serve::Error;
use yebolink_shared::http::app::App;
use yebolink_shared::http::metrics::webhook_attempt_line;
use yebolink_shared::services::webhooks::{run_due_deliveries, send_expiry_reminders, Webhooks};
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    _tick: Value,
) -> Result<Value, Error> {
    let attempted = run_due_deliveries(&app.store, &hooks.sender, &hooks.settings).await?;
    for delivery in &attempted {
        write_metric_line(&webhook_attempt_line(
            env!("CARGO_PKG_NAME"),
            delivery,
            SystemTime::now(),
        ));
    }
    let reminders = send_expiry_reminders(&app.store, app.limits.audit_retention_days).await?;
    if !attempted.is_empty() || reminders > 0 {
        tracing::info!(
            attempted = attempted.len(),
            reminders,
            "webhook schedule ran"
        );
    }
    Ok(json!({ "attempted": attempted.len(), "reminders": reminders }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use yebolink_shared::domain::ids::DeliveryId;
    use yebolink_shared::domain::timestamp::Timestamp;
    use yebolink_shared::domain::webhook::{Delivery, DeliveryStatus, WebhookEventType};
    use yebolink_shared::testing::{answering_receiver, app, registered_endpoint, user, webhooks};

    #[tokio::test]
    async fn a_due_retry_is_attempted_once_per_tick_until_it_succeeds() {
        let (app, hooks, owner) = (app(), webhooks(), user());
        let (url, requests) = answering_receiver(Vec::new()).await;
        let endpoint = registered_endpoint(&app.store, owner.workspace_id, &url).await;
        // A delivery whose creator died before its first attempt: due when its lease ends.
        let now = Timestamp::now();
        let delivery = Delivery::new(
            DeliveryId::new(),
            &endpoint,
            WebhookEventType::ApiKeyCreated,
            "{}".into(),
            now,
        );
        app.store
            .create_delivery(&delivery, now.plus_seconds(-1))
            .await
            .unwrap();

        let tick = json!({"source": "aws.events", "detail-type": "Scheduled Event"});
        assert_eq!(
            handle(&app, &hooks, tick.clone()).await.unwrap()["attempted"],
            1
        );
        assert_eq!(handle(&app, &hooks, tick).await.unwrap()["attempted"], 0);
        let stored = app
            .store
            .get_delivery(endpoint.id, delivery.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.status, stored.attempts.len()),
            (DeliveryStatus::Succeeded, 1)
        );
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
