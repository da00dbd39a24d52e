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
    for record in batch.records {
        if let Err(err) = dispatch(app, hooks, &record).await {
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
