//! `POST /api/v1/messages/send`: validates and queues a message for the key's workspace.
//! With an `Idempotency-Key`, a retry of the same request within 24 hours returns the first
//! response and creates nothing; the same key with another body is a 422.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use yebolink_shared::domain::account::Email;
use yebolink_shared::domain::ids::MessageId;
use yebolink_shared::domain::message::{
    is_e164, sms_segments, Channel, IdempotencyRecord, MessageRecord, MAX_SUBJECT_CHARS,
    MAX_TEXT_CHARS,
};
use yebolink_shared::domain::scopes::Scope;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::window::Quota;
use yebolink_shared::http::app::App;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::gate::{admit_then, with_monthly_quota, with_quota};
use yebolink_shared::http::request::{json_object, JsonObject};
use yebolink_shared::http::response::{failure, with_json};
use yebolink_shared::http::views;
use yebolink_shared::services::auth::KeyCaller;
use yebolink_shared::services::ratelimit::{
    count_monthly_send, monthly_standing, uncount_monthly_send,
};
use yebolink_shared::storage::messages::SendOutcome;
use yebolink_shared::storage::Store;

pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The write happens only for an admitted request (`http::gate::admit_then`). Every admitted
/// send of a key with a monthly limit answers with its `X-Quota-*` headers.
pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    let send = async |key: &KeyCaller| {
        let (monthly, result) = send_message(app, &req, key).await;
        let response = result.unwrap_or_else(|err| failure(&err));
        with_monthly_standing(app, key, monthly, response).await
    };
    match admit_then(app, &req, Scope::SendMessages, send).await {
        Ok((quota, response)) => with_quota(quota, response),
        Err(refusal) => refusal,
    }
}

/// `response` with the key's monthly standing: the one its send was counted at, or (for a
/// send refused before it was counted) as read now. Nothing for a key without a limit.
async fn with_monthly_standing<S: Store>(
    app: &App<S>,
    key: &KeyCaller,
    counted: Option<Quota>,
    response: Response<Body>,
) -> Response<Body> {
    if key.monthly_send_limit.is_none() {
        return response;
    }
    let standing = match counted {
        Some(quota) => Some(quota),
        None => monthly_standing(&app.store, key, Timestamp::now())
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "could not read the monthly send count");
                None
            }),
    };
    match standing {
        Some(quota) => with_monthly_quota(quota, response),
        None => response,
    }
}

/// A send request that passed validation.
struct Draft {
    to: String,
    channel: Channel,
    text: String,
    subject: Option<String>,
}

