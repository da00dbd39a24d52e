//! `DynamoStore`: the `Store` on one DynamoDB table (generic `pk`/`sk`). Item types:
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
//! | counters (TTL): per key, per workspace, login attempts per email and source and per email, requests per source | `Counter::name()` (`RATE#<key>`, `RATE#WS#<ws>`, `LOGINSRC#<ip>#<email>`, `LOGIN#<email>`, `SRC#<ip>#LOGIN`, `SRC#<ip>#REGISTER`) | `W#<window start>` |
//!
//! Everything a workspace owns sits under its own `pk`, so no query can reach another tenant.
//! A key's own expiry is `key_expires_at`, never `expires_at`: that is the table's TTL
//! attribute, and an expired key is kept and listed, not deleted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, Region, SharedHttpClient, StalledStreamProtectionConfig,
};
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use super::*;
use crate::config::{AwsEnv, Config};
use crate::usage::{floor, part_of, UsageCounts, DAY_SECONDS, HOUR_SECONDS, MINUTE_SECONDS};

/// Timeouts and retries of every AWS client a function makes (DynamoDB, Secrets Manager).
/// Their clients also turn stalled-stream protection off: it times every response body's
/// throughput and fails a stalled one after a 5 s grace period, and the operation timeout
/// (`DYNAMODB_TIMEOUT_MS`, 2 s) already fails a stalled answer first.
pub fn sdk_timeouts(config: &Config) -> (TimeoutConfig, RetryConfig) {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.dynamodb_timeout.min(Duration::from_secs(1)))
        .operation_attempt_timeout(config.dynamodb_timeout / 2)
        .operation_timeout(config.dynamodb_timeout)
        .build();
    (timeouts, RetryConfig::standard().with_max_attempts(2))
}

/// The HTTP client of every AWS client a function makes: rustls with aws-lc (the SDK's default
/// stack), trusting only the Amazon Trust Services roots that AWS endpoints chain to. The SDK's
/// default loads every root of the operating system's store instead (on Debian 292 files read
/// and parsed while the client is built: the largest part of init, docs/performance.md).
pub fn sdk_http_client() -> SharedHttpClient {
    let roots = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    let context = TlsContext::builder().with_trust_store(roots).build();
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    match context {
        Ok(context) => builder.tls_context(context).build_https(),
        // Unreachable with this version (the builder cannot fail): the SDK's default roots.
        Err(_) => builder.build_https(),
    }
}

/// Amazon Root CA 1-4 and Starfield Services Root CA G2 (https://www.amazontrust.com/repository/),
/// as Mozilla's store (Debian's ca-certificates) has them.
const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-trust-services-roots.pem");

/// Static credentials: the SDK needs no provider chain or identity cache refresh for values
/// that never change during a Lambda environment's life.
pub fn sdk_credentials(aws: &AwsEnv) -> Credentials {
    Credentials::new(
        &aws.access_key_id,
        &aws.secret_access_key,
        aws.session_token.clone(),
        None,
        "environment",
    )
}

/// One read of the cold start's warm-up (`DynamoStore::start_warm_up`).
async fn warm_up_read(client: Client, table: String) {
    let result = client
        .get_item()
        .table_name(table)
        .key("pk", s("WARMUP"))
        .key("sk", s("WARMUP"))
        .send()
        .await;
    if let Err(err) = result {
        tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(err), "DynamoDB warm-up failed");
    }
}

type Item = HashMap<String, AttributeValue>;

/// Query pages one audit listing reads at most (each up to `limit + 1` items).
const AUDIT_PAGES_PER_CALL: usize = 5;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    warm_up: Arc<WarmUp>,
}

