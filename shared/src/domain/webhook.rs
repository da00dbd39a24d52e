//! Webhooks: a workspace's endpoints, the events they subscribe to, the deliveries made to them
//! and the Standard Webhooks signature every delivery carries. Plain values and the pure rules:
//! the retry schedule, when a failing endpoint is disabled, which addresses an endpoint may use
//! (`domain::webhook_target`).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::audit::AuditEventType;
use crate::domain::ids::{AuditEventId, DeliveryId, WebhookId, WorkspaceId};
use crate::domain::timestamp::Timestamp;

/// A workspace has at most this many endpoints.
pub const MAX_ENDPOINTS_PER_WORKSPACE: u64 = 10;
/// Longest endpoint URL and description accepted.
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// After a rotation the old secret signs too, this long.
pub const PREVIOUS_SECRET_SECONDS: i64 = 24 * 3600;
/// Deliveries and their attempts are kept this long (the table's TTL).
pub const DELIVERY_RETENTION_SECONDS: i64 = 30 * 86_400;
/// The secret's random part: 32 bytes (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
const SECRET_PREFIX: &str = "whsec_";

impl DeliveryId {
    /// The delivery of `event` to `endpoint`: the same id however often the change stream hands
    /// the event over, so a redelivered stream record creates no second delivery. A UUIDv7
    /// with the event's own time (its id is a UUIDv7) and the rest from a hash of both ids.
    pub fn for_event(event: AuditEventId, endpoint: WebhookId) -> Self {
        let digest = Sha256::new()
            .chain_update(event.as_uuid().as_bytes())
            .chain_update(endpoint.as_uuid().as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&event.as_uuid().as_bytes()[..6]);
        bytes[6..].copy_from_slice(&digest[..10]);
        bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        Self::from(Uuid::from_bytes(bytes))
    }
}

/// What an endpoint can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEventType {
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.updated")]
    ApiKeyUpdated,
    #[serde(rename = "api_key.rotated")]
    ApiKeyRotated,
    #[serde(rename = "api_key.deactivated")]
    ApiKeyDeactivated,
    #[serde(rename = "api_key.leak_reported")]
    ApiKeyLeakReported,
    #[serde(rename = "api_key.expiring")]
    ApiKeyExpiring,
    /// `POST /webhooks/{id}/test`: sent to that endpoint whatever it subscribes to.
    #[serde(rename = "webhook.test")]
    WebhookTest,
    /// The endpoint was disabled after days of failures: sent to it once, whatever it
    /// subscribes to.
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
}

impl WebhookEventType {
    /// The types an endpoint may subscribe to, and the default subscription.
    pub const SUBSCRIBABLE: [WebhookEventType; 6] = [
        WebhookEventType::ApiKeyCreated,
        WebhookEventType::ApiKeyUpdated,
        WebhookEventType::ApiKeyRotated,
        WebhookEventType::ApiKeyDeactivated,
        WebhookEventType::ApiKeyLeakReported,
        WebhookEventType::ApiKeyExpiring,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            WebhookEventType::ApiKeyCreated => "api_key.created",
            WebhookEventType::ApiKeyUpdated => "api_key.updated",
            WebhookEventType::ApiKeyRotated => "api_key.rotated",
            WebhookEventType::ApiKeyDeactivated => "api_key.deactivated",
            WebhookEventType::ApiKeyLeakReported => "api_key.leak_reported",
            WebhookEventType::ApiKeyExpiring => "api_key.expiring",
            WebhookEventType::WebhookTest => "webhook.test",
            WebhookEventType::WebhookDisabled => "webhook.disabled",
        }
    }

    /// A subscribable type by its name.
    pub fn parse_subscribable(raw: &str) -> Option<Self> {
        Self::SUBSCRIBABLE.into_iter().find(|t| t.as_str() == raw)
    }

    /// The webhook event an audit event announces, if any.
    pub fn of_audit(event: AuditEventType) -> Option<Self> {
        match event {
            AuditEventType::ApiKeyCreated => Some(WebhookEventType::ApiKeyCreated),
            AuditEventType::ApiKeyUpdated => Some(WebhookEventType::ApiKeyUpdated),
            AuditEventType::ApiKeyRotated => Some(WebhookEventType::ApiKeyRotated),
            AuditEventType::ApiKeyDeactivated => Some(WebhookEventType::ApiKeyDeactivated),
            AuditEventType::ApiKeyLeakReported => Some(WebhookEventType::ApiKeyLeakReported),
            AuditEventType::ApiKeyExpiring => Some(WebhookEventType::ApiKeyExpiring),
            _ => None,
        }
    }

    pub fn parse_any(raw: &str) -> Option<Self> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([
                WebhookEventType::WebhookTest,
                WebhookEventType::WebhookDisabled,
            ])
            .find(|t| t.as_str() == raw)
    }
}

