//! The API-key lifecycle: create, list, deactivate; which credentials each route accepts;
//! revocation on the very next request; tenant isolation of keys.

use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;
use uuid::Uuid;
use yebolink_blackbox::*;

fn scopes_of(data: &Value) -> Vec<String> {
    data["scopes"]
        .as_array()
        .unwrap_or_else(|| panic!("scopes must be an array: {data}"))
        .iter()
        .map(|s| s.as_str().expect("scope is a string").to_owned())
        .collect()
}

// ---- create ---------------------------------------------------------------------------------

#[tokio::test]
async fn create_key_returns_the_key_once_in_the_documented_format() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let reply = api
        .create_key_with(
            &account.token,
            &json!({"name": "Production API Key", "scopes": ALL_SCOPES}),
        )
        .await;
    let data = reply.data(201);

    assert_uuid(&data["id"], "id");
    assert_eq!(data["name"], json!("Production API Key"));
    let key = str_at(&data, "/key");
    assert_key_format(key);
    assert_eq!(str_at(&data, "/key_prefix"), format!("{}...", &key[..11]));
    assert_eq!(scopes_of(&data), ALL_SCOPES);
    assert_recent_timestamp(&data["created_at"], "created_at");
    assert_eq!(
        data["warning"],
        json!("Save this key securely. It will not be shown again.")
    );
}

#[tokio::test]
async fn create_key_without_scopes_grants_both_scopes() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let data = api
        .create_key_with(&account.token, &json!({"name": "default scopes"}))
        .await
        .data(201);
    assert_eq!(scopes_of(&data), ALL_SCOPES);

    // And the key really can do both.
    let key = str_at(&data, "/key");
    let message = api.send_sms(key, "both scopes").await;
    api.get_message(key, str_at(&message, "/id"))
        .await
        .data(200);
}

#[tokio::test]
async fn create_key_with_one_scope_grants_only_that_scope() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for scope in ALL_SCOPES {
        let data = api.create_key(&account.token, Some(&[scope])).await;
        assert_eq!(scopes_of(&data), [scope]);
    }
}

#[tokio::test]
async fn create_key_returns_scopes_in_canonical_order_with_duplicates_collapsed() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;

    let reversed = api
        .create_key(&account.token, Some(&["read_messages", "send_messages"]))
        .await;
    assert_eq!(scopes_of(&reversed), ALL_SCOPES);

    let doubled = api
        .create_key(&account.token, Some(&["send_messages", "send_messages"]))
        .await;
    assert_eq!(scopes_of(&doubled), ["send_messages"]);

    let both_twice = api
        .create_key(
            &account.token,
            Some(&[
                "read_messages",
                "send_messages",
                "read_messages",
                "send_messages",
            ]),
        )
        .await;
    assert_eq!(scopes_of(&both_twice), ALL_SCOPES);
}

#[tokio::test]
async fn create_key_with_empty_or_unknown_scopes_is_400() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for scopes in [
        json!([]),
        json!(["admin"]),
        json!(["send_messages", "delete_everything"]),
        json!(["SEND_MESSAGES"]),
        json!("send_messages"),
    ] {
        let reply = api
            .create_key_with(
                &account.token,
                &json!({"name": "bad scopes", "scopes": scopes}),
            )
            .await;
        assert_validation_error(&reply, &["scopes"]);
    }
    // Nothing was created by the rejected requests.
    let listed = api.list_keys(&account.token).await.data(200);
    assert_eq!(listed["api_keys"], json!([]));
}

#[tokio::test]
async fn create_key_name_must_be_1_to_100_characters() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for body in [
        json!({}),
        json!({"scopes": ALL_SCOPES}),
        json!({"name": ""}),
        json!({"name": "    "}),
        json!({"name": "n".repeat(101)}),
        json!({"name": 42}),
    ] {
        let reply = api.create_key_with(&account.token, &body).await;
        assert_validation_error(&reply, &["name"]);
    }

    let hundred = "n".repeat(100);
    let data = api
        .create_key_with(&account.token, &json!({"name": hundred}))
        .await
        .data(201);
    assert_eq!(data["name"], json!(hundred));
}

