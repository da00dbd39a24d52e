//! Who is calling: the authorizer's decision (`decide`), which turns presented credentials into
//! a `Principal`. It runs in the authorizer Lambda and, in local mode only, inline in each
//! function (`http::auth`). The principal travels to the functions as the authorizer context
//! (`context_for`, `principal_from_context`): handlers never see credentials.

use std::collections::HashMap;

use serde_json::Value;

use crate::domain::api_key::{KeyStatus, LAST_USED_RESOLUTION_SECONDS};
use crate::domain::ids::{KeyId, UserId, WorkspaceId};
use crate::domain::keys::ApiKeySecret;
use crate::domain::policy::address_allowed;
use crate::domain::scopes::{Scope, Scopes};
use crate::domain::timestamp::Timestamp;
use crate::services::jwt::JwtKeys;
use crate::storage::error::StoreError;
use crate::storage::keys::KeyStore;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCaller {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
}

/// An API key's caller, with what the request path needs of the key's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCaller {
    pub key_id: KeyId,
    pub workspace_id: WorkspaceId,
    pub scopes: Scopes,
    /// The key's own per-minute limit; `None`: the deployment's default.
    pub rate_limit_per_minute: Option<u64>,
    pub monthly_send_limit: Option<u64>,
    /// Whose monthly send count the key continues (`ApiKeyRecord::quota_id`).
    pub quota_id: KeyId,
    /// False when the key is restricted to addresses this request does not come from. The
    /// decision still names the key, so that the messaging gate answers the 403
    /// `ip_not_allowed` and counts it as denied in the key's usage (the gateway's answer to an
    /// authorizer's Deny is always a 401).
    pub address_allowed: bool,
}

/// The scope a route needs and the key lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingScope(pub Scope);

impl KeyCaller {
    /// A caller whose key has no policy of its own: the default limit, any address, no
    /// monthly limit.
    pub fn new(key_id: KeyId, workspace_id: WorkspaceId, scopes: Scopes) -> Self {
        Self {
            key_id,
            workspace_id,
            scopes,
            rate_limit_per_minute: None,
            monthly_send_limit: None,
            quota_id: key_id,
            address_allowed: true,
        }
    }

    pub fn require(&self, scope: Scope) -> Result<(), MissingScope> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(MissingScope(scope))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(UserCaller),
    ApiKey(KeyCaller),
}

/// Why the decision did not allow a request. Never an accidental allow: a store that cannot be
/// read is `Unavailable`, which no caller turns into an Allow.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No valid user token (missing, malformed, expired, signed by another key), or an API key
    /// presented where only a user token is accepted.
    #[error("missing or invalid bearer token")]
    InvalidToken,
    /// No valid, active API key.
    #[error("invalid API key")]
    InvalidApiKey(KeyRefusal),
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

/// Why a presented key is refused. The client gets the same 401 for each, so a caller learns
/// nothing about a key it does not hold; only the operator's metrics tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Missing, malformed, wrong checksum, or no key with this hash.
    Unknown,
    /// Past its `expires_at` (or past a rotation's overlap).
    Expired,
    Deactivated,
}

/// The credential a route accepts: management routes a user token, messaging routes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    UserToken,
    ApiKey,
}

/// Leaked-key reports: signed by the reporter (GitHub), not sent by a workspace, so no
/// authorizer guards them although they sit under `/api/v1/api-keys`.
pub const LEAK_REPORTS_PATH: &str = "/api/v1/api-keys/leaks";

impl Credential {
    /// Which credential a REST resource path needs; `None` for paths no authorizer guards.
    pub fn for_path(path: &str) -> Option<Self> {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if path == LEAK_REPORTS_PATH {
            None
        } else if under("/api/v1/messages") {
            Some(Credential::ApiKey)
        } else if under("/api/v1/api-keys")
            || under("/api/v1/audit-events")
            || under("/api/v1/usage")
            || under("/api/v1/webhooks")
        {
            Some(Credential::UserToken)
        } else {
            None
        }
    }

    /// The denial for this credential when it is missing or wrong.
    pub fn rejection(&self) -> AuthError {
        match self {
            Credential::UserToken => AuthError::InvalidToken,
            Credential::ApiKey => AuthError::InvalidApiKey(KeyRefusal::Unknown),
        }
    }
}

/// The credentials a request presents, as read from its headers (`http::auth::presented`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presented<'a> {
    /// `X-API-Key`: `Some("")` when the header is there but not readable text.
    pub api_key: Option<&'a str>,
    /// `Authorization`, when readable.
    pub authorization: Option<&'a str>,
}

