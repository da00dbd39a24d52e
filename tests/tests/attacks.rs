//! Attacks over HTTP: forged and tampered JWTs, API keys that must not work, credentials on
//! the wrong routes, oversize bodies and headers, wrong content types, unicode and control
//! characters, path ids that are not UUIDs. Each gets its documented 4xx envelope (never a
//! 5xx), and afterwards the attacked workspace's key list and message list are exactly what
//! they were before (`Tenant::snapshot`).
//!
//! Already covered elsewhere, not repeated here:
//! - `alg: none` with the genuine claims, a flipped signature character, `garbage`, `a.b.c`,
//!   a `Basic` scheme: `auth.rs::management_routes_reject_malformed_tampered_and_unsigned_tokens`
//! - no token at all: `auth.rs::management_routes_without_a_token_are_401_unauthorized`
//! - well-formed unknown key, mistyped key, garbage keys:
//!   `api_keys.rs::{well_formed_but_unknown_api_key_is_401_invalid_api_key,
//!   a_mistyped_api_key_is_401_invalid_api_key, garbage_api_key_is_401_invalid_api_key}`
//! - deactivated key on all three messaging routes: `api_keys.rs::deactivated_key_is_rejected_on_next_request`
//! - another workspace's key reading my message (404, same body as unknown) and my list:
//!   `messages.rs::another_workspaces_message_is_404_and_never_listed`; deactivating another
//!   workspace's key: `api_keys.rs::deactivating_another_workspaces_key_is_404_and_the_key_keeps_working`
//! - an API key in `X-API-Key` or as Bearer on the management routes:
//!   `api_keys.rs::an_api_key_cannot_use_the_management_routes`; a JWT or a Bearer key on the
//!   messaging routes: `api_keys.rs::{a_user_jwt_on_the_messaging_routes_is_401_invalid_api_key,
//!   an_api_key_sent_as_a_bearer_token_is_not_accepted_on_messaging_routes}`
//! - bodies over 64 KiB on register and send, a form body on register, XML on send:
//!   `auth.rs`, `messages.rs`
//! - `not-a-uuid` as a key id or message id, a garbage cursor: `api_keys.rs`, `messages.rs`
//!
//! About expired tokens and wrong `iss`/`aud`: a black-box test cannot sign with the server's
//! secret (it is random per run and never leaves the functions' environment), so the tokens
//! below that are expired or misaddressed are signed with a random key. The server refuses
//! them for the signature before it looks at `exp`, `iss` or `aud`; that those claims are
//! checked on their own is proven with the real key in `shared/src/jwt.rs`'s unit tests and
//! `shared/tests/input_properties.rs` (`jwt_verify_rejects_foreign_expired_and_misaddressed_tokens`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use uuid::Uuid;
use yebolink_blackbox::*;

// ---- the attacked workspace ----------------------------------------------------------------

/// A workspace under attack: its owner, a key to attack with or through, and an observer key
/// (read only) used only to take snapshots, so the attacked key's rate limit is not spent on
/// bookkeeping.
struct Tenant {
    account: Account,
    key: Value,
    observer: String,
    message: Value,
}

/// What must not change: the keys (without `last_used_at` and `last_used_ip`, which legitimate
/// use updates) and the messages, in order.
#[derive(Debug, PartialEq)]
struct Snapshot {
    keys: Vec<Value>,
    messages: Vec<Value>,
}

impl Tenant {
    async fn new(api: &TestApi) -> Self {
        let (account, key) = api.account_with_key(None).await;
        let observer = api
            .create_key(&account.token, Some(&["read_messages"]))
            .await;
        let message = api
            .send_sms(str_at(&key, "/key"), "the tenant's own message")
            .await;
        Self {
            account,
            key,
            observer: str_at(&observer, "/key").to_owned(),
            message,
        }
    }

    fn secret(&self) -> &str {
        str_at(&self.key, "/key")
    }

    fn message_id(&self) -> &str {
        str_at(&self.message, "/id")
    }

    async fn snapshot(&self, api: &TestApi) -> Snapshot {
        let keys = api.list_keys(&self.account.token).await.data(200)["api_keys"]
            .as_array()
            .expect("api_keys")
            .iter()
            .map(|k| {
                let mut k = k.clone();
                let fields = k.as_object_mut().expect("key object");
                fields.remove("last_used_at");
                fields.remove("last_used_ip");
                k
            })
            .collect();
        let messages = api
            .list_messages(&self.observer, &[("limit", "100")])
            .await
            .data(200)["messages"]
            .as_array()
            .expect("messages")
            .clone();
        Snapshot { keys, messages }
    }
}

