//! One conformance suite for the `Store` contract, run against `MemoryStore` and against
//! `DynamoStore` on a real DynamoDB API (dynoxide, started by `make test`,
//! which sets `DYNAMODB_TEST_ENDPOINT`). Each DynamoDB test gets a fresh table from
//! `infra/table.json`.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use yebolink_shared::domain::account::{DisplayName, Email, NewAccount};
use yebolink_shared::domain::api_key::{ApiKeyRecord, KeyStatus};
use yebolink_shared::domain::audit::{AuditEventType, Target};
use yebolink_shared::domain::ids::{KeyId, MessageId, UserId, WorkspaceId};
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::message::{Channel, IdempotencyRecord, MessageRecord};
use yebolink_shared::domain::policy::{parse_allowed_ips, parse_metadata, KeyPolicy};
use yebolink_shared::domain::scopes::Scopes;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::usage::{
    floor, Granularity, Outcome, UsageCounts, UsageRange, DAY_SECONDS, HOUR_SECONDS,
    MINUTE_RETENTION_SECONDS, MINUTE_SECONDS,
};
use yebolink_shared::services::usage::{key_series, roll_up_before};
use yebolink_shared::storage::accounts::AccountCreated;
use yebolink_shared::storage::counters::Counter;
use yebolink_shared::storage::dynamo::DynamoStore;
use yebolink_shared::storage::error::StoreError;
use yebolink_shared::storage::keys::{
    Deactivation, KeyCreated, KeyUpdate, Rotated, Rotation, Updated,
};
use yebolink_shared::storage::memory::MemoryStore;
use yebolink_shared::storage::messages::SendOutcome;
use yebolink_shared::storage::table::create_table;
use yebolink_shared::storage::traits::*;
use yebolink_shared::testing::{created_event, deactivated_event, event, registered_event};

fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let endpoint = std::env::var("DYNAMODB_TEST_ENDPOINT").expect(
        "DYNAMODB_TEST_ENDPOINT is not set: run `make test`, which starts a local DynamoDB for these tests",
    );
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A `DynamoStore` on a table of its own.
async fn dynamo_store() -> DynamoStore {
    let client = dynamo_client();
    let table = format!("conformance-{}", uuid::Uuid::new_v4());
    create_table(&client, &table).await.expect("create table");
    DynamoStore::new(client, table)
}

fn new_key(workspace_id: WorkspaceId) -> (ApiKeySecret, ApiKeyRecord) {
    let secret = ApiKeySecret::generate().unwrap();
    let id = KeyId::new();
    let record = ApiKeyRecord {
        id,
        workspace_id,
        name: DisplayName::parse("Production API Key").unwrap(),
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        scopes: Scopes::all(),
        is_active: true,
        last_used_at: None,
        created_at: Timestamp::now(),
        expires_at: None,
        replaced_by: None,
        rotated_from: None,
        policy: KeyPolicy::default(),
        quota_id: id,
        last_used_ip: None,
    };
    (secret, record)
}

fn new_message(workspace_id: WorkspaceId, text: &str) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        workspace_id,
        key_id: KeyId::new(),
        to: "+26876123456".into(),
        channel: Channel::Sms,
        text: text.into(),
        subject: None,
        status: "queued".into(),
        segments: 1,
        created_at: Timestamp::now(),
    }
}

fn account(email: &str) -> NewAccount {
    NewAccount {
        workspace_id: WorkspaceId::new(),
        workspace_name: DisplayName::parse("Acme").unwrap(),
        user_id: UserId::new(),
        email: Email::parse(email).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: Timestamp::now(),
    }
}

async fn an_email_can_register_only_once<S: Store>(store: &S) {
    let email = format!("owner-{}@acme.io", uuid::Uuid::new_v4());
    let first = account(&email);
    assert_eq!(
        store
            .create_account(&first, &registered_event(&first))
            .await
            .unwrap(),
        AccountCreated::Created
    );
    assert_eq!(
        store
            .create_account(
                &account(&email.to_uppercase()),
                &registered_event(&account(&email.to_uppercase()))
            )
            .await
            .unwrap(),
        AccountCreated::EmailTaken
    );
    let found = store.find_credentials(&first.email).await.unwrap().unwrap();
    assert_eq!(found.user_id, first.user_id);
    assert_eq!(found.workspace_id, first.workspace_id);
    assert_eq!(found.workspace_name, first.workspace_name);
    assert!(store
        .find_credentials(&Email::parse("nobody@acme.io").unwrap())
        .await
        .unwrap()
        .is_none());
}

async fn keys_list_newest_first_and_only_in_their_workspace<S: Store>(store: &S) {
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let (_, older) = new_key(mine);
    let (_, newer) = new_key(mine);
    let (_, foreign) = new_key(theirs);
    for key in [&older, &newer, &foreign] {
        store
            .create_api_key(key, u64::MAX, &created_event(key))
            .await
            .unwrap();
    }
    let listed = store.list_api_keys(mine).await.unwrap();
    assert_eq!(listed, vec![newer, older]);
}