/// The cold start's warm-up reads, running beside the Lambda runtime's own start
/// (`DynamoStore::start_warm_up`). Every request waits for them before its first call, so
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

    /// The client a function builds at cold start: region and credentials from the
    /// environment (`AwsEnv`), the endpoint override for local mode, and timeouts so a hanging
    /// database fails fast (503) instead of holding the function until its own timeout.
    pub fn from_env(config: &Config, aws: &AwsEnv, http: SharedHttpClient) -> Self {
        let (timeouts, retries) = sdk_timeouts(config);
        let mut builder = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(aws.region.clone()))
            .credentials_provider(sdk_credentials(aws))
            .timeout_config(timeouts)
            .retry_config(retries)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if let Some(endpoint) = &config.dynamodb_endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self::new(
            Client::from_conf(builder.build()),
            config.table_name.clone(),
        )
    }

    /// Opens `connections` connections (DNS, TCP, TLS) during the cold start instead of on the
    /// first request: as many eventually consistent reads at once of an item that never exists,
    /// started here and run beside the Lambda runtime's start, which is the rest of the init.
    /// A request that makes several calls at once (the messaging gate's counters and read) then
    /// finds a connection for each instead of opening the others itself. Failure is only
    /// logged; the first request will report it properly. Needs a Tokio runtime.
    pub fn start_warm_up(&self, connections: usize) {
        let (client, table) = (self.client.clone(), self.table.clone());
        let reads = tokio::spawn(async move {
            let mut reads = tokio::task::JoinSet::new();
            for _ in 0..connections.max(1) {
                reads.spawn(warm_up_read(client.clone(), table.clone()));
            }
            while reads.join_next().await.is_some() {}
            crate::app::coldstart_mark("warm-up");
        });
        if let Ok(mut slot) = self.warm_up.reads.lock() {
            *slot = Some(reads);
        }
    }

    /// The client, once the warm-up reads (if they were started) have finished: every call
    /// goes through here (and `make bench`'s SDK floor, tests/sdk-floor, too).
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

    /// Claims one of the workspace's `cap` active-key slots (`active_keys` on the workspace
    /// item): `false` when all are taken. Not retried by the SDK (see `add_to_counter`).
    async fn claim_key_slot(
        &self,
        workspace_id: WorkspaceId,
        cap: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(workspace_id)))
            .key("sk", s("WORKSPACE"))
            .update_expression("ADD active_keys :one")
            .condition_expression("attribute_not_exists(active_keys) OR active_keys < :cap")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cap", n(cap))
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Gives back one active-key slot. Not retried by the SDK: a double release would let the
    /// workspace past its cap.
    async fn release_key_slot(&self, workspace_id: WorkspaceId) -> Result<(), StoreError> {
        self.connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(workspace_id)))
            .key("sk", s("WORKSPACE"))
            .update_expression("ADD active_keys :minus_one")
            .condition_expression("active_keys > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .customize()
            .config_override(no_retries())
            .send()
            .await
            .map(|_| ())
            .or_else(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Ok(())
                } else {
                    Err(unavailable(err))
                }
            })
    }

    /// `ADD hits :delta` on one window item of a counter, returning the new count.
    ///
    /// An `ADD` is not idempotent: if a request was applied but its answer lost (a timeout, a
    /// dropped connection, a 500), sending it again counts it twice. So the SDK's own retries are
    /// off for these writes, and the store retries by itself only answers that prove nothing
    /// was written (throttling), within the operation timeout the SDK would have used. Anything
    /// else fails closed (503): at worst one request is counted that was not served.
    async fn add_to_counter(
        &self,
        pk: String,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        let attributes = self
            .update_counter(
                pk,
                window_start,
                "ADD hits :one SET expires_at = :expires",
                vec![(":one", n(1)), (":expires", n(expires_at.unix()))],
                ReturnValue::UpdatedNew,
            )
            .await?;
        read_u64(&attributes, "hits")
    }

    /// One conditional `UpdateItem` that takes a count back from a counter's window item
    /// (`condition` keeps it above zero; `:zero` is bound here). Not retried: a lost answer
    /// leaves the count as it was, which costs the owner one place in a window at most. A
    /// failed condition (nothing to take back) is a success.
    async fn take_back(
        &self,
        pk: String,
        window_start: Timestamp,
        update: String,
        condition: String,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(format!("W#{}", window_start.unix())))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_values(":zero", n(0));
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request
            .customize()
            .config_override(no_retries())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// One `UpdateItem` with `ADD` on a counter's window item, sent at most once per answer
    /// that proves nothing (see `add_to_counter`); returns the attributes asked for.
    async fn update_counter(
        &self,
        pk: String,
        window_start: Timestamp,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
        returned: ReturnValue,
    ) -> Result<Item, StoreError> {
        let budget = self
            .client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_timeout())
            .unwrap_or(Duration::from_secs(2));
        let deadline = tokio::time::Instant::now() + budget;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .connected()
                .await
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(format!("W#{}", window_start.unix())))
                .update_expression(expression)
                .return_values(returned.clone());
            for (name, value) in &values {
                request = request.expression_attribute_values(*name, value.clone());
            }
            let request = request.customize().config_override(no_retries()).send();
            let result = tokio::time::timeout_at(deadline, request)
                .await
                .map_err(|_| StoreError::Unavailable("counter update timed out".into()))?;
            match result {
                Ok(output) => return Ok(output.attributes.unwrap_or_default()),
                Err(err) if attempt < 3 && not_applied(&err) => {
                    tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
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

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn read_s(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a string"
        ))),
    }
}

fn read_opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn read_i64(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not an integer"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a number"
        ))),
    }
}

fn read_u64(item: &Item, name: &str) -> Result<u64, StoreError> {
    u64::try_from(read_i64(item, name)?)
        .map_err(|_| StoreError::Corrupt(format!("{name} negative")))
}

fn read_time(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    read_i64(item, name).map(Timestamp::from_unix)
}

fn read_opt_time(item: &Item, name: &str) -> Result<Option<Timestamp>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => read_time(item, name).map(Some),
    }
}

fn read_bool(item: &Item, name: &str) -> Result<bool, StoreError> {
    match item.get(name) {
        Some(AttributeValue::Bool(value)) => Ok(*value),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a boolean"
        ))),
    }
}

