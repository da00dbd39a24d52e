//! Races over HTTP: deactivation while the key is in use, concurrent key creation, concurrent
//! registration of one email, concurrent idempotent sends, concurrent deactivations, concurrent
//! rotations, rotation racing deactivation, parallel sends against a monthly send limit, and
//! webhook endpoints created at once against the limit of ten.
//!
//! Concurrent sends at the rate limit are in `rate_limits.rs`
//! (`a_concurrent_burst_of_twice_the_limit_admits_exactly_the_limit`); eight concurrent key
//! creations in `api_keys.rs` (`concurrently_created_keys_are_all_unique_and_all_listed`),
//! which `twenty_keys_created_at_once_are_unique_listed_and_each_works` extends.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;
use uuid::Uuid;
use yebolink_blackbox::*;

/// One request made while the race ran.
#[derive(Debug)]
struct Attempt {
    route: &'static str,
    sent: Instant,
    answered: Instant,
    status: u16,
    code: Option<String>,
    /// The id of a message a 201 created.
    created: Option<String>,
}

#[tokio::test]
async fn after_a_deactivation_returns_no_request_with_the_key_is_admitted() {
    const USERS: usize = 4;
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key").to_owned();
    let observer = api
        .create_key(&account.token, Some(&["read_messages"]))
        .await;
    let observer = str_at(&observer, "/key").to_owned();
    let first = api.send_sms(&secret, "before the race").await;
    let first_id = str_at(&first, "/id").to_owned();

    // Several clients use the key continuously, on all three routes, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let mut users = JoinSet::new();
    for user in 0..USERS {
        let (api, secret, first_id, stop) =
            (api.clone(), secret.clone(), first_id.clone(), stop.clone());
        users.spawn(async move {
            let mut attempts = Vec::new();
            let mut turn = user;
            while !stop.load(Ordering::SeqCst) {
                turn += 1;
                let (route, request) = match turn % 3 {
                    0 => (
                        "send",
                        api.request(Method::POST, "/api/v1/messages/send")
                            .header("X-API-Key", &secret)
                            .json(&sms("during the race")),
                    ),
                    1 => (
                        "list",
                        api.request(Method::GET, "/api/v1/messages")
                            .header("X-API-Key", &secret),
                    ),
                    _ => (
                        "get",
                        api.request(Method::GET, &format!("/api/v1/messages/{first_id}"))
                            .header("X-API-Key", &secret),
                    ),
                };
                let sent = Instant::now();
                let reply = api.send(request).await;
                let answered = Instant::now();
                let body: Value = serde_json::from_str(&reply.text).unwrap_or(Value::Null);
                attempts.push(Attempt {
                    route,
                    sent,
                    answered,
                    status: reply.status.as_u16(),
                    code: body["error"]["code"].as_str().map(str::to_owned),
                    created: (route == "send" && reply.status.as_u16() == 201)
                        .then(|| body["data"]["id"].as_str().map(str::to_owned))
                        .flatten(),
                });
            }
            attempts
        });
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let delete_sent = Instant::now();
    let reply = api
        .deactivate_key(&account.token, str_at(&key, "/id"))
        .await;
    let delete_returned = Instant::now();
    reply.data(200);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::SeqCst);

    let mut attempts = Vec::new();
    while let Some(done) = users.join_next().await {
        attempts.extend(done.expect("user task"));
    }

    let mut after = 0;
    let mut before = 0;
    let mut routes_after = HashSet::new();
    let mut created = HashSet::new();
    for a in &attempts {
        assert!(a.status < 500, "a server error during the race: {a:?}");
        if a.sent > delete_returned {
            after += 1;
            routes_after.insert(a.route);
            assert_eq!(
                (a.status, a.code.as_deref()),
                (401, Some("invalid_api_key")),
                "a request sent {:?} after the DELETE returned was not refused: {a:?}",
                a.sent - delete_returned
            );
        } else if a.answered < delete_sent {
            before += 1;
            assert!(
                [200, 201, 429].contains(&a.status),
                "the key was still active: {a:?}"
            );
        } else {
            // In flight while the DELETE was: either outcome, nothing else.
            assert!(
                [200, 201, 429, 401].contains(&a.status),
                "overlapping the DELETE: {a:?}"
            );
        }
        if let Some(id) = &a.created {
            assert!(
                a.sent <= delete_returned,
                "a send after the DELETE created {id}"
            );
            created.insert(id.clone());
        }
    }
    assert!(
        after >= 2 * USERS,
        "too few requests after the DELETE to judge ({after}); before it: {before}"
    );
    assert!(
        before >= USERS,
        "too few requests before the DELETE ({before})"
    );
    assert_eq!(routes_after.len(), 3, "every route tried after the DELETE");
    eprintln!(
        "deactivation race: {} requests, {before} answered before the DELETE was sent, \
         {after} sent after it returned (all 401), {} messages created",
        attempts.len(),
        created.len()
    );

    // Exactly the messages whose sends got a 201 exist, besides the first: a refused request
    // left nothing behind.
    let listed = api
        .list_messages(&observer, &[("limit", "100")])
        .await
        .data(200);
    let listed: HashSet<String> = strs_in(&listed, "messages", "/id")
        .into_iter()
        .filter(|id| *id != first_id)
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, created);

    // The key stays deactivated (a concurrent `last_used_at` update cannot revive it).
    let keys = api.list_keys(&account.token).await.data(200);
    let item = keys["api_keys"]
        .as_array()
        .expect("api_keys")
        .iter()
        .find(|k| k["id"] == key["id"])
        .expect("the key is listed")
        .clone();
    assert_eq!(item["is_active"], json!(false));
    assert_invalid_api_key(&api.list_messages(&secret, &[]).await);
}

