//! A key's own policy (issue 25): its rate limit, the addresses it may be used from, the owner's
//! metadata and its monthly send limit; set on create, shown in every view, changed in place
//! with `PATCH /api/v1/api-keys/{id}` (on the very next request), carried over a rotation.
//!
//! Nothing the stack decides is hard-coded: the default per-key limit is read from a key
//! without one, and a burst past a limit is judged per window by `X-RateLimit-Reset`, so a
//! window boundary falling inside a test does not make it flaky. Each test uses a workspace of
//! its own. Parallel sends against a monthly limit are in `races.rs`
//! (`parallel_sends_against_a_monthly_limit_admit_exactly_that_many`).

use reqwest::Method;
use serde_json::{json, Map, Value};
use uuid::Uuid;
use yebolink_blackbox::*;

const IP_NOT_ALLOWED_MESSAGE: &str = "This API key cannot be used from this address";
const QUOTA_EXCEEDED_MESSAGE: &str = "This API key has reached its monthly send limit";
/// The four settings every key view shows.
const POLICY_FIELDS: [&str; 4] = [
    "rate_limit_per_minute",
    "allowed_ips",
    "metadata",
    "monthly_send_limit",
];
/// Everything a rotation carries over.
const CARRIED_FIELDS: [&str; 6] = [
    "name",
    "scopes",
    "rate_limit_per_minute",
    "allowed_ips",
    "metadata",
    "monthly_send_limit",
];

// ---- helpers --------------------------------------------------------------------------------

/// A 400 `validation_error` whose message is `"<field>: <problem>"`.
fn assert_invalid(reply: &Reply, field: &str) {
    let message = assert_error(reply, 400, "validation_error");
    assert!(
        message.starts_with(&format!("{field}:")),
        "{}: the message must start with `{field}:`, got {message:?}",
        reply.what
    );
}

fn assert_ip_not_allowed(reply: &Reply) {
    let message = assert_error(reply, 403, "ip_not_allowed");
    assert_eq!(message, IP_NOT_ALLOWED_MESSAGE, "{}", reply.what);
}

/// A 429 `quota_exceeded` of a key whose monthly limit is `limit`, with `Retry-After` the
/// seconds until the UTC month ends (as of the reply's arrival, give or take a few seconds).
fn assert_quota_exceeded(reply: &Reply, limit: u64) {
    let message = assert_error(reply, 429, "quota_exceeded");
    assert_eq!(message, QUOTA_EXCEEDED_MESSAGE, "{}", reply.what);
    assert_eq!(reply.quota(), Some((limit, 0)), "{}", reply.what);
    let raw = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("{}: a 429 quota_exceeded carries Retry-After", reply.what));
    let retry_after: i64 = raw
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}: Retry-After must be whole seconds: {raw:?}", reply.what));
    let expected = seconds_until_the_month_ends(reply.received_at);
    assert!(
        retry_after >= 1 && (retry_after - expected).abs() <= 5,
        "{}: Retry-After {retry_after} is not the {expected} seconds until the UTC month ends",
        reply.what
    );
}

/// Seconds from `unix` to the first second of the next UTC month.
fn seconds_until_the_month_ends(unix: u64) -> i64 {
    let now = time::OffsetDateTime::from_unix_timestamp(unix as i64).expect("a Unix time");
    let (year, month) = match now.month() {
        time::Month::December => (now.year() + 1, time::Month::January),
        month => (now.year(), month.next()),
    };
    let next_month = time::Date::from_calendar_date(year, month, 1)
        .expect("the first of a month")
        .midnight()
        .assume_utc();
    next_month.unix_timestamp() - unix as i64
}

fn assert_no_quota_headers(reply: &Reply) {
    assert_eq!(
        reply.quota(),
        None,
        "{}: a read carries no X-Quota headers",
        reply.what
    );
}

/// The octets of a dotted IPv4 address.
fn octets(ip: &str) -> [u8; 4] {
    let parsed: std::net::Ipv4Addr = ip
        .parse()
        .unwrap_or_else(|_| panic!("not an IPv4 address: {ip}"));
    parsed.octets()
}

/// The /16 holding an IPv4 address, normalised (`10.7.8.9` -> `10.7.0.0/16`).
fn block_16(ip: &str) -> String {
    let [a, b, _, _] = octets(ip);
    format!("{a}.{b}.0.0/16")
}

/// Another address in the same /16 (another /24 of it).
fn neighbour_in_16(ip: &str) -> String {
    let [a, b, c, d] = octets(ip);
    format!("{a}.{b}.{}.{d}", c ^ 1)
}

/// The same client from another address, outside the /16 of its own.
fn outside_its_16(api: &TestApi) -> TestApi {
    loop {
        let other = api.from_another_address();
        if block_16(&other.source_ip) != block_16(&api.source_ip) {
            return other;
        }
    }
}

