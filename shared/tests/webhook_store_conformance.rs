//! The `WebhookStore` contract, run against `MemoryStore` and against `DynamoStore` on a real
//! DynamoDB API (dynoxide, `DYNAMODB_TEST_ENDPOINT`, set by `make test`): endpoints and their
//! limit, optimistic saves, deliveries created, claimed and recorded once, what is due, and
//! key expiry reminders.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use yebolink_shared::domain::account::DisplayName;
use yebolink_shared::domain::api_key::ApiKeyRecord;
use yebolink_shared::domain::audit::{AuditEventType, Target};
use yebolink_shared::domain::ids::{DeliveryId, KeyId, WebhookId, WorkspaceId};
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::policy::KeyPolicy;
use yebolink_shared::domain::scopes::Scopes;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::webhook::{
    Attempt, Delivery, DeliveryStatus, RetrySchedule, WebhookEndpoint, WebhookEventType,
    WebhookSecret, MAX_ENDPOINTS_PER_WORKSPACE,
};
use yebolink_shared::storage::dynamo::DynamoStore;
use yebolink_shared::storage::keys::KeyCreated;
use yebolink_shared::storage::memory::MemoryStore;
use yebolink_shared::storage::table::create_table;
use yebolink_shared::storage::traits::*;
use yebolink_shared::storage::webhooks::{WebhookCreated, WebhookStore};
use yebolink_shared::testing::{event, webhook_endpoint};

async fn dynamo_store() -> DynamoStore {
    let endpoint = std::env::var("DYNAMODB_TEST_ENDPOINT")
        .expect("DYNAMODB_TEST_ENDPOINT is not set: run `make test`");
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = format!("webhooks-{}", uuid::Uuid::new_v4());
    create_table(&client, &table).await.expect("create table");
    DynamoStore::new(client, table)
}

fn endpoint(workspace_id: WorkspaceId) -> WebhookEndpoint {
    let mut endpoint = webhook_endpoint(workspace_id, "https://hooks.example.com/yebolink");
    endpoint.events = vec![
        WebhookEventType::ApiKeyCreated,
        WebhookEventType::ApiKeyExpiring,
    ];
    endpoint.description = Some("ops".into());
    endpoint
}

fn created(e: &WebhookEndpoint) -> yebolink_shared::domain::audit::AuditEvent {
    event(AuditEventType::WebhookCreated, Target::Webhook { id: e.id })
}

fn failed_attempt(at: Timestamp) -> Attempt {
    Attempt {
        at,
        status_code: Some(500),
        error: None,
        duration_ms: 4,
    }
}

async fn endpoints_are_kept_whole_listed_newest_first_and_only_in_their_workspace<
    S: Store + WebhookStore,
