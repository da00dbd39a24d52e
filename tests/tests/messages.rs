//! Messaging over `X-API-Key`: send, list (pagination), get, validation, segments, scopes,
//! tenant isolation and idempotent send.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;
use yebolink_blackbox::*;

const MESSAGE_FIELDS: [&str; 7] = [
    "id",
    "to",
    "channel",
    "content",
    "status",
    "segments",
    "created_at",
];

/// `seen` describes the same message as `sent` (the send response's data).
fn assert_same_message(seen: &Value, sent: &Value) {
    for field in MESSAGE_FIELDS {
        assert_eq!(
            seen[field], sent[field],
            "field {field} differs: {seen} vs {sent}"
        );
    }
}

async fn segments_of(api: &TestApi, key: &str, text: &str) -> u64 {
    let data = api.send_sms(key, text).await;
    data["segments"]
        .as_u64()
        .unwrap_or_else(|| panic!("segments must be an integer: {data}"))
}

fn send_key(key: &Value) -> &str {
    str_at(key, "/key")
}

// ---- send -----------------------------------------------------------------------------------

#[tokio::test]
async fn send_sms_with_api_key_returns_201_with_the_queued_message() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let data = api
        .send_message(send_key(&key), &sms("Hello from the black-box suite"))
        .await
        .data(201);

    assert_uuid(&data["id"], "id");
    assert_eq!(data["to"], json!(PHONE));
    assert_eq!(data["channel"], json!("sms"));
    assert_eq!(
        data["content"]["text"],
        json!("Hello from the black-box suite")
    );
    assert!(
        data["content"].get("subject").is_none_or(Value::is_null),
        "an SMS has no subject: {data}"
    );
    assert_eq!(data["status"], json!("queued"));
    assert_eq!(data["segments"], json!(1));
    assert_recent_timestamp(&data["created_at"], "created_at");
}

#[tokio::test]
async fn send_email_keeps_the_subject_and_counts_one_segment() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let long_text = "An email body. ".repeat(100);
    let data = api
        .send_message(
            send_key(&key),
            &json!({
                "to": "customer@example.com",
                "channel": "email",
                "content": {"text": long_text, "subject": "Your order"},
            }),
        )
        .await
        .data(201);
    assert_eq!(data["to"], json!("customer@example.com"));
    assert_eq!(data["channel"], json!("email"));
    assert_eq!(data["content"]["subject"], json!("Your order"));
    assert_eq!(data["content"]["text"], json!(long_text));
    assert_eq!(data["segments"], json!(1));
    assert_eq!(data["status"], json!("queued"));
}

#[tokio::test]
async fn send_whatsapp_counts_one_segment_whatever_the_length() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let data = api
        .send_message(
            send_key(&key),
            &json!({"to": PHONE, "channel": "whatsapp", "content": {"text": "x".repeat(1600)}}),
        )
        .await
        .data(201);
    assert_eq!(data["channel"], json!("whatsapp"));
    assert_eq!(data["segments"], json!(1));
}

#[tokio::test]
async fn sms_of_160_gsm_characters_is_one_segment_and_161_is_two() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    assert_eq!(segments_of(&api, key, &"a".repeat(160)).await, 1);
    assert_eq!(segments_of(&api, key, &"a".repeat(161)).await, 2);
}

#[tokio::test]
async fn sms_gsm_parts_hold_153_characters_each() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    assert_eq!(segments_of(&api, key, &"b".repeat(306)).await, 2);
    assert_eq!(segments_of(&api, key, &"b".repeat(307)).await, 3);
    assert_eq!(segments_of(&api, key, &"b".repeat(1600)).await, 11);
}

#[tokio::test]
async fn sms_of_70_ucs2_characters_is_one_segment_and_71_is_two() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    // Cyrillic: outside GSM-7, one UTF-16 unit per character.
    assert_eq!(segments_of(&api, key, &"Ж".repeat(70)).await, 1);
    assert_eq!(segments_of(&api, key, &"Ж".repeat(71)).await, 2);
    // One non-GSM character turns a short GSM text into UCS-2.
    let mixed = format!("{}Ж", "a".repeat(70));
    assert_eq!(segments_of(&api, key, &mixed).await, 2);
}

#[tokio::test]
async fn sms_ucs2_parts_hold_67_characters_each() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    assert_eq!(segments_of(&api, key, &"你".repeat(134)).await, 2);
    assert_eq!(segments_of(&api, key, &"你".repeat(135)).await, 3);
}

