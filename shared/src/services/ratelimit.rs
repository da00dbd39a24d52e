//! Rate limits: fixed windows counted atomically in the store. Messaging requests are limited
//! per key and per workspace (one-minute windows); register and login per source address (one
//! hour, 15 minutes). A verdict is a `Refusal` or not; how it looks on the wire (429, 403, the
//! `X-RateLimit-*` headers) is `http::gate`'s.

use crate::domain::limits::{LimitKind, Limits};
use crate::domain::scopes::Scope;
use crate::domain::timestamp::Timestamp;
use crate::domain::usage::{Outcome, MINUTE_RETENTION_SECONDS};
use crate::domain::window::{calendar_month, seconds_until, window, Quota, WINDOW_SECONDS};
use crate::services::auth::{KeyCaller, MissingScope};
use crate::storage::counters::{Counter, CounterStore};
use crate::storage::error::StoreError;
use crate::storage::usage::UsageStore;

/// Why a counted request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Past `limit`: retry once the window ends.
    RateLimited { retry_after: u64, limit: LimitKind },
    /// The key lacks the route's scope.
    MissingScope(Scope),
    /// The key is restricted to addresses this request does not come from.
    IpNotAllowed,
    /// The key has sent its monthly limit: retry when the month ends.
    QuotaExceeded { retry_after: u64 },
}

impl From<MissingScope> for Refusal {
    fn from(missing: MissingScope) -> Self {
        Refusal::MissingScope(missing.0)
    }
}

/// Counts one request in `counter`'s current window and says whether it is admitted.
pub async fn count<S: CounterStore>(
    store: &S,
    counter: Counter<'_>,
    limit: u64,
    window_seconds: i64,
    now: Timestamp,
) -> Result<(Quota, Result<(), Refusal>), StoreError> {
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
        Err(Refusal::RateLimited {
            retry_after: seconds_until(now, window_end),
            limit: counter.limit_kind(),
        })
    } else {
        Ok(())
    };
    Ok((quota, verdict))
}

/// How long a month's send count is kept past the month's end.
const MONTHLY_RETENTION_SECONDS: i64 = 35 * 24 * 60 * 60;

/// One send counted against the key's monthly limit (its line's count: `quota_id`, so a
/// rotation continues it): where the key stands and the verdict; `None` for a key without a
/// limit. One conditional write, only for keys that have one; a refused send writes nothing.
pub async fn count_monthly_send<S: CounterStore>(
    store: &S,
    key: &KeyCaller,
    now: Timestamp,
) -> Result<Option<(Quota, Result<(), Refusal>)>, StoreError> {
    let Some(limit) = key.monthly_send_limit else {
        return Ok(None);
    };
    let (start, end) = calendar_month(now);
    let counted = store
        .count_up_to(
            Counter::MonthlySends(key.quota_id),
            Timestamp::from_unix(start),
            Timestamp::from_unix(end + MONTHLY_RETENTION_SECONDS),
            limit,
        )
        .await?;
    let standing = |used: u64| Quota {
        limit,
        remaining: limit.saturating_sub(used),
        reset: end,
    };
    Ok(Some(match counted {
        Some(used) => (standing(used), Ok(())),
        None => (
            standing(limit),
            Err(Refusal::QuotaExceeded {
                retry_after: seconds_until(now, end),
            }),
        ),
    }))
}

/// Takes back a send `count_monthly_send` counted that did not happen (an idempotent replay).
pub async fn uncount_monthly_send<S: CounterStore>(
    store: &S,
    key: &KeyCaller,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (start, _) = calendar_month(now);
    store
        .uncount(
            Counter::MonthlySends(key.quota_id),
            Timestamp::from_unix(start),
        )
        .await
}

/// Where a key with a monthly limit stands, without counting (for a send refused before it
/// was counted); `None` for a key without a limit.
pub async fn monthly_standing<S: CounterStore>(
    store: &S,
    key: &KeyCaller,
    now: Timestamp,
) -> Result<Option<Quota>, StoreError> {
    let Some(limit) = key.monthly_send_limit else {
        return Ok(None);
    };
    let (start, end) = calendar_month(now);
    let used = store
        .current_count(
            Counter::MonthlySends(key.quota_id),
            Timestamp::from_unix(start),
        )
        .await?;
    Ok(Some(Quota {
        limit,
        remaining: limit.saturating_sub(used),
        reset: end,
    }))
}

/// One messaging request counted for the workspace and the key, before its verdict is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The tighter of the workspace's and the key's standing: what the headers report.
    pub quota: Quota,
    pub verdict: Result<(), Refusal>,
    /// Set on the key's first request of a minute: roll its earlier minutes up (best effort,
    /// `services::usage::roll_up_before`).
    pub roll_up: Option<Timestamp>,
}

