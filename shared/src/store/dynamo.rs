//! `DynamoStore`: the `Store` on one DynamoDB table (generic `pk`/`sk`). Item types:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | email claim + credentials | `EMAIL#<email>` | `EMAIL` |
//! | workspace | `WS#<workspace>` | `WORKSPACE` |
//! | user | `WS#<workspace>` | `USER#<user>` |
//! | API key (GSI `key_prefix_index`) | `WS#<workspace>` | `KEY#<key uuidv7>` |
//! | key lookup by hash | `KEYHASH#<sha256>` | `KEYHASH` |
//! | message | `WS#<workspace>` | `MSG#<message uuidv7>` |
//! | idempotency record (TTL) | `WS#<workspace>` | `IDEM#<Idempotency-Key>` |
//! | rate-limit counter (TTL) | `RATE#<key>` | `W#<window start>` |
//! | failed-login counter (TTL) | `LOGIN#<email>` | `W#<window start>` |
//!
//! Everything a workspace owns sits under its own `pk`, so no query can reach another tenant.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use super::*;
use crate::config::{AwsEnv, Config};

/// Timeouts and retries of every AWS client a function makes (DynamoDB, Secrets Manager).
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

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
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
            .retry_config(retries);
        if let Some(endpoint) = &config.dynamodb_endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self::new(
            Client::from_conf(builder.build()),
            config.table_name.clone(),
        )
    }

    /// Opens the connection (DNS, TCP, TLS) during the cold start instead of on the first
    /// request: one eventually consistent read of an item that never exists. Failure is only
    /// logged; the first request will report it properly.
    pub async fn warm_up(&self) {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("WARMUP"))
            .key("sk", s("WARMUP"))
            .send()
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(err), "DynamoDB warm-up failed");
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
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

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transaction, StoreError> {
        // A conflicting concurrent transaction on the same item is retried, briefly.
        for attempt in 0..3 {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Transaction::Committed),
                Err(err) => match cancellation_codes(&err) {
                    Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed") => {
                        return Ok(Transaction::ConditionFailed);
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

    async fn add_to_counter(
        &self,
        pk: String,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(format!("W#{}", window_start.unix())))
            .update_expression("ADD hits :one SET expires_at = :expires")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n(expires_at.unix()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        let attributes = output.attributes.unwrap_or_default();
        read_u64(&attributes, "hits")
    }
}

enum Transaction {
    Committed,
    /// An item's condition failed; nothing was written.
    ConditionFailed,
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
    item
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
        created_at: read_time(item, "created_at")?,
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
    async fn create_account(&self, account: &NewAccount) -> Result<AccountCreated, StoreError> {
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
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(AccountCreated::Created),
            // A retry of our own committed attempt also fails its conditions: the claim then
            // names our user, and the account exists as asked.
            Transaction::ConditionFailed => match self.find_credentials(&account.email).await? {
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

    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut lookup = HashMap::from([
            ("pk".to_owned(), s(key_hash_pk(&key.key_hash))),
            ("sk".to_owned(), s("KEYHASH")),
            ("key_hash".to_owned(), s(key.key_hash.as_str())),
            ("key_id".to_owned(), s(key.id.to_string())),
            ("workspace_id".to_owned(), s(key.workspace_id.to_string())),
            ("scopes".to_owned(), s(key.scopes.to_stored())),
            ("is_active".to_owned(), AttributeValue::Bool(key.is_active)),
        ]);
        if let Some(used) = key.last_used_at {
            lookup.insert("last_used_at".to_owned(), n(used.unix()));
        }
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![self.put(key_item(key), absent)?, self.put(lookup, absent)?];
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            // Fresh ids and a 160-bit secret never collide: a failed condition means a retry of
            // our own attempt that had already committed. Confirm it is ours.
            Transaction::ConditionFailed => match self.find_key_by_hash(&key.key_hash).await? {
                Some(stored) if stored.key_id == key.id => Ok(()),
                _ => Err(StoreError::Corrupt(
                    "key id or key hash already exists".into(),
                )),
            },
        }
    }

    async fn list_api_keys(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        // Every page: a workspace's keys are few, and the console lists them all at once.
        let items: Vec<Item> = self
            .client
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

    async fn deactivate_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
    ) -> Result<Deactivation, StoreError> {
        let Some(item) = self
            .get(workspace_pk(workspace_id), &format!("KEY#{key_id}"))
            .await?
        else {
            return Ok(Deactivation::NotFound);
        };
        let key = key_from_item(workspace_id, &item)?;
        if !key.is_active {
            return Ok(Deactivation::AlreadyInactive);
        }
        let deactivate = |pk: String, sk: String| -> Result<TransactWriteItem, StoreError> {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .update_expression("SET is_active = :false")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .build()
                .map_err(built)?;
            Ok(TransactWriteItem::builder().update(update).build())
        };
        let items = vec![
            deactivate(workspace_pk(workspace_id), format!("KEY#{key_id}"))?,
            deactivate(key_hash_pk(&key.key_hash), "KEYHASH".to_owned())?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(Deactivation::Deactivated),
            Transaction::ConditionFailed => Err(StoreError::Corrupt(
                "key item without its lookup item".into(),
            )),
        }
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
        }))
    }

    async fn record_key_use(&self, key: &KeyLookup, now: Timestamp) -> Result<(), StoreError> {
        let touch =
            |pk: String, sk: String, condition: &str| -> Result<TransactWriteItem, StoreError> {
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(pk))
                    .key("sk", s(sk))
                    .update_expression("SET last_used_at = :now")
                    .condition_expression(condition)
                    .expression_attribute_values(":now", n(now.unix()));
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

    async fn count_request(
        &self,
        key_id: KeyId,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        self.add_to_counter(format!("RATE#{key_id}"), window_start, expires_at)
            .await
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
                .client
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
            Transaction::ConditionFailed => {
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
            .client
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

    async fn count_login_failure(
        &self,
        email: &Email,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        self.add_to_counter(
            format!("LOGIN#{}", email.as_str()),
            window_start,
            expires_at,
        )
        .await
    }

    async fn login_failures(
        &self,
        email: &Email,
        window_start: Timestamp,
    ) -> Result<u64, StoreError> {
        match self
            .get(
                format!("LOGIN#{}", email.as_str()),
                &format!("W#{}", window_start.unix()),
            )
            .await?
        {
            Some(item) => read_u64(&item, "hits"),
            None => Ok(0),
        }
    }
}
