//! Per-key rate limits: headers on every API-key response, 429 with Retry-After beyond the
//! limit, and exactness under concurrency.
//!
//! The limit is read from `X-RateLimit-Limit` (the test stack runs with a small
//! `RATE_LIMIT_PER_MINUTE`), never hard-coded. Every test uses fresh keys. No test waits for a
//! window to roll over: responses are grouped by `X-RateLimit-Reset` (the end of their fixed
//! window), so a burst that happens to straddle a window boundary is still judged exactly.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;
use yebolink_blackbox::*;

/// `Retry-After` of a 429: whole seconds, at least 1, at most the window's length and not past
/// the window's end.
fn assert_retry_after(reply: &Reply, rate: &RateLimit) {
    let raw = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("{}: a 429 must carry Retry-After", reply.what));
    let seconds: u64 = raw
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}: Retry-After must be whole seconds: {raw:?}", reply.what));
    assert!(
        (1..=61).contains(&seconds),
        "{}: Retry-After {seconds} is outside 1..=60",
        reply.what
    );
    let until_reset = rate.reset.saturating_sub(reply.received_at);
    assert!(
        seconds <= until_reset + 2,
        "{}: Retry-After {seconds} is later than the window's end ({until_reset} s away)",
        reply.what
    );
}

#[tokio::test]
async fn successful_responses_carry_rate_limit_headers_with_remaining_decreasing() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = str_at(&key, "/key");

    // One counter per key across the three messaging routes.
    let sent = api.send_message(key, &sms("counted")).await;
    let message = sent.data(201);
    let listed = api.list_messages(key, &[]).await;
    listed.data(200);
    let got = api.get_message(key, str_at(&message, "/id")).await;
    got.data(200);

    let rates: Vec<RateLimit> = [&sent, &listed, &got]
        .iter()
        .map(|r| r.plausible_rate_limit())
        .collect();
    let limit = rates[0].limit;
    assert!(
        rates.iter().all(|r| r.limit == limit),
        "the limit is constant: {rates:?}"
    );
    if rates[0].reset == rates[2].reset {
        assert_eq!(
            rates.iter().map(|r| r.remaining).collect::<Vec<_>>(),
            [limit - 1, limit - 2, limit - 3],
            "a fresh key: Remaining counts down by one per request on any messaging route"
        );
    } else {
        // A window boundary fell between the requests; check what can be checked.
        for pair in rates.windows(2) {
            if pair[0].reset == pair[1].reset {
                assert_eq!(pair[1].remaining + 1, pair[0].remaining, "{rates:?}");
            }
        }
    }
}

#[tokio::test]
async fn error_responses_to_a_valid_key_carry_rate_limit_headers() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let both = api.create_key(&account.token, None).await;
    let both = str_at(&both, "/key");
    let send_only = api
        .create_key(&account.token, Some(&["send_messages"]))
        .await;
    let send_only = str_at(&send_only, "/key");

    let mut replies = Vec::new();

    let invalid = api
        .send_message(
            both,
            &json!({"to": "nope", "channel": "sms", "content": {"text": "x"}}),
        )
        .await;
    assert_error(&invalid, 400, "validation_error");
    replies.push(invalid);

    let bad_json = api
        .send(
            api.request(Method::POST, "/api/v1/messages/send")
                .header("X-API-Key", both)
                .header("Content-Type", "application/json")
                .body("{oops"),
        )
        .await;
    assert_error(&bad_json, 400, "invalid_json");
    replies.push(bad_json);

    let missing = api.get_message(both, &Uuid::new_v4().to_string()).await;
    assert_error(&missing, 404, "not_found");
    replies.push(missing);

    let bad_limit = api.list_messages(both, &[("limit", "0")]).await;
    assert_error(&bad_limit, 400, "validation_error");
    replies.push(bad_limit);

    let idempotency_key = Uuid::new_v4().to_string();
    for text in ["first", "second"] {
        let reply = api
            .send(
                api.request(Method::POST, "/api/v1/messages/send")
                    .header("X-API-Key", both)
                    .header("Idempotency-Key", &idempotency_key)
                    .json(&sms(text)),
            )
            .await;
        if text == "second" {
            assert_error(&reply, 422, "idempotency_conflict");
            replies.push(reply);
        } else {
            reply.data(201);
        }
    }

    let forbidden = api.list_messages(send_only, &[]).await;
    assert_error(&forbidden, 403, "insufficient_scope");
    replies.push(forbidden);

    for reply in &replies {
        reply.plausible_rate_limit();
    }
}