fn read_parsed<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    read_s(item, name)?
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("attribute {name} does not parse")))
}

fn read_scopes(item: &Item) -> Result<Scopes, StoreError> {
    Scopes::from_stored(&read_s(item, "scopes")?)
        .map_err(|_| StoreError::Corrupt("attribute scopes does not parse".into()))
}

fn workspace_pk(id: WorkspaceId) -> String {
    format!("WS#{id}")
}

fn key_hash_pk(hash: &KeyHash) -> String {
    format!("KEYHASH#{}", hash.as_str())
}

fn usage_pk(key_id: KeyId) -> String {
    format!("USAGE#{key_id}")
}

/// The attribute of a key's minute counter that counts requests of `outcome`.
fn outcome_attribute(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Checked => "hits",
        Outcome::OutOfScope => "out_of_scope",
        Outcome::WorkspaceLimited => "ws_limited",
    }
}

fn minute_from_item(item: &Item) -> Result<MinuteUsage, StoreError> {
    let start = read_s(item, "sk")?
        .strip_prefix("W#")
        .and_then(|t| t.parse().ok())
        .map(Timestamp::from_unix)
        .ok_or_else(|| StoreError::Corrupt("minute counter sort key".into()))?;
    let optional = |name: &str| -> Result<u64, StoreError> {
        if item.contains_key(name) {
            read_u64(item, name)
        } else {
            Ok(0)
        }
    };
    Ok(MinuteUsage {
        start,
        hits: optional("hits")?,
        // A counter written before usage was counted has no limit: none of it shows as a 429.
        limit: if item.contains_key("lim") {
            read_u64(item, "lim")?
        } else {
            u64::MAX
        },
        out_of_scope: optional("out_of_scope")?,
        workspace_limited: optional("ws_limited")?,
    })
}

/// An hour bucket (`m00`..`m59`, per minute) or a day bucket (`h00`..`h23`, per hour).
fn bucket_from_item(item: &Item, part: char) -> Result<Bucket, StoreError> {
    let start = read_s(item, "sk")?
        .get(2..)
        .and_then(|t| t.parse().ok())
        .map(Timestamp::from_unix)
        .ok_or_else(|| StoreError::Corrupt("usage bucket sort key".into()))?;
    let mut parts = std::collections::BTreeMap::new();
    for (name, value) in item {
        let Some(index) = name
            .strip_prefix(part)
            .filter(|i| i.len() == 2)
            .and_then(|i| i.parse::<u32>().ok())
        else {
            continue;
        };
        let counts = match value {
            AttributeValue::S(raw) => UsageCounts::from_stored(raw),
            _ => None,
        }
        .ok_or_else(|| StoreError::Corrupt(format!("usage bucket entry {name}")))?;
        parts.insert(index, counts);
    }
    Ok(Bucket { start, parts })
}

fn key_lookup_item(key: &ApiKeyRecord) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(key_hash_pk(&key.key_hash))),
        ("sk".to_owned(), s("KEYHASH")),
        ("key_hash".to_owned(), s(key.key_hash.as_str())),
        ("key_id".to_owned(), s(key.id.to_string())),
        ("workspace_id".to_owned(), s(key.workspace_id.to_string())),
        ("scopes".to_owned(), s(key.scopes.to_stored())),
        ("is_active".to_owned(), AttributeValue::Bool(key.is_active)),
    ]);
    if let Some(used) = key.last_used_at {
        item.insert("last_used_at".to_owned(), n(used.unix()));
    }
    if let Some(expiry) = key.expires_at {
        item.insert("key_expires_at".to_owned(), n(expiry.unix()));
    }
    item
}

fn audit_item(workspace_id: WorkspaceId, event: &AuditEvent) -> Result<Item, StoreError> {
    let shown = serde_json::to_string(event)
        .map_err(|err| StoreError::Corrupt(format!("audit event does not serialize: {err}")))?;
    Ok(HashMap::from([
        ("pk".to_owned(), s(workspace_pk(workspace_id))),
        ("sk".to_owned(), s(format!("AUDIT#{}", event.id))),
        ("event_type".to_owned(), s(event.event_type.as_str())),
        ("event".to_owned(), s(shown)),
        ("expires_at".to_owned(), n(event.retain_until.unix())),
    ]))
}

fn audit_from_item(item: &Item) -> Result<AuditEvent, StoreError> {
    let mut event: AuditEvent = serde_json::from_str(&read_s(item, "event")?)
        .map_err(|_| StoreError::Corrupt("attribute event does not parse".into()))?;
    event.retain_until = read_time(item, "expires_at")?;
    Ok(event)
}

