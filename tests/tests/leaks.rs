//! Leaked-key reports, `POST /api/v1/api-keys/leaks`, as GitHub secret scanning sends them:
//! signed with the key pair that stands in for GitHub's locally (`YEBOLINK_LEAK_SIGNING_KEY`,
//! whose public half the stack reads from `LEAK_REPORT_PUBLIC_KEYS_FILE`). A report of one of
//! our keys deactivates it at once; anything unsigned, badly signed or malformed changes
//! nothing.

use serde_json::{json, Value};
use yebolink_blackbox::leak_signing::{
    sha256_hex, LeakSigner, KEY_IDENTIFIER_HEADER, SIGNATURE_HEADER,
};
use yebolink_blackbox::*;

fn report_of(tokens: &[&str]) -> Vec<u8> {
    Value::Array(
        tokens
            .iter()
            .map(|token| {
                json!({
                    "token": token,
                    "type": "yebolink_api_key",
                    "url": "https://github.com/octo-org/octo-repo/blob/abc123/config.env",
                    "source": "content",
                })
            })
            .collect(),
    )
    .to_string()
    .into_bytes()
}

/// Sends `body` signed by the key the stack trusts.
async fn report_signed(api: &TestApi, body: &[u8]) -> Reply {
    let github = LeakSigner::from_env();
    let (key_identifier, signature) = (github.key_identifier(), github.sign(body));
    api.report_leaks(
        body,
        &[
            (KEY_IDENTIFIER_HEADER, &key_identifier),
            (SIGNATURE_HEADER, &signature),
        ],
    )
    .await
}

/// The bare array GitHub reads: status 200, JSON, no envelope.
fn verdicts(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status.as_u16(), 200, "{}: {}", reply.what, reply.text);
    reply.assert_json_content_type();
    reply
        .json()
        .as_array()
        .unwrap_or_else(|| panic!("{}: not a bare JSON array: {}", reply.what, reply.text))
        .clone()
}

fn verdict(token: &str, label: &str) -> Value {
    json!({"token_hash": sha256_hex(token), "token_type": "yebolink_api_key", "label": label})
}

async fn key_works(api: &TestApi, secret: &str) -> bool {
    api.list_messages(secret, &[]).await.status.as_u16() == 200
}

async fn listed_active(api: &TestApi, account: &Account, id: &Value) -> bool {
    let listed = api.list_keys(&account.token).await.data(200);
    let key = listed["api_keys"]
        .as_array()
        .expect("api_keys")
        .iter()
        .find(|k| &k["id"] == id)
        .cloned()
        .expect("the key is listed");
    key["is_active"] == json!(true)
}

#[tokio::test]
async fn a_signed_report_of_our_active_key_deactivates_it_before_the_next_request() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    assert!(key_works(&api, secret).await);

    let reply = report_signed(&api, &report_of(&[secret])).await;
    assert_eq!(verdicts(&reply), [verdict(secret, "true_positive")]);

    assert_invalid_api_key(&api.list_messages(secret, &[]).await);
    assert_invalid_api_key(&api.send_message(secret, &sms("after the leak")).await);
    assert!(!listed_active(&api, &account, &key["id"]).await);
}

#[tokio::test]
async fn an_already_deactivated_key_is_still_a_true_positive_and_a_repeat_report_too() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    api.deactivate_key(&account.token, str_at(&key, "/id"))
        .await
        .data(200);

    for _ in 0..2 {
        let reply = report_signed(&api, &report_of(&[secret])).await;
        assert_eq!(verdicts(&reply), [verdict(secret, "true_positive")]);
    }
    assert!(!listed_active(&api, &account, &key["id"]).await);
}

#[tokio::test]
async fn unknown_keys_and_other_tokens_are_false_positives_named_by_their_sha256() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let ours = str_at(&key, "/key");
    let unknown = well_formed_unknown_key();
    let typo = mistyped(ours);
    let tokens = [
        unknown.as_str(),
        typo.as_str(),
        "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
        "",
        "ünïcödé ✓",
        ours,
    ];
    let reply = report_signed(&api, &report_of(&tokens)).await;
    let expected: Vec<Value> = tokens[..5]
        .iter()
        .map(|t| verdict(t, "false_positive"))
        .chain([verdict(ours, "true_positive")])
        .collect();
    assert_eq!(verdicts(&reply), expected);
    // A typo of our key is not our key: only the exact key was deactivated.
    assert!(!listed_active(&api, &account, &key["id"]).await);
}

#[tokio::test]
async fn a_report_of_100_tokens_is_answered_in_order() {
    let api = TestApi::from_env();
    let tokens: Vec<String> = (0..100).map(|i| format!("token-{i}")).collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let reply = report_signed(&api, &report_of(&refs)).await;
    let expected: Vec<Value> = refs.iter().map(|t| verdict(t, "false_positive")).collect();
    assert_eq!(verdicts(&reply), expected);
}