#[tokio::test]
async fn requests_beyond_the_limit_get_429_rate_limited_with_retry_after() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let exhausted = api.create_key(&account.token, None).await;
    let exhausted = str_at(&exhausted, "/key");
    let sibling = api.create_key(&account.token, None).await;
    let sibling = str_at(&sibling, "/key");

    let mut history: Vec<(u16, RateLimit)> = Vec::new();
    let mut limit = u64::MAX;
    let rejected = loop {
        let reply = api.list_messages(exhausted, &[("limit", "1")]).await;
        let rate = reply.plausible_rate_limit();
        limit = limit.min(rate.limit);
        history.push((reply.status.as_u16(), rate));
        match reply.status.as_u16() {
            200 => {}
            429 => break reply,
            other => panic!(
                "{}: expected 200 or 429, got {other}: {}",
                reply.what, reply.text
            ),
        }
        assert!(
            (history.len() as u64) < 2 * limit + 2,
            "no 429 after {} requests with X-RateLimit-Limit {limit}",
            history.len()
        );
    };

    assert_error(&rejected, 429, "rate_limited");
    let rate = rejected.rate_limit();
    assert_eq!(rate.remaining, 0, "nothing remains once limited");
    assert_retry_after(&rejected, &rate);

    // Exactly `limit` requests were admitted in the window that refused this one, counting
    // down to zero.
    let admitted: Vec<&RateLimit> = history
        .iter()
        .filter(|(status, r)| *status == 200 && r.reset == rate.reset)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        admitted.len() as u64,
        limit,
        "admitted in the limited window: {history:?}"
    );
    assert!(
        admitted
            .windows(2)
            .all(|w| w[1].remaining + 1 == w[0].remaining),
        "Remaining must decrease by one per request: {history:?}"
    );
    assert_eq!(admitted.last().map(|r| r.remaining), Some(0));

    // The counter covers every messaging route: sending is refused too (unless the window has
    // just rolled over, which its Reset would show).
    let send = api.send_message(exhausted, &sms("over the limit")).await;
    let send_rate = send.rate_limit();
    if send_rate.reset == rate.reset {
        assert_error(&send, 429, "rate_limited");
        assert_retry_after(&send, &send_rate);
    } else {
        send.data(201);
    }

    // The limit is per key: another key of the same workspace is unaffected.
    let other = api.list_messages(sibling, &[]).await;
    other.data(200);
    assert_eq!(other.rate_limit().remaining, limit - 1);
}

#[tokio::test]
async fn a_concurrent_burst_of_twice_the_limit_admits_exactly_the_limit() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;

    // Learn the limit on a key of its own, so the burst key starts from zero.
    let probe = api.create_key(&account.token, None).await;
    let probe = api.list_messages(str_at(&probe, "/key"), &[]).await;
    probe.data(200);
    let limit = probe.rate_limit().limit;

    let burst = api.create_key(&account.token, None).await;
    let burst = str_at(&burst, "/key").to_owned();
    let mut set = JoinSet::new();
    for _ in 0..2 * limit {
        let api = api.clone();
        let key = burst.clone();
        set.spawn(async move { api.list_messages(&key, &[("limit", "1")]).await });
    }

    // window end -> (admitted, rejected)
    let mut windows: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let reply = joined.expect("request task");
        let rate = reply.rate_limit();
        assert_eq!(rate.limit, limit);
        let entry = windows.entry(rate.reset).or_default();
        match reply.status.as_u16() {
            200 => entry.0 += 1,
            429 => {
                assert_error(&reply, 429, "rate_limited");
                assert_retry_after(&reply, &rate);
                entry.1 += 1;
            }
            other => panic!(
                "{}: expected 200 or 429, got {other}: {}",
                reply.what, reply.text
            ),
        }
    }

    let total: u64 = windows.values().map(|(a, r)| a + r).sum();
    assert_eq!(total, 2 * limit);
    for (reset, (admitted, rejected)) in &windows {
        assert!(
            *admitted <= limit,
            "window ending {reset} admitted {admitted} > limit {limit}: {windows:?}"
        );
        if *rejected > 0 {
            assert_eq!(
                *admitted, limit,
                "window ending {reset} refused requests before admitting {limit}: {windows:?}"
            );
        }
    }
    if windows.len() == 1 {
        let (admitted, rejected) = windows.values().next().copied().unwrap_or_default();
        assert_eq!((admitted, rejected), (limit, limit));
    }
}
