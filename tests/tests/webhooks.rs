//! Webhooks (issue 27), end to end: endpoints managed with the JWT, key events delivered to a
//! receiver on loopback that verifies every Standard Webhooks signature itself
//! (`src/webhook_receiver.rs`), retries, `410 Gone`, secret rotation, subscriptions, refused
//! URLs, tenant isolation, the endpoint limit, test sends and manual retries, and the
//! `api_key.expiring` reminder.
//!
//! The local stack runs the functions with `WEBHOOK_URL_POLICY=loopback` and retry delays of
//! 1 s; a stream runner feeds the table's change stream to the dispatcher (within about a
//! second) and runs the scheduler every second. Every wait polls (the receiver every 100 ms,
//! the API every 250 ms) and is bounded ([`WAIT`]); "nothing more arrives" is judged over
//! [`QUIET`]. Each test uses a workspace (and a receiver) of its own.

use std::time::Duration;

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;
use yebolink_blackbox::webhook_receiver::{Received, Receiver};
use yebolink_blackbox::*;

/// The six subscribable types, the default of `events`.
const EVENT_TYPES: [&str; 6] = [
    "api_key.created",
    "api_key.updated",
    "api_key.rotated",
    "api_key.deactivated",
    "api_key.leak_reported",
    "api_key.expiring",
];
/// The fields of every endpoint view; create adds `secret`.
const ENDPOINT_FIELDS: [&str; 8] = [
    "created_at",
    "description",
    "disabled_reason",
    "events",
    "id",
    "status",
    "updated_at",
    "url",
];
const DELIVERY_FIELDS: [&str; 6] = [
    "attempts",
    "created_at",
    "event_type",
    "id",
    "next_attempt_at",
    "status",
];
const ATTEMPT_FIELDS: [&str; 4] = ["at", "duration_ms", "error", "status_code"];
const USER_AGENT: &str = "YeboLink-Webhooks/1";
const DELETED_MESSAGE: &str = "Webhook endpoint deleted";
/// The longest any wait for a delivery or a state takes.
const WAIT: Duration = Duration::from_secs(15);
/// How long "nothing more arrives" is watched for: a few retry delays and scheduler runs.
const QUIET: Duration = Duration::from_secs(3);
const API_POLL: Duration = Duration::from_millis(250);

// ---- the webhook routes ---------------------------------------------------------------------

async fn create_webhook(api: &TestApi, token: &str, body: &Value) -> Reply {
    api.send(
        api.request(Method::POST, "/api/v1/webhooks")
            .bearer_auth(token)
            .json(body),
    )
    .await
}

async fn list_webhooks(api: &TestApi, token: &str) -> Reply {
    api.send(
        api.request(Method::GET, "/api/v1/webhooks")
            .bearer_auth(token),
    )
    .await
}

async fn update_webhook(api: &TestApi, token: &str, id: &str, body: &Value) -> Reply {
    api.send(
        api.request(Method::PATCH, &format!("/api/v1/webhooks/{id}"))
            .bearer_auth(token)
            .json(body),
    )
    .await
}

async fn delete_webhook(api: &TestApi, token: &str, id: &str) -> Reply {
    api.send(
        api.request(Method::DELETE, &format!("/api/v1/webhooks/{id}"))
            .bearer_auth(token),
    )
    .await
}

async fn rotate_secret(api: &TestApi, token: &str, id: &str) -> Reply {
    api.send(
        api.request(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
        )
        .bearer_auth(token),
    )
    .await
}

async fn test_webhook(api: &TestApi, token: &str, id: &str) -> Reply {
    api.send(
        api.request(Method::POST, &format!("/api/v1/webhooks/{id}/test"))
            .bearer_auth(token),
    )
    .await
}

async fn deliveries(api: &TestApi, token: &str, id: &str, query: &[(&str, &str)]) -> Reply {
    api.send(
        api.request(Method::GET, &format!("/api/v1/webhooks/{id}/deliveries"))
            .bearer_auth(token)
            .query(query),
    )
    .await
}

async fn retry_delivery(api: &TestApi, token: &str, id: &str, delivery_id: &str) -> Reply {
    api.send(
        api.request(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry"),
        )
        .bearer_auth(token),
    )
    .await
}

// ---- helpers --------------------------------------------------------------------------------

/// A path of its own on the receiver, so a request's path shows which endpoint it was for.
fn hook_path() -> String {
    format!("/hooks/{}", Uuid::new_v4().simple())
}

/// Creates an endpoint at `receiver` (all events when `events` is `None`), tells the receiver
/// its secret; returns the create answer's `data` (with `secret`).
async fn endpoint_at(
    api: &TestApi,
    token: &str,
    receiver: &Receiver,
    events: Option<&[&str]>,
) -> Value {
    let mut body = json!({"url": receiver.url(&hook_path())});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let created = create_webhook(api, token, &body).await.data(201);
    receiver.accept_secret(str_at(&created, "/secret"));
    created
}

fn sorted(values: &Value) -> Vec<String> {
    let mut items: Vec<String> = values
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {values}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("expected strings in {values}"))
                .to_owned()
        })
        .collect();
    items.sort();
    items
}

fn all_event_types() -> Vec<String> {
    let mut types: Vec<String> = EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect();
    types.sort();
    types
}