fn key_item(key: &ApiKeyRecord) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(workspace_pk(key.workspace_id))),
        ("sk".to_owned(), s(format!("KEY#{}", key.id))),
        ("key_id".to_owned(), s(key.id.to_string())),
        ("name".to_owned(), s(key.name.as_str())),
        ("key_prefix".to_owned(), s(key.key_prefix.as_str())),
        ("key_hash".to_owned(), s(key.key_hash.as_str())),
        ("scopes".to_owned(), s(key.scopes.to_stored())),
        ("is_active".to_owned(), AttributeValue::Bool(key.is_active)),
        ("created_at".to_owned(), n(key.created_at.unix())),
    ]);
    if let Some(used) = key.last_used_at {
        item.insert("last_used_at".to_owned(), n(used.unix()));
    }
    if let Some(expiry) = key.expires_at {
        item.insert("key_expires_at".to_owned(), n(expiry.unix()));
    }
    if let Some(id) = key.replaced_by {
        item.insert("replaced_by".to_owned(), s(id.to_string()));
    }
    if let Some(id) = key.rotated_from {
        item.insert("rotated_from".to_owned(), s(id.to_string()));
    }
    if let Some(ip) = &key.last_used_ip {
        item.insert("last_used_ip".to_owned(), s(ip));
    }
    item
}

fn read_opt_id<T: std::str::FromStr>(item: &Item, name: &str) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => read_parsed(item, name).map(Some),
    }
}

fn key_from_item(workspace_id: WorkspaceId, item: &Item) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: read_parsed(item, "key_id")?,
        workspace_id,
        name: DisplayName::from_stored(read_s(item, "name")?),
        key_prefix: KeyPrefix::from_stored(read_s(item, "key_prefix")?),
        key_hash: KeyHash::from_stored(read_s(item, "key_hash")?),
        scopes: read_scopes(item)?,
        is_active: read_bool(item, "is_active")?,
        last_used_at: read_opt_time(item, "last_used_at")?,
        last_used_ip: read_opt_s(item, "last_used_ip"),
        created_at: read_time(item, "created_at")?,
        expires_at: read_opt_time(item, "key_expires_at")?,
        replaced_by: read_opt_id(item, "replaced_by")?,
        rotated_from: read_opt_id(item, "rotated_from")?,
    })
}

fn message_item(message: &MessageRecord) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(workspace_pk(message.workspace_id))),
        ("sk".to_owned(), s(format!("MSG#{}", message.id))),
        ("message_id".to_owned(), s(message.id.to_string())),
        ("key_id".to_owned(), s(message.key_id.to_string())),
        ("to".to_owned(), s(&message.to)),
        ("channel".to_owned(), s(message.channel.as_str())),
        ("text".to_owned(), s(&message.text)),
        ("status".to_owned(), s(&message.status)),
        ("segments".to_owned(), n(message.segments)),
        ("created_at".to_owned(), n(message.created_at.unix())),
    ]);
    if let Some(subject) = &message.subject {
        item.insert("subject".to_owned(), s(subject));
    }
    item
}

fn message_from_item(workspace_id: WorkspaceId, item: &Item) -> Result<MessageRecord, StoreError> {
    let channel = read_s(item, "channel")?;
    Ok(MessageRecord {
        id: read_parsed(item, "message_id")?,
        workspace_id,
        key_id: read_parsed(item, "key_id")?,
        to: read_s(item, "to")?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?,
        text: read_s(item, "text")?,
        subject: read_opt_s(item, "subject"),
        status: read_s(item, "status")?,
        segments: u32::try_from(read_u64(item, "segments")?)
            .map_err(|_| StoreError::Corrupt("segments too large".into()))?,
        created_at: read_time(item, "created_at")?,
    })
}

fn idempotency_from_item(
    workspace_id: WorkspaceId,
    key: &str,
    item: &Item,
) -> Result<IdempotencyRecord, StoreError> {
    Ok(IdempotencyRecord {
        workspace_id,
        key: key.to_owned(),
        request_hash: read_s(item, "request_hash")?,
        status: u16::try_from(read_u64(item, "status")?)
            .map_err(|_| StoreError::Corrupt("status out of range".into()))?,
        body: read_s(item, "body")?,
        expires_at: read_time(item, "expires_at")?,
    })
}

