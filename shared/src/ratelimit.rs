//! Rate limits: fixed windows counted atomically in the store, reported on every response they
//! apply to (`X-RateLimit-*`), and `429` + `Retry-After` past the limit. Messaging requests are
//! limited per key and per workspace (one-minute windows); register and login per source
//! address (one hour, 15 minutes).

use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{authenticate_key, KeyCaller};
use crate::error::ApiError;
use crate::response::failure;
use crate::scopes::Scope;
use crate::store::{Counter, Store};
use crate::timestamp::Timestamp;
use crate::usage::{roll_up_before, Outcome, MINUTE_RETENTION_SECONDS};

/// The window of the per-key and per-workspace limits.
pub const WINDOW_SECONDS: i64 = 60;
pub const REGISTER_WINDOW_SECONDS: i64 = 60 * 60;
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;

/// Where a key stands in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds at which the window ends.
    pub reset: i64,
}

impl Quota {
    /// Adds the `X-RateLimit-*` headers to `response`.
    pub fn stamp(&self, mut response: Response<Body>) -> Response<Body> {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset));
        response
    }
}

/// The fixed window of `window_seconds` that holds `now`: its start and end (Unix seconds).
pub fn window(now: Timestamp, window_seconds: i64) -> (i64, i64) {
    let start = now.unix() - now.unix().rem_euclid(window_seconds);
    (start, start + window_seconds)
}

/// Seconds from `now` to `end`, at least 1: a `Retry-After`.
pub fn seconds_until(now: Timestamp, end: i64) -> u64 {
    u64::try_from((end - now.unix()).max(1)).unwrap_or(1)
}

/// Counts one request in `counter`'s current window and says whether it is admitted.
pub async fn count<S: Store>(
    store: &S,
    counter: Counter<'_>,
    limit: u64,
    window_seconds: i64,
    now: Timestamp,
) -> Result<(Quota, Result<(), ApiError>), ApiError> {
    let (window_start, window_end) = window(now, window_seconds);
    let used = store
        .count(
            counter,
            Timestamp::from_unix(window_start),
            // Kept a little past the window so a late clock never restarts a live count.
            Timestamp::from_unix(window_end + window_seconds),
        )
        .await?;
    let quota = Quota {
        limit,
        remaining: limit.saturating_sub(used),
        reset: window_end,
    };
    let verdict = if used > limit {
        Err(ApiError::RateLimited {
            retry_after: seconds_until(now, window_end),
        })
    } else {
        Ok(())
    };
    Ok((quota, verdict))
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
        .map_err(|e| failure(&e))?;
    verdict.map_err(|e| quota.stamp(failure(&e)))?;
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
    let (roll_up, verdict) = decide(count_request(app, key, scope, now).await);
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
    let (roll_up, verdict) = decide(count_request(app, &key, scope, Timestamp::now()).await);
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
/// made and is paid for: README, "Cost per million requests"); after admission, `work`'s own
/// errors are the handler's to answer, with the quota headers like any admitted request.
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
    let (verdict, done) = tokio::join!(gate(app, &key, scope, now), work(&key));
    Ok((verdict?, done))
}

/// One request counted for the workspace and the key, before its verdict is applied.
struct Counted {
    quota: Quota,
    verdict: Result<(), ApiError>,
    /// Set on the key's first request of a minute: roll its earlier minutes up (best effort).
    roll_up: Option<Timestamp>,
}

/// The minute to roll up before, if any, and the quota to report or the finished refusal: a
/// failed count is a 503 without headers (fail closed), a refusal carries the quota headers.
fn decide(
    counted: Result<Counted, ApiError>,
) -> (Option<Timestamp>, Result<Quota, Response<Body>>) {
    match counted {
        Err(err) => (None, Err(failure(&err))),
        Ok(Counted {
            quota,
            verdict,
            roll_up,
        }) => (
            roll_up,
            verdict
                .map(|()| quota)
                .map_err(|e| quota.stamp(failure(&e))),
        ),
    }
}

async fn roll_up_if<S: Store>(app: &App<S>, key: &KeyCaller, minute: Option<Timestamp>) {
    if let Some(minute) = minute {
        roll_up_before(&app.store, key.key_id, minute).await;
    }
}