/// The ids of the workspace's messages (at most 100), read with `key`.
async fn message_ids(api: &TestApi, key: &str) -> Vec<String> {
    let data = api.list_messages(key, &[("limit", "100")]).await.data(200);
    strs_in(&data, "messages", "/id")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The sum of `field` over the buckets of a usage answer.
fn total(data: &Value, field: &str) -> u64 {
    data["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b[field].as_u64().expect("a count"))
        .sum()
}

/// The `api_key.updated` events of the workspace, newest first.
async fn updated_events(api: &TestApi, token: &str) -> Vec<Value> {
    let data = api
        .audit_events(token, &[("type", "api_key.updated"), ("limit", "100")])
        .await
        .data(200);
    data["events"].as_array().expect("events").clone()
}

/// The key's settings and state are as they were (a view may still differ in `last_used_at`).
fn assert_settings_unchanged(before: &Value, after: &Value) {
    for field in CARRIED_FIELDS.iter().chain(&["is_active", "replaced_by"]) {
        assert_eq!(after[field], before[field], "{field} changed: {after}");
    }
}

/// `allowed_ips` as a sorted list of strings (the contract does not fix their order).
fn sorted_ips(value: &Value) -> Vec<String> {
    let mut ips: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("allowed_ips must be an array: {value}"))
        .iter()
        .map(|ip| ip.as_str().expect("an address block").to_owned())
        .collect();
    ips.sort();
    ips
}

/// A metadata object whose compact JSON is exactly `bytes` long, every value at most 500
/// characters.
fn metadata_of_json_size(bytes: usize) -> Value {
    let mut map = Map::new();
    for i in 0.. {
        let size = serde_json::to_string(&map).expect("JSON").len();
        if size == bytes {
            break;
        }
        let key = format!("k{i}");
        map.insert(key.clone(), json!(""));
        let with_empty = serde_json::to_string(&map).expect("JSON").len();
        assert!(
            with_empty <= bytes,
            "cannot build {bytes} bytes of metadata"
        );
        map.insert(key, json!("x".repeat((bytes - with_empty).min(500))));
    }
    assert!(map.len() <= 20);
    Value::Object(map)
}

/// Every invalid value of every setting, with the field its 400 must name.
fn invalid_settings() -> Vec<(Value, String)> {
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for bad in [
        json!(0),
        json!(-1),
        json!(2.5),
        json!("5"),
        json!(true),
        json!([10]),
        json!(1_000_000_000u64),
    ] {
        cases.push((
            json!({"rate_limit_per_minute": bad}),
            "rate_limit_per_minute",
        ));
    }
    let twenty_one: Vec<String> = (0..21).map(|i| format!("192.0.2.{i}")).collect();
    for bad in [
        json!([]),
        json!("10.0.0.0/8"),
        json!(7),
        json!({"0": "10.0.0.0/8"}),
        json!(twenty_one),
    ] {
        cases.push((json!({"allowed_ips": bad}), "allowed_ips"));
    }
    for (bad, field) in [
        (json!(["nope"]), "allowed_ips[0]"),
        (json!(["10.0.0.1", "10.0.0.0/8", "nope"]), "allowed_ips[2]"),
        (json!(["10.0.0.0/33"]), "allowed_ips[0]"),
        (json!(["2001:db8::/32", "2001:db8::/129"]), "allowed_ips[1]"),
        (json!(["10.0.0/8"]), "allowed_ips[0]"),
        (json!(["10.0.0.0/"]), "allowed_ips[0]"),
        (json!(["203.0.113.0/24", "10.0.0.1/-1"]), "allowed_ips[1]"),
        (json!(["example.com"]), "allowed_ips[0]"),
        (json!(["10.0.0.1", 7]), "allowed_ips[1]"),
        (json!(["10.0.0.1", "10.0.0.2", null]), "allowed_ips[2]"),
    ] {
        cases.push((json!({"allowed_ips": bad}), field));
    }
    let twenty_one: Map<String, Value> = (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    for bad in [
        json!("team"),
        json!(["team"]),
        json!(7),
        Value::Object(twenty_one),
        json!({"": "empty key"}),
        json!({"has space": "x"}),
        json!({"k".repeat(41): "key too long"}),
        json!({"t\u{e9}am": "not ASCII"}),
        json!({"team/x": "slash"}),
        metadata_of_json_size(2049),
    ] {
        cases.push((json!({"metadata": bad}), "metadata"));
    }
    for bad in [
        json!(1),
        json!(null),
        json!(["growth"]),
        json!({"name": "growth"}),
        json!("x".repeat(501)),
    ] {
        cases.push((
            json!({"metadata": {"environment": "staging", "team": bad}}),
            "metadata.team",
        ));
    }
    for bad in [
        json!(0),
        json!(-5),
        json!(10_000_001),
        json!(1.5),
        json!("100"),
        json!([100]),
    ] {
        cases.push((json!({"monthly_send_limit": bad}), "monthly_send_limit"));
    }
    cases
        .into_iter()
        .map(|(body, field)| (body, field.to_owned()))
        .collect()
}

/// The default per-key limit in force: `X-RateLimit-Limit` of a key without a limit of its own
/// (a fresh workspace's own limit is far above it).
async fn default_limit(api: &TestApi, token: &str) -> u64 {
    let plain = api.create_key(token, None).await;
    let reply = api.list_messages(str_at(&plain, "/key"), &[]).await;
    reply.data(200);
    let limit = reply.rate_limit().limit;
    assert_eq!(
        plain["rate_limit_per_minute"],
        json!(limit),
        "a key without its own limit shows the limit in force"
    );
    limit
}

// ---- the limit shown and enforced -----------------------------------------------------------

#[tokio::test]
async fn a_key_with_its_own_rate_limit_shows_it_and_is_refused_past_it_in_one_window() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(&account.token, &json!({"rate_limit_per_minute": 3}))
        .await;
    assert_eq!(created["rate_limit_per_minute"], json!(3));
    let id = str_at(&created, "/id");
    let key = str_at(&created, "/key");
    let listed = api.listed_key(&account.token, id).await;
    assert_eq!(listed["rate_limit_per_minute"], json!(3));

    // Sends and reads alike count; every response shows the key's own limit.
    let mut history: Vec<(u16, RateLimit)> = Vec::new();
    let refused = loop {
        let reply = if history.len().is_multiple_of(2) {
            api.send_message(key, &sms("within my own limit")).await
        } else {
            api.list_messages(key, &[("limit", "1")]).await
        };
        let rate = reply.plausible_rate_limit();
        assert_eq!(rate.limit, 3, "{}: X-RateLimit-Limit", reply.what);
        history.push((reply.status.as_u16(), rate));
        match reply.status.as_u16() {
            200 | 201 => {}
            429 => break reply,
            other => panic!(
                "{}: expected 2xx or 429, got {other}: {}",
                reply.what, reply.text
            ),
        }
        assert!(
            history.len() < 10,
            "no 429 after {} requests: {history:?}",
            history.len()
        );
    };
    assert_error(&refused, 429, "rate_limited");
    let rate = refused.rate_limit();
    assert_eq!(rate.remaining, 0);
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("a 429 carries Retry-After")
        .trim()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(
        (1..=61).contains(&retry_after)
            && retry_after <= rate.reset.saturating_sub(refused.received_at) + 2,
        "Retry-After {retry_after} is not within the window ending {}",
        rate.reset
    );
    // The window that refused the 4th request admitted exactly three, counting down to zero.
    let admitted: Vec<u64> = history
        .iter()
        .filter(|(status, r)| *status != 429 && r.reset == rate.reset)
        .map(|(_, r)| r.remaining)
        .collect();
    assert_eq!(admitted, [2, 1, 0], "{history:?}");
}

#[tokio::test]
async fn a_key_without_settings_or_with_null_ones_shows_the_default_limit_in_force_and_no_policy() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let default = default_limit(&api, &account.token).await;

    let plain = api.create_key(&account.token, None).await;
    let nulls = api
        .create_key_with_settings(
            &account.token,
            &json!({
                "rate_limit_per_minute": null, "allowed_ips": null,
                "metadata": null, "monthly_send_limit": null,
            }),
        )
        .await;
    for created in [&plain, &nulls] {
        let listed = api.listed_key(&account.token, str_at(created, "/id")).await;
        for view in [created, &listed] {
            assert_eq!(view["rate_limit_per_minute"], json!(default), "{view}");
            for field in ["allowed_ips", "metadata", "monthly_send_limit"] {
                assert_eq!(view[field], Value::Null, "{field} unset: {view}");
            }
        }
        // Any address, the default limit, no monthly limit.
        let key = str_at(created, "/key");
        let sent = api.send_message(key, &sms("no policy")).await;
        sent.data(201);
        assert_eq!(sent.rate_limit().limit, default);
        let elsewhere = outside_its_16(&api).list_messages(key, &[]).await;
        elsewhere.data(200);
        let v6 = api
            .from_address("2001:db8:1::7")
            .list_messages(key, &[])
            .await;
        v6.data(200);
    }

    // A key's own limit may be above the default too (the workspace's limit is higher still).
    let higher = api
        .create_key_with_settings(
            &account.token,
            &json!({"rate_limit_per_minute": default + 1}),
        )
        .await;
    assert_eq!(higher["rate_limit_per_minute"], json!(default + 1));
    let reply = api.list_messages(str_at(&higher, "/key"), &[]).await;
    reply.data(200);
    let rate = reply.rate_limit();
    assert_eq!((rate.limit, rate.remaining), (default + 1, default));
}