impl Store for DynamoStore {
    async fn create_account(
        &self,
        account: &NewAccount,
        event: &AuditEvent,
    ) -> Result<AccountCreated, StoreError> {
        let ws = workspace_pk(account.workspace_id);
        let created = n(account.created_at.unix());
        let email_claim = HashMap::from([
            (
                "pk".to_owned(),
                s(format!("EMAIL#{}", account.email.as_str())),
            ),
            ("sk".to_owned(), s("EMAIL")),
            ("email".to_owned(), s(account.email.as_str())),
            ("user_id".to_owned(), s(account.user_id.to_string())),
            (
                "workspace_id".to_owned(),
                s(account.workspace_id.to_string()),
            ),
            (
                "workspace_name".to_owned(),
                s(account.workspace_name.as_str()),
            ),
            ("password_hash".to_owned(), s(&account.password_hash)),
            ("created_at".to_owned(), created.clone()),
        ]);
        let workspace = HashMap::from([
            ("pk".to_owned(), s(ws.clone())),
            ("sk".to_owned(), s("WORKSPACE")),
            ("name".to_owned(), s(account.workspace_name.as_str())),
            ("owner_id".to_owned(), s(account.user_id.to_string())),
            ("created_at".to_owned(), created.clone()),
        ]);
        let user = HashMap::from([
            ("pk".to_owned(), s(ws)),
            ("sk".to_owned(), s(format!("USER#{}", account.user_id))),
            ("email".to_owned(), s(account.email.as_str())),
            ("created_at".to_owned(), created),
        ]);
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![
            self.put(email_claim, absent)?,
            self.put(workspace, absent)?,
            self.put(user, absent)?,
            self.put(audit_item(account.workspace_id, event)?, absent)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(AccountCreated::Created),
            // A retry of our own committed attempt also fails its conditions: the claim then
            // names our user, and the account exists as asked.
            Transaction::ConditionFailed(_) => match self.find_credentials(&account.email).await? {
                Some(existing) if existing.user_id == account.user_id => {
                    Ok(AccountCreated::Created)
                }
                Some(_) => Ok(AccountCreated::EmailTaken),
                None => Err(StoreError::Corrupt(
                    "workspace or user id already exists".into(),
                )),
            },
        }
    }

