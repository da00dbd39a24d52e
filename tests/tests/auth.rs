//! Sign-up, login, request-body handling, and JWT protection of the management routes.

use reqwest::Method;
use serde_json::{json, Value};
use yebolink_blackbox::*;

fn register_body(email: &str) -> Value {
    json!({"workspace_name": "Acme Ltd", "email": email, "password": PASSWORD})
}

fn assert_session_shape(data: &Value, email: &str, workspace_name: &str) {
    let token = str_at(data, "/token");
    assert_eq!(
        token.split('.').count(),
        3,
        "token must be a JWT (three dot-separated parts)"
    );
    assert_eq!(data["token_type"], json!("Bearer"));
    let expires_in = data["expires_in"]
        .as_u64()
        .unwrap_or_else(|| panic!("expires_in must be a positive integer: {data}"));
    assert!(expires_in > 0, "expires_in must be positive");
    assert_uuid(&data["workspace"]["id"], "workspace.id");
    assert_eq!(data["workspace"]["name"], json!(workspace_name));
    assert_uuid(&data["user"]["id"], "user.id");
    assert_eq!(data["user"]["email"], json!(email));
}

#[tokio::test]
async fn register_returns_201_with_token_workspace_and_user() {
    let api = TestApi::from_env();
    let email = unique_email();
    let data = api.register(&register_body(&email)).await.data(201);
    assert_session_shape(&data, &email, "Acme Ltd");
}

#[tokio::test]
async fn register_stores_the_email_lowercased() {
    let api = TestApi::from_env();
    let email = unique_email();
    let data = api
        .register(&register_body(&email.to_uppercase()))
        .await
        .data(201);
    assert_eq!(data["user"]["email"], json!(email));
}

#[tokio::test]
async fn registering_an_email_taken_in_another_case_is_409_email_taken() {
    let api = TestApi::from_env();
    let email = unique_email();
    api.register(&register_body(&email)).await.data(201);

    let again = api.register(&register_body(&email)).await;
    assert_error(&again, 409, "email_taken");

    let shouting = api.register(&register_body(&email.to_uppercase())).await;
    assert_error(&shouting, 409, "email_taken");
}

#[tokio::test]
async fn register_rejects_a_password_outside_12_to_256_characters_naming_the_field() {
    let api = TestApi::from_env();
    for password in ["short-pw-11".to_owned(), "p".repeat(257)] {
        let reply = api
            .register(&json!({
                "workspace_name": "Acme Ltd",
                "email": unique_email(),
                "password": password,
            }))
            .await;
        assert_validation_error(&reply, &["password"]);
    }
}

#[tokio::test]
async fn register_accepts_a_password_of_exactly_12_characters() {
    let api = TestApi::from_env();
    let email = unique_email();
    let data = api
        .register(
            &json!({"workspace_name": "Acme Ltd", "email": email, "password": "twelve-chars"}),
        )
        .await
        .data(201);
    assert_eq!(data["user"]["email"], json!(email));
    api.login(&email, "twelve-chars").await.data(200);
}

#[tokio::test]
async fn register_rejects_a_blank_or_overlong_workspace_name() {
    let api = TestApi::from_env();
    for name in [json!("   "), json!(""), json!("w".repeat(101))] {
        let reply = api
            .register(
                &json!({"workspace_name": name, "email": unique_email(), "password": PASSWORD}),
            )
            .await;
        assert_validation_error(&reply, &["workspace_name"]);
    }
}

#[tokio::test]
async fn register_with_a_missing_field_is_400_naming_it() {
    let api = TestApi::from_env();
    let reply = api
        .register(&json!({"workspace_name": "Acme Ltd", "password": PASSWORD}))
        .await;
    assert_validation_error(&reply, &["email"]);

    let reply = api
        .register(&json!({"workspace_name": "Acme Ltd", "email": unique_email()}))
        .await;
    assert_validation_error(&reply, &["password"]);
}

#[tokio::test]
async fn register_with_malformed_json_is_400_invalid_json() {
    let api = TestApi::from_env();
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/auth/register")
                .header("Content-Type", "application/json")
                .body(r#"{"workspace_name": "Acme", "email": "#),
        )
        .await;
    assert_error(&reply, 400, "invalid_json");
}