async fn a_key_is_found_by_its_hash_until_deactivated_and_deactivation_is_final<S: Store>(
    store: &S,
) {
    let workspace = WorkspaceId::new();
    let (secret, key) = new_key(workspace);
    store
        .create_api_key(&key, u64::MAX, &created_event(&key))
        .await
        .unwrap();
    let found = store
        .find_key_by_hash(&secret.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.key_id, found.workspace_id, found.is_active),
        (key.id, workspace, true)
    );

    assert_eq!(
        store
            .deactivate_api_key(WorkspaceId::new(), key.id, deactivated_event)
            .await
            .unwrap(),
        Deactivation::NotFound
    );
    assert!(
        store
            .find_key_by_hash(&secret.hash())
            .await
            .unwrap()
            .unwrap()
            .is_active
    );

    assert_eq!(
        store
            .deactivate_api_key(workspace, key.id, deactivated_event)
            .await
            .unwrap(),
        Deactivation::Deactivated
    );
    assert!(
        !store
            .find_key_by_hash(&secret.hash())
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    assert_eq!(
        store
            .deactivate_api_key(workspace, key.id, deactivated_event)
            .await
            .unwrap(),
        Deactivation::AlreadyInactive
    );
    assert_eq!(
        store
            .deactivate_api_key(workspace, KeyId::new(), deactivated_event)
            .await
            .unwrap(),
        Deactivation::NotFound
    );
    assert!(!store.list_api_keys(workspace).await.unwrap()[0].is_active);
}

async fn key_use_is_recorded_at_most_once_a_minute<S: Store>(store: &S) {
    let workspace = WorkspaceId::new();
    let (secret, key) = new_key(workspace);
    store
        .create_api_key(&key, u64::MAX, &created_event(&key))
        .await
        .unwrap();
    let t0 = Timestamp::from_unix(Timestamp::now().unix() - 600);
    let lookup = store
        .find_key_by_hash(&secret.hash())
        .await
        .unwrap()
        .unwrap();
    store
        .record_key_use(&lookup, t0, Some("203.0.113.7"))
        .await
        .unwrap();
    store
        .record_key_use(&lookup, t0.plus_seconds(30), Some("198.51.100.1"))
        .await
        .unwrap();
    let listed = &store.list_api_keys(workspace).await.unwrap()[0];
    // The address is written with the time, as often and no more.
    assert_eq!(listed.last_used_at, Some(t0));
    assert_eq!(listed.last_used_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        store
            .find_key_by_hash(&secret.hash())
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0)
    );

    store
        .record_key_use(&lookup, t0.plus_seconds(61), Some("2001:db8::1"))
        .await
        .unwrap();
    let listed = &store.list_api_keys(workspace).await.unwrap()[0];
    assert_eq!(listed.last_used_at, Some(t0.plus_seconds(61)));
    assert_eq!(listed.last_used_ip.as_deref(), Some("2001:db8::1"));
}

async fn a_deactivated_key_records_no_use<S: Store>(store: &S) {
    let workspace = WorkspaceId::new();
    let (secret, key) = new_key(workspace);
    store
        .create_api_key(&key, u64::MAX, &created_event(&key))
        .await
        .unwrap();
    let lookup = store
        .find_key_by_hash(&secret.hash())
        .await
        .unwrap()
        .unwrap();
    store
        .deactivate_api_key(workspace, key.id, deactivated_event)
        .await
        .unwrap();
    store
        .record_key_use(&lookup, Timestamp::now(), None)
        .await
        .unwrap();
    assert_eq!(
        store.list_api_keys(workspace).await.unwrap()[0].last_used_at,
        None
    );
}

async fn concurrent_requests_are_counted_exactly<S: Store + 'static>(store: Arc<S>) {
    let key = KeyId::new();
    let window = Timestamp::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .count(Counter::KeyRequests(key), window, window.plus_seconds(120))
                .await
                .unwrap()
        });
    }
    let mut counts: Vec<u64> = tasks.join_all().await;
    counts.sort_unstable();
    assert_eq!(counts, (1..=40).collect::<Vec<u64>>());
    let other_window = window.plus_seconds(60);
    assert_eq!(
        store
            .count(Counter::KeyRequests(key), other_window, other_window)
            .await
            .unwrap(),
        1
    );
}

async fn concurrently_created_keys_are_all_unique_and_listed<S: Store + 'static>(store: Arc<S>) {
    let workspace = WorkspaceId::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let store = store.clone();
        tasks.spawn(async move {
            let (_, key) = new_key(workspace);
            store
                .create_api_key(&key, u64::MAX, &created_event(&key))
                .await
                .unwrap();
            key.id
        });
    }
    let created: HashSet<KeyId> = tasks.join_all().await.into_iter().collect();
    let listed: HashSet<KeyId> = store
        .list_api_keys(workspace)
        .await
        .unwrap()
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(created.len(), 25);
    assert_eq!(listed, created);
}