// ---- allowed addresses ----------------------------------------------------------------------

#[tokio::test]
async fn a_key_is_used_from_inside_its_ipv4_block_and_refused_from_outside_it() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let block = block_16(&api.source_ip);
    let created = api
        .create_key_with_settings(&account.token, &json!({"allowed_ips": [block]}))
        .await;
    assert_eq!(created["allowed_ips"], json!([block]));
    let key = str_at(&created, "/key");

    // Inside: the caller's own address and another one of the block, on every route.
    let message = api.send_sms(key, "from inside my block").await;
    let id = str_at(&message, "/id");
    let neighbour = api.from_address(&neighbour_in_16(&api.source_ip));
    neighbour.list_messages(key, &[]).await.data(200);
    neighbour.get_message(key, id).await.data(200);

    // Outside: every route refused, whatever the address family.
    let outsider = outside_its_16(&api);
    assert_ip_not_allowed(&outsider.send_message(key, &sms("from outside")).await);
    assert_ip_not_allowed(&outsider.list_messages(key, &[]).await);
    assert_ip_not_allowed(&outsider.get_message(key, id).await);
    let v6 = api.from_address("2001:db8:1::7");
    assert_ip_not_allowed(&v6.send_message(key, &sms("from IPv6")).await);

    // A refused send created nothing; the key still works from inside.
    assert_eq!(message_ids(&api, key).await, [id]);
}

#[tokio::test]
async fn a_key_is_used_from_inside_its_ipv6_block_and_refused_from_outside_it() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(&account.token, &json!({"allowed_ips": ["2001:db8::/32"]}))
        .await;
    assert_eq!(created["allowed_ips"], json!(["2001:db8::/32"]));
    let key = str_at(&created, "/key");

    let inside = api.from_address("2001:db8:1::7");
    let message = inside.send_sms(key, "from inside my IPv6 block").await;
    let id = str_at(&message, "/id");
    inside.list_messages(key, &[]).await.data(200);
    inside.get_message(key, id).await.data(200);

    let outside = api.from_address("2001:db9::1");
    assert_ip_not_allowed(&outside.send_message(key, &sms("outside")).await);
    assert_ip_not_allowed(&outside.list_messages(key, &[]).await);
    // An IPv4 caller is outside an IPv6-only key.
    assert_ip_not_allowed(&api.list_messages(key, &[]).await);
    assert_eq!(message_ids(&inside, key).await, [id]);

    // Both families on one key: each block admits its own.
    let both = api
        .create_key_with_settings(
            &account.token,
            &json!({"allowed_ips": [block_16(&api.source_ip), "2001:db8::/32"]}),
        )
        .await;
    let key = str_at(&both, "/key");
    api.list_messages(key, &[]).await.data(200);
    inside.list_messages(key, &[]).await.data(200);
    assert_ip_not_allowed(&outside.list_messages(key, &[]).await);
    assert_ip_not_allowed(&outside_its_16(&api).list_messages(key, &[]).await);
}