fn field_names(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {value}"))
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// An endpoint view: exactly the documented fields, plausible values.
fn assert_endpoint_view(view: &Value) {
    assert_eq!(field_names(view), ENDPOINT_FIELDS, "endpoint view: {view}");
    assert_uuid(&view["id"], "endpoint id");
    assert!(view["url"].is_string(), "{view}");
    assert!(view["events"].is_array(), "{view}");
    assert!(
        view["description"].is_null() || view["description"].is_string(),
        "{view}"
    );
    match view["status"].as_str() {
        Some("enabled") => assert_eq!(view["disabled_reason"], Value::Null, "{view}"),
        Some("disabled") => assert!(
            ["manual", "gone", "failing"]
                .iter()
                .any(|r| view["disabled_reason"] == *r),
            "disabled_reason: {view}"
        ),
        _ => panic!("status must be enabled or disabled: {view}"),
    }
    assert_recent_timestamp(&view["created_at"], "created_at");
    assert_recent_timestamp(&view["updated_at"], "updated_at");
}

/// A delivery view: exactly the documented fields, attempts with theirs.
fn assert_delivery_view(delivery: &Value) {
    assert_eq!(
        field_names(delivery),
        DELIVERY_FIELDS,
        "delivery view: {delivery}"
    );
    assert_uuid(&delivery["id"], "delivery id");
    assert!(delivery["event_type"].is_string(), "{delivery}");
    let status = str_at(delivery, "/status");
    assert!(
        ["pending", "succeeded", "failed"].contains(&status),
        "status: {delivery}"
    );
    if status == "pending" {
        assert_recent_timestamp(&delivery["next_attempt_at"], "next_attempt_at");
    } else {
        assert_eq!(
            delivery["next_attempt_at"],
            Value::Null,
            "no next attempt unless pending: {delivery}"
        );
    }
    assert_recent_timestamp(&delivery["created_at"], "created_at");
    for attempt in attempts(delivery) {
        assert_eq!(field_names(attempt), ATTEMPT_FIELDS, "attempt: {attempt}");
        assert_recent_timestamp(&attempt["at"], "attempt at");
        assert!(
            attempt["status_code"].is_null() || attempt["status_code"].is_u64(),
            "status_code: {attempt}"
        );
        assert!(
            attempt["error"].is_null() || attempt["error"].is_string(),
            "error: {attempt}"
        );
        assert!(attempt["duration_ms"].is_u64(), "duration_ms: {attempt}");
    }
}

fn attempts(delivery: &Value) -> &Vec<Value> {
    delivery["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("attempts must be an array: {delivery}"))
}

fn status_codes(delivery: &Value) -> Vec<Value> {
    attempts(delivery)
        .iter()
        .map(|a| a["status_code"].clone())
        .collect()
}

/// The endpoint `id` as `GET /api/v1/webhooks` shows it; panics if it is not listed.
async fn listed_webhook(api: &TestApi, token: &str, id: &str) -> Value {
    let listed = list_webhooks(api, token).await.data(200);
    listed["webhooks"]
        .as_array()
        .unwrap_or_else(|| panic!("webhooks must be an array: {listed}"))
        .iter()
        .find(|w| w["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("endpoint {id} is not listed: {listed}"))
}

/// Polls `GET /api/v1/webhooks` until the endpoint satisfies `done`; returns its view.
async fn wait_for_endpoint(
    api: &TestApi,
    token: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let view = listed_webhook(api, token, id).await;
        if done(&view) {
            return view;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {WAIT:?} for endpoint {id} to be {what}; it is {view}"
        );
        tokio::time::sleep(API_POLL).await;
    }
}

/// Polls the endpoint's deliveries until the one with `delivery_id` satisfies `done`.
async fn wait_for_delivery(
    api: &TestApi,
    token: &str,
    endpoint_id: &str,
    delivery_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let page = deliveries(api, token, endpoint_id, &[("limit", "100")])
            .await
            .data(200);
        let found = page["deliveries"]
            .as_array()
            .unwrap_or_else(|| panic!("deliveries must be an array: {page}"))
            .iter()
            .find(|d| d["id"] == delivery_id)
            .cloned();
        if let Some(delivery) = found.filter(|d| done(d)) {
            return delivery;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {WAIT:?} for delivery {delivery_id} of endpoint {endpoint_id} to be {what}; \
             the deliveries are {page}"
        );
        tokio::time::sleep(API_POLL).await;
    }
}

/// The workspace's audit events (the newest 100).
async fn audit_trail(api: &TestApi, token: &str) -> Vec<Value> {
    let data = api.audit_events(token, &[("limit", "100")]).await.data(200);
    data["events"]
        .as_array()
        .unwrap_or_else(|| panic!("events must be an array: {data}"))
        .clone()
}

/// Asserts what every delivery is: a `POST` to the endpoint's own path, JSON, the user agent,
/// a UUID `webhook-id`, and the payload `{type, timestamp, data}` with `type` = `event_type`.
/// Returns `data`.
fn assert_delivered(request: &Received, path: &str, event_type: &str) -> Value {
    let what = request.summary();
    assert_eq!(request.method, "POST", "{what}");
    assert_eq!(request.path, path, "{what}: sent to another path");
    let content_type = request.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content-type {content_type:?}"
    );
    assert_eq!(request.header("user-agent"), Some(USER_AGENT), "{what}");
    assert_uuid(&json!(request.webhook_id()), "webhook-id");
    let payload = request.json();
    assert_eq!(
        field_names(&payload),
        ["data", "timestamp", "type"],
        "{what}: the payload is {{type, timestamp, data}}: {payload}"
    );
    assert_eq!(payload["type"], event_type, "{what}: {payload}");
    assert_recent_timestamp(&payload["timestamp"], "payload timestamp");
    assert!(payload["data"].is_object(), "{what}: data: {payload}");
    payload["data"].clone()
}

/// Hex SHA-256, as keys are stored.
fn sha256_hex(text: &str) -> String {
    digest(&SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// No field of `value`, at any depth, is the key or a hash.
fn assert_no_secret_fields(value: &Value, what: &str) {
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields {
                assert!(
                    name != "key" && !name.to_ascii_lowercase().contains("hash"),
                    "{what}: a delivery must not carry the field {name:?}: {value}"
                );
                assert_no_secret_fields(inner, what);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| assert_no_secret_fields(v, what)),
        _ => {}
    }
}

/// The delivery holds a key view of `key_id` and none of the given full keys, nor their hashes.
fn assert_key_view(request: &Received, data: &Value, key_id: &str, full_keys: &[&str]) {
    let what = request.summary();
    assert_eq!(
        data["id"], key_id,
        "{what}: data.id is the key's id: {data}"
    );
    assert!(data["key_prefix"].is_string(), "{what}: a key view: {data}");
    assert!(data["scopes"].is_array(), "{what}: a key view: {data}");
    assert_no_secret_fields(data, &what);
    let body = request.body_text();
    for key in full_keys {
        assert!(
            !body.contains(key) && !body.contains(&key[4..]),
            "{what}: the body holds the full key {}",
            redact(key)
        );
        assert!(
            !body.contains(&sha256_hex(key)),
            "{what}: the body holds the hash of the key {}",
            redact(key)
        );
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for `seconds` from now.
fn rfc3339_in(seconds: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(now_unix() as i64 + seconds)
        .expect("a Unix time");
    at.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .expect("format a timestamp")
}

/// `whsec_` + base64 of at least 24 bytes; returns the decoded key.
fn assert_secret_format(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or_else(|| {
        panic!(
            "a secret starts with whsec_: {}",
            &secret[..secret.len().min(8)]
        )
    });
    let key = STANDARD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("the secret after whsec_ must be base64 ({e})"));
    assert!(
        key.len() >= 24,
        "the secret must hold at least 24 random bytes, has {}",
        key.len()
    );
    key
}

// ---- managing endpoints ---------------------------------------------------------------------

#[tokio::test]
async fn create_answers_201_with_a_whsec_secret_all_key_events_and_status_enabled() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let url = "http://127.0.0.1:9/hooks/yebolink";
    let reply = create_webhook(
        &api,
        &account.token,
        &json!({"url": url, "description": "Production hook"}),
    )
    .await;
    let created = reply.data(201);

    let mut expected_fields: Vec<&str> = ENDPOINT_FIELDS.to_vec();
    expected_fields.push("secret");
    expected_fields.sort_unstable();
    assert_eq!(field_names(&created), expected_fields, "{created}");
    let secret = str_at(&created, "/secret").to_owned();
    assert_secret_format(&secret);
    let mut view = created.clone();
    view.as_object_mut().unwrap().remove("secret");
    assert_endpoint_view(&view);
    assert_eq!(created["url"], url);
    assert_eq!(created["description"], "Production hook");
    assert_eq!(sorted(&created["events"]), all_event_types());
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["disabled_reason"], Value::Null);

    // Without a description it is null; each endpoint has a secret of its own.
    let other = create_webhook(
        &api,
        &account.token,
        &json!({"url": "http://localhost:9/other"}),
    )
    .await
    .data(201);
    assert_eq!(other["description"], Value::Null);
    assert_ne!(str_at(&other, "/secret"), secret);
    assert_secret_format(str_at(&other, "/secret"));
}

#[tokio::test]
async fn the_list_shows_endpoints_newest_first_and_never_a_secret() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let empty = list_webhooks(&api, &account.token).await.data(200);
    assert_eq!(empty, json!({"webhooks": []}));

    let first = create_webhook(
        &api,
        &account.token,
        &json!({"url": "http://127.0.0.1:9/a"}),
    )
    .await
    .data(201);
    let second = create_webhook(
        &api,
        &account.token,
        &json!({"url": "http://[::1]:9/b", "events": ["api_key.leak_reported"]}),
    )
    .await
    .data(201);

    let reply = list_webhooks(&api, &account.token).await;
    let listed = reply.data(200);
    assert_eq!(field_names(&listed), ["webhooks"]);
    let ids = strs_in(&listed, "webhooks", "/id");
    assert_eq!(ids, [str_at(&second, "/id"), str_at(&first, "/id")]);
    for (view, created) in listed["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .zip([&second, &first])
    {
        assert_endpoint_view(view);
        for field in ENDPOINT_FIELDS {
            assert_eq!(
                view[field], created[field],
                "{field}: listed {view}, created {created}"
            );
        }
    }
    for created in [&first, &second] {
        let secret = str_at(created, "/secret");
        assert!(!reply.text.contains(secret), "the list shows a secret");
        assert!(
            !reply.text.contains(&secret["whsec_".len()..]),
            "the list shows a secret"
        );
    }
    assert!(
        !reply.text.contains("secret"),
        "no secret field: {}",
        reply.text
    );
}

#[tokio::test]
async fn an_api_key_gets_401_on_every_webhook_route() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    let endpoint = create_webhook(
        &api,
        &account.token,
        &json!({"url": "http://127.0.0.1:9/k"}),
    )
    .await
    .data(201);
    let id = str_at(&endpoint, "/id");
    let delivery_id = Uuid::new_v4().to_string();

    for use_bearer in [false, true] {
        let with_key = |rb: reqwest::RequestBuilder| {
            if use_bearer {
                rb.bearer_auth(secret)
            } else {
                rb.header("X-API-Key", secret)
            }
        };
        let requests = [
            api.request(Method::POST, "/api/v1/webhooks")
                .json(&json!({"url": "http://127.0.0.1:9/made-by-a-key"})),
            api.request(Method::GET, "/api/v1/webhooks"),
            api.request(Method::PATCH, &format!("/api/v1/webhooks/{id}"))
                .json(&json!({"enabled": false})),
            api.request(Method::DELETE, &format!("/api/v1/webhooks/{id}")),
            api.request(
                Method::POST,
                &format!("/api/v1/webhooks/{id}/rotate-secret"),
            ),
            api.request(Method::POST, &format!("/api/v1/webhooks/{id}/test")),
            api.request(Method::GET, &format!("/api/v1/webhooks/{id}/deliveries")),
            api.request(
                Method::POST,
                &format!("/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry"),
            ),
        ];
        for request in requests {
            assert_error(&api.send(with_key(request)).await, 401, "unauthorized");
        }
    }
    // And with the JWT and a key at once: still 401.
    let both = api
        .request(Method::GET, "/api/v1/webhooks")
        .bearer_auth(&account.token)
        .header("X-API-Key", secret);
    assert_error(&api.send(both).await, 401, "unauthorized");

    // Nothing changed: one endpoint, as created, and nothing was sent.
    let listed = list_webhooks(&api, &account.token).await.data(200);
    let items = listed["webhooks"].as_array().expect("webhooks");
    assert_eq!(
        items.len(),
        1,
        "a key can never create an endpoint: {listed}"
    );
    assert_eq!(items[0]["status"], "enabled");
    assert_eq!(items[0]["updated_at"], endpoint["updated_at"]);
    // The key made for this test is announced (api_key.created); no webhook.test was sent.
    let page = deliveries(&api, &account.token, id, &[]).await.data(200);
    let tests: Vec<&Value> = page["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|d| d["event_type"] == "webhook.test")
        .collect();
    assert!(tests.is_empty(), "no test was sent: {page}");
}

#[tokio::test]
async fn refused_urls_and_unknown_events_are_400_naming_the_field_and_create_nothing() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for url in [
        json!("https://example.com/hook"),
        json!("http://10.0.0.1/x"),
        json!("http://169.254.169.254/latest/meta-data"),
        json!("ftp://127.0.0.1/x"),
        json!("http://[::ffff:10.0.0.1]/"),
        json!("not a url"),
        json!("http://user:pass@127.0.0.1/"),
        json!("http://localhost.example.com/"),
        json!(""),
        json!(42),
        Value::Null,
    ] {
        let reply = create_webhook(&api, &account.token, &json!({"url": url})).await;
        assert_validation_error(&reply, &["url"]);
    }
    let missing = create_webhook(&api, &account.token, &json!({})).await;
    assert_validation_error(&missing, &["url"]);

    let url = "http://127.0.0.1:9/hook";
    for (events, field) in [
        (json!(["api_key.exploded"]), "events[0]"),
        (json!(["api_key.created", "api_key.exploded"]), "events[1]"),
        // Always delivered, never subscribable.
        (json!(["webhook.test"]), "events[0]"),
        (json!([42]), "events[0]"),
    ] {
        let reply =
            create_webhook(&api, &account.token, &json!({"url": url, "events": events})).await;
        assert_validation_error(&reply, &[field]);
    }

    let listed = list_webhooks(&api, &account.token).await.data(200);
    assert_eq!(listed["webhooks"], json!([]), "nothing was created");
    let created = audit_trail(&api, &account.token)
        .await
        .into_iter()
        .filter(|e| e["type"] == "webhook.created")
        .count();
    assert_eq!(created, 0, "no webhook.created event");

    // Setting a refused URL later is refused the same way, and changes nothing.
    let endpoint = create_webhook(&api, &account.token, &json!({"url": url}))
        .await
        .data(201);
    let id = str_at(&endpoint, "/id");
    for url in [
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let reply = update_webhook(&api, &account.token, id, &json!({"url": url})).await;
        assert_validation_error(&reply, &["url"]);
    }
    let reply = update_webhook(
        &api,
        &account.token,
        id,
        &json!({"events": ["api_key.exploded"]}),
    )
    .await;
    assert_validation_error(&reply, &["events[0]"]);
    let view = listed_webhook(&api, &account.token, id).await;
    assert_eq!(view["url"], url);
    assert_eq!(sorted(&view["events"]), all_event_types());
}

