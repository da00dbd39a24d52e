//! `POST /api/v1/auth/login`: checks a password and starts a session.
//!
//! Three limits, all counted before any password work, each in a fixed 15-minute window that
//! ends on its own:
//! - login requests per source address (`LOGIN_LIMIT_PER_IP_PER_15_MIN`, 429 `rate_limited`);
//! - attempts per email from one source address (`MAX_FAILED_LOGINS`, 429 `too_many_attempts`):
//!   what one guesser gets, and all an attacker can take from the owner, who still logs in from
//!   anywhere else;
//! - attempts per email from all sources together (`MAX_FAILED_LOGINS_ALL_SOURCES`): what many
//!   guessers get together.
//!
//! Each attempt is counted with one atomic `ADD` that returns the new count, so parallel
//! guesses cannot all read a count under the limit. A right password takes its attempt back.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use yebolink_shared::domain::account::{Email, UserCredentials};
use yebolink_shared::domain::audit::{Actor, AuditEvent, AuditEventType, Target};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::window::{seconds_until, window, LOGIN_WINDOW_SECONDS};
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::event_for_request;
use yebolink_shared::http::auth::client_source;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::gate::admit_source;
use yebolink_shared::http::request::json_object;
use yebolink_shared::http::response::{failure, respond};
use yebolink_shared::http::views;
use yebolink_shared::services::password::{verify_against_dummy, verify_password};
use yebolink_shared::storage::counters::Counter;
use yebolink_shared::storage::Store;

/// Login attempts allowed per email from one source address in one window.
pub const MAX_FAILED_LOGINS: u64 = 10;
/// Login attempts allowed per email from all sources together in one window.
pub const MAX_FAILED_LOGINS_ALL_SOURCES: u64 = 100;

pub async fn handle<S: Store>(app: &App<S>, req: Request) -> Response<Body> {
    // Malformed requests are refused before anything is counted: they cost no write.
    let (email, password) = match credentials(&req) {
        Ok(parsed) => parsed,
        Err(err) => return failure(&err),
    };
    let source = client_source(app, &req);
    if let Err(refusal) = admit_source(
        app,
        Counter::LoginsFromSource(&source),
        app.limits.login_limit_per_ip_per_15_min,
        LOGIN_WINDOW_SECONDS,
    )
    .await
    {
        return refusal;
    }
    respond(login(app, &req, &email, &password, &source).await)
}

fn credentials(req: &Request) -> Result<(Email, String), ApiError> {
    let body = json_object(req)?;
    let email = Email::parse(body.required_str("email")?)
        .map_err(|problem| ApiError::field("email", problem))?;
    let password = body.required_str("password")?.to_owned();
    Ok((email, password))
}