    async fn find_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError> {
        let Some(item) = self
            .get(format!("EMAIL#{}", email.as_str()), "EMAIL")
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(UserCredentials {
            user_id: read_parsed(&item, "user_id")?,
            workspace_id: read_parsed(&item, "workspace_id")?,
            workspace_name: DisplayName::from_stored(read_s(&item, "workspace_name")?),
            email: email.clone(),
            password_hash: read_s(&item, "password_hash")?,
        }))
    }

    async fn create_api_key(
        &self,
        key: &ApiKeyRecord,
        cap: u64,
        event: &AuditEvent,
    ) -> Result<KeyCreated, StoreError> {
        // The slot is claimed first, with one conditional ADD: concurrent creations cannot pass
        // the cap together (as a count read before the write could), and they do not conflict
        // with each other (as they would inside transactions on one item).
        if !self.claim_key_slot(key.workspace_id, cap).await? {
            return Ok(KeyCreated::LimitReached);
        }
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![
            self.put(key_item(key), absent)?,
            self.put(key_lookup_item(key), absent)?,
            self.put(audit_item(key.workspace_id, event)?, absent)?,
        ];
        let outcome = match self.transact(items).await {
            Ok(Transaction::Committed) => Ok(KeyCreated::Created),
            // Fresh ids and a 160-bit secret never collide: a failed condition means a retry of
            // our own attempt that had already committed. Confirm it is ours.
            Ok(Transaction::ConditionFailed(_)) => {
                match self.find_key_by_hash(&key.key_hash).await {
                    Ok(Some(stored)) if stored.key_id == key.id => Ok(KeyCreated::Created),
                    Ok(_) => Err(StoreError::Corrupt(
                        "key id or key hash already exists".into(),
                    )),
                    Err(err) => Err(err),
                }
            }
            Err(err) => Err(err),
        };
        if outcome.is_err() {
            // The key may or may not exist (a timeout proves nothing): give the slot back only
            // when it surely does not, so the count never falls under the real number.
            if let Ok(None) = self.find_key_by_hash(&key.key_hash).await {
                let _ = self.release_key_slot(key.workspace_id).await;
            }
        }
        outcome
    }

    async fn list_api_keys(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        // Every page: a workspace's keys are few, and the console lists them all at once.
        let items: Vec<Item> = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(workspace_pk(workspace_id)))
            .expression_attribute_values(":prefix", s("KEY#"))
            .scan_index_forward(false)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(unavailable)?;
        items
            .iter()
            .map(|item| key_from_item(workspace_id, item))
            .collect()
    }

    async fn get_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get(workspace_pk(workspace_id), &format!("KEY#{key_id}"))
            .await?
            .map(|item| key_from_item(workspace_id, &item))
            .transpose()
    }

    async fn deactivate_api_key<F>(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
        event: F,
    ) -> Result<Deactivation, StoreError>
    where
        F: Fn(&ApiKeyRecord) -> AuditEvent + Send + Sync,
    {
        // Read, then write under a condition that pins what was read. A replaced key gave its
        // slot to its successor, so a rotation committing in between must not let this
        // deactivation give back a slot the key no longer holds: the condition fails, and the
        // key is read again.
        for _ in 0..3 {
            let Some(key) = self.get_api_key(workspace_id, key_id).await? else {
                return Ok(Deactivation::NotFound);
            };
            if !key.is_active {
                return Ok(Deactivation::AlreadyInactive);
            }
            let key_condition = if key.replaced_by.is_some() {
                "is_active = :true AND attribute_exists(replaced_by)"
            } else {
                "is_active = :true AND attribute_not_exists(replaced_by)"
            };
            let items = vec![
                self.set_inactive(
                    workspace_pk(workspace_id),
                    format!("KEY#{key_id}"),
                    key_condition,
                )?,
                self.set_inactive(
                    key_hash_pk(&key.key_hash),
                    "KEYHASH".to_owned(),
                    "attribute_exists(pk)",
                )?,
                self.put(
                    audit_item(workspace_id, &event(&key))?,
                    Some("attribute_not_exists(pk)"),
                )?,
            ];
            match self.transact(items).await? {
                Transaction::Committed => {
                    if key.replaced_by.is_none() {
                        self.release_key_slot(workspace_id).await?;
                    }
                    return Ok(Deactivation::Deactivated);
                }
                Transaction::ConditionFailed(codes) if Transaction::failed_at(&codes, 0) => {}
                Transaction::ConditionFailed(_) => {
                    return Err(StoreError::Corrupt(
                        "key item without its lookup item".into(),
                    ))
                }
            }
        }
        Err(StoreError::Unavailable(
            "key kept changing during deactivation".into(),
        ))
    }

    async fn rotate_api_key(&self, rotation: &Rotation) -> Result<Rotated, StoreError> {
        let (old, new) = (&rotation.old, &rotation.new);
        let (ws, now) = (old.workspace_id, rotation.event.occurred_at);
        let expiry = n(rotation.old_expires_at.unix());
        let old_key = Update::builder()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(ws)))
            .key("sk", s(format!("KEY#{}", old.id)))
            .update_expression("SET key_expires_at = :expiry, replaced_by = :new")
            .condition_expression(
                "is_active = :true AND attribute_not_exists(replaced_by) \
                 AND (attribute_not_exists(key_expires_at) OR key_expires_at > :now)",
            )
            .expression_attribute_values(":expiry", expiry.clone())
            .expression_attribute_values(":new", s(new.id.to_string()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", n(now.unix()))
            .build()
            .map_err(built)?;
        let old_lookup = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key_hash_pk(&old.key_hash)))
            .key("sk", s("KEYHASH"))
            .update_expression("SET key_expires_at = :expiry")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":expiry", expiry)
            .build()
            .map_err(built)?;
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![
            TransactWriteItem::builder().update(old_key).build(),
            TransactWriteItem::builder().update(old_lookup).build(),
            self.put(key_item(new), absent)?,
            self.put(key_lookup_item(new), absent)?,
            self.put(audit_item(ws, &rotation.event)?, absent)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(Rotated::Rotated),
            Transaction::ConditionFailed(codes) if Transaction::failed_at(&codes, 0) => {
                // Either someone else changed the key, or this is an SDK retry of our own
                // committed attempt: then the old key names our new key.
                match self.get_api_key(ws, old.id).await? {
                    Some(now) if now.replaced_by == Some(new.id) => Ok(Rotated::Rotated),
                    _ => Ok(Rotated::NotRotatable),
                }
            }
            Transaction::ConditionFailed(_) => Err(StoreError::Corrupt(
                "key item without its lookup item, or a fresh id taken".into(),
            )),
        }
    }

    async fn record_audit_event(
        &self,
        workspace_id: WorkspaceId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        // A retried put of the same event id writes the same item again: harmless.
        self.connected()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(workspace_id, event)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_audit_events(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<AuditEventId>,
        event_type: Option<AuditEventType>,
    ) -> Result<AuditPage, StoreError> {
        let pk = workspace_pk(workspace_id);
        let mut start = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), s(pk.clone())),
                ("sk".to_owned(), s(format!("AUDIT#{id}"))),
            ])
        });
        let mut events = Vec::new();
        // With a type filter DynamoDB applies `Limit` before the filter, so read on; but at
        // most a few pages per call, so one request's cost stays bounded. The cursor then
        // continues after the last event read.
        for _ in 0..AUDIT_PAGES_PER_CALL {
            let wanted = limit + 1 - events.len();
            let mut query = self
                .connected()
                .await
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s("AUDIT#"))
                .scan_index_forward(false)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if let Some(t) = event_type {
                query = query
                    .filter_expression("event_type = :type")
                    .expression_attribute_values(":type", s(t.as_str()));
            }
            let output = query.send().await.map_err(unavailable)?;
            for item in output.items() {
                events.push(audit_from_item(item)?);
            }
            start = output.last_evaluated_key;
            if events.len() > limit || start.is_none() {
                break;
            }
        }
        let continue_after = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| e.id)
        } else {
            match &start {
                Some(key) => Some(
                    read_s(key, "sk")?
                        .trim_start_matches("AUDIT#")
                        .parse()
                        .map_err(|_| StoreError::Corrupt("audit sort key".into()))?,
                ),
                None => None,
            }
        };
        Ok(AuditPage {
            events,
            continue_after,
        })
    }

    async fn find_key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyLookup>, StoreError> {
        let Some(item) = self.get(key_hash_pk(hash), "KEYHASH").await? else {
            return Ok(None);
        };
        Ok(Some(KeyLookup {
            key_hash: KeyHash::from_stored(read_s(&item, "key_hash")?),
            key_id: read_parsed(&item, "key_id")?,
            workspace_id: read_parsed(&item, "workspace_id")?,
            scopes: read_scopes(&item)?,
            is_active: read_bool(&item, "is_active")?,
            last_used_at: read_opt_time(&item, "last_used_at")?,
            expires_at: read_opt_time(&item, "key_expires_at")?,
        }))
    }

    async fn record_key_use(
        &self,
        key: &KeyLookup,
        now: Timestamp,
        source_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        let touch =
            |pk: String, sk: String, condition: &str| -> Result<TransactWriteItem, StoreError> {
                let on_key_item = sk.starts_with("KEY#");
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(pk))
                    .key("sk", s(sk))
                    .update_expression("SET last_used_at = :now")
                    .condition_expression(condition)
                    .expression_attribute_values(":now", n(now.unix()));
                // The address goes on the key item (what the owner lists), in the same write.
                if let (Some(ip), true) = (source_ip, on_key_item) {
                    update = update
                        .update_expression("SET last_used_at = :now, last_used_ip = :ip")
                        .expression_attribute_values(":ip", s(ip));
                }
                if condition.contains(":cutoff") {
                    update = update
                        .expression_attribute_values(
                            ":cutoff",
                            n(now.unix() - LAST_USED_RESOLUTION_SECONDS),
                        )
                        .expression_attribute_values(":true", AttributeValue::Bool(true));
                }
                Ok(TransactWriteItem::builder()
                    .update(update.build().map_err(built)?)
                    .build())
            };
        let items = vec![
            touch(
                key_hash_pk(&key.key_hash),
                "KEYHASH".to_owned(),
                "is_active = :true AND (attribute_not_exists(last_used_at) OR last_used_at <= :cutoff)",
            )?,
            touch(
                workspace_pk(key.workspace_id),
                format!("KEY#{}", key.key_id),
                "attribute_exists(pk)",
            )?,
        ];
        // A failed condition means another request already recorded this minute's use.
        self.transact(items).await.map(|_| ())
    }

    async fn count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        self.add_to_counter(counter.name(), window_start, expires_at)
            .await
    }

    async fn uncount(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> Result<(), StoreError> {
        // Never creates a window item (it would have no expiry).
        self.take_back(
            counter.name(),
            window_start,
            "ADD hits :minus_one".into(),
            "attribute_exists(pk) AND hits > :zero".into(),
            vec![(":minus_one", n(-1))],
        )
        .await
    }

    async fn count_key_request(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        expires_at: Timestamp,
        outcome: Outcome,
        limit: u64,
    ) -> Result<MinuteUsage, StoreError> {
        // The request's outcome rides on the counter write the rate limit already makes: the
        // same one `UpdateItem`, a few more bytes.
        let counted = outcome_attribute(outcome);
        let item = self
            .update_counter(
                Counter::KeyRequests(key_id).name(),
                minute,
                &format!("ADD {counted} :one SET expires_at = :expires, lim = :limit"),
                vec![
                    (":one", n(1)),
                    (":expires", n(expires_at.unix())),
                    (":limit", n(limit)),
                ],
                ReturnValue::AllNew,
            )
            .await?;
        minute_from_item(&item)
    }

    async fn move_to_workspace_limited(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        counted_as: Outcome,
    ) -> Result<(), StoreError> {
        let from = outcome_attribute(counted_as);
        self.take_back(
            Counter::KeyRequests(key_id).name(),
            minute,
            format!("ADD {from} :minus_one, ws_limited :one"),
            format!("{from} > :zero"),
            vec![(":minus_one", n(-1)), (":one", n(1))],
        )
        .await
    }

    async fn key_minutes(
        &self,
        key_id: KeyId,
        from: Timestamp,
        to: Timestamp,
        newest: usize,
    ) -> Result<Vec<MinuteUsage>, StoreError> {
        if from >= to || newest == 0 {
            return Ok(Vec::new());
        }
        // Strongly consistent: these are the minutes a read shows "at once". Newest first, so
        // `Limit` keeps the latest; each item is about 100 bytes.
        let output = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(Counter::KeyRequests(key_id).name()))
            .expression_attribute_values(":from", s(format!("W#{}", from.unix())))
            .expression_attribute_values(":to", s(format!("W#{}", to.unix() - 1)))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(newest).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        let mut minutes = output
            .items()
            .iter()
            .map(minute_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        minutes.reverse();
        Ok(minutes)
    }

    async fn roll_up_minutes(
        &self,
        key_id: KeyId,
        hour: Timestamp,
        minutes: &[MinuteUsage],
    ) -> Result<(), StoreError> {
        if minutes.is_empty() {
            return Ok(());
        }
        // Absolute values (`SET`), never `ADD`: a roll-up sent twice (an SDK retry, a request
        // retried, two instances racing) writes the same values, so nothing counts twice.
        let mut sets = vec!["expires_at = :expires".to_owned()];
        let mut update = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(usage_pk(key_id)))
            .key("sk", s(format!("H#{}", hour.unix())))
            .expression_attribute_values(
                ":expires",
                n(hour.unix() + crate::usage::HOUR_RETENTION_SECONDS),
            );
        for minute in minutes {
            let part = part_of(minute.start, MINUTE_SECONDS, HOUR_SECONDS);
            sets.push(format!("m{part:02} = :m{part:02}"));
            update = update.expression_attribute_values(
                format!(":m{part:02}"),
                s(minute.counts().to_stored()),
            );
        }
        let output = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(unavailable)?;
        let total = bucket_from_item(&output.attributes.unwrap_or_default(), 'm')?.total();
        let day = floor(hour, DAY_SECONDS);
        let part = part_of(hour, HOUR_SECONDS, DAY_SECONDS);
        self.connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(usage_pk(key_id)))
            .key("sk", s(format!("D#{}", day.unix())))
            .update_expression(format!("SET h{part:02} = :total, expires_at = :expires"))
            .expression_attribute_values(":total", s(total.to_stored()))
            .expression_attribute_values(
                ":expires",
                n(day.unix() + crate::usage::DAY_RETENTION_SECONDS),
            )
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn usage_buckets(
        &self,
        key_id: KeyId,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bucket>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let (prefix, part) = match granularity {
            Granularity::Hour => ("H#", 'm'),
            Granularity::Day => ("D#", 'h'),
        };
        // Eventually consistent (half the price): buckets change once a minute at most, and
        // the live minutes laid over them are read consistently.
        let items: Vec<Item> = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(usage_pk(key_id)))
            .expression_attribute_values(":from", s(format!("{prefix}{}", from.unix())))
            .expression_attribute_values(":to", s(format!("{prefix}{}", to.unix() - 1)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(unavailable)?;
        items
            .iter()
            .map(|item| bucket_from_item(item, part))
            .collect()
    }

    async fn put_message(
        &self,
        message: &MessageRecord,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError> {
        let absent = Some("attribute_not_exists(pk)");
        let Some(record) = idempotency else {
            // One item: a plain conditional put costs half a transactional one. The condition
            // fails only when an SDK retry follows our own committed attempt (message ids are
            // fresh UUIDv7s): the message is stored, once.
            let result = self
                .connected()
                .await
                .put_item()
                .table_name(&self.table)
                .set_item(Some(message_item(message)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            return match result {
                Ok(_) => Ok(SendOutcome::Created),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Ok(SendOutcome::Created)
                }
                Err(err) => Err(unavailable(err)),
            };
        };
        let idem_sk = format!("IDEM#{}", record.key);
        let idem_item = HashMap::from([
            ("pk".to_owned(), s(workspace_pk(record.workspace_id))),
            ("sk".to_owned(), s(idem_sk.clone())),
            ("request_hash".to_owned(), s(&record.request_hash)),
            ("status".to_owned(), n(record.status)),
            ("body".to_owned(), s(&record.body)),
            ("expires_at".to_owned(), n(record.expires_at.unix())),
        ]);
        let put_idem = Put::builder()
            .table_name(&self.table)
            .set_item(Some(idem_item))
            // TTL deletion is lazy: an expired record may still be there, and may be replaced.
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now.unix()))
            .build()
            .map_err(built)?;
        let items = vec![
            TransactWriteItem::builder().put(put_idem).build(),
            self.put(message_item(message), absent)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(SendOutcome::Created),
            Transaction::ConditionFailed(_) => {
                let item = self
                    .get(workspace_pk(record.workspace_id), &idem_sk)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Unavailable("idempotency record expired meanwhile".into())
                    })?;
                Ok(SendOutcome::Replayed(idempotency_from_item(
                    record.workspace_id,
                    &record.key,
                    &item,
                )?))
            }
        }
    }

    async fn list_messages(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<MessageId>,
    ) -> Result<MessagePage, StoreError> {
        let pk = workspace_pk(workspace_id);
        let start = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), s(pk.clone())),
                ("sk".to_owned(), s(format!("MSG#{id}"))),
            ])
        });
        // One more than asked for tells whether another page exists.
        let fetch = i32::try_from(limit + 1).unwrap_or(i32::MAX);
        let output = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":prefix", s("MSG#"))
            .scan_index_forward(false)
            .limit(fetch)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let mut messages = output
            .items()
            .iter()
            .map(|item| message_from_item(workspace_id, item))
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = messages.len() > limit;
        messages.truncate(limit);
        Ok(MessagePage { messages, has_more })
    }

    async fn get_message(
        &self,
        workspace_id: WorkspaceId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.get(workspace_pk(workspace_id), &format!("MSG#{id}"))
            .await?
            .map(|item| message_from_item(workspace_id, &item))
            .transpose()
    }
}