async fn an_idempotency_key_replays_its_first_record_until_it_expires<S: Store>(store: &S) {
    let workspace = WorkspaceId::new();
    let now = Timestamp::now();
    let record = |body: &str, expires_at: Timestamp| IdempotencyRecord {
        workspace_id: workspace,
        key: "order-42".into(),
        request_hash: format!("hash-of-{body}"),
        status: 201,
        body: body.into(),
        expires_at,
    };
    let first = record("first", now.plus_seconds(86_400));
    assert_eq!(
        store
            .put_message(&new_message(workspace, "a"), Some(&first), now)
            .await
            .unwrap(),
        SendOutcome::Created
    );
    let again = store
        .put_message(
            &new_message(workspace, "b"),
            Some(&record("second", now.plus_seconds(86_400))),
            now,
        )
        .await
        .unwrap();
    assert_eq!(again, SendOutcome::Replayed(first.clone()));
    // Found as it is replayed, and not once it has expired.
    let found = store.find_idempotency_record(workspace, "order-42", now);
    assert_eq!(found.await.unwrap(), Some(first.clone()));
    let expired = store.find_idempotency_record(workspace, "order-42", now.plus_seconds(86_401));
    assert_eq!(expired.await.unwrap(), None);
    let other = store.find_idempotency_record(WorkspaceId::new(), "order-42", now);
    assert_eq!(
        other.await.unwrap(),
        None,
        "another workspace's key is another record"
    );
    assert_eq!(
        store
            .list_messages(workspace, 10, None)
            .await
            .unwrap()
            .messages
            .len(),
        1
    );

    let later = now.plus_seconds(86_401);
    let renewed = record("third", later.plus_seconds(86_400));
    assert_eq!(
        store
            .put_message(&new_message(workspace, "c"), Some(&renewed), later)
            .await
            .unwrap(),
        SendOutcome::Created
    );
}

async fn messages_page_newest_first_within_their_workspace<S: Store>(store: &S) {
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let mut ids = Vec::new();
    for i in 0..5 {
        let message = new_message(mine, &format!("m{i}"));
        store
            .put_message(&message, None, Timestamp::now())
            .await
            .unwrap();
        ids.push(message.id);
        store
            .put_message(&new_message(theirs, "x"), None, Timestamp::now())
            .await
            .unwrap();
    }
    ids.reverse();
    let first = store.list_messages(mine, 2, None).await.unwrap();
    assert!(first.has_more);
    let second = store
        .list_messages(mine, 2, Some(first.messages[1].id))
        .await
        .unwrap();
    let third = store
        .list_messages(mine, 2, Some(second.messages[1].id))
        .await
        .unwrap();
    assert!(second.has_more);
    assert!(!third.has_more);
    let walked: Vec<MessageId> = [first, second, third]
        .iter()
        .flat_map(|p| p.messages.iter().map(|m| m.id))
        .collect();
    assert_eq!(walked, ids);
    let exact = store.list_messages(mine, 5, None).await.unwrap();
    assert!(!exact.has_more);

    let stored = store.get_message(mine, ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.text, "m4");
    assert!(store.get_message(theirs, ids[0]).await.unwrap().is_none());
}

async fn counters_are_separate_per_name_and_window_and_can_be_taken_back<S: Store>(store: &S) {
    let email = Email::parse(&format!("{}@acme.io", uuid::Uuid::new_v4())).unwrap();
    let window = Timestamp::from_unix(900_000);
    let expires = window.plus_seconds(1800);
    let mine = Counter::LoginAttempts {
        email: &email,
        source: "192.0.2.1",
    };
    let theirs = Counter::LoginAttempts {
        email: &email,
        source: "192.0.2.2",
    };
    let everyone = Counter::LoginAttemptsAllSources(&email);
    assert_eq!(store.count(mine, window, expires).await.unwrap(), 1);
    assert_eq!(store.count(mine, window, expires).await.unwrap(), 2);
    assert_eq!(store.count(theirs, window, expires).await.unwrap(), 1);
    assert_eq!(store.count(everyone, window, expires).await.unwrap(), 1);
    assert_eq!(
        store
            .count(mine, window.plus_seconds(900), expires)
            .await
            .unwrap(),
        1
    );
    store.uncount(mine, window).await.unwrap();
    assert_eq!(store.count(mine, window, expires).await.unwrap(), 2);
    // Taking back from a window never counted in creates nothing and never goes negative.
    let fresh = Counter::RegistrationsFromSource("192.0.2.9");
    store.uncount(fresh, window).await.unwrap();
    assert_eq!(store.count(fresh, window, expires).await.unwrap(), 1);
}

/// A key with every setting at its largest: 20 IPv6 blocks, 20 metadata entries.
fn restricted_key(workspace_id: WorkspaceId) -> (ApiKeySecret, ApiKeyRecord) {
    let (secret, mut key) = new_key(workspace_id);
    let blocks: Vec<String> = (0..20).map(|i| format!("2001:db8:{i:x}::/48")).collect();
    let metadata: serde_json::Map<String, serde_json::Value> = (0..20)
        .map(|i| (format!("label-{i}"), serde_json::json!("v".repeat(80))))
        .collect();
    key.policy = KeyPolicy {
        rate_limit_per_minute: Some(7),
        allowed_ips: Some(parse_allowed_ips(&serde_json::json!(blocks)).unwrap()),
        metadata: Some(parse_metadata(&serde_json::Value::Object(metadata)).unwrap()),
        monthly_send_limit: Some(10_000_000),
    };
    (secret, key)
}