#[tokio::test]
async fn create_key_with_malformed_json_is_400_invalid_json() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/api-keys")
                .bearer_auth(&account.token)
                .header("Content-Type", "application/json")
                .body("{\"name\": \"unterminated"),
        )
        .await;
    assert_error(&reply, 400, "invalid_json");
}

#[tokio::test]
async fn concurrently_created_keys_are_all_unique_and_all_listed() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut set = JoinSet::new();
    for _ in 0..8 {
        let api = api.clone();
        let token = account.token.clone();
        set.spawn(async move { api.create_key(&token, None).await });
    }
    let mut ids = Vec::new();
    let mut keys = Vec::new();
    while let Some(created) = set.join_next().await {
        let data = created.expect("task");
        ids.push(str_at(&data, "/id").to_owned());
        keys.push(str_at(&data, "/key").to_owned());
    }
    let unique = |v: &Vec<String>| {
        let mut s = v.clone();
        s.sort();
        s.dedup();
        s.len()
    };
    assert_eq!(unique(&ids), 8, "key ids must be unique");
    assert_eq!(unique(&keys), 8, "keys must be unique");

    let listed = api.list_keys(&account.token).await.data(200);
    let mut listed_ids: Vec<String> = strs_in(&listed, "api_keys", "/id")
        .into_iter()
        .map(str::to_owned)
        .collect();
    listed_ids.sort();
    ids.sort();
    assert_eq!(listed_ids, ids);
}

// ---- list -----------------------------------------------------------------------------------

#[tokio::test]
async fn list_keys_is_newest_first_and_never_shows_the_full_key() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let mut created = Vec::new();
    for scopes in [
        None,
        Some(&["send_messages"][..]),
        Some(&["read_messages"][..]),
    ] {
        created.push(api.create_key(&account.token, scopes).await);
    }

    let reply = api.list_keys(&account.token).await;
    let data = reply.data(200);
    for key in &created {
        assert!(
            !reply.text.contains(str_at(key, "/key")),
            "the full key must never appear in the list body"
        );
    }
    let listed = data["api_keys"].as_array().expect("api_keys is an array");
    let listed_ids: Vec<&str> = listed.iter().map(|k| str_at(k, "/id")).collect();
    let newest_first: Vec<&str> = created.iter().rev().map(|k| str_at(k, "/id")).collect();
    assert_eq!(listed_ids, newest_first, "keys must be listed newest first");

    for (item, key) in listed.iter().zip(created.iter().rev()) {
        assert!(
            item.get("key").is_none(),
            "no key field in a listing: {item}"
        );
        assert_eq!(item["name"], key["name"]);
        assert_eq!(item["key_prefix"], key["key_prefix"]);
        assert_eq!(item["scopes"], key["scopes"]);
        assert_eq!(item["created_at"], key["created_at"]);
        assert_eq!(item["is_active"], json!(true));
        assert_eq!(item["last_used_at"], Value::Null);
    }
    let times: Vec<i64> = listed
        .iter()
        .map(|k| parse_timestamp(str_at(k, "/created_at")))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "created_at must not increase down the list: {times:?}"
    );
}

#[tokio::test]
async fn list_keys_shows_last_used_at_only_after_a_use() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let find = |listing: &Value| -> Value {
        listing["api_keys"]
            .as_array()
            .expect("api_keys")
            .iter()
            .find(|k| k["id"] == key["id"])
            .cloned()
            .expect("the key is listed")
    };

    let before = find(&api.list_keys(&account.token).await.data(200));
    assert_eq!(before["last_used_at"], Value::Null, "unused key");

    api.list_messages(str_at(&key, "/key"), &[]).await.data(200);

    let after = find(&api.list_keys(&account.token).await.data(200));
    assert_recent_timestamp(&after["last_used_at"], "last_used_at after one use");
    assert!(
        parse_timestamp(str_at(&after, "/last_used_at"))
            >= parse_timestamp(str_at(&key, "/created_at")),
        "last_used_at cannot precede created_at"
    );
}

