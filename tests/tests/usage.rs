//! Per-key usage over HTTP: `GET /api/v1/api-keys/{id}/usage`, `GET /api/v1/usage`, and
//! `last_used_ip` in the key list. Buckets are whole UTC hours or days; requests show at once.

use std::time::Instant;

use reqwest::Method;
use serde_json::Value;
use yebolink_blackbox::*;

/// The sum of `field` over the buckets of a usage answer.
fn total(data: &Value, field: &str) -> u64 {
    data["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b[field].as_u64().expect("a count"))
        .sum()
}

fn hour_start(unix: u64) -> u64 {
    unix - unix % 3600
}

fn rfc3339(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn a_burst_of_sends_shows_in_the_hourly_buckets_within_60_seconds() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let (id, secret) = (str_at(&key, "/id"), str_at(&key, "/key"));
    let started = Instant::now();
    for i in 0..5 {
        api.send_sms(secret, &format!("burst {i}")).await;
    }
    let sent = Instant::now();
    let seen = loop {
        let data = api
            .key_usage(&account.token, id, &[("granularity", "hour")])
            .await
            .data(200);
        if total(&data, "requests") >= 5 {
            break data;
        }
        assert!(
            sent.elapsed().as_secs() < 60,
            "not visible after 60 s: {data}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let freshness = sent.elapsed();
    eprintln!(
        "usage freshness: visible {} ms after the last send ({} ms for the burst)",
        freshness.as_millis(),
        (sent - started).as_millis()
    );
    assert!(freshness.as_secs() < 60);
    assert_eq!(seen["key_id"], id);
    assert_eq!(seen["granularity"], "hour");
    let buckets = seen["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    assert_eq!(total(&seen, "requests"), 5);
    assert_eq!(total(&seen, "rate_limited"), 0);
    assert_eq!(total(&seen, "denied"), 0);
    // Oldest first, one hour apart, the last one the current hour (or the one just before
    // it, if the hour turned during the test).
    let starts: Vec<i64> = buckets
        .iter()
        .map(|b| parse_timestamp(b["start"].as_str().unwrap()))
        .collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 3600), "{starts:?}");
    assert!(hour_start(now_unix()) as i64 - starts[23] <= 3600);
}

#[tokio::test]
async fn rate_limited_and_out_of_scope_requests_are_counted_as_such() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let key = api.create_key(&account.token, None).await;
    let (id, secret) = (str_at(&key, "/id"), str_at(&key, "/key"));
    let mut limit = u64::MAX;
    let (mut ok, mut limited) = (0u64, 0u64);
    while limited < 3 {
        let reply = api.list_messages(secret, &[("limit", "1")]).await;
        limit = limit.min(reply.plausible_rate_limit().limit);
        match reply.status.as_u16() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected {other}: {}", reply.text),
        }
        assert!(ok + limited < 3 * limit + 10, "no 429s");
    }
    let read_only = api
        .create_key(&account.token, Some(&["read_messages"]))
        .await;
    let read_only_id = str_at(&read_only, "/id");
    for _ in 0..2 {
        let reply = api
            .send_message(str_at(&read_only, "/key"), &sms("not allowed"))
            .await;
        assert_error(&reply, 403, "insufficient_scope");
    }

    let data = api.key_usage(&account.token, id, &[]).await.data(200);
    assert_eq!(data["granularity"], "day");
    assert_eq!(data["buckets"].as_array().unwrap().len(), 30);
    assert_eq!(total(&data, "requests"), ok + limited);
    assert_eq!(total(&data, "rate_limited"), limited);
    assert_eq!(total(&data, "denied"), 0);
    let data = api
        .key_usage(&account.token, read_only_id, &[("granularity", "hour")])
        .await
        .data(200);
    assert_eq!((total(&data, "requests"), total(&data, "denied")), (2, 2));
}

