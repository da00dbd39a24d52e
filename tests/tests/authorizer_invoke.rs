//! The authorizer binary itself, run through `cargo lambda invoke` with API Gateway REST API
//! REQUEST authorizer events (templates in `tests/fixtures/`), against the stack that
//! `cargo lambda watch` serves (it answers invokes on its HTTP port).
//!
//! Needs `CARGO_LAMBDA` (path of the `cargo-lambda` executable; it is run as
//! `$CARGO_LAMBDA lambda invoke ...`, exactly as `cargo lambda invoke` runs it),
//! `YEBOLINK_BASE_URL` (keys and tokens are made over HTTP), and optionally
//! `YEBOLINK_INVOKE_PORT` / `YEBOLINK_INVOKE_ADDRESS` (default: port and host of the base URL).
//! Nothing is skipped: a missing variable fails the test with a message.

use std::path::PathBuf;

use serde_json::{json, Value};
use uuid::Uuid;
use yebolink_blackbox::*;

const MESSAGES_FIXTURE: &str = "authorizer-request-messages.json";
const API_KEYS_FIXTURE: &str = "authorizer-request-api-keys.json";

/// A fixture template with its placeholders filled: each `(placeholder, Some(value))` replaces
/// the placeholder; `(placeholder, None)` removes the headers that carry it (a request without
/// that header). `{{REQUEST_ID}}` is always filled with a fresh UUID.
fn event(fixture: &str, fills: &[(&str, Option<&str>)]) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", path.display()));

    let request_id = Uuid::new_v4().to_string();
    let mut fills: Vec<(&str, Option<&str>)> = fills.to_vec();
    fills.push(("{{REQUEST_ID}}", Some(request_id.as_str())));

    for section in ["headers", "multiValueHeaders"] {
        let headers = event[section]
            .as_object_mut()
            .unwrap_or_else(|| panic!("fixture {fixture} has no {section} object"));
        headers.retain(|_, value| {
            !fills.iter().any(|(placeholder, fill)| {
                fill.is_none() && value.to_string().contains(placeholder)
            })
        });
    }
    let mut text = event.to_string();
    for (placeholder, fill) in &fills {
        if let Some(fill) = fill {
            // The JSON string content of the value, without its quotes.
            let encoded = serde_json::to_string(fill).expect("encode");
            text = text.replace(placeholder, &encoded[1..encoded.len() - 1]);
        }
    }
    assert!(
        !text.contains("{{"),
        "fixture {fixture} has an unfilled placeholder: {text}"
    );
    serde_json::from_str(&text).expect("filled event is JSON")
}

/// Runs `cargo lambda invoke authorizer --data-file <event>` and returns the function's
/// response (an `APIGatewayCustomAuthorizerResponse`).
fn invoke_authorizer_blocking(event: &Value) -> Value {
    let invoked =
        invoke_authorizer_raw(&serde_json::to_string_pretty(event).expect("encode event"));
    let (stdout, stderr) = (&invoked.stdout, &invoked.stderr);
    assert!(
        invoked.success,
        "`cargo lambda invoke authorizer` failed.\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .ok()
        .or_else(|| {
            stdout
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with('{'))
                .and_then(|l| serde_json::from_str(l).ok())
        })
        .unwrap_or_else(|| {
            panic!("the authorizer's response is not JSON.\nstdout:\n{stdout}\nstderr:\n{stderr}")
        })
}

async fn invoke_authorizer(event: Value) -> Value {
    tokio::task::spawn_blocking(move || invoke_authorizer_blocking(&event))
        .await
        .expect("invoke task")
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Asserts the response shape and `Effect`; returns the context.
fn assert_policy(response: &Value, effect: &str, event: &Value) -> Value {
    let statement = &response["policyDocument"]["Statement"][0];
    assert_eq!(
        statement["Effect"],
        json!(effect),
        "policy effect; response {response}"
    );
    assert_eq!(
        response["policyDocument"]["Statement"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "one statement; response {response}"
    );
    assert_eq!(
        as_list(&statement["Action"]),
        [json!("execute-api:Invoke")],
        "response {response}"
    );
    if effect == "Allow" {
        assert_eq!(
            as_list(&statement["Resource"]),
            [event["methodArn"].clone()],
            "Allow exactly the method ARN asked about; response {response}"
        );
        assert!(
            response["principalId"]
                .as_str()
                .is_some_and(|p| !p.is_empty()),
            "principalId; response {response}"
        );
    }
    response["context"].clone()
}

fn assert_denied_with(response: &Value, event: &Value, code: &str) {
    let context = assert_policy(response, "Deny", event);
    assert_eq!(context["error_code"], json!(code), "response {response}");
    let message = context["error_message"]
        .as_str()
        .unwrap_or_else(|| panic!("error_message in the context; response {response}"));
    if code == "invalid_api_key" {
        assert_eq!(message, INVALID_API_KEY_MESSAGE);
    } else {
        assert!(!message.is_empty());
    }
    for field in ["workspace_id", "key_id", "user_id", "scopes"] {
        assert!(
            context.get(field).is_none(),
            "a denial grants no identity ({field}); response {response}"
        );
    }
}

#[tokio::test]
async fn authorizer_allows_an_active_key_with_its_workspace_key_id_and_scopes() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let event = event(
        MESSAGES_FIXTURE,
        &[("{{X_API_KEY}}", Some(str_at(&key, "/key")))],
    );
    let response = invoke_authorizer(event.clone()).await;

    let context = assert_policy(&response, "Allow", &event);
    assert_eq!(context["principal_type"], json!("api_key"));
    assert_eq!(context["workspace_id"], json!(account.workspace_id));
    assert_eq!(context["key_id"], key["id"]);
    assert_eq!(context["scopes"], json!("send_messages read_messages"));
    assert!(context.get("error_code").is_none(), "response {response}");
    assert!(
        !response.to_string().contains(str_at(&key, "/key")),
        "the authorizer must not echo the key"
    );
}

#[tokio::test]
async fn authorizer_context_carries_only_the_keys_scopes() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(Some(&["read_messages"])).await;
    let event = event(
        MESSAGES_FIXTURE,
        &[("{{X_API_KEY}}", Some(str_at(&key, "/key")))],
    );
    let response = invoke_authorizer(event.clone()).await;
    let context = assert_policy(&response, "Allow", &event);
    assert_eq!(context["scopes"], json!("read_messages"));
    assert_eq!(context["key_id"], key["id"]);
}

