//! The table's change stream: each new audit event of a key change becomes one delivery per
//! enabled endpoint of its workspace that subscribes to its type, attempted at once. The
//! answer lists the first record that could not be handled (a store error), so the event
//! source mapping retries from there; a record that is not such an event is skipped.

use std::time::SystemTime;

use serde::Deserialize;
use serde_json::{json, Value};
use yebolink_shared::bootstrap::logging::write_metric_line;
use yebolink_shared::bootstrap::serve::Error;
use yebolink_shared::domain::audit::{AuditEvent, Target};
use yebolink_shared::domain::ids::WorkspaceId;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{payload, WebhookEventType};
use yebolink_shared::http::app::App;
use yebolink_shared::http::metrics::webhook_attempt_line;
use yebolink_shared::http::views;
use yebolink_shared::services::webhooks::{fan_out, Webhooks};
use yebolink_shared::storage::error::StoreError;
use yebolink_shared::storage::webhooks::WebhookStore;
use yebolink_shared::storage::Store;

const FUNCTION: &str = env!("CARGO_PKG_NAME");

/// The parts of a DynamoDB stream event this reads.
#[derive(Deserialize)]
struct StreamEvent {
    #[serde(rename = "Records", default)]
    records: Vec<StreamRecord>,
}

#[derive(Deserialize)]
struct StreamRecord {
    #[serde(rename = "eventName", default)]
    event_name: String,
    dynamodb: StreamChange,
}

#[derive(Deserialize)]
struct StreamChange {
    #[serde(rename = "SequenceNumber")]
    sequence_number: String,
    #[serde(rename = "NewImage", default)]
    new_image: Option<serde_json::Map<String, Value>>,
}

/// The audit event an item's image holds, with its workspace: `None` for any other item.
fn audit_event_of(image: &serde_json::Map<String, Value>) -> Option<(WorkspaceId, AuditEvent)> {
    let string = |name: &str| image.get(name)?.get("S")?.as_str();
    string("sk")?.strip_prefix("AUDIT#")?;
    let workspace_id = string("pk")?.strip_prefix("WS#")?.parse().ok()?;
    let event = serde_json::from_str(string("event")?).ok()?;
    Some((workspace_id, event))
}

pub async fn handle<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    event: Value,
) -> Result<Value, Error> {
    let batch: StreamEvent = serde_json::from_value(event)?;
    // Side by side: a batch's endpoints each get up to the attempt timeout, so one after the
    // other a slow endpoint would hold the whole batch (and could outlast the function).
    let results =
        futures_util::future::join_all(batch.records.iter().map(|r| dispatch(app, hooks, r))).await;
    for (record, result) in batch.records.iter().zip(results) {
        if let Err(err) = result {
            // The event source mapping retries from here; what came after is idempotent.
            tracing::warn!(error = %err, sequence_number = %record.dynamodb.sequence_number, "stream record not handled; retried from here");
            return Ok(
                json!({ "batchItemFailures": [{ "itemIdentifier": record.dynamodb.sequence_number }] }),
            );
        }
    }
    Ok(json!({ "batchItemFailures": [] }))
}

