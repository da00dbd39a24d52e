//! Webhooks: endpoints under their workspace (`WS#<ws>` / `WEBHOOK#<id>`, counted in the
//! workspace item's `webhooks`), deliveries under their endpoint (`WEBHOOK#<id>` /
//! `DELIVERY#<id>`, TTL 30 days), and the sparse `due_index` (`due_shard`, `due_at`) that holds
//! what is due: pending deliveries (`WHDUE#0..3`) and key expiry reminders (`KEYDUE#0..3`,
//! written on the key item by `codec::key_item`).

use aws_sdk_dynamodb::types::Delete;

use super::*;
use crate::domain::ids::{DeliveryId, WebhookId};
use crate::domain::webhook::{
    Attempt, Delivery, DeliveryStatus, DisabledReason, WebhookEndpoint, WebhookEventType,
    WebhookSecret,
};
use crate::storage::webhooks::{DeliveryPage, KeyReminder, WebhookCreated, WebhookStore};

const DELIVERY_DUE: &str = "WHDUE";

/// `Some(output)`, or `None` when the write's condition failed and nothing was written.
fn unless_condition_failed<T, E, R>(
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(err)
            if err.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(err) => Err(unavailable(err)),
    }
}

fn webhook_pk(id: WebhookId) -> String {
    format!("WEBHOOK#{id}")
}

fn endpoint_item(endpoint: &WebhookEndpoint) -> Item {
    let events: Vec<&str> = endpoint.events.iter().map(|e| e.as_str()).collect();
    let mut item = HashMap::from([
        ("pk".to_owned(), s(workspace_pk(endpoint.workspace_id))),
        ("sk".to_owned(), s(format!("WEBHOOK#{}", endpoint.id))),
        ("url".to_owned(), s(&endpoint.url)),
        ("events".to_owned(), s(events.join(","))),
        ("secret".to_owned(), s(endpoint.secret.as_str())),
        ("created_at".to_owned(), n(endpoint.created_at.unix())),
        ("updated_at".to_owned(), n(endpoint.updated_at.unix())),
        ("version".to_owned(), n(endpoint.version)),
    ]);
    if let Some(description) = &endpoint.description {
        item.insert("description".to_owned(), s(description));
    }
    if let Some(reason) = endpoint.disabled {
        item.insert("disabled".to_owned(), s(reason.as_str()));
    }
    if let Some((previous, until)) = &endpoint.previous_secret {
        item.insert("previous_secret".to_owned(), s(previous.as_str()));
        item.insert("previous_secret_until".to_owned(), n(until.unix()));
    }
    if let Some(since) = endpoint.failing_since {
        item.insert("failing_since".to_owned(), n(since.unix()));
    }
    item
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("webhook attribute {what}"))
}

