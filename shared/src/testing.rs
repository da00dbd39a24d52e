//! Helpers for handler unit tests (feature `testing`): an `App` over `MemoryStore`, request
//! builders that carry an authorizer context exactly as API Gateway passes it, and seeded keys.

use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use crate::bootstrap::config::Config;
use crate::domain::account::{DisplayName, NewAccount};
use crate::domain::api_key::ApiKeyRecord;
use crate::domain::audit::{Actor, AuditEvent, AuditEventType, RequestOrigin, Target};
use crate::domain::ids::{KeyId, UserId, WorkspaceId};
use crate::domain::keys::ApiKeySecret;
use crate::domain::policy::KeyPolicy;
use crate::domain::scopes::{Scope, Scopes};
use crate::domain::timestamp::Timestamp;
use crate::http::app::App;
use crate::http::gate::admit;
use crate::services::auth::{context_for, verify_api_key, KeyCaller, Principal, UserCaller};
use crate::services::jwt::JwtKeys;
use crate::storage::keys::KeyStore;
use crate::storage::memory::MemoryStore;

pub const TEST_JWT_SECRET: &[u8] = b"unit-test-secret-unit-test-secret-0123";

pub fn config() -> Config {
    let mut config = Config::from_lookup(|name| (name == "TABLE_NAME").then(|| "test".into()))
        .expect("test config");
    config.limits.rate_limit_per_minute = 5;
    config
}

/// An app over an empty in-memory store, with JWT keys, inline auth off (as deployed).
pub fn app() -> App<MemoryStore> {
    let config = config();
    App {
        store: MemoryStore::new(),
        jwt: Some(JwtKeys::new(TEST_JWT_SECRET, &config.tokens)),
        limits: config.limits,
        local_inline_auth: config.local_inline_auth,
    }
}

pub fn request(method: &str, path: &str, body: Option<Value>) -> Request {
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .body(body)
        .expect("valid test request")
}

/// `req` as API Gateway delivers it after the authorizer allowed `principal`.
pub fn authorized(req: Request, principal: &Principal) -> Request {
    let mut context = ApiGatewayProxyRequestContext::default();
    context.authorizer.fields = context_for(principal);
    req.with_request_context(RequestContext::ApiGatewayV1(context))
}

pub fn user() -> UserCaller {
    UserCaller {
        user_id: UserId::new(),
        workspace_id: WorkspaceId::new(),
    }
}

pub fn key_caller(workspace_id: WorkspaceId, scopes: Scopes) -> KeyCaller {
    KeyCaller::new(KeyId::new(), workspace_id, scopes)
}

/// Stores a new active key for `workspace_id`; returns the full secret and the record.
pub async fn seed_key(
    store: &impl KeyStore,
    workspace_id: WorkspaceId,
    scopes: Scopes,
) -> (String, ApiKeyRecord) {
    let secret = ApiKeySecret::generate().expect("randomness");
    let id = KeyId::new();
    let record = ApiKeyRecord {
        id,
        workspace_id,
        name: DisplayName::from_stored("seeded".into()),
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        scopes,
        is_active: true,
        last_used_at: None,
        created_at: Timestamp::now(),
        expires_at: None,
        replaced_by: None,
        rotated_from: None,
        policy: KeyPolicy::default(),
        quota_id: id,
        last_used_ip: None,
    };
    store
        .create_api_key(&record, u64::MAX, &created_event(&record))
        .await
        .expect("seed key");
    (secret.expose_once(), record)
}

/// The event a key's creation records.
pub fn created_event(key: &ApiKeyRecord) -> AuditEvent {
    event(AuditEventType::ApiKeyCreated, Target::api_key(key))
}

/// The event a key's deactivation records.
pub fn deactivated_event(key: &ApiKeyRecord) -> AuditEvent {
    event(AuditEventType::ApiKeyDeactivated, Target::api_key(key))
}

/// The event a registration records.
pub fn registered_event(account: &NewAccount) -> AuditEvent {
    event(
        AuditEventType::UserRegistered,
        Target::User {
            id: account.user_id,
        },
    )
}