async fn a_keys_policy_is_stored_and_its_lookup_carries_all_but_the_metadata<S: Store>(store: &S) {
    let workspace = WorkspaceId::new();
    let (_, key) = restricted_key(workspace);
    store
        .create_api_key(&key, 10, &created_event(&key))
        .await
        .unwrap();
    let stored = store.get_api_key(workspace, key.id).await.unwrap().unwrap();
    assert_eq!(stored.policy, key.policy);
    assert_eq!(stored.quota_id, key.id);
    let lookup = store
        .find_key_by_hash(&key.key_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lookup.policy.allowed_ips, key.policy.allowed_ips);
    assert_eq!(lookup.policy.rate_limit_per_minute, Some(7));
    assert_eq!(lookup.policy.monthly_send_limit, Some(10_000_000));
    assert_eq!(
        lookup.policy.metadata, None,
        "the request path never reads it"
    );
}

async fn an_edit_changes_the_key_and_its_lookup_together_with_its_event<S: Store>(store: &S) {
    let workspace = WorkspaceId::new();
    let (_, key) = new_key(workspace);
    store
        .create_api_key(&key, 10, &created_event(&key))
        .await
        .unwrap();
    let now = Timestamp::now();
    let (_, wanted) = restricted_key(workspace);
    let edited = ApiKeyRecord {
        name: DisplayName::parse("Renamed").unwrap(),
        scopes: Scopes::from_stored("read_messages").unwrap(),
        policy: wanted.policy.clone(),
        ..key.clone()
    };
    let update = |old: &ApiKeyRecord, new: &ApiKeyRecord| KeyUpdate {
        old: old.clone(),
        new: new.clone(),
        event: event(AuditEventType::ApiKeyUpdated, Target::api_key(old)),
        now,
    };
    assert_eq!(
        store.update_api_key(&update(&key, &edited)).await.unwrap(),
        Updated::Updated
    );
    assert_eq!(
        store.get_api_key(workspace, key.id).await.unwrap(),
        Some(edited.clone())
    );
    let lookup = store
        .find_key_by_hash(&key.key_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lookup.scopes, edited.scopes);
    assert_eq!(lookup.policy.allowed_ips, edited.policy.allowed_ips);

    // An edit made from a stale read changes nothing.
    let stale = ApiKeyRecord {
        name: DisplayName::parse("Lost").unwrap(),
        ..key.clone()
    };
    assert_eq!(
        store.update_api_key(&update(&key, &stale)).await.unwrap(),
        Updated::Changed
    );
    // Clearing the settings removes them from both items.
    let cleared = ApiKeyRecord {
        policy: KeyPolicy::default(),
        ..edited.clone()
    };
    assert_eq!(
        store
            .update_api_key(&update(&edited, &cleared))
            .await
            .unwrap(),
        Updated::Updated
    );
    let lookup = store
        .find_key_by_hash(&key.key_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lookup.policy, KeyPolicy::default());
    let page = store
        .list_audit_events(workspace, 10, None, Some(AuditEventType::ApiKeyUpdated))
        .await
        .unwrap();
    assert_eq!(page.events.len(), 2, "one event per edit that was written");

    // A deactivated key takes no edit.
    store
        .deactivate_api_key(workspace, key.id, deactivated_event)
        .await
        .unwrap();
    let inactive = store.get_api_key(workspace, key.id).await.unwrap().unwrap();
    let renamed = ApiKeyRecord {
        name: DisplayName::parse("Too late").unwrap(),
        ..inactive.clone()
    };
    assert_eq!(
        store
            .update_api_key(&update(&inactive, &renamed))
            .await
            .unwrap(),
        Updated::Changed
    );
}

async fn a_bounded_counter_stops_at_its_limit_and_reads_back<S: Store>(store: &S) {
    let counter = Counter::MonthlySends(KeyId::new());
    let month = Timestamp::from_unix(1_796_083_200);
    let expires = month.plus_seconds(40 * 86_400);
    assert_eq!(store.current_count(counter, month).await.unwrap(), 0);
    assert_eq!(
        store.count_up_to(counter, month, expires, 2).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.count_up_to(counter, month, expires, 2).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        store.count_up_to(counter, month, expires, 2).await.unwrap(),
        None
    );
    assert_eq!(
        store.current_count(counter, month).await.unwrap(),
        2,
        "a refusal writes nothing"
    );
    store.uncount(counter, month).await.unwrap();
    assert_eq!(
        store.count_up_to(counter, month, expires, 2).await.unwrap(),
        Some(2)
    );
    // A lowered limit refuses at once.
    assert_eq!(
        store.count_up_to(counter, month, expires, 1).await.unwrap(),
        None
    );
}

async fn parallel_bounded_counts_admit_exactly_the_limit<S: Store + 'static>(store: Arc<S>) {
    let counter_key = KeyId::new();
    let month = Timestamp::from_unix(1_796_083_200);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move {
            let counter = Counter::MonthlySends(counter_key);
            store
                .count_up_to(counter, month, month.plus_seconds(86_400), 7)
                .await
                .unwrap()
        });
    }
    let admitted: Vec<u64> = tasks.join_all().await.into_iter().flatten().collect();
    let mut sorted = admitted.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=7).collect::<Vec<_>>(), "each place taken once");
}