#[tokio::test]
async fn list_keys_shows_only_the_workspaces_own_keys() {
    let api = TestApi::from_env();
    let (alice, alice_key) = api.account_with_key(None).await;
    let (bob, bob_key) = api.account_with_key(None).await;

    let alice_list = api.list_keys(&alice.token).await;
    let ids: Vec<Value> = alice_list.data(200)["api_keys"]
        .as_array()
        .expect("api_keys")
        .iter()
        .map(|k| k["id"].clone())
        .collect();
    assert_eq!(ids, [alice_key["id"].clone()]);
    assert!(!alice_list.text.contains(str_at(&bob_key, "/id")));

    let bob_ids: Vec<Value> = api.list_keys(&bob.token).await.data(200)["api_keys"]
        .as_array()
        .expect("api_keys")
        .iter()
        .map(|k| k["id"].clone())
        .collect();
    assert_eq!(bob_ids, [bob_key["id"].clone()]);
}

// ---- deactivate -----------------------------------------------------------------------------

#[tokio::test]
async fn deactivated_key_is_rejected_on_next_request() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");

    // The key works (and would be in any cache there is)...
    let message = api.send_sms(secret, "before revocation").await;
    api.list_messages(secret, &[]).await.data(200);

    let data = api
        .deactivate_key(&account.token, str_at(&key, "/id"))
        .await
        .data(200);
    assert_eq!(data["message"], json!("API key deactivated successfully"));

    // ...and the very next call on each route is refused.
    assert_invalid_api_key(&api.send_message(secret, &sms("after revocation")).await);
    assert_invalid_api_key(&api.list_messages(secret, &[]).await);
    assert_invalid_api_key(&api.get_message(secret, str_at(&message, "/id")).await);
}

#[tokio::test]
async fn deactivating_twice_answers_200_both_times_and_the_key_is_listed_inactive() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let id = str_at(&key, "/id");

    let first = api.deactivate_key(&account.token, id).await;
    let second = api.deactivate_key(&account.token, id).await;
    assert_eq!(first.data(200), second.data(200));
    assert_eq!(
        second.data(200)["message"],
        json!("API key deactivated successfully")
    );

    let listed = api.list_keys(&account.token).await.data(200);
    let items = listed["api_keys"].as_array().expect("api_keys");
    assert_eq!(items.len(), 1, "a deactivated key is still listed");
    assert_eq!(items[0]["id"], key["id"]);
    assert_eq!(items[0]["is_active"], json!(false));
}

#[tokio::test]
async fn deactivating_another_workspaces_key_is_404_and_the_key_keeps_working() {
    let api = TestApi::from_env();
    let (_owner, key) = api.account_with_key(None).await;
    let intruder = api.register_workspace().await;

    let reply = api
        .deactivate_key(&intruder.token, str_at(&key, "/id"))
        .await;
    assert_error(&reply, 404, "not_found");

    api.send_sms(str_at(&key, "/key"), "still alive").await;
}

#[tokio::test]
async fn deactivating_an_unknown_or_malformed_id_is_404() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    for id in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let reply = api.deactivate_key(&account.token, &id).await;
        assert_error(&reply, 404, "not_found");
    }
}

#[tokio::test]
async fn another_workspaces_key_id_answers_exactly_as_an_unknown_id() {
    let api = TestApi::from_env();
    let (_owner, key) = api.account_with_key(None).await;
    let intruder = api.register_workspace().await;
    let foreign = api
        .deactivate_key(&intruder.token, str_at(&key, "/id"))
        .await;
    let unknown = api
        .deactivate_key(&intruder.token, &Uuid::new_v4().to_string())
        .await;
    assert_error(&foreign, 404, "not_found");
    assert_eq!(foreign.text, unknown.text);
}

