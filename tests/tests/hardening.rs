//! Issue 15's findings, over HTTP against the running stack: attempts that got through before,
//! per-source limits, and the tenant ceilings. Each test names its finding.
//!
//! Source addresses: `cargo lambda watch` reports every client as 127.0.0.1, so each `TestApi`
//! names its own address in the local-only `X-Yebolink-Local-Source-Ip` header (see
//! `tests/src/lib.rs`); deployed, the address is API Gateway's `sourceIp`.
//!
//! The limits are the defaults (register 10 per hour, login 60 per 15 minutes per address, 10
//! attempts per email and address, 50 active keys, workspace 10 x the per-key limit), which
//! `scripts/test.sh` leaves as they are.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;
use tokio::task::JoinSet;
use yebolink_blackbox::*;

const ATTEMPTS_PER_EMAIL_AND_ADDRESS: usize = 10;
const REGISTER_PER_ADDRESS_PER_HOUR: u64 = 10;
const LOGIN_PER_ADDRESS_PER_15_MIN: u64 = 60;
const WORKSPACE_KEY_LIMIT: usize = 50;

/// Counts each status's replies.
fn tally(replies: &[Reply]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for reply in replies {
        *counts.entry(reply.status.as_u16()).or_default() += 1;
    }
    counts
}

/// `attempt`'s result, from an attempt that ran within one fixed window of `window_seconds` (the
/// per-source limits count in fixed windows): an attempt that straddles a boundary, a few
/// seconds in an hour, fills one window and asks in the next, so it runs once more.
async fn within_one_window<T, F: std::future::Future<Output = T>>(
    window_seconds: u64,
    attempt: impl Fn() -> F,
) -> T {
    let window = || {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.expect("the clock is past 1970").as_secs() / window_seconds
    };
    for _ in 0..2 {
        let started = window();
        let result = attempt().await;
        if window() == started {
            return result;
        }
    }
    panic!("two attempts in a row straddled a {window_seconds} s window boundary")
}

/// A 429 `rate_limited` from a per-source limit: `Retry-After` within the window, and the
/// `X-RateLimit-*` headers with nothing remaining.
fn assert_source_limited(reply: &Reply, limit: u64, window_seconds: u64) {
    assert_error(reply, 429, "rate_limited");
    let rate = reply.rate_limit();
    assert_eq!((rate.limit, rate.remaining), (limit, 0), "{}", reply.what);
    assert!(
        rate.reset > reply.received_at.saturating_sub(1)
            && rate.reset <= reply.received_at + window_seconds + 1,
        "{}: X-RateLimit-Reset {} is not the end of the current window",
        reply.what,
        rate.reset
    );
    let retry_after: u64 = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("{}: a 429 must carry Retry-After", reply.what))
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(
        (1..=window_seconds).contains(&retry_after),
        "{}: Retry-After {retry_after}",
        reply.what
    );
}

/// Finding 1: the attempt is counted atomically before the password is checked, so 50 wrong
/// passwords sent at once (the stack runs 8 instances of login) get at most 10 checks. A 401
/// is only ever answered after a password check and a 429 before any, so the 401s count the
/// checks.
#[tokio::test]
async fn fifty_concurrent_wrong_logins_for_one_email_get_at_most_ten_password_checks() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut tasks = JoinSet::new();
    for i in 0..50 {
        let (api, email) = (api.clone(), account.email.clone());
        tasks.spawn(async move { api.login(&email, &format!("wrong password {i:02}")).await });
    }
    let replies = tasks.join_all().await;
    let counts = tally(&replies);
    println!("50 concurrent wrong logins: {counts:?} (status: replies)");
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!(
        checked <= ATTEMPTS_PER_EMAIL_AND_ADDRESS,
        "{checked} password checks for one email in one window: {counts:?}"
    );
    for reply in &replies {
        if reply.status != 401 {
            assert_error(reply, 429, "too_many_attempts");
        }
    }
    // The attacker's address stays locked for this email, right password or not.
    assert_error(
        &api.login(&account.email, &account.password).await,
        429,
        "too_many_attempts",
    );
}