#[tokio::test]
async fn the_eleventh_endpoint_is_409_webhook_limit_reached_until_one_is_deleted() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let created = create_webhook(
            &api,
            &account.token,
            &json!({"url": format!("http://127.0.0.1:9/hooks/{i}")}),
        )
        .await
        .data(201);
        ids.push(str_at(&created, "/id").to_owned());
    }
    let eleventh = create_webhook(
        &api,
        &account.token,
        &json!({"url": "http://127.0.0.1:9/hooks/10"}),
    )
    .await;
    assert_error(&eleventh, 409, "webhook_limit_reached");
    let listed = list_webhooks(&api, &account.token).await.data(200);
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 10);

    // A deletion frees a place.
    let deleted = delete_webhook(&api, &account.token, &ids[0])
        .await
        .data(200);
    assert_eq!(deleted, json!({"message": DELETED_MESSAGE}));
    create_webhook(
        &api,
        &account.token,
        &json!({"url": "http://127.0.0.1:9/hooks/10"}),
    )
    .await
    .data(201);
    let again = create_webhook(
        &api,
        &account.token,
        &json!({"url": "http://127.0.0.1:9/hooks/11"}),
    )
    .await;
    assert_error(&again, 409, "webhook_limit_reached");
}

#[tokio::test]
async fn every_change_to_an_endpoint_is_an_audit_event_and_a_deleted_endpoint_is_gone() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(vec![]);
    let endpoint = endpoint_at(&api, &account.token, &receiver, None).await;
    let id = str_at(&endpoint, "/id");

    let updated = update_webhook(
        &api,
        &account.token,
        id,
        &json!({"description": "renamed", "events": ["api_key.created"]}),
    )
    .await
    .data(200);
    assert_endpoint_view(&updated);
    assert_eq!(updated["description"], "renamed");
    assert_eq!(updated["events"], json!(["api_key.created"]));
    assert_eq!(updated["url"], endpoint["url"]);
    let cleared = update_webhook(&api, &account.token, id, &json!({"description": null}))
        .await
        .data(200);
    assert_eq!(cleared["description"], Value::Null);
    let rotated = rotate_secret(&api, &account.token, id).await.data(200);
    let deleted = delete_webhook(&api, &account.token, id).await.data(200);
    assert_eq!(deleted, json!({"message": DELETED_MESSAGE}));

    let trail = audit_trail(&api, &account.token).await;
    let types: Vec<&str> = trail.iter().map(|e| str_at(e, "/type")).collect();
    assert_eq!(
        types,
        [
            "webhook.deleted",
            "webhook.secret_rotated",
            "webhook.updated",
            "webhook.updated",
            "webhook.created",
            "user.registered"
        ]
    );
    for event in &trail[..5] {
        assert_eq!(event["target"]["type"], "webhook", "{event}");
        assert_eq!(event["target"]["id"], id, "{event}");
        assert_eq!(
            event["actor"],
            json!({"type": "user", "id": account.user_id}),
            "{event}"
        );
    }
    let trail_text = Value::Array(trail).to_string();
    for secret in [str_at(&endpoint, "/secret"), str_at(&rotated, "/secret")] {
        assert!(
            !trail_text.contains(&secret["whsec_".len()..]),
            "the trail holds a webhook secret"
        );
    }

    // Gone: not listed, 404 on every route, and nothing is sent to it.
    let listed = list_webhooks(&api, &account.token).await.data(200);
    assert_eq!(listed["webhooks"], json!([]));
    assert_error(
        &delete_webhook(&api, &account.token, id).await,
        404,
        "not_found",
    );
    assert_error(
        &update_webhook(&api, &account.token, id, &json!({"enabled": true})).await,
        404,
        "not_found",
    );
    assert_error(
        &test_webhook(&api, &account.token, id).await,
        404,
        "not_found",
    );
    api.create_key(&account.token, None).await;
    receiver.stays_at(0, QUIET).await;
}

