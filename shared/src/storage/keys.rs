//! API keys: the key item and its hash lookup item, always written together, with the audit
//! event of each change in the same transaction.

use std::future::Future;

use crate::domain::api_key::{ApiKeyRecord, KeyLookup};
use crate::domain::audit::AuditEvent;
use crate::domain::ids::{KeyId, WorkspaceId};
use crate::domain::keys::KeyHash;
use crate::domain::timestamp::Timestamp;
use crate::storage::error::StoreError;

/// Whether `create_api_key` stored the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCreated {
    Created,
    /// The workspace already has `cap` active keys; nothing was written.
    LimitReached,
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

/// An edit, as `update_api_key` is asked to write it: the key as the caller read it, as it
/// becomes (the same key: name, scopes and policy changed), and the change's event.
#[derive(Debug, Clone)]
pub struct KeyUpdate {
    pub old: ApiKeyRecord,
    pub new: ApiKeyRecord,
    pub event: AuditEvent,
    /// The key must not have expired by now.
    pub now: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    Updated,
    /// Meanwhile the key was deactivated, expired, rotated or edited (a changed field no
    /// longer holds what was read); nothing was written.
    Changed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotated {
    Rotated,
    /// The old key was deactivated, expired or replaced meanwhile; nothing was written.
    NotRotatable,
}

pub trait KeyStore: Send + Sync {
    fn create_api_key(
        &self,
        key: &ApiKeyRecord,
        cap: u64,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<KeyCreated, StoreError>> + Send;

    fn get_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
    ) -> impl Future<Output = Result<Option<ApiKeyRecord>, StoreError>> + Send;

    fn list_api_keys(
        &self,
        workspace_id: WorkspaceId,
    ) -> impl Future<Output = Result<Vec<ApiKeyRecord>, StoreError>> + Send;

    fn deactivate_api_key<F>(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
        event: F,
    ) -> impl Future<Output = Result<Deactivation, StoreError>> + Send
    where
        F: Fn(&ApiKeyRecord) -> AuditEvent + Send + Sync;

    fn rotate_api_key(
        &self,
        rotation: &Rotation,
    ) -> impl Future<Output = Result<Rotated, StoreError>> + Send;

    /// The key item, its lookup item and the event, in one transaction, only while the key is
    /// active, unexpired, not rotated, and each changed field still holds its old value.
    fn update_api_key(
        &self,
        update: &KeyUpdate,
    ) -> impl Future<Output = Result<Updated, StoreError>> + Send;

    fn find_key_by_hash(
        &self,
        hash: &KeyHash,
    ) -> impl Future<Output = Result<Option<KeyLookup>, StoreError>> + Send;

    fn record_key_use(
        &self,
        key: &KeyLookup,
        now: Timestamp,
        source_ip: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
