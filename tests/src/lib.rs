//! Black-box suite helpers: drive a running YeboLink stack over HTTP, as a client would.
//!
//! Every test starts with [`TestApi::from_env`] (in the spirit of zero-to-production's
//! `spawn_app()`), which reads:
//!
//! - `YEBOLINK_BASE_URL` (required), e.g. `http://127.0.0.1:9000`: where the API is served.
//! - `YEBOLINK_HTTP_TIMEOUT_SECS` (optional, default 120): per request; the first request to a
//!   function under `cargo lambda watch` may wait for it to start.
//!
//! The metrics tests (`tests/metrics.rs`) read `YEBOLINK_FUNCTION_LOG`: the file the local
//! stack's functions write their stdout to (`make test` sets it).
//!
//! The authorizer tests (`tests/authorizer_invoke.rs`) also read `CARGO_LAMBDA` (path of the
//! `cargo-lambda` executable), `YEBOLINK_INVOKE_PORT` (default: the port of the base URL) and
//! `YEBOLINK_INVOKE_ADDRESS` (default: the host of the base URL).
//!
//! Tests never share state: each one registers its own workspace (unique email) and creates
//! its own keys, so they run in parallel and against a stack that already holds data.
//!
//! Each `TestApi` also calls from an address of its own, so that the per-source limits on
//! register and login (10 and 60 per window, left at their defaults) apply per test, as they
//! would to separate clients. `cargo lambda watch` reports every client as 127.0.0.1, so the
//! address is sent in [`SOURCE_IP_HEADER`], which the functions read in local mode only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{header::HeaderMap, Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

pub mod leak_signing;
pub mod stream_runner;
pub mod webhook_receiver;

/// A password that satisfies the policy (12..256 characters).
pub const PASSWORD: &str = "correct horse battery staple";
/// The message of every 401 `invalid_api_key`.
pub const INVALID_API_KEY_MESSAGE: &str = "Invalid API key";
/// Both scopes, in canonical order.
pub const ALL_SCOPES: [&str; 2] = ["send_messages", "read_messages"];
/// A valid E.164 number used as the default recipient.
pub const PHONE: &str = "+26878422613";

/// The local-only header that names the client's address (see the crate docs).
pub const SOURCE_IP_HEADER: &str = "X-Yebolink-Local-Source-Ip";

/// A fresh address in 10.0.0.0/8 (unique enough: 2^24 of them).
pub fn random_source_ip() -> String {
    let b = Uuid::new_v4().into_bytes();
    format!("10.{}.{}.{}", b[0], b[1], b[2])
}