#[tokio::test]
async fn twenty_keys_created_at_once_are_unique_listed_and_each_works() {
    const KEYS: usize = 20;
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut set = JoinSet::new();
    for i in 0..KEYS {
        let (api, token) = (api.clone(), account.token.clone());
        set.spawn(async move {
            let scopes: &[&str] = if i % 2 == 0 {
                &["send_messages", "read_messages"]
            } else {
                &["read_messages"]
            };
            let name = format!("concurrent {i}");
            let data = api
                .create_key_with(&token, &json!({"name": name, "scopes": scopes}))
                .await
                .data(201);
            assert_eq!(data["name"], json!(name));
            assert_eq!(data["scopes"], json!(scopes));
            data
        });
    }
    let mut created = Vec::new();
    while let Some(done) = set.join_next().await {
        created.push(done.expect("create task"));
    }
    let distinct = |field: &str| -> usize {
        created
            .iter()
            .map(|k| str_at(k, field).to_owned())
            .collect::<HashSet<_>>()
            .len()
    };
    assert_eq!(distinct("/id"), KEYS, "key ids must be unique");
    assert_eq!(distinct("/key"), KEYS, "keys must be unique");
    assert_eq!(distinct("/name"), KEYS);

    // Listed: every one, once, with its own name, prefix and scopes, newest first.
    let listed = api.list_keys(&account.token).await.data(200);
    let items = listed["api_keys"].as_array().expect("api_keys");
    assert_eq!(items.len(), KEYS);
    for data in &created {
        let item = items
            .iter()
            .find(|k| k["id"] == data["id"])
            .unwrap_or_else(|| panic!("key {} not listed", data["id"]));
        for field in ["name", "key_prefix", "scopes", "created_at"] {
            assert_eq!(item[field], data[field], "{field}");
        }
        assert_eq!(item["is_active"], json!(true));
    }
    let ids: Vec<&str> = items.iter().map(|k| str_at(k, "/id")).collect();
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first, "UUIDv7 ids list newest first");

    // Each key authenticates, as itself (its own rate-limit window starts full).
    let mut set = JoinSet::new();
    for data in created {
        let api = api.clone();
        set.spawn(async move {
            let reply = api.list_messages(str_at(&data, "/key"), &[]).await;
            reply.data(200);
            let rate = reply.rate_limit();
            assert_eq!(rate.remaining, rate.limit - 1);
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("use task");
    }
}

#[tokio::test]
async fn one_email_registered_concurrently_gets_exactly_one_account() {
    const TRIES: usize = 6;
    let api = TestApi::from_env();
    let email = unique_email();
    let mut set = JoinSet::new();
    for i in 0..TRIES {
        let api = api.clone();
        // The same address in different cases: one account, compared case-insensitively.
        let spelled = if i % 2 == 0 {
            email.clone()
        } else {
            email.to_uppercase()
        };
        set.spawn(async move {
            let password = format!("{PASSWORD} #{i}");
            let reply = api
                .register(&json!({
                    "workspace_name": format!("race {i}"), "email": spelled, "password": password,
                }))
                .await;
            (password, reply)
        });
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    while let Some(done) = set.join_next().await {
        let (password, reply) = done.expect("register task");
        match reply.status.as_u16() {
            201 => winners.push((password, reply.data(201))),
            _ => {
                assert_error(&reply, 409, "email_taken");
                losers.push(password);
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration wins");
    assert_eq!(losers.len(), TRIES - 1);

    let (password, data) = &winners[0];
    let session = api.login(&email, password).await.data(200);
    assert_eq!(session["user"]["id"], data["user"]["id"]);
    assert_eq!(session["workspace"]["id"], data["workspace"]["id"]);
    for password in &losers {
        assert_error(
            &api.login(&email, password).await,
            401,
            "invalid_credentials",
        );
    }
}

#[tokio::test]
async fn concurrent_sends_with_one_idempotency_key_create_one_message() {
    const SENDS: usize = 8;
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key").to_owned();
    let idempotency_key = format!("race-{}", Uuid::new_v4());

    // Half send one body, half another: exactly one message, every same-body reply is that
    // message, every other-body reply is a 422.
    let mut set = JoinSet::new();
    for i in 0..SENDS {
        let (api, secret, idempotency_key) = (api.clone(), secret.clone(), idempotency_key.clone());
        set.spawn(async move {
            let text = if i % 2 == 0 { "body A" } else { "body B" };
            let reply = api
                .send(
                    api.request(Method::POST, "/api/v1/messages/send")
                        .header("X-API-Key", secret)
                        .header("Idempotency-Key", idempotency_key)
                        .json(&sms(text)),
                )
                .await;
            (text, reply)
        });
    }
    let mut created: HashSet<String> = HashSet::new();
    let mut winner_text = None;
    let mut replies = Vec::new();
    while let Some(done) = set.join_next().await {
        replies.push(done.expect("send task"));
    }
    for (text, reply) in &replies {
        if reply.status.as_u16() == 201 {
            let data = reply.data(201);
            assert_eq!(data["content"]["text"], json!(text));
            created.insert(str_at(&data, "/id").to_owned());
            assert!(
                winner_text.is_none_or(|w| w == *text),
                "both bodies got a 201"
            );
            winner_text = Some(*text);
        }
    }
    assert_eq!(created.len(), 1, "one message for one Idempotency-Key");
    let winner_text = winner_text.expect("one body won");
    for (text, reply) in &replies {
        if *text != winner_text {
            assert_error(reply, 422, "idempotency_conflict");
        }
    }
    let listed = api.list_messages(&secret, &[]).await.data(200);
    let ids = strs_in(&listed, "messages", "/id");
    assert_eq!(ids.len(), 1);
    assert!(created.contains(ids[0]));
}

#[tokio::test]
async fn concurrent_deactivations_of_one_key_all_answer_200() {
    const DELETES: usize = 6;
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id").to_owned();
    let mut set = JoinSet::new();
    for _ in 0..DELETES {
        let (api, token, id) = (api.clone(), account.token.clone(), id.clone());
        set.spawn(async move { api.deactivate_key(&token, &id).await });
    }
    while let Some(done) = set.join_next().await {
        let data = done.expect("delete task").data(200);
        assert_eq!(data["message"], json!("API key deactivated successfully"));
    }
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["api_keys"][0]["is_active"], json!(false));
    assert_invalid_api_key(&api.list_messages(str_at(&key, "/key"), &[]).await);
}

#[tokio::test]
async fn concurrent_rotations_of_one_key_make_exactly_one_new_key() {
    const ROTATIONS: usize = 6;
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id").to_owned();
    let mut set = JoinSet::new();
    for _ in 0..ROTATIONS {
        let (api, token, id) = (api.clone(), account.token.clone(), id.clone());
        set.spawn(async move { api.rotate_key(&token, &id, None).await });
    }
    let mut created = Vec::new();
    while let Some(done) = set.join_next().await {
        let reply = done.expect("rotate task");
        if reply.status.as_u16() == 201 {
            created.push(reply.data(201));
        } else {
            assert_error(&reply, 409, "key_not_rotatable");
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"].as_array().map(Vec::len), Some(2));
    let old = listed["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == json!(id))
        .unwrap();
    assert_eq!(old["replaced_by"], created[0]["id"]);
    assert!(api.key_works(str_at(&created[0], "/key")).await);
}

/// Rotation (no overlap) and deactivation of one key at once, many times: whichever wins, at
/// most one key works afterwards, and the one that works is the rotation's new key.
#[tokio::test]
async fn a_rotation_racing_a_deactivation_never_leaves_two_working_keys() {
    const ROUNDS: usize = 6;
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for _ in 0..ROUNDS {
        let key = api.create_key(&account.token, None).await;
        let id = str_at(&key, "/id").to_owned();
        let no_overlap = json!({"overlap_seconds": 0});
        let (rotate, deactivate) = tokio::join!(
            api.rotate_key(&account.token, &id, Some(&no_overlap)),
            api.deactivate_key(&account.token, &id),
        );
        deactivate.data(200);
        let new_key = match rotate.status.as_u16() {
            201 => Some(str_at(&rotate.data(201), "/key").to_owned()),
            _ => {
                assert_error(&rotate, 409, "key_not_rotatable");
                None
            }
        };
        assert!(
            !api.key_works(str_at(&key, "/key")).await,
            "old key still works"
        );
        if let Some(new_key) = new_key {
            assert!(api.key_works(&new_key).await, "the rotation's key was lost");
        }
    }
}

/// A key's monthly send limit holds under concurrency: of N parallel sends, exactly M are
/// admitted, each seeing its own place in the count, and exactly M messages exist.
#[tokio::test]
async fn parallel_sends_against_a_monthly_limit_admit_exactly_that_many() {
    const LIMIT: u64 = 5;
    const SENDS: u64 = 20;
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    // A per-minute limit of its own above the burst and the reads after it, so that only the
    // monthly limit refuses.
    let key = api
        .create_key_with_settings(
            &account.token,
            &json!({"monthly_send_limit": LIMIT, "rate_limit_per_minute": SENDS + 5}),
        )
        .await;
    let secret = str_at(&key, "/key").to_owned();

    let mut set = JoinSet::new();
    for i in 0..SENDS {
        let (api, secret) = (api.clone(), secret.clone());
        set.spawn(async move {
            api.send_message(&secret, &sms(&format!("parallel {i}")))
                .await
        });
    }
    let mut created = HashSet::new();
    let mut remaining_seen = Vec::new();
    let mut refused = 0;
    while let Some(done) = set.join_next().await {
        let reply = done.expect("send task");
        match reply.status.as_u16() {
            201 => {
                let data = reply.data(201);
                created.insert(str_at(&data, "/id").to_owned());
                let (limit, remaining) = reply
                    .quota()
                    .unwrap_or_else(|| panic!("{}: a 201 carries X-Quota-*", reply.what));
                assert_eq!(limit, LIMIT);
                remaining_seen.push(remaining);
            }
            _ => {
                assert_error(&reply, 429, "quota_exceeded");
                assert_eq!(reply.quota(), Some((LIMIT, 0)), "{}", reply.what);
                assert!(reply.header("retry-after").is_some(), "{}", reply.what);
                refused += 1;
            }
        }
    }
    assert_eq!(
        created.len() as u64,
        LIMIT,
        "admitted exactly the monthly limit"
    );
    assert_eq!(refused, SENDS - LIMIT);
    remaining_seen.sort_unstable();
    assert_eq!(
        remaining_seen,
        (0..LIMIT).collect::<Vec<_>>(),
        "each admitted send has its own place in the count"
    );

    let listed = api
        .list_messages(&secret, &[("limit", "100")])
        .await
        .data(200);
    let listed: HashSet<String> = strs_in(&listed, "messages", "/id")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, created, "exactly the admitted sends made messages");
    assert_error(
        &api.send_message(&secret, &sms("after the race")).await,
        429,
        "quota_exceeded",
    );
}

#[tokio::test]
async fn fourteen_webhook_endpoints_created_at_once_leave_exactly_ten() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut creates = JoinSet::new();
    for i in 0..14 {
        let (api, token) = (api.clone(), account.token.clone());
        creates.spawn(async move {
            let request = api
                .request(Method::POST, "/api/v1/webhooks")
                .bearer_auth(&token)
                .json(&json!({"url": format!("http://127.0.0.1:9/race-{i}")}));
            api.send(request).await
        });
    }
    let mut statuses = Vec::new();
    while let Some(reply) = creates.join_next().await {
        let reply = reply.expect("a create");
        if reply.status == 409 {
            assert_error(&reply, 409, "webhook_limit_reached");
        }
        statuses.push(reply.status.as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [[201; 10].as_slice(), &[409; 4]].concat());
    let listed = api
        .send(
            api.request(Method::GET, "/api/v1/webhooks")
                .bearer_auth(&account.token),
        )
        .await
        .data(200);
    assert_eq!(listed["webhooks"].as_array().map(Vec::len), Some(10));
}
