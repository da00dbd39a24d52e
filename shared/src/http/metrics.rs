//! The metrics of a request: one CloudWatch Embedded Metric Format (EMF) line per request and
//! function, namespace `YeboLink`, which CloudWatch turns into metrics as it ingests the log.
//! No API call and no wait on the request path: the serve loop (`bootstrap::serve`) writes the
//! line after the handler has answered. What the line says:
//! - `RequestCount` by `Function` and `StatusClass`, `Latency` by `Function`;
//! - `RateLimited` by `Limit`, when a limit refused the request (from the response);
//! - `AuthorizerDecision` by `Outcome`, where the decision ran (the authorizer; locally, inline
//!   in each function).
//!
//! Every dimension takes its values from a fixed set (CloudWatch bills each distinct set): ids,
//! the status code and the address are plain properties, for Logs Insights.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Map, Value};

use crate::domain::limits::LimitKind;
use crate::domain::webhook::{Delivery, DeliveryStatus};
use crate::services::auth::{AuthError, KeyRefusal, Principal};

pub const NAMESPACE: &str = "YeboLink";

/// How the authorizer's decision ended: the `Outcome` dimension of `AuthorizerDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerOutcome {
    Allow,
    /// No such key: missing, malformed, a bad checksum or an unknown hash.
    InvalidKey,
    /// A valid key used from an address outside its `allowed_ips` (refused by the function's
    /// gate with a 403).
    IpNotAllowed,
    Expired,
    Deactivated,
    /// A missing or invalid user token (or a key where only a token is accepted).
    JwtInvalid,
    /// The key store could not be read: the request was refused (fail closed).
    Error,
}

impl AuthorizerOutcome {
    pub fn of(decision: &Result<Principal, AuthError>) -> Self {
        match decision {
            Ok(Principal::ApiKey(key)) if !key.address_allowed => AuthorizerOutcome::IpNotAllowed,
            Ok(_) => AuthorizerOutcome::Allow,
            Err(AuthError::InvalidToken) => AuthorizerOutcome::JwtInvalid,
            Err(AuthError::InvalidApiKey(KeyRefusal::Unknown)) => AuthorizerOutcome::InvalidKey,
            Err(AuthError::InvalidApiKey(KeyRefusal::Expired)) => AuthorizerOutcome::Expired,
            Err(AuthError::InvalidApiKey(KeyRefusal::Deactivated)) => {
                AuthorizerOutcome::Deactivated
            }
            Err(AuthError::Unavailable(_)) => AuthorizerOutcome::Error,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizerOutcome::Allow => "allow",
            AuthorizerOutcome::InvalidKey => "invalid_key",
            AuthorizerOutcome::IpNotAllowed => "ip_not_allowed",
            AuthorizerOutcome::Expired => "expired",
            AuthorizerOutcome::Deactivated => "deactivated",
            AuthorizerOutcome::JwtInvalid => "jwt_invalid",
            AuthorizerOutcome::Error => "error",
        }
    }
}

/// What handling a request learned that its line reports: the decision, where it ran here, and
/// who called (ids as properties).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub decision: Option<AuthorizerOutcome>,
    pub workspace_id: Option<String>,
    pub key_id: Option<String>,
    pub user_id: Option<String>,
}

impl Observed {
    /// The decision's outcome and, when it allowed, the caller's ids.
    pub fn decided(&mut self, decision: &Result<Principal, AuthError>) {
        self.decision = Some(AuthorizerOutcome::of(decision));
        if let Ok(principal) = decision {
            self.caller(principal);
        }
    }

    pub fn caller(&mut self, principal: &Principal) {
        let (workspace_id, key_id, user_id) = match principal {
            Principal::ApiKey(key) => (key.workspace_id, Some(key.key_id.to_string()), None),
            Principal::User(user) => (user.workspace_id, None, Some(user.user_id.to_string())),
        };
        self.workspace_id = Some(workspace_id.to_string());
        self.key_id = key_id;
        self.user_id = user_id;
    }
}

/// The shared slot a request carries as an extension, so the layer that learns something
/// (`http::auth`) records it for the serve loop, which reads it once the handler is done.
#[derive(Debug, Clone, Default)]
pub struct Observation(Arc<Mutex<Observed>>);