>(
    store: &S,
) {
    let ws = WorkspaceId::new();
    let first = endpoint(ws);
    let mut second = endpoint(ws);
    second.previous_secret = Some((
        WebhookSecret::generate().unwrap(),
        Timestamp::from_unix(2_000_000_000),
    ));
    for e in [&first, &second] {
        assert_eq!(
            store.create_webhook(e, 10, &created(e)).await.unwrap(),
            WebhookCreated::Created
        );
    }
    assert_eq!(
        store.list_webhooks(ws).await.unwrap(),
        vec![second.clone(), first.clone()]
    );
    assert_eq!(
        store.get_webhook(ws, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .get_webhook(WorkspaceId::new(), first.id)
            .await
            .unwrap(),
        None
    );
    assert!(store
        .list_webhooks(WorkspaceId::new())
        .await
        .unwrap()
        .is_empty());
    let trail = store.list_audit_events(ws, 10, None, None).await.unwrap();
    assert_eq!(trail.events.len(), 2);
}

async fn a_save_applies_only_over_the_version_it_was_read_at<S: Store + WebhookStore>(store: &S) {
    let ws = WorkspaceId::new();
    let e = endpoint(ws);
    store.create_webhook(&e, 10, &created(&e)).await.unwrap();
    let mut changed = e.clone();
    changed.url = "https://other.example.com/".into();
    changed.version = 2;
    let updated = event(AuditEventType::WebhookUpdated, Target::Webhook { id: e.id });
    assert!(store.save_webhook(&changed, Some(&updated)).await.unwrap());
    // A second writer that read version 1 too loses, and writes nothing.
    let mut stale = e.clone();
    stale.description = None;
    stale.version = 2;
    assert!(!store.save_webhook(&stale, None).await.unwrap());
    assert_eq!(store.get_webhook(ws, e.id).await.unwrap(), Some(changed));
    let deleted = event(AuditEventType::WebhookDeleted, Target::Webhook { id: e.id });
    assert!(store.delete_webhook(ws, e.id, &deleted).await.unwrap());
    assert!(!store.delete_webhook(ws, e.id, &deleted).await.unwrap());
    let mut gone = e.clone();
    gone.version = 3;
    assert!(!store.save_webhook(&gone, None).await.unwrap());
}

async fn a_workspace_holds_at_most_its_endpoints_even_when_created_at_once<
    S: Store + WebhookStore + 'static,
>(
    store: Arc<S>,
) {
    let ws = WorkspaceId::new();
    let creates = (0..14).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let e = endpoint(ws);
            store
                .create_webhook(&e, MAX_ENDPOINTS_PER_WORKSPACE, &created(&e))
                .await
                .unwrap()
        })
    });
    let mut made = 0;
    for handle in creates.collect::<Vec<_>>() {
        if handle.await.unwrap() == WebhookCreated::Created {
            made += 1;
        }
    }
    assert_eq!(made, 10);
    let listed = store.list_webhooks(ws).await.unwrap();
    assert_eq!(listed.len(), 10);
    // A deleted endpoint gives its place back.
    let deleted = event(
        AuditEventType::WebhookDeleted,
        Target::Webhook { id: listed[0].id },
    );
    assert!(store
        .delete_webhook(ws, listed[0].id, &deleted)
        .await
        .unwrap());
    let e = endpoint(ws);
    assert_eq!(
        store.create_webhook(&e, 10, &created(&e)).await.unwrap(),
        WebhookCreated::Created
    );
    assert_eq!(
        store
            .create_webhook(&endpoint(ws), 10, &created(&e))
            .await
            .unwrap(),
        WebhookCreated::LimitReached
    );
}

async fn a_delivery_is_created_once_held_by_one_claim_and_recorded_once<S: Store + WebhookStore>(
    store: &S,
) {
    let e = endpoint(WorkspaceId::new());
    let now = Timestamp::now();
    let d = Delivery::new(
        DeliveryId::new(),
        &e,
        WebhookEventType::ApiKeyCreated,
        "{\"a\":1}".into(),
        now,
    );
    let lease = now.plus_seconds(60);
    assert!(store.create_delivery(&d, lease).await.unwrap());
    assert!(!store.create_delivery(&d, lease).await.unwrap());
    // Its creator holds it: nobody claims it before the lease ends.
    assert_eq!(
        store
            .claim_delivery(e.id, d.id, now, lease, true)
            .await
            .unwrap(),
        None
    );
    let tried = d.after_attempt(
        failed_attempt(now),
        &RetrySchedule::parse("30").unwrap(),
        false,
        0.0,
    );
    assert!(store.record_attempt(&tried, 0).await.unwrap());
    assert!(
        !store.record_attempt(&tried, 0).await.unwrap(),
        "a second record of the same attempt"
    );
    assert_eq!(
        store.get_delivery(e.id, d.id).await.unwrap(),
        Some(tried.clone())
    );
    // Recorded, the claim is released.
    let claimed = store
        .claim_delivery(e.id, d.id, now, lease, false)
        .await
        .unwrap();
    assert_eq!(claimed, Some(tried.clone()));
    assert_eq!(
        store
            .claim_delivery(e.id, d.id, now, lease, false)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .claim_delivery(WebhookId::new(), d.id, now, lease, true)
            .await
            .unwrap(),
        None
    );
}

async fn due_holds_retries_and_abandoned_claims_but_not_finished_or_future_ones<
    S: Store + WebhookStore,
