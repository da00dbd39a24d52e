//! `MemoryStore`: the `Store` contract in process memory, for fast handler unit tests, one file
//! per part like `DynamoStore`. It must pass the same conformance suite as `DynamoStore`;
//! nothing in production uses it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::domain::account::{Email, NewAccount, UserCredentials};
use crate::domain::api_key::{ApiKeyRecord, KeyLookup, KeyStatus, LAST_USED_RESOLUTION_SECONDS};
use crate::domain::audit::{AuditEvent, AuditEventType};
use crate::domain::ids::{AuditEventId, KeyId, MessageId, WorkspaceId};
use crate::domain::keys::KeyHash;
use crate::domain::message::{IdempotencyRecord, MessageRecord};
use crate::domain::policy::KeyPolicy;
use crate::domain::timestamp::Timestamp;
use crate::domain::usage::{
    floor, part_of, Bucket, Granularity, MinuteUsage, Outcome, DAY_SECONDS, HOUR_SECONDS,
    MINUTE_SECONDS,
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

mod accounts;
mod audit;
mod counters;
mod keys;
mod messages;
mod usage;
mod webhooks;

#[derive(Default)]
struct State {
    accounts: HashMap<String, UserCredentials>,
    keys: BTreeMap<(WorkspaceId, KeyId), ApiKeyRecord>,
    lookups: HashMap<String, KeyLookup>,
    counters: HashMap<String, u64>,
    active_keys: HashMap<WorkspaceId, u64>,
    messages: BTreeMap<(WorkspaceId, MessageId), MessageRecord>,
    idempotency: HashMap<(WorkspaceId, String), IdempotencyRecord>,
    events: BTreeMap<(WorkspaceId, AuditEventId), AuditEvent>,
    /// Key minute counters by (key, minute start).
    minutes: BTreeMap<(KeyId, i64), MinuteUsage>,
    /// Usage buckets by (key, granularity is hour, bucket start).
    buckets: BTreeMap<(KeyId, bool, i64), Bucket>,
    webhooks: BTreeMap<
        (WorkspaceId, crate::domain::ids::WebhookId),
        crate::domain::webhook::WebhookEndpoint,
    >,
    webhook_counts: HashMap<WorkspaceId, u64>,
    deliveries: BTreeMap<
        (
            crate::domain::ids::WebhookId,
            crate::domain::ids::DeliveryId,
        ),
        webhooks::StoredDelivery,
    >,
    /// Expiry reminders the scheduler has moved on (`None`: none left).
    reminders: HashMap<(WorkspaceId, KeyId), Option<Timestamp>>,
}

impl State {
    fn record(&mut self, workspace_id: WorkspaceId, event: &AuditEvent) {
        self.events.insert((workspace_id, event.id), event.clone());
    }
}

fn lookup_of(key: &ApiKeyRecord) -> KeyLookup {
    KeyLookup {
        key_hash: key.key_hash.clone(),
        key_id: key.id,
        workspace_id: key.workspace_id,
        scopes: key.scopes.clone(),
        is_active: key.is_active,
        last_used_at: key.last_used_at,
        expires_at: key.expires_at,
        policy: KeyPolicy {
            metadata: None,
            ..key.policy.clone()
        },
        quota_id: key.quota_id,
    }
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// When set, every call fails as if the database were unreachable.
    unavailable: std::sync::atomic::AtomicBool,
    /// When set, message reads fail as if the database were unreachable; the rest answers.
    message_reads_unavailable: std::sync::atomic::AtomicBool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates the database going down (or coming back).
    pub fn set_unavailable(&self, down: bool) {
        self.unavailable
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Simulates message reads failing (`get_message`, `list_messages`) while the rate-limit
    /// counters still answer: a read that fails after its request was admitted.
    pub fn set_message_reads_unavailable(&self, down: bool) {
        self.message_reads_unavailable
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn message_state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        if self
            .message_reads_unavailable
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Unavailable("message reads switched off".into()));
        }
        self.state()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        if self.unavailable.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("memory store switched off".into()));
        }
        // A panic while holding the lock cannot leave State half-written in a way that
        // matters to tests, so recover the guard.
        Ok(self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn window_name(counter: Counter<'_>, window_start: Timestamp) -> String {
        format!("{}#W#{}", counter.name(), window_start.unix())
    }
}