#[tokio::test]
async fn sms_with_emoji_is_ucs2() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    // 35 emoji are 35 characters or 70 UTF-16 units: one UCS-2 segment either way.
    assert_eq!(segments_of(&api, key, &"😀".repeat(35)).await, 1);
    // 100 emoji exceed 70 whichever way they are counted.
    assert!(segments_of(&api, key, &"😀".repeat(100)).await >= 2);
}

// ---- validation -----------------------------------------------------------------------------

#[tokio::test]
async fn send_rejects_a_phone_number_that_is_not_e164() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(Some(&["send_messages"])).await;
    for to in [
        "0712345678",
        "26878422613",
        "+1234567",
        "+1234567890123456",
        "+268 7842 2613",
        "+2687842261a",
        "",
    ] {
        for channel in ["sms", "whatsapp"] {
            let reply = api
                .send_message(
                    send_key(&key),
                    &json!({"to": to, "channel": channel, "content": {"text": "hi"}}),
                )
                .await;
            assert_validation_error(&reply, &["to"]);
        }
    }
}

#[tokio::test]
async fn send_accepts_e164_numbers_of_8_and_15_digits() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    for to in ["+12345678", "+123456789012345"] {
        let data = api
            .send_message(
                send_key(&key),
                &json!({"to": to, "channel": "sms", "content": {"text": "hi"}}),
            )
            .await
            .data(201);
        assert_eq!(data["to"], json!(to));
    }
}

#[tokio::test]
async fn email_channel_requires_a_subject() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    for content in [
        json!({"text": "no subject"}),
        json!({"text": "empty subject", "subject": ""}),
        json!({"text": "long subject", "subject": "s".repeat(201)}),
    ] {
        let reply = api
            .send_message(
                send_key(&key),
                &json!({"to": "customer@example.com", "channel": "email", "content": content}),
            )
            .await;
        assert_validation_error(&reply, &["content.subject", "subject"]);
    }
}

#[tokio::test]
async fn email_channel_requires_an_email_address() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    for to in [PHONE, "not-an-address", "@example.com"] {
        let reply = api
            .send_message(
                send_key(&key),
                &json!({"to": to, "channel": "email", "content": {"text": "t", "subject": "s"}}),
            )
            .await;
        assert_validation_error(&reply, &["to"]);
    }
}

#[tokio::test]
async fn text_must_be_1_to_1600_characters() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    for text in ["t".repeat(1601), String::new()] {
        let reply = api.send_message(send_key(&key), &sms(&text)).await;
        assert_validation_error(&reply, &["content.text", "text"]);
    }
    api.send_sms(send_key(&key), &"t".repeat(1600)).await;
}

#[tokio::test]
async fn unknown_channel_is_rejected() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    for channel in [json!("fax"), json!("SMS"), json!(""), json!(1)] {
        let reply = api
            .send_message(
                send_key(&key),
                &json!({"to": PHONE, "channel": channel, "content": {"text": "hi"}}),
            )
            .await;
        assert_validation_error(&reply, &["channel"]);
    }
}

#[tokio::test]
async fn send_with_missing_fields_is_400_naming_them() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let cases = [
        (json!({"channel": "sms", "content": {"text": "hi"}}), "to"),
        (json!({"to": PHONE, "content": {"text": "hi"}}), "channel"),
        (json!({"to": PHONE, "channel": "sms"}), "content"),
    ];
    for (body, field) in cases {
        let reply = api.send_message(send_key(&key), &body).await;
        assert_validation_error(&reply, &[field]);
    }
    let reply = api
        .send_message(
            send_key(&key),
            &json!({"to": PHONE, "channel": "sms", "content": {}}),
        )
        .await;
    assert_validation_error(&reply, &["content.text", "text"]);
}

#[tokio::test]
async fn send_with_malformed_json_is_400_invalid_json() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/messages/send")
                .header("X-API-Key", send_key(&key))
                .header("Content-Type", "application/json")
                .body(r#"{"to": "+26878422613", "channel": "sms", "content": {"text": "#),
        )
        .await;
    assert_error(&reply, 400, "invalid_json");
}

#[tokio::test]
async fn send_with_an_unsupported_content_type_is_415() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let reply = api
        .send(
            api.request(Method::POST, "/api/v1/messages/send")
                .header("X-API-Key", send_key(&key))
                .header("Content-Type", "application/xml")
                .body(sms("xml?").to_string()),
        )
        .await;
    assert_error(&reply, 415, "unsupported_media_type");
}

#[tokio::test]
async fn send_with_a_body_over_64_kib_is_413() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let reply = api
        .send_message(send_key(&key), &sms(&"x".repeat(70 * 1024)))
        .await;
    assert_error(&reply, 413, "payload_too_large");
}

// ---- list and get ---------------------------------------------------------------------------