async fn a_workspace_holds_at_most_its_cap_of_active_keys<S: Store + 'static>(store: Arc<S>) {
    let workspace = WorkspaceId::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.spawn(async move {
            let (_, key) = new_key(workspace);
            (
                store
                    .create_api_key(&key, 4, &created_event(&key))
                    .await
                    .unwrap(),
                key.id,
            )
        });
    }
    let outcomes = tasks.join_all().await;
    let created: Vec<KeyId> = outcomes
        .iter()
        .filter(|(o, _)| *o == KeyCreated::Created)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(created.len(), 4, "{outcomes:?}");
    assert_eq!(store.list_api_keys(workspace).await.unwrap().len(), 4);
    // A deactivated key frees its slot, once, however many times it is deactivated.
    for _ in 0..3 {
        store
            .deactivate_api_key(workspace, created[0], deactivated_event)
            .await
            .unwrap();
    }
    let (_, again) = new_key(workspace);
    assert_eq!(
        store
            .create_api_key(&again, 4, &created_event(&again))
            .await
            .unwrap(),
        KeyCreated::Created
    );
    let (_, over) = new_key(workspace);
    assert_eq!(
        store
            .create_api_key(&over, 4, &created_event(&over))
            .await
            .unwrap(),
        KeyCreated::LimitReached
    );
}

/// The rotation the rotate handler would ask for: `old` replaced, working `overlap` more seconds.
fn rotation(old: &ApiKeyRecord, overlap: i64) -> (ApiKeySecret, Rotation) {
    let (secret, mut new) = new_key(old.workspace_id);
    new.rotated_from = Some(old.id);
    let now = Timestamp::now();
    let rotation = Rotation {
        old: old.clone(),
        old_expires_at: now.plus_seconds(overlap),
        new,
        event: event(AuditEventType::ApiKeyRotated, Target::api_key(old)),
    };
    (secret, rotation)
}

async fn a_rotation_hands_over_the_key_once_with_its_overlap_and_event<S: Store>(store: &S) {
    let workspace = WorkspaceId::new();
    let (old_secret, old) = new_key(workspace);
    store
        .create_api_key(&old, 1, &created_event(&old))
        .await
        .unwrap();
    let (new_secret, rotation) = rotation(&old, 60);
    assert_eq!(
        store.rotate_api_key(&rotation).await.unwrap(),
        Rotated::Rotated
    );
    // Both keys are found; the old one carries the overlap's end on its lookup item, so the
    // authorizer's one read sees it.
    let old_lookup = store
        .find_key_by_hash(&old_secret.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old_lookup.expires_at, Some(rotation.old_expires_at));
    let now = Timestamp::now();
    assert_eq!(old_lookup.status(now), KeyStatus::Active);
    assert_eq!(
        old_lookup.status(rotation.old_expires_at),
        KeyStatus::Expired
    );
    let new_lookup = store
        .find_key_by_hash(&new_secret.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new_lookup.key_id, rotation.new.id);
    assert_eq!(new_lookup.status(now), KeyStatus::Active);

    let stored_old = store.get_api_key(workspace, old.id).await.unwrap().unwrap();
    assert_eq!(stored_old.replaced_by, Some(rotation.new.id));
    let stored_new = store
        .get_api_key(workspace, rotation.new.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored_new.rotated_from, Some(old.id));

    // A second rotation of the same key is refused and writes nothing.
    let (_, again) = self::rotation(&old, 60);
    assert_eq!(
        store.rotate_api_key(&again).await.unwrap(),
        Rotated::NotRotatable
    );
    assert_eq!(store.list_api_keys(workspace).await.unwrap().len(), 2);

    // The new key took the old key's slot (cap 1): deactivating the replaced key frees
    // nothing, deactivating the new one frees the one slot.
    store
        .deactivate_api_key(workspace, old.id, deactivated_event)
        .await
        .unwrap();
    let (_, third) = new_key(workspace);
    assert_eq!(
        store
            .create_api_key(&third, 1, &created_event(&third))
            .await
            .unwrap(),
        KeyCreated::LimitReached
    );
    store
        .deactivate_api_key(workspace, rotation.new.id, deactivated_event)
        .await
        .unwrap();
    assert_eq!(
        store
            .create_api_key(&third, 1, &created_event(&third))
            .await
            .unwrap(),
        KeyCreated::Created
    );

    let trail = store
        .list_audit_events(workspace, 100, None, None)
        .await
        .unwrap();
    let types: Vec<&str> = trail.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "api_key.created",
            "api_key.deactivated",
            "api_key.deactivated",
            "api_key.rotated",
            "api_key.created"
        ]
    );
}

async fn deactivated_or_expired_keys_are_not_rotatable<S: Store>(store: &S) {
    let workspace = WorkspaceId::new();
    let (_, key) = new_key(workspace);
    store
        .create_api_key(&key, u64::MAX, &created_event(&key))
        .await
        .unwrap();
    store
        .deactivate_api_key(workspace, key.id, deactivated_event)
        .await
        .unwrap();
    assert_eq!(
        store.rotate_api_key(&rotation(&key, 60).1).await.unwrap(),
        Rotated::NotRotatable
    );

    let (_, mut expired) = new_key(workspace);
    expired.expires_at = Some(Timestamp::now().plus_seconds(-1));
    store
        .create_api_key(&expired, u64::MAX, &created_event(&expired))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_api_key(&rotation(&expired, 60).1)
            .await
            .unwrap(),
        Rotated::NotRotatable
    );
    let listed = store.list_api_keys(workspace).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|k| k.replaced_by.is_none()));
}