/// An endpoint's signing secret: `whsec_` + base64 of 32 random bytes. Stored as is (we sign
/// with it, so it cannot be hashed) and shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))))
    }

    /// A stored secret, or a test's: anything `whsec_` + base64.
    pub fn from_stored(raw: String) -> Option<Self> {
        let secret = Self(raw);
        secret.key().map(|_| secret)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The HMAC key: the base64 after the prefix.
    fn key(&self) -> Option<Vec<u8>> {
        let encoded = self.0.strip_prefix(SECRET_PREFIX)?;
        STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
    }

    /// `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = self.key().unwrap_or_default();
        let mut message = Vec::with_capacity(id.len() + body.len() + 24);
        message.extend_from_slice(format!("{id}.{timestamp}.").as_bytes());
        message.extend_from_slice(body);
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key),
            &message,
        );
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    }
}

/// The `webhook-signature` header: one signature per secret, space-separated (the
/// specification's way of signing with the new and the old secret during a rotation).
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// Its owner disabled it.
    Manual,
    /// It answered `410 Gone`.
    Gone,
    /// Every attempt failed for `WebhookSettings::disable_after_seconds`.
    Failing,
}

impl DisabledReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Gone => "gone",
            DisabledReason::Failing => "failing",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Manual, Self::Gone, Self::Failing]
            .into_iter()
            .find(|r| r.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    pub description: Option<String>,
    /// `None` while enabled.
    pub disabled: Option<DisabledReason>,
    pub secret: WebhookSecret,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<(WebhookSecret, Timestamp)>,
    /// Since when every attempt has failed (`None` after a success).
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped by every change: the store's optimistic lock.
    pub version: u64,
}

impl WebhookEndpoint {
    pub fn is_enabled(&self) -> bool {
        self.disabled.is_none()
    }

    /// Whether `event` goes to this endpoint.
    pub fn wants(&self, event: WebhookEventType) -> bool {
        self.is_enabled() && self.events.contains(&event)
    }

    /// The secrets that sign a delivery at `now`: the current one, then the previous one
    /// within its overlap.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&WebhookSecret> {
        let mut secrets = vec![&self.secret];
        if let Some((previous, until)) = &self.previous_secret {
            if now < *until {
                secrets.push(previous);
            }
        }
        secrets
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One try: when, what came back (a status code, or why none did) and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint_id: WebhookId,
    pub workspace_id: WorkspaceId,
    pub event_type: WebhookEventType,
    /// The exact body sent on every attempt.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Delivery {
    /// A delivery not tried yet.
    pub fn new(
        id: DeliveryId,
        endpoint: &WebhookEndpoint,
        event_type: WebhookEventType,
        body: String,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            endpoint_id: endpoint.id,
            workspace_id: endpoint.workspace_id,
            event_type,
            body,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(now),
            created_at: now,
        }
    }

    /// The delivery after `attempt`: succeeded, retried after the schedule's next delay
    /// (`jitter` in [-1, 1] scales it by up to ±10 %), or failed once the schedule is spent or
    /// when `permanent` (the endpoint is gone or disabled).
    pub fn after_attempt(
        &self,
        attempt: Attempt,
        schedule: &RetrySchedule,
        permanent: bool,
        jitter: f64,
    ) -> Self {
        let mut next = self.clone();
        let at = attempt.at;
        let succeeded = attempt.succeeded();
        next.attempts.push(attempt);
        let retry_delay = schedule.delay_after(next.attempts.len(), jitter);
        (next.status, next.next_attempt_at) = match (succeeded, permanent, retry_delay) {
            (true, _, _) => (DeliveryStatus::Succeeded, None),
            // Times are whole seconds, rounded down: one more keeps every wait at least its
            // delay (a delay of 0 means at once).
            (false, false, Some(delay)) => (
                DeliveryStatus::Pending,
                Some(at.plus_seconds(delay + i64::from(delay > 0))),
            ),
            _ => (DeliveryStatus::Failed, None),
        };
        next
    }

    pub fn retain_until(&self) -> Timestamp {
        self.created_at.plus_seconds(DELIVERY_RETENTION_SECONDS)
    }
}

