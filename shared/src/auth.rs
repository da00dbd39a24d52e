//! Who is calling. The authorizer decision (`decide`) turns credentials into a `Principal`; it
//! runs in the authorizer Lambda and, in local mode only, inline in each function. Handlers get
//! identity from `authenticate_user` / `authenticate_key` alone, which read the authorizer's
//! context (never credentials) unless local inline auth is on.

use std::collections::HashMap;

use lambda_http::http::HeaderMap;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::app::App;
use crate::error::ApiError;
use crate::ids::{KeyId, UserId, WorkspaceId};
use crate::jwt::JwtKeys;
use crate::keys::ApiKeySecret;
use crate::scopes::{Scope, Scopes};
use crate::store::{KeyStatus, Store, LAST_USED_RESOLUTION_SECONDS};
use crate::timestamp::Timestamp;

pub const API_KEY_HEADER: &str = "x-api-key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCaller {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCaller {
    pub key_id: KeyId,
    pub workspace_id: WorkspaceId,
    pub scopes: Scopes,
}

impl KeyCaller {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.as_str()))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(UserCaller),
    ApiKey(KeyCaller),
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
        {
            Some(Credential::UserToken)
        } else {
            None
        }
    }

    /// The denial for this credential when it is missing or wrong.
    pub fn rejection(&self) -> ApiError {
        match self {
            Credential::UserToken => ApiError::Unauthorized,
            Credential::ApiKey => ApiError::InvalidApiKey,
        }
    }
}

/// The authorizer's decision. `Err` is a denial (`Unauthorized`, `InvalidApiKey`) or, when the
/// database fails, `ServiceUnavailable`: never an accidental allow.
pub async fn decide<S: Store>(
    store: &S,
    jwt: Option<&JwtKeys>,
    headers: &HeaderMap,
    credential: Credential,
    now: Timestamp,
) -> Result<Principal, ApiError> {
    decide_from(store, jwt, headers, credential, now, None).await
}

/// `decide` for a request from `source_ip` (the gateway's `sourceIp`), which a key's
/// `last_used_ip` records in the same write as `last_used_at`.
pub async fn decide_from<S: Store>(
    store: &S,
    jwt: Option<&JwtKeys>,
    headers: &HeaderMap,
    credential: Credential,
    now: Timestamp,
    source_ip: Option<&str>,
) -> Result<Principal, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match credential {
        Credential::UserToken => {
            // A key can never manage keys, even alongside a valid token.
            if headers.contains_key(API_KEY_HEADER) {
                return Err(ApiError::Unauthorized);
            }
            let token = header("authorization")
                .and_then(bearer_token)
                .ok_or(ApiError::Unauthorized)?;
            let claims = jwt
                .ok_or(ApiError::Unauthorized)?
                .verify(token)
                .map_err(|_| ApiError::Unauthorized)?;
            Ok(Principal::User(UserCaller {
                user_id: claims.user_id,
                workspace_id: claims.workspace_id,
            }))
        }
        Credential::ApiKey => {
            let raw = header(API_KEY_HEADER).ok_or(ApiError::InvalidApiKey)?;
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
pub async fn verify_api_key<S: Store>(
    store: &S,
    raw: &str,
    now: Timestamp,
) -> Result<KeyCaller, ApiError> {
    verify_api_key_from(store, raw, now, None).await
}

/// `verify_api_key` for a request from `source_ip`: still one read, and the once-a-minute
/// `last_used_at` write carries the address too (no write of its own).
pub async fn verify_api_key_from<S: Store>(
    store: &S,
    raw: &str,
    now: Timestamp,
    source_ip: Option<&str>,
) -> Result<KeyCaller, ApiError> {
    let secret = ApiKeySecret::parse(raw.trim()).map_err(|_| ApiError::InvalidApiKey)?;
    let hash = secret.hash();
    let key = store
        .find_key_by_hash(&hash)
        .await?
        .ok_or(ApiError::InvalidApiKey)?;
    // Deactivated, expired, or past a rotation's overlap: all read from this one item.
    if key.status(now) != KeyStatus::Active || !key.key_hash.matches(&hash) {
        return Err(ApiError::InvalidApiKey);
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
            context.insert("principal_type".into(), "api_key".into());
            context.insert("key_id".into(), key.key_id.to_string().into());
            context.insert("workspace_id".into(), key.workspace_id.to_string().into());
            context.insert("scopes".into(), key.scopes.to_stored().into());
        }
    }
    context
}

fn principal_from_context(fields: &HashMap<String, Value>) -> Option<Principal> {
    let field = |name: &str| fields.get(name).and_then(Value::as_str);
    let workspace_id = field("workspace_id")?.parse().ok()?;
    match field("principal_type")? {
        "user" => Some(Principal::User(UserCaller {
            user_id: field("user_id")?.parse().ok()?,
            workspace_id,
        })),
        "api_key" => Some(Principal::ApiKey(KeyCaller {
            key_id: field("key_id")?.parse().ok()?,
            workspace_id,
            scopes: Scopes::from_stored(field("scopes")?).ok()?,
        })),
        _ => None,
    }
}

async fn identify<S: Store>(
    app: &App<S>,
    req: &Request,
    credential: Credential,
) -> Result<Principal, ApiError> {
    if let Some(RequestContext::ApiGatewayV1(context)) = req.request_context_ref() {
        if !context.authorizer.fields.is_empty() {
            return principal_from_context(&context.authorizer.fields).ok_or_else(|| {
                tracing::error!("authorizer context present but malformed");
                credential.rejection()
            });
        }
    }
    if app.config.local_inline_auth {
        return decide_from(
            &app.store,
            app.jwt.as_ref(),
            req.headers(),
            credential,
            Timestamp::now(),
            client_ip(app, req).as_deref(),
        )
        .await;
    }
    // Deployed with no authorizer context: a misconfigured route. Deny.
    Err(credential.rejection())
}

/// The logged-in workspace owner, or 401 `unauthorized`.
pub async fn authenticate_user<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<UserCaller, ApiError> {
    match identify(app, req, Credential::UserToken).await? {
        Principal::User(user) => Ok(user),
        Principal::ApiKey(_) => Err(ApiError::Unauthorized),
    }
}

/// The API key's identity, or 401 `invalid_api_key`.
pub async fn authenticate_key<S: Store>(
    app: &App<S>,
    req: &Request,
) -> Result<KeyCaller, ApiError> {
    match identify(app, req, Credential::ApiKey).await? {
        Principal::ApiKey(key) => Ok(key),
        Principal::User(_) => Err(ApiError::InvalidApiKey),
    }
}

/// The header a local client may use to say which address it calls from: `cargo lambda watch`
/// reports every client as 127.0.0.1 (its events carry a fixed `sourceIp`), so per-source
/// limits could not be tried locally otherwise. Read only in local inline-auth mode, which the
/// SAM template never sets; deployed, the address is API Gateway's alone.
pub const LOCAL_SOURCE_IP_HEADER: &str = "x-yebolink-local-source-ip";

/// The caller's address as API Gateway saw it (in local mode, the local header first), exact
/// (IPv6 not reduced): what a key's `last_used_ip` shows. `None` when there is none.
pub fn client_ip<S>(app: &App<S>, req: &Request) -> Option<String> {
    let local = app
        .config
        .local_inline_auth
        .then(|| req.headers().get(LOCAL_SOURCE_IP_HEADER))
        .flatten()
        .and_then(|v| v.to_str().ok());
    let reported = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    };
    parse_ip(local.or(reported)?)
}