// ---- key events -----------------------------------------------------------------------------

#[tokio::test]
async fn creating_updating_rotating_and_deactivating_a_key_each_deliver_their_event() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(vec![]);
    let endpoint = endpoint_at(&api, &account.token, &receiver, None).await;
    let path = reqwest::Url::parse(str_at(&endpoint, "/url"))
        .expect("the endpoint's url")
        .path()
        .to_owned();

    // Created.
    let key = api.create_key(&account.token, None).await;
    let (key_id, full_key) = (
        str_at(&key, "/id").to_owned(),
        str_at(&key, "/key").to_owned(),
    );
    let created = receiver
        .wait_for_event("api_key.created", |p| p["data"]["id"] == key_id, WAIT)
        .await;
    let data = assert_delivered(&created, &path, "api_key.created");
    assert_key_view(&created, &data, &key_id, &[&full_key]);
    assert_eq!(data["name"], key["name"]);
    assert_eq!(data["key_prefix"], key["key_prefix"]);
    assert_eq!(data["scopes"], key["scopes"]);
    assert_eq!(data["created_at"], key["created_at"]);

    // Updated (its name).
    api.update_key(
        &account.token,
        &key_id,
        &json!({"name": "renamed by the test"}),
    )
    .await
    .data(200);
    let updated = receiver
        .wait_for_event("api_key.updated", |p| p["data"]["id"] == key_id, WAIT)
        .await;
    let data = assert_delivered(&updated, &path, "api_key.updated");
    assert_key_view(&updated, &data, &key_id, &[&full_key]);
    assert_eq!(data["name"], "renamed by the test");

    // Rotated. The spec leaves open whose view `data` is: the rotated key's (the audit event's
    // target) or its replacement's; either is a key view of this rotation.
    let new = api
        .rotate_key(&account.token, &key_id, None)
        .await
        .data(201);
    let (new_id, new_key) = (
        str_at(&new, "/id").to_owned(),
        str_at(&new, "/key").to_owned(),
    );
    let rotated = receiver
        .wait_for_event("api_key.rotated", |_| true, WAIT)
        .await;
    let data = assert_delivered(&rotated, &path, "api_key.rotated");
    assert!(
        data["id"] == key_id || data["id"] == new_id,
        "api_key.rotated: data.id is the rotated key's ({key_id}) or its replacement's \
         ({new_id}): {data}"
    );
    let shown_id = str_at(&data, "/id").to_owned();
    assert_key_view(&rotated, &data, &shown_id, &[&full_key, &new_key]);

    // Deactivated (the new key).
    api.deactivate_key(&account.token, &new_id).await.data(200);
    let deactivated = receiver
        .wait_for_event("api_key.deactivated", |p| p["data"]["id"] == new_id, WAIT)
        .await;
    let data = assert_delivered(&deactivated, &path, "api_key.deactivated");
    assert_key_view(&deactivated, &data, &new_id, &[&full_key, &new_key]);
    assert_eq!(data["is_active"], false, "{data}");

    // One delivery per event, each with an id of its own, each verified by the secret.
    let requests = receiver.stays_at(4, QUIET).await;
    let types: Vec<String> = requests.iter().filter_map(Received::event_type).collect();
    assert_eq!(
        types,
        [
            "api_key.created",
            "api_key.updated",
            "api_key.rotated",
            "api_key.deactivated"
        ]
    );
    let mut ids: Vec<&str> = requests.iter().map(Received::webhook_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "a webhook-id per delivery");
    for request in &requests {
        assert_eq!(request.verified_by, [str_at(&endpoint, "/secret")]);
        assert_eq!(request.signatures.len(), 1, "{}", request.summary());
    }
}