#[tokio::test]
async fn list_messages_pages_newest_first_without_duplicates() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(api.send_sms(key, &format!("message {i}")).await);
    }

    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let data = api.list_messages(key, &query).await.data(200);
        let messages = data["messages"].as_array().expect("messages").clone();
        assert!(messages.len() <= 2, "limit=2 returned {}", messages.len());
        pages.push(messages);
        match &data["next_cursor"] {
            Value::Null => break,
            Value::String(next) => {
                assert!(!next.is_empty(), "next_cursor must be null or non-empty");
                cursor = Some(next.clone());
            }
            other => panic!("next_cursor must be a string or null, got {other}"),
        }
        assert!(pages.len() < 10, "pagination does not end");
    }

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1], "5 messages in pages of 2");
    let listed: Vec<Value> = pages.into_iter().flatten().collect();
    for (seen, expected) in listed.iter().zip(sent.iter().rev()) {
        assert_same_message(seen, expected);
    }
    let mut ids: Vec<&str> = listed.iter().map(|m| str_at(m, "/id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "no duplicates across pages");
}

#[tokio::test]
async fn list_messages_without_limit_returns_all_of_a_few_with_no_cursor() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);

    let empty = api.list_messages(key, &[]).await.data(200);
    assert_eq!(empty["messages"], json!([]));
    assert_eq!(empty["next_cursor"], Value::Null);

    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(api.send_sms(key, &format!("m{i}")).await);
    }
    let data = api.list_messages(key, &[]).await.data(200);
    let ids = strs_in(&data, "messages", "/id");
    let expected: Vec<&str> = sent.iter().rev().map(|m| str_at(m, "/id")).collect();
    assert_eq!(ids, expected, "newest first");
    assert_eq!(data["next_cursor"], Value::Null);
}

#[tokio::test]
async fn list_messages_accepts_limits_1_and_100() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    api.send_sms(key, "one").await;
    let second = api.send_sms(key, "two").await;

    let one = api.list_messages(key, &[("limit", "1")]).await.data(200);
    assert_eq!(one["messages"].as_array().expect("messages").len(), 1);
    assert_eq!(one["messages"][0]["id"], second["id"]);
    assert!(one["next_cursor"].is_string(), "more messages remain");

    let hundred = api.list_messages(key, &[("limit", "100")]).await.data(200);
    assert_eq!(hundred["messages"].as_array().expect("messages").len(), 2);
    assert_eq!(hundred["next_cursor"], Value::Null);
}

#[tokio::test]
async fn list_messages_rejects_an_invalid_limit() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    for limit in ["0", "101", "abc", "-1", "2.5"] {
        let reply = api.list_messages(send_key(&key), &[("limit", limit)]).await;
        assert_validation_error(&reply, &["limit"]);
    }
}

#[tokio::test]
async fn list_messages_rejects_a_garbage_cursor() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    api.send_sms(send_key(&key), "something to page over").await;
    for cursor in ["garbage", "%%%", "eyJmb28iOiJiYXIifQ", "!"] {
        let reply = api
            .list_messages(send_key(&key), &[("cursor", cursor)])
            .await;
        assert_validation_error(&reply, &["cursor"]);
    }
}

#[tokio::test]
async fn get_message_returns_the_sent_message() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let sent = api
        .send_message(
            send_key(&key),
            &json!({
                "to": "customer@example.com",
                "channel": "email",
                "content": {"text": "Body", "subject": "Subject"},
            }),
        )
        .await
        .data(201);
    let got = api
        .get_message(send_key(&key), str_at(&sent, "/id"))
        .await
        .data(200);
    assert_same_message(&got, &sent);
}

#[tokio::test]
async fn get_message_with_an_unknown_or_malformed_id_is_404() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    for id in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let reply = api.get_message(send_key(&key), &id).await;
        assert_error(&reply, 404, "not_found");
    }
}

// ---- scopes ---------------------------------------------------------------------------------

#[tokio::test]
async fn send_only_key_cannot_read_messages() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let send_only = api
        .create_key(&account.token, Some(&["send_messages"]))
        .await;
    let message = api.send_sms(send_key(&send_only), "sent").await;

    let listed = api.list_messages(send_key(&send_only), &[]).await;
    assert_error(&listed, 403, "insufficient_scope");
    let got = api
        .get_message(send_key(&send_only), str_at(&message, "/id"))
        .await;
    assert_error(&got, 403, "insufficient_scope");
}