#[tokio::test]
async fn allowed_ips_are_shown_normalised_without_duplicates_and_a_lone_address_is_its_own_block() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(
            &account.token,
            &json!({"allowed_ips": [
                "203.0.113.77/24", "10.1.2.3", "2001:DB8::1/32", "10.1.2.3/32", "203.0.113.0/24",
            ]}),
        )
        .await;
    let expected = ["10.1.2.3/32", "2001:db8::/32", "203.0.113.0/24"];
    assert_eq!(sorted_ips(&created["allowed_ips"]), expected);
    let id = str_at(&created, "/id");
    let listed = api.listed_key(&account.token, id).await;
    assert_eq!(sorted_ips(&listed["allowed_ips"]), expected);

    let key = str_at(&created, "/key");
    for inside in ["10.1.2.3", "203.0.113.200", "2001:db8:ffff::1"] {
        api.from_address(inside)
            .list_messages(key, &[])
            .await
            .data(200);
    }
    for outside in ["10.1.2.4", "203.0.114.1", "2001:db9::1"] {
        assert_ip_not_allowed(&api.from_address(outside).list_messages(key, &[]).await);
    }

    // A PATCH normalises the same way.
    let patched = api
        .update_key(
            &account.token,
            id,
            &json!({"allowed_ips": ["198.51.100.9/16", "2001:0DB8:0000::5/48"]}),
        )
        .await
        .data(200);
    assert_eq!(
        sorted_ips(&patched["allowed_ips"]),
        ["198.51.0.0/16", "2001:db8::/48"]
    );
    let listed = api.listed_key(&account.token, id).await;
    assert_eq!(listed["allowed_ips"], patched["allowed_ips"]);
}

#[tokio::test]
async fn a_refusal_from_outside_the_blocks_counts_as_denied_and_uses_none_of_the_keys_window() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(
            &account.token,
            &json!({"allowed_ips": [block_16(&api.source_ip)]}),
        )
        .await;
    let (id, key) = (str_at(&created, "/id"), str_at(&created, "/key"));

    let first = api.list_messages(key, &[]).await;
    first.data(200);
    let before = first.rate_limit();
    let outsider = outside_its_16(&api);
    for _ in 0..2 {
        assert_ip_not_allowed(&outsider.list_messages(key, &[]).await);
    }
    assert_ip_not_allowed(&outsider.send_message(key, &sms("from outside")).await);
    let second = api.list_messages(key, &[]).await;
    second.data(200);
    let after = second.rate_limit();
    if after.reset == before.reset {
        assert_eq!(
            after.remaining + 1,
            before.remaining,
            "only the caller's own request used the window, not the three refusals: \
             {before:?} then {after:?}"
        );
    } else {
        assert_eq!(after.remaining + 1, after.limit, "a new window: {after:?}");
    }

    let usage = api
        .key_usage(&account.token, id, &[("granularity", "hour")])
        .await
        .data(200);
    assert_eq!(total(&usage, "denied"), 3, "{usage}");
    assert_eq!(total(&usage, "requests"), 5, "{usage}");
    assert_eq!(total(&usage, "rate_limited"), 0, "{usage}");
}

// ---- validation -----------------------------------------------------------------------------

#[tokio::test]
async fn each_invalid_setting_on_create_is_a_400_naming_the_field_and_creates_nothing() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for (settings, field) in invalid_settings() {
        let mut body = json!({"name": "bad settings"});
        for (name, value) in settings.as_object().expect("an object") {
            body[name] = value.clone();
        }
        let reply = api.create_key_with(&account.token, &body).await;
        assert_invalid(&reply, &field);
    }
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"], json!([]), "no key was created");
    let created = api
        .audit_events(&account.token, &[("type", "api_key.created")])
        .await
        .data(200);
    assert_eq!(created["events"], json!([]));
}

#[tokio::test]
async fn each_invalid_value_in_a_patch_is_a_400_naming_the_field_and_changes_nothing() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(
            &account.token,
            &json!({
                "rate_limit_per_minute": 7, "allowed_ips": ["192.0.2.0/24"],
                "metadata": {"team": "growth"}, "monthly_send_limit": 40,
            }),
        )
        .await;
    let id = str_at(&created, "/id");
    let before = api.listed_key(&account.token, id).await;

    let mut cases = invalid_settings();
    for (body, field) in [
        (json!({"name": null}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"scopes": null}), "scopes"),
        (json!({"scopes": []}), "scopes"),
        (json!({"scopes": ["admin"]}), "scopes"),
        // A valid change beside an invalid one is not made either.
        (
            json!({"name": "renamed", "monthly_send_limit": 0}),
            "monthly_send_limit",
        ),
        (
            json!({"rate_limit_per_minute": 2, "allowed_ips": ["nope"]}),
            "allowed_ips[0]",
        ),
    ] {
        cases.push((body, field.to_owned()));
    }
    for (body, field) in cases {
        let reply = api.update_key(&account.token, id, &body).await;
        assert_invalid(&reply, &field);
    }
    assert_eq!(api.listed_key(&account.token, id).await, before);
    assert_eq!(
        updated_events(&api, &account.token).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn settings_at_their_limits_are_accepted_and_shown_as_given() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let twenty_ips: Vec<String> = (0..20).map(|i| format!("192.0.2.{i}/32")).collect();
    let twenty_entries: Map<String, Value> =
        (0..20).map(|i| (format!("k{i:02}"), json!("v"))).collect();
    for settings in [
        json!({"rate_limit_per_minute": 1, "monthly_send_limit": 1}),
        json!({"monthly_send_limit": 10_000_000}),
        json!({"allowed_ips": twenty_ips}),
        json!({"allowed_ips": ["0.0.0.0/0", "::/0"]}),
        json!({"metadata": Value::Object(twenty_entries)}),
        json!({"metadata": {"k".repeat(40): "forty-character key"}}),
        json!({"metadata": {"Team_1.env-x": "x".repeat(500)}}),
        json!({"metadata": {"accents": "\u{e9}".repeat(500)}}),
        json!({"metadata": metadata_of_json_size(2048)}),
    ] {
        let created = api
            .create_key_with_settings(&account.token, &settings)
            .await;
        let listed = api
            .listed_key(&account.token, str_at(&created, "/id"))
            .await;
        for (field, value) in settings.as_object().expect("an object") {
            for (view, which) in [(&created, "create"), (&listed, "list")] {
                if field == "allowed_ips" {
                    assert_eq!(sorted_ips(&view[field]), sorted_ips(value), "{which} view");
                } else {
                    assert_eq!(&view[field], value, "{field} in the {which} view");
                }
            }
        }
    }
}