async fn the_audit_trail_pages_newest_first_filters_by_type_and_stays_in_its_workspace<S: Store>(
    store: &S,
) {
    let workspace = WorkspaceId::new();
    let mut written = Vec::new();
    for i in 0..7 {
        let event_type = if i % 3 == 0 {
            AuditEventType::UserLoginFailed
        } else {
            AuditEventType::UserLoginSucceeded
        };
        let e = event(event_type, Target::User { id: UserId::new() });
        store.record_audit_event(workspace, &e).await.unwrap();
        written.push(e);
    }
    store
        .record_audit_event(
            WorkspaceId::new(),
            &event(
                AuditEventType::UserLoginFailed,
                Target::User { id: UserId::new() },
            ),
        )
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_audit_events(workspace, 3, after, None)
            .await
            .unwrap();
        seen.extend(page.events.iter().cloned());
        match page.continue_after {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    let newest_first: Vec<_> = written.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let mut failed = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_audit_events(workspace, 2, after, Some(AuditEventType::UserLoginFailed))
            .await
            .unwrap();
        failed.extend(page.events.iter().map(|e| e.id));
        match page.continue_after {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    let expected: Vec<_> = newest_first
        .iter()
        .filter(|e| e.event_type == AuditEventType::UserLoginFailed)
        .map(|e| e.id)
        .collect();
    assert_eq!(failed, expected);
}

async fn a_request_moved_to_workspace_limited_leaves_its_first_count_and_never_goes_below_zero<
    S: Store,
>(
    store: &S,
) {
    let key = KeyId::new();
    let minute = floor(Timestamp::now(), MINUTE_SECONDS);
    requests(store, key, minute, Outcome::Checked, 2).await;
    requests(store, key, minute, Outcome::OutOfScope, 1).await;
    for counted_as in [Outcome::Checked, Outcome::OutOfScope, Outcome::OutOfScope] {
        store
            .move_to_workspace_limited(key, minute, counted_as)
            .await
            .unwrap();
    }
    // A minute never counted stays absent.
    store
        .move_to_workspace_limited(key, minute.plus_seconds(60), Outcome::Checked)
        .await
        .unwrap();
    let minutes = store
        .key_minutes(key, minute, minute.plus_seconds(120), 5)
        .await
        .unwrap();
    assert_eq!(minutes.len(), 1, "{minutes:?}");
    let usage = minutes[0];
    assert_eq!(
        (usage.hits, usage.out_of_scope, usage.workspace_limited),
        (1, 0, 2),
        "the second out-of-scope move found nothing to move"
    );
}

/// Counts `n` requests of `outcome` for `key` in the minute starting at `minute`.
async fn requests<S: Store>(store: &S, key: KeyId, minute: Timestamp, outcome: Outcome, n: u64) {
    for _ in 0..n {
        store
            .count_key_request(
                key,
                minute,
                minute.plus_seconds(MINUTE_RETENTION_SECONDS),
                outcome,
                3,
            )
            .await
            .unwrap();
    }
}

fn counts(requests: u64, rate_limited: u64, denied: u64) -> UsageCounts {
    UsageCounts {
        requests,
        rate_limited,
        denied,
    }
}

/// A key created two days ago, last used at `last_used`.
async fn used_key<S: Store>(store: &S, last_used: Timestamp) -> ApiKeyRecord {
    let (secret, mut key) = new_key(WorkspaceId::new());
    key.created_at = last_used.plus_seconds(-2 * DAY_SECONDS);
    store
        .create_api_key(&key, u64::MAX, &created_event(&key))
        .await
        .unwrap();
    let lookup = store
        .find_key_by_hash(&secret.hash())
        .await
        .unwrap()
        .unwrap();
    store
        .record_key_use(&lookup, last_used, None)
        .await
        .unwrap();
    store
        .get_api_key(key.workspace_id, key.id)
        .await
        .unwrap()
        .unwrap()
}

async fn usage_rolls_up_across_hour_and_day_boundaries_and_a_repeated_roll_up_counts_once<
    S: Store,
>(
    store: &S,
) {
    // Midnight UTC yesterday: minutes 23:59, 00:00 and 00:01 straddle an hour and a day.
    let day = floor(Timestamp::now(), DAY_SECONDS).plus_seconds(-DAY_SECONDS);
    let (before, at, after) = (day.plus_seconds(-60), day, day.plus_seconds(60));
    let key = used_key(store, after.plus_seconds(5)).await;
    requests(store, key.id, before, Outcome::Checked, 5).await; // limit 3: two 429s
                                                                // The first request of 00:00 rolls up 23:59, as `admit` does.
    roll_up_before(store, key.id, at).await;
    requests(store, key.id, at, Outcome::Checked, 1).await;
    requests(store, key.id, at, Outcome::OutOfScope, 2).await;
    roll_up_before(store, key.id, after).await;
    requests(store, key.id, after, Outcome::WorkspaceLimited, 4).await;

    let hours = UsageRange::new(
        Granularity::Hour,
        Some(day.plus_seconds(-2 * HOUR_SECONDS)),
        Some(day.plus_seconds(2 * HOUR_SECONDS)),
        Timestamp::now(),
    )
    .unwrap();
    let days = UsageRange::new(
        Granularity::Day,
        Some(day.plus_seconds(-DAY_SECONDS)),
        Some(day.plus_seconds(DAY_SECONDS)),
        Timestamp::now(),
    )
    .unwrap();
    let expected_hours = vec![
        (day.plus_seconds(-2 * HOUR_SECONDS), counts(0, 0, 0)),
        (day.plus_seconds(-HOUR_SECONDS), counts(5, 2, 0)),
        (day, counts(7, 4, 2)),
        (day.plus_seconds(HOUR_SECONDS), counts(0, 0, 0)),
    ];
    let expected_days = vec![
        (day.plus_seconds(-DAY_SECONDS), counts(5, 2, 0)),
        (day, counts(7, 4, 2)),
    ];
    assert_eq!(
        key_series(store, &key, &hours).await.unwrap(),
        expected_hours
    );
    assert_eq!(key_series(store, &key, &days).await.unwrap(), expected_days);

    // Every roll-up again, twice, and the last minute too: absolute values, nothing doubles.
    for _ in 0..2 {
        roll_up_before(store, key.id, at).await;
        roll_up_before(store, key.id, after).await;
        roll_up_before(store, key.id, after.plus_seconds(60)).await;
    }
    assert_eq!(
        key_series(store, &key, &hours).await.unwrap(),
        expected_hours
    );
    assert_eq!(key_series(store, &key, &days).await.unwrap(), expected_days);
    // The stored buckets alone now hold it all.
    let stored = store
        .usage_buckets(
            key.id,
            Granularity::Day,
            day.plus_seconds(-DAY_SECONDS),
            day.plus_seconds(DAY_SECONDS),
        )
        .await
        .unwrap();
    let totals: Vec<_> = stored.iter().map(|b| (b.start, b.total())).collect();
    assert_eq!(totals, expected_days);
}

/// A key used for a few minutes, then silent for a month (a monthly job): its last minute is
/// shown from the live counter meanwhile, and rolled up by the next request, a month late,
/// into the hour and day it belongs to, beside the minutes rolled up on time.
async fn a_keys_last_minute_before_a_month_of_silence_is_kept<S: Store>(store: &S) {
    let now = Timestamp::now();
    let hour = floor(now, HOUR_SECONDS).plus_seconds(-30 * DAY_SECONDS);
    let (first, last) = (hour.plus_seconds(10 * 60), hour.plus_seconds(11 * 60));
    let key = used_key(store, last.plus_seconds(5)).await;
    requests(store, key.id, first, Outcome::Checked, 2).await;
    roll_up_before(store, key.id, last).await; // the first request of `last` rolls up `first`
    requests(store, key.id, last, Outcome::Checked, 1).await;

    let month = UsageRange::new(
        Granularity::Day,
        Some(now.plus_seconds(-40 * DAY_SECONDS)),
        None,
        now,
    )
    .unwrap();
    let day = floor(hour, DAY_SECONDS);
    let on = |series: Vec<(Timestamp, UsageCounts)>| {
        series
            .into_iter()
            .find(|(start, _)| *start == day)
            .map(|(_, c)| c)
    };
    assert_eq!(
        on(key_series(store, &key, &month).await.unwrap()),
        Some(counts(3, 0, 0))
    );

    // The key's next request, a month later, rolls up `last`; the day keeps both minutes.
    roll_up_before(store, key.id, floor(now, MINUTE_SECONDS)).await;
    let stored = store
        .usage_buckets(key.id, Granularity::Day, day, day.plus_seconds(DAY_SECONDS))
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|b| b.total()).collect::<Vec<_>>(),
        [counts(3, 0, 0)]
    );
}