#[tokio::test]
async fn an_endpoint_subscribed_to_one_type_gets_only_that_type() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(vec![]);
    let endpoint = endpoint_at(
        &api,
        &account.token,
        &receiver,
        Some(&["api_key.deactivated"]),
    )
    .await;
    assert_eq!(endpoint["events"], json!(["api_key.deactivated"]));

    let key = api.create_key(&account.token, None).await;
    let key_id = str_at(&key, "/id");
    api.update_key(
        &account.token,
        key_id,
        &json!({"name": "still not subscribed"}),
    )
    .await
    .data(200);
    api.deactivate_key(&account.token, key_id).await.data(200);

    receiver.wait_for(1, WAIT).await;
    let requests = receiver.stays_at(1, QUIET).await;
    assert_eq!(
        requests[0].event_type().as_deref(),
        Some("api_key.deactivated"),
        "{}",
        requests[0].summary()
    );
    assert_eq!(requests[0].json()["data"]["id"], key_id);
}

// ---- retries, 410, re-enabling --------------------------------------------------------------

#[tokio::test]
async fn a_receiver_answering_500_twice_gets_three_attempts_with_one_webhook_id() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(vec![500, 500]);
    let endpoint = endpoint_at(&api, &account.token, &receiver, None).await;
    let endpoint_id = str_at(&endpoint, "/id");

    let key = api.create_key(&account.token, None).await;
    receiver.wait_for(3, WAIT).await;
    // Nothing more once the third attempt succeeded.
    let requests = receiver.stays_at(3, QUIET).await;
    let answered: Vec<u16> = requests.iter().map(|r| r.answered).collect();
    assert_eq!(answered, [500, 500, 200]);
    let delivery_id = requests[0].webhook_id().to_owned();
    for request in &requests {
        assert_eq!(
            request.webhook_id(),
            delivery_id,
            "one webhook-id for every attempt"
        );
        assert_eq!(
            request.body, requests[0].body,
            "the same body on every attempt"
        );
        assert_eq!(request.event_type().as_deref(), Some("api_key.created"));
    }
    assert_eq!(requests[0].json()["data"]["id"], key["id"]);
    // Retried after a delay (1 s locally, give or take its jitter), not at once.
    for pair in requests.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(800),
            "attempts {gap:?} apart: retries wait for their delay"
        );
    }

    let delivery = wait_for_delivery(
        &api,
        &account.token,
        endpoint_id,
        &delivery_id,
        "succeeded",
        |d| d["status"] == "succeeded",
    )
    .await;
    assert_delivery_view(&delivery);
    assert_eq!(delivery["event_type"], "api_key.created");
    assert_eq!(
        status_codes(&delivery),
        [json!(500), json!(500), json!(200)]
    );
    assert_eq!(attempts(&delivery)[2]["error"], Value::Null);
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    let page = deliveries(&api, &account.token, endpoint_id, &[])
        .await
        .data(200);
    assert_eq!(
        strs_in(&page, "deliveries", "/id"),
        [delivery_id.as_str()],
        "one delivery for one event"
    );
}