// ---- metadata -------------------------------------------------------------------------------

#[tokio::test]
async fn metadata_is_shown_in_every_view_and_a_patch_replaces_or_clears_it() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let metadata = json!({"team": "growth", "environment": "staging", "service": "checkout-v2"});
    let created = api
        .create_key_with_settings(&account.token, &json!({"metadata": metadata}))
        .await;
    assert_eq!(created["metadata"], metadata);
    let id = str_at(&created, "/id");
    assert_eq!(
        api.listed_key(&account.token, id).await["metadata"],
        metadata
    );

    // A PATCH of another field leaves it (and every other setting) as it was.
    let patched = api
        .update_key(&account.token, id, &json!({"rate_limit_per_minute": 7}))
        .await
        .data(200);
    assert_eq!(patched["metadata"], metadata);
    assert_eq!(patched["rate_limit_per_minute"], json!(7));
    for field in ["name", "scopes", "allowed_ips", "monthly_send_limit"] {
        assert_eq!(patched[field], created[field], "{field}");
    }

    // A PATCH of metadata sets the whole object.
    let replacement = json!({"team": "payments"});
    let patched = api
        .update_key(&account.token, id, &json!({"metadata": replacement}))
        .await
        .data(200);
    assert_eq!(patched["metadata"], replacement);
    assert_eq!(patched["rate_limit_per_minute"], json!(7));
    assert_eq!(
        api.listed_key(&account.token, id).await["metadata"],
        replacement
    );

    // A rotation's new key shows it too.
    let rotated = api.rotate_key(&account.token, id, None).await.data(201);
    assert_eq!(rotated["metadata"], replacement);
    let new_id = str_at(&rotated, "/id");
    assert_eq!(
        api.listed_key(&account.token, new_id).await["metadata"],
        replacement
    );

    let cleared = api
        .update_key(&account.token, new_id, &json!({"metadata": null}))
        .await
        .data(200);
    assert_eq!(cleared["metadata"], Value::Null);
    assert_eq!(
        api.listed_key(&account.token, new_id).await["metadata"],
        Value::Null
    );
}

// ---- the monthly limit ----------------------------------------------------------------------

#[tokio::test]
async fn a_monthly_limit_and_every_setting_carry_over_a_rotation_and_the_count_continues() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let old = api
        .create_key_with_settings(
            &account.token,
            &json!({
                "scopes": ALL_SCOPES,
                "rate_limit_per_minute": 20,
                "allowed_ips": [block_16(&api.source_ip), "2001:db8::/32"],
                "metadata": {"team": "growth", "environment": "staging"},
                "monthly_send_limit": 3,
            }),
        )
        .await;
    assert_eq!(old["monthly_send_limit"], json!(3));
    let (old_id, old_key) = (str_at(&old, "/id"), str_at(&old, "/key"));

    let first = api.send_message(old_key, &sms("1 of 3")).await;
    first.data(201);
    assert_eq!(first.quota(), Some((3, 2)));
    // Reads carry no quota headers and do not count.
    let read = api.list_messages(old_key, &[]).await;
    read.data(200);
    assert_no_quota_headers(&read);
    let second = api.send_message(old_key, &sms("2 of 3")).await;
    second.data(201);
    assert_eq!(second.quota(), Some((3, 1)));

    let new = api
        .rotate_key(&account.token, old_id, Some(&json!({"overlap_seconds": 0})))
        .await
        .data(201);
    let listed = api.listed_key(&account.token, str_at(&new, "/id")).await;
    for field in CARRIED_FIELDS {
        assert_eq!(new[field], old[field], "{field} in the rotation's view");
        assert_eq!(
            listed[field], old[field],
            "{field} in the new key's list view"
        );
    }
    let new_key = str_at(&new, "/key");

    // The new key continues the old key's count: one send left, not three.
    let third = api.send_message(new_key, &sms("3 of 3")).await;
    third.data(201);
    assert_eq!(third.quota(), Some((3, 0)));
    let sent = message_ids(&api, new_key).await;
    assert_eq!(sent.len(), 3);

    let refused = api.send_message(new_key, &sms("4 of 3")).await;
    assert_quota_exceeded(&refused, 3);
    assert_eq!(
        message_ids(&api, new_key).await,
        sent,
        "a refused send created no message"
    );
    // Reads still work past the monthly limit, without quota headers.
    let read = api.list_messages(new_key, &[("limit", "1")]).await;
    read.data(200);
    assert_no_quota_headers(&read);
    let got = api.get_message(new_key, &sent[0]).await;
    got.data(200);
    assert_no_quota_headers(&got);
}

