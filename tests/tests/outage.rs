//! Fault injection over HTTP: the local DynamoDB hangs, comes back, is stopped, is replaced by
//! a fresh one on the same port, while the functions keep running under `cargo lambda watch`.
//!
//! These tests are phases of one scenario that `scripts/test.sh` drives (its "outage" layer),
//! changing the database between them; each is `#[ignore]`d, so a plain
//! `cargo test -p yebolink-blackbox` lists them as ignored instead of running them against a
//! healthy database (where they would fail) or silently passing. The layer runs, in order:
//!
//! | phase | the database | what is asserted |
//! |---|---|---|
//! | `outage_1_prepare` | up | a workspace, a key and a message to come back to |
//! | `outage_2_hanging` | paused (SIGSTOP: connections open, no answer) | every route answers 503 `service_unavailable` in the envelope within 5 s; the authorizer fails closed for API keys |
//! | `outage_3_resumed` | resumed, its data intact | the old key and message work again; a send retried with its `Idempotency-Key` exists exactly once |
//! | `outage_4_stopped` | stopped (connection refused) | 503 envelope within 5 s everywhere; the authorizer fails closed |
//! | `outage_5_restarted` | a fresh, empty one on the same port | everything works again on the first try: the functions reconnect |
//!
//! Between the phases the layer also checks the table itself for partial records
//! (`tests/integrity.rs`). State passes between phases in the JSON file named by
//! `YEBOLINK_OUTAGE_STATE` (outside the log directory: it holds a JWT and an API key; the
//! layer deletes it). Also needs what `authorizer_invoke.rs` needs (`CARGO_LAMBDA`, ...).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use uuid::Uuid;
use yebolink_blackbox::*;

/// Every answer during an outage must arrive within this (DYNAMODB_TIMEOUT_MS is 2 s).
const BOUND: Duration = Duration::from_secs(5);
/// `cargo lambda invoke` adds its own start-up to the authorizer's answer.
const INVOKE_BOUND: Duration = Duration::from_secs(15);

// ---- state between phases --------------------------------------------------------------------

fn state_path() -> PathBuf {
    std::env::var("YEBOLINK_OUTAGE_STATE")
        .ok()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "YEBOLINK_OUTAGE_STATE is not set: the outage phases are run by make test \
                 (scripts/test.sh), which changes the database between them"
            )
        })
}

fn load_state() -> Value {
    let path = state_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {} (run outage_1_prepare first): {e}", path.display()));
    serde_json::from_str(&text).expect("state is JSON")
}

fn save_state(state: &Value) {
    let path = state_path();
    std::fs::write(&path, state.to_string())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

// ---- assertions ------------------------------------------------------------------------------

/// Sends and asserts a 503 `service_unavailable` envelope that arrived within [`BOUND`].
/// `assert_unavailable` for each request, all at once: during an outage every route waits out
/// its timeout, and one after the other they took 15-19 s.
async fn assert_all_unavailable(api: &TestApi, requests: Vec<RequestBuilder>) {
    let mut checks = tokio::task::JoinSet::new();
    for request in requests {
        let api = api.clone();
        checks.spawn(async move { assert_unavailable(&api, request).await });
    }
    while let Some(check) = checks.join_next().await {
        if let Err(failed) = check {
            std::panic::resume_unwind(failed.into_panic());
        }
    }
}

async fn assert_unavailable(api: &TestApi, request: RequestBuilder) {
    let started = Instant::now();
    let reply = api.send(request).await;
    let took = started.elapsed();
    assert_error(&reply, 503, "service_unavailable");
    eprintln!("outage: {} -> 503 in {took:?}", reply.what);
    assert!(
        took < BOUND,
        "{}: the 503 took {took:?} (bound {BOUND:?})",
        reply.what
    );
}

/// Every route, with credentials that were valid before the outage.
fn every_route(api: &TestApi, state: &Value, tag: &str) -> Vec<RequestBuilder> {
    let token = str_at(state, "/token");
    let key = str_at(state, "/key");
    vec![
        api.request(Method::POST, "/api/v1/auth/register")
            .json(&json!({
                "workspace_name": "registered during an outage",
                "email": unique_email(),
                "password": PASSWORD,
            })),
        api.request(Method::POST, "/api/v1/auth/login")
            .json(&json!({"email": str_at(state, "/email"), "password": PASSWORD})),
        api.request(Method::POST, "/api/v1/api-keys")
            .bearer_auth(token)
            .json(&json!({"name": format!("created during the outage ({tag})")})),
        api.request(Method::GET, "/api/v1/api-keys")
            .bearer_auth(token),
        api.request(
            Method::DELETE,
            &format!("/api/v1/api-keys/{}", str_at(state, "/key_id")),
        )
        .bearer_auth(token),
        api.request(Method::POST, "/api/v1/webhooks")
            .bearer_auth(token)
            .json(&json!({"url": "http://127.0.0.1:9/outage", "description": tag})),
        api.request(Method::GET, "/api/v1/webhooks")
            .bearer_auth(token),
        api.request(Method::POST, "/api/v1/messages/send")
            .header("X-API-Key", key)
            .json(&sms(&format!("sent during the outage ({tag})"))),
        api.request(Method::GET, "/api/v1/messages")
            .header("X-API-Key", key),
        api.request(
            Method::GET,
            &format!("/api/v1/messages/{}", str_at(state, "/message_id")),
        )
        .header("X-API-Key", key),
    ]
}

fn idempotent_send(api: &TestApi, state: &Value) -> RequestBuilder {
    api.request(Method::POST, "/api/v1/messages/send")
        .header("X-API-Key", str_at(state, "/key"))
        .header("Idempotency-Key", str_at(state, "/idempotency_key"))
        .json(&sms("sent during the outage, with an Idempotency-Key"))
}

// ---- the authorizer, through `cargo lambda invoke` ---------------------------------------------

fn invoke_authorizer_blocking(
    fixture: &str,
    placeholder: &str,
    value: &str,
) -> AuthorizerInvocation {
    let template = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(fixture),
    )
    .expect("read the fixture");
    let encoded = serde_json::to_string(value).expect("encode");
    let event = template
        .replace(placeholder, &encoded[1..encoded.len() - 1])
        .replace("{{REQUEST_ID}}", &Uuid::new_v4().to_string());
    invoke_authorizer_raw(&event)
}