#[tokio::test]
async fn a_410_disables_the_endpoint_with_an_audit_event_and_nothing_more_is_sent() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::always(410);
    let endpoint = endpoint_at(&api, &account.token, &receiver, None).await;
    let endpoint_id = str_at(&endpoint, "/id");

    api.create_key(&account.token, None).await;
    let first = receiver.wait_for(1, WAIT).await;
    let delivery_id = first[0].webhook_id().to_owned();

    let view = wait_for_endpoint(&api, &account.token, endpoint_id, "disabled", |v| {
        v["status"] == "disabled"
    })
    .await;
    assert_endpoint_view(&view);
    assert_eq!(view["disabled_reason"], "gone");

    let deadline = std::time::Instant::now() + WAIT;
    let trail = loop {
        let trail = audit_trail(&api, &account.token).await;
        if trail.iter().any(|e| e["type"] == "webhook.disabled") {
            break trail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {WAIT:?} for a webhook.disabled audit event: {trail:?}"
        );
        tokio::time::sleep(API_POLL).await;
    };
    let disabled: Vec<&Value> = trail
        .iter()
        .filter(|e| e["type"] == "webhook.disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "one webhook.disabled event: {trail:?}");
    assert_eq!(disabled[0]["target"]["type"], "webhook");
    assert_eq!(disabled[0]["target"]["id"], endpoint_id);
    assert_eq!(disabled[0]["actor"], json!({"type": "system"}));

    // The 410 was the last attempt of that delivery, and later events are not delivered.
    let key = api.create_key(&account.token, None).await;
    api.deactivate_key(&account.token, str_at(&key, "/id"))
        .await
        .data(200);
    receiver.stays_at(1, QUIET).await;
    let delivery = wait_for_delivery(
        &api,
        &account.token,
        endpoint_id,
        &delivery_id,
        "answered 410",
        |d| !attempts(d).is_empty(),
    )
    .await;
    assert_delivery_view(&delivery);
    assert_eq!(status_codes(&delivery), [json!(410)]);
    assert_eq!(
        delivery["next_attempt_at"],
        Value::Null,
        "no retry after 410"
    );
}

#[tokio::test]
async fn patch_enabled_true_re_enables_an_endpoint_disabled_by_410_or_by_hand() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    // 410 to the first request, 200 after.
    let receiver = Receiver::start(vec![410]);
    let endpoint = endpoint_at(&api, &account.token, &receiver, None).await;
    let endpoint_id = str_at(&endpoint, "/id");

    api.create_key(&account.token, None).await;
    receiver.wait_for(1, WAIT).await;
    wait_for_endpoint(&api, &account.token, endpoint_id, "disabled (gone)", |v| {
        v["disabled_reason"] == "gone"
    })
    .await;

    let not_a_bool = update_webhook(
        &api,
        &account.token,
        endpoint_id,
        &json!({"enabled": "yes"}),
    )
    .await;
    assert_validation_error(&not_a_bool, &["enabled"]);

    let enabled = update_webhook(&api, &account.token, endpoint_id, &json!({"enabled": true}))
        .await
        .data(200);
    assert_endpoint_view(&enabled);
    assert_eq!(enabled["status"], "enabled");
    assert_eq!(enabled["disabled_reason"], Value::Null);
    let key = api.create_key(&account.token, None).await;
    let key_id = str_at(&key, "/id").to_owned();
    let delivered = receiver
        .wait_for_event("api_key.created", |p| p["data"]["id"] == key_id, WAIT)
        .await;
    assert_eq!(delivered.answered, 200);

    // By hand: disabled (reason manual), nothing sent meanwhile, then enabled again.
    let disabled = update_webhook(
        &api,
        &account.token,
        endpoint_id,
        &json!({"enabled": false}),
    )
    .await
    .data(200);
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["disabled_reason"], "manual");
    let before = receiver.count();
    api.create_key(&account.token, None).await;
    receiver.stays_at(before, QUIET).await;

    let enabled = update_webhook(&api, &account.token, endpoint_id, &json!({"enabled": true}))
        .await
        .data(200);
    assert_eq!(enabled["status"], "enabled");
    assert_eq!(enabled["disabled_reason"], Value::Null);
    let key = api.create_key(&account.token, None).await;
    let key_id = str_at(&key, "/id").to_owned();
    receiver
        .wait_for_event("api_key.created", |p| p["data"]["id"] == key_id, WAIT)
        .await;
}

// ---- secrets --------------------------------------------------------------------------------

