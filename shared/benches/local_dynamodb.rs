//! What the local DynamoDB (dynoxide) costs the functions, through the real `DynamoStore`: a
//! one-partition `Query` (a page of message history, and a workspace's key list) with 2,000
//! items in the partition, and a two-item transaction (key creation). Needs the endpoint of a
//! running local DynamoDB: `make bench` starts one, or by hand
//! `DYNAMODB_TEST_ENDPOINT=http://127.0.0.1:8000 cargo bench -p yebolink-shared --bench local_dynamodb`.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use criterion::{criterion_group, criterion_main, Criterion};
use yebolink_shared::domain::account::DisplayName;
use yebolink_shared::domain::api_key::ApiKeyRecord;
use yebolink_shared::domain::ids::{KeyId, MessageId, WorkspaceId};
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::message::{Channel, MessageRecord};
use yebolink_shared::domain::policy::KeyPolicy;
use yebolink_shared::domain::scopes::Scopes;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::storage::dynamo::DynamoStore;
use yebolink_shared::storage::table::create_table;
use yebolink_shared::storage::traits::*;
use yebolink_shared::testing::created_event;

const ITEMS: usize = 2_000;

fn store(rt: &tokio::runtime::Runtime) -> DynamoStore {
    let endpoint = std::env::var("DYNAMODB_TEST_ENDPOINT")
        .expect("DYNAMODB_TEST_ENDPOINT: the URL of a running local DynamoDB");
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = format!("bench-{}", uuid::Uuid::new_v4());
    rt.block_on(create_table(&client, &table))
        .expect("create table");
    DynamoStore::new(client, table)
}

fn message(workspace_id: WorkspaceId) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        workspace_id,
        key_id: KeyId::new(),
        to: "+26876123456".into(),
        channel: Channel::Sms,
        text: "Hello from YeboLink".into(),
        subject: None,
        status: "queued".into(),
        segments: 1,
        created_at: Timestamp::now(),
    }
}

fn key(workspace_id: WorkspaceId, n: usize) -> (ApiKeySecret, ApiKeyRecord) {
    let secret = ApiKeySecret::generate().expect("entropy");
    let id = KeyId::new();
    let record = ApiKeyRecord {
        id,
        workspace_id,
        name: DisplayName::parse(&format!("key {n}")).expect("name"),
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

fn local_dynamodb(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let store = store(&rt);
    let workspace = WorkspaceId::new();
    rt.block_on(async {
        for _ in 0..ITEMS {
            let m = message(workspace);
            store
                .put_message(&m, None, m.created_at)
                .await
                .expect("put");
        }
        for n in 0..20 {
            let (_, record) = key(workspace, n);
            store
                .create_api_key(&record, u64::MAX, &created_event(&record))
                .await
                .expect("key");
        }
    });
    let mut group = c.benchmark_group("local_dynamodb");
    group.bench_function("query_message_page_of_20_in_2000", |b| {
        b.iter(|| {
            rt.block_on(store.list_messages(workspace, 20, None))
                .expect("query")
        })
    });
    group.bench_function("query_key_list_of_20_beside_2000_messages", |b| {
        b.iter(|| rt.block_on(store.list_api_keys(workspace)).expect("query"))
    });
    let mut n = 20;
    group.bench_function("transaction_create_api_key", |b| {
        b.iter(|| {
            n += 1;
            let (_, record) = key(workspace, n);
            rt.block_on(store.create_api_key(&record, u64::MAX, &created_event(&record)))
                .expect("create")
        })
    });
    group.finish();
}

criterion_group!(benches, local_dynamodb);
criterion_main!(benches);