/// The authorizer's decision for a request with no known source address.
pub async fn decide<S: KeyStore>(
    store: &S,
    jwt: Option<&JwtKeys>,
    presented: Presented<'_>,
    credential: Credential,
    now: Timestamp,
) -> Result<Principal, AuthError> {
    decide_from(store, jwt, presented, credential, now, None).await
}

/// `decide` for a request from `source_ip` (the gateway's `sourceIp`), which a key's
/// `last_used_ip` records in the same write as `last_used_at`.
pub async fn decide_from<S: KeyStore>(
    store: &S,
    jwt: Option<&JwtKeys>,
    presented: Presented<'_>,
    credential: Credential,
    now: Timestamp,
    source_ip: Option<&str>,
) -> Result<Principal, AuthError> {
    match credential {
        Credential::UserToken => {
            // A key can never manage keys, even alongside a valid token.
            if presented.api_key.is_some() {
                return Err(AuthError::InvalidToken);
            }
            let token = presented
                .authorization
                .and_then(bearer_token)
                .ok_or(AuthError::InvalidToken)?;
            let claims = jwt
                .ok_or(AuthError::InvalidToken)?
                .verify(token)
                .map_err(|_| AuthError::InvalidToken)?;
            Ok(Principal::User(UserCaller {
                user_id: claims.user_id,
                workspace_id: claims.workspace_id,
            }))
        }
        Credential::ApiKey => {
            let raw = presented
                .api_key
                .ok_or(AuthError::InvalidApiKey(KeyRefusal::Unknown))?;
            verify_api_key_from(store, raw, now, source_ip)
                .await
                .map(Principal::ApiKey)
        }
    }
}

fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Format and checksum first (no read for garbage), then one consistent read by hash.
pub async fn verify_api_key<S: KeyStore>(
    store: &S,
    raw: &str,
    now: Timestamp,
) -> Result<KeyCaller, AuthError> {
    verify_api_key_from(store, raw, now, None).await
}

/// `verify_api_key` for a request from `source_ip`: still one read, and the once-a-minute
/// `last_used_at` write carries the address too (no write of its own).
pub async fn verify_api_key_from<S: KeyStore>(
    store: &S,
    raw: &str,
    now: Timestamp,
    source_ip: Option<&str>,
) -> Result<KeyCaller, AuthError> {
    let unknown = || AuthError::InvalidApiKey(KeyRefusal::Unknown);
    let secret = ApiKeySecret::parse(raw.trim()).map_err(|_| unknown())?;
    let hash = secret.hash();
    let key = store.find_key_by_hash(&hash).await?.ok_or_else(unknown)?;
    if !key.key_hash.matches(&hash) {
        return Err(unknown());
    }
    // Deactivated, expired, or past a rotation's overlap: all read from this one item.
    match key.status(now) {
        KeyStatus::Active => {}
        KeyStatus::Expired => return Err(AuthError::InvalidApiKey(KeyRefusal::Expired)),
        KeyStatus::Deactivated => return Err(AuthError::InvalidApiKey(KeyRefusal::Deactivated)),
    }
    let stale = key
        .last_used_at
        .is_none_or(|t| now.unix() - t.unix() >= LAST_USED_RESOLUTION_SECONDS);
    if stale {
        // Bookkeeping only: its failure must not turn a valid key away.
        if let Err(err) = store.record_key_use(&key, now, source_ip).await {
            tracing::warn!(error = %err, key_id = %key.key_id, "could not record key use");
        }
    }
    Ok(KeyCaller {
        key_id: key.key_id,
        workspace_id: key.workspace_id,
        address_allowed: address_allowed(key.policy.allowed_ips.as_deref(), source_ip),
        rate_limit_per_minute: key.policy.rate_limit_per_minute,
        monthly_send_limit: key.policy.monthly_send_limit,
        quota_id: key.quota_id,
        scopes: key.scopes,
    })
}

/// The authorizer context for an allowed principal (values must be strings for API Gateway).
pub fn context_for(principal: &Principal) -> HashMap<String, Value> {
    let mut context = HashMap::new();
    match principal {
        Principal::User(user) => {
            context.insert("principal_type".into(), "user".into());
            context.insert("user_id".into(), user.user_id.to_string().into());
            context.insert("workspace_id".into(), user.workspace_id.to_string().into());
            context.insert("scopes".into(), "".into());
        }
        Principal::ApiKey(key) => {
            let optional = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            context.insert("principal_type".into(), "api_key".into());
            context.insert("key_id".into(), key.key_id.to_string().into());
            context.insert("workspace_id".into(), key.workspace_id.to_string().into());
            context.insert("scopes".into(), key.scopes.to_stored().into());
            context.insert(
                "rate_limit".into(),
                optional(key.rate_limit_per_minute).into(),
            );
            context.insert(
                "monthly_limit".into(),
                optional(key.monthly_send_limit).into(),
            );
            context.insert("quota_id".into(), key.quota_id.to_string().into());
            context.insert(
                "address_allowed".into(),
                key.address_allowed.to_string().into(),
            );
        }
    }
    context
}