#[tokio::test]
async fn after_rotate_secret_both_the_old_and_the_new_secret_verify_the_next_delivery() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(vec![]);
    let endpoint = endpoint_at(&api, &account.token, &receiver, None).await;
    let endpoint_id = str_at(&endpoint, "/id");
    let old = str_at(&endpoint, "/secret").to_owned();

    // Before: one signature, by the old secret.
    test_webhook(&api, &account.token, endpoint_id)
        .await
        .data(200);
    let before = receiver.wait_for(1, WAIT).await;
    assert_eq!(before[0].verified_by, [old.as_str()]);
    assert_eq!(before[0].signatures.len(), 1);

    let reply = rotate_secret(&api, &account.token, endpoint_id).await;
    let rotated = reply.data(200);
    assert_eq!(
        field_names(&rotated),
        ["id", "previous_secret_expires_at", "secret"],
        "{}",
        reply.text
    );
    assert_eq!(rotated["id"], endpoint_id);
    let new = str_at(&rotated, "/secret").to_owned();
    assert_secret_format(&new);
    assert_ne!(new, old);
    assert_eq!(reply.text.matches(&new).count(), 1, "the new secret, once");
    assert!(
        !reply.text.contains(&old[6..]),
        "the old secret is not shown again"
    );
    let overlap_end = parse_timestamp(str_at(&rotated, "/previous_secret_expires_at"));
    let expected = reply.received_at as i64 + 86_400;
    assert!(
        (expected - 10..=expected + 1).contains(&overlap_end),
        "previous_secret_expires_at is 24 h from now: {overlap_end} vs {expected}"
    );
    receiver.accept_secret(&new);

    // The next key event: two signatures, one by each secret.
    let key = api.create_key(&account.token, None).await;
    let key_id = str_at(&key, "/id").to_owned();
    let next = receiver
        .wait_for_event("api_key.created", |p| p["data"]["id"] == key_id, WAIT)
        .await;
    assert_eq!(next.signatures.len(), 2, "{}", next.summary());
    assert!(next.verified_by.contains(&old), "the old secret verifies");
    assert!(next.verified_by.contains(&new), "the new secret verifies");

    // A test send too.
    let test = test_webhook(&api, &account.token, endpoint_id)
        .await
        .data(200);
    let sent = receiver
        .requests()
        .into_iter()
        .find(|r| r.webhook_id() == test["id"])
        .expect("the test delivery was received within its request");
    assert_eq!(sent.signatures.len(), 2);
    assert_eq!(sent.verified_by.len(), 2);

    // Never shown again.
    let listed = list_webhooks(&api, &account.token).await;
    listed.data(200);
    assert!(
        !listed.text.contains(&new[6..]),
        "the list shows the new secret"
    );
}

// ---- test sends and manual retries ----------------------------------------------------------