async fn dispatch<S: Store + WebhookStore>(
    app: &App<S>,
    hooks: &Webhooks,
    record: &StreamRecord,
) -> Result<(), StoreError> {
    if record.event_name != "INSERT" {
        return Ok(());
    }
    let Some((workspace_id, event)) = record.dynamodb.new_image.as_ref().and_then(audit_event_of)
    else {
        return Ok(());
    };
    let (Some(event_type), Target::ApiKey { id: key_id, .. }) =
        (WebhookEventType::of_audit(event.event_type), &event.target)
    else {
        return Ok(());
    };
    // The key as it is now: its view is what `GET /api-keys` shows, never the key or its hash.
    let Some(key) = app.store.get_api_key(workspace_id, *key_id).await? else {
        return Ok(());
    };
    let data = views::api_key(&key, app.limits.rate_limit_per_minute, Timestamp::now());
    let body = payload(event_type, event.occurred_at, data);
    let made = fan_out(
        &app.store,
        &hooks.sender,
        &hooks.settings,
        workspace_id,
        event_type,
        event.id,
        &body,
    )
    .await?;
    for delivery in &made {
        write_metric_line(&webhook_attempt_line(FUNCTION, delivery, SystemTime::now()));
    }
    if !made.is_empty() {
        tracing::info!(event_type = event_type.as_str(), %workspace_id, deliveries = made.len(), "webhook event fanned out");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::storage::memory::MemoryStore;
    use yebolink_shared::testing::{
        answering_receiver, app, created_event, seed_key, webhook_endpoint, webhooks,
    };

    /// A stream record as Lambda hands it over: an INSERT of `pk`/`sk` with `extra` attributes.
    fn record(sequence: &str, name: &str, pk: &str, sk: &str, extra: Value) -> Value {
        let mut image = json!({ "pk": { "S": pk }, "sk": { "S": sk } });
        image
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({
            "eventID": format!("id-{sequence}"),
            "eventName": name,
            "eventSource": "aws:dynamodb",
            "dynamodb": { "SequenceNumber": sequence, "NewImage": image, "StreamViewType": "NEW_IMAGE" },
        })
    }

    /// A batch holding the key's `api_key.created` event, between a change that is no audit
    /// event and a MODIFY.
    async fn batch(
        app: &App<MemoryStore>,
    ) -> (Value, yebolink_shared::domain::ids::WorkspaceId, String) {
        let workspace_id = yebolink_shared::domain::ids::WorkspaceId::new();
        let (secret, key) = seed_key(&app.store, workspace_id, Scopes::all()).await;
        let event = created_event(&key);
        let ws = format!("WS#{workspace_id}");
        let records = json!({ "Records": [
            record("100", "INSERT", &ws, &format!("KEY#{}", key.id), json!({})),
            record("101", "INSERT", &ws, &format!("AUDIT#{}", event.id), json!({
                "event_type": { "S": "api_key.created" },
                "event": { "S": serde_json::to_string(&event).unwrap() },
            })),
            record("102", "MODIFY", &ws, &format!("AUDIT#{}", event.id), json!({})),
        ]});
        (records, workspace_id, secret)
    }

    #[tokio::test]
    async fn a_key_event_is_delivered_once_with_the_keys_view_however_often_it_comes() {
        let (app, hooks) = (app(), webhooks());
        let (records, workspace_id, secret) = batch(&app).await;
        let (url, requests) = answering_receiver(Vec::new()).await;
        let endpoint = webhook_endpoint(workspace_id, &url);
        let made = yebolink_shared::testing::event(
            yebolink_shared::domain::audit::AuditEventType::WebhookCreated,
            Target::Webhook { id: endpoint.id },
        );
        app.store
            .create_webhook(&endpoint, 10, &made)
            .await
            .unwrap();

        for _ in 0..2 {
            let answer = handle(&app, &hooks, records.clone()).await.unwrap();
            assert_eq!(answer, json!({ "batchItemFailures": [] }));
        }
        assert_eq!(
            requests.load(Ordering::SeqCst),
            1,
            "a redelivered record sends nothing again"
        );
        let page = app
            .store
            .list_deliveries(endpoint.id, 10, None)
            .await
            .unwrap();
        assert_eq!(page.deliveries.len(), 1);
        let body: Value = serde_json::from_str(&page.deliveries[0].body).unwrap();
        assert_eq!(body["type"], "api_key.created");
        assert!(body["data"]["key_prefix"].is_string());
        assert!(
            !page.deliveries[0].body.contains(&secret)
                && !page.deliveries[0].body.contains("key_hash")
        );
    }

    #[tokio::test]
    async fn a_store_failure_reports_the_record_to_retry_from() {
        let (app, hooks) = (app(), webhooks());
        let (records, _, _) = batch(&app).await;
        app.store.set_unavailable(true);
        let answer = handle(&app, &hooks, records).await.unwrap();
        assert_eq!(
            answer,
            json!({ "batchItemFailures": [{ "itemIdentifier": "101" }] })
        );
    }

    #[tokio::test]
    async fn records_that_are_not_key_events_are_skipped_and_a_malformed_batch_is_an_error() {
        let (app, hooks) = (app(), webhooks());
        let skipped = json!({ "Records": [
            record("7", "INSERT", "WS#not-a-uuid", "AUDIT#x", json!({ "event": { "S": "{" } })),
            record("8", "REMOVE", "WS#x", "AUDIT#y", json!({})),
        ]});
        assert_eq!(
            handle(&app, &hooks, skipped).await.unwrap(),
            json!({ "batchItemFailures": [] })
        );
        assert!(handle(&app, &hooks, json!({ "Records": "nope" }))
            .await
            .is_err());
    }
}