async fn invoke_authorizer(
    fixture: &'static str,
    placeholder: &'static str,
    value: &str,
) -> AuthorizerInvocation {
    let value = value.to_owned();
    tokio::task::spawn_blocking(move || invoke_authorizer_blocking(fixture, placeholder, &value))
        .await
        .expect("invoke task")
}

/// The authorizer's decision for an API key while the database is down: an error (API Gateway
/// answers 503), never an Allow.
async fn assert_authorizer_fails_closed(key: &str) {
    let invoked = invoke_authorizer("authorizer-request-messages.json", "{{X_API_KEY}}", key).await;
    let output = format!("{}\n{}", invoked.stdout, invoked.stderr);
    assert!(
        !output.contains("\"Allow\""),
        "the authorizer allowed a key it could not check:\n{output}"
    );
    assert!(
        !invoked.success,
        "the authorizer must answer with a function error (API Gateway turns it into 503), \
         not a policy:\n{output}"
    );
    assert!(
        invoked.took < INVOKE_BOUND,
        "the authorizer took {:?} to fail",
        invoked.took
    );
}

/// A user JWT needs no database: the authorizer still decides (Allow) during an outage, and
/// the function behind it answers 503 itself.
async fn assert_authorizer_still_checks_jwts(token: &str) {
    let bearer = format!("Bearer {token}");
    let invoked = invoke_authorizer(
        "authorizer-request-api-keys.json",
        "{{AUTHORIZATION}}",
        &bearer,
    )
    .await;
    assert!(
        invoked.success && invoked.stdout.contains("\"Allow\""),
        "a valid JWT must still be allowed (no database needed):\n{}\n{}",
        invoked.stdout,
        invoked.stderr
    );
}

// ---- phases ----------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "run by scripts/test.sh's outage layer, which stops and restarts the local DynamoDB between phases"]
async fn outage_1_prepare() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let message = api
        .send_sms(str_at(&key, "/key"), "sent before the outage")
        .await;
    save_state(&json!({
        "email": account.email,
        "token": account.token,
        "workspace_id": account.workspace_id,
        "key": str_at(&key, "/key"),
        "key_id": str_at(&key, "/id"),
        "message_id": str_at(&message, "/id"),
        "idempotency_key": format!("outage-{}", Uuid::new_v4()),
    }));
}

#[tokio::test]
#[ignore = "run by scripts/test.sh's outage layer, which stops and restarts the local DynamoDB between phases"]
async fn outage_2_hanging() {
    let api = TestApi::from_env();
    let state = load_state();
    let mut requests = every_route(&api, &state, "hanging");
    requests.push(idempotent_send(&api, &state));
    assert_all_unavailable(&api, requests).await;
    assert_authorizer_fails_closed(str_at(&state, "/key")).await;
    assert_authorizer_still_checks_jwts(str_at(&state, "/token")).await;
}