#[tokio::test]
async fn read_only_key_cannot_send() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let read_only = api
        .create_key(&account.token, Some(&["read_messages"]))
        .await;

    let reply = api
        .send_message(send_key(&read_only), &sms("not allowed"))
        .await;
    assert_error(&reply, 403, "insufficient_scope");

    let listed = api.list_messages(send_key(&read_only), &[]).await.data(200);
    assert_eq!(listed["messages"], json!([]), "nothing was sent");
}

#[tokio::test]
async fn keys_of_one_workspace_share_its_messages() {
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let sender = api
        .create_key(&account.token, Some(&["send_messages"]))
        .await;
    let reader = api
        .create_key(&account.token, Some(&["read_messages"]))
        .await;
    let sent = api.send_sms(send_key(&sender), "for the reader").await;

    let got = api
        .get_message(send_key(&reader), str_at(&sent, "/id"))
        .await
        .data(200);
    assert_same_message(&got, &sent);
}

// ---- tenant isolation -----------------------------------------------------------------------

#[tokio::test]
async fn another_workspaces_message_is_404_and_never_listed() {
    let api = TestApi::from_env();
    let (_alice, alice_key) = api.account_with_key(None).await;
    let (_bob, bob_key) = api.account_with_key(None).await;
    let alices = api.send_sms(send_key(&alice_key), "alice's secret").await;
    let bobs = api.send_sms(send_key(&bob_key), "bob's note").await;

    let foreign = api
        .get_message(send_key(&bob_key), str_at(&alices, "/id"))
        .await;
    assert_error(&foreign, 404, "not_found");
    let unknown = api
        .get_message(send_key(&bob_key), &Uuid::new_v4().to_string())
        .await;
    assert_eq!(
        foreign.text, unknown.text,
        "another workspace's message must look exactly like an unknown one"
    );

    let listed = api.list_messages(send_key(&bob_key), &[]).await;
    let data = listed.data(200);
    let ids = strs_in(&data, "messages", "/id");
    assert_eq!(ids, [str_at(&bobs, "/id")]);
    assert!(!listed.text.contains("alice's secret"));
}

// ---- idempotent send ------------------------------------------------------------------------

async fn send_idempotent(api: &TestApi, key: &str, idempotency_key: &str, body: &str) -> Reply {
    api.send(
        api.request(Method::POST, "/api/v1/messages/send")
            .header("X-API-Key", key)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", idempotency_key)
            .body(body.to_owned()),
    )
    .await
}

async fn listed_ids(api: &TestApi, key: &str) -> Vec<String> {
    let listed = api.list_messages(key, &[("limit", "100")]).await.data(200);
    strs_in(&listed, "messages", "/id")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn repeating_a_send_with_the_same_idempotency_key_returns_the_first_message() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    let idempotency_key = format!("order-{}", Uuid::new_v4());
    let body = sms("charged once").to_string();

    let first = send_idempotent(&api, key, &idempotency_key, &body).await;
    let first_data = first.data(201);
    let second = send_idempotent(&api, key, &idempotency_key, &body).await;
    assert_eq!(second.status, first.status, "same status again");
    assert_eq!(second.data(201), first_data, "same body again");

    assert_eq!(
        listed_ids(&api, key).await,
        [str_at(&first_data, "/id")],
        "the repeat created nothing"
    );
}

#[tokio::test]
async fn same_idempotency_key_with_a_different_body_is_422_idempotency_conflict() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    let idempotency_key = Uuid::new_v4().to_string();

    let first = send_idempotent(&api, key, &idempotency_key, &sms("first").to_string())
        .await
        .data(201);
    let conflict =
        send_idempotent(&api, key, &idempotency_key, &sms("different").to_string()).await;
    assert_error(&conflict, 422, "idempotency_conflict");

    assert_eq!(listed_ids(&api, key).await, [str_at(&first, "/id")]);
}

#[tokio::test]
async fn different_idempotency_keys_create_different_messages() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let key = send_key(&key);
    let body = sms("same text, two orders").to_string();
    let a = send_idempotent(&api, key, &Uuid::new_v4().to_string(), &body)
        .await
        .data(201);
    let b = send_idempotent(&api, key, &Uuid::new_v4().to_string(), &body)
        .await
        .data(201);
    assert_ne!(a["id"], b["id"]);
    assert_eq!(listed_ids(&api, key).await.len(), 2);
}

#[tokio::test]
async fn an_overlong_idempotency_key_is_400() {
    let api = TestApi::from_env();
    let (_account, key) = api.account_with_key(None).await;
    let reply = send_idempotent(
        &api,
        send_key(&key),
        &"k".repeat(256),
        &sms("hi").to_string(),
    )
    .await;
    assert_error(&reply, 400, "validation_error");
    assert_eq!(listed_ids(&api, send_key(&key)).await.len(), 0);
}