/// The principal an authorizer context names; `None` for a context this code did not write.
pub fn principal_from_context(fields: &HashMap<String, Value>) -> Option<Principal> {
    let field = |name: &str| fields.get(name).and_then(Value::as_str);
    let workspace_id = field("workspace_id")?.parse().ok()?;
    match field("principal_type")? {
        "user" => Some(Principal::User(UserCaller {
            user_id: field("user_id")?.parse().ok()?,
            workspace_id,
        })),
        "api_key" => {
            let key_id = field("key_id")?.parse().ok()?;
            // The policy's fields may be absent: a context written before keys had a policy
            // (an authorizer not yet updated during a deploy) means none. Present, they must
            // parse; an empty limit is an unset one.
            let optional = |name: &str| -> Option<Option<u64>> {
                match field(name) {
                    None | Some("") => Some(None),
                    Some(n) => n.parse().ok().map(Some),
                }
            };
            Some(Principal::ApiKey(KeyCaller {
                key_id,
                workspace_id,
                scopes: Scopes::from_stored(field("scopes")?).ok()?,
                rate_limit_per_minute: optional("rate_limit")?,
                monthly_send_limit: optional("monthly_limit")?,
                quota_id: field("quota_id").map_or(Some(key_id), |q| q.parse().ok())?,
                address_allowed: field("address_allowed").map_or(Some(true), |a| a.parse().ok())?,
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leak_reports_need_no_credential_and_their_neighbours_keep_theirs() {
        assert_eq!(Credential::for_path(LEAK_REPORTS_PATH), None);
        for path in [
            "/api/v1/api-keys",
            "/api/v1/api-keys/{id}",
            "/api/v1/api-keys/leaks/x",
        ] {
            assert_eq!(
                Credential::for_path(path),
                Some(Credential::UserToken),
                "{path}"
            );
        }
        assert_eq!(
            Credential::for_path("/api/v1/messages/{id}"),
            Some(Credential::ApiKey)
        );
        assert_eq!(Credential::for_path("/api/v1/auth/login"), None);
        assert_eq!(
            Credential::for_path("/api/v1/usage"),
            Some(Credential::UserToken)
        );
        assert_eq!(Credential::for_path("/api/v1/usagex"), None);
        assert_eq!(
            Credential::for_path("/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry"),
            Some(Credential::UserToken)
        );
    }

    #[test]
    fn a_context_round_trips_and_a_foreign_one_names_nobody() {
        let plain = KeyCaller::new(KeyId::new(), WorkspaceId::new(), Scopes::all());
        assert_eq!(
            principal_from_context(&context_for(&Principal::ApiKey(plain.clone()))),
            Some(Principal::ApiKey(plain.clone()))
        );
        let restricted = Principal::ApiKey(KeyCaller {
            rate_limit_per_minute: Some(7),
            monthly_send_limit: Some(100),
            quota_id: KeyId::new(),
            address_allowed: false,
            ..plain.clone()
        });
        assert_eq!(
            principal_from_context(&context_for(&restricted)),
            Some(restricted)
        );
        // A context from before keys had a policy names a key without one.
        let mut old = context_for(&Principal::ApiKey(plain.clone()));
        for name in ["rate_limit", "monthly_limit", "quota_id", "address_allowed"] {
            old.remove(name);
        }
        assert_eq!(
            principal_from_context(&old),
            Some(Principal::ApiKey(plain.clone()))
        );
        let mut garbled = context_for(&Principal::ApiKey(plain));
        garbled.insert("address_allowed".into(), Value::from("maybe"));
        assert_eq!(
            principal_from_context(&garbled),
            None,
            "present, it must parse"
        );
        let mut forged = HashMap::new();
        forged.insert("principal_type".to_owned(), Value::from("admin"));
        forged.insert(
            "workspace_id".to_owned(),
            Value::from(WorkspaceId::new().to_string()),
        );
        assert_eq!(principal_from_context(&forged), None);
    }
}