>(
    store: &S,
) {
    let e = endpoint(WorkspaceId::new());
    let now = Timestamp::now();
    let schedule = RetrySchedule::parse("10").unwrap();
    let new = |body: &str| {
        Delivery::new(
            DeliveryId::new(),
            &e,
            WebhookEventType::ApiKeyCreated,
            body.into(),
            now,
        )
    };
    let (retry, done, abandoned) = (new("1"), new("2"), new("3"));
    for d in [&retry, &done, &abandoned] {
        store
            .create_delivery(d, now.plus_seconds(60))
            .await
            .unwrap();
    }
    store
        .record_attempt(
            &retry.after_attempt(failed_attempt(now), &schedule, false, 0.0),
            0,
        )
        .await
        .unwrap();
    let succeeded = Attempt {
        status_code: Some(204),
        ..failed_attempt(now)
    };
    store
        .record_attempt(&done.after_attempt(succeeded, &schedule, false, 0.0), 0)
        .await
        .unwrap();
    let due = |at: i64| store.due_deliveries(now.plus_seconds(at), 100);
    let mut at_11: Vec<DeliveryId> = due(11)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    at_11.sort();
    assert_eq!(at_11, vec![retry.id]);
    let mut at_60: Vec<DeliveryId> = due(60)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    at_60.sort();
    let mut expected = vec![retry.id, abandoned.id];
    expected.sort();
    assert_eq!(at_60, expected);
    assert!(due(10).await.unwrap().is_empty());
    let page = store.list_deliveries(e.id, 2, None).await.unwrap();
    assert_eq!(
        page.deliveries.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![abandoned.id, done.id]
    );
    let rest = store
        .list_deliveries(e.id, 2, page.continue_after)
        .await
        .unwrap();
    assert_eq!(
        rest.deliveries.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![retry.id]
    );
    assert_eq!(rest.continue_after, None);
    assert_eq!(
        store
            .get_delivery(e.id, done.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Succeeded
    );
}

async fn a_keys_expiry_reminders_come_due_seven_days_then_one_day_before_and_are_taken_once<
    S: Store + WebhookStore,
>(
    store: &S,
) {
    let ws = WorkspaceId::new();
    let secret = ApiKeySecret::generate().unwrap();
    let now = Timestamp::now();
    let expiry = now.plus_seconds(30 * 86_400);
    let id = KeyId::new();
    let key = ApiKeyRecord {
        id,
        workspace_id: ws,
        name: DisplayName::parse("expiring").unwrap(),
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        scopes: Scopes::all(),
        is_active: true,
        last_used_at: None,
        created_at: now,
        expires_at: Some(expiry),
        replaced_by: None,
        rotated_from: None,
        policy: KeyPolicy::default(),
        quota_id: id,
        last_used_ip: None,
    };
    let made = event(AuditEventType::ApiKeyCreated, Target::api_key(&key));
    assert_eq!(
        store.create_api_key(&key, 50, &made).await.unwrap(),
        KeyCreated::Created
    );
    let seven_days_before = expiry.plus_seconds(-7 * 86_400);
    let ours = |list: Vec<yebolink_shared::storage::webhooks::KeyReminder>| {
        list.into_iter()
            .filter(|r| r.key_id == id)
            .collect::<Vec<_>>()
    };
    assert!(ours(
        store
            .due_key_reminders(seven_days_before.plus_seconds(-1), 100)
            .await
            .unwrap()
    )
    .is_empty());
    let due = ours(
        store
            .due_key_reminders(seven_days_before, 100)
            .await
            .unwrap(),
    );
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].due_at, seven_days_before);
    let one_day_before = expiry.plus_seconds(-86_400);
    let reminded = event(AuditEventType::ApiKeyExpiring, Target::api_key(&key));
    assert!(store
        .advance_key_reminder(&due[0], Some(one_day_before), Some(&reminded))
        .await
        .unwrap());
    assert!(!store
        .advance_key_reminder(&due[0], Some(one_day_before), Some(&reminded))
        .await
        .unwrap());
    assert!(ours(
        store
            .due_key_reminders(one_day_before.plus_seconds(-1), 100)
            .await
            .unwrap()
    )
    .is_empty());
    let last = ours(store.due_key_reminders(one_day_before, 100).await.unwrap());
    assert_eq!(last[0].due_at, one_day_before);
    assert!(store
        .advance_key_reminder(&last[0], None, None)
        .await
        .unwrap());
    assert!(ours(store.due_key_reminders(expiry, 100).await.unwrap()).is_empty());
    let trail = store
        .list_audit_events(ws, 10, None, Some(AuditEventType::ApiKeyExpiring))
        .await
        .unwrap();
    assert_eq!(trail.events.len(), 1);
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
    endpoints_are_kept_whole_listed_newest_first_and_only_in_their_workspace,
    a_save_applies_only_over_the_version_it_was_read_at,
    a_delivery_is_created_once_held_by_one_claim_and_recorded_once,
    due_holds_retries_and_abandoned_claims_but_not_finished_or_future_ones,
    a_keys_expiry_reminders_come_due_seven_days_then_one_day_before_and_are_taken_once;
    a_workspace_holds_at_most_its_endpoints_even_when_created_at_once
);
