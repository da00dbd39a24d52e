//! API keys as stored and as the authorizer reads them: the record its workspace sees, the
//! lookup item found by the key's hash, and what a key is at a given moment (`KeyStatus`).

use crate::domain::account::DisplayName;
use crate::domain::ids::{KeyId, WorkspaceId};
use crate::domain::keys::{KeyHash, KeyPrefix};
use crate::domain::policy::{IpBlock, KeyPolicy, Metadata};
use crate::domain::scopes::Scopes;
use crate::domain::timestamp::Timestamp;

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
    /// Its own limit, addresses, metadata and monthly send limit.
    pub policy: KeyPolicy,
    /// Whose monthly send count this key continues: its own id, or (after rotation) that of
    /// the first key of its line, so rotating never resets a quota.
    pub quota_id: KeyId,
}

/// An edit of a key: a field left `None` stays as it is; for the policy's settings,
/// `Some(None)` clears one (the rate limit then is the default again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyEdit {
    pub name: Option<DisplayName>,
    pub scopes: Option<Scopes>,
    pub rate_limit_per_minute: Option<Option<u64>>,
    pub allowed_ips: Option<Option<Vec<IpBlock>>>,
    pub metadata: Option<Option<Metadata>>,
    pub monthly_send_limit: Option<Option<u64>>,
}

impl KeyEdit {
    /// `key` with the edit made.
    pub fn applied_to(&self, key: &ApiKeyRecord) -> ApiKeyRecord {
        let mut edited = key.clone();
        let policy = &mut edited.policy;
        if let Some(name) = &self.name {
            edited.name = name.clone();
        }
        if let Some(scopes) = &self.scopes {
            edited.scopes = scopes.clone();
        }
        if let Some(limit) = self.rate_limit_per_minute {
            policy.rate_limit_per_minute = limit;
        }
        if let Some(blocks) = &self.allowed_ips {
            policy.allowed_ips = blocks.clone();
        }
        if let Some(metadata) = &self.metadata {
            policy.metadata = metadata.clone();
        }
        if let Some(limit) = self.monthly_send_limit {
            policy.monthly_send_limit = limit;
        }
        edited
    }
}

/// Whether a key may still be edited at `now`: active, unexpired and not rotated (its
/// successor carries its settings; an edit of the outgoing key would be lost with it).
pub fn editable(key: &ApiKeyRecord, now: Timestamp) -> bool {
    key.status(now) == KeyStatus::Active && key.replaced_by.is_none()
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
    /// What the request path needs of the key's policy (limit, addresses, monthly limit; never
    /// the metadata), on the same item for the same reason.
    pub policy: KeyPolicy,
    pub quota_id: KeyId,
}

impl KeyLookup {
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        key_status(self.is_active, self.expires_at, now)
    }
}

/// Seconds after which `last_used_at` may be written again.
pub const LAST_USED_RESOLUTION_SECONDS: i64 = 60;