/// Sends every request, asserts each answer (`check`), then that the tenant is unchanged.
async fn assert_unchanged_after(api: &TestApi, tenant: &Tenant, before: &Snapshot, what: &str) {
    let after = tenant.snapshot(api).await;
    assert_eq!(
        &after, before,
        "{what}: the workspace's keys or messages changed"
    );
}

/// Never a server error, whatever the attack.
fn assert_not_5xx(reply: &Reply) {
    assert!(
        !reply.status.is_server_error(),
        "{}: a 5xx for hostile input: {} {}",
        reply.what,
        reply.status,
        reply.text
    );
}

// ---- forged JWTs ---------------------------------------------------------------------------

fn random_secret() -> Vec<u8> {
    let mut secret = Vec::new();
    for _ in 0..3 {
        secret.extend_from_slice(Uuid::new_v4().as_bytes());
    }
    secret
}

fn claims(account: &Account, iss: &str, aud: &str, iat: i64, exp: i64) -> Value {
    json!({
        "iss": iss, "aud": aud, "sub": account.user_id, "wid": account.workspace_id,
        "iat": iat, "exp": exp,
    })
}

fn sign_hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

/// The three management requests, made with `token`, aimed at `target`'s workspace (its key).
fn management_requests(api: &TestApi, token: &str, target: &Tenant) -> Vec<RequestBuilder> {
    vec![
        api.request(Method::POST, "/api/v1/api-keys")
            .bearer_auth(token)
            .json(&json!({"name": "forged"})),
        api.request(Method::GET, "/api/v1/api-keys")
            .bearer_auth(token),
        api.request(
            Method::DELETE,
            &format!("/api/v1/api-keys/{}", str_at(&target.key, "/id")),
        )
        .bearer_auth(token),
    ]
}

#[tokio::test]
async fn jwts_signed_with_another_key_are_401_whatever_their_claims() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    let now = now_unix() as i64;
    let a = &victim.account;
    let secret = random_secret();

    let forged = [
        // Perfect claims, wrong key.
        (
            "wrong key",
            claims(a, "yebolink", "yebolink-api", now, now + 3600),
        ),
        // Expired (an hour ago), wrong key: see the module comment.
        (
            "expired",
            claims(a, "yebolink", "yebolink-api", now - 7200, now - 3600),
        ),
        (
            "wrong iss",
            claims(a, "someone-else", "yebolink-api", now, now + 3600),
        ),
        (
            "wrong aud",
            claims(a, "yebolink", "another-api", now, now + 3600),
        ),
        (
            "far future",
            claims(a, "yebolink", "yebolink-api", now, now + 10 * 365 * 86_400),
        ),
    ];
    for (what, claims) in &forged {
        let token = sign_hs256(claims, &secret);
        for request in management_requests(&api, &token, &victim) {
            let reply = api.send(request).await;
            assert_error(&reply, 401, "unauthorized");
            assert!(
                !reply.text.contains(&a.workspace_id),
                "{what}: {}",
                reply.text
            );
        }
    }
    // An empty and a short HMAC key (some libraries accept an empty key).
    for secret in [&b""[..], b"secret"] {
        let token = sign_hs256(&forged[0].1, secret);
        assert_error(&api.list_keys(&token).await, 401, "unauthorized");
    }
    assert_unchanged_after(&api, &victim, &before, "forged JWTs").await;
}