/// The delays between attempts, in seconds: the first retry waits `delays[0]`, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<u64>,
}

impl RetrySchedule {
    /// About 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 8 attempts over some 27 hours.
    pub fn deployed() -> Self {
        Self {
            delays: vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000],
        }
    }

    /// `"5,300,1800"`: whole seconds, at least one.
    pub fn parse(raw: &str) -> Option<Self> {
        let delays = raw
            .split(',')
            .map(|part| part.trim().parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()?;
        (!delays.is_empty()).then_some(Self { delays })
    }

    /// The wait after the `attempts_made`-th attempt, or `None` once none is left.
    pub fn delay_after(&self, attempts_made: usize, jitter: f64) -> Option<i64> {
        let base = *self.delays.get(attempts_made.checked_sub(1)?)?;
        let jittered = base as f64 * (1.0 + 0.1 * jitter.clamp(-1.0, 1.0));
        Some(jittered.round().max(if base == 0 { 0.0 } else { 1.0 }) as i64)
    }
}

/// The endpoint's state once an attempt has ended: the failing streak starts, goes on or
/// ends; and whether it is now disabled (`Gone` at a 410, `Failing` once the streak has
/// lasted `disable_after_seconds`). `None` when nothing changes.
pub fn endpoint_after_attempt(
    endpoint: &WebhookEndpoint,
    attempt: &Attempt,
    disable_after_seconds: i64,
) -> Option<WebhookEndpoint> {
    let mut next = endpoint.clone();
    if attempt.succeeded() {
        next.failing_since = None;
    } else {
        let since = *next.failing_since.get_or_insert(attempt.at);
        if next.disabled.is_none() {
            if attempt.status_code == Some(410) {
                next.disabled = Some(DisabledReason::Gone);
            } else if attempt.at.unix() - since.unix() >= disable_after_seconds {
                next.disabled = Some(DisabledReason::Failing);
            }
        }
    }
    if next.failing_since == endpoint.failing_since && next.disabled == endpoint.disabled {
        return None;
    }
    next.updated_at = if next.disabled != endpoint.disabled {
        attempt.at
    } else {
        endpoint.updated_at
    };
    Some(next)
}

/// When a key's next expiry reminder is due, after `after`: 7 days before it expires, then 1
/// day before; none once both have passed.
pub fn next_expiry_reminder(expires_at: Timestamp, after: Timestamp) -> Option<Timestamp> {
    [7 * 86_400, 86_400]
        .into_iter()
        .map(|lead| expires_at.plus_seconds(-lead))
        .find(|due| *due > after)
}

/// How many days ahead a reminder due at `due` announces (7 or 1).
pub fn reminder_days(expires_at: Timestamp, due: Timestamp) -> i64 {
    if expires_at.unix() - due.unix() > 86_400 {
        7
    } else {
        1
    }
}

/// What a client sees of an endpoint (never a secret), in the API and in `webhook.disabled`.
pub fn endpoint_view(endpoint: &WebhookEndpoint) -> serde_json::Value {
    serde_json::json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "status": if endpoint.is_enabled() { "enabled" } else { "disabled" },
        "disabled_reason": endpoint.disabled.map(|r| r.as_str()),
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    })
}

