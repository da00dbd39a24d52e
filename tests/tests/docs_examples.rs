//! The public "API Keys Management" page's examples, replayed as written (host changed): the
//! same methods, headers and body shapes, and the response fields their code reads.

use reqwest::Method;
use serde_json::{json, Value};
use yebolink_blackbox::*;

/// `JSON.stringify({name: 'Production API Key', scopes: ['send_messages', 'read_messages']})`
const CREATE_BODY: &str =
    r#"{"name":"Production API Key","scopes":["send_messages","read_messages"]}"#;

/// The curl example's `-d` argument, newlines and all.
const CURL_CREATE_BODY: &str =
    "{\n\"name\": \"Production API Key\",\n\"scopes\": [\"send_messages\", \"read_messages\"]\n}";

/// `curl -X POST .../api/v1/api-keys -H "Authorization: Bearer ..." -H "Content-Type: application/json" -d ...`
async fn create_as_documented(api: &TestApi, token: &str, body: &str) -> Reply {
    api.send(
        api.request(Method::POST, "/api/v1/api-keys")
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn docs_curl_create_key_example_returns_the_documented_response() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let reply = create_as_documented(&api, &account.token, CURL_CREATE_BODY).await;
    let body = {
        reply.data(201);
        reply.json()
    };

    // The documented response, field for field (the Go example's CreateKeyResponse), plus the
    // two lifecycle fields every key view has (`expires_at`, `status`) and the key's policy
    // (issue 25: `rate_limit_per_minute`, `allowed_ips`, `metadata`, `monthly_send_limit`).
    assert_eq!(body["success"], json!(true));
    let data = &body["data"];
    let mut fields: Vec<&str> = data
        .as_object()
        .expect("data is an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "allowed_ips",
            "created_at",
            "expires_at",
            "id",
            "key",
            "key_prefix",
            "metadata",
            "monthly_send_limit",
            "name",
            "rate_limit_per_minute",
            "scopes",
            "status",
            "warning"
        ]
    );
    assert_eq!(data["expires_at"], json!(null));
    assert_eq!(data["status"], json!("active"));
    assert_eq!(data["name"], json!("Production API Key"));
    assert_eq!(data["scopes"], json!(["send_messages", "read_messages"]));
    assert_eq!(
        data["warning"],
        json!("Save this key securely. It will not be shown again.")
    );
    // console.log('API Key:', data.data.key) -- and the troubleshooting check startsWith("ybk_").
    let key = str_at(&body, "/data/key");
    assert!(key.starts_with("ybk_"));
    assert_key_format(key);
    assert_eq!(str_at(data, "/key_prefix"), format!("{}...", &key[..11]));
}

#[tokio::test]
async fn docs_fetch_python_php_ruby_go_create_key_body_works() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let data = create_as_documented(&api, &account.token, CREATE_BODY)
        .await
        .data(201);
    assert_key_format(str_at(&data, "/key"));
    assert_eq!(data["scopes"], json!(["send_messages", "read_messages"]));
}

#[tokio::test]
async fn docs_create_key_with_defaults_to_all_scopes() {
    // "scopes | array | No | Permissions for the key (defaults to all)"
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let data = create_as_documented(&api, &account.token, r#"{"name":"Development API Key"}"#)
        .await
        .data(201);
    assert_eq!(data["scopes"], json!(["send_messages", "read_messages"]));
}

#[tokio::test]
async fn docs_list_examples_read_name_prefix_last_used_and_is_active() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let production = create_as_documented(&api, &account.token, CREATE_BODY)
        .await
        .data(201);
    let development = create_as_documented(
        &api,
        &account.token,
        r#"{"name":"Development API Key","scopes":["send_messages","read_messages"]}"#,
    )
    .await
    .data(201);
    api.list_messages(str_at(&production, "/key"), &[])
        .await
        .data(200);

    // curl -X GET .../api/v1/api-keys -H "Authorization: Bearer ..."
    let reply = api
        .send(
            api.request(Method::GET, "/api/v1/api-keys")
                .header("Authorization", format!("Bearer {}", account.token)),
        )
        .await;
    let body = {
        reply.data(200);
        reply.json()
    };
    let keys = body["data"]["api_keys"].as_array().expect("data.api_keys");
    assert_eq!(keys.len(), 2);
    for key in keys {
        // Python: key['name'], key['key_prefix'], key['last_used_at'] (KeyError if absent).
        let object = key.as_object().expect("each key is an object");
        for field in [
            "id",
            "name",
            "key_prefix",
            "scopes",
            "is_active",
            "last_used_at",
            "created_at",
        ] {
            assert!(object.contains_key(field), "{field} missing from {key}");
        }
        assert!(!object.contains_key("key"), "no full key in a listing");
        assert_eq!(key["is_active"], json!(true));
    }
    // The newest (Development) first, never used; Production used a moment ago.
    assert_eq!(keys[0]["id"], development["id"]);
    assert_eq!(keys[0]["last_used_at"], Value::Null);
    assert_eq!(keys[1]["id"], production["id"]);
    assert_recent_timestamp(&keys[1]["last_used_at"], "last_used_at");

    // Troubleshooting: data.data.api_keys.filter(k => k.is_active).map(k => k.key_prefix)
    let active: Vec<&str> = keys
        .iter()
        .filter(|k| k["is_active"] == json!(true))
        .map(|k| str_at(k, "/key_prefix"))
        .collect();
    assert_eq!(
        active,
        [
            str_at(&development, "/key_prefix"),
            str_at(&production, "/key_prefix")
        ]
    );
}

