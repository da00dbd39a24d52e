//! The request's part of an audit event: where it came from, as the gateway saw it
//! (`requestContext.identity`; locally, whatever `cargo lambda watch` puts there).

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::domain::audit::{Actor, AuditEvent, AuditEventType, RequestOrigin, Target};
use crate::domain::limits::Limits;
use crate::domain::timestamp::Timestamp;

/// Longest user agent kept: the header is client-chosen and the event is stored for a year.
const MAX_USER_AGENT_CHARS: usize = 512;

/// The gateway's view of who sent `req`.
pub fn origin_of(req: &Request) -> RequestOrigin {
    let (source_ip, user_agent) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.identity.source_ip.clone(),
            context.identity.user_agent.clone(),
        ),
        Some(RequestContext::ApiGatewayV2(context)) => (
            context.http.source_ip.clone(),
            context.http.user_agent.clone(),
        ),
        _ => (None, None),
    };
    RequestOrigin {
        source_ip: source_ip.filter(|ip| !ip.is_empty()),
        user_agent: user_agent
            .filter(|ua| !ua.is_empty())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
    }
}

/// An event caused by `req`: its origin from the gateway, kept as long as `limits` says.
pub fn event_for_request(
    limits: &Limits,
    req: &Request,
    event_type: AuditEventType,
    actor: Actor,
    target: Target,
    details: Value,
    now: Timestamp,
) -> AuditEvent {
    AuditEvent::new(
        event_type,
        actor,
        target,
        &origin_of(req),
        details,
        now,
        limits.audit_retention_days,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;

    #[test]
    fn the_origin_is_the_gateways_identity_and_long_user_agents_are_cut() {
        let mut context = ApiGatewayProxyRequestContext::default();
        context.identity.source_ip = Some("198.51.100.4".into());
        context.identity.user_agent = Some("x".repeat(2000));
        let req = Request::default().with_request_context(RequestContext::ApiGatewayV1(context));
        let origin = origin_of(&req);
        assert_eq!(origin.source_ip.as_deref(), Some("198.51.100.4"));
        assert_eq!(
            origin.user_agent.map(|ua| ua.len()),
            Some(MAX_USER_AGENT_CHARS)
        );
        assert_eq!(origin_of(&Request::default()), RequestOrigin::default());
    }
}