/// An address as text, parsed and printed again so nothing but an address is ever stored.
pub fn parse_ip(raw: &str) -> Option<String> {
    raw.trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// Where a request comes from, for per-source limits: the address API Gateway saw
/// (`requestContext.identity.sourceIp`; never a client-set header such as `X-Forwarded-For`).
/// IPv6 addresses are reduced to their /64, the block one subscriber usually holds. A request
/// without an address (none reaches a function deployed) shares one bucket, `unknown`.
pub fn client_source<S>(app: &App<S>, req: &Request) -> String {
    client_ip(app, req)
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .map(|ip| match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod source_tests {
    use super::*;
    use crate::testing::{app, request};
    use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;

    fn from(ip: &str) -> Request {
        let mut context = ApiGatewayProxyRequestContext::default();
        context.identity.source_ip = Some(ip.to_owned());
        request("POST", "/api/v1/auth/login", None)
            .with_request_context(RequestContext::ApiGatewayV1(context))
    }

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
    }

    #[test]
    fn the_source_is_the_gateway_address_and_ipv6_counts_per_64() {
        let mut app = app();
        app.config.local_inline_auth = false;
        assert_eq!(client_source(&app, &from("203.0.113.7")), "203.0.113.7");
        assert_eq!(
            client_source(&app, &from("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_source(&app, &from("2001:db8:1:2:bbbb::9")),
            client_source(&app, &from("2001:db8:1:2:aaaa::1"))
        );
        assert_eq!(client_source(&app, &from("not an address")), "unknown");
    }

    #[test]
    fn the_local_header_is_ignored_unless_local_inline_auth_is_on() {
        let mut req = from("203.0.113.7");
        req.headers_mut()
            .insert(LOCAL_SOURCE_IP_HEADER, "198.51.100.1".parse().unwrap());
        req.headers_mut()
            .insert("x-forwarded-for", "198.51.100.2".parse().unwrap());
        let mut app = app();
        app.config.local_inline_auth = false;
        assert_eq!(client_source(&app, &req), "203.0.113.7");
        app.config.local_inline_auth = true;
        assert_eq!(client_source(&app, &req), "198.51.100.1");
    }
}