#[tokio::test]
async fn a_range_without_traffic_is_zero_buckets_and_edges_are_whole_buckets() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id");
    api.send_sms(str_at(&key, "/key"), "edge").await;
    let now = now_unix();
    // Ten days ago, two days long: nothing.
    let quiet = api
        .key_usage(
            &account.token,
            id,
            &[
                ("from", &rfc3339(now - 10 * 86_400)),
                ("to", &rfc3339(now - 8 * 86_400)),
            ],
        )
        .await
        .data(200);
    let buckets = quiet["buckets"].as_array().unwrap();
    assert!(buckets.len() == 2 || buckets.len() == 3, "{quiet}");
    assert_eq!(total(&quiet, "requests"), 0);
    // A range that starts inside the current hour and ends a second later still holds the
    // whole hour: the send shows.
    let hour = hour_start(now);
    let edge = api
        .key_usage(
            &account.token,
            id,
            &[
                ("granularity", "hour"),
                ("from", &rfc3339(now)),
                ("to", &rfc3339(now + 1)),
            ],
        )
        .await
        .data(200);
    let buckets = edge["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1, "{edge}");
    assert_eq!(parse_timestamp(str_at(&buckets[0], "/start")), hour as i64);
    // The send was in this hour unless the hour turned between the send and `now`.
    if now % 3600 > 5 {
        assert_eq!(buckets[0]["requests"], 1, "{edge}");
    }
    // A range ending exactly at the hour's start does not include that hour.
    let before = api
        .key_usage(
            &account.token,
            id,
            &[
                ("granularity", "hour"),
                ("from", &rfc3339(hour - 3600)),
                ("to", &rfc3339(hour)),
            ],
        )
        .await
        .data(200);
    assert_eq!(before["buckets"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_queries_are_400s_naming_the_field() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id");
    let now = now_unix();
    let (week_ago, long_ago) = (rfc3339(now - 169 * 3600), rfc3339(now - 91 * 86_400));
    for (query, field) in [
        (vec![("granularity", "minute")], "granularity"),
        (vec![("from", "yesterday")], "from"),
        (vec![("to", "2026-02-30T00:00:00Z")], "to"),
        (
            vec![("granularity", "hour"), ("from", week_ago.as_str())],
            "from",
        ),
        (vec![("from", long_ago.as_str())], "from"),
    ] {
        let reply = api.key_usage(&account.token, id, &query).await;
        assert_validation_error(&reply, &[field]);
        let reply = api.workspace_usage(&account.token, &query).await;
        assert_validation_error(&reply, &[field]);
    }
    // The caps themselves are allowed.
    let week = rfc3339(hour_start(now) - 167 * 3600);
    let data = api
        .key_usage(
            &account.token,
            id,
            &[("granularity", "hour"), ("from", &week)],
        )
        .await
        .data(200);
    assert_eq!(data["buckets"].as_array().unwrap().len(), 168);
}

#[tokio::test]
async fn another_workspaces_key_is_404_and_a_deactivated_keys_history_stays() {
    let api = TestApi::from_env();
    let (owner, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id");
    api.send_sms(str_at(&key, "/key"), "before deactivation")
        .await;
    api.deactivate_key(&owner.token, id).await.data(200);
    let data = api.key_usage(&owner.token, id, &[]).await.data(200);
    assert_eq!(total(&data, "requests"), 1);

    let stranger = api.register_workspace().await;
    let reply = api.key_usage(&stranger.token, id, &[]).await;
    assert_error(&reply, 404, "not_found");
    let reply = api
        .send(api.request(Method::GET, &format!("/api/v1/api-keys/{id}/usage")))
        .await;
    assert_error(&reply, 401, "unauthorized");
}

#[tokio::test]
async fn workspace_usage_sums_all_keys_and_lists_them_busiest_first() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let quiet = api.create_key(&account.token, None).await;
    let busy = api.create_key(&account.token, None).await;
    let some = api.create_key(&account.token, None).await;
    for _ in 0..4 {
        api.send_sms(str_at(&busy, "/key"), "busy").await;
    }
    api.send_sms(str_at(&some, "/key"), "some").await;

    let data = api
        .workspace_usage(&account.token, &[("granularity", "hour")])
        .await
        .data(200);
    assert_eq!(total(&data, "requests"), 5);
    let keys: Vec<(&str, u64)> = data["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (str_at(k, "/id"), k["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (str_at(&busy, "/id"), 4),
            (str_at(&some, "/id"), 1),
            (str_at(&quiet, "/id"), 0),
        ]
    );
    assert_eq!(data["keys"][0]["key_prefix"], busy["key_prefix"]);
}

#[tokio::test]
async fn the_key_list_shows_the_address_a_key_was_last_used_from() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"][0]["last_used_ip"], Value::Null);
    let reply = api
        .send(
            api.client
                .request(Method::POST, api.url("/api/v1/messages/send"))
                .header("X-API-Key", str_at(&key, "/key"))
                .header("X-Yebolink-Local-Source-Ip", "203.0.113.7")
                .json(&sms("from a documented address")),
        )
        .await;
    reply.data(201);
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"][0]["last_used_ip"], "203.0.113.7");
}
