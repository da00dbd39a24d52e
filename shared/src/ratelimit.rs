//! Per-key rate limits: a fixed one-minute window counted atomically in the store, reported on
//! every response to a key request (`X-RateLimit-*`), and `429` + `Retry-After` past the limit.

use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{authenticate_key, KeyCaller};
use crate::error::ApiError;
use crate::response::failure;
use crate::scopes::Scope;
use crate::store::Store;
use crate::timestamp::Timestamp;

pub const WINDOW_SECONDS: i64 = 60;

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

/// Counts one request for `key` and says whether it is admitted.
pub async fn count<S: Store>(
    store: &S,
    key: &KeyCaller,
    limit: u64,
    now: Timestamp,
) -> Result<(Quota, Result<(), ApiError>), ApiError> {
    let window_start = now.unix() - now.unix().rem_euclid(WINDOW_SECONDS);
    let window_end = window_start + WINDOW_SECONDS;
    let used = store
        .count_request(
            key.key_id,
            Timestamp::from_unix(window_start),
            // Kept a little past the window so a late clock never restarts a live count.
            Timestamp::from_unix(window_end + WINDOW_SECONDS),
        )
        .await?;
    let quota = Quota {
        limit,
        remaining: limit.saturating_sub(used),
        reset: window_end,
    };
    let verdict = if used > limit {
        let retry_after = u64::try_from((window_end - now.unix()).max(1)).unwrap_or(1);
        Err(ApiError::RateLimited { retry_after })
    } else {
        Ok(())
    };
    Ok((quota, verdict))
}

/// The gate in front of every messaging handler: the key's identity, one counted request, the
/// scope. On refusal, the finished response (with rate-limit headers once the key is known).
pub async fn admit<S: Store>(
    app: &App<S>,
    req: &Request,
    scope: Scope,
) -> Result<(KeyCaller, Quota), Response<Body>> {
    let key = authenticate_key(app, req).await.map_err(|e| failure(&e))?;
    let (quota, verdict) = count(
        &app.store,
        &key,
        app.config.rate_limit_per_minute,
        Timestamp::now(),
    )
    .await
    .map_err(|e| failure(&e))?;
    verdict
        .and_then(|()| key.require(scope))
        .map_err(|e| quota.stamp(failure(&e)))?;
    Ok((key, quota))
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
        for used in 1..=3 {
            let (quota, verdict) = count(&store, &key, 3, now).await.unwrap();
            assert!(verdict.is_ok());
            assert_eq!(quota.remaining, 3 - used);
            assert_eq!(quota.reset, window_end);
        }
        let (quota, verdict) = count(&store, &key, 3, now).await.unwrap();
        assert_eq!(quota.remaining, 0);
        assert_eq!(
            verdict,
            Err(ApiError::RateLimited {
                retry_after: (window_end - now.unix()) as u64
            })
        );
        let next_window = Timestamp::from_unix(window_end);
        assert!(count(&store, &key, 3, next_window).await.unwrap().1.is_ok());
    }

    #[tokio::test]
    async fn counting_fails_closed_when_the_store_is_down() {
        let store = MemoryStore::new();
        store.set_unavailable(true);
        let err = count(&store, &key(), 3, Timestamp::now()).await.err();
        assert_eq!(err, Some(ApiError::ServiceUnavailable));
    }
}