impl Draft {
    fn parse(body: &JsonObject) -> Result<Self, ApiError> {
        let channel_raw = body.required_str("channel")?;
        let channel = Channel::parse(channel_raw)
            .ok_or_else(|| ApiError::field("channel", "must be sms, whatsapp or email"))?;
        let to_raw = body.required_str("to")?.trim();
        let to = match channel {
            Channel::Sms | Channel::Whatsapp if is_e164(to_raw) => to_raw.to_owned(),
            Channel::Sms | Channel::Whatsapp => {
                return Err(ApiError::field(
                    "to",
                    "must be an E.164 phone number, e.g. +26876123456",
                ))
            }
            Channel::Email => Email::parse(to_raw)
                .map_err(|problem| ApiError::field("to", problem))?
                .as_str()
                .to_owned(),
        };
        let content = body.required_object("content")?;
        let text = content.required_str("text")?;
        let text_chars = text.chars().count();
        if text.trim().is_empty() || text_chars > MAX_TEXT_CHARS {
            return Err(ApiError::field(
                "content.text",
                "must be 1 to 1600 characters",
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ApiError::field(
                "content.text",
                "must not contain control characters",
            ));
        }
        let subject = match (channel, content.optional_str("subject")?) {
            (Channel::Email, None) => {
                return Err(ApiError::field("content.subject", "is required for email"))
            }
            (Channel::Email, Some(subject)) => {
                let subject = subject.trim();
                if subject.is_empty()
                    || subject.chars().count() > MAX_SUBJECT_CHARS
                    || subject.chars().any(char::is_control)
                {
                    return Err(ApiError::field(
                        "content.subject",
                        "must be 1 to 200 characters without control characters",
                    ));
                }
                Some(subject.to_owned())
            }
            (_, Some(_)) => {
                return Err(ApiError::field(
                    "content.subject",
                    "is only allowed for email",
                ))
            }
            (_, None) => None,
        };
        Ok(Self {
            to,
            channel,
            text: text.to_owned(),
            subject,
        })
    }

    /// Identifies the request for idempotency: same fields, same fingerprint.
    fn fingerprint(&self) -> String {
        let canonical = json!([self.to, self.channel, self.text, self.subject]).to_string();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|v| {
            (1..=255).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        })
        .map(|v| Some(v.to_owned()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })
}

/// The send, and where the key stands against its monthly limit once this send was counted
/// (`None`: no limit, or refused before counting).
async fn send_message<S: Store>(
    app: &App<S>,
    req: &Request,
    key: &KeyCaller,
) -> (Option<Quota>, Result<Response<Body>, ApiError>) {
    let now = Timestamp::now();
    let (idempotency_key, draft) =
        match idempotency_key(req).and_then(|idem| Ok((idem, Draft::parse(&json_object(req)?)?))) {
            Ok(valid) => valid,
            Err(err) => return (None, Err(err)),
        };
    // The monthly limit is counted last before the write, for a valid send only: one
    // conditional write that lets exactly the limit through, however many race for it.
    let monthly = match count_monthly_send(&app.store, key, now).await {
        Ok(None) => None,
        Ok(Some((quota, Ok(())))) => Some(quota),
        Ok(Some((quota, Err(refusal)))) => {
            // A retry of a send that was made still gets its first answer.
            let replay = replay_of(app, key, idempotency_key.as_deref(), &draft, now).await;
            return (
                Some(quota),
                replay.and_then(|first| first.ok_or(refusal.into())),
            );
        }
        Err(err) => return (None, Err(err.into())),
    };
    let sent = write_message(app, key, idempotency_key, draft, now).await;
    match (&sent, monthly) {
        // A replay sent nothing new, and a refused one nothing at all: the count goes back.
        (Ok(Written::Replayed(_)) | Err(ApiError::IdempotencyConflict), Some(quota)) => {
            if let Err(err) = uncount_monthly_send(&app.store, key, now).await {
                tracing::warn!(error = %err, "a replayed send stays counted for the month");
            }
            let back = Quota {
                remaining: (quota.remaining + 1).min(quota.limit),
                ..quota
            };
            (Some(back), sent.map(Written::into_response))
        }
        _ => (monthly, sent.map(Written::into_response)),
    }
}

/// The first answer to this `Idempotency-Key`, if it was a send of the same message.
async fn replay_of<S: Store>(
    app: &App<S>,
    key: &KeyCaller,
    idempotency_key: Option<&str>,
    draft: &Draft,
    now: Timestamp,
) -> Result<Option<Response<Body>>, ApiError> {
    let Some(idempotency_key) = idempotency_key else {
        return Ok(None);
    };
    let first = app
        .store
        .find_idempotency_record(key.workspace_id, idempotency_key, now)
        .await?;
    match first {
        Some(first) if first.request_hash == draft.fingerprint() => {
            let status = StatusCode::from_u16(first.status).map_err(|_| ApiError::Internal)?;
            Ok(Some(with_json(status, first.body)))
        }
        Some(_) => Err(ApiError::IdempotencyConflict),
        None => Ok(None),
    }
}

/// A send's write: a new message, or the first response to the same `Idempotency-Key`.
enum Written {
    Created(Response<Body>),
    Replayed(Response<Body>),
}

impl Written {
    fn into_response(self) -> Response<Body> {
        match self {
            Written::Created(response) | Written::Replayed(response) => response,
        }
    }
}

async fn write_message<S: Store>(
    app: &App<S>,
    key: &KeyCaller,
    idempotency_key: Option<String>,
    draft: Draft,
    now: Timestamp,
) -> Result<Written, ApiError> {
    let segments = if draft.channel == Channel::Sms {
        sms_segments(&draft.text)
    } else {
        1
    };
    let fingerprint = draft.fingerprint();
    let message = MessageRecord {
        id: MessageId::new(),
        workspace_id: key.workspace_id,
        key_id: key.key_id,
        to: draft.to,
        channel: draft.channel,
        text: draft.text,
        subject: draft.subject,
        status: "queued".to_owned(),
        segments,
        created_at: now,
    };
    let body = json!({ "success": true, "data": views::message(&message) }).to_string();
    let idempotency = idempotency_key.map(|idem_key| IdempotencyRecord {
        workspace_id: key.workspace_id,
        key: idem_key,
        request_hash: fingerprint.clone(),
        status: StatusCode::CREATED.as_u16(),
        body: body.clone(),
        expires_at: now.plus_seconds(IDEMPOTENCY_TTL_SECONDS),
    });
    match app
        .store
        .put_message(&message, idempotency.as_ref(), now)
        .await?
    {
        SendOutcome::Created => {
            tracing::info!(message_id = %message.id, key_id = %key.key_id, channel = message.channel.as_str(), "message queued");
            Ok(Written::Created(with_json(StatusCode::CREATED, body)))
        }
        SendOutcome::Replayed(first) if first.request_hash == fingerprint => {
            let status = StatusCode::from_u16(first.status).map_err(|_| ApiError::Internal)?;
            Ok(Written::Replayed(with_json(status, first.body)))
        }
        SendOutcome::Replayed(_) => Err(ApiError::IdempotencyConflict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use yebolink_shared::domain::ids::WorkspaceId;
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::services::auth::Principal;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{app, assert_error, authorized, body_json, key_caller, request};

    fn send(key: &KeyCaller, body: Value) -> Request {
        authorized(
            request("POST", "/api/v1/messages/send", Some(body)),
            &Principal::ApiKey(key.clone()),
        )
    }

    fn sms(text: &str) -> Value {
        json!({"to": "+26876123456", "channel": "sms", "content": {"text": text}})
    }

    #[tokio::test]
    async fn a_valid_sms_is_queued_with_its_segment_count_and_rate_headers() {
        let app = app();
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        let response = handle(&app, send(&key, sms(&"a".repeat(161)))).await;
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-ratelimit-limit"], "5");
        assert_eq!(response.headers()["x-ratelimit-remaining"], "4");
        let data = &body_json(&response)["data"];
        assert_eq!(data["status"], "queued");
        assert_eq!(data["segments"], 2);
        assert_eq!(data["channel"], "sms");
        let id = data["id"].as_str().unwrap().parse().unwrap();
        assert!(app
            .store
            .get_message(key.workspace_id, id)
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn invalid_messages_are_400s_naming_the_field_and_store_nothing() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 100;
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        for (field, body) in [
            (
                "to",
                json!({"to": "12345", "channel": "sms", "content": {"text": "hi"}}),
            ),
            (
                "channel",
                json!({"to": "+26876123456", "channel": "fax", "content": {"text": "hi"}}),
            ),
            (
                "content.subject",
                json!({"to": "a@b.io", "channel": "email", "content": {"text": "hi"}}),
            ),
            (
                "content.text",
                json!({"to": "+26876123456", "channel": "sms", "content": {"text": "x".repeat(1601)}}),
            ),
            (
                "content.text",
                json!({"to": "+26876123456", "channel": "sms", "content": {"text": "nul\u{0}"}}),
            ),
            ("content", json!({"to": "+26876123456", "channel": "sms"})),
        ] {
            let response = handle(&app, send(&key, body)).await;
            assert_error(&response, 400, "validation_error");
            assert!(body_json(&response)["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field));
            assert!(response.headers().contains_key("x-ratelimit-remaining"));
        }
        let page = app
            .store
            .list_messages(key.workspace_id, 100, None)
            .await
            .unwrap();
        assert!(page.messages.is_empty());
    }

    #[tokio::test]
    async fn a_read_only_key_cannot_send() {
        let app = app();
        let key = key_caller(
            WorkspaceId::new(),
            Scopes::from_stored("read_messages").unwrap(),
        );
        let response = handle(&app, send(&key, sms("hi"))).await;
        assert_error(&response, 403, "insufficient_scope");
        assert!(response.headers().contains_key("x-ratelimit-limit"));
    }

    #[tokio::test]
    async fn the_request_after_the_limit_is_429_with_retry_after() {
        let app = app();
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        for _ in 0..5 {
            assert_eq!(handle(&app, send(&key, sms("hi"))).await.status(), 201);
        }
        let response = handle(&app, send(&key, sms("hi"))).await;
        assert_error(&response, 429, "rate_limited");
        assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
        assert!(response.headers().contains_key("retry-after"));
    }

    #[tokio::test]
    async fn same_idempotency_key_replays_and_a_different_body_conflicts() {
        let app = app();
        let key = key_caller(WorkspaceId::new(), Scopes::all());
        let with_key = |body: Value, idem: &str| {
            let mut req = send(&key, body);
            req.headers_mut()
                .insert("idempotency-key", idem.parse().unwrap());
            req
        };
        let first = handle(&app, with_key(sms("once"), "order-42")).await;
        let again = handle(&app, with_key(sms("once"), "order-42")).await;
        assert_eq!(first.status(), 201);
        assert_eq!(again.status(), 201);
        assert_eq!(body_json(&first), body_json(&again));
        let page = app
            .store
            .list_messages(key.workspace_id, 100, None)
            .await
            .unwrap();
        assert_eq!(page.messages.len(), 1);

        let conflict = handle(&app, with_key(sms("twice"), "order-42")).await;
        assert_error(&conflict, 422, "idempotency_conflict");
    }

    /// Issue 25: a monthly limit admits exactly its count, answers every admitted send with
    /// where the key stands, and a replay or an invalid send does not use it up.
    #[tokio::test]
    async fn a_monthly_limit_admits_its_count_and_every_send_shows_the_standing() {
        let mut app = app();
        app.limits.rate_limit_per_minute = 100;
        let key = KeyCaller {
            monthly_send_limit: Some(2),
            ..key_caller(WorkspaceId::new(), Scopes::all())
        };
        let quota = |response: &Response<Body>| {
            let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
            (header("x-quota-limit"), header("x-quota-remaining"))
        };
        let first = handle(&app, send(&key, sms("one"))).await;
        assert_eq!(first.status(), 201);
        assert_eq!(quota(&first), ("2".into(), "1".into()));

        let mut again = send(&key, sms("two"));
        again
            .headers_mut()
            .insert("idempotency-key", "order-2".parse().unwrap());
        let second = handle(&app, again).await;
        assert_eq!(quota(&second), ("2".into(), "0".into()));
        let mut replay = send(&key, sms("two"));
        replay
            .headers_mut()
            .insert("idempotency-key", "order-2".parse().unwrap());
        let replayed = handle(&app, replay).await;
        assert_eq!(replayed.status(), 201, "the first answer again");
        assert_eq!(
            quota(&replayed),
            ("2".into(), "0".into()),
            "a replay is not a send"
        );

        let invalid = handle(&app, send(&key, json!({"channel": "fax"}))).await;
        assert_eq!(invalid.status(), 400);
        assert_eq!(quota(&invalid), ("2".into(), "0".into()));

        let refused = handle(&app, send(&key, sms("three"))).await;
        assert_error(&refused, 429, "quota_exceeded");
        assert_eq!(quota(&refused), ("2".into(), "0".into()));
        let retry: i64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let (_, month_end) = yebolink_shared::domain::window::calendar_month(Timestamp::now());
        assert!(
            (month_end - Timestamp::now().unix() - retry).abs() <= 2,
            "until the month ends"
        );
        let page = app
            .store
            .list_messages(key.workspace_id, 10, None)
            .await
            .unwrap();
        assert_eq!(page.messages.len(), 2, "the refused send stored nothing");
    }
}
