//! Storage: the `Store` trait every handler depends on, the records it stores, and its two
//! implementations: `DynamoStore` (production and local) and `MemoryStore` (fast handler unit
//! tests). One conformance suite (`shared/tests/store_conformance.rs`) runs against both.

use std::future::Future;

use crate::account::{DisplayName, Email};
use crate::audit::{AuditEvent, AuditEventType};
use crate::ids::{AuditEventId, KeyId, MessageId, UserId, WorkspaceId};
use crate::keys::{KeyHash, KeyPrefix};
use crate::message::Channel;
use crate::scopes::Scopes;
use crate::timestamp::Timestamp;
use crate::usage::{Bucket, Granularity, MinuteUsage, Outcome};

pub mod dynamo;
pub mod memory;
pub mod table;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the call: fail closed, answer 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// An item did not have the shape this code writes.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

/// A new workspace with its owner.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub workspace_id: WorkspaceId,
    pub workspace_name: DisplayName,
    pub user_id: UserId,
    pub email: Email,
    pub password_hash: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCreated {
    Created,
    EmailTaken,
}

/// What login needs to check a password and issue a token.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub workspace_name: DisplayName,
    pub email: Email,
    pub password_hash: String,
}

/// An API key as its workspace sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: KeyId,
    pub workspace_id: WorkspaceId,
    pub name: DisplayName,
    pub key_prefix: KeyPrefix,
    pub key_hash: KeyHash,
    pub scopes: Scopes,
    /// False once deactivated (final). Whether the key works also depends on `expires_at`:
    /// see `status`.
    pub is_active: bool,
    pub last_used_at: Option<Timestamp>,
    /// The source address of the request that set `last_used_at` (written with it).
    pub last_used_ip: Option<String>,
    pub created_at: Timestamp,
    /// The key is refused from this moment on; `None` = never.
    pub expires_at: Option<Timestamp>,
    /// Set on the old key when it was rotated: the key that replaces it.
    pub replaced_by: Option<KeyId>,
    /// Set on a key made by rotation: the key it replaces.
    pub rotated_from: Option<KeyId>,
}

/// What a key is, as shown to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Expired,
    Deactivated,
}

/// Whether a key with this deactivation flag and expiry works at `now`.
pub fn key_status(is_active: bool, expires_at: Option<Timestamp>, now: Timestamp) -> KeyStatus {
    if !is_active {
        KeyStatus::Deactivated
    } else if expires_at.is_some_and(|expiry| now >= expiry) {
        KeyStatus::Expired
    } else {
        KeyStatus::Active
    }
}

impl ApiKeyRecord {
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        key_status(self.is_active, self.expires_at, now)
    }
}

/// What the authorizer reads for a presented key: one item, found by the key's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLookup {
    pub key_hash: KeyHash,
    pub key_id: KeyId,
    pub workspace_id: WorkspaceId,
    pub scopes: Scopes,
    pub is_active: bool,
    pub last_used_at: Option<Timestamp>,
    /// Carried on the lookup item so expiry (and a rotation's overlap) costs no extra read.
    pub expires_at: Option<Timestamp>,
}

impl KeyLookup {
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        key_status(self.is_active, self.expires_at, now)
    }
}

/// Whether `create_api_key` stored the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCreated {
    Created,
    /// The workspace already has `cap` active keys; nothing was written.
    LimitReached,
}

