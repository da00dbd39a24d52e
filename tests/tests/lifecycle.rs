//! The key lifecycle past create and deactivate: expiry, rotation with an overlap, and the audit
//! trail that records every change, as a client sees them over HTTP.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;
use yebolink_blackbox::*;

fn rfc3339_in(seconds: i64) -> String {
    let at = now_unix() as i64 + seconds;
    time_fmt(at)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, no date crate needed).
fn time_fmt(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn key_in<'a>(listed: &'a Value, id: &str) -> &'a Value {
    listed["api_keys"]
        .as_array()
        .expect("api_keys is an array")
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("key {id} not listed: {listed}"))
}

fn event_types(data: &Value) -> Vec<String> {
    data["events"]
        .as_array()
        .expect("events is an array")
        .iter()
        .map(|e| str_at(e, "/type").to_owned())
        .collect()
}

// ---- expiry ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_created_with_expires_at_shows_it_in_every_view() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let expires_at = rfc3339_in(3600);
    let created = api
        .create_key_with(
            &account.token,
            &json!({"name": "Quarterly CI key", "expires_at": expires_at}),
        )
        .await
        .data(201);
    assert_eq!(created["expires_at"], json!(expires_at));
    assert_eq!(created["status"], "active");
    assert!(api.key_works(str_at(&created, "/key")).await);

    let listed = api.list_keys(&account.token).await.data(200);
    let shown = key_in(&listed, str_at(&created, "/id"));
    assert_eq!(shown["expires_at"], json!(expires_at));
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["is_active"], true);

    let forever = api.create_key(&account.token, None).await;
    assert_eq!(forever["expires_at"], Value::Null);
}

#[tokio::test]
async fn an_expiry_outside_a_minute_to_two_years_is_refused_naming_the_field_and_creates_nothing() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for expires_at in [
        json!(rfc3339_in(10)),
        json!(rfc3339_in(-86_400)),
        json!(rfc3339_in(3 * 365 * 86_400)),
        json!("next Tuesday"),
        json!("2030-01-01"),
        json!(1_900_000_000),
    ] {
        let reply = api
            .create_key_with(
                &account.token,
                &json!({"name": "k", "expires_at": expires_at}),
            )
            .await;
        assert_validation_error(&reply, &["expires_at"]);
    }
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"], json!([]));
}

// ---- rotation -------------------------------------------------------------------------------

#[tokio::test]
async fn after_rotation_both_keys_work_during_the_overlap_then_only_the_new_one() {
    let api = TestApi::from_env();
    let (account, old) = api.account_with_key(None).await;
    let (old_id, old_key) = (str_at(&old, "/id"), str_at(&old, "/key"));

    let reply = api
        .rotate_key(&account.token, old_id, Some(&json!({"overlap_seconds": 3})))
        .await;
    let new = reply.data(201);
    let new_key = str_at(&new, "/key");
    assert_key_format(new_key);
    assert_ne!(new_key, old_key);
    assert_eq!(new["rotated_from"], json!(old_id));
    assert_eq!(new["name"], old["name"]);
    assert_eq!(new["scopes"], old["scopes"]);
    assert_eq!(new["status"], "active");
    assert!(new["warning"].is_string());

    assert!(
        api.key_works(old_key).await,
        "old key refused during overlap"
    );
    assert!(api.key_works(new_key).await);

    let listed = api.list_keys(&account.token).await.data(200);
    let old_view = key_in(&listed, old_id);
    assert_eq!(old_view["replaced_by"], new["id"]);
    let overlap_end = parse_timestamp(str_at(old_view, "/expires_at"));
    let now = now_unix() as i64;
    assert!(
        (now..=now + 4).contains(&overlap_end),
        "overlap ends {overlap_end}, now {now}"
    );

    tokio::time::sleep(Duration::from_secs(
        u64::try_from(overlap_end - now + 1).unwrap_or(0),
    ))
    .await;
    assert_invalid_api_key(&api.list_messages(old_key, &[]).await);
    assert!(api.key_works(new_key).await);
    let listed = api.list_keys(&account.token).await.data(200);
    let old_view = key_in(&listed, old_id);
    assert_eq!(old_view["status"], "expired");
    assert_eq!(old_view["is_active"], false);
}

#[tokio::test]
async fn a_rotation_without_overlap_refuses_the_old_key_on_the_next_request() {
    let api = TestApi::from_env();
    let (account, old) = api.account_with_key(None).await;
    let new = api
        .rotate_key(
            &account.token,
            str_at(&old, "/id"),
            Some(&json!({"overlap_seconds": 0})),
        )
        .await
        .data(201);
    assert_invalid_api_key(&api.list_messages(str_at(&old, "/key"), &[]).await);
    assert!(api.key_works(str_at(&new, "/key")).await);
}

#[tokio::test]
async fn a_rotated_key_keeps_its_lifetime_and_the_default_overlap_is_a_day() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let old = api
        .create_key_with(
            &account.token,
            &json!({"name": "30-day key", "expires_at": rfc3339_in(30 * 86_400)}),
        )
        .await
        .data(201);
    let lifetime =
        parse_timestamp(str_at(&old, "/expires_at")) - parse_timestamp(str_at(&old, "/created_at"));
    let new = api
        .rotate_key(&account.token, str_at(&old, "/id"), None)
        .await
        .data(201);
    let new_lifetime =
        parse_timestamp(str_at(&new, "/expires_at")) - parse_timestamp(str_at(&new, "/created_at"));
    assert_eq!(new_lifetime, lifetime);

    let listed = api.list_keys(&account.token).await.data(200);
    let old_view = key_in(&listed, str_at(&old, "/id"));
    let overlap = parse_timestamp(str_at(old_view, "/expires_at")) - now_unix() as i64;
    assert!((86_390..=86_400).contains(&overlap), "overlap {overlap}");
}