#[tokio::test]
#[ignore = "run by scripts/test.sh's outage layer, which stops and restarts the local DynamoDB between phases"]
async fn outage_3_resumed() {
    let api = TestApi::from_env();
    let state = load_state();
    let key = str_at(&state, "/key");

    // The data from before the outage is all there and usable.
    let message = api
        .get_message(key, str_at(&state, "/message_id"))
        .await
        .data(200);
    assert_eq!(message["content"]["text"], json!("sent before the outage"));
    let keys = api.list_keys(str_at(&state, "/token")).await.data(200);
    let keys = keys["api_keys"].as_array().expect("api_keys");
    let original = keys
        .iter()
        .find(|k| k["id"] == state["key_id"])
        .expect("the key from before the outage");
    assert_eq!(
        original["is_active"],
        json!(true),
        "the 503 DELETE changed nothing"
    );

    // A 503 says the outcome is unknown: a write whose answer timed out may still have been
    // applied once the database caught up (this is also true of real DynamoDB). Whatever
    // happened, it happened whole (tests/integrity.rs checks the table), and a retry with
    // the same Idempotency-Key settles it: exactly one such message.
    let late_keys: Vec<&Value> = keys.iter().filter(|k| k["id"] != state["key_id"]).collect();
    eprintln!(
        "outage: {} key(s) created by requests that answered 503 while the database hung",
        late_keys.len()
    );
    for k in &late_keys {
        assert_eq!(k["name"], json!("created during the outage (hanging)"));
    }
    let retried = api.send(idempotent_send(&api, &state)).await.data(201);
    let again = api.send(idempotent_send(&api, &state)).await.data(201);
    assert_eq!(retried["id"], again["id"]);
    let listed = api.list_messages(key, &[("limit", "100")]).await.data(200);
    let texts = strs_in(&listed, "messages", "/content/text");
    assert_eq!(
        texts
            .iter()
            .filter(|t| **t == "sent during the outage, with an Idempotency-Key")
            .count(),
        1,
        "{texts:?}"
    );
    eprintln!(
        "outage: {} plain send(s) that answered 503 were applied late",
        texts
            .iter()
            .filter(|t| **t == "sent during the outage (hanging)")
            .count()
    );
    // New work goes through.
    api.send_sms(key, "sent after the database came back").await;
    api.create_key(str_at(&state, "/token"), None).await;
    let endpoint = api
        .request(Method::POST, "/api/v1/webhooks")
        .bearer_auth(str_at(&state, "/token"))
        .json(&json!({"url": "http://127.0.0.1:9/after-the-outage"}));
    api.send(endpoint).await.data(201);
}

#[tokio::test]
#[ignore = "run by scripts/test.sh's outage layer, which stops and restarts the local DynamoDB between phases"]
async fn outage_4_stopped() {
    let api = TestApi::from_env();
    let state = load_state();
    assert_all_unavailable(&api, every_route(&api, &state, "stopped")).await;
    assert_authorizer_fails_closed(str_at(&state, "/key")).await;
    assert_authorizer_still_checks_jwts(str_at(&state, "/token")).await;
}

#[tokio::test]
#[ignore = "run by scripts/test.sh's outage layer, which stops and restarts the local DynamoDB between phases"]
async fn outage_5_restarted() {
    // A fresh, empty database on the same port: every function must reconnect on its own
    // (each holds one SDK client from its cold start), on the first request after the restart.
    let api = TestApi::from_env();
    let state = load_state();

    // What the old database held is gone; the old key is simply unknown now.
    assert_invalid_api_key(&api.list_messages(str_at(&state, "/key"), &[]).await);

    let account = api.register_workspace().await;
    api.login(&account.email, PASSWORD).await.data(200);
    let key = api.create_key(&account.token, None).await;
    let secret = str_at(&key, "/key");
    let sent = api.send_sms(secret, "after the restart").await;
    let listed = api.list_messages(secret, &[]).await.data(200);
    assert_eq!(listed["messages"][0]["id"], sent["id"]);
    api.get_message(secret, str_at(&sent, "/id"))
        .await
        .data(200);
    let keys = api.list_keys(&account.token).await.data(200);
    assert_eq!(keys["api_keys"].as_array().map(Vec::len), Some(1));

    let invoked =
        invoke_authorizer("authorizer-request-messages.json", "{{X_API_KEY}}", secret).await;
    assert!(
        invoked.success && invoked.stdout.contains("\"Allow\""),
        "the authorizer must allow a valid key again:\n{}\n{}",
        invoked.stdout,
        invoked.stderr
    );

    api.deactivate_key(&account.token, str_at(&key, "/id"))
        .await
        .data(200);
    assert_invalid_api_key(&api.list_messages(secret, &[]).await);
}
