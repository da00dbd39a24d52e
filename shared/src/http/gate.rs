//! The gate in front of every handler a limit applies to: the messaging routes (the key's
//! identity, its workspace's and its own window, its scope) and the per-source limits of
//! register and login. A refusal is the finished response: the error envelope with
//! `Retry-After`, and the `X-RateLimit-*` headers once the caller is known.

use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};

use crate::domain::scopes::Scope;
use crate::domain::timestamp::Timestamp;
use crate::domain::window::Quota;
use crate::http::app::App;
use crate::http::auth::authenticate_key;
use crate::http::error::ApiError;
use crate::http::response::failure;
use crate::services::auth::KeyCaller;
use crate::services::ratelimit::{count, count_request, Counted};
use crate::services::usage::roll_up_before;
use crate::storage::counters::Counter;
use crate::storage::error::StoreError;
use crate::storage::Store;

/// `response` with the `X-RateLimit-*` headers of `quota`.
pub fn with_quota(quota: Quota, mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(quota.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(quota.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(quota.reset));
    response
}

/// `response` with the `X-Quota-*` headers of a key's monthly send limit.
pub fn with_monthly_quota(quota: Quota, mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert("x-quota-limit", HeaderValue::from(quota.limit));
    headers.insert("x-quota-remaining", HeaderValue::from(quota.remaining));
    response
}

/// Counts one request from the caller's source address against a per-source limit (register,
/// login): `Ok(quota)` to go on, or the finished 429 with its headers.
pub async fn admit_source<S: Store>(
    app: &App<S>,
    counter: Counter<'_>,
    limit: u64,
    window_seconds: i64,
) -> Result<Quota, Response<Body>> {
    let (quota, verdict) = count(&app.store, counter, limit, window_seconds, Timestamp::now())
        .await
        .map_err(|e| failure(&e.into()))?;
    verdict.map_err(|e| with_quota(quota, failure(&e.into())))?;
    Ok(quota)
}

/// The gate in front of every messaging handler: the key's identity, one counted request for
/// the workspace, then one for the key, the scope. On refusal, the finished response (with
/// rate-limit headers once the key is known). The headers report the tighter limit.
pub async fn admit<S: Store>(
    app: &App<S>,
    req: &Request,
    scope: Scope,
) -> Result<(KeyCaller, Quota), Response<Body>> {
    admit_at(app, req, scope, Timestamp::now()).await
}

/// `admit` at `now`; the roll-up the count may start is finished before it returns.
pub async fn admit_at<S: Store>(
    app: &App<S>,
    req: &Request,
    scope: Scope,
    now: Timestamp,
) -> Result<(KeyCaller, Quota), Response<Body>> {
    let key = authenticate_key(app, req).await.map_err(|e| failure(&e))?;
    let quota = gate(app, &key, scope, now).await?;
    Ok((key, quota))
}

/// The counted request's verdict, after the roll-up the count may start has finished.
async fn gate<S: Store>(
    app: &App<S>,
    key: &KeyCaller,
    scope: Scope,
    now: Timestamp,
) -> Result<Quota, Response<Body>> {
    let (roll_up, verdict) = answer(count_request(&app.store, &app.limits, key, scope, now).await);
    roll_up_if(app, key, roll_up).await;
    verdict
}

/// The most DynamoDB calls a request through `admit_then` makes at once: the workspace's and
/// the key's counters, then `work` beside the roll-up. A function's cold start opens as many
/// connections (`App::from_env_with_connections`).
pub const ADMIT_THEN_CALLS: usize = 2;

/// The most DynamoDB calls a request through `admit_alongside` makes at once: the two counters
/// and `work`'s read beside them (then the roll-up, after the counters).
pub const ADMIT_ALONGSIDE_CALLS: usize = 3;

/// The gate, then `work` for an admitted request: for `work` with side effects (send-message's
/// write), which must not happen for a refused request. The once-a-minute usage roll-up the
/// count may start runs beside `work` instead of before it.
pub async fn admit_then<S: Store, T>(
    app: &App<S>,
    req: &Request,
    scope: Scope,
    work: impl AsyncFnOnce(&KeyCaller) -> T,
) -> Result<(Quota, T), Response<Body>> {
    let key = authenticate_key(app, req).await.map_err(|e| failure(&e))?;
    let counted = count_request(&app.store, &app.limits, &key, scope, Timestamp::now()).await;
    let (roll_up, verdict) = answer(counted);
    match verdict {
        Ok(quota) => {
            let ((), done) = tokio::join!(roll_up_if(app, &key, roll_up), work(&key));
            Ok((quota, done))
        }
        Err(refusal) => {
            roll_up_if(app, &key, roll_up).await;
            Err(refusal)
        }
    }
}

/// The gate with `work` running beside it from the moment the key is known: for `work` without
/// side effects (the read handlers), so a request waits for the slower of the two instead of
/// both. On refusal `work`'s result is discarded and the refusal is the answer (its read was
/// made and is paid for: docs/deploy.md, "Cost per million requests"); after admission,
/// `work`'s own errors are the handler's to answer, with the quota headers like any admitted
/// request.
pub async fn admit_alongside<S: Store, T>(
    app: &App<S>,
    req: &Request,
    scope: Scope,
    work: impl AsyncFnOnce(&KeyCaller) -> T,
) -> Result<(Quota, T), Response<Body>> {
    admit_alongside_at(app, req, scope, Timestamp::now(), work).await
}

/// `admit_alongside` at `now`.
pub async fn admit_alongside_at<S: Store, T>(
    app: &App<S>,
    req: &Request,
    scope: Scope,
    now: Timestamp,
    work: impl AsyncFnOnce(&KeyCaller) -> T,
) -> Result<(Quota, T), Response<Body>> {
    let key = authenticate_key(app, req).await.map_err(|e| failure(&e))?;
    if !key.address_allowed {
        // Refused whatever its window says (counted as denied): no read beside it.
        let refusal = gate(app, &key, scope, now).await.err();
        return Err(refusal.unwrap_or_else(|| failure(&ApiError::IpNotAllowed)));
    }
    let (verdict, done) = tokio::join!(gate(app, &key, scope, now), work(&key));
    Ok((verdict?, done))
}

/// The minute to roll up before, if any, and the quota to report or the finished refusal: a
/// failed count is a 503 without headers (fail closed), a refusal carries the quota headers.
fn answer(
    counted: Result<Counted, StoreError>,
) -> (Option<Timestamp>, Result<Quota, Response<Body>>) {
    match counted {
        Err(err) => (None, Err(failure(&err.into()))),
        Ok(Counted {
            quota,
            verdict,
            roll_up,
        }) => (
            roll_up,
            verdict
                .map(|()| quota)
                .map_err(|e| with_quota(quota, failure(&e.into()))),
        ),
    }
}

async fn roll_up_if<S: Store>(app: &App<S>, key: &KeyCaller, minute: Option<Timestamp>) {
    if let Some(minute) = minute {
        roll_up_before(&app.store, key.key_id, minute).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::WorkspaceId;
    use crate::domain::scopes::Scopes;
    use crate::storage::usage::UsageStore;

    fn key() -> KeyCaller {
        crate::testing::key_caller(WorkspaceId::new(), Scopes::all())
    }

    /// Finding 4: a workspace cannot multiply its throughput by creating more keys.
    #[tokio::test]
    async fn the_workspace_limit_applies_across_all_its_keys() {
        use crate::services::auth::Principal;
        use crate::testing::{app, authorized, key_caller, request};
        let mut app = app();
        app.limits.rate_limit_per_minute = 100;
        app.limits.workspace_rate_limit_per_minute = 3;
        let workspace = WorkspaceId::new();
        let keys: Vec<_> = (0..4)
            .map(|_| key_caller(workspace, Scopes::all()))
            .collect();
        let send = |key: &KeyCaller| {
            authorized(
                request("POST", "/api/v1/messages/send", None),
                &Principal::ApiKey(key.clone()),
            )
        };
        for key in &keys[..3] {
            let (_, quota) = admit(&app, &send(key), Scope::SendMessages).await.unwrap();
            assert_eq!(quota.limit, 3, "the tighter limit is reported");
        }
        let refused = admit(&app, &send(&keys[3]), Scope::SendMessages)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["x-ratelimit-limit"], "3");
        assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
        assert!(refused.headers().contains_key("retry-after"));
        // Another workspace is not affected.
        let other = key_caller(WorkspaceId::new(), Scopes::all());
        assert!(admit(&app, &send(&other), Scope::SendMessages)
            .await
            .is_ok());
    }

    /// The key's counter is written beside the workspace's; a request the workspace refuses
    /// ends up counted as workspace-limited, not against the key's limit, in scope or not.
    #[tokio::test]
    async fn a_request_the_workspace_refuses_is_not_counted_against_its_key() {
        use crate::services::auth::Principal;
        use crate::testing::{app, authorized, key_caller, request};
        let mut app = app();
        app.limits.rate_limit_per_minute = 2;
        app.limits.workspace_rate_limit_per_minute = 1;
        let workspace = WorkspaceId::new();
        let send = |key: &KeyCaller| {
            authorized(
                request("POST", "/api/v1/messages/send", None),
                &Principal::ApiKey(key.clone()),
            )
        };
        let now = Timestamp::from_unix(1_000_020);
        let sender = key_caller(workspace, Scopes::all());
        let reader = key_caller(workspace, Scopes::from_stored("read_messages").unwrap());
        admit_at(&app, &send(&sender), Scope::SendMessages, now)
            .await
            .unwrap();
        for key in [&sender, &sender, &reader] {
            let refused = admit_at(&app, &send(key), Scope::SendMessages, now)
                .await
                .err()
                .unwrap();
            assert_eq!(refused.status(), 429, "the workspace's refusal wins");
        }
        let minute = async |key: &KeyCaller| {
            app.store
                .key_minutes(key.key_id, now.plus_seconds(-60), now.plus_seconds(60), 1)
                .await
                .unwrap()[0]
        };
        let sender_minute = minute(&sender).await;
        assert_eq!(
            (sender_minute.hits, sender_minute.workspace_limited),
            (1, 2),
            "only the admitted request counts against the key's limit of 2"
        );
        let reader_minute = minute(&reader).await;
        assert_eq!(
            (reader_minute.out_of_scope, reader_minute.workspace_limited),
            (0, 1)
        );
    }

    fn read_request(key: &KeyCaller) -> Request {
        use crate::services::auth::Principal;
        use crate::testing::{authorized, request};
        authorized(
            request("GET", "/api/v1/messages", None),
            &Principal::ApiKey(key.clone()),
        )
    }

    #[tokio::test]
    async fn a_refused_read_answers_the_refusal_although_the_read_ran() {
        let mut app = crate::testing::app();
        app.limits.rate_limit_per_minute = 1;
        let key = key();
        let now = Timestamp::from_unix(1_000_040);
        let read = async |_: &KeyCaller| "the page";
        let (quota, page) =
            admit_alongside_at(&app, &read_request(&key), Scope::ReadMessages, now, read)
                .await
                .unwrap();
        assert_eq!((quota.remaining, page), (0, "the page"));

        let ran = std::cell::Cell::new(false);
        let read = async |_: &KeyCaller| ran.set(true);
        let refusal = admit_alongside_at(&app, &read_request(&key), Scope::ReadMessages, now, read)
            .await
            .err()
            .unwrap();
        assert!(ran.get(), "the read ran beside the counters");
        assert_eq!(refusal.status(), 429);
        assert_eq!(refusal.headers()["x-ratelimit-remaining"], "0");
        assert!(refusal.headers().contains_key("retry-after"));
    }

    #[tokio::test]
    async fn a_read_beside_a_key_without_the_scope_answers_403() {
        let app = crate::testing::app();
        let mut key = key();
        key.scopes = Scopes::from_stored("send_messages").unwrap();
        let read = async |_: &KeyCaller| "the page";
        let refusal = admit_alongside(&app, &read_request(&key), Scope::ReadMessages, read)
            .await
            .err()
            .unwrap();
        assert_eq!(refusal.status(), 403);
    }

    #[tokio::test]
    async fn a_read_fails_closed_when_the_counters_cannot_be_written() {
        let app = crate::testing::app();
        app.store.set_unavailable(true);
        let read = async |_: &KeyCaller| "a page from a replica that answered";
        let refusal = admit_alongside(&app, &read_request(&key()), Scope::ReadMessages, read)
            .await
            .err()
            .unwrap();
        assert_eq!(refusal.status(), 503);
        assert!(!refusal.headers().contains_key("x-ratelimit-limit"));
    }

    #[tokio::test]
    async fn a_refused_send_never_runs_its_write() {
        let mut app = crate::testing::app();
        app.limits.rate_limit_per_minute = 1;
        let key = key();
        let writes = std::cell::Cell::new(0);
        let write = async |_: &KeyCaller| writes.set(writes.get() + 1);
        assert!(
            admit_then(&app, &read_request(&key), Scope::SendMessages, write)
                .await
                .is_ok()
        );
        let write = async |_: &KeyCaller| writes.set(writes.get() + 1);
        let refusal = admit_then(&app, &read_request(&key), Scope::SendMessages, write)
            .await
            .err()
            .unwrap();
        assert_eq!(refusal.status(), 429);
        assert_eq!(writes.get(), 1);
    }

    /// Issue 25: a key from outside its addresses is 403 `ip_not_allowed`, counted as denied
    /// (no place in its window), and its read never runs.
    #[tokio::test]
    async fn a_key_used_from_outside_its_addresses_is_refused_without_using_its_window() {
        let mut app = crate::testing::app();
        app.limits.rate_limit_per_minute = 2;
        let now = Timestamp::from_unix(1_000_040);
        let outside = KeyCaller {
            address_allowed: false,
            ..key()
        };
        let ran = std::cell::Cell::new(false);
        for _ in 0..3 {
            let read = async |_: &KeyCaller| ran.set(true);
            let refusal = admit_alongside_at(
                &app,
                &read_request(&outside),
                Scope::ReadMessages,
                now,
                read,
            )
            .await
            .err()
            .unwrap();
            assert_eq!(refusal.status(), 403);
            let body: serde_json::Value = serde_json::from_slice(refusal.body().as_ref()).unwrap();
            assert_eq!(body["error"]["code"], "ip_not_allowed");
        }
        assert!(!ran.get(), "no read for a refused address");
        let minute = app
            .store
            .key_minutes(
                outside.key_id,
                now.plus_seconds(-60),
                now.plus_seconds(60),
                1,
            )
            .await
            .unwrap()[0];
        assert_eq!(
            (minute.hits, minute.out_of_scope),
            (0, 3),
            "denied, not counted"
        );
        let inside = KeyCaller {
            address_allowed: true,
            ..outside
        };
        let read = async |_: &KeyCaller| ();
        let (quota, ()) =
            admit_alongside_at(&app, &read_request(&inside), Scope::ReadMessages, now, read)
                .await
                .unwrap();
        assert_eq!(quota.remaining, 1, "the window is the key's whole limit");
    }

    #[tokio::test]
    async fn a_keys_own_limit_is_its_window() {
        let mut app = crate::testing::app();
        app.limits.rate_limit_per_minute = 100;
        let now = Timestamp::from_unix(1_000_040);
        let limited = KeyCaller {
            rate_limit_per_minute: Some(2),
            ..key()
        };
        for remaining in [1, 0] {
            let (_, quota) = admit_at(&app, &read_request(&limited), Scope::ReadMessages, now)
                .await
                .unwrap();
            assert_eq!((quota.limit, quota.remaining), (2, remaining));
        }
        let refusal = admit_at(&app, &read_request(&limited), Scope::ReadMessages, now)
            .await
            .err()
            .unwrap();
        assert_eq!(refusal.status(), 429);
        assert_eq!(refusal.headers()["x-ratelimit-limit"], "2");
    }
}