#[tokio::test]
async fn unsigned_or_badly_signed_reports_are_401_invalid_signature_and_the_key_keeps_working() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    let body = report_of(&[secret]);
    let github = LeakSigner::from_env();
    let (id, signature) = (github.key_identifier(), github.sign(&body));
    let stranger = LeakSigner::generate();
    let (stranger_id, stranger_signature) = (stranger.key_identifier(), stranger.sign(&body));
    let other_body_signature = github.sign(&report_of(&["someone else's token"]));

    let cases: [(&str, Vec<(&str, &str)>); 8] = [
        ("no signature headers", vec![]),
        ("no signature", vec![(KEY_IDENTIFIER_HEADER, &id)]),
        ("no key identifier", vec![(SIGNATURE_HEADER, &signature)]),
        (
            "unknown key identifier",
            vec![
                (KEY_IDENTIFIER_HEADER, &stranger_id),
                (SIGNATURE_HEADER, &stranger_signature),
            ],
        ),
        (
            "another key's signature under GitHub's identifier",
            vec![
                (KEY_IDENTIFIER_HEADER, &id),
                (SIGNATURE_HEADER, &stranger_signature),
            ],
        ),
        (
            "signature that is not base64",
            vec![
                (KEY_IDENTIFIER_HEADER, &id),
                (SIGNATURE_HEADER, "not*base64!"),
            ],
        ),
        (
            "signature over a different body",
            vec![
                (KEY_IDENTIFIER_HEADER, &id),
                (SIGNATURE_HEADER, &other_body_signature),
            ],
        ),
        (
            "truncated signature",
            vec![
                (KEY_IDENTIFIER_HEADER, &id),
                (SIGNATURE_HEADER, &signature[..20]),
            ],
        ),
    ];
    for (what, headers) in cases {
        let reply = api.report_leaks(&body, &headers).await;
        assert_eq!(reply.status.as_u16(), 401, "{what}: {}", reply.text);
        assert_error(&reply, 401, "invalid_signature");
    }
    assert!(key_works(&api, secret).await);
    assert!(listed_active(&api, &account, &key["id"]).await);
}

#[tokio::test]
async fn the_signature_is_checked_before_the_body_so_unsigned_garbage_is_401() {
    let api = TestApi::from_env();
    let reply = api.report_leaks(b"{not json", &[]).await;
    assert_error(&reply, 401, "invalid_signature");
}

#[tokio::test]
async fn signed_reports_that_are_not_1_to_100_complete_items_are_400_and_change_nothing() {
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let secret = str_at(&key, "/key");
    let hundred_and_one: Vec<&str> = std::iter::repeat_n(secret, 101).collect();
    let item = |drop: &str| {
        let mut item =
            json!({"token": secret, "type": "yebolink_api_key", "url": "u", "source": "content"});
        item.as_object_mut().expect("object").remove(drop);
        json!([item]).to_string().into_bytes()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"[]".to_vec(), "body"),
        (report_of(&hundred_and_one), "body"),
        (json!({"token": secret}).to_string().into_bytes(), "body"),
        (b"\"a string\"".to_vec(), "body"),
        (json!([secret]).to_string().into_bytes(), "body[0]"),
        (item("token"), "body[0].token"),
        (item("type"), "body[0].type"),
        (item("url"), "body[0].url"),
        (item("source"), "body[0].source"),
        (
            json!([{"token": 42, "type": "t", "url": "u", "source": "s"}])
                .to_string()
                .into_bytes(),
            "body[0].token",
        ),
    ];
    for (body, field) in cases {
        let reply = report_signed(&api, &body).await;
        assert_validation_error(&reply, &[field]);
    }
    assert_error(
        &report_signed(&api, b"[{\"token\":").await,
        400,
        "invalid_json",
    );
    assert!(key_works(&api, secret).await);
    assert!(listed_active(&api, &account, &key["id"]).await);
}

#[tokio::test]
async fn delete_on_the_leak_path_is_404_and_deactivates_nothing() {
    // The leak path is a route of its own, not the key id "leaks": DELETE there is a 404 (API
    // Gateway's not_found deployed; cargo lambda watch's own 404 body locally, so only the
    // status is asserted) and the caller's keys are untouched.
    let api = TestApi::from_env();
    let (account, key) = api.account_with_key(None).await;
    let reply = api.deactivate_key(&account.token, "leaks").await;
    assert_eq!(reply.status.as_u16(), 404, "{}", reply.text);
    assert!(listed_active(&api, &account, &key["id"]).await);
}
