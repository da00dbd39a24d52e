//! Identity for handlers: the one way a handler learns who calls. Deployed, it reads the
//! authorizer's context, never credentials; in local inline-auth mode (no API Gateway in front
//! of `cargo lambda watch`) it runs the authorizer's decision itself. Also the caller's
//! address, for per-source limits and `last_used_ip`.

use lambda_http::http::HeaderMap;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::domain::timestamp::Timestamp;
use crate::http::app::App;
use crate::http::error::ApiError;
use crate::http::metrics::observe;
use crate::services::auth::{
    decide_from, principal_from_context, Credential, KeyCaller, Presented, Principal, UserCaller,
};
use crate::storage::Store;

pub const API_KEY_HEADER: &str = "x-api-key";

/// The credentials `headers` present, for the authorizer's decision.
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Presented {
        api_key: headers
            .get(API_KEY_HEADER)
            .map(|v| v.to_str().unwrap_or("")),
        authorization: text("authorization"),
    }
}

async fn identify<S: Store>(
    app: &App<S>,
    req: &Request,
    credential: Credential,
) -> Result<Principal, ApiError> {
    if let Some(RequestContext::ApiGatewayV1(context)) = req.request_context_ref() {
        if !context.authorizer.fields.is_empty() {
            let principal =
                principal_from_context(&context.authorizer.fields).ok_or_else(|| {
                    tracing::error!("authorizer context present but malformed");
                    credential.rejection()
                })?;
            // The authorizer's own line counted the decision; this one names the caller.
            observe(req, |observed| observed.caller(&principal));
            return Ok(principal);
        }
    }
    if app.local_inline_auth {
        let decision = decide_from(
            &app.store,
            app.jwt.as_ref(),
            presented(req.headers()),
            credential,
            Timestamp::now(),
            client_ip(app, req).as_deref(),
        )
        .await;
        // Inline, the function's line carries the decision the authorizer's would.
        observe(req, |observed| observed.decided(&decision));
        return Ok(decision?);
    }
    // Deployed with no authorizer context: a misconfigured route. Deny.
    Err(credential.rejection().into())
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
mod tests {
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
    fn the_source_is_the_gateway_address_and_ipv6_counts_per_64() {
        let mut app = app();
        app.local_inline_auth = false;
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
        app.local_inline_auth = false;
        assert_eq!(client_source(&app, &req), "203.0.113.7");
        app.local_inline_auth = true;
        assert_eq!(client_source(&app, &req), "198.51.100.1");
    }

    #[test]
    fn an_unreadable_api_key_header_still_counts_as_presented() {
        let mut headers = HeaderMap::new();
        // A value that is not text: its `to_str` fails.
        let value = lambda_http::http::HeaderValue::from_bytes(b"ybk_\xff").unwrap();
        headers.insert(API_KEY_HEADER, value);
        assert_eq!(presented(&headers).api_key, Some(""));
        assert_eq!(presented(&HeaderMap::new()), Presented::default());
    }
}