#[tokio::test]
async fn a_real_token_with_rewritten_claims_is_401_and_reaches_no_workspace() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let attacker = api.register_workspace().await;
    let before = victim.snapshot(&api).await;

    let parts: Vec<&str> = attacker.token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three segments");
    let header = parts[0];
    let signature = parts[2];
    let genuine = decode_segment(parts[1]);

    let mut rewrites = Vec::new();
    // The attacker's own token pointed at the victim's workspace (and user).
    let mut claims = genuine.clone();
    claims["wid"] = json!(victim.account.workspace_id);
    rewrites.push(claims.clone());
    claims["sub"] = json!(victim.account.user_id);
    rewrites.push(claims);
    // A longer life, another audience.
    let mut claims = genuine.clone();
    claims["exp"] = json!(genuine["exp"].as_i64().expect("exp") + 86_400);
    rewrites.push(claims);
    let mut claims = genuine.clone();
    claims["aud"] = json!(["yebolink-api", "admin"]);
    rewrites.push(claims);

    for claims in &rewrites {
        let forged = format!("{header}.{}.{signature}", b64_json(claims));
        for request in management_requests(&api, &forged, &victim) {
            assert_error(&api.send(request).await, 401, "unauthorized");
        }
    }
    // The attacker's genuine token still works, but only on its own workspace.
    let own = api.list_keys(&attacker.token).await.data(200);
    assert_eq!(own["api_keys"], json!([]));
    assert_error(
        &api.deactivate_key(&attacker.token, str_at(&victim.key, "/id"))
            .await,
        404,
        "not_found",
    );
    assert_unchanged_after(&api, &victim, &before, "rewritten claims").await;
}

#[tokio::test]
async fn algorithm_confusion_and_header_tricks_are_401() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    let token = victim.account.token.clone();
    let parts: Vec<&str> = token.split('.').collect();
    let (payload, signature) = (parts[1], parts[2]);
    let genuine_header = decode_segment(parts[0]);

    let mut forged = Vec::new();
    // `none` in every spelling, with and without the genuine signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64_json(&json!({"alg": alg, "typ": "JWT"}));
        forged.push(format!("{header}.{payload}."));
        forged.push(format!("{header}.{payload}.{signature}"));
        forged.push(format!("{header}.{payload}"));
    }
    // Another algorithm named over the genuine HS256 signature.
    for alg in ["HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA"] {
        let header = b64_json(&json!({"alg": alg, "typ": "JWT"}));
        forged.push(format!("{header}.{payload}.{signature}"));
    }
    // Header parameters that point key lookup elsewhere; the signature no longer matches the
    // changed header, and no key is ever fetched.
    for (name, value) in [
        ("kid", json!("../../../../dev/null")),
        ("jku", json!("http://127.0.0.1:1/jwks.json")),
        ("jwk", json!({"kty": "oct", "k": "AAAA"})),
        ("crit", json!(["exp"])),
    ] {
        let mut header = genuine_header.clone();
        header[name] = value;
        forged.push(format!("{}.{payload}.{signature}", b64_json(&header)));
    }
    // Structure: extra segments, padding, whitespace, the token twice, a JWE-shaped token.
    forged.push(format!("{token}.{signature}"));
    forged.push(format!("{token}="));
    forged.push(format!("{}.{}.{} ", parts[0], payload, signature).replace('.', ". "));
    forged.push(format!("{token} {token}"));
    forged.push(format!(
        "{}.{payload}.{signature}.{signature}.{signature}",
        parts[0]
    ));

    for token in &forged {
        let reply = api.list_keys(token).await;
        assert_error(&reply, 401, "unauthorized");
    }
    // A few through the other two routes as well.
    for token in forged.iter().take(3) {
        for request in management_requests(&api, token, &victim) {
            assert_error(&api.send(request).await, 401, "unauthorized");
        }
    }
    assert_unchanged_after(&api, &victim, &before, "algorithm confusion").await;
}

#[tokio::test]
async fn a_valid_token_together_with_an_api_key_is_401_on_management_routes() {
    // A key can never manage keys, not even riding along with its owner's valid JWT.
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    for request in management_requests(&api, &victim.account.token, &victim) {
        let reply = api.send(request.header("X-API-Key", victim.secret())).await;
        assert_error(&reply, 401, "unauthorized");
    }
    assert_unchanged_after(&api, &victim, &before, "JWT + X-API-Key").await;
}

#[tokio::test]
async fn a_jwt_in_the_x_api_key_header_is_401_invalid_api_key() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    let token = &victim.account.token;
    assert_invalid_api_key(&api.list_messages(token, &[]).await);
    assert_invalid_api_key(&api.send_message(token, &sms("with a JWT as key")).await);
    assert_invalid_api_key(&api.get_message(token, victim.message_id()).await);
    assert_unchanged_after(&api, &victim, &before, "JWT as X-API-Key").await;
}

// ---- API keys of the wrong kind --------------------------------------------------------------