#[tokio::test]
async fn idempotent_replays_and_reads_do_not_use_the_monthly_limit() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(&account.token, &json!({"monthly_send_limit": 2}))
        .await;
    let key = str_at(&created, "/key");
    let idempotent = |text: &str, idempotency_key: &str| {
        api.request(Method::POST, "/api/v1/messages/send")
            .header("X-API-Key", key)
            .header("Idempotency-Key", idempotency_key)
            .json(&sms(text))
    };

    let idempotency_key = Uuid::new_v4().to_string();
    let first = api.send(idempotent("once", &idempotency_key)).await;
    let message = first.data(201);
    assert_eq!(first.quota(), Some((2, 1)));
    let replay = api.send(idempotent("once", &idempotency_key)).await;
    assert_eq!(
        replay.data(201)["id"],
        message["id"],
        "the replay is the same message"
    );
    assert_eq!(
        replay.quota(),
        Some((2, 1)),
        "a replay does not count twice"
    );
    for _ in 0..3 {
        let read = api.list_messages(key, &[]).await;
        read.data(200);
        assert_no_quota_headers(&read);
    }

    let second = api.send_message(key, &sms("twice")).await;
    second.data(201);
    assert_eq!(second.quota(), Some((2, 0)));
    assert_quota_exceeded(&api.send_message(key, &sms("thrice")).await, 2);
    assert_eq!(message_ids(&api, key).await.len(), 2);

    // A send the API refuses as invalid also shows the key's quota.
    let other = api
        .create_key_with_settings(&account.token, &json!({"monthly_send_limit": 5}))
        .await;
    let invalid = api
        .send_message(
            str_at(&other, "/key"),
            &json!({"to": "nope", "channel": "sms", "content": {"text": "x"}}),
        )
        .await;
    assert_error(&invalid, 400, "validation_error");
    let (limit, remaining) = invalid
        .quota()
        .unwrap_or_else(|| panic!("a 400 send of a key with a monthly limit carries X-Quota-*"));
    assert_eq!(limit, 5);
    assert!(remaining <= 5);
}

// ---- PATCH takes effect on the very next request --------------------------------------------

#[tokio::test]
async fn a_patched_rate_limit_shows_and_applies_on_the_very_next_request() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api.create_key(&account.token, None).await;
    let (id, key) = (str_at(&created, "/id"), str_at(&created, "/key"));
    let first = api.list_messages(key, &[]).await;
    first.data(200);
    let default = first.rate_limit().limit;
    assert_eq!(created["rate_limit_per_minute"], json!(default));

    let patched = api
        .update_key(&account.token, id, &json!({"rate_limit_per_minute": 2}))
        .await
        .data(200);
    assert_eq!(patched["rate_limit_per_minute"], json!(2));
    assert_eq!(
        api.listed_key(&account.token, id).await["rate_limit_per_minute"],
        json!(2)
    );
    // The very next request shows the new limit, and within a few the key is refused at it.
    let mut seen = Vec::new();
    loop {
        let reply = api.list_messages(key, &[("limit", "1")]).await;
        let rate = reply.plausible_rate_limit();
        assert_eq!(
            rate.limit, 2,
            "{}: X-RateLimit-Limit after the PATCH",
            reply.what
        );
        seen.push((reply.status.as_u16(), rate));
        match reply.status.as_u16() {
            200 => {}
            429 => {
                assert_error(&reply, 429, "rate_limited");
                break;
            }
            other => panic!("{}: unexpected {other}: {}", reply.what, reply.text),
        }
        assert!(seen.len() < 6, "no 429 at a limit of 2: {seen:?}");
    }

    // null puts the default back, at once.
    let reset = api
        .update_key(&account.token, id, &json!({"rate_limit_per_minute": null}))
        .await
        .data(200);
    assert_eq!(reset["rate_limit_per_minute"], json!(default));
    let reply = api.list_messages(key, &[("limit", "1")]).await;
    assert_eq!(reply.rate_limit().limit, default);
    if reply.status.as_u16() != 200 {
        assert_error(&reply, 429, "rate_limited");
    }
}

#[tokio::test]
async fn a_patched_address_restriction_applies_on_the_very_next_request_and_null_lifts_it() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api.create_key(&account.token, None).await;
    let (id, key) = (str_at(&created, "/id"), str_at(&created, "/key"));
    api.list_messages(key, &[]).await.data(200);

    let excluded = api
        .update_key(
            &account.token,
            id,
            &json!({"allowed_ips": ["192.0.2.7/24"]}),
        )
        .await
        .data(200);
    assert_eq!(excluded["allowed_ips"], json!(["192.0.2.0/24"]));
    assert_ip_not_allowed(&api.list_messages(key, &[]).await);
    assert_ip_not_allowed(&api.send_message(key, &sms("excluded")).await);

    let included = api
        .update_key(
            &account.token,
            id,
            &json!({"allowed_ips": [block_16(&api.source_ip)]}),
        )
        .await
        .data(200);
    assert_eq!(included["allowed_ips"], json!([block_16(&api.source_ip)]));
    api.send_sms(key, "included again").await;
    let outsider = outside_its_16(&api);
    assert_ip_not_allowed(&outsider.list_messages(key, &[]).await);

    let lifted = api
        .update_key(&account.token, id, &json!({"allowed_ips": null}))
        .await
        .data(200);
    assert_eq!(lifted["allowed_ips"], Value::Null);
    assert_eq!(
        api.listed_key(&account.token, id).await["allowed_ips"],
        Value::Null
    );
    outsider.list_messages(key, &[]).await.data(200);
    api.list_messages(key, &[]).await.data(200);
}

