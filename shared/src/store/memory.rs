//! `MemoryStore`: the `Store` contract in process memory, for fast handler unit tests. It must
//! pass the same conformance suite as `DynamoStore`; nothing in production uses it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::*;
use crate::usage::{floor, part_of, DAY_SECONDS, HOUR_SECONDS, MINUTE_SECONDS};

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

impl Store for MemoryStore {
    async fn create_account(
        &self,
        account: &NewAccount,
        event: &AuditEvent,
    ) -> Result<AccountCreated, StoreError> {
        let mut state = self.state()?;
        let email = account.email.as_str().to_owned();
        if state.accounts.contains_key(&email) {
            return Ok(AccountCreated::EmailTaken);
        }
        state.record(account.workspace_id, event);
        state.accounts.insert(
            email,
            UserCredentials {
                user_id: account.user_id,
                workspace_id: account.workspace_id,
                workspace_name: account.workspace_name.clone(),
                email: account.email.clone(),
                password_hash: account.password_hash.clone(),
            },
        );
        Ok(AccountCreated::Created)
    }

    async fn find_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError> {
        Ok(self.state()?.accounts.get(email.as_str()).cloned())
    }

    async fn create_api_key(
        &self,
        key: &ApiKeyRecord,
        cap: u64,
        event: &AuditEvent,
    ) -> Result<KeyCreated, StoreError> {
        let mut state = self.state()?;
        let active = state.active_keys.entry(key.workspace_id).or_insert(0);
        if *active >= cap {
            return Ok(KeyCreated::LimitReached);
        }
        *active += 1;
        state
            .lookups
            .insert(key.key_hash.as_str().to_owned(), lookup_of(key));
        state.keys.insert((key.workspace_id, key.id), key.clone());
        state.record(key.workspace_id, event);
        Ok(KeyCreated::Created)
    }