#[tokio::test]
async fn a_deactivated_key_changes_nothing_and_reveals_nothing() {
    // The 401s themselves are in api_keys.rs; here: the refused send created nothing, and the
    // refusal of an id-carrying request does not reveal whether the id exists.
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let retired = api.create_key(&victim.account.token, None).await;
    api.deactivate_key(&victim.account.token, str_at(&retired, "/id"))
        .await
        .data(200);
    let before = victim.snapshot(&api).await;
    let secret = str_at(&retired, "/key");

    assert_invalid_api_key(&api.send_message(secret, &sms("from a revoked key")).await);
    let existing = api.get_message(secret, victim.message_id()).await;
    let unknown = api.get_message(secret, &Uuid::new_v4().to_string()).await;
    assert_invalid_api_key(&existing);
    assert_eq!(existing.text, unknown.text);
    assert!(
        existing.header("x-ratelimit-limit").is_none(),
        "no quota for a revoked key"
    );
    assert_unchanged_after(&api, &victim, &before, "deactivated key").await;
}

#[tokio::test]
async fn another_workspaces_key_cannot_follow_my_cursor() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    api.send_sms(victim.secret(), "a second message").await;
    let page = api
        .list_messages(victim.secret(), &[("limit", "1")])
        .await
        .data(200);
    let cursor = str_at(&page, "/next_cursor").to_owned();
    let (intruder, intruder_key) = api.account_with_key(None).await;
    let before = victim.snapshot(&api).await;

    let reply = api
        .list_messages(str_at(&intruder_key, "/key"), &[("cursor", &cursor)])
        .await;
    assert_validation_error(&reply, &["cursor"]);
    assert!(!reply.text.contains("the tenant's own message"));

    // The cursor re-pointed at the intruder's own workspace (same message id): it may be
    // accepted (it now names the intruder's workspace), but it can only ever list the
    // intruder's messages, never the victim's.
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&cursor).expect("base64url cursor"))
        .expect("UTF-8 cursor");
    let (_, message) = decoded.split_once(':').expect("workspace:message");
    let rebound = URL_SAFE_NO_PAD.encode(format!("{}:{message}", intruder.workspace_id));
    let reply = api
        .list_messages(str_at(&intruder_key, "/key"), &[("cursor", &rebound)])
        .await;
    assert_not_5xx(&reply);
    if reply.status.is_success() {
        assert_eq!(reply.data(200)["messages"], json!([]));
    }
    assert_unchanged_after(&api, &victim, &before, "foreign cursor").await;
}

