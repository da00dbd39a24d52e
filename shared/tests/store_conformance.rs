//! One conformance suite for the `Store` contract, run against `MemoryStore` and against
//! `DynamoStore` on a real DynamoDB API (dynoxide, started by `make test`,
//! which sets `DYNAMODB_TEST_ENDPOINT`). Each DynamoDB test gets a fresh table from
//! `infra/table.json`.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use yebolink_shared::account::{DisplayName, Email};
use yebolink_shared::ids::{KeyId, MessageId, UserId, WorkspaceId};
use yebolink_shared::keys::ApiKeySecret;
use yebolink_shared::message::Channel;
use yebolink_shared::scopes::Scopes;
use yebolink_shared::store::table::create_table;
use yebolink_shared::store::*;
use yebolink_shared::testing::{created_event, deactivated_event, registered_event};
use yebolink_shared::timestamp::Timestamp;

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
    let record = ApiKeyRecord {
        id: KeyId::new(),
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
    store.record_key_use(&lookup, t0).await.unwrap();
    store
        .record_key_use(&lookup, t0.plus_seconds(30))
        .await
        .unwrap();
    assert_eq!(
        store.list_api_keys(workspace).await.unwrap()[0].last_used_at,
        Some(t0)
    );
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
        .record_key_use(&lookup, t0.plus_seconds(61))
        .await
        .unwrap();
    assert_eq!(
        store.list_api_keys(workspace).await.unwrap()[0].last_used_at,
        Some(t0.plus_seconds(61))
    );
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
        .record_key_use(&lookup, Timestamp::now())
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
    counters_are_separate_per_name_and_window_and_can_be_taken_back;
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
