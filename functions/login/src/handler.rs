//! `POST /api/v1/auth/login`: checks a password and starts a session. Failed attempts per email
//! are limited in a fixed window, which ends on its own, so an attacker can slow the owner down
//! but never lock them out for longer than one window.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use yebolink_shared::account::Email;
use yebolink_shared::password::{verify_against_dummy, verify_password};
use yebolink_shared::request::json_object;
use yebolink_shared::response::respond;
use yebolink_shared::store::Store;
use yebolink_shared::timestamp::Timestamp;
use yebolink_shared::{views, ApiError, App};

/// Failed logins allowed per email in one window.
pub const MAX_FAILED_LOGINS: u64 = 10;
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    respond(login(app, &req).await)
}

async fn login<S: Store>(app: &App<S>, req: &Request) -> Result<(StatusCode, Value), ApiError> {
    let body = json_object(req)?;
    let email = Email::parse(body.required_str("email")?)
        .map_err(|problem| ApiError::field("email", problem))?;
    let password = body.required_str("password")?;
    let jwt = app.jwt.as_ref().ok_or(ApiError::Internal)?;

    let now = Timestamp::now();
    let window_start = now.unix() - now.unix().rem_euclid(LOGIN_WINDOW_SECONDS);
    let window_end = window_start + LOGIN_WINDOW_SECONDS;
    let window = Timestamp::from_unix(window_start);
    if app.store.login_failures(&email, window).await? >= MAX_FAILED_LOGINS {
        let retry_after = u64::try_from((window_end - now.unix()).max(1)).unwrap_or(1);
        return Err(ApiError::TooManyLoginAttempts { retry_after });
    }

    let credentials = app.store.find_credentials(&email).await?;
    let verified = match credentials {
        Some(user) if verify_password(password, &user.password_hash) => Some(user),
        Some(_) => None,
        None => {
            verify_against_dummy(password);
            None
        }
    };
    let Some(user) = verified else {
        app.store
            .count_login_failure(&email, window, Timestamp::from_unix(window_end))
            .await?;
        return Err(ApiError::InvalidCredentials);
    };
    let session = views::session(
        jwt,
        user.user_id,
        &user.email,
        user.workspace_id,
        &user.workspace_name,
        now,
    )?;
    Ok((StatusCode::OK, session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use yebolink_shared::account::{DisplayName, Password};
    use yebolink_shared::ids::{UserId, WorkspaceId};
    use yebolink_shared::password::hash_password;
    use yebolink_shared::store::{MemoryStore, NewAccount};
    use yebolink_shared::testing::{app, assert_error, body_json, request};

    async fn with_owner(email: &str, password: &str) -> App<MemoryStore> {
        let app = app();
        let account = NewAccount {
            workspace_id: WorkspaceId::new(),
            workspace_name: DisplayName::parse("Acme").unwrap(),
            user_id: UserId::new(),
            email: Email::parse(email).unwrap(),
            password_hash: hash_password(&Password::parse(password).unwrap()).unwrap(),
            created_at: Timestamp::now(),
        };
        app.store.create_account(&account).await.unwrap();
        app
    }

    fn login_request(email: &str, password: &str) -> Request {
        request(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": email, "password": password})),
        )
    }

    #[tokio::test]
    async fn the_right_password_logs_in_with_any_email_case() {
        let app = with_owner("owner@acme.io", "correct horse battery").await;
        let response = handle(
            &app,
            login_request("OWNER@acme.io", "correct horse battery"),
        )
        .await;
        assert_eq!(response.status(), 200);
        let data = &body_json(&response)["data"];
        assert_eq!(data["user"]["email"], "owner@acme.io");
        assert!(app
            .jwt
            .as_ref()
            .unwrap()
            .verify(data["token"].as_str().unwrap())
            .is_ok());
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_email_answer_identically() {
        let app = with_owner("owner@acme.io", "correct horse battery").await;
        let wrong = handle(&app, login_request("owner@acme.io", "wrong password!!")).await;
        let unknown = handle(
            &app,
            login_request("nobody@acme.io", "correct horse battery"),
        )
        .await;
        assert_error(&wrong, 401, "invalid_credentials");
        assert_eq!(body_json(&wrong), body_json(&unknown));
        assert_eq!(wrong.status(), unknown.status());
    }

    #[tokio::test]
    async fn repeated_failures_are_limited_with_retry_after() {
        let app = with_owner("owner@acme.io", "correct horse battery").await;
        for _ in 0..MAX_FAILED_LOGINS {
            let response = handle(&app, login_request("owner@acme.io", "guess guess guess")).await;
            assert_error(&response, 401, "invalid_credentials");
        }
        let response = handle(
            &app,
            login_request("owner@acme.io", "correct horse battery"),
        )
        .await;
        assert_error(&response, 429, "too_many_attempts");
        let retry_after: i64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=LOGIN_WINDOW_SECONDS).contains(&retry_after));
    }
}