// ---- which credential each route accepts ----------------------------------------------------

#[tokio::test]
async fn an_api_key_cannot_use_the_management_routes() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    let id = str_at(&key, "/id");

    let mut requests = Vec::new();
    for use_bearer in [false, true] {
        let with_key = |rb: reqwest::RequestBuilder| {
            if use_bearer {
                rb.bearer_auth(secret)
            } else {
                rb.header("X-API-Key", secret)
            }
        };
        requests.push(with_key(
            api.request(Method::POST, "/api/v1/api-keys")
                .json(&json!({"name": "made by a key"})),
        ));
        requests.push(with_key(api.request(Method::GET, "/api/v1/api-keys")));
        requests.push(with_key(
            api.request(Method::DELETE, &format!("/api/v1/api-keys/{id}")),
        ));
    }
    for request in requests {
        assert_error(&api.send(request).await, 401, "unauthorized");
    }

    // Nothing changed: still one active key.
    let listed = api.list_keys(&account.token).await.data(200);
    let items = listed["api_keys"].as_array().expect("api_keys");
    assert_eq!(items.len(), 1, "a key can never create a key");
    assert_eq!(items[0]["is_active"], json!(true));
}

#[tokio::test]
async fn missing_api_key_is_401_invalid_api_key() {
    let api = TestApi::from_env();
    assert_invalid_api_key(&api.send(api.request(Method::GET, "/api/v1/messages")).await);
    assert_invalid_api_key(
        &api.send(
            api.request(Method::POST, "/api/v1/messages/send")
                .json(&sms("no key")),
        )
        .await,
    );
    let id = Uuid::new_v4();
    assert_invalid_api_key(
        &api.send(api.request(Method::GET, &format!("/api/v1/messages/{id}")))
            .await,
    );
}

#[tokio::test]
async fn garbage_api_key_is_401_invalid_api_key() {
    let api = TestApi::from_env();
    let docs_example = "ybk_1234567890abcdef1234567890abcdef1234567890abcdef";
    let too_short = "ybk_1234567890abcdef";
    let upper = "YBK_1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF";
    for key in ["garbage", "ybk_", too_short, docs_example, upper, "x"] {
        assert_invalid_api_key(&api.list_messages(key, &[]).await);
        assert_invalid_api_key(&api.send_message(key, &sms("garbage key")).await);
    }
}

#[tokio::test]
async fn well_formed_but_unknown_api_key_is_401_invalid_api_key() {
    let api = TestApi::from_env();
    let key = well_formed_unknown_key();
    assert_invalid_api_key(&api.list_messages(&key, &[]).await);
    assert_invalid_api_key(&api.send_message(&key, &sms("unknown key")).await);
}

#[tokio::test]
async fn a_mistyped_api_key_is_401_invalid_api_key() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let typo = mistyped(str_at(&key, "/key"));
    assert_invalid_api_key(&api.list_messages(&typo, &[]).await);
}

#[tokio::test]
async fn a_user_jwt_on_the_messaging_routes_is_401_invalid_api_key() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let message = api.send_sms(str_at(&key, "/key"), "mine").await;
    let requests = [
        api.request(Method::POST, "/api/v1/messages/send")
            .bearer_auth(&account.token)
            .json(&sms("with a JWT")),
        api.request(Method::GET, "/api/v1/messages")
            .bearer_auth(&account.token),
        api.request(
            Method::GET,
            &format!("/api/v1/messages/{}", str_at(&message, "/id")),
        )
        .bearer_auth(&account.token),
    ];
    for request in requests {
        assert_invalid_api_key(&api.send(request).await);
    }
}

#[tokio::test]
async fn an_api_key_sent_as_a_bearer_token_is_not_accepted_on_messaging_routes() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let reply = api
        .send(
            api.request(Method::GET, "/api/v1/messages")
                .bearer_auth(str_at(&key, "/key")),
        )
        .await;
    assert_invalid_api_key(&reply);
}
