//! No partial records: what the code writes in one transaction is in the table whole or not at
//! all. `scripts/test.sh` runs this after the black-box suite and after each outage phase that
//! keeps the data, against the stack's local DynamoDB (`YEBOLINK_DYNAMODB_ENDPOINT`,
//! `YEBOLINK_TABLE`); it is `#[ignore]`d otherwise.
//!
//! Pairs checked (docs/architecture.md, "Data model"): key item `WS#/KEY#` and lookup item `KEYHASH#` both ways,
//! with the same key id, workspace, scopes and `is_active`; email claim -> workspace and user,
//! and every workspace and user back to a claim; idempotency record -> the message it names.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;

type Item = HashMap<String, AttributeValue>;

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) | Some(AttributeValue::N(s)) => s.clone(),
        Some(AttributeValue::Bool(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn check(items: &[Item]) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let (mut keys, mut lookups, mut claims) = (HashMap::new(), HashMap::new(), Vec::new());
    let (mut workspaces, mut users, mut idems, mut messages) =
        (HashMap::new(), HashSet::new(), Vec::new(), HashSet::new());
    for item in items {
        let (pk, sk) = (text(item, "pk"), text(item, "sk"));
        let ws = pk.strip_prefix("WS#").unwrap_or_default().to_string();
        if pk.starts_with("KEYHASH#") {
            lookups.insert(text(item, "key_hash"), item);
        } else if pk.starts_with("EMAIL#") {
            claims.push((text(item, "workspace_id"), text(item, "user_id")));
        } else if sk.starts_with("KEY#") {
            keys.insert(text(item, "key_hash"), item);
        } else if sk == "WORKSPACE" {
            workspaces.insert(ws, text(item, "owner_id"));
        } else if let Some(user) = sk.strip_prefix("USER#") {
            users.insert((ws, user.to_string()));
        } else if sk.starts_with("IDEM#") {
            idems.push((ws, sk, text(item, "body")));
        } else if let Some(id) = sk.strip_prefix("MSG#") {
            messages.insert((ws, id.to_string()));
        }
    }
    for (hash, key) in &keys {
        let id = text(key, "key_id");
        let Some(lookup) = lookups.get(hash) else {
            problems.push(format!("key {id} has no lookup item"));
            continue;
        };
        let ws = text(key, "pk").trim_start_matches("WS#").to_string();
        for (field, expected) in [
            ("key_id", id.clone()),
            ("workspace_id", ws),
            ("scopes", text(key, "scopes")),
            ("is_active", text(key, "is_active")),
        ] {
            if text(lookup, field) != expected {
                problems.push(format!(
                    "key {id}: lookup {field} is {:?}, the key item says {expected:?}",
                    text(lookup, field)
                ));
            }
        }
    }
    for (hash, lookup) in &lookups {
        if !keys.contains_key(hash) {
            problems.push(format!(
                "the lookup item of key {} has no key item",
                text(lookup, "key_id")
            ));
        }
    }
    let owners: HashSet<_> = claims.iter().cloned().collect();
    for (ws, user) in &claims {
        if !workspaces.contains_key(ws) {
            problems.push(format!("account {user}: workspace {ws} missing"));
        }
        if !users.contains(&(ws.clone(), user.clone())) {
            problems.push(format!(
                "account {user}: user item missing in workspace {ws}"
            ));
        }
    }
    for (ws, owner) in &workspaces {
        if !owners.contains(&(ws.clone(), owner.clone())) {
            problems.push(format!("workspace {ws} has no email claim for its owner"));
        }
    }
    for (ws, user) in &users {
        if !owners.contains(&(ws.clone(), user.clone())) {
            problems.push(format!("user {user} (workspace {ws}) has no email claim"));
        }
    }
    for (ws, sk, body) in &idems {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|b| b["data"]["id"].as_str().map(str::to_string));
        match message {
            Some(id) if messages.contains(&(ws.clone(), id.clone())) => {}
            Some(id) => problems.push(format!(
                "idempotency record {sk} in {ws}: message {id} missing"
            )),
            None => problems.push(format!("idempotency record {sk} in {ws}: unreadable body")),
        }
    }
    let counts = format!(
        "{} keys, {} key lookups, {} accounts, {} workspaces, {} users, {} messages, {} idempotency records",
        keys.len(),
        lookups.len(),
        claims.len(),
        workspaces.len(),
        users.len(),
        messages.len(),
        idems.len()
    );
    (counts, problems)
}

#[tokio::test]
#[ignore = "run by scripts/test.sh against the stack's local DynamoDB"]
async fn table_has_no_partial_records() {
    let endpoint = std::env::var("YEBOLINK_DYNAMODB_ENDPOINT").expect("YEBOLINK_DYNAMODB_ENDPOINT");
    let table = std::env::var("YEBOLINK_TABLE").expect("YEBOLINK_TABLE");
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "integrity"))
        .build();
    let items: Vec<Item> = aws_sdk_dynamodb::Client::from_conf(config)
        .scan()
        .table_name(&table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .expect("scan the table");
    let (counts, problems) = check(&items);
    assert!(
        problems.is_empty(),
        "table {table}: {} partial record(s) ({counts}):\n{}",
        problems.len(),
        problems.join("\n")
    );
    println!("table {table}: no partial records ({counts})");
}

#[test]
fn a_key_without_its_lookup_item_is_a_partial_record() {
    let key: Item = [
        ("pk", "WS#w"),
        ("sk", "KEY#k"),
        ("key_hash", "h"),
        ("key_id", "k"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), AttributeValue::S(v.to_string())))
    .collect();
    let (_, problems) = check(std::slice::from_ref(&key));
    assert_eq!(problems, ["key k has no lookup item"]);
    let mut lookup = key;
    lookup.insert("pk".into(), AttributeValue::S("KEYHASH#h".into()));
    lookup.insert("workspace_id".into(), AttributeValue::S("w".into()));
    let (_, problems) = check(&[lookup]);
    assert_eq!(problems, ["the lookup item of key k has no key item"]);
}