async fn a_request_shows_in_usage_before_any_roll_up<S: Store>(store: &S) {
    let now = Timestamp::now();
    let minute = floor(now, MINUTE_SECONDS);
    let key = used_key(store, now).await;
    requests(store, key.id, minute, Outcome::Checked, 2).await;
    let range = UsageRange::new(Granularity::Hour, None, None, now).unwrap();
    let series = key_series(store, &key, &range).await.unwrap();
    assert_eq!(series.len(), 24);
    assert_eq!(
        series.last().unwrap(),
        &(floor(now, HOUR_SECONDS), counts(2, 0, 0))
    );
    assert!(series[..23].iter().all(|(_, c)| *c == counts(0, 0, 0)));
}

async fn a_range_without_traffic_is_all_zero_buckets<S: Store>(store: &S) {
    let now = Timestamp::now();
    let key = used_key(store, now).await;
    requests(
        store,
        key.id,
        floor(now, MINUTE_SECONDS),
        Outcome::Checked,
        1,
    )
    .await;
    let quiet = UsageRange::new(
        Granularity::Day,
        Some(now.plus_seconds(-60 * DAY_SECONDS)),
        Some(now.plus_seconds(-40 * DAY_SECONDS)),
        now,
    )
    .unwrap();
    let series = key_series(store, &key, &quiet).await.unwrap();
    assert_eq!(series.len(), 21);
    assert!(series.iter().all(|(_, c)| *c == counts(0, 0, 0)));
    // A key never used has nothing anywhere.
    let (_, unused) = new_key(WorkspaceId::new());
    let recent = UsageRange::new(Granularity::Hour, None, None, now).unwrap();
    let series = key_series(store, &unused, &recent).await.unwrap();
    assert!(series.iter().all(|(_, c)| *c == counts(0, 0, 0)));
}

