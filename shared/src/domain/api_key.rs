//! API keys as stored and as the authorizer reads them: the record its workspace sees, the
//! lookup item found by the key's hash, and what a key is at a given moment (`KeyStatus`).

use crate::domain::account::DisplayName;
use crate::domain::ids::{KeyId, WorkspaceId};
use crate::domain::keys::{KeyHash, KeyPrefix};
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

/// Seconds after which `last_used_at` may be written again.
pub const LAST_USED_RESOLUTION_SECONDS: i64 = 60;