#[tokio::test]
async fn an_idempotency_key_replayed_from_another_workspace_does_not_return_my_message() {
    // Idempotency records live under the workspace: the same Idempotency-Key and the same body
    // from another tenant create that tenant's own message, never a replay of mine.
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let idempotency_key = format!("order-{}", Uuid::new_v4());
    let body = sms("idempotent and private").to_string();
    let send = |key: String| {
        let api = api.clone();
        let (idempotency_key, body) = (idempotency_key.clone(), body.clone());
        async move {
            api.send(
                api.request(Method::POST, "/api/v1/messages/send")
                    .header("X-API-Key", key)
                    .header("Idempotency-Key", idempotency_key)
                    .header("Content-Type", "application/json")
                    .body(body),
            )
            .await
        }
    };
    let mine = send(victim.secret().to_owned()).await.data(201);
    let before = victim.snapshot(&api).await;

    let (_intruder, intruder_key) = api.account_with_key(None).await;
    let theirs = send(str_at(&intruder_key, "/key").to_owned())
        .await
        .data(201);
    assert_ne!(
        theirs["id"], mine["id"],
        "another workspace got my message back"
    );
    let listed = api
        .list_messages(str_at(&intruder_key, "/key"), &[])
        .await
        .data(200);
    assert_eq!(listed["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["messages"][0]["id"], theirs["id"]);
    assert_unchanged_after(&api, &victim, &before, "cross-tenant idempotency key").await;
}

// ---- oversize bodies and headers -------------------------------------------------------------

#[tokio::test]
async fn oversize_bodies_are_413_on_every_body_route() {
    // register and send over 64 KiB: auth.rs / messages.rs. Here: create-key and login, just
    // over the limit and far over it.
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    for size in [64 * 1024 + 1, 1024 * 1024] {
        let name = "n".repeat(size);
        let reply = api
            .create_key_with(&victim.account.token, &json!({"name": name}))
            .await;
        assert_error(&reply, 413, "payload_too_large");
        let reply = api.login(&victim.account.email, &"p".repeat(size)).await;
        assert_error(&reply, 413, "payload_too_large");
        // A body that is not even JSON is still refused for its size first.
        let reply = api
            .send(
                api.request(Method::POST, "/api/v1/messages/send")
                    .header("X-API-Key", victim.secret())
                    .body("x".repeat(size)),
            )
            .await;
        assert_error(&reply, 413, "payload_too_large");
    }
    assert_unchanged_after(&api, &victim, &before, "oversize bodies").await;
}

#[tokio::test]
async fn oversize_headers_are_refused_without_a_server_error() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    for size in [16 * 1024, 60 * 1024] {
        let huge_key = format!("{}{}", victim.secret(), "a".repeat(size));
        let huge_token = format!("{}{}", victim.account.token, "A".repeat(size));
        let replies = [
            api.list_messages(&huge_key, &[]).await,
            api.send_message(&huge_key, &sms("huge key")).await,
            api.list_keys(&huge_token).await,
            api.create_key_with(&huge_token, &json!({"name": "huge token"}))
                .await,
            api.send(
                api.request(Method::POST, "/api/v1/messages/send")
                    .header("X-API-Key", victim.secret())
                    .header("Idempotency-Key", "i".repeat(size))
                    .json(&sms("huge idempotency key")),
            )
            .await,
        ];
        for (i, reply) in replies.iter().enumerate() {
            assert_not_5xx(reply);
            let status = reply.status.as_u16();
            // The server may refuse the header itself (431), else the function answers.
            if status != 431 {
                match i {
                    0 | 1 => assert_invalid_api_key(reply),
                    2 | 3 => {
                        assert_error(reply, 401, "unauthorized");
                    }
                    _ => assert_validation_error(reply, &["Idempotency-Key"]),
                }
            }
        }
    }
    assert_unchanged_after(&api, &victim, &before, "oversize headers").await;
}

// ---- content types -------------------------------------------------------------------------

#[tokio::test]
async fn bodies_in_other_content_types_are_415_on_every_body_route() {
    // A form on register and XML on send: auth.rs / messages.rs. Here every body route with
    // form, XML, multipart, JSON look-alikes and a non-ASCII Content-Type.
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    let content_types: &[&[u8]] = &[
        b"application/x-www-form-urlencoded",
        b"application/xml",
        b"text/xml",
        b"multipart/form-data; boundary=----yebolink",
        b"application/jsonp",
        b"application/vnd.api+json",
        b"application/json-patch+json",
        b"text/html",
        b"application/octet-stream",
        // Not ASCII (UTF-8 bytes). A header that is not even UTF-8 never reaches the functions
        // locally: cargo lambda watch itself answers 500 before any function runs.
        "application/json; charset=ü".as_bytes(),
        "text/plain\u{202e}".as_bytes(),
    ];
    let routes = |content_type: reqwest::header::HeaderValue| {
        let email = unique_email();
        [
            api.request(Method::POST, "/api/v1/auth/register")
                .header("Content-Type", content_type.clone())
                .body(
                    json!({"workspace_name": "w", "email": email, "password": PASSWORD})
                        .to_string(),
                ),
            api.request(Method::POST, "/api/v1/auth/login")
                .header("Content-Type", content_type.clone())
                .body(json!({"email": victim.account.email, "password": PASSWORD}).to_string()),
            api.request(Method::POST, "/api/v1/api-keys")
                .bearer_auth(&victim.account.token)
                .header("Content-Type", content_type.clone())
                .body(json!({"name": "typed"}).to_string()),
            api.request(Method::POST, "/api/v1/messages/send")
                .header("X-API-Key", victim.secret())
                .header("Content-Type", content_type)
                .body(sms("typed").to_string()),
        ]
    };
    for content_type in content_types {
        let value = reqwest::header::HeaderValue::from_bytes(content_type).expect("header value");
        for request in routes(value) {
            assert_error(&api.send(request).await, 415, "unsupported_media_type");
        }
    }
    assert_unchanged_after(&api, &victim, &before, "wrong content types").await;
}

// ---- unicode and control characters ----------------------------------------------------------

/// Texts a name or a message may hold, each stored and returned exactly.
const STORED_EXACTLY: &[&str] = &[
    "emoji 🔑🚀 and a family 👨‍👩‍👧",
    "right-to-left \u{202e}override\u{202c} and \u{200f}marks",
    "zero\u{200b}width\u{200d}joiners\u{feff}and a BOM",
    "combining e\u{301} and Hangul 한국어 and Arabic مرحبا",
    "line\u{2028}and paragraph\u{2029}separators",
    "quotes \" ' ` and backslash \\ and <script>alert(1)</script>",
    "json-ish {\"$ne\": null} and #KEY# and WS#x",
];

/// Control characters (Unicode Cc): refused in names, subjects and texts with a 400.
const REFUSED: &[&str] = &[
    "nul \u{0} inside",
    "escape \u{1b}[31m red",
    "bell \u{7}",
    "delete \u{7f}",
    "c1 \u{85} next line",
    "backspace \u{8}",
];

#[tokio::test]
async fn key_names_keep_unicode_exactly_and_refuse_control_characters() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let mut created = Vec::new();
    for name in STORED_EXACTLY {
        let data = api
            .create_key_with(&victim.account.token, &json!({"name": name}))
            .await
            .data(201);
        assert_eq!(data["name"], json!(name));
        created.push(data);
    }
    let before = victim.snapshot(&api).await;
    for name in REFUSED {
        let reply = api
            .create_key_with(&victim.account.token, &json!({"name": name}))
            .await;
        assert_validation_error(&reply, &["name"]);
    }
    // A lone surrogate cannot be text at all: the body is not valid JSON.
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/api-keys")
                .bearer_auth(&victim.account.token)
                .header("Content-Type", "application/json")
                .body(r#"{"name": "half \ud800 a pair"}"#),
        )
        .await;
    assert_error(&reply, 400, "invalid_json");
    assert_unchanged_after(&api, &victim, &before, "control characters in key names").await;

    // Listed exactly as created.
    let listed = api.list_keys(&victim.account.token).await.data(200);
    for data in &created {
        let item = listed["api_keys"]
            .as_array()
            .expect("api_keys")
            .iter()
            .find(|k| k["id"] == data["id"])
            .expect("created key listed");
        assert_eq!(item["name"], data["name"]);
    }
}