/// The functions' metric lines (CloudWatch EMF: JSON with `_aws`) that `matches`, as text and
/// parsed, from the local stack's log (`YEBOLINK_FUNCTION_LOG`). A line is written as its
/// request is answered, so the log is read until `at_least` lines match (at most 20 s), then
/// once more a moment later, so a second line for the same request would be seen too.
pub async fn metric_lines(
    at_least: usize,
    matches: impl Fn(&Value) -> bool,
) -> Vec<(String, Value)> {
    let path = std::env::var("YEBOLINK_FUNCTION_LOG").unwrap_or_else(|_| {
        panic!("YEBOLINK_FUNCTION_LOG is not set: it names the local stack's function log (make test sets it)")
    });
    let read = || {
        let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        // A last line without its newline may still be being written: not read yet.
        let complete = log.rfind('\n').map_or("", |end| &log[..end]);
        complete
            .lines()
            .filter(|line| line.contains(r#""_aws""#))
            .filter_map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a metric line is not JSON ({e}): {line}"));
                matches(&value).then(|| (line.to_owned(), value))
            })
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while read().len() < at_least && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    read()
}

/// A fully read HTTP response.
#[derive(Debug)]
pub struct Reply {
    /// `METHOD /path?query`, for failure messages.
    pub what: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// Unix seconds when the response arrived: what its rate-limit window is checked against
    /// (a test may look at a reply seconds later).
    pub received_at: u64,
}

impl Reply {
    /// The body as JSON; panics with the raw body if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}), status {}: {:?}",
                self.what, self.status, self.text
            )
        })
    }

    /// A header as text, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is not ASCII").to_owned())
    }

    /// Asserts the status, `Content-Type: application/json` and the success envelope; returns
    /// `data`.
    pub fn data(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: expected {status}, got {} with body {}",
            self.what,
            self.status,
            self.text
        );
        self.assert_json_content_type();
        let body = self.json();
        assert_eq!(
            body["success"],
            json!(true),
            "{}: success must be true: {body}",
            self.what
        );
        assert!(
            body.get("error").is_none(),
            "{}: a success carries no error: {body}",
            self.what
        );
        body.get("data")
            .cloned()
            .unwrap_or_else(|| panic!("{}: success envelope without data: {body}", self.what))
    }

    pub fn assert_json_content_type(&self) {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{}: Content-Type must be application/json, got {content_type:?} (status {}, body {})",
            self.what,
            self.status,
            self.text
        );
    }

    /// The three rate-limit headers; panics if any is missing or not an integer.
    pub fn rate_limit(&self) -> RateLimit {
        let get = |name: &str| -> u64 {
            let raw = self.header(name).unwrap_or_else(|| {
                panic!(
                    "{}: missing {name} on a {} response (body {})",
                    self.what, self.status, self.text
                )
            });
            raw.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{}: {name} is not an integer: {raw:?}", self.what))
        };
        RateLimit {
            limit: get("x-ratelimit-limit"),
            remaining: get("x-ratelimit-remaining"),
            reset: get("x-ratelimit-reset"),
        }
    }

    /// `X-Quota-Limit` and `X-Quota-Remaining` (a key's monthly send limit) as
    /// `(limit, remaining)`, or `None` when the response carries neither; panics if only one is
    /// present or either is not an integer.
    pub fn quota(&self) -> Option<(u64, u64)> {
        let get = |name: &str| -> Option<u64> {
            self.header(name).map(|raw| {
                raw.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: {name} is not an integer: {raw:?}", self.what))
            })
        };
        match (get("x-quota-limit"), get("x-quota-remaining")) {
            (Some(limit), Some(remaining)) => Some((limit, remaining)),
            (None, None) => None,
            (limit, remaining) => panic!(
                "{}: X-Quota-Limit ({limit:?}) and X-Quota-Remaining ({remaining:?}) come together \
                 (status {}, body {})",
                self.what, self.status, self.text
            ),
        }
    }

    /// The three rate-limit headers, checked to be plausible for a fixed one-minute window at
    /// the moment this response arrived.
    pub fn plausible_rate_limit(&self) -> RateLimit {
        let rate = self.rate_limit();
        let what = &self.what;
        assert!(rate.limit >= 1, "{what}: X-RateLimit-Limit must be >= 1");
        assert!(
            rate.remaining <= rate.limit,
            "{what}: remaining {} exceeds limit {}",
            rate.remaining,
            rate.limit
        );
        let at = self.received_at;
        assert!(
            rate.reset + 1 >= at && rate.reset <= at + 61,
            "{what}: X-RateLimit-Reset {} is not the end of a one-minute window around the \
             response's arrival ({at})",
            rate.reset
        );
        rate
    }
}

/// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds at which the current window ends.
    pub reset: u64,
}

/// Asserts an error response: status, `Content-Type: application/json`, and the envelope
/// `{"success": false, "error": {"code": code, "message": <non-empty>}}`. Returns the message.
pub fn assert_error(reply: &Reply, status: u16, code: &str) -> String {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{}: expected {status} {code}, got {} with body {}",
        reply.what,
        reply.status,
        reply.text
    );
    reply.assert_json_content_type();
    let body = reply.json();
    assert_eq!(
        body["success"],
        json!(false),
        "{}: success must be false: {body}",
        reply.what
    );
    assert!(
        body.get("data").is_none(),
        "{}: an error carries no data: {body}",
        reply.what
    );
    assert_eq!(
        body["error"]["code"],
        json!(code),
        "{}: wrong error code: {body}",
        reply.what
    );
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: error.message must be a string: {body}", reply.what));
    assert!(
        !message.trim().is_empty(),
        "{}: error.message is empty",
        reply.what
    );
    message.to_owned()
}

