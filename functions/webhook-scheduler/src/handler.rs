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