#[tokio::test]
async fn workspace_names_keep_unicode_exactly_and_refuse_control_characters() {
    let api = TestApi::from_env();
    for name in STORED_EXACTLY.iter().take(4) {
        let email = unique_email();
        let data = api
            .register(&json!({"workspace_name": name, "email": email, "password": PASSWORD}))
            .await
            .data(201);
        assert_eq!(data["workspace"]["name"], json!(name));
        // And read back from storage by login.
        let again = api.login(&email, PASSWORD).await.data(200);
        assert_eq!(again["workspace"]["name"], json!(name));
    }
    for name in REFUSED {
        let email = unique_email();
        let reply = api
            .register(&json!({"workspace_name": name, "email": email, "password": PASSWORD}))
            .await;
        assert_validation_error(&reply, &["workspace_name"]);
        // Nothing was created: the email is still free.
        assert_error(
            &api.login(&email, PASSWORD).await,
            401,
            "invalid_credentials",
        );
    }
}

#[tokio::test]
async fn message_texts_keep_unicode_exactly_and_refuse_control_characters() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    // Tab, CR and LF are allowed in texts (not in names).
    let mut texts: Vec<String> = STORED_EXACTLY.iter().map(|s| s.to_string()).collect();
    texts.push("tabs\tand\r\nnew lines\n".to_owned());
    texts.push("  leading and trailing spaces are kept  ".to_owned());
    for text in &texts {
        let sent = api.send_sms(victim.secret(), text).await;
        assert_eq!(sent["content"]["text"], json!(text));
        let got = api
            .get_message(&victim.observer, str_at(&sent, "/id"))
            .await
            .data(200);
        assert_eq!(got["content"]["text"], json!(text));
    }
    // A second sender, so that no key comes near the rate limit.
    let sender = api
        .create_key(&victim.account.token, Some(&["send_messages"]))
        .await;
    let before = victim.snapshot(&api).await;
    for text in REFUSED {
        let reply = api.send_message(str_at(&sender, "/key"), &sms(text)).await;
        assert_validation_error(&reply, &["content.text"]);
        let reply = api
            .send_message(
                str_at(&sender, "/key"),
                &json!({"to": "a@example.com", "channel": "email",
                        "content": {"text": "body", "subject": text}}),
            )
            .await;
        assert_validation_error(&reply, &["content.subject"]);
    }
    // 1600 characters is the limit in characters, not bytes: 1600 emoji are accepted.
    let long = "😀".repeat(1600);
    let sent = api.send_sms(str_at(&sender, "/key"), &long).await;
    assert_eq!(sent["content"]["text"], json!(long));
    assert_eq!(
        sent["segments"],
        json!(48),
        "3200 UTF-16 units in parts of 67"
    );
    let reply = api
        .send_message(str_at(&sender, "/key"), &sms(&format!("{long}😀")))
        .await;
    assert_validation_error(&reply, &["content.text"]);

    let after = victim.snapshot(&api).await;
    assert_eq!(after.keys, before.keys);
    assert_eq!(
        after.messages.len(),
        before.messages.len() + 1,
        "only the 1600-emoji text"
    );
    assert_eq!(&after.messages[1..], &before.messages[..]);
}