/// What a client sees of a delivery: its body stays with us.
pub fn delivery_view(delivery: &Delivery) -> serde_json::Value {
    serde_json::json!({
        "id": delivery.id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
    })
}

/// The body of a delivery: `{"type", "timestamp", "data"}`.
pub fn payload(
    event_type: WebhookEventType,
    timestamp: Timestamp,
    data: serde_json::Value,
) -> String {
    serde_json::json!({ "type": event_type, "timestamp": timestamp, "data": data }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(now: Timestamp) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookId::new(),
            workspace_id: WorkspaceId::new(),
            url: "https://example.com/hook".into(),
            events: WebhookEventType::SUBSCRIBABLE.to_vec(),
            description: None,
            disabled: None,
            secret: WebhookSecret::generate().unwrap(),
            previous_secret: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    fn attempt(at: i64, status: Option<u16>) -> Attempt {
        Attempt {
            at: Timestamp::from_unix(at),
            status_code: status,
            error: status.is_none().then(|| "connection refused".into()),
            duration_ms: 3,
        }
    }

    #[test]
    fn the_signature_matches_the_specifications_test_vector() {
        let secret =
            WebhookSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()).unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotated_endpoint_signs_with_both_secrets_for_a_day_then_with_the_new_one() {
        let now = Timestamp::from_unix(1_000_000);
        let mut e = endpoint(now);
        let old = e.secret.clone();
        e.secret = WebhookSecret::generate().unwrap();
        e.previous_secret = Some((old.clone(), now.plus_seconds(PREVIOUS_SECRET_SECONDS)));
        let header = signature_header(&e.signing_secrets(now), "id", 5, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            [e.secret.sign("id", 5, b"{}"), old.sign("id", 5, b"{}")]
        );
        let later = now.plus_seconds(PREVIOUS_SECRET_SECONDS);
        assert_eq!(e.signing_secrets(later).len(), 1);
    }

    #[test]
    fn secrets_are_whsec_and_base64_of_32_random_bytes() {
        let a = WebhookSecret::generate().unwrap();
        let b = WebhookSecret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.key().unwrap().len(), 32);
        assert!(a.as_str().starts_with("whsec_"));
        assert!(WebhookSecret::from_stored("whsec_".into()).is_none());
        assert!(WebhookSecret::from_stored("sk_abc".into()).is_none());
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn a_delivery_id_is_the_same_for_one_event_and_endpoint_and_sorts_by_the_events_time() {
        let event = AuditEventId::new();
        let endpoint = WebhookId::new();
        let id = DeliveryId::for_event(event, endpoint);
        assert_eq!(id, DeliveryId::for_event(event, endpoint));
        assert_ne!(id, DeliveryId::for_event(event, WebhookId::new()));
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(id.to_string()[..13], event.to_string()[..13]);
        assert_eq!(id.to_string().parse::<DeliveryId>(), Ok(id));
    }

    #[test]
    fn failures_retry_on_the_schedule_and_end_failed_when_it_is_spent() {
        let schedule = RetrySchedule::parse("1,2").unwrap();
        let now = Timestamp::from_unix(100);
        let e = endpoint(now);
        let d = Delivery::new(
            DeliveryId::new(),
            &e,
            WebhookEventType::WebhookTest,
            "{}".into(),
            now,
        );
        let d = d.after_attempt(attempt(100, Some(500)), &schedule, false, 0.0);
        assert_eq!(
            (d.status, d.next_attempt_at),
            (DeliveryStatus::Pending, Some(Timestamp::from_unix(102)))
        );
        let d = d.after_attempt(attempt(101, None), &schedule, false, 0.0);
        assert_eq!(d.next_attempt_at, Some(Timestamp::from_unix(104)));
        let d = d.after_attempt(attempt(103, Some(503)), &schedule, false, 0.0);
        assert_eq!(
            (d.status, d.next_attempt_at, d.attempts.len()),
            (DeliveryStatus::Failed, None, 3)
        );
        let done = Delivery::new(
            DeliveryId::new(),
            &e,
            WebhookEventType::WebhookTest,
            "{}".into(),
            now,
        )
        .after_attempt(attempt(100, Some(204)), &schedule, false, 0.0);
        assert_eq!(done.status, DeliveryStatus::Succeeded);
        let gone = Delivery::new(
            DeliveryId::new(),
            &e,
            WebhookEventType::WebhookTest,
            "{}".into(),
            now,
        )
        .after_attempt(attempt(100, Some(410)), &schedule, true, 0.0);
        assert_eq!(gone.status, DeliveryStatus::Failed);
    }

    #[test]
    fn the_deployed_schedule_is_eight_attempts_over_more_than_a_day_with_jitter_of_ten_percent() {
        let schedule = RetrySchedule::deployed();
        let total: i64 = (1..=7).map(|n| schedule.delay_after(n, 0.0).unwrap()).sum();
        assert!(total > 86_400, "{total}");
        assert_eq!(schedule.delay_after(8, 0.0), None);
        assert_eq!(schedule.delay_after(2, 1.0), Some(330));
        assert_eq!(schedule.delay_after(2, -1.0), Some(270));
        assert_eq!(schedule.delay_after(0, 0.0), None);
        assert!(RetrySchedule::parse("").is_none());
        assert!(RetrySchedule::parse("1,x").is_none());
    }

    #[test]
    fn a_410_disables_at_once_and_five_days_of_failures_disable_too() {
        let now = Timestamp::from_unix(0);
        let e = endpoint(now);
        let gone = endpoint_after_attempt(&e, &attempt(10, Some(410)), 432_000).unwrap();
        assert_eq!(gone.disabled, Some(DisabledReason::Gone));

        let failing = endpoint_after_attempt(&e, &attempt(10, Some(500)), 432_000).unwrap();
        assert_eq!(
            (failing.failing_since, failing.disabled),
            (Some(Timestamp::from_unix(10)), None)
        );
        assert!(endpoint_after_attempt(&failing, &attempt(400_000, None), 432_000).is_none());
        let disabled =
            endpoint_after_attempt(&failing, &attempt(432_010, Some(502)), 432_000).unwrap();
        assert_eq!(disabled.disabled, Some(DisabledReason::Failing));

        let recovered =
            endpoint_after_attempt(&failing, &attempt(400_000, Some(200)), 432_000).unwrap();
        assert_eq!((recovered.failing_since, recovered.disabled), (None, None));
        assert!(endpoint_after_attempt(&e, &attempt(5, Some(200)), 432_000).is_none());
    }

    #[test]
    fn reminders_come_seven_days_then_one_day_before_expiry() {
        let expiry = Timestamp::from_unix(30 * 86_400);
        let created = Timestamp::from_unix(0);
        let first = next_expiry_reminder(expiry, created).unwrap();
        assert_eq!(first.unix(), 23 * 86_400);
        assert_eq!(reminder_days(expiry, first), 7);
        let second = next_expiry_reminder(expiry, first).unwrap();
        assert_eq!(second.unix(), 29 * 86_400);
        assert_eq!(reminder_days(expiry, second), 1);
        assert_eq!(next_expiry_reminder(expiry, second), None);
        // A key made to live less than a day gets no reminder.
        assert_eq!(
            next_expiry_reminder(Timestamp::from_unix(3600), created),
            None
        );
    }

    #[test]
    fn only_the_six_key_events_are_subscribable() {
        for t in WebhookEventType::SUBSCRIBABLE {
            assert_eq!(WebhookEventType::parse_subscribable(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(WebhookEventType::parse_subscribable("webhook.test"), None);
        assert_eq!(
            WebhookEventType::parse_any("webhook.test"),
            Some(WebhookEventType::WebhookTest)
        );
        assert_eq!(WebhookEventType::parse_subscribable("message.sent"), None);
    }
}