#[tokio::test]
async fn authorizer_denies_a_deactivated_key_with_invalid_api_key() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let event = event(
        MESSAGES_FIXTURE,
        &[("{{X_API_KEY}}", Some(str_at(&key, "/key")))],
    );
    // Allowed while active...
    let before = invoke_authorizer(event.clone()).await;
    assert_policy(&before, "Allow", &event);

    api.deactivate_key(&account.token, str_at(&key, "/id"))
        .await
        .data(200);

    // ...denied on the very next invoke.
    let after = invoke_authorizer(event.clone()).await;
    assert_denied_with(&after, &event, "invalid_api_key");
}

#[tokio::test]
async fn authorizer_denies_a_garbage_key_with_invalid_api_key() {
    let unknown = well_formed_unknown_key();
    for key in [
        "garbage",
        "ybk_1234567890abcdef1234567890abcdef1234567890abcdef",
        unknown.as_str(),
    ] {
        let event = event(MESSAGES_FIXTURE, &[("{{X_API_KEY}}", Some(key))]);
        let response = invoke_authorizer(event.clone()).await;
        assert_denied_with(&response, &event, "invalid_api_key");
    }
}

#[tokio::test]
async fn authorizer_denies_a_messaging_request_without_an_api_key() {
    let event = event(MESSAGES_FIXTURE, &[("{{X_API_KEY}}", None)]);
    assert!(event["headers"].get("X-API-Key").is_none());
    let response = invoke_authorizer(event.clone()).await;
    assert_denied_with(&response, &event, "invalid_api_key");
}

#[tokio::test]
async fn authorizer_denies_a_user_jwt_on_the_messaging_routes() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut event = event(MESSAGES_FIXTURE, &[("{{X_API_KEY}}", None)]);
    let bearer = format!("Bearer {}", account.token);
    event["headers"]["Authorization"] = json!(bearer);
    event["multiValueHeaders"]["Authorization"] = json!([bearer]);
    let response = invoke_authorizer(event.clone()).await;
    assert_denied_with(&response, &event, "invalid_api_key");
}

#[tokio::test]
async fn authorizer_allows_a_user_jwt_on_the_management_routes() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let bearer = format!("Bearer {}", account.token);
    let event = event(API_KEYS_FIXTURE, &[("{{AUTHORIZATION}}", Some(&bearer))]);
    let response = invoke_authorizer(event.clone()).await;
    let context = assert_policy(&response, "Allow", &event);
    assert_eq!(context["principal_type"], json!("user"));
    assert_eq!(context["workspace_id"], json!(account.workspace_id));
    assert_eq!(context["user_id"], json!(account.user_id));
    assert!(context.get("key_id").is_none(), "response {response}");
}

#[tokio::test]
async fn authorizer_denies_an_api_key_on_the_management_routes() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");

    let as_bearer = format!("Bearer {secret}");
    let event_bearer = event(API_KEYS_FIXTURE, &[("{{AUTHORIZATION}}", Some(&as_bearer))]);
    let response = invoke_authorizer(event_bearer.clone()).await;
    assert_denied_with(&response, &event_bearer, "unauthorized");

    let mut event_header = event(API_KEYS_FIXTURE, &[("{{AUTHORIZATION}}", None)]);
    event_header["headers"]["X-API-Key"] = json!(secret);
    event_header["multiValueHeaders"]["X-API-Key"] = json!([secret]);
    let response = invoke_authorizer(event_header.clone()).await;
    assert_denied_with(&response, &event_header, "unauthorized");
}

#[test]
fn fixtures_fill_and_drop_their_placeholders() {
    let filled = event(MESSAGES_FIXTURE, &[("{{X_API_KEY}}", Some("ybk_x"))]);
    assert_eq!(filled["headers"]["X-API-Key"], json!("ybk_x"));
    assert_eq!(filled["multiValueHeaders"]["X-API-Key"], json!(["ybk_x"]));
    assert_eq!(filled["type"], json!("REQUEST"));
    assert_uuid(&filled["requestContext"]["requestId"], "requestId");

    let dropped = event(API_KEYS_FIXTURE, &[("{{AUTHORIZATION}}", None)]);
    assert!(dropped["headers"].get("Authorization").is_none());
    assert!(dropped["multiValueHeaders"].get("Authorization").is_none());
    assert_eq!(dropped["headers"]["Accept"], json!("application/json"));
}
