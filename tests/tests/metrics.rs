//! The metrics the functions write as CloudWatch EMF lines, read from the local stack's own
//! log: one line per request and function, the right dimensions with values from fixed sets,
//! ids only as properties, and never a key, a token or a password. Each test calls from an
//! address of its own, so its lines are found by `source_ip`.

use reqwest::Method;
use serde_json::Value;
use yebolink_blackbox::*;

/// The dimension set of each metric in `line`, as CloudWatch reads it from `_aws`.
fn metrics_of(line: &Value) -> Vec<(String, Vec<String>)> {
    let directives = line["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap_or_else(|| panic!("no _aws.CloudWatchMetrics: {line}"));
    directives
        .iter()
        .map(|directive| {
            assert_eq!(directive["Namespace"], "YeboLink", "{line}");
            let name = str_at(directive, "/Metrics/0/Name").to_owned();
            let sets = directive["Dimensions"].as_array().unwrap();
            assert_eq!(sets.len(), 1, "one dimension set per metric: {line}");
            let dims = sets[0].as_array().unwrap();
            (
                name,
                dims.iter()
                    .map(|d| d.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// What every metric line must be: parseable, timestamped, each metric with its documented
/// dimensions whose values are names from fixed sets, and none of the caller's secrets.
fn assert_well_formed(text: &str, line: &Value, secrets: &[&str]) {
    assert!(line["_aws"]["Timestamp"].as_u64().is_some(), "{text}");
    for (metric, dims) in metrics_of(line) {
        let expected: &[&str] = match metric.as_str() {
            "RequestCount" => &["Function", "StatusClass"],
            "Latency" => &["Function"],
            "RateLimited" => &["Limit"],
            "AuthorizerDecision" => &["Outcome"],
            "WebhookAttempt" => &["Delivery"],
            "WebhookAttemptDuration" => &["Function"],
            other => panic!("unexpected metric {other}: {text}"),
        };
        assert_eq!(dims, expected, "{metric}: {text}");
        assert!(line[&metric].is_number(), "{metric} has no value: {text}");
    }
    let fixed = |name: &str, values: &[&str]| {
        if let Some(value) = line.get(name) {
            assert!(values.contains(&value.as_str().unwrap()), "{name}: {text}");
        }
    };
    fixed("StatusClass", &["2xx", "4xx", "5xx"]);
    fixed("Limit", &["key", "workspace", "source", "quota"]);
    let outcomes = [
        "allow",
        "invalid_key",
        "expired",
        "deactivated",
        "ip_not_allowed",
        "jwt_invalid",
        "error",
    ];
    fixed("Outcome", &outcomes);
    fixed("Delivery", &["succeeded", "retrying", "failed"]);
    let function = str_at(line, "/Function");
    assert!(
        !function.is_empty() && function.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
        "Function is a function's name: {text}"
    );
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a metric line carries a secret: {text}"
        );
    }
}

/// The lines of `function` for requests from `api`'s address.
async fn lines_of(api: &TestApi, function: &str, at_least: usize) -> Vec<(String, Value)> {
    let (source, function) = (api.source_ip.clone(), function.to_owned());
    metric_lines(at_least, move |line| {
        line["source_ip"] == source.as_str() && line["Function"] == function.as_str()
    })
    .await
}

#[tokio::test]
async fn an_allowed_request_writes_one_line_with_its_function_status_and_decision() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    api.send_message(secret, &sms("metered")).await.data(201);

    let lines = lines_of(&api, "send-message", 1).await;
    assert_eq!(
        lines.len(),
        1,
        "one line per request and function: {lines:?}"
    );
    let (text, line) = &lines[0];
    assert_well_formed(text, line, &[secret, &account.token, &account.password]);
    assert_eq!(line["StatusClass"], "2xx");
    assert_eq!(line["status"], 201);
    assert_eq!(line["RequestCount"], 1);
    assert!(line["Latency"].as_f64().unwrap() > 0.0, "{text}");
    assert_eq!(
        line["Outcome"], "allow",
        "inline, the decision is the function's"
    );
    assert_eq!(line["key_id"], str_at(&key, "/id"), "ids are properties");
    assert_eq!(line["workspace_id"], account.workspace_id.as_str());
    assert!(line.get("RateLimited").is_none(), "{text}");

    // The owner's own requests: a JWT decision, with the user's id.
    let (text, created) = &lines_of(&api, "create-api-key", 1).await[0];
    assert_well_formed(text, created, &[secret, &account.token, &account.password]);
    assert_eq!(created["Outcome"], "allow");
    assert_eq!(created["user_id"], account.user_id.as_str());
    let (text, registered) = &lines_of(&api, "register", 1).await[0];
    assert_well_formed(text, registered, &[&account.token, &account.password]);
    assert!(
        registered.get("Outcome").is_none(),
        "register decides nothing: {text}"
    );
}

#[tokio::test]
async fn a_refused_credential_is_counted_by_why_it_was_refused() {
    let owner = TestApi::from_env();
    let account = owner.register_workspace().await;
    let deactivated = owner.create_key(&account.token, None).await;
    let rotated = owner.create_key(&account.token, None).await;
    owner
        .deactivate_key(&account.token, str_at(&deactivated, "/id"))
        .await
        .data(200);
    let body = serde_json::json!({"overlap_seconds": 0});
    owner
        .rotate_key(&account.token, str_at(&rotated, "/id"), Some(&body))
        .await
        .data(201);
    let unknown = well_formed_unknown_key();

    for (key, outcome) in [
        (str_at(&deactivated, "/key"), "deactivated"),
        (str_at(&rotated, "/key"), "expired"),
        (unknown.as_str(), "invalid_key"),
        ("ybk_garbage", "invalid_key"),
    ] {
        let caller = owner.from_another_address();
        assert_invalid_api_key(&caller.send_message(key, &sms("refused")).await);
        let lines = lines_of(&caller, "send-message", 1).await;
        assert_eq!(lines.len(), 1, "{outcome}: {lines:?}");
        let (text, line) = &lines[0];
        assert_well_formed(text, line, &[key, &account.token, &account.password]);
        assert_eq!(line["Outcome"], outcome, "{text}");
        assert_eq!(line["StatusClass"], "4xx");
        assert!(
            line.get("key_id").is_none(),
            "no id for a refused key: {text}"
        );
    }

    let caller = owner.from_another_address();
    let reply = caller
        .send(
            caller
                .request(Method::GET, "/api/v1/api-keys")
                .bearer_auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.bm90LWEtc2lnbmF0dXJl"),
        )
        .await;
    assert_error(&reply, 401, "unauthorized");
    let (text, line) = &lines_of(&caller, "list-api-keys", 1).await[0];
    assert_well_formed(text, line, &[&account.token]);
    assert_eq!(line["Outcome"], "jwt_invalid", "{text}");
}

#[tokio::test]
async fn a_rate_limited_request_names_the_limit_that_refused_it() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    let limit = api
        .list_messages(secret, &[("limit", "1")])
        .await
        .plausible_rate_limit()
        .limit;
    let mut refused = None;
    for _ in 0..=limit {
        let reply = api.list_messages(secret, &[("limit", "1")]).await;
        if reply.status == 429 {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("past the key's limit, a 429");
    assert_error(&refused, 429, "rate_limited");

    let lines = lines_of(&api, "list-messages", 2).await;
    let limited: Vec<_> = lines.iter().filter(|(_, l)| l["status"] == 429).collect();
    assert!(!limited.is_empty(), "the 429's line: {lines:?}");
    for (text, line) in &limited {
        assert_well_formed(text, line, &[secret, &account.token, &account.password]);
        assert_eq!(line["Limit"], "key", "{text}");
        assert_eq!(line["RateLimited"], 1);
        assert_eq!(line["StatusClass"], "4xx");
        assert_eq!(
            line["Outcome"], "allow",
            "the key was valid; its window refused it"
        );
    }
    let admitted = lines.iter().filter(|(_, l)| l["status"] == 200);
    for (text, line) in admitted {
        assert!(line.get("RateLimited").is_none(), "{text}");
    }
}

/// Issue 25's refusals: a key used from outside its addresses is a decision of its own, and a
/// spent monthly limit is a 429 of the `quota` limit.
#[tokio::test]
async fn an_address_refusal_and_a_spent_monthly_limit_are_named_in_their_lines() {
    let owner = TestApi::from_env();
    let account = owner.register_workspace().await;
    // A block of this test's own (10.a.b.0/24), so no other test's lines are found by address.
    let address = random_source_ip();
    let block = format!("{}.0/24", address.rsplit_once('.').unwrap().0);
    let settings = serde_json::json!({"allowed_ips": [block], "monthly_send_limit": 1});
    let key = owner
        .create_key_with_settings(&account.token, &settings)
        .await;
    let secret = str_at(&key, "/key");

    let outside = owner.from_another_address();
    let reply = outside.send_message(secret, &sms("from elsewhere")).await;
    assert_error(&reply, 403, "ip_not_allowed");
    let (text, line) = &lines_of(&outside, "send-message", 1).await[0];
    assert_well_formed(text, line, &[secret, &account.token, &account.password]);
    assert_eq!(line["Outcome"], "ip_not_allowed", "{text}");
    assert_eq!(
        line["key_id"],
        str_at(&key, "/id"),
        "the key is known, only refused"
    );

    let inside = owner.from_address(&address);
    inside.send_message(secret, &sms("the one")).await.data(201);
    let reply = inside.send_message(secret, &sms("one too many")).await;
    assert_error(&reply, 429, "quota_exceeded");
    let lines = lines_of(&inside, "send-message", 2).await;
    let refused: Vec<_> = lines.iter().filter(|(_, l)| l["status"] == 429).collect();
    assert_eq!(refused.len(), 1, "{lines:?}");
    let (text, line) = refused[0];
    assert_well_formed(text, line, &[secret, &account.token, &account.password]);
    assert_eq!(
        (line["Limit"].as_str(), line["RateLimited"].as_u64()),
        (Some("quota"), Some(1))
    );
}

#[tokio::test]
async fn every_metric_line_of_the_stack_is_well_formed() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    api.send_message(str_at(&key, "/key"), &sms("x"))
        .await
        .data(201);
    let lines = metric_lines(1, |_| true).await;
    assert!(!lines.is_empty());
    for (text, line) in &lines {
        assert_well_formed(
            text,
            line,
            &[str_at(&key, "/key"), &account.token, PASSWORD],
        );
    }
}