#[tokio::test]
async fn replaced_deactivated_and_expired_keys_are_not_rotatable() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;

    let replaced = api.create_key(&account.token, None).await;
    let id = str_at(&replaced, "/id");
    api.rotate_key(&account.token, id, None).await.data(201);
    assert_error(
        &api.rotate_key(&account.token, id, None).await,
        409,
        "key_not_rotatable",
    );

    let deactivated = api.create_key(&account.token, None).await;
    let id = str_at(&deactivated, "/id");
    api.deactivate_key(&account.token, id).await.data(200);
    assert_error(
        &api.rotate_key(&account.token, id, None).await,
        409,
        "key_not_rotatable",
    );

    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn rotating_an_unknown_or_foreign_key_is_not_found_and_the_key_keeps_working() {
    let api = TestApi::from_env();
    let (_, theirs) = api.account_with_key(None).await;
    let stranger = api.register_workspace().await;
    for id in [
        str_at(&theirs, "/id").to_owned(),
        Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
    ] {
        assert_error(
            &api.rotate_key(&stranger.token, &id, None).await,
            404,
            "not_found",
        );
    }
    assert!(api.key_works(str_at(&theirs, "/key")).await);
}

#[tokio::test]
async fn rotation_needs_the_owners_token_and_a_valid_overlap() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let (id, secret) = (str_at(&key, "/id"), str_at(&key, "/key"));
    let with_key = api
        .send(
            api.request(
                reqwest::Method::POST,
                &format!("/api/v1/api-keys/{id}/rotate"),
            )
            .header("X-API-Key", secret),
        )
        .await;
    assert_error(&with_key, 401, "unauthorized");
    for body in [
        json!({"overlap_seconds": -1}),
        json!({"overlap_seconds": 604_801}),
        json!({"overlap_seconds": "3600"}),
        json!({"overlap_seconds": 0.5}),
    ] {
        assert_validation_error(
            &api.rotate_key(&account.token, id, Some(&body)).await,
            &["overlap_seconds"],
        );
    }
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"].as_array().unwrap().len(), 1);
    assert!(api.key_works(secret).await);
}

// ---- audit trail ----------------------------------------------------------------------------

#[tokio::test]
async fn every_change_and_login_is_in_the_trail_newest_first_with_actor_target_and_origin() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id");
    let new = api.rotate_key(&account.token, id, None).await.data(201);
    api.deactivate_key(&account.token, str_at(&new, "/id"))
        .await
        .data(200);
    assert_error(
        &api.login(&account.email, "wrong password 123").await,
        401,
        "invalid_credentials",
    );
    api.login(&account.email, &account.password).await.data(200);

    let data = api.audit_events(&account.token, &[]).await.data(200);
    assert_eq!(
        event_types(&data),
        [
            "user.login_succeeded",
            "user.login_failed",
            "api_key.deactivated",
            "api_key.rotated",
            "api_key.created",
            "user.registered"
        ]
    );
    assert_eq!(data["next_cursor"], Value::Null);
    let events = data["events"].as_array().unwrap();
    for event in events {
        assert_uuid(&event["id"], "event id");
        assert_recent_timestamp(&event["occurred_at"], "occurred_at");
        assert_eq!(
            event["actor"],
            json!({"type": "user", "id": account.user_id})
        );
        assert!(event["source_ip"].is_string(), "{event}");
        assert!(event["details"].is_object(), "{event}");
    }
    let rotated = &events[3];
    assert_eq!(rotated["target"]["type"], "api_key");
    assert_eq!(rotated["target"]["id"], json!(id));
    assert_eq!(rotated["target"]["key_prefix"], key["key_prefix"]);
    assert_eq!(rotated["details"]["new_key_id"], new["id"]);
    assert_eq!(
        events[5]["target"],
        json!({"type": "user", "id": account.user_id})
    );
    // The trail never holds a key.
    assert!(!data.to_string().contains(&str_at(&key, "/key")[4..]));
}

#[tokio::test]
async fn the_trail_pages_with_a_cursor_and_filters_by_type() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for _ in 0..4 {
        api.create_key(&account.token, None).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let data = api.audit_events(&account.token, &query).await.data(200);
        assert!(data["events"].as_array().unwrap().len() <= 2);
        seen.extend(event_types(&data));
        match data["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "api_key.created",
            "api_key.created",
            "api_key.created",
            "api_key.created",
            "user.registered"
        ]
    );
    let data = api
        .audit_events(&account.token, &[("type", "user.registered")])
        .await
        .data(200);
    assert_eq!(event_types(&data), ["user.registered"]);
}

#[tokio::test]
async fn bad_trail_queries_are_validation_errors_and_another_workspaces_cursor_is_refused() {
    let api = TestApi::from_env();
    let theirs = api.register_workspace().await;
    for _ in 0..2 {
        api.create_key(&theirs.token, None).await;
    }
    let page = api
        .audit_events(&theirs.token, &[("limit", "1")])
        .await
        .data(200);
    let their_cursor = str_at(&page, "/next_cursor").to_owned();

    let mine = api.register_workspace().await;
    for (name, value) in [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "many"),
        ("type", "api_key.exploded"),
        ("cursor", "garbage"),
        ("cursor", their_cursor.as_str()),
    ] {
        assert_validation_error(
            &api.audit_events(&mine.token, &[(name, value)]).await,
            &[name],
        );
    }
    let unauthenticated = api
        .send(api.request(reqwest::Method::GET, "/api/v1/audit-events"))
        .await;
    assert_error(&unauthenticated, 401, "unauthorized");
}