/// Finding 2: attempts are counted per email and address, so a guesser cannot lock the owner
/// out: after 10 wrong guesses from one address, the right password from another logs in.
#[tokio::test]
async fn ten_wrong_guesses_from_one_address_do_not_lock_out_the_owner_at_another() {
    let (attacker, account, refused) = within_one_window(900, || async {
        let attacker = TestApi::from_env();
        let account = attacker.register_workspace().await;
        for _ in 0..ATTEMPTS_PER_EMAIL_AND_ADDRESS {
            assert_error(
                &attacker.login(&account.email, "not the password!").await,
                401,
                "invalid_credentials",
            );
        }
        let refused = attacker.login(&account.email, "not the password!").await;
        (attacker, account, refused)
    })
    .await;
    assert_error(&refused, 429, "too_many_attempts");
    let owner = attacker.from_another_address();
    let data = owner
        .login(&account.email, &account.password)
        .await
        .data(200);
    assert_eq!(str_at(&data, "/user/email"), account.email);
}

/// Finding 3: registrations are limited per address (an Argon2id hash each), with a 429 that
/// says when to come back; another address is not affected.
#[tokio::test]
async fn the_eleventh_registration_from_one_address_in_an_hour_is_429_rate_limited() {
    let (api, email, refused) = within_one_window(3600, || async {
        let api = TestApi::from_env();
        for _ in 0..REGISTER_PER_ADDRESS_PER_HOUR {
            api.register_workspace().await;
        }
        let email = unique_email();
        let refused = api
            .register(
                &json!({"workspace_name": "One too many", "email": email, "password": PASSWORD}),
            )
            .await;
        (api, email, refused)
    })
    .await;
    assert_source_limited(&refused, REGISTER_PER_ADDRESS_PER_HOUR, 3600);
    // Nothing was created: the same email registers from elsewhere.
    let elsewhere = api.from_another_address();
    elsewhere
        .register(&json!({"workspace_name": "Elsewhere", "email": email, "password": PASSWORD}))
        .await
        .data(201);
}

/// Finding 3: login requests are limited per address whatever the email (each costs an
/// Argon2id verification, real or dummy).
#[tokio::test]
async fn the_sixty_first_login_from_one_address_in_15_minutes_is_429_rate_limited() {
    let (api, account, refused) = within_one_window(900, || async {
        let api = TestApi::from_env();
        let account = api.from_another_address().register_workspace().await;
        // Ten at a time: concurrent, but within what the local DynamoDB serves without timeouts.
        for _ in 0..LOGIN_PER_ADDRESS_PER_15_MIN / 10 {
            let mut tasks = JoinSet::new();
            for _ in 0..10 {
                let api = api.clone();
                tasks.spawn(async move { api.login(&unique_email(), PASSWORD).await });
            }
            for reply in tasks.join_all().await {
                assert_error(&reply, 401, "invalid_credentials");
            }
        }
        // Even the right password is refused from this address, before any password work...
        let refused = api.login(&account.email, &account.password).await;
        (api, account, refused)
    })
    .await;
    assert_source_limited(&refused, LOGIN_PER_ADDRESS_PER_15_MIN, 900);
    // ...and accepted from another.
    api.from_another_address()
        .login(&account.email, &account.password)
        .await
        .data(200);
}