/// The counting of `admit`. The key's one counter write also records how the request ends
/// (`usage::Outcome`): that is what per-key usage is made of, at no extra write. Each request
/// is exactly one of: a 429 of the workspace limit (not counted against the key's limit), a
/// 403 for a scope the key lacks (not counted against it either), or counted against the key's
/// limit (a 429 past it). The key's write goes out beside the workspace's, so a request waits
/// for one round trip instead of two: it counts the request as checked or out of scope (known
/// without I/O), and the rare request the workspace refuses is then moved to `WorkspaceLimited`
/// (one more write, on refusals only). If either write fails the answer is 503 (fail closed),
/// and the other's count stands. The first request of a key's minute then rolls the key's
/// earlier minutes up into its usage buckets.
async fn count_request<S: Store>(
    app: &App<S>,
    key: &KeyCaller,
    scope: Scope,
    now: Timestamp,
) -> Result<Counted, ApiError> {
    let counted_as = if key.require(scope).is_err() {
        Outcome::OutOfScope
    } else {
        Outcome::Checked
    };
    let limit = app.config.rate_limit_per_minute;
    let (minute, window_end) = window(now, WINDOW_SECONDS);
    let minute = Timestamp::from_unix(minute);
    let (workspace, usage) = tokio::join!(
        count(
            &app.store,
            Counter::WorkspaceRequests(key.workspace_id),
            app.config.workspace_rate_limit_per_minute,
            WINDOW_SECONDS,
            now,
        ),
        app.store.count_key_request(
            key.key_id,
            minute,
            minute.plus_seconds(MINUTE_RETENTION_SECONDS),
            counted_as,
            limit,
        )
    );
    let ((ws_quota, ws_verdict), mut usage) = (workspace?, usage?);
    let outcome = if ws_verdict.is_err() {
        // Best effort: if the move fails, the request stays counted for the key (logged).
        match app
            .store
            .move_to_workspace_limited(key.key_id, minute, counted_as)
            .await
        {
            Ok(()) => usage.move_to_workspace_limited(counted_as),
            Err(err) => {
                tracing::warn!(error = %err, "a workspace-limited request stays counted for its key")
            }
        }
        Outcome::WorkspaceLimited
    } else {
        counted_as
    };
    let key_quota = Quota {
        limit,
        remaining: limit.saturating_sub(usage.hits),
        reset: window_end,
    };
    let quota = if ws_quota.remaining < key_quota.remaining {
        ws_quota
    } else {
        key_quota
    };
    let verdict = match outcome {
        Outcome::WorkspaceLimited => ws_verdict,
        Outcome::OutOfScope => key.require(scope),
        Outcome::Checked if usage.hits > limit => Err(ApiError::RateLimited {
            retry_after: seconds_until(now, window_end),
        }),
        Outcome::Checked => Ok(()),
    };
    Ok(Counted {
        quota,
        verdict,
        roll_up: (usage.total() == 1).then_some(minute),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{KeyId, WorkspaceId};
    use crate::scopes::Scopes;
    use crate::store::MemoryStore;

    fn key() -> KeyCaller {
        KeyCaller {
            key_id: KeyId::new(),
            workspace_id: WorkspaceId::new(),
            scopes: Scopes::all(),
        }
    }

    #[tokio::test]
    async fn requests_past_the_limit_are_refused_until_the_window_ends() {
        let store = MemoryStore::new();
        let key = key();
        // 20 s into the window [1_000_020, 1_000_080).
        let now = Timestamp::from_unix(1_000_040);
        let window_end = 1_000_080;
        let counter = Counter::KeyRequests(key.key_id);
        for used in 1..=3 {
            let (quota, verdict) = count(&store, counter, 3, WINDOW_SECONDS, now)
                .await
                .unwrap();
            assert!(verdict.is_ok());
            assert_eq!(quota.remaining, 3 - used);
            assert_eq!(quota.reset, window_end);
        }
        let (quota, verdict) = count(&store, counter, 3, WINDOW_SECONDS, now)
            .await
            .unwrap();
        assert_eq!(quota.remaining, 0);
        assert_eq!(
            verdict,
            Err(ApiError::RateLimited {
                retry_after: (window_end - now.unix()) as u64
            })
        );
        let next_window = Timestamp::from_unix(window_end);
        assert!(count(&store, counter, 3, WINDOW_SECONDS, next_window)
            .await
            .unwrap()
            .1
            .is_ok());
    }

    #[tokio::test]
    async fn counting_fails_closed_when_the_store_is_down() {
        let store = MemoryStore::new();
        store.set_unavailable(true);
        let counter = Counter::KeyRequests(key().key_id);
        let err = count(&store, counter, 3, WINDOW_SECONDS, Timestamp::now())
            .await
            .err();
        assert_eq!(err, Some(ApiError::ServiceUnavailable));
    }

    /// Finding 4: a workspace cannot multiply its throughput by creating more keys.
    #[tokio::test]
    async fn the_workspace_limit_applies_across_all_its_keys() {
        use crate::auth::Principal;
        use crate::testing::{app, authorized, key_caller, request};
        let mut app = app();
        app.config.rate_limit_per_minute = 100;
        app.config.workspace_rate_limit_per_minute = 3;
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
        use crate::auth::Principal;
        use crate::testing::{app, authorized, key_caller, request};
        let mut app = app();
        app.config.rate_limit_per_minute = 2;
        app.config.workspace_rate_limit_per_minute = 1;
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
        use crate::auth::Principal;
        use crate::testing::{authorized, request};
        authorized(
            request("GET", "/api/v1/messages", None),
            &Principal::ApiKey(key.clone()),
        )
    }

    #[tokio::test]
    async fn a_refused_read_answers_the_refusal_although_the_read_ran() {
        let mut app = crate::testing::app();
        app.config.rate_limit_per_minute = 1;
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
        app.config.rate_limit_per_minute = 1;
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
}