    async fn get_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.state()?.keys.get(&(workspace_id, key_id)).cloned())
    }

    async fn list_api_keys(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let state = self.state()?;
        Ok(state
            .keys
            .range(
                (workspace_id, KeyId::from(uuid::Uuid::nil()))
                    ..=(workspace_id, KeyId::from(uuid::Uuid::max())),
            )
            .rev()
            .map(|(_, key)| key.clone())
            .collect())
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
        let mut state = self.state()?;
        let Some(key) = state.keys.get_mut(&(workspace_id, key_id)) else {
            return Ok(Deactivation::NotFound);
        };
        if !key.is_active {
            return Ok(Deactivation::AlreadyInactive);
        }
        key.is_active = false;
        let (hash, held_slot) = (key.key_hash.as_str().to_owned(), key.replaced_by.is_none());
        let event = event(key);
        if let Some(lookup) = state.lookups.get_mut(&hash) {
            lookup.is_active = false;
        }
        if held_slot {
            if let Some(active) = state.active_keys.get_mut(&workspace_id) {
                *active = active.saturating_sub(1);
            }
        }
        state.record(workspace_id, &event);
        Ok(Deactivation::Deactivated)
    }

    async fn rotate_api_key(&self, rotation: &Rotation) -> Result<Rotated, StoreError> {
        let mut state = self.state()?;
        let (ws, now) = (rotation.old.workspace_id, rotation.event.occurred_at);
        let Some(old) = state.keys.get_mut(&(ws, rotation.old.id)) else {
            return Ok(Rotated::NotRotatable);
        };
        if old.status(now) != KeyStatus::Active || old.replaced_by.is_some() {
            return Ok(Rotated::NotRotatable);
        }
        old.expires_at = Some(rotation.old_expires_at);
        old.replaced_by = Some(rotation.new.id);
        let hash = old.key_hash.as_str().to_owned();
        if let Some(lookup) = state.lookups.get_mut(&hash) {
            lookup.expires_at = Some(rotation.old_expires_at);
        }
        let new = &rotation.new;
        state
            .lookups
            .insert(new.key_hash.as_str().to_owned(), lookup_of(new));
        state.keys.insert((ws, new.id), new.clone());
        state.record(ws, &rotation.event);
        Ok(Rotated::Rotated)
    }

    async fn record_audit_event(
        &self,
        workspace_id: WorkspaceId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.state()?.record(workspace_id, event);
        Ok(())
    }

    async fn list_audit_events(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<AuditEventId>,
        event_type: Option<AuditEventType>,
    ) -> Result<AuditPage, StoreError> {
        let state = self.state()?;
        let upper = after.unwrap_or_else(|| AuditEventId::from(uuid::Uuid::max()));
        let mut newest_first = state
            .events
            .range((workspace_id, AuditEventId::from(uuid::Uuid::nil()))..(workspace_id, upper))
            .rev()
            .map(|(_, e)| e)
            .filter(|e| event_type.is_none_or(|t| e.event_type == t));
        let events: Vec<AuditEvent> = newest_first.by_ref().take(limit).cloned().collect();
        let continue_after = match events.last() {
            Some(last) if newest_first.next().is_some() => Some(last.id),
            _ => None,
        };
        Ok(AuditPage {
            events,
            continue_after,
        })
    }

    async fn find_key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyLookup>, StoreError> {
        Ok(self.state()?.lookups.get(hash.as_str()).cloned())
    }

    async fn record_key_use(
        &self,
        key: &KeyLookup,
        now: Timestamp,
        source_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let cutoff = now.unix() - LAST_USED_RESOLUTION_SECONDS;
        let Some(lookup) = state.lookups.get_mut(key.key_hash.as_str()) else {
            return Ok(());
        };
        let stale = lookup.last_used_at.is_none_or(|t| t.unix() <= cutoff);
        if !lookup.is_active || !stale {
            return Ok(());
        }
        lookup.last_used_at = Some(now);
        if let Some(record) = state.keys.get_mut(&(key.workspace_id, key.key_id)) {
            record.last_used_at = Some(now);
            if let Some(ip) = source_ip {
                record.last_used_ip = Some(ip.to_owned());
            }
        }
        Ok(())
    }

    async fn count_key_request(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        _expires_at: Timestamp,
        outcome: Outcome,
        limit: u64,
    ) -> Result<MinuteUsage, StoreError> {
        let mut state = self.state()?;
        let usage = state
            .minutes
            .entry((key_id, minute.unix()))
            .or_insert(MinuteUsage {
                start: minute,
                hits: 0,
                limit,
                out_of_scope: 0,
                workspace_limited: 0,
            });
        usage.limit = limit;
        match outcome {
            Outcome::Checked => usage.hits += 1,
            Outcome::OutOfScope => usage.out_of_scope += 1,
            Outcome::WorkspaceLimited => usage.workspace_limited += 1,
        }
        Ok(*usage)
    }

    async fn move_to_workspace_limited(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        counted_as: Outcome,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(usage) = state.minutes.get_mut(&(key_id, minute.unix())) {
            usage.move_to_workspace_limited(counted_as);
        }
        Ok(())
    }

    async fn key_minutes(
        &self,
        key_id: KeyId,
        from: Timestamp,
        to: Timestamp,
        newest: usize,
    ) -> Result<Vec<MinuteUsage>, StoreError> {
        let state = self.state()?;
        let mut found: Vec<MinuteUsage> = state
            .minutes
            .range((key_id, from.unix())..(key_id, to.unix()))
            .rev()
            .take(newest)
            .map(|(_, m)| *m)
            .collect();
        found.reverse();
        Ok(found)
    }

    async fn roll_up_minutes(
        &self,
        key_id: KeyId,
        hour: Timestamp,
        minutes: &[MinuteUsage],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let bucket = state
            .buckets
            .entry((key_id, true, hour.unix()))
            .or_insert_with(|| Bucket {
                start: hour,
                parts: BTreeMap::new(),
            });
        for minute in minutes {
            bucket.parts.insert(
                part_of(minute.start, MINUTE_SECONDS, HOUR_SECONDS),
                minute.counts(),
            );
        }
        let total = bucket.total();
        let day = floor(hour, DAY_SECONDS);
        state
            .buckets
            .entry((key_id, false, day.unix()))
            .or_insert_with(|| Bucket {
                start: day,
                parts: BTreeMap::new(),
            })
            .parts
            .insert(part_of(hour, HOUR_SECONDS, DAY_SECONDS), total);
        Ok(())
    }

    async fn usage_buckets(
        &self,
        key_id: KeyId,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bucket>, StoreError> {
        let state = self.state()?;
        let hourly = granularity == Granularity::Hour;
        Ok(state
            .buckets
            .range((key_id, hourly, from.unix())..(key_id, hourly, to.unix()))
            .map(|(_, b)| b.clone())
            .collect())
    }

    async fn count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        _expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut state = self.state()?;
        let count = state
            .counters
            .entry(Self::window_name(counter, window_start))
            .or_insert(0);
        *count += 1;
        Ok(*count)
    }

    async fn uncount(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(count) = state
            .counters
            .get_mut(&Self::window_name(counter, window_start))
        {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn put_message(
        &self,
        message: &MessageRecord,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError> {
        let mut state = self.state()?;
        if let Some(record) = idempotency {
            let slot = (record.workspace_id, record.key.clone());
            if let Some(existing) = state.idempotency.get(&slot) {
                if existing.expires_at > now {
                    return Ok(SendOutcome::Replayed(existing.clone()));
                }
            }
            state.idempotency.insert(slot, record.clone());
        }
        state
            .messages
            .insert((message.workspace_id, message.id), message.clone());
        Ok(SendOutcome::Created)
    }

    async fn list_messages(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<MessageId>,
    ) -> Result<MessagePage, StoreError> {
        let state = self.message_state()?;
        let upper = after.unwrap_or_else(|| MessageId::from(uuid::Uuid::max()));
        let mut newest_first = state
            .messages
            .range((workspace_id, MessageId::from(uuid::Uuid::nil()))..(workspace_id, upper))
            .rev()
            .map(|(_, m)| m.clone());
        let messages: Vec<_> = newest_first.by_ref().take(limit).collect();
        let has_more = newest_first.next().is_some();
        Ok(MessagePage { messages, has_more })
    }

    async fn get_message(
        &self,
        workspace_id: WorkspaceId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self
            .message_state()?
            .messages
            .get(&(workspace_id, id))
            .cloned())
    }
}