/// Finding 4: a workspace holds at most 50 active keys; a deactivated key frees its slot.
#[tokio::test]
async fn a_workspace_past_fifty_active_keys_gets_409_key_limit_reached() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut tasks = JoinSet::new();
    // Concurrently, with a few extra: the cap must hold under a race too.
    for _ in 0..WORKSPACE_KEY_LIMIT + 5 {
        let (api, token) = (api.clone(), account.token.clone());
        tasks.spawn(async move {
            api.create_key_with(&token, &json!({"name": "capped"}))
                .await
        });
    }
    let replies = tasks.join_all().await;
    let counts = tally(&replies);
    assert_eq!(
        (
            counts.get(&201).copied().unwrap_or(0),
            counts.get(&409).copied().unwrap_or(0)
        ),
        (WORKSPACE_KEY_LIMIT, 5),
        "{counts:?}"
    );
    for reply in replies.iter().filter(|r| r.status == 409) {
        assert_error(reply, 409, "key_limit_reached");
    }
    let listed = api.list_keys(&account.token).await.data(200);
    let ids: Vec<String> = strs_in(&listed, "api_keys", "/id")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), WORKSPACE_KEY_LIMIT);

    api.deactivate_key(&account.token, &ids[0]).await.data(200);
    api.create_key(&account.token, None).await;
    assert_error(
        &api.create_key_with(&account.token, &json!({"name": "one more"}))
            .await,
        409,
        "key_limit_reached",
    );
}

/// Finding 4: the workspace-wide limit (10 x the per-key limit) holds across all its keys:
/// more keys do not buy more throughput.
#[tokio::test]
async fn a_workspace_cannot_exceed_ten_times_the_key_limit_with_more_keys() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut keys = Vec::new();
    for _ in 0..15 {
        keys.push(str_at(&api.create_key(&account.token, None).await, "/key").to_owned());
    }
    let probe = api.list_messages(&keys[0], &[]).await;
    let per_key = probe.plausible_rate_limit().limit;
    let workspace_limit = 10 * per_key;
    // Each of 14 keys stays under its own limit; together they go past the workspace's.
    let per_key_sends = per_key - per_key.div_ceil(6);
    assert!(14 * per_key_sends > workspace_limit);
    // A fresh window, so that the whole burst falls in one (judged by X-RateLimit-Reset anyway).
    let into_window = now_unix() % 60;
    if into_window > 30 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - into_window)).await;
    }
    // 16 in flight at a time: enough to be concurrent, not so many that the local emulator of
    // API Gateway (cargo lambda watch) chokes.
    let mut pending: Vec<String> = Vec::new();
    for _ in 0..per_key_sends {
        pending.extend(keys[1..].iter().cloned());
    }
    let mut replies = Vec::new();
    for batch in pending.chunks(16) {
        let mut tasks = JoinSet::new();
        for key in batch {
            let (api, key) = (api.clone(), key.clone());
            tasks.spawn(async move {
                api.send(
                    api.request(Method::GET, "/api/v1/messages")
                        .header("X-API-Key", &key),
                )
                .await
            });
        }
        replies.extend(tasks.join_all().await);
    }
    let mut by_window: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for reply in &replies {
        let rate = reply.rate_limit();
        let slot = by_window.entry(rate.reset).or_default();
        match reply.status.as_u16() {
            200 => slot.0 += 1,
            429 => {
                assert_error(reply, 429, "rate_limited");
                assert_eq!(
                    (rate.limit, rate.remaining),
                    (workspace_limit, 0),
                    "{}",
                    reply.what
                );
                slot.1 += 1;
            }
            other => panic!("{}: unexpected {other}: {}", reply.what, reply.text),
        }
    }
    println!("workspace limit {workspace_limit}: (admitted, refused) by window {by_window:?}");
    let window_of_probe = probe.rate_limit().reset;
    for (reset, (admitted, refused)) in &by_window {
        // The probe was counted in its own window.
        let already = u64::from(*reset == window_of_probe) as usize;
        assert!(
            admitted + already <= workspace_limit as usize,
            "window ending {reset}: {admitted} admitted past the workspace limit"
        );
        if admitted + refused + already > workspace_limit as usize {
            assert_eq!(
                admitted + already,
                workspace_limit as usize,
                "window ending {reset}"
            );
        }
    }
    assert!(
        by_window.values().any(|(_, refused)| *refused > 0),
        "the burst never reached the workspace limit: {by_window:?}"
    );
}