#[tokio::test]
async fn patched_scopes_and_name_apply_on_the_very_next_request() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api.create_key(&account.token, None).await;
    let (id, key) = (str_at(&created, "/id"), str_at(&created, "/key"));
    let message = api.send_sms(key, "with both scopes").await;

    let read_only = api
        .update_key(&account.token, id, &json!({"scopes": ["read_messages"]}))
        .await
        .data(200);
    assert_eq!(read_only["scopes"], json!(["read_messages"]));
    assert_error(
        &api.send_message(key, &sms("no longer allowed")).await,
        403,
        "insufficient_scope",
    );
    api.get_message(key, str_at(&message, "/id"))
        .await
        .data(200);

    let send_only = api
        .update_key(
            &account.token,
            id,
            &json!({"scopes": ["send_messages"], "name": "Renamed in place"}),
        )
        .await
        .data(200);
    assert_eq!(send_only["scopes"], json!(["send_messages"]));
    assert_eq!(send_only["name"], json!("Renamed in place"));
    assert_error(
        &api.list_messages(key, &[]).await,
        403,
        "insufficient_scope",
    );
    api.send_sms(key, "allowed again").await;
    let listed = api.listed_key(&account.token, id).await;
    assert_eq!(listed["name"], json!("Renamed in place"));
    assert_eq!(listed["scopes"], json!(["send_messages"]));
    // Edited in place: the same key, id and prefix, still active.
    assert_eq!(listed["key_prefix"], created["key_prefix"]);
    assert_eq!(listed["status"], json!("active"));
    assert_eq!(listed["replaced_by"], Value::Null);
}

#[tokio::test]
async fn a_lowered_monthly_limit_refuses_the_next_send_and_clearing_it_lifts_the_refusal() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(&account.token, &json!({"monthly_send_limit": 10}))
        .await;
    let (id, key) = (str_at(&created, "/id"), str_at(&created, "/key"));
    for remaining in [9, 8] {
        let sent = api.send_message(key, &sms("counted")).await;
        sent.data(201);
        assert_eq!(sent.quota(), Some((10, remaining)));
    }

    // Lowered to what was already sent: the next send is refused (the count is kept).
    let lowered = api
        .update_key(&account.token, id, &json!({"monthly_send_limit": 2}))
        .await
        .data(200);
    assert_eq!(lowered["monthly_send_limit"], json!(2));
    assert_quota_exceeded(&api.send_message(key, &sms("over")).await, 2);

    let cleared = api
        .update_key(&account.token, id, &json!({"monthly_send_limit": null}))
        .await
        .data(200);
    assert_eq!(cleared["monthly_send_limit"], Value::Null);
    api.send_sms(key, "no monthly limit").await;
    assert_eq!(message_ids(&api, key).await.len(), 3);
}

// ---- the audit event ------------------------------------------------------------------------

#[tokio::test]
async fn a_patch_records_api_key_updated_with_old_and_new_of_each_changed_field_only() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api.create_key(&account.token, None).await;
    let id = str_at(&created, "/id");
    let name = created["name"].clone();
    let default = created["rate_limit_per_minute"].clone();
    assert!(default.is_u64(), "the limit in force: {created}");

    // The name is sent unchanged: it is no change.
    api.update_key(
        &account.token,
        id,
        &json!({
            "name": name, "rate_limit_per_minute": 5, "allowed_ips": ["10.1.2.3/8"],
            "metadata": {"team": "growth"},
        }),
    )
    .await
    .data(200);
    let first = json!({"changes": {
        "rate_limit_per_minute": {"old": default, "new": 5},
        "allowed_ips": {"old": null, "new": ["10.0.0.0/8"]},
        "metadata": {"old": null, "new": {"team": "growth"}},
    }});
    let events = updated_events(&api, &account.token).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["type"], json!("api_key.updated"));
    assert_uuid(&event["id"], "event id");
    assert_recent_timestamp(&event["occurred_at"], "occurred_at");
    assert_eq!(
        event["actor"],
        json!({"type": "user", "id": account.user_id})
    );
    assert_eq!(event["target"]["type"], json!("api_key"));
    assert_eq!(event["target"]["id"], json!(id));
    assert_eq!(event["target"]["key_prefix"], created["key_prefix"]);
    assert_eq!(event["details"], first);

    // null back to the default, and allowed_ips sent as it already is (no change).
    api.update_key(
        &account.token,
        id,
        &json!({
            "scopes": ["read_messages"], "monthly_send_limit": 100,
            "rate_limit_per_minute": null, "allowed_ips": ["10.0.0.0/8"],
        }),
    )
    .await
    .data(200);
    api.update_key(
        &account.token,
        id,
        &json!({"name": "Renamed", "metadata": null}),
    )
    .await
    .data(200);
    let second = json!({"changes": {
        "scopes": {"old": ALL_SCOPES, "new": ["read_messages"]},
        "monthly_send_limit": {"old": null, "new": 100},
        "rate_limit_per_minute": {"old": 5, "new": default},
    }});
    let third = json!({"changes": {
        "name": {"old": name, "new": "Renamed"},
        "metadata": {"old": {"team": "growth"}, "new": null},
    }});
    let events = updated_events(&api, &account.token).await;
    let details: Vec<&Value> = events.iter().map(|e| &e["details"]).collect();
    assert_eq!(details, [&third, &second, &first], "newest first");
    assert!(events.iter().all(|e| e["target"]["id"] == id));

    // In the whole trail, after the key's creation; never holding the key.
    let trail = api.audit_events(&account.token, &[]).await.data(200);
    let types: Vec<&str> = strs_in(&trail, "events", "/type");
    assert_eq!(
        &types[..4],
        [
            "api_key.updated",
            "api_key.updated",
            "api_key.updated",
            "api_key.created"
        ]
    );
    assert!(!trail.to_string().contains(&str_at(&created, "/key")[4..]));
}