#[tokio::test]
async fn docs_deactivate_example_prints_the_message_and_revokes_the_key() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = create_as_documented(&api, &account.token, CREATE_BODY)
        .await
        .data(201);

    // curl -X DELETE .../api/v1/api-keys/<id> -H "Authorization: Bearer ..."
    let reply = api
        .send(
            api.request(
                Method::DELETE,
                &format!("/api/v1/api-keys/{}", str_at(&created, "/id")),
            )
            .header("Authorization", format!("Bearer {}", account.token)),
        )
        .await;
    let body = {
        reply.data(200);
        reply.json()
    };
    assert_eq!(
        body,
        json!({"success": true, "data": {"message": "API key deactivated successfully"}})
    );

    // "Deactivate an API key to immediately revoke access."
    let refused = api
        .send_message(str_at(&created, "/key"), &sms("revoked"))
        .await;
    assert_invalid_api_key(&refused);
}

#[tokio::test]
async fn docs_node_backend_send_with_only_the_x_api_key_header_works() {
    // fetch(url, {method: 'POST', headers: {'X-API-Key': ...}, body: JSON.stringify({to, channel: 'sms', content: {text}})})
    // sends a string body and no Content-Type header of its own.
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let body =
        format!(r#"{{"to":"{PHONE}","channel":"sms","content":{{"text":"Your code is 123456"}}}}"#);
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/messages/send")
                .header("X-API-Key", str_at(&key, "/key"))
                .body(body),
        )
        .await;
    // res.json(data): the whole envelope is passed on.
    let data = reply.data(201);
    assert_eq!(reply.json()["success"], json!(true));
    assert_eq!(data["to"], json!(PHONE));
    assert_eq!(data["channel"], json!("sms"));
    assert_eq!(data["content"]["text"], json!("Your code is 123456"));
    assert_eq!(data["status"], json!("queued"));
}

#[tokio::test]
async fn docs_send_body_labelled_text_plain_as_node_fetch_does_works() {
    // Node/browser fetch labels a string body `text/plain;charset=UTF-8`.
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/messages/send")
                .header("X-API-Key", str_at(&key, "/key"))
                .header("Content-Type", "text/plain;charset=UTF-8")
                .body(sms("labelled text/plain").to_string()),
        )
        .await;
    assert_eq!(
        reply.data(201)["content"]["text"],
        json!("labelled text/plain")
    );
}

#[tokio::test]
async fn docs_client_class_reads_rate_limit_headers_on_every_request() {
    // class YeboLinkClient: every request carries X-API-Key and Content-Type: application/json,
    // GETs included, then reads X-RateLimit-Remaining / X-RateLimit-Limit with parseInt.
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let with_client_headers = |rb: reqwest::RequestBuilder| {
        rb.header("X-API-Key", str_at(&key, "/key"))
            .header("Content-Type", "application/json")
    };

    let sent = api
        .send(with_client_headers(
            api.request(Method::POST, "/api/v1/messages/send")
                .body(sms("via the client class").to_string()),
        ))
        .await;
    let message = sent.data(201);
    let listed = api
        .send(with_client_headers(
            api.request(Method::GET, "/api/v1/messages"),
        ))
        .await;
    listed.data(200);
    let got = api
        .send(with_client_headers(api.request(
            Method::GET,
            &format!("/api/v1/messages/{}", str_at(&message, "/id")),
        )))
        .await;
    got.data(200);

    for reply in [&sent, &listed, &got] {
        let remaining: u64 = reply
            .header("X-RateLimit-Remaining")
            .expect("X-RateLimit-Remaining")
            .parse()
            .expect("parseInt(remaining)");
        let limit: u64 = reply
            .header("X-RateLimit-Limit")
            .expect("X-RateLimit-Limit")
            .parse()
            .expect("parseInt(limit)");
        assert!(remaining < limit);
    }
}

#[tokio::test]
async fn docs_send_with_backoff_sees_429_with_retry_after() {
    // sendWithBackoff / YeboLinkClient: `if (response.status === 429)` then
    // `response.headers.get('Retry-After')`, seconds.
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let mut limit = u64::MAX;
    let mut attempts = 0u64;
    let limited = loop {
        let reply = api
            .send(
                api.request(Method::POST, "/api/v1/messages/send")
                    .header("X-API-Key", str_at(&key, "/key"))
                    .header("Content-Type", "application/json")
                    .body(sms("backoff").to_string()),
            )
            .await;
        attempts += 1;
        limit = limit.min(reply.rate_limit().limit);
        if reply.status.as_u16() == 429 {
            break reply;
        }
        reply.data(201);
        assert!(
            attempts < 2 * limit + 2,
            "no 429 after {attempts} sends with X-RateLimit-Limit {limit}"
        );
    };
    assert_error(&limited, 429, "rate_limited");
    let retry_after: u64 = limited
        .header("Retry-After")
        .expect("Retry-After on a 429")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=61).contains(&retry_after));
}

#[tokio::test]
async fn docs_troubleshooting_invalid_api_key_causes_all_say_invalid_api_key() {
    // "Invalid API key" -- incorrect or malformed, deactivated, wrong authentication header.
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");

    // Wrong authentication header: the key as a bearer token.
    let wrong_header = api
        .send(
            api.request(Method::GET, "/api/v1/messages")
                .header("Authorization", format!("Bearer {secret}")),
        )
        .await;
    assert_invalid_api_key(&wrong_header);

    // Incorrect or malformed: the docs' placeholder key.
    assert_invalid_api_key(
        &api.list_messages("ybk_1234567890abcdef1234567890abcdef1234567890abcdef", &[])
            .await,
    );

    // Deactivated.
    api.deactivate_key(&account.token, str_at(&key, "/id"))
        .await
        .data(200);
    assert_invalid_api_key(&api.list_messages(secret, &[]).await);
}
