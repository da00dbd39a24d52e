//! `DynamoStore`: the `Store` on one DynamoDB table (generic `pk`/`sk`), one file per part
//! (`accounts`, `keys`, `audit`, `counters`, `usage`, `messages`), the item codecs in `codec`,
//! and here the client, the warm-up gate and the calls every part makes. Item types:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | email claim + credentials | `EMAIL#<email>` | `EMAIL` |
//! | user | `WS#<workspace>` | `USER#<user>` |
//! | API key (GSI `key_prefix_index`) | `WS#<workspace>` | `KEY#<key uuidv7>` |
//! | audit event (TTL) | `WS#<workspace>` | `AUDIT#<event uuidv7>` |
//! | key lookup by hash | `KEYHASH#<sha256>` | `KEYHASH` |
//! | message | `WS#<workspace>` | `MSG#<message uuidv7>` |
//! | idempotency record (TTL) | `WS#<workspace>` | `IDEM#<Idempotency-Key>` |
//! | workspace (also counts its active keys: `active_keys`) | `WS#<workspace>` | `WORKSPACE` |
//! | webhook endpoint (its count: the workspace item's `webhooks`) | `WS#<workspace>` | `WEBHOOK#<endpoint uuidv7>` |
//! | webhook delivery (TTL 30 days; GSI `due_index` while pending) | `WEBHOOK#<endpoint>` | `DELIVERY#<delivery uuidv7>` |
//! | counters (TTL): per key, per workspace, login attempts per email and source and per email, requests per source | `Counter::name()` (`RATE#<key>`, `RATE#WS#<ws>`, `LOGINSRC#<ip>#<email>`, `LOGIN#<email>`, `SRC#<ip>#LOGIN`, `SRC#<ip>#REGISTER`) | `W#<window start>` |
//!
//! Everything a workspace owns sits under its own `pk`, so no query can reach another tenant.
//! A key's own expiry is `key_expires_at`, never `expires_at`: that is the table's TTL
//! attribute, and an expired key is kept and listed, not deleted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use crate::domain::account::{DisplayName, Email, NewAccount, UserCredentials};
use crate::domain::api_key::{ApiKeyRecord, KeyLookup, LAST_USED_RESOLUTION_SECONDS};
use crate::domain::audit::{AuditEvent, AuditEventType};
use crate::domain::ids::{AuditEventId, KeyId, MessageId, WorkspaceId};
use crate::domain::keys::KeyHash;
use crate::domain::message::{IdempotencyRecord, MessageRecord};
use crate::domain::timestamp::Timestamp;
use crate::domain::usage::{
    floor, part_of, Bucket, Granularity, MinuteUsage, Outcome, DAY_RETENTION_SECONDS, DAY_SECONDS,
    HOUR_RETENTION_SECONDS, HOUR_SECONDS, MINUTE_SECONDS,
};
use crate::storage::accounts::{AccountCreated, AccountStore};
use crate::storage::audit::{AuditPage, AuditStore};
use crate::storage::counters::{Counter, CounterStore};
use crate::storage::error::StoreError;
use crate::storage::keys::{
    Deactivation, KeyCreated, KeyStore, KeyUpdate, Rotated, Rotation, Updated,
};
use crate::storage::messages::{MessagePage, MessageStore, SendOutcome};
use crate::storage::usage::UsageStore;
use codec::*;

mod accounts;
mod audit;
mod codec;
mod counters;
mod keys;
mod messages;
mod usage;
mod webhooks;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    warm_up: Arc<WarmUp>,
}

/// The cold start's warm-up reads, running beside the Lambda runtime's own start
/// (`bootstrap::sdk::start_warm_up`). Every request waits for them before its first call, so
/// its calls go out on the connections they opened instead of opening (in AWS: a TLS
/// handshake each) their own; once they have finished, the wait is one atomic load.
#[derive(Default)]
struct WarmUp {
    finished: tokio::sync::OnceCell<()>,
    reads: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl WarmUp {
    async fn wait(&self) {
        self.finished
            .get_or_init(|| async {
                let reads = self.reads.lock().ok().and_then(|mut reads| reads.take());
                if let Some(reads) = reads {
                    // Each read logs its own failure; a failed one only means a cold connection.
                    let _ = reads.await;
                }
            })
            .await;
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            warm_up: Arc::default(),
        }
    }

    /// The client, once the warm-up reads (if they were started) have finished: every call
    /// goes through here (and `make bench`'s SDK floor, tests/sdk-floor, too).
    /// Holds every call until `reads` (the cold start's warm-up reads, `bootstrap::sdk`) have
    /// finished, so that calls go out on the connections they opened.
    pub fn hold_calls_until(&self, reads: tokio::task::JoinHandle<()>) {
        if let Ok(mut slot) = self.warm_up.reads.lock() {
            *slot = Some(reads);
        }
    }

    pub async fn connected(&self) -> &Client {
        self.warm_up.wait().await;
        &self.client
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .connected()
            .await
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(built)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// `SET is_active = false` on one item, under `condition` (which may use `:true`).
    fn set_inactive(
        &self,
        pk: String,
        sk: String,
        condition: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET is_active = :false")
            .condition_expression(condition)
            .expression_attribute_values(":false", AttributeValue::Bool(false));
        if condition.contains(":true") {
            update = update.expression_attribute_values(":true", AttributeValue::Bool(true));
        }
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(built)?)
            .build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transaction, StoreError> {
        // A conflicting concurrent transaction on the same item is retried, briefly.
        for attempt in 0..3 {
            let result = self
                .connected()
                .await
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Transaction::Committed),
                Err(err) => match cancellation_codes(&err) {
                    Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed") => {
                        return Ok(Transaction::ConditionFailed(codes));
                    }
                    Some(codes)
                        if attempt < 2 && codes.iter().any(|c| c == "TransactionConflict") =>
                    {
                        tokio::time::sleep(Duration::from_millis(20 * (attempt + 1))).await;
                    }
                    _ => return Err(unavailable(err)),
                },
            }
        }
        Err(StoreError::Unavailable(
            "transaction kept conflicting".into(),
        ))
    }
}

/// Per-operation override for writes that must not be sent twice.
fn no_retries() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// An answer that proves DynamoDB did not apply the request: throttling, refused before any
/// work. Timeouts, connection errors and 5xx prove nothing either way.
fn not_applied<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
) -> bool {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    err.as_service_error().is_some_and(|e| {
        e.is_provisioned_throughput_exceeded_exception()
            || e.is_request_limit_exceeded()
            || e.code() == Some("ThrottlingException")
    })
}

enum Transaction {
    Committed,
    /// An item's condition failed; nothing was written. The cancellation code of each item,
    /// in the order they were sent.
    ConditionFailed(Vec<String>),
}

impl Transaction {
    /// Whether item `index` of the transaction failed its condition.
    fn failed_at(codes: &[String], index: usize) -> bool {
        codes
            .get(index)
            .is_some_and(|c| c == "ConditionalCheckFailed")
    }
}

fn cancellation_codes<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

fn unavailable<E: std::error::Error + 'static>(err: E) -> StoreError {
    // Log the whole chain (DisplayErrorContext); the client only ever sees "unavailable".
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
}

fn built(err: BuildError) -> StoreError {
    StoreError::Corrupt(err.to_string())
}