// ---- 409, 404, 401, 400 ---------------------------------------------------------------------

#[tokio::test]
async fn a_patch_of_a_deactivated_replaced_or_expired_key_is_409_key_not_editable() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let change = json!({"name": "edited", "rate_limit_per_minute": 4});

    let deactivated = api.create_key(&account.token, None).await;
    let deactivated_id = str_at(&deactivated, "/id");
    api.deactivate_key(&account.token, deactivated_id)
        .await
        .data(200);

    // Replaced, still in its overlap (a day by default): edit the new key instead.
    let replaced = api.create_key(&account.token, None).await;
    let replaced_id = str_at(&replaced, "/id");
    let successor = api
        .rotate_key(&account.token, replaced_id, None)
        .await
        .data(201);

    // Replaced with no overlap: expired at once.
    let expired = api.create_key(&account.token, None).await;
    let expired_id = str_at(&expired, "/id");
    api.rotate_key(
        &account.token,
        expired_id,
        Some(&json!({"overlap_seconds": 0})),
    )
    .await
    .data(201);

    for id in [deactivated_id, replaced_id, expired_id] {
        let before = api.listed_key(&account.token, id).await;
        assert_error(
            &api.update_key(&account.token, id, &change).await,
            409,
            "key_not_editable",
        );
        assert_settings_unchanged(&before, &api.listed_key(&account.token, id).await);
    }
    assert_eq!(
        updated_events(&api, &account.token).await,
        Vec::<Value>::new()
    );

    let successor_id = str_at(&successor, "/id");
    let edited = api
        .update_key(&account.token, successor_id, &change)
        .await
        .data(200);
    assert_eq!(edited["name"], json!("edited"));
    let events = updated_events(&api, &account.token).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["target"]["id"], json!(successor_id));
}

#[tokio::test]
async fn a_patch_of_another_workspaces_or_an_unknown_key_is_404_and_changes_nothing() {
    let api = TestApi::from_env();
    let (owner, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id");
    let before = api.listed_key(&owner.token, id).await;
    let stranger = api.register_workspace().await;
    let change = json!({"scopes": ["read_messages"], "allowed_ips": ["192.0.2.0/24"]});

    let foreign = api.update_key(&stranger.token, id, &change).await;
    assert_error(&foreign, 404, "not_found");
    let unknown = api
        .update_key(&stranger.token, &Uuid::new_v4().to_string(), &change)
        .await;
    assert_error(&unknown, 404, "not_found");
    assert_eq!(
        foreign.text, unknown.text,
        "a foreign key looks exactly unknown"
    );
    assert_error(
        &api.update_key(&stranger.token, "not-a-uuid", &change).await,
        404,
        "not_found",
    );
    assert_error(
        &api.update_key(&owner.token, &Uuid::new_v4().to_string(), &change)
            .await,
        404,
        "not_found",
    );

    assert_eq!(api.listed_key(&owner.token, id).await, before);
    api.send_sms(str_at(&key, "/key"), "still mine, unchanged")
        .await;
    assert_eq!(
        updated_events(&api, &owner.token).await,
        Vec::<Value>::new()
    );
    assert_eq!(
        updated_events(&api, &stranger.token).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn patching_a_key_needs_the_owners_token_and_an_api_key_gets_401() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let (id, secret) = (str_at(&key, "/id"), str_at(&key, "/key"));
    let before = api.listed_key(&account.token, id).await;
    let path = format!("/api/v1/api-keys/{id}");
    let widen = json!({"rate_limit_per_minute": 1, "allowed_ips": null, "name": "mine now"});
    for request in [
        api.request(Method::PATCH, &path)
            .header("X-API-Key", secret)
            .json(&widen),
        api.request(Method::PATCH, &path)
            .bearer_auth(secret)
            .json(&widen),
        api.request(Method::PATCH, &path).json(&widen),
    ] {
        assert_error(&api.send(request).await, 401, "unauthorized");
    }
    assert_settings_unchanged(&before, &api.listed_key(&account.token, id).await);
    assert_eq!(
        updated_events(&api, &account.token).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn an_empty_unknown_or_malformed_patch_is_a_400_that_changes_nothing() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let created = api
        .create_key_with_settings(
            &account.token,
            &json!({"rate_limit_per_minute": 6, "metadata": {"team": "growth"}}),
        )
        .await;
    let id = str_at(&created, "/id");
    let before = api.listed_key(&account.token, id).await;
    for field in POLICY_FIELDS {
        assert_eq!(
            before[field], created[field],
            "{field}: list and create views agree"
        );
    }

    assert_invalid(
        &api.update_key(&account.token, id, &json!({})).await,
        "body",
    );
    assert_invalid(
        &api.update_key(&account.token, id, &json!({"x": 1})).await,
        "x",
    );
    assert_invalid(
        &api.update_key(
            &account.token,
            id,
            &json!({"name": "renamed", "colour": "red"}),
        )
        .await,
        "colour",
    );
    // Not editable in place.
    assert_invalid(
        &api.update_key(
            &account.token,
            id,
            &json!({"expires_at": "2030-01-01T00:00:00Z"}),
        )
        .await,
        "expires_at",
    );
    let malformed = api
        .send(
            api.request(Method::PATCH, &format!("/api/v1/api-keys/{id}"))
                .bearer_auth(&account.token)
                .header("Content-Type", "application/json")
                .body("{\"name\": \"unterminated"),
        )
        .await;
    assert_error(&malformed, 400, "invalid_json");

    assert_eq!(api.listed_key(&account.token, id).await, before);
    assert_eq!(
        updated_events(&api, &account.token).await,
        Vec::<Value>::new()
    );
}