/// The counting in front of every messaging request. The key's one counter write also records
/// how the request ends (`domain::usage::Outcome`): that is what per-key usage is made of, at no extra
/// write. Each request is exactly one of: a 403 for an address the key may not be used from
/// (counted as denied for the key only), a 429 of the workspace limit (not counted against the
/// key's limit), a 403 for a scope the key lacks (not counted against it either), or counted
/// against the key's limit (a 429 past it). The key's write goes out beside the workspace's, so
/// a request waits for one round trip instead of two: it counts the request as checked or out
/// of scope (known without I/O), and the rare request the workspace refuses is then moved to
/// `WorkspaceLimited` (one more write, on refusals only). If either write fails the answer is
/// an error (fail closed), and the other's count stands.
pub async fn count_request<S: CounterStore + UsageStore>(
    store: &S,
    limits: &Limits,
    key: &KeyCaller,
    scope: Scope,
    now: Timestamp,
) -> Result<Counted, StoreError> {
    let limit = key
        .rate_limit_per_minute
        .unwrap_or(limits.rate_limit_per_minute);
    let (minute, window_end) = window(now, WINDOW_SECONDS);
    let minute = Timestamp::from_unix(minute);
    if !key.address_allowed {
        // A key from outside its addresses (a leaked one, most likely) is denied in its own
        // usage only: one write, and no place in its window nor in its workspace's, so it
        // cannot throttle the workspace's other keys.
        let usage = store
            .count_key_request(
                key.key_id,
                minute,
                minute.plus_seconds(MINUTE_RETENTION_SECONDS),
                Outcome::OutOfScope,
                limit,
            )
            .await?;
        return Ok(Counted {
            quota: Quota {
                limit,
                remaining: limit.saturating_sub(usage.hits),
                reset: window_end,
            },
            verdict: Err(Refusal::IpNotAllowed),
            roll_up: (usage.total() == 1).then_some(minute),
        });
    }
    // A scope refusal is known without I/O: denied in the key's usage, sparing its window.
    let counted_as = if key.require(scope).is_err() {
        Outcome::OutOfScope
    } else {
        Outcome::Checked
    };
    let (workspace, usage) = tokio::join!(
        count(
            store,
            Counter::WorkspaceRequests(key.workspace_id),
            limits.workspace_rate_limit_per_minute,
            WINDOW_SECONDS,
            now,
        ),
        store.count_key_request(
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
        match store
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
        Outcome::OutOfScope => key.require(scope).map_err(Refusal::from),
        Outcome::Checked if usage.hits > limit => Err(Refusal::RateLimited {
            retry_after: seconds_until(now, window_end),
            limit: LimitKind::Key,
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
    use crate::domain::ids::{KeyId, WorkspaceId};
    use crate::domain::scopes::Scopes;
    use crate::storage::memory::MemoryStore;
    use crate::storage::usage::UsageStore;

    fn key() -> KeyCaller {
        crate::testing::key_caller(WorkspaceId::new(), Scopes::all())
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
            Err(Refusal::RateLimited {
                retry_after: (window_end - now.unix()) as u64,
                limit: LimitKind::Key,
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
        let result = count(&store, counter, 3, WINDOW_SECONDS, Timestamp::now()).await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
    }

    /// Issue 25: a leaked key used from elsewhere must not throttle its workspace.
    #[tokio::test]
    async fn a_key_from_outside_its_addresses_uses_no_window_of_its_workspace() {
        let store = MemoryStore::new();
        let limits = Limits {
            workspace_rate_limit_per_minute: 1,
            ..crate::testing::config().limits
        };
        let now = Timestamp::from_unix(1_000_040);
        let leaked = KeyCaller {
            address_allowed: false,
            ..key()
        };
        for _ in 0..5 {
            let counted = count_request(&store, &limits, &leaked, Scope::SendMessages, now)
                .await
                .unwrap();
            assert_eq!(counted.verdict, Err(Refusal::IpNotAllowed));
        }
        let sibling = KeyCaller::new(KeyId::new(), leaked.workspace_id, Scopes::all());
        let counted = count_request(&store, &limits, &sibling, Scope::SendMessages, now)
            .await
            .unwrap();
        assert_eq!(
            counted.verdict,
            Ok(()),
            "the workspace's window is untouched"
        );
        let minute = store
            .key_minutes(
                leaked.key_id,
                now.plus_seconds(-60),
                now.plus_seconds(60),
                1,
            )
            .await
            .unwrap()[0];
        assert_eq!(
            (minute.hits, minute.out_of_scope),
            (0, 5),
            "denied in its own usage"
        );
    }
}