/// Asserts a 400 `validation_error` whose message names the field: it starts with one of
/// `fields` (the contract's form is `"name: must be 1 to 100 characters"`; for nested fields
/// either `content.subject` or `subject` is accepted).
pub fn assert_validation_error(reply: &Reply, fields: &[&str]) {
    let message = assert_error(reply, 400, "validation_error");
    let names_field = fields.iter().any(|field| {
        message.starts_with(field)
            && !message[field.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    });
    assert!(
        names_field,
        "{}: validation message should name the field ({}), got {message:?}",
        reply.what,
        fields.join(" or ")
    );
}

/// A 401 `invalid_api_key` with the documented message.
pub fn assert_invalid_api_key(reply: &Reply) {
    let message = assert_error(reply, 401, "invalid_api_key");
    assert_eq!(message, INVALID_API_KEY_MESSAGE, "{}", reply.what);
}

/// A fresh workspace owner.
#[derive(Debug, Clone)]
pub struct Account {
    pub token: String,
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub password: String,
}

/// A client for one running stack.
#[derive(Debug, Clone)]
pub struct TestApi {
    pub base_url: String,
    pub client: Client,
    /// The address this client calls from (sent in [`SOURCE_IP_HEADER`]).
    pub source_ip: String,
}

impl TestApi {
    /// Reads `YEBOLINK_BASE_URL`; panics with instructions if it is unset.
    pub fn from_env() -> Self {
        let base_url = std::env::var("YEBOLINK_BASE_URL")
            .ok()
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "YEBOLINK_BASE_URL is not set. The black-box suite drives a running stack \
                     over HTTP: start the stack with `make test` (starts it, runs this suite, \
                     stops it) or `make dev`, then run with \
                     YEBOLINK_BASE_URL=http://127.0.0.1:9000"
                )
            });
        let timeout = std::env::var("YEBOLINK_HTTP_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120);
        let client = Client::builder()
            .timeout(Duration::from_secs(timeout))
            .build()
            .expect("build the HTTP client");
        Self {
            base_url,
            client,
            source_ip: random_source_ip(),
        }
    }

    /// The same client, calling from another address.
    pub fn from_another_address(&self) -> Self {
        Self {
            source_ip: random_source_ip(),
            ..self.clone()
        }
    }

    /// The same client, calling from `ip` (an IPv4 or IPv6 address).
    pub fn from_address(&self, ip: &str) -> Self {
        Self {
            source_ip: ip.to_owned(),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// A request builder for `path` (starting with `/api/v1/...`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(SOURCE_IP_HEADER, &self.source_ip)
    }

    /// Sends a request and reads the whole response.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let request = request.build().expect("build the request");
        let what = match request.url().query() {
            Some(q) => format!("{} {}?{q}", request.method(), request.url().path()),
            None => format!("{} {}", request.method(), request.url().path()),
        };
        let response = self.client.execute(request).await.unwrap_or_else(|e| {
            panic!(
                "{what}: request to {} failed: {e}. Is the stack running (make test / make dev)?",
                self.base_url
            )
        });
        let received_at = now_unix();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body failed: {e}"));
        Reply {
            what,
            status,
            headers,
            text,
            received_at,
        }
    }

    // ---- auth -------------------------------------------------------------------------------

    pub async fn register(&self, body: &Value) -> Reply {
        self.send(
            self.request(Method::POST, "/api/v1/auth/register")
                .json(body),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.send(
            self.request(Method::POST, "/api/v1/auth/login")
                .json(&json!({"email": email, "password": password})),
        )
        .await
    }

    /// Registers a new workspace with a unique email; asserts 201.
    pub async fn register_workspace(&self) -> Account {
        let email = unique_email();
        let reply = self
            .register(&json!({
                "workspace_name": "Black-box Test Workspace",
                "email": email,
                "password": PASSWORD,
            }))
            .await;
        let data = reply.data(201);
        Account {
            token: str_at(&data, "/token").to_owned(),
            workspace_id: str_at(&data, "/workspace/id").to_owned(),
            user_id: str_at(&data, "/user/id").to_owned(),
            email,
            password: PASSWORD.to_owned(),
        }
    }

    // ---- key management ---------------------------------------------------------------------

    /// `POST /api/v1/api-keys` with a JSON body and a bearer token.
    pub async fn create_key_with(&self, token: &str, body: &Value) -> Reply {
        self.send(
            self.request(Method::POST, "/api/v1/api-keys")
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// Creates a key (scopes omitted when `None`); asserts 201 and returns `data`
    /// (`id`, `name`, `key`, `key_prefix`, `scopes`, `created_at`, `warning`).
    pub async fn create_key(&self, token: &str, scopes: Option<&[&str]>) -> Value {
        let mut body = json!({"name": format!("bb-{}", Uuid::new_v4().simple())});
        if let Some(scopes) = scopes {
            body["scopes"] = json!(scopes);
        }
        self.create_key_with(token, &body).await.data(201)
    }

    /// Creates a key with `settings` (fields of the create body, e.g.
    /// `{"rate_limit_per_minute": 3}`; `null`s are sent as given) and a fresh name unless
    /// `settings` names it; asserts 201 and returns `data`.
    pub async fn create_key_with_settings(&self, token: &str, settings: &Value) -> Value {
        let mut body = json!({"name": format!("bb-{}", Uuid::new_v4().simple())});
        for (field, value) in settings
            .as_object()
            .unwrap_or_else(|| panic!("settings must be a JSON object: {settings}"))
        {
            body[field] = value.clone();
        }
        self.create_key_with(token, &body).await.data(201)
    }

    /// `PATCH /api/v1/api-keys/{id}` with a JSON body and a bearer token.
    pub async fn update_key(&self, token: &str, id: &str, body: &Value) -> Reply {
        self.send(
            self.request(Method::PATCH, &format!("/api/v1/api-keys/{id}"))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// The key `id` as `GET /api/v1/api-keys` shows it; panics if it is not listed.
    pub async fn listed_key(&self, token: &str, id: &str) -> Value {
        let listed = self.list_keys(token).await.data(200);
        listed["api_keys"]
            .as_array()
            .unwrap_or_else(|| panic!("api_keys must be an array: {listed}"))
            .iter()
            .find(|k| k["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("key {id} is not listed: {listed}"))
    }

    /// A fresh workspace and one key in it with `scopes` (both when `None`). Returns the account
    /// and the create response's `data`.
    pub async fn account_with_key(&self, scopes: Option<&[&str]>) -> (Account, Value) {
        let account = self.register_workspace().await;
        let key = self.create_key(&account.token, scopes).await;
        (account, key)
    }

    pub async fn list_keys(&self, token: &str) -> Reply {
        self.send(
            self.request(Method::GET, "/api/v1/api-keys")
                .bearer_auth(token),
        )
        .await
    }

    pub async fn deactivate_key(&self, token: &str, id: &str) -> Reply {
        self.send(
            self.request(Method::DELETE, &format!("/api/v1/api-keys/{id}"))
                .bearer_auth(token),
        )
        .await
    }

    /// `POST /api/v1/api-keys/{id}/rotate`, with a JSON body when given.
    pub async fn rotate_key(&self, token: &str, id: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .request(Method::POST, &format!("/api/v1/api-keys/{id}/rotate"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    /// `GET /api/v1/audit-events` with query pairs.
    pub async fn audit_events(&self, token: &str, query: &[(&str, &str)]) -> Reply {
        self.send(
            self.request(Method::GET, "/api/v1/audit-events")
                .bearer_auth(token)
                .query(query),
        )
        .await
    }

    /// `GET /api/v1/api-keys/{id}/usage` with query pairs.
    pub async fn key_usage(&self, token: &str, id: &str, query: &[(&str, &str)]) -> Reply {
        self.send(
            self.request(Method::GET, &format!("/api/v1/api-keys/{id}/usage"))
                .bearer_auth(token)
                .query(query),
        )
        .await
    }

    /// `GET /api/v1/usage` with query pairs.
    pub async fn workspace_usage(&self, token: &str, query: &[(&str, &str)]) -> Reply {
        self.send(
            self.request(Method::GET, "/api/v1/usage")
                .bearer_auth(token)
                .query(query),
        )
        .await
    }

    /// Whether `key` is admitted right now (a history read; needs `read_messages`).
    pub async fn key_works(&self, key: &str) -> bool {
        let reply = self.list_messages(key, &[("limit", "1")]).await;
        match reply.status.as_u16() {
            200 => true,
            401 => false,
            other => panic!("{}: unexpected {other}: {}", reply.what, reply.text),
        }
    }

    // ---- leaked-key reports -----------------------------------------------------------------

    /// `POST /api/v1/api-keys/leaks` with `body` as is and the given signature headers
    /// (`(name, value)` pairs; none for an unsigned request).
    pub async fn report_leaks(&self, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .request(Method::POST, "/api/v1/api-keys/leaks")
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    // ---- messaging --------------------------------------------------------------------------

    /// `POST /api/v1/messages/send` with `X-API-Key` and a JSON body.
    pub async fn send_message(&self, key: &str, body: &Value) -> Reply {
        self.send(
            self.request(Method::POST, "/api/v1/messages/send")
                .header("X-API-Key", key)
                .json(body),
        )
        .await
    }

    /// Sends an SMS to [`PHONE`]; asserts 201 and returns `data`.
    pub async fn send_sms(&self, key: &str, text: &str) -> Value {
        self.send_message(key, &sms(text)).await.data(201)
    }

    /// `GET /api/v1/messages` with query pairs.
    pub async fn list_messages(&self, key: &str, query: &[(&str, &str)]) -> Reply {
        self.send(
            self.request(Method::GET, "/api/v1/messages")
                .header("X-API-Key", key)
                .query(query),
        )
        .await
    }

    pub async fn get_message(&self, key: &str, id: &str) -> Reply {
        self.send(
            self.request(Method::GET, &format!("/api/v1/messages/{id}"))
                .header("X-API-Key", key),
        )
        .await
    }
}

/// A send body for an SMS to [`PHONE`].
pub fn sms(text: &str) -> Value {
    json!({"to": PHONE, "channel": "sms", "content": {"text": text}})
}

/// A unique, valid email address (mixed case is added by tests that need it).
pub fn unique_email() -> String {
    format!("bb-{}@example.com", Uuid::new_v4().simple())
}

/// The string at a JSON pointer; panics with the document if absent or not a string.
pub fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected a string at {pointer} in {value}"))
}

/// The string at `pointer` in each element of the array `field` of `data`, in order: e.g. the
/// ids of a list response's messages, `strs_in(&data, "messages", "/id")`.
pub fn strs_in<'a>(data: &'a Value, field: &str, pointer: &str) -> Vec<&'a str> {
    data[field]
        .as_array()
        .unwrap_or_else(|| panic!("expected an array at {field} in {data}"))
        .iter()
        .map(|item| str_at(item, pointer))
        .collect()
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs()
}

pub fn assert_uuid(value: &Value, what: &str) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a UUID string, got {value}"));
    assert!(
        Uuid::parse_str(s).is_ok() && s.len() == 36,
        "{what}: not a hyphenated UUID: {s:?}"
    );
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, whole seconds) into Unix seconds; panics on
/// any other form.
pub fn parse_timestamp(s: &str) -> i64 {
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(
        shape_ok,
        "timestamp must be RFC 3339 UTC with whole seconds and a Z (2025-11-02T12:00:00Z), got {s:?}"
    );
    let num = |r: std::ops::Range<usize>| -> i64 { s[r].parse().expect("digits") };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (hh, mm, ss) = (num(11..13), num(14..16), num(17..19));
    assert!(
        (1..=12).contains(&m) && (1..=31).contains(&d) && hh < 24 && mm < 60 && ss < 60,
        "timestamp out of range: {s:?}"
    );
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

/// The value is a timestamp in the documented form, within a few minutes of now.
pub fn assert_recent_timestamp(value: &Value, what: &str) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a timestamp string, got {value}"));
    let t = parse_timestamp(s);
    let now = now_unix() as i64;
    assert!(
        (t - now).abs() <= 300,
        "{what}: {s} is not close to now ({now})"
    );
}

/// `ybk_` + 48 lowercase hex characters.
pub fn assert_key_format(key: &str) {
    assert_eq!(key.len(), 52, "key must be ybk_ + 48 hex: {}", redact(key));
    assert!(key.starts_with("ybk_"), "key must start with ybk_");
    assert!(
        key[4..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "key must be lowercase hex after ybk_: {}",
        redact(key)
    );
}

/// The part of a key safe to print in a failure message.
pub fn redact(key: &str) -> String {
    format!("{}...", key.get(..11).unwrap_or(key))
}

/// CRC-32 (IEEE 802.3, as zlib and crc32fast compute it).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A key that passes every offline check (format and the checksum as the implementation
/// computes it: CRC32 over `ybk_` + the 40 random hex characters) but was never issued, so
/// only the database can reject it.
pub fn well_formed_unknown_key() -> String {
    let random = format!(
        "{}{}",
        Uuid::new_v4().simple(),
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let body = format!("ybk_{random}");
    format!("{body}{:08x}", crc32(body.as_bytes()))
}

/// The same key with one character changed (a typo).
pub fn mistyped(key: &str) -> String {
    let mut bytes = key.as_bytes().to_vec();
    bytes[20] = if bytes[20] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).expect("ASCII")
}

/// What `cargo lambda invoke authorizer` printed, and how long it took.
pub struct AuthorizerInvocation {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// Where `cargo lambda watch` accepts invokes: `YEBOLINK_INVOKE_ADDRESS` / `_PORT`, else the
/// host and port of `YEBOLINK_BASE_URL`.
pub fn invoke_target() -> (String, String) {
    let base_url = std::env::var("YEBOLINK_BASE_URL")
        .ok()
        .and_then(|b| reqwest::Url::parse(&b).ok());
    let address = std::env::var("YEBOLINK_INVOKE_ADDRESS")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            base_url.as_ref().and_then(|u| u.host_str()).map(|h| {
                match h.trim_start_matches('[').trim_end_matches(']') {
                    "localhost" => "127.0.0.1".to_owned(),
                    other => other.to_owned(),
                }
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "set YEBOLINK_BASE_URL (or YEBOLINK_INVOKE_ADDRESS): start the stack with \
                 make test / make dev"
            )
        });
    let port = std::env::var("YEBOLINK_INVOKE_PORT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            base_url
                .as_ref()
                .and_then(reqwest::Url::port_or_known_default)
                .map(|p| p.to_string())
        })
        .unwrap_or_else(|| {
            panic!(
                "set YEBOLINK_INVOKE_PORT (or YEBOLINK_BASE_URL): start the stack with \
                 make test / make dev"
            )
        });
    (address, port)
}

/// Runs the authorizer binary itself on `event` (JSON text) through
/// `$CARGO_LAMBDA lambda invoke authorizer`, against the running `cargo lambda watch`.
/// Blocking: call it from `spawn_blocking`.
pub fn invoke_authorizer_raw(event: &str) -> AuthorizerInvocation {
    let cargo_lambda = std::env::var("CARGO_LAMBDA")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "CARGO_LAMBDA is not set: it must be the path of the cargo-lambda executable \
                 (make test / make dev install it into .tools/ and export it). The authorizer \
                 tests run the authorizer binary through `cargo lambda invoke` and are never \
                 skipped."
            )
        });
    let (address, port) = invoke_target();
    let file = std::env::temp_dir().join(format!("yebolink-authorizer-{}.json", Uuid::new_v4()));
    std::fs::write(&file, event).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    let started = std::time::Instant::now();
    let output = std::process::Command::new(&cargo_lambda)
        .args(["lambda", "invoke", "authorizer", "--invoke-address"])
        .arg(&address)
        .arg("--invoke-port")
        .arg(&port)
        .arg("--data-file")
        .arg(&file)
        .env("RUST_LOG", "off")
        .env("CARGO_LAMBDA_COLOR", "never")
        .output();
    let took = started.elapsed();
    let _ = std::fs::remove_file(&file);
    let output = output.unwrap_or_else(|e| panic!("run {cargo_lambda}: {e}"));
    AuthorizerInvocation {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn timestamps_parse_to_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), 0);
        assert_eq!(parse_timestamp("2025-11-02T12:00:00Z"), 1_762_084_800);
        assert_eq!(parse_timestamp("2000-03-01T00:00:01Z"), 951_868_801);
    }

    #[test]
    #[should_panic(expected = "whole seconds")]
    fn fractional_timestamps_are_refused() {
        parse_timestamp("2025-11-02T12:00:00.123Z");
    }

    #[test]
    fn well_formed_unknown_keys_have_the_key_format() {
        let key = well_formed_unknown_key();
        assert_key_format(&key);
        assert_ne!(key, well_formed_unknown_key());
    }
}