#[tokio::test]
async fn register_with_json_that_is_not_an_object_is_400_validation_error() {
    let api = TestApi::from_env();
    for body in [json!([1, 2, 3]), json!("hello"), json!(null)] {
        let reply = api.register(&body).await;
        assert_error(&reply, 400, "validation_error");
    }
}

#[tokio::test]
async fn register_with_a_body_over_64_kib_is_413_payload_too_large() {
    let api = TestApi::from_env();
    let body = json!({
        "workspace_name": "w".repeat(70 * 1024),
        "email": unique_email(),
        "password": PASSWORD,
    });
    let reply = api.register(&body).await;
    assert_error(&reply, 413, "payload_too_large");
}

#[tokio::test]
async fn register_with_a_form_content_type_is_415_unsupported_media_type() {
    let api = TestApi::from_env();
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/auth/register")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(register_body(&unique_email()).to_string()),
        )
        .await;
    assert_error(&reply, 415, "unsupported_media_type");
}

#[tokio::test]
async fn register_accepts_json_with_a_charset_parameter() {
    let api = TestApi::from_env();
    let email = unique_email();
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/auth/register")
                .header("Content-Type", "application/json; charset=utf-8")
                .body(register_body(&email).to_string()),
        )
        .await;
    assert_eq!(reply.data(201)["user"]["email"], json!(email));
}

#[tokio::test]
async fn login_returns_200_with_the_same_shape_for_the_same_workspace() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let data = api.login(&account.email, PASSWORD).await.data(200);
    assert_session_shape(&data, &account.email, "Black-box Test Workspace");
    assert_eq!(str_at(&data, "/workspace/id"), account.workspace_id);
    assert_eq!(str_at(&data, "/user/id"), account.user_id);

    // The token from login works on the management routes.
    api.list_keys(str_at(&data, "/token")).await.data(200);
}

#[tokio::test]
async fn login_accepts_the_email_in_any_case() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let data = api
        .login(&account.email.to_uppercase(), PASSWORD)
        .await
        .data(200);
    assert_eq!(str_at(&data, "/user/id"), account.user_id);
}

#[tokio::test]
async fn login_with_wrong_password_or_unknown_email_gives_identical_401_bodies() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;

    let wrong_password = api.login(&account.email, "not the right password").await;
    assert_error(&wrong_password, 401, "invalid_credentials");

    let unknown_email = api.login(&unique_email(), PASSWORD).await;
    assert_error(&unknown_email, 401, "invalid_credentials");

    assert_eq!(
        wrong_password.text, unknown_email.text,
        "the two failures must be indistinguishable"
    );
}

#[tokio::test]
async fn login_with_malformed_json_is_400_invalid_json() {
    let api = TestApi::from_env();
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/auth/login")
                .header("Content-Type", "application/json")
                .body("not json at all"),
        )
        .await;
    assert_error(&reply, 400, "invalid_json");
}

#[tokio::test]
async fn management_routes_without_a_token_are_401_unauthorized() {
    let api = TestApi::from_env();
    let id = uuid::Uuid::new_v4().to_string();
    let requests = [
        api.request(Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "no token"})),
        api.request(Method::GET, "/api/v1/api-keys"),
        api.request(Method::DELETE, &format!("/api/v1/api-keys/{id}")),
    ];
    for request in requests {
        let reply = api.send(request).await;
        assert_error(&reply, 401, "unauthorized");
    }
}

#[tokio::test]
async fn management_routes_reject_malformed_tampered_and_unsigned_tokens() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let parts: Vec<&str> = account.token.split('.').collect();
    assert_eq!(parts.len(), 3);

    // Same header and claims, signature altered.
    // (The first character carries six signature bits; the last one has unused padding bits.)
    let first = parts[2].chars().next().expect("non-empty signature");
    let swapped = if first == 'A' { 'B' } else { 'A' };
    let tampered = format!("{}.{}.{swapped}{}", parts[0], parts[1], &parts[2][1..]);
    // `alg: none` with the genuine claims and no signature.
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);

    for token in ["garbage", "a.b.c", tampered.as_str(), unsigned.as_str()] {
        let reply = api.list_keys(token).await;
        assert_error(&reply, 401, "unauthorized");
    }

    // Not a Bearer scheme at all.
    let reply = api
        .send(
            api.request(Method::GET, "/api/v1/api-keys")
                .header("Authorization", format!("Basic {}", account.token)),
        )
        .await;
    assert_error(&reply, 401, "unauthorized");
}