/// `n` sends with `key` (whose secret is `secret`), each through the authorizer's check and the
/// messaging gate (`http::gate::admit`), as a request reaches `send-message`.
pub async fn sends(app: &App<MemoryStore>, secret: &str, key: &ApiKeyRecord, n: usize) {
    let caller = KeyCaller::new(key.id, key.workspace_id, key.scopes.clone());
    for _ in 0..n {
        verify_api_key(&app.store, secret, Timestamp::now())
            .await
            .expect("a seeded key verifies");
        let req = authorized(
            request("POST", "/api/v1/messages/send", None),
            &Principal::ApiKey(caller.clone()),
        );
        let _ = admit(app, &req, Scope::SendMessages).await;
    }
}

/// An event of `event_type` about `target`, by some user, now.
pub fn event(event_type: AuditEventType, target: Target) -> AuditEvent {
    AuditEvent::new(
        event_type,
        Actor::User { id: UserId::new() },
        target,
        &RequestOrigin::default(),
        serde_json::json!({}),
        Timestamp::now(),
        400,
    )
}

/// Hex SHA-256, as leak reports name a token.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// One leak report for `token`, as GitHub secret scanning sends it.
pub fn leak_report(token: &str) -> Value {
    serde_json::json!({"token": token, "type": "yebolink_api_key", "url": "https://github.com/o/r/blob/1/f", "source": "content"})
}

/// A report body of `reports`.
pub fn leak_reports_body(reports: &[Value]) -> Vec<u8> {
    Value::Array(reports.to_vec()).to_string().into_bytes()
}

pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

/// Asserts the error envelope, status and code.
pub fn assert_error(response: &Response<Body>, status: u16, code: &str) {
    assert_eq!(
        response.status().as_u16(),
        status,
        "body: {:?}",
        body_json(response)
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = body_json(response);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

/// An enabled endpoint of `workspace_id` to `url`, subscribed to every key event.
pub fn webhook_endpoint(
    workspace_id: WorkspaceId,
    url: &str,
) -> crate::domain::webhook::WebhookEndpoint {
    use crate::domain::webhook::{WebhookEventType, WebhookSecret};
    let now = Timestamp::now();
    crate::domain::webhook::WebhookEndpoint {
        id: crate::domain::ids::WebhookId::new(),
        workspace_id,
        url: url.to_owned(),
        events: WebhookEventType::SUBSCRIBABLE.to_vec(),
        description: None,
        disabled: None,
        secret: WebhookSecret::generate().expect("random bytes"),
        previous_secret: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// A loopback HTTP receiver answering each request with the next of `statuses` (then 200; a
/// 3xx with a `Location` on the same receiver): its URL, and how many requests it has had.
pub async fn answering_receiver(
    statuses: Vec<u16>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!(
        "http://{}/hook",
        listener.local_addr().expect("its address")
    );
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut statuses = statuses.into_iter();
        while let Ok((socket, _)) = listener.accept().await {
            let status = statuses.next().unwrap_or(200);
            seen.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            // The head, then as much body as its Content-Length names.
            loop {
                if socket.readable().await.is_err() {
                    break;
                }
                let mut chunk = [0u8; 4096];
                match socket.try_read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(_) => break,
                }
                let text = String::from_utf8_lossy(&request);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let l = l.to_ascii_lowercase();
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let location = if (300..400).contains(&status) {
                "location: /redirected\r\n"
            } else {
                ""
            };
            let answer = format!(
                "HTTP/1.1 {status} X\r\n{location}content-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = socket.writable().await;
            let _ = socket.try_write(answer.as_bytes());
        }
    });
    (url, count)
}

/// The webhook functions' dependencies as `make test` configures them: loopback URLs only,
/// retries a second apart.
pub fn webhooks() -> crate::services::webhooks::Webhooks {
    use crate::services::webhooks::{Sender, WebhookSettings, Webhooks};
    Webhooks {
        settings: WebhookSettings {
            url_policy: crate::domain::webhook_target::UrlPolicy::Loopback,
            retries: crate::domain::webhook::RetrySchedule::parse("1,1").expect("a schedule"),
            ..WebhookSettings::deployed(400)
        },
        sender: Sender::default(),
    }
}

/// `webhook_endpoint`, stored with its `webhook.created` event.
pub async fn registered_endpoint(
    store: &impl crate::storage::webhooks::WebhookStore,
    workspace_id: WorkspaceId,
    url: &str,
) -> crate::domain::webhook::WebhookEndpoint {
    let endpoint = webhook_endpoint(workspace_id, url);
    let made = event(
        AuditEventType::WebhookCreated,
        Target::Webhook { id: endpoint.id },
    );
    store
        .create_webhook(&endpoint, 10, &made)
        .await
        .expect("the endpoint stored");
    endpoint
}