#[tokio::test]
async fn test_sends_webhook_test_at_once_and_retry_sends_the_same_webhook_id_again() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(vec![]);
    // Subscribed to one type only: webhook.test is sent whatever the subscription.
    let endpoint = endpoint_at(&api, &account.token, &receiver, Some(&["api_key.expiring"])).await;
    let endpoint_id = str_at(&endpoint, "/id");
    let path = reqwest::Url::parse(str_at(&endpoint, "/url"))
        .unwrap()
        .path()
        .to_owned();

    let delivery = test_webhook(&api, &account.token, endpoint_id)
        .await
        .data(200);
    assert_delivery_view(&delivery);
    assert_eq!(delivery["event_type"], "webhook.test");
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(status_codes(&delivery), [json!(200)]);
    assert_eq!(attempts(&delivery)[0]["error"], Value::Null);
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    let delivery_id = str_at(&delivery, "/id").to_owned();

    // Received before the answer: the attempt happens inside the request.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one request by the time /test answered");
    let sent = &requests[0];
    assert_eq!(
        sent.webhook_id(),
        delivery_id,
        "the delivery's id is the webhook-id"
    );
    let data = assert_delivered(sent, &path, "webhook.test");
    assert_eq!(field_names(&data), ["message", "webhook_id"], "{data}");
    assert_eq!(data["webhook_id"], endpoint_id);
    assert!(
        data["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{data}"
    );

    // Retry: the same webhook-id and body, a new attempt in the delivery.
    let retried = retry_delivery(&api, &account.token, endpoint_id, &delivery_id)
        .await
        .data(200);
    assert_delivery_view(&retried);
    assert_eq!(retried["id"], delivery_id);
    assert_eq!(retried["status"], "succeeded");
    assert_eq!(status_codes(&retried), [json!(200), json!(200)]);
    let requests = receiver.requests();
    assert_eq!(
        requests.len(),
        2,
        "one more request by the time /retry answered"
    );
    assert_eq!(requests[1].webhook_id(), delivery_id);
    assert_eq!(requests[1].body, requests[0].body, "the same body again");

    // The list shows it with both attempts; a second test is a delivery of its own, newest
    // first, paged with the cursor.
    let second = test_webhook(&api, &account.token, endpoint_id)
        .await
        .data(200);
    let second_id = str_at(&second, "/id").to_owned();
    assert_ne!(second_id, delivery_id);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut query = vec![("limit", "1")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let page = deliveries(&api, &account.token, endpoint_id, &query)
            .await
            .data(200);
        assert_eq!(field_names(&page), ["deliveries", "next_cursor"], "{page}");
        let items = page["deliveries"].as_array().expect("deliveries").clone();
        assert!(items.len() <= 1, "limit=1: {page}");
        for item in items {
            assert_delivery_view(&item);
            seen.push(item);
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let ids: Vec<&str> = seen.iter().map(|d| str_at(d, "/id")).collect();
    assert_eq!(
        ids,
        [second_id.as_str(), delivery_id.as_str()],
        "newest first"
    );
    assert_eq!(status_codes(&seen[1]), [json!(200), json!(200)]);

    // A delivery id this endpoint does not have is 404.
    let unknown = retry_delivery(
        &api,
        &account.token,
        endpoint_id,
        &Uuid::new_v4().to_string(),
    )
    .await;
    assert_error(&unknown, 404, "not_found");
}

// ---- tenant isolation -----------------------------------------------------------------------

#[tokio::test]
async fn another_workspace_gets_404_for_an_endpoint_and_its_key_events_never_reach_it() {
    let api = TestApi::from_env();
    let owner = api.register_workspace().await;
    let receiver = Receiver::start(vec![]);
    let endpoint = endpoint_at(&api, &owner.token, &receiver, None).await;
    let id = str_at(&endpoint, "/id").to_owned();
    let delivery = test_webhook(&api, &owner.token, &id).await.data(200);
    let delivery_id = str_at(&delivery, "/id").to_owned();
    assert_eq!(receiver.count(), 1);

    let intruder = api.register_workspace().await;
    let their_receiver = Receiver::start(vec![]);
    let theirs = endpoint_at(&api, &intruder.token, &their_receiver, None).await;
    let their_id = str_at(&theirs, "/id").to_owned();

    let unknown_id = Uuid::new_v4().to_string();
    for target in [id.as_str(), unknown_id.as_str()] {
        let replies = [
            update_webhook(
                &api,
                &intruder.token,
                target,
                &json!({"url": "http://127.0.0.1:9/stolen", "enabled": false}),
            )
            .await,
            delete_webhook(&api, &intruder.token, target).await,
            rotate_secret(&api, &intruder.token, target).await,
            test_webhook(&api, &intruder.token, target).await,
            deliveries(&api, &intruder.token, target, &[]).await,
            retry_delivery(&api, &intruder.token, target, &delivery_id).await,
        ];
        for reply in &replies {
            assert_error(reply, 404, "not_found");
        }
    }
    // The owner's delivery id under the intruder's own endpoint: 404 too.
    assert_error(
        &retry_delivery(&api, &intruder.token, &their_id, &delivery_id).await,
        404,
        "not_found",
    );
    // The same answer as for an id that does not exist.
    let foreign = delete_webhook(&api, &intruder.token, &id).await;
    let unknown = delete_webhook(&api, &intruder.token, &unknown_id).await;
    assert_eq!(foreign.text, unknown.text);

    // The intruder sees only its own endpoint; the owner's is as it was, and was never sent to
    // by the intruder's test or retry.
    let listed = list_webhooks(&api, &intruder.token).await.data(200);
    assert_eq!(strs_in(&listed, "webhooks", "/id"), [their_id.as_str()]);
    let view = listed_webhook(&api, &owner.token, &id).await;
    for field in ENDPOINT_FIELDS {
        assert_eq!(view[field], endpoint[field], "{field} changed: {view}");
    }
    assert_eq!(
        receiver.count(),
        1,
        "the intruder's test or retry reached the owner's endpoint"
    );

    // The intruder's key events go to the intruder's endpoint only.
    let key = api.create_key(&intruder.token, None).await;
    let key_id = str_at(&key, "/id").to_owned();
    api.deactivate_key(&intruder.token, &key_id).await.data(200);
    their_receiver
        .wait_for_event("api_key.deactivated", |p| p["data"]["id"] == key_id, WAIT)
        .await;
    receiver.stays_at(1, QUIET).await;

    // The owner's secret was not rotated by the intruder: one signature, the original secret.
    let mine = api.create_key(&owner.token, None).await;
    let mine_id = str_at(&mine, "/id").to_owned();
    let delivered = receiver
        .wait_for_event("api_key.created", |p| p["data"]["id"] == mine_id, WAIT)
        .await;
    assert_eq!(delivered.signatures.len(), 1);
    assert_eq!(delivered.verified_by, [str_at(&endpoint, "/secret")]);
    assert!(
        their_receiver
            .requests()
            .iter()
            .all(|r| r.json()["data"]["id"] != mine_id),
        "the owner's key event reached the intruder's endpoint"
    );
}

// ---- api_key.expiring -----------------------------------------------------------------------

#[tokio::test]
async fn a_key_expiring_in_seven_days_gets_one_api_key_expiring_delivery_when_its_time_comes() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(vec![]);
    let endpoint = endpoint_at(&api, &account.token, &receiver, None).await;
    let path = reqwest::Url::parse(str_at(&endpoint, "/url"))
        .unwrap()
        .path()
        .to_owned();

    // The 7-day reminder falls due 3 s from now.
    let key = api
        .create_key_with(
            &account.token,
            &json!({"name": "expiring soon", "expires_at": rfc3339_in(7 * 86_400 + 3)}),
        )
        .await
        .data(201);
    let key_id = str_at(&key, "/id").to_owned();
    let expires_at = parse_timestamp(str_at(&key, "/expires_at"));
    let reminder_due = expires_at - 7 * 86_400;

    let expiring = receiver
        .wait_for_event("api_key.expiring", |p| p["data"]["id"] == key_id, WAIT)
        .await;
    assert!(
        expiring.unix >= reminder_due - 1,
        "the 7-day reminder arrived at {} before it was due ({reminder_due})",
        expiring.unix
    );
    let data = assert_delivered(&expiring, &path, "api_key.expiring");
    assert_key_view(&expiring, &data, &key_id, &[str_at(&key, "/key")]);
    assert_eq!(data["expires_at"], key["expires_at"]);

    // Exactly once (and the key's own api_key.created).
    tokio::time::sleep(QUIET).await;
    let requests = receiver.requests();
    let expirings = requests
        .iter()
        .filter(|r| r.event_type().as_deref() == Some("api_key.expiring"))
        .count();
    assert_eq!(expirings, 1, "one reminder: {requests:?}");
    let types: Vec<String> = requests.iter().filter_map(Received::event_type).collect();
    assert_eq!(types.len(), 2, "created and expiring only: {types:?}");
    assert!(types.contains(&"api_key.created".to_owned()), "{types:?}");

    let trail = audit_trail(&api, &account.token).await;
    let reminders: Vec<&Value> = trail
        .iter()
        .filter(|e| e["type"] == "api_key.expiring")
        .collect();
    assert_eq!(reminders.len(), 1, "one api_key.expiring audit event");
    assert_eq!(reminders[0]["actor"], json!({"type": "system"}));
    assert_eq!(reminders[0]["target"]["id"], key_id);
}