async fn login<S: Store>(
    app: &App<S>,
    req: &Request,
    email: &Email,
    password: &str,
    source: &str,
) -> Result<(StatusCode, Value), ApiError> {
    let jwt = app.jwt.as_ref().ok_or(ApiError::Internal)?;

    let now = Timestamp::now();
    let (window_start, window_end) = window(now, LOGIN_WINDOW_SECONDS);
    let current = Timestamp::from_unix(window_start);
    let expires = Timestamp::from_unix(window_end + LOGIN_WINDOW_SECONDS);
    let from_source = Counter::LoginAttempts { email, source };
    let all_sources = Counter::LoginAttemptsAllSources(email);
    let (mine, everyone) = tokio::join!(
        app.store.count(from_source, current, expires),
        app.store.count(all_sources, current, expires),
    );
    if mine? > MAX_FAILED_LOGINS || everyone? > MAX_FAILED_LOGINS_ALL_SOURCES {
        return Err(ApiError::TooManyLoginAttempts {
            retry_after: seconds_until(now, window_end),
        });
    }

    let credentials = app.store.find_credentials(email).await?;
    let user = match credentials {
        Some(user) if verify_password(password, &user.password_hash) => user,
        Some(user) => {
            // Recorded in the owner's trail; a failure to record it refuses the login
            // attempt all the same (503 instead of 401), so no attempt goes unrecorded.
            let failed = login_event(app, req, AuditEventType::UserLoginFailed, &user, now);
            app.store
                .record_audit_event(user.workspace_id, &failed)
                .await?;
            return Err(ApiError::InvalidCredentials);
        }
        None => {
            verify_against_dummy(password);
            return Err(ApiError::InvalidCredentials);
        }
    };
    // No session without its event.
    let succeeded = login_event(app, req, AuditEventType::UserLoginSucceeded, &user, now);
    app.store
        .record_audit_event(user.workspace_id, &succeeded)
        .await?;
    // Only failures should count. If taking the attempt back fails, the owner is in anyway and
    // has merely used one attempt: not worth refusing the login for.
    let (a, b) = tokio::join!(
        app.store.uncount(from_source, current),
        app.store.uncount(all_sources, current),
    );
    if a.is_err() || b.is_err() {
        tracing::warn!("a successful login could not take back its attempt");
    }
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

fn login_event<S>(
    app: &App<S>,
    req: &Request,
    event_type: AuditEventType,
    user: &UserCredentials,
    now: Timestamp,
) -> AuditEvent {
    event_for_request(
        &app.limits,
        req,
        event_type,
        Actor::User { id: user.user_id },
        Target::User { id: user.user_id },
        json!({}),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use yebolink_shared::domain::account::{DisplayName, NewAccount, Password};
    use yebolink_shared::domain::ids::{UserId, WorkspaceId};
    use yebolink_shared::lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
    use yebolink_shared::lambda_http::request::RequestContext;
    use yebolink_shared::lambda_http::RequestExt;
    use yebolink_shared::services::password::hash_password;
    use yebolink_shared::storage::memory::MemoryStore;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{app, assert_error, body_json, registered_event, request};

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
        app.store
            .create_account(&account, &registered_event(&account))
            .await
            .unwrap();
        app
    }

    fn login_request(email: &str, password: &str) -> Request {
        login_from("192.0.2.1", email, password)
    }

    /// A login as API Gateway delivers it from `source`.
    fn login_from(source: &str, email: &str, password: &str) -> Request {
        let mut context = ApiGatewayProxyRequestContext::default();
        context.identity.source_ip = Some(source.to_owned());
        request(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .with_request_context(RequestContext::ApiGatewayV1(context))
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

    /// Finding 1: 50 wrong passwords sent at once, on 50 threads, while each password check
    /// takes Argon2id's 50-100 ms. A 401 is only ever answered after a password check and a
    /// 429 before any, so the 401s count the checks.
    #[test]
    fn fifty_concurrent_wrong_logins_get_at_most_ten_password_checks() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let app = runtime().block_on(with_owner("owner@acme.io", "correct horse battery"));
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..50)
                .map(|_| {
                    scope.spawn(|| {
                        let reply = runtime()
                            .block_on(handle(&app, login_request("owner@acme.io", "guess guess!")));
                        reply.status().as_u16()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let checked = statuses.iter().filter(|s| **s == 401).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((checked, refused), (10, 40), "{statuses:?}");
    }

    /// Finding 2: the guesser's attempts are counted against their own address only.
    #[tokio::test]
    async fn ten_wrong_guesses_from_one_source_do_not_lock_out_the_owner_elsewhere() {
        let app = with_owner("owner@acme.io", "correct horse battery").await;
        for _ in 0..MAX_FAILED_LOGINS {
            let reply = handle(
                &app,
                login_from("203.0.113.66", "owner@acme.io", "guessing!!"),
            )
            .await;
            assert_error(&reply, 401, "invalid_credentials");
        }
        let attacker = handle(
            &app,
            login_from("203.0.113.66", "owner@acme.io", "guessing!!"),
        )
        .await;
        assert_error(&attacker, 429, "too_many_attempts");
        let owner = handle(
            &app,
            login_from("198.51.100.20", "owner@acme.io", "correct horse battery"),
        )
        .await;
        assert_eq!(owner.status(), 200);
    }

    #[tokio::test]
    async fn many_sources_together_are_capped_per_email() {
        let app = with_owner("owner@acme.io", "correct horse battery").await;
        for i in 0..MAX_FAILED_LOGINS_ALL_SOURCES {
            let source = format!("10.0.{}.{}", i / 200, i % 200 + 1);
            let reply = handle(&app, login_from(&source, "owner@acme.io", "guessing!!")).await;
            assert_error(&reply, 401, "invalid_credentials");
        }
        let next = handle(&app, login_from("10.9.9.9", "owner@acme.io", "guessing!!")).await;
        assert_error(&next, 429, "too_many_attempts");
    }

    #[tokio::test]
    async fn a_right_password_takes_its_attempt_back() {
        let app = with_owner("owner@acme.io", "correct horse battery").await;
        for _ in 0..MAX_FAILED_LOGINS * 2 {
            let reply = handle(
                &app,
                login_request("owner@acme.io", "correct horse battery"),
            )
            .await;
            assert_eq!(reply.status(), 200);
        }
    }

    /// Finding 3: past the per-source limit, a 429 with its headers, before any password work.
    #[tokio::test]
    async fn logins_past_the_per_source_limit_are_refused_with_rate_limit_headers() {
        let mut app = with_owner("owner@acme.io", "correct horse battery").await;
        app.limits.login_limit_per_ip_per_15_min = 3;
        for _ in 0..3 {
            let reply = handle(&app, login_request("nobody@acme.io", "whatever pass")).await;
            assert_error(&reply, 401, "invalid_credentials");
        }
        let reply = handle(
            &app,
            login_request("owner@acme.io", "correct horse battery"),
        )
        .await;
        assert_error(&reply, 429, "rate_limited");
        assert_eq!(reply.headers()["x-ratelimit-limit"], "3");
        assert_eq!(reply.headers()["x-ratelimit-remaining"], "0");
        assert!(reply.headers().contains_key("retry-after"));
        assert!(reply.headers().contains_key("x-ratelimit-reset"));
        // Another address is not affected.
        let other = handle(
            &app,
            login_from("198.51.100.20", "owner@acme.io", "correct horse battery"),
        )
        .await;
        assert_eq!(other.status(), 200);
    }

    async fn trail(app: &App<MemoryStore>, email: &str) -> Vec<String> {
        let user = app
            .store
            .find_credentials(&Email::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap();
        let page = app
            .store
            .list_audit_events(user.workspace_id, 100, None, None)
            .await
            .unwrap();
        page.events
            .iter()
            .map(|e| e.event_type.as_str().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn logins_and_failed_logins_of_a_known_email_are_in_its_workspaces_trail() {
        let app = with_owner("owner@acme.io", "correct horse battery").await;
        handle(&app, login_request("owner@acme.io", "wrong password!!")).await;
        handle(
            &app,
            login_request("owner@acme.io", "correct horse battery"),
        )
        .await;
        handle(&app, login_request("nobody@acme.io", "wrong password!!")).await;
        assert_eq!(
            trail(&app, "owner@acme.io").await,
            [
                "user.login_succeeded",
                "user.login_failed",
                "user.registered"
            ]
        );
        let page = app
            .store
            .list_audit_events(
                app.store
                    .find_credentials(&Email::parse("owner@acme.io").unwrap())
                    .await
                    .unwrap()
                    .unwrap()
                    .workspace_id,
                1,
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(page.events[0].source_ip.as_deref(), Some("192.0.2.1"));
    }
}