/// A fixed-window counter: what is counted, and for whom. Each is one item per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter<'a> {
    /// Requests made with one API key.
    KeyRequests(KeyId),
    /// Requests made with any key of one workspace.
    WorkspaceRequests(WorkspaceId),
    /// Login attempts for one email from one source address.
    LoginAttempts { email: &'a Email, source: &'a str },
    /// Login attempts for one email from every source together.
    LoginAttemptsAllSources(&'a Email),
    /// Login requests from one source address, whatever the email.
    LoginsFromSource(&'a str),
    /// Registrations from one source address.
    RegistrationsFromSource(&'a str),
}

impl Counter<'_> {
    /// The counter's name: the partition key of its items (the window is the sort key).
    pub fn name(&self) -> String {
        match self {
            Counter::KeyRequests(key) => format!("RATE#{key}"),
            Counter::WorkspaceRequests(ws) => format!("RATE#WS#{ws}"),
            // The source first: it never contains '#', so no email can forge another name.
            Counter::LoginAttempts { email, source } => {
                format!("LOGINSRC#{source}#{}", email.as_str())
            }
            Counter::LoginAttemptsAllSources(email) => format!("LOGIN#{}", email.as_str()),
            Counter::LoginsFromSource(source) => format!("SRC#{source}#LOGIN"),
            Counter::RegistrationsFromSource(source) => format!("SRC#{source}#REGISTER"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deactivation {
    Deactivated,
    AlreadyInactive,
    NotFound,
}

/// A rotation, as `rotate_api_key` is asked to write it.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The key being replaced, as the caller read it.
    pub old: ApiKeyRecord,
    /// When the old key stops working (the end of the overlap).
    pub old_expires_at: Timestamp,
    /// The replacement, `rotated_from` set.
    pub new: ApiKeyRecord,
    pub event: AuditEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotated {
    Rotated,
    /// The old key was deactivated, expired or replaced meanwhile; nothing was written.
    NotRotatable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Where the next page starts after, when there may be more: the last event read (which
    /// with a type filter may be one that did not match).
    pub continue_after: Option<AuditEventId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub key_id: KeyId,
    pub to: String,
    pub channel: Channel,
    pub text: String,
    pub subject: Option<String>,
    pub status: String,
    pub segments: u32,
    pub created_at: Timestamp,
}

/// The first response to a send with an `Idempotency-Key`, kept 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Created,
    /// An unexpired record with this idempotency key exists; nothing was written.
    Replayed(IdempotencyRecord),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    pub messages: Vec<MessageRecord>,
    pub has_more: bool,
}

/// Seconds after which `last_used_at` may be written again.
pub const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

pub trait Store: Send + Sync {
    /// Workspace, owner, email claim and the `user.registered` event in one transaction; the
    /// email is unique.
    fn create_account(
        &self,
        account: &NewAccount,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<AccountCreated, StoreError>> + Send;

    fn find_credentials(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<UserCredentials>, StoreError>> + Send;

    /// Key item, hash lookup item and `event` in one transaction, unless the workspace already
    /// holds `cap` keys that are neither deactivated nor replaced.
    fn create_api_key(
        &self,
        key: &ApiKeyRecord,
        cap: u64,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<KeyCreated, StoreError>> + Send;

    /// One key of the workspace by id (one strongly consistent read).
    fn get_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
    ) -> impl Future<Output = Result<Option<ApiKeyRecord>, StoreError>> + Send;

    /// The workspace's keys, newest first, deactivated ones included.
    fn list_api_keys(
        &self,
        workspace_id: WorkspaceId,
    ) -> impl Future<Output = Result<Vec<ApiKeyRecord>, StoreError>> + Send;

    /// Marks the key item and its lookup item inactive and writes the event that `event`
    /// makes of the key, in one transaction; then gives the key's slot back. Final.
    fn deactivate_api_key<F>(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
        event: F,
    ) -> impl Future<Output = Result<Deactivation, StoreError>> + Send
    where
        F: Fn(&ApiKeyRecord) -> AuditEvent + Send + Sync;

    /// In one transaction: the old key (if still active, unexpired and not replaced) gets its
    /// new expiry and `replaced_by`, on its key and lookup items; the new key's items and the
    /// event are written. The new key takes over the old key's slot.
    fn rotate_api_key(
        &self,
        rotation: &Rotation,
    ) -> impl Future<Output = Result<Rotated, StoreError>> + Send;

    /// An event that records no change (a login).
    fn record_audit_event(
        &self,
        workspace_id: WorkspaceId,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Newest first, after `after` when given, only `event_type` when given.
    fn list_audit_events(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<AuditEventId>,
        event_type: Option<AuditEventType>,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send;

    /// One strongly consistent read by hash.
    fn find_key_by_hash(
        &self,
        hash: &KeyHash,
    ) -> impl Future<Output = Result<Option<KeyLookup>, StoreError>> + Send;

    /// Sets `last_used_at` (and `last_used_ip` with it, when known) unless it was set less than
    /// a minute ago or the key is inactive.
    fn record_key_use(
        &self,
        key: &KeyLookup,
        now: Timestamp,
        source_ip: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts one messaging request in the key's minute counter (`RATE#<key>`/`W#<minute>`),
    /// with how it ended and the key's limit, in one atomic write; returns the minute so far,
    /// this request included. The item expires (TTL) at `expires_at`.
    fn count_key_request(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        expires_at: Timestamp,
        outcome: Outcome,
        limit: u64,
    ) -> impl Future<Output = Result<MinuteUsage, StoreError>> + Send;

    /// Moves one request that `count_key_request` counted as `counted_as` in the key's minute
    /// to `Outcome::WorkspaceLimited`: for the request the workspace refused while its key's
    /// counter was written beside the workspace's. Never takes a count below zero; sent once
    /// (a lost answer leaves the request as it was counted).
    fn move_to_workspace_limited(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        counted_as: Outcome,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The key's newest `newest` minute counters that start in `[from, to)`, oldest first.
    fn key_minutes(
        &self,
        key_id: KeyId,
        from: Timestamp,
        to: Timestamp,
        newest: usize,
    ) -> impl Future<Output = Result<Vec<MinuteUsage>, StoreError>> + Send;

    /// Writes `minutes` (all in the hour starting at `hour`) into that hour's bucket by
    /// absolute value, then the hour's new total into its day's bucket. Running it again with
    /// the same minutes changes nothing.
    fn roll_up_minutes(
        &self,
        key_id: KeyId,
        hour: Timestamp,
        minutes: &[MinuteUsage],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The key's stored buckets of `granularity` that start in `[from, to)`, oldest first.
    fn usage_buckets(
        &self,
        key_id: KeyId,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<Bucket>, StoreError>> + Send;

    /// Atomically counts one event in `counter`'s window and returns the count so far
    /// (this one included). The item expires (TTL) at `expires_at`.
    fn count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Takes back one event counted in `counter`'s window (a login that turned out right).
    fn uncount(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores the message, and the idempotency record with it when given. If an unexpired
    /// record with the same idempotency key exists, writes nothing and returns it.
    fn put_message(
        &self,
        message: &MessageRecord,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> impl Future<Output = Result<SendOutcome, StoreError>> + Send;

    /// Newest first, starting after `after` when given.
    fn list_messages(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<MessageId>,
    ) -> impl Future<Output = Result<MessagePage, StoreError>> + Send;

    fn get_message(
        &self,
        workspace_id: WorkspaceId,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<MessageRecord>, StoreError>> + Send;
}