impl Observation {
    fn take(&self) -> Observed {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Records `note` on `req`'s observation; nothing when the request carries none (a unit test).
pub fn observe(req: &Request, note: impl FnOnce(&mut Observed)) {
    if let Some(observation) = req.extensions().get::<Observation>() {
        note(&mut observation.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// What the authorizer's handler answers: its answer to API Gateway (or the error that makes
/// the gateway's 503) and what it decided, for its metric line.
#[derive(Debug)]
pub struct Decided<R, E> {
    pub answer: Result<R, E>,
    pub observed: Observed,
}

/// The metric line of one HTTP request, begun as it arrives and finished with its response.
#[derive(Debug)]
pub struct RequestMetrics {
    function: &'static str,
    started: Instant,
    observation: Observation,
    context: LineContext,
}

impl RequestMetrics {
    /// Starts the clock and attaches the observation `http::auth` fills in; `source_ip` is
    /// `http::auth::client_ip`.
    pub fn begin(function: &'static str, req: &mut Request, source_ip: Option<String>) -> Self {
        let observation = Observation::default();
        req.extensions_mut().insert(observation.clone());
        let request_id = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
            Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
            _ => None,
        };
        Self {
            function,
            started: Instant::now(),
            observation,
            context: LineContext {
                request_id,
                lambda_request_id: req.lambda_context_ref().map(|c| c.request_id.clone()),
                source_ip,
            },
        }
    }

    /// The EMF line for `response`.
    pub fn finish(self, response: &Response<Body>) -> String {
        let status = response.status().as_u16();
        let limited = response.extensions().get::<LimitKind>().copied();
        metric_line(
            &Line {
                function: self.function,
                status: Some(status),
                latency: self.started.elapsed(),
                limited,
                observed: self.observation.take(),
                context: self.context,
            },
            SystemTime::now(),
        )
    }
}

/// The request's ids and address, as properties of its line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineContext {
    /// API Gateway's request id: the access log's `requestId`.
    pub request_id: Option<String>,
    pub lambda_request_id: Option<String>,
    pub source_ip: Option<String>,
}

/// One request's facts, as a metric line reports them.
#[derive(Debug, Clone)]
pub struct Line {
    pub function: &'static str,
    /// The response's status; `None` for the authorizer, which answers with a policy.
    pub status: Option<u16>,
    pub latency: Duration,
    pub limited: Option<LimitKind>,
    pub observed: Observed,
    pub context: LineContext,
}

/// `2xx`, `4xx`, `5xx`: the `StatusClass` dimension.
pub fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

/// The EMF line (one JSON object, no newline) for `line` at `at`: `_aws` with one metric
/// directive per dimension set, the dimension values and metric values at the top level, as
/// CloudWatch requires, and the ids beside them.
pub fn metric_line(line: &Line, at: SystemTime) -> String {
    let mut directives = vec![directive(&["Function"], "Latency", "Milliseconds")];
    let mut fields = Map::new();
    fields.insert("Function".into(), line.function.into());
    fields.insert(
        "Latency".into(),
        json!(line.latency.as_micros() as f64 / 1000.0),
    );
    if let Some(status) = line.status {
        directives.push(directive(
            &["Function", "StatusClass"],
            "RequestCount",
            "Count",
        ));
        fields.insert("StatusClass".into(), status_class(status).into());
        fields.insert("RequestCount".into(), 1.into());
        fields.insert("status".into(), status.into());
    }
    if let Some(limit) = line.limited {
        directives.push(directive(&["Limit"], "RateLimited", "Count"));
        fields.insert("Limit".into(), limit.as_str().into());
        fields.insert("RateLimited".into(), 1.into());
    }
    if let Some(outcome) = line.observed.decision {
        directives.push(directive(&["Outcome"], "AuthorizerDecision", "Count"));
        fields.insert("Outcome".into(), outcome.as_str().into());
        fields.insert("AuthorizerDecision".into(), 1.into());
    }
    let properties = [
        ("request_id", &line.context.request_id),
        ("lambda_request_id", &line.context.lambda_request_id),
        ("source_ip", &line.context.source_ip),
        ("workspace_id", &line.observed.workspace_id),
        ("key_id", &line.observed.key_id),
        ("user_id", &line.observed.user_id),
    ];
    for (name, value) in properties {
        if let Some(value) = value {
            fields.insert(name.into(), value.as_str().into());
        }
    }
    let timestamp = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    fields.insert(
        "_aws".into(),
        json!({ "Timestamp": timestamp, "CloudWatchMetrics": directives }),
    );
    Value::Object(fields).to_string()
}

/// The metric line of one webhook attempt, as recorded in `delivery` (its last attempt):
/// `WebhookAttempt` (Count) by `Delivery` (`succeeded`, `retrying` or `failed`: what the
/// attempt left the delivery at) and `WebhookAttemptDuration` (Milliseconds) by `Function`.
/// The endpoint, delivery and workspace are properties, never dimensions.
pub fn webhook_attempt_line(function: &str, delivery: &Delivery, at: SystemTime) -> String {
    let outcome = match delivery.status {
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Pending => "retrying",
        DeliveryStatus::Failed => "failed",
    };
    let last = delivery.attempts.last();
    let timestamp = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    json!({
        "Function": function,
        "Delivery": outcome,
        "WebhookAttempt": 1,
        "WebhookAttemptDuration": last.map_or(0, |a| a.duration_ms),
        "status_code": last.and_then(|a| a.status_code),
        "event_type": delivery.event_type,
        "attempt": delivery.attempts.len(),
        "delivery_id": delivery.id,
        "webhook_id": delivery.endpoint_id,
        "workspace_id": delivery.workspace_id,
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                directive(&["Delivery"], "WebhookAttempt", "Count"),
                directive(&["Function"], "WebhookAttemptDuration", "Milliseconds"),
            ],
        },
    })
    .to_string()
}

fn directive(dimensions: &[&str], metric: &str, unit: &str) -> Value {
    json!({
        "Namespace": NAMESPACE,
        "Dimensions": [dimensions],
        "Metrics": [{ "Name": metric, "Unit": unit }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_attempt_line_has_the_outcome_as_its_only_dimension_and_ids_as_properties() {
        use crate::domain::webhook::{Attempt, WebhookEventType};
        use crate::testing::webhook_endpoint;
        let now = crate::domain::timestamp::Timestamp::now();
        let endpoint =
            webhook_endpoint(crate::domain::ids::WorkspaceId::new(), "https://a.example/");
        let delivery = Delivery::new(
            crate::domain::ids::DeliveryId::new(),
            &endpoint,
            WebhookEventType::ApiKeyCreated,
            "{}".into(),
            now,
        );
        let attempt = Attempt {
            at: now,
            status_code: Some(503),
            error: None,
            duration_ms: 12,
        };
        let retried = delivery.after_attempt(
            attempt,
            &crate::domain::webhook::RetrySchedule::deployed(),
            false,
            0.0,
        );
        let line: Value = serde_json::from_str(&webhook_attempt_line(
            "webhook-dispatcher",
            &retried,
            SystemTime::now(),
        ))
        .unwrap();
        assert_eq!(line["Delivery"], "retrying");
        assert_eq!(
            (
                line["WebhookAttempt"].clone(),
                line["WebhookAttemptDuration"].clone()
            ),
            (json!(1), json!(12))
        );
        assert_eq!(line["status_code"], 503);
        assert_eq!(line["webhook_id"], json!(endpoint.id));
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        let dimensions: Vec<&Value> = directives.iter().map(|d| &d["Dimensions"][0]).collect();
        assert_eq!(dimensions, [&json!(["Delivery"]), &json!(["Function"])]);
    }
    use crate::domain::ids::WorkspaceId;
    use crate::domain::scopes::Scopes;
    use crate::storage::error::StoreError;
    use crate::testing::key_caller;

    fn line(status: Option<u16>, limited: Option<LimitKind>, observed: Observed) -> Value {
        let text = metric_line(
            &Line {
                function: "send-message",
                status,
                latency: Duration::from_micros(2_345),
                limited,
                observed,
                context: LineContext {
                    request_id: Some("gateway-request".into()),
                    lambda_request_id: None,
                    source_ip: Some("203.0.113.9".into()),
                },
            },
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        );
        assert!(!text.contains('\n'), "one line: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Each metric's dimension set, as CloudWatch reads it from `_aws`.
    fn dimension_sets(line: &Value) -> Vec<(String, Vec<String>)> {
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        directives
            .iter()
            .map(|d| {
                assert_eq!(d["Namespace"], NAMESPACE);
                let name = d["Metrics"][0]["Name"].as_str().unwrap().to_owned();
                let dims = d["Dimensions"][0].as_array().unwrap();
                let dims = dims.iter().map(|v| v.as_str().unwrap().to_owned());
                (name, dims.collect())
            })
            .collect()
    }

    #[test]
    fn an_admitted_request_is_counted_by_function_and_status_class_with_its_latency() {
        let mut observed = Observed::default();
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        observed.decided(&Ok(Principal::ApiKey(key.clone())));
        let line = line(Some(201), None, observed);
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_123_u64);
        assert_eq!(
            dimension_sets(&line),
            [
                ("Latency".into(), vec!["Function".into()]),
                (
                    "RequestCount".into(),
                    vec!["Function".into(), "StatusClass".into()]
                ),
                ("AuthorizerDecision".into(), vec!["Outcome".into()]),
            ]
        );
        assert_eq!(line["Function"], "send-message");
        assert_eq!(line["StatusClass"], "2xx");
        assert_eq!(line["RequestCount"], 1);
        assert_eq!(line["Latency"], 2.345);
        assert_eq!(line["Outcome"], "allow");
        assert_eq!(line["key_id"], key.key_id.to_string());
        assert_eq!(line["workspace_id"], key.workspace_id.to_string());
        assert_eq!(line["request_id"], "gateway-request");
        assert_eq!(line["source_ip"], "203.0.113.9");
        assert!(line.get("RateLimited").is_none());
    }

    #[test]
    fn a_refused_request_carries_the_limit_that_refused_it() {
        let line = line(Some(429), Some(LimitKind::Workspace), Observed::default());
        assert_eq!(line["StatusClass"], "4xx");
        assert_eq!(line["Limit"], "workspace");
        assert_eq!(line["RateLimited"], 1);
        assert!(dimension_sets(&line).contains(&("RateLimited".into(), vec!["Limit".into()])));
    }

    #[test]
    fn no_dimension_is_an_id_or_an_address() {
        let mut observed = Observed::default();
        observed.decided(&Ok(Principal::ApiKey(key_caller(
            WorkspaceId::new(),
            Scopes::all(),
        ))));
        let line = line(Some(429), Some(LimitKind::Key), observed);
        let allowed = ["Function", "StatusClass", "Limit", "Outcome"];
        for (_, dims) in dimension_sets(&line) {
            assert!(
                dims.iter().all(|d| allowed.contains(&d.as_str())),
                "{dims:?}"
            );
        }
    }

    #[test]
    fn each_refusal_of_the_decision_has_its_own_outcome() {
        let unavailable = StoreError::Unavailable("timeout".into());
        let cases = [
            (Err(AuthError::InvalidToken), "jwt_invalid"),
            (
                Err(AuthError::InvalidApiKey(KeyRefusal::Unknown)),
                "invalid_key",
            ),
            (
                Err(AuthError::InvalidApiKey(KeyRefusal::Expired)),
                "expired",
            ),
            (
                Err(AuthError::InvalidApiKey(KeyRefusal::Deactivated)),
                "deactivated",
            ),
            (Err(AuthError::Unavailable(unavailable)), "error"),
        ];
        for (decision, outcome) in cases {
            let mut observed = Observed::default();
            observed.decided(&decision);
            assert_eq!(observed.key_id, None);
            assert_eq!(line(Some(401), None, observed)["Outcome"], outcome);
        }
    }

    #[test]
    fn a_line_without_a_status_counts_no_request() {
        let line = line(None, None, Observed::default());
        assert!(line.get("RequestCount").is_none() && line.get("StatusClass").is_none());
        assert_eq!(dimension_sets(&line).len(), 1);
    }
}
