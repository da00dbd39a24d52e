//! `POST /api/v1/auth/register`: creates a workspace and its owner, and starts a session.
//! Registrations are limited per source address (`REGISTER_LIMIT_PER_IP_PER_HOUR`), and a taken
//! email is refused before the password is hashed: Argon2id is the expensive part.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::account::{DisplayName, Email, NewAccount, Password};
use yebolink_shared::domain::audit::{Actor, AuditEventType, Target};
use yebolink_shared::domain::ids::{UserId, WorkspaceId};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::window::REGISTER_WINDOW_SECONDS;
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::client_source;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::gate::admit_source;
use yebolink_shared::http::request::json_object;
use yebolink_shared::http::response::{failure, respond};
use yebolink_shared::http::views;
use yebolink_shared::services::password::hash_password;
use yebolink_shared::storage::accounts::AccountCreated;
use yebolink_shared::storage::counters::Counter;
use yebolink_shared::storage::Store;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    // Malformed requests are refused before anything is counted: they cost no write.
    let fields = match fields(&req) {
        Ok(fields) => fields,
        Err(err) => return failure(&err),
    };
    let source = client_source(app, &req);
    if let Err(refusal) = admit_source(
        app,
        Counter::RegistrationsFromSource(&source),
        app.limits.register_limit_per_ip_per_hour,
        REGISTER_WINDOW_SECONDS,
    )
    .await
    {
        return refusal;
    }
    respond(register(app, &req, fields).await)
}

fn fields(req: &Request) -> Result<(DisplayName, Email, Password), ApiError> {
    let body = json_object(req)?;
    let workspace_name = DisplayName::parse(body.required_str("workspace_name")?)
        .map_err(|problem| ApiError::field("workspace_name", problem))?;
    let email = Email::parse(body.required_str("email")?)
        .map_err(|problem| ApiError::field("email", problem))?;
    let password = Password::parse(body.required_str("password")?)
        .map_err(|problem| ApiError::field("password", problem))?;
    Ok((workspace_name, email, password))
}

async fn register<S: Store>(
    app: &App<S>,
    req: &Request,
    (workspace_name, email, password): (DisplayName, Email, Password),
) -> Result<(StatusCode, Value), ApiError> {
    let jwt = app.jwt.as_ref().ok_or(ApiError::Internal)?;

    // Cheap refusal first. The transaction below still decides a race between two
    // registrations of one email.
    if app.store.find_credentials(&email).await?.is_some() {
        return Err(ApiError::EmailTaken);
    }
    let now = Timestamp::now();
    let account = NewAccount {
        workspace_id: WorkspaceId::new(),
        workspace_name,
        user_id: UserId::new(),
        email,
        password_hash: hash_password(&password).map_err(|_| ApiError::Internal)?,
        created_at: now,
    };
    let registered = event_for_request(
        &app.limits,
        req,
        AuditEventType::UserRegistered,
        Actor::User {
            id: account.user_id,
        },
        Target::User {
            id: account.user_id,
        },
        json!({ "email": account.email }),
        now,
    );
    match app.store.create_account(&account, &registered).await? {
        AccountCreated::EmailTaken => Err(ApiError::EmailTaken),
        AccountCreated::Created => {
            tracing::info!(workspace_id = %account.workspace_id, user_id = %account.user_id, "workspace registered");
            let session = views::session(
                jwt,
                account.user_id,
                &account.email,
                account.workspace_id,
                &account.workspace_name,
                now,
            )?;
            Ok((StatusCode::CREATED, session))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{app, assert_error, body_json, request};

    fn register_request(body: Value) -> Request {
        request("POST", "/api/v1/auth/register", Some(body))
    }

    fn valid_body(email: &str) -> Value {
        json!({"workspace_name": "Acme", "email": email, "password": "a long enough password"})
    }

    #[tokio::test]
    async fn registering_returns_a_bearer_token_for_the_new_workspace_owner() {
        let app = app();
        let response = handle(&app, register_request(valid_body("Owner@Acme.io"))).await;
        assert_eq!(response.status(), 201);
        let data = &body_json(&response)["data"];
        assert_eq!(data["token_type"], "Bearer");
        assert_eq!(data["expires_in"], 3600);
        assert_eq!(data["workspace"]["name"], "Acme");
        assert_eq!(data["user"]["email"], "owner@acme.io");
        let claims = app
            .jwt
            .as_ref()
            .unwrap()
            .verify(data["token"].as_str().unwrap())
            .unwrap();
        assert_eq!(claims.workspace_id.to_string(), data["workspace"]["id"]);
        assert_eq!(claims.user_id.to_string(), data["user"]["id"]);
    }

    #[tokio::test]
    async fn the_same_email_in_another_case_is_taken() {
        let app = app();
        handle(&app, register_request(valid_body("dup@acme.io"))).await;
        let response = handle(&app, register_request(valid_body("DUP@acme.io"))).await;
        assert_error(&response, 409, "email_taken");
    }

    #[tokio::test]
    async fn each_invalid_field_is_named_in_a_400() {
        let app = app();
        for (field, body) in [
            (
                "password",
                json!({"workspace_name": "A", "email": "a@b.io", "password": "short"}),
            ),
            (
                "email",
                json!({"workspace_name": "A", "email": "nope", "password": "a long enough password"}),
            ),
            (
                "workspace_name",
                json!({"workspace_name": " ", "email": "a@b.io", "password": "a long enough password"}),
            ),
            (
                "workspace_name",
                json!({"email": "a@b.io", "password": "a long enough password"}),
            ),
        ] {
            let response = handle(&app, register_request(body)).await;
            assert_error(&response, 400, "validation_error");
            let message = body_json(&response)["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.starts_with(field), "{message}");
        }
    }

    #[tokio::test]
    async fn a_database_outage_is_a_503_and_creates_nothing() {
        let app = app();
        app.store.set_unavailable(true);
        let response = handle(&app, register_request(valid_body("down@acme.io"))).await;
        assert_error(&response, 503, "service_unavailable");
        app.store.set_unavailable(false);
        let response = handle(&app, register_request(valid_body("down@acme.io"))).await;
        assert_eq!(response.status(), 201);
    }

    #[tokio::test]
    async fn registrations_past_the_per_source_limit_are_refused_with_rate_limit_headers() {
        let mut app = app();
        app.limits.register_limit_per_ip_per_hour = 2;
        for i in 0..2 {
            let reply = handle(&app, register_request(valid_body(&format!("o{i}@acme.io")))).await;
            assert_eq!(reply.status(), 201);
        }
        let reply = handle(&app, register_request(valid_body("o3@acme.io"))).await;
        assert_error(&reply, 429, "rate_limited");
        assert_eq!(reply.headers()["x-ratelimit-limit"], "2");
        assert_eq!(reply.headers()["x-ratelimit-remaining"], "0");
        let retry_after: u64 = reply.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3600).contains(&retry_after));
        assert!(app
            .store
            .find_credentials(&Email::parse("o3@acme.io").unwrap())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn invalid_registrations_are_not_counted() {
        let mut app = app();
        app.limits.register_limit_per_ip_per_hour = 1;
        for _ in 0..3 {
            let reply = handle(&app, register_request(json!({"email": "x"}))).await;
            assert_error(&reply, 400, "validation_error");
        }
        let reply = handle(&app, register_request(valid_body("ok@acme.io"))).await;
        assert_eq!(reply.status(), 201);
    }
}