// ---- path ids ------------------------------------------------------------------------------

/// Spellings of `id` (a real one) and other strings that are not a canonical UUID. Each must
/// be answered 404 `not_found`.
fn not_uuids(id: &str) -> Vec<String> {
    let simple = id.replace('-', "");
    vec![
        format!("{{{id}}}"),
        simple.clone(),
        format!("urn:uuid:{id}"),
        format!("{id}0"),
        format!("{id}%00"),
        format!("{id}%20"),
        format!("%20{id}"),
        id[..35].to_owned(),
        format!("KEY%23{id}"),
        format!("MSG%23{id}"),
        format!("{}%2F{}", &id[..18], &id[19..]),
        "%27%20OR%20%271%27%3D%271".to_owned(),
        "00000000-0000-0000-0000-00000000000g".to_owned(),
        "%C3%BC".repeat(20),
        "9".repeat(4096),
        "null".to_owned(),
        "0".to_owned(),
    ]
}

#[tokio::test]
async fn message_ids_that_are_not_uuids_are_404() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    let unknown = api
        .get_message(&victim.observer, &Uuid::new_v4().to_string())
        .await;
    assert_error(&unknown, 404, "not_found");
    for id in not_uuids(victim.message_id()) {
        let reply = api.get_message(&victim.observer, &id).await;
        assert_error(&reply, 404, "not_found");
        assert!(!reply.text.contains("the tenant's own message"), "{id}");
    }
    // Ids have one spelling (lowercase, hyphenated): an uppercase one names nothing, for its
    // own workspace as for any other.
    let upper = victim.message_id().to_uppercase();
    let own = api.get_message(&victim.observer, &upper).await;
    assert_error(&own, 404, "not_found");
    let (_intruder, intruder_key) = api.account_with_key(None).await;
    let reply = api.get_message(str_at(&intruder_key, "/key"), &upper).await;
    assert_error(&reply, 404, "not_found");
    assert_unchanged_after(&api, &victim, &before, "non-UUID message ids").await;
}

#[tokio::test]
async fn key_ids_that_are_not_uuids_are_404_and_deactivate_nothing() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    let key_id = str_at(&victim.key, "/id").to_owned();
    let mut ids = not_uuids(&key_id);
    // A message id is a UUID, but not a key's.
    ids.push(victim.message_id().to_owned());
    for id in ids {
        let reply = api.deactivate_key(&victim.account.token, &id).await;
        assert_error(&reply, 404, "not_found");
    }
    assert_unchanged_after(&api, &victim, &before, "non-UUID key ids").await;
    // The key still works.
    api.list_messages(victim.secret(), &[]).await.data(200);
}

#[tokio::test]
async fn hostile_query_strings_on_the_message_list_are_400() {
    let api = TestApi::from_env();
    let victim = Tenant::new(&api).await;
    let before = victim.snapshot(&api).await;
    let long_cursor = "A".repeat(16 * 1024);
    for query in [
        [("limit", "99999999999999999999999")],
        [("limit", "1e2")],
        [("limit", "0x10")],
        [("limit", " 5")],
        [("cursor", long_cursor.as_str())],
        [("cursor", "")],
        [("cursor", "eyJ3b3Jrc3BhY2UiOiIqIn0")],
    ] {
        let reply = api.list_messages(&victim.observer, &query).await;
        assert_not_5xx(&reply);
        assert_validation_error(&reply, &["limit", "cursor"]);
    }
    assert_unchanged_after(&api, &victim, &before, "hostile query strings").await;
}