fn endpoint_from_item(item: &Item) -> Result<WebhookEndpoint, StoreError> {
    let workspace_id = read_s(item, "pk")?
        .strip_prefix("WS#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt("pk"))?;
    let id = read_s(item, "sk")?
        .strip_prefix("WEBHOOK#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt("sk"))?;
    let events = read_s(item, "events")?
        .split(',')
        .filter(|e| !e.is_empty())
        .map(|e| WebhookEventType::parse_subscribable(e).ok_or_else(|| corrupt("events")))
        .collect::<Result<_, _>>()?;
    let secret =
        |name| WebhookSecret::from_stored(read_s(item, name)?).ok_or_else(|| corrupt(name));
    let previous_secret = match read_opt_s(item, "previous_secret") {
        Some(_) => Some((
            secret("previous_secret")?,
            read_time(item, "previous_secret_until")?,
        )),
        None => None,
    };
    Ok(WebhookEndpoint {
        id,
        workspace_id,
        url: read_s(item, "url")?,
        events,
        description: read_opt_s(item, "description"),
        disabled: match read_opt_s(item, "disabled") {
            Some(raw) => Some(DisabledReason::parse(&raw).ok_or_else(|| corrupt("disabled"))?),
            None => None,
        },
        secret: secret("secret")?,
        previous_secret,
        failing_since: read_opt_time(item, "failing_since")?,
        created_at: read_time(item, "created_at")?,
        updated_at: read_time(item, "updated_at")?,
        version: read_u64(item, "version")?,
    })
}

/// The delivery as stored; `due` is when it is next due (a pending delivery only).
fn delivery_item(delivery: &Delivery, due: Option<Timestamp>) -> Result<Item, StoreError> {
    let attempts = serde_json::to_string(&delivery.attempts)
        .map_err(|_| StoreError::Corrupt("attempts do not serialize".into()))?;
    let mut item = HashMap::from([
        ("pk".to_owned(), s(webhook_pk(delivery.endpoint_id))),
        ("sk".to_owned(), s(format!("DELIVERY#{}", delivery.id))),
        (
            "workspace_id".to_owned(),
            s(delivery.workspace_id.to_string()),
        ),
        ("event_type".to_owned(), s(delivery.event_type.as_str())),
        ("body".to_owned(), s(&delivery.body)),
        ("status".to_owned(), s(delivery.status.as_str())),
        ("attempts".to_owned(), s(attempts)),
        ("attempt_count".to_owned(), n(delivery.attempts.len())),
        ("created_at".to_owned(), n(delivery.created_at.unix())),
        ("expires_at".to_owned(), n(delivery.retain_until().unix())),
    ]);
    if let Some(next) = delivery.next_attempt_at {
        item.insert("next_attempt_at".to_owned(), n(next.unix()));
    }
    if let (DeliveryStatus::Pending, Some(due)) = (delivery.status, due) {
        item.insert(
            "due_shard".to_owned(),
            s(due_shard(DELIVERY_DUE, delivery.id.as_uuid())),
        );
        item.insert("due_at".to_owned(), n(due.unix()));
    }
    Ok(item)
}

fn delivery_from_item(item: &Item) -> Result<Delivery, StoreError> {
    let endpoint_id = read_s(item, "pk")?
        .strip_prefix("WEBHOOK#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt("delivery pk"))?;
    let id = read_s(item, "sk")?
        .strip_prefix("DELIVERY#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt("delivery sk"))?;
    let attempts: Vec<Attempt> =
        serde_json::from_str(&read_s(item, "attempts")?).map_err(|_| corrupt("attempts"))?;
    Ok(Delivery {
        id,
        endpoint_id,
        workspace_id: read_parsed(item, "workspace_id")?,
        event_type: WebhookEventType::parse_any(&read_s(item, "event_type")?)
            .ok_or_else(|| corrupt("event_type"))?,
        body: read_s(item, "body")?,
        status: DeliveryStatus::parse(&read_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        attempts,
        next_attempt_at: read_opt_time(item, "next_attempt_at")?,
        created_at: read_time(item, "created_at")?,
    })
}

impl DynamoStore {
    fn workspace_webhook_count(
        &self,
        workspace_id: WorkspaceId,
        change: i64,
        max: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(workspace_id)))
            .key("sk", s("WORKSPACE"))
            .update_expression("ADD webhooks :change")
            .expression_attribute_values(":change", n(change));
        if let Some(max) = max {
            update = update
                .condition_expression("attribute_not_exists(webhooks) OR webhooks < :max")
                .expression_attribute_values(":max", n(max));
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(built)?)
            .build())
    }

    /// What `due_index` holds due at `now` under the shards of `kind`: each item's `pk`, `sk`
    /// and `due_at` (a KEYS_ONLY index projects its own keys too).
    async fn due(
        &self,
        kind: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
        let mut due = Vec::new();
        for shard in 0..DUE_SHARDS {
            if due.len() >= limit {
                break;
            }
            let output = self
                .connected()
                .await
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("due_shard = :shard AND due_at <= :now")
                .expression_attribute_values(":shard", s(format!("{kind}#{shard}")))
                .expression_attribute_values(":now", n(now.unix()))
                .limit(i32::try_from(limit - due.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.items() {
                due.push((
                    read_s(item, "pk")?,
                    read_s(item, "sk")?,
                    read_time(item, "due_at")?,
                ));
            }
        }
        Ok(due)
    }
}

impl WebhookStore for DynamoStore {
    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        max: u64,
        event: &AuditEvent,
    ) -> Result<WebhookCreated, StoreError> {
        let items = vec![
            self.workspace_webhook_count(endpoint.workspace_id, 1, Some(max))?,
            self.put(endpoint_item(endpoint), Some("attribute_not_exists(pk)"))?,
            self.put(audit_item(endpoint.workspace_id, event)?, None)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(WebhookCreated::Created),
            Transaction::ConditionFailed(codes) if Transaction::failed_at(&codes, 0) => {
                Ok(WebhookCreated::LimitReached)
            }
            Transaction::ConditionFailed(_) => Err(StoreError::Corrupt("webhook id taken".into())),
        }
    }

    async fn list_webhooks(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        // At most MAX_ENDPOINTS_PER_WORKSPACE items of about 500 bytes: one page.
        let output = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(workspace_pk(workspace_id)))
            .expression_attribute_values(":prefix", s("WEBHOOK#"))
            .scan_index_forward(false)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.items().iter().map(endpoint_from_item).collect()
    }

    async fn get_webhook(
        &self,
        workspace_id: WorkspaceId,
        id: WebhookId,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.get(workspace_pk(workspace_id), &format!("WEBHOOK#{id}"))
            .await?
            .as_ref()
            .map(endpoint_from_item)
            .transpose()
    }

    async fn save_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let stored = n(endpoint.version.saturating_sub(1));
        let Some(event) = event else {
            // Alone (a failing streak's start or end), a conditional put: half a transaction.
            let result = self
                .connected()
                .await
                .put_item()
                .table_name(&self.table)
                .set_item(Some(endpoint_item(endpoint)))
                .condition_expression("version = :stored")
                .expression_attribute_values(":stored", stored)
                .send()
                .await;
            return Ok(unless_condition_failed(result)?.is_some());
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(endpoint_item(endpoint)))
            .condition_expression("version = :stored")
            .expression_attribute_values(":stored", stored)
            .build()
            .map_err(built)?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            self.put(audit_item(endpoint.workspace_id, event)?, None)?,
        ];
        Ok(matches!(
            self.transact(items).await?,
            Transaction::Committed
        ))
    }

    async fn delete_webhook(
        &self,
        workspace_id: WorkspaceId,
        id: WebhookId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(workspace_id)))
            .key("sk", s(format!("WEBHOOK#{id}")))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(built)?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.workspace_webhook_count(workspace_id, -1, None)?,
            self.put(audit_item(workspace_id, event)?, None)?,
        ];
        Ok(matches!(
            self.transact(items).await?,
            Transaction::Committed
        ))
    }

    async fn create_delivery(
        &self,
        delivery: &Delivery,
        lease_until: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut item = delivery_item(delivery, Some(lease_until))?;
        item.insert("lease_until".to_owned(), n(lease_until.unix()));
        let result = self
            .connected()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    async fn get_delivery(
        &self,
        endpoint_id: WebhookId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get(webhook_pk(endpoint_id), &format!("DELIVERY#{id}"))
            .await?
            .as_ref()
            .map(delivery_from_item)
            .transpose()
    }

    async fn list_deliveries(
        &self,
        endpoint_id: WebhookId,
        limit: usize,
        after: Option<DeliveryId>,
    ) -> Result<DeliveryPage, StoreError> {
        let pk = webhook_pk(endpoint_id);
        let start = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), s(pk.clone())),
                ("sk".to_owned(), s(format!("DELIVERY#{id}"))),
            ])
        });
        let output = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s("DELIVERY#"))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let mut deliveries = output
            .items()
            .iter()
            .map(delivery_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let continue_after = if deliveries.len() > limit {
            deliveries.truncate(limit);
            deliveries.last().map(|d| d.id)
        } else {
            None
        };
        Ok(DeliveryPage {
            deliveries,
            continue_after,
        })
    }

    async fn claim_delivery(
        &self,
        endpoint_id: WebhookId,
        id: DeliveryId,
        now: Timestamp,
        lease_until: Timestamp,
        finished_too: bool,
    ) -> Result<Option<Delivery>, StoreError> {
        let mut condition =
            "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until <= :now)"
                .to_owned();
        if !finished_too {
            condition.push_str(" AND #status = :pending");
        }
        // Held, it is due again when the lease ends: a claimer that dies is replaced.
        let result = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(webhook_pk(endpoint_id)))
            .key("sk", s(format!("DELIVERY#{id}")))
            .update_expression(
                "SET lease_until = :lease, due_at = :lease, due_shard = :shard, #status = :pending",
            )
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":lease", n(lease_until.unix()))
            .expression_attribute_values(":now", n(now.unix()))
            .expression_attribute_values(":shard", s(due_shard(DELIVERY_DUE, id.as_uuid())))
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        unless_condition_failed(result)?
            .and_then(|output| output.attributes)
            .as_ref()
            .map(delivery_from_item)
            .transpose()
    }

    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempts_before: usize,
    ) -> Result<bool, StoreError> {
        let result = self
            .connected()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(delivery, delivery.next_attempt_at)?))
            .condition_expression("attempt_count = :before")
            .expression_attribute_values(":before", n(attempts_before))
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(WebhookId, DeliveryId)>, StoreError> {
        self.due(DELIVERY_DUE, now, limit)
            .await?
            .into_iter()
            .map(|(pk, sk, _)| {
                let endpoint = pk.strip_prefix("WEBHOOK#").and_then(|id| id.parse().ok());
                let delivery = sk.strip_prefix("DELIVERY#").and_then(|id| id.parse().ok());
                endpoint
                    .zip(delivery)
                    .ok_or_else(|| corrupt("due delivery key"))
            })
            .collect()
    }

    async fn due_key_reminders(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KeyReminder>, StoreError> {
        let mut reminders = Vec::new();
        for (pk, sk, due_at) in self.due(KEY_REMINDER_DUE, now, limit).await? {
            let workspace_id = pk.strip_prefix("WS#").and_then(|id| id.parse().ok());
            let key_id = sk.strip_prefix("KEY#").and_then(|id| id.parse().ok());
            let (Some(workspace_id), Some(key_id)) = (workspace_id, key_id) else {
                return Err(corrupt("due key reminder key"));
            };
            reminders.push(KeyReminder {
                workspace_id,
                key_id,
                due_at,
            });
        }
        Ok(reminders)
    }

    async fn advance_key_reminder(
        &self,
        reminder: &KeyReminder,
        next_due: Option<Timestamp>,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(reminder.workspace_id)))
            .key("sk", s(format!("KEY#{}", reminder.key_id)))
            .condition_expression("due_at = :due")
            .expression_attribute_values(":due", n(reminder.due_at.unix()));
        update = match next_due {
            Some(next) => update
                .update_expression("SET due_at = :next")
                .expression_attribute_values(":next", n(next.unix())),
            None => update.update_expression("REMOVE due_shard, due_at"),
        };
        let mut items = vec![TransactWriteItem::builder()
            .update(update.build().map_err(built)?)
            .build()];
        if let Some(event) = event {
            items.push(self.put(audit_item(reminder.workspace_id, event)?, None)?);
        }
        Ok(matches!(
            self.transact(items).await?,
            Transaction::Committed
        ))
    }
}