async fn a_deactivated_keys_usage_stays_readable<S: Store>(store: &S) {
    let now = Timestamp::now();
    let minute = floor(now, MINUTE_SECONDS).plus_seconds(-120);
    let key = used_key(store, minute.plus_seconds(1)).await;
    requests(store, key.id, minute, Outcome::Checked, 3).await;
    roll_up_before(store, key.id, minute.plus_seconds(60)).await;
    store
        .deactivate_api_key(key.workspace_id, key.id, deactivated_event)
        .await
        .unwrap();
    let key = store
        .get_api_key(key.workspace_id, key.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!key.is_active);
    let range = UsageRange::new(Granularity::Day, None, None, now).unwrap();
    let series = key_series(store, &key, &range).await.unwrap();
    assert_eq!(series.last().unwrap().1, counts(3, 0, 0));
}

macro_rules! conformance {
    ($($name:ident),* ; $($shared:ident),*) => {
        mod memory {
            use super::*;
            $( #[tokio::test] async fn $name() { super::$name(&MemoryStore::new()).await } )*
            $( #[tokio::test] async fn $shared() { super::$shared(Arc::new(MemoryStore::new())).await } )*
        }
        mod dynamo {
            use super::*;
            $( #[tokio::test] async fn $name() { super::$name(&dynamo_store().await).await } )*
            $( #[tokio::test] async fn $shared() { super::$shared(Arc::new(dynamo_store().await)).await } )*
        }
    };
}

conformance!(
    an_email_can_register_only_once,
    keys_list_newest_first_and_only_in_their_workspace,
    a_key_is_found_by_its_hash_until_deactivated_and_deactivation_is_final,
    key_use_is_recorded_at_most_once_a_minute,
    a_deactivated_key_records_no_use,
    an_idempotency_key_replays_its_first_record_until_it_expires,
    messages_page_newest_first_within_their_workspace,
    counters_are_separate_per_name_and_window_and_can_be_taken_back,
    a_rotation_hands_over_the_key_once_with_its_overlap_and_event,
    deactivated_or_expired_keys_are_not_rotatable,
    the_audit_trail_pages_newest_first_filters_by_type_and_stays_in_its_workspace,
    usage_rolls_up_across_hour_and_day_boundaries_and_a_repeated_roll_up_counts_once,
    a_request_shows_in_usage_before_any_roll_up,
    a_request_moved_to_workspace_limited_leaves_its_first_count_and_never_goes_below_zero,
    a_keys_last_minute_before_a_month_of_silence_is_kept,
    a_range_without_traffic_is_all_zero_buckets,
    a_deactivated_keys_usage_stays_readable,
    a_keys_policy_is_stored_and_its_lookup_carries_all_but_the_metadata,
    an_edit_changes_the_key_and_its_lookup_together_with_its_event,
    a_bounded_counter_stops_at_its_limit_and_reads_back;
    parallel_bounded_counts_admit_exactly_the_limit,
    concurrent_requests_are_counted_exactly,
    concurrently_created_keys_are_all_unique_and_listed,
    a_workspace_holds_at_most_its_cap_of_active_keys
);

/// Reads every raw item of the table.
async fn all_items(store: &DynamoStore) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    store
        .client()
        .scan()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

#[tokio::test]
async fn the_full_key_is_never_stored_and_no_key_item_lacks_its_lookup() {
    let store = dynamo_store().await;
    let workspace = WorkspaceId::new();
    let mut secrets = Vec::new();
    for deactivate in [false, true] {
        let (secret, key) = new_key(workspace);
        store
            .create_api_key(&key, u64::MAX, &created_event(&key))
            .await
            .unwrap();
        if deactivate {
            store
                .deactivate_api_key(workspace, key.id, deactivated_event)
                .await
                .unwrap();
        }
        secrets.push(secret.expose_once());
    }
    let items = all_items(&store).await;
    let dump = format!("{items:?}");
    for secret in &secrets {
        assert!(!dump.contains(&secret[4..]), "a full key is stored");
    }
    let hashes_of = |prefix: &str| -> HashSet<String> {
        items
            .iter()
            .filter(|item| matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with(prefix)) || matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with(prefix)))
            .filter_map(|item| match item.get("key_hash") {
                Some(AttributeValue::S(hash)) => Some(hash.clone()),
                _ => None,
            })
            .collect()
    };
    let key_items = hashes_of("KEY#");
    let lookup_items = hashes_of("KEYHASH#");
    assert_eq!(key_items.len(), 2);
    assert_eq!(key_items, lookup_items);
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_unavailable() {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), "missing");
    let result = store
        .find_key_by_hash(&ApiKeySecret::generate().unwrap().hash())
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}
