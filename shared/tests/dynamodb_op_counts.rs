//! DynamoDB operations per request, counted, not estimated: an SDK interceptor on the client
//! records every operation the code sends (and every HTTP attempt), against a real DynamoDB API
//! (the local emulator that `make test` starts and names in `DYNAMODB_TEST_ENDPOINT`). Each test
//! has a table of its own.
//!
//! The request paths are driven through the same shared code the functions call: the
//! authorizer's `services::auth::decide`, the messaging gate `http::gate::admit` (as deployed:
//! identity from the authorizer context), and the `Store` calls each handler makes after it. These counts are
//! the ones the cost table prices (docs/deploy.md, "Cost per million requests").

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeDeserializationInterceptorContextRef,
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use yebolink_shared::bootstrap::config::Config;
use yebolink_shared::bootstrap::sdk::{sdk_timeouts, start_warm_up};
use yebolink_shared::domain::account::{DisplayName, Email, NewAccount};
use yebolink_shared::domain::api_key::ApiKeyRecord;
use yebolink_shared::domain::audit::{AuditEventType, Target};
use yebolink_shared::domain::ids::{KeyId, MessageId, UserId, WorkspaceId};
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::message::{Channel, IdempotencyRecord, MessageRecord};
use yebolink_shared::domain::policy::KeyPolicy;
use yebolink_shared::domain::scopes::{Scope, Scopes};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::domain::usage::{
    floor, Granularity, MinuteUsage, Outcome, UsageRange, DAY_SECONDS, HOUR_SECONDS,
    MINUTE_RETENTION_SECONDS, MINUTE_SECONDS,
};
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::presented;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::gate::{
    admit_alongside_at, admit_at, admit_then, ADMIT_ALONGSIDE_CALLS, ADMIT_THEN_CALLS,
};
use yebolink_shared::lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use yebolink_shared::lambda_http::http::{HeaderMap, HeaderValue};
use yebolink_shared::lambda_http::request::RequestContext;
use yebolink_shared::lambda_http::{Body, Request, RequestExt};
use yebolink_shared::services::auth::{context_for, decide, Credential, KeyCaller, Principal};
use yebolink_shared::services::jwt::JwtKeys;
use yebolink_shared::services::usage::key_series;
use yebolink_shared::storage::accounts::AccountCreated;
use yebolink_shared::storage::counters::Counter;
use yebolink_shared::storage::dynamo::DynamoStore;
use yebolink_shared::storage::error::StoreError;
use yebolink_shared::storage::keys::{Deactivation, KeyCreated, Rotated, Rotation};
use yebolink_shared::storage::messages::SendOutcome;
use yebolink_shared::storage::table::create_table;
use yebolink_shared::storage::traits::*;
use yebolink_shared::testing::{created_event, deactivated_event, event, registered_event};

/// One DynamoDB operation as the code asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    GetItem {
        consistent: bool,
    },
    Query {
        consistent: bool,
    },
    UpdateItem,
    PutItem,
    /// Items by kind; each item costs 2 WRU per KB (transactional).
    TransactWriteItems {
        puts: usize,
        updates: usize,
    },
    Other(String),
}

const GET_CONSISTENT: Op = Op::GetItem { consistent: true };

/// Records operations (`read_before_execution`: once per operation, whatever the retries),
/// HTTP attempts (`read_before_transmit`: once per request sent, by `X-Amz-Target`), and each
/// attempt's request sent and answer received, in order (`exchanges`).
#[derive(Debug, Clone, Default)]
struct OpRecorder {
    ops: Arc<Mutex<Vec<Op>>>,
    attempts: Arc<Mutex<Vec<String>>>,
    exchanges: Arc<Mutex<Vec<&'static str>>>,
}

impl OpRecorder {
    /// The operations recorded since the last call; asserts that none was retried.
    fn take(&self) -> Vec<Op> {
        let ops = std::mem::take(&mut *self.ops.lock().unwrap());
        let attempts = std::mem::take(&mut *self.attempts.lock().unwrap());
        let names: Vec<String> = ops.iter().map(op_name).collect();
        assert_eq!(attempts, names, "an operation was retried or not sent");
        ops
    }
}

fn op_name(op: &Op) -> String {
    match op {
        Op::GetItem { .. } => "GetItem".into(),
        Op::Query { .. } => "Query".into(),
        Op::UpdateItem => "UpdateItem".into(),
        Op::PutItem => "PutItem".into(),
        Op::TransactWriteItems { .. } => "TransactWriteItems".into(),
        Op::Other(name) => name.clone(),
    }
}

impl Intercept for OpRecorder {
    fn name(&self) -> &'static str {
        "OpRecorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let op = if let Some(get) = input.downcast_ref::<GetItemInput>() {
            Op::GetItem {
                consistent: get.consistent_read() == Some(true),
            }
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            Op::Query {
                consistent: query.consistent_read() == Some(true),
            }
        } else if input.downcast_ref::<UpdateItemInput>().is_some() {
            Op::UpdateItem
        } else if input.downcast_ref::<PutItemInput>().is_some() {
            Op::PutItem
        } else if let Some(tx) = input.downcast_ref::<TransactWriteItemsInput>() {
            let items = tx.transact_items();
            assert!(
                items
                    .iter()
                    .all(|i| i.delete().is_none() && i.condition_check().is_none()),
                "unexpected transaction item kind"
            );
            Op::TransactWriteItems {
                puts: items.iter().filter(|i| i.put().is_some()).count(),
                updates: items.iter().filter(|i| i.update().is_some()).count(),
            }
        } else {
            Op::Other(format!("{input:?}"))
        };
        self.ops.lock().unwrap().push(op);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let name = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.attempts.lock().unwrap().push(name);
        self.exchanges.lock().unwrap().push("sent");
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.exchanges.lock().unwrap().push("answered");
        Ok(())
    }
}

fn client_config() -> aws_sdk_dynamodb::config::Builder {
    let endpoint = std::env::var("DYNAMODB_TEST_ENDPOINT").expect(
        "DYNAMODB_TEST_ENDPOINT is not set: run `make test`, which starts the local DynamoDB",
    );
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
}

/// A `DynamoStore` on a fresh table whose client reports every operation to the recorder.
async fn counted_store() -> (DynamoStore, OpRecorder) {
    counted_store_via(client_config(), OpRecorder::default()).await
}

/// `counted_store` with the store's client built from `config` and reporting to `recorder`.
async fn counted_store_via(
    config: aws_sdk_dynamodb::config::Builder,
    recorder: OpRecorder,
) -> (DynamoStore, OpRecorder) {
    let table = format!("opcounts-{}", uuid::Uuid::new_v4());
    let setup = aws_sdk_dynamodb::Client::from_conf(client_config().build());
    create_table(&setup, &table).await.expect("create table");
    let client = aws_sdk_dynamodb::Client::from_conf(config.interceptor(recorder.clone()).build());
    (DynamoStore::new(client, table), recorder)
}

/// A TCP proxy in front of the local DynamoDB that writes "connected" into `exchanges` (beside
/// the recorder's "sent" and "answered") for each connection it accepts. Its address, and the
/// address of each client it has accepted, in order.
async fn connection_logging_proxy(
    exchanges: Arc<Mutex<Vec<&'static str>>>,
) -> (SocketAddr, Arc<Mutex<Vec<SocketAddr>>>) {
    let upstream = std::env::var("DYNAMODB_TEST_ENDPOINT").expect("DYNAMODB_TEST_ENDPOINT");
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
    let clients = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut client, peer)) = listener.accept().await {
            exchanges.lock().unwrap().push("connected");
            clients.lock().unwrap().push(peer);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (address, accepted)
}

/// The cold start's warm-up read runs beside the rest of the init; the first request's call
/// waits for its answer, so it goes out on the warm-up's connection instead of racing it on a
/// new one (in AWS: a second TLS handshake, in the first request).
#[tokio::test]
async fn the_first_call_waits_for_the_cold_starts_warm_up_read() {
    let (store, ops) = counted_store().await;
    start_warm_up(&store, 1);
    // At once, as the first request right after the init.
    assert!(store
        .list_api_keys(WorkspaceId::new())
        .await
        .unwrap()
        .is_empty());
    let warm_up = Op::GetItem { consistent: false };
    assert_eq!(ops.take(), [warm_up, Op::Query { consistent: true }]);
    assert_eq!(
        *ops.exchanges.lock().unwrap(),
        ["sent", "answered", "sent", "answered"]
    );
}

/// A messaging request makes several calls at once (the two counters, and the read beside
/// them): the cold start's warm-up opens a connection for each, so the first request opens
/// none of its own (in AWS: no TLS handshake in it). Every connection the proxy sees opening
/// is opened before the first request's first call is sent.
#[tokio::test]
async fn a_cold_messaging_request_finds_a_connection_open_for_each_call_it_makes_at_once() {
    let key = caller();
    let read = async |app: &App<DynamoStore>| {
        let request = authorized_request(&key);
        let list =
            async |key: &KeyCaller| app.store.list_messages(key.workspace_id, 20, None).await;
        let (_, page) = admit_alongside_at(app, &request, Scope::ReadMessages, gate_time(), list)
            .await
            .unwrap();
        assert!(page.unwrap().messages.is_empty());
    };
    let send = async |app: &App<DynamoStore>| {
        let request = authorized_request(&key);
        let put = async |key: &KeyCaller| {
            let sent = message(key);
            app.store.put_message(&sent, None, Timestamp::now()).await
        };
        let (_, put) = admit_then(app, &request, Scope::SendMessages, put)
            .await
            .unwrap();
        put.unwrap();
    };
    assert_eq!(
        connections_opened_by(ADMIT_ALONGSIDE_CALLS, read).await,
        (3, 0)
    );
    assert_eq!(connections_opened_by(ADMIT_THEN_CALLS, send).await, (2, 0));
}

/// A fresh store behind a connection-logging proxy, its warm-up of `connections` started,
/// then `request` at once: the connections opened before the request's first call was sent,
/// and after.
async fn connections_opened_by(
    connections: usize,
    request: impl AsyncFnOnce(&App<DynamoStore>),
) -> (usize, usize) {
    let recorder = OpRecorder::default();
    let (proxy, accepted) = connection_logging_proxy(recorder.exchanges.clone()).await;
    let config = client_config().endpoint_url(format!("http://{proxy}"));
    let (store, _) = counted_store_via(config, recorder.clone()).await;
    start_warm_up(&store, connections);
    request(&app(store, 100)).await;
    // A call that found no idle connection started one, and may have taken another call's
    // connection before its own was accepted. The proxy accepts in order, so once it has
    // accepted this last connection it has accepted every one started before it.
    let last = tokio::net::TcpStream::connect(proxy).await.unwrap();
    let last_accepted = || {
        accepted
            .lock()
            .unwrap()
            .contains(&last.local_addr().unwrap())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !last_accepted() {
        assert!(
            std::time::Instant::now() < deadline,
            "the proxy never accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let mut exchanges = recorder.exchanges.lock().unwrap().clone();
    let own = exchanges.iter().rposition(|e| *e == "connected");
    exchanges.remove(own.expect("this test's own connection"));
    let sent = exchanges.iter().enumerate().filter(|(_, e)| **e == "sent");
    let first_call = sent
        .map(|(at, _)| at)
        .nth(connections)
        .expect("the request sent nothing");
    let opened = |events: &[&str]| events.iter().filter(|e| **e == "connected").count();
    (
        opened(&exchanges[..first_call]),
        opened(&exchanges[first_call..]),
    )
}

fn config() -> Config {
    Config::from_lookup(|name| (name == "TABLE_NAME").then(|| "unused".into())).expect("config")
}

async fn seed_key(store: &DynamoStore, last_used_at: Option<Timestamp>) -> (String, ApiKeyRecord) {
    let secret = ApiKeySecret::generate().unwrap();
    let id = KeyId::new();
    let record = ApiKeyRecord {
        id,
        workspace_id: WorkspaceId::new(),
        name: DisplayName::parse("Production API Key").unwrap(),
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        scopes: Scopes::all(),
        is_active: true,
        last_used_at,
        created_at: Timestamp::now(),
        expires_at: None,
        replaced_by: None,
        rotated_from: None,
        policy: KeyPolicy::default(),
        quota_id: id,
        last_used_ip: None,
    };
    assert_eq!(
        store
            .create_api_key(&record, 50, &created_event(&record))
            .await
            .unwrap(),
        KeyCreated::Created
    );
    (secret.expose_once(), record)
}

/// What the rotate handler writes for `old`, read as it reads it: a new key with the old key's
/// name and scopes, the old key working for another day.
async fn rotation_of(store: &DynamoStore, old: &ApiKeyRecord) -> Rotation {
    let old = store
        .get_api_key(old.workspace_id, old.id)
        .await
        .unwrap()
        .unwrap();
    let secret = ApiKeySecret::generate().unwrap();
    let id = KeyId::new();
    let new = ApiKeyRecord {
        id,
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        rotated_from: Some(old.id),
        created_at: Timestamp::now(),
        ..old.clone()
    };
    Rotation {
        old_expires_at: Timestamp::now().plus_seconds(86_400),
        event: event(AuditEventType::ApiKeyRotated, Target::api_key(&old)),
        old,
        new,
    }
}

fn headers(name: &str, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        yebolink_shared::lambda_http::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    headers
}

/// The authorizer's decision for a messaging route presenting `key`.
async fn authorize_key(
    store: &DynamoStore,
    key: &str,
    now: Timestamp,
) -> Result<Principal, ApiError> {
    decide(
        store,
        None,
        presented(&headers("x-api-key", key)),
        Credential::ApiKey,
        now,
    )
    .await
    .map_err(ApiError::from)
}

#[tokio::test]
async fn a_valid_key_used_in_the_last_minute_costs_exactly_one_consistent_read() {
    let (store, ops) = counted_store().await;
    let t0 = Timestamp::now();
    let (key, record) = seed_key(&store, Some(t0)).await;
    ops.take();

    for later in [0, 1, 30, 59] {
        let principal = authorize_key(&store, &key, t0.plus_seconds(later))
            .await
            .unwrap();
        assert!(matches!(principal, Principal::ApiKey(ref k) if k.key_id == record.id));
        assert_eq!(ops.take(), [GET_CONSISTENT], "{later} s after the last use");
    }
}

#[tokio::test]
async fn the_first_use_in_a_minute_adds_one_last_used_transaction() {
    let (store, ops) = counted_store().await;
    let (key, _) = seed_key(&store, None).await;
    ops.take();
    let t0 = Timestamp::now();
    let touch = Op::TransactWriteItems {
        puts: 0,
        updates: 2,
    };

    // Never used: one read, then last_used_at on the lookup item and the key item, together.
    authorize_key(&store, &key, t0).await.unwrap();
    assert_eq!(ops.take(), [GET_CONSISTENT, touch.clone()]);
    // Within the minute: the read alone.
    authorize_key(&store, &key, t0.plus_seconds(1))
        .await
        .unwrap();
    assert_eq!(ops.take(), [GET_CONSISTENT]);
    // A minute later: at most one write per key per minute.
    authorize_key(&store, &key, t0.plus_seconds(60))
        .await
        .unwrap();
    assert_eq!(ops.take(), [GET_CONSISTENT, touch]);
    authorize_key(&store, &key, t0.plus_seconds(61))
        .await
        .unwrap();
    assert_eq!(ops.take(), [GET_CONSISTENT]);
}

#[tokio::test]
async fn malformed_keys_cost_no_call_and_unknown_or_deactivated_keys_one_read() {
    let (store, ops) = counted_store().await;
    let (key, record) = seed_key(&store, None).await;
    let mut typo = key.clone().into_bytes();
    typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    ops.take();
    let now = Timestamp::now();

    for garbage in [
        "garbage",
        "ybk_",
        typo.as_str(),
        "ybk_1234567890abcdef1234567890abcdef1234567890abcdef",
        &key.to_uppercase(),
    ] {
        let denial = authorize_key(&store, garbage, now).await.err();
        assert_eq!(denial, Some(ApiError::InvalidApiKey));
        assert_eq!(ops.take(), [], "{garbage:?} reached DynamoDB");
    }
    let missing = decide(
        &store,
        None,
        presented(&HeaderMap::new()),
        Credential::ApiKey,
        now,
    )
    .await;
    assert_eq!(
        missing.map_err(ApiError::from).err(),
        Some(ApiError::InvalidApiKey)
    );
    assert_eq!(ops.take(), []);

    // Well formed, right checksum, never issued: the one read, nothing written.
    let unknown = ApiKeySecret::generate().unwrap().expose_once();
    let denial = authorize_key(&store, &unknown, now).await.err();
    assert_eq!(denial, Some(ApiError::InvalidApiKey));
    assert_eq!(ops.take(), [GET_CONSISTENT]);

    store
        .deactivate_api_key(record.workspace_id, record.id, deactivated_event)
        .await
        .unwrap();
    ops.take();
    let denial = authorize_key(&store, &key, now).await.err();
    assert_eq!(denial, Some(ApiError::InvalidApiKey));
    assert_eq!(ops.take(), [GET_CONSISTENT]);
}

#[tokio::test]
async fn expiry_and_a_rotations_overlap_are_decided_by_the_same_one_read() {
    let (store, ops) = counted_store().await;
    let (old_key, old) = seed_key(&store, None).await;
    let rotation = rotation_of(&store, &old).await;
    assert_eq!(
        store.rotate_api_key(&rotation).await.unwrap(),
        Rotated::Rotated
    );
    ops.take();

    // During the overlap the old key is admitted with one read (its last use is written once
    // a minute, as for any key); from the overlap's end, refused with that one read and no write.
    let during = Timestamp::now();
    assert!(authorize_key(&store, &old_key, during).await.is_ok());
    assert_eq!(ops.take()[0], GET_CONSISTENT);
    let after = rotation.old_expires_at;
    let denial = authorize_key(&store, &old_key, after).await.err();
    assert_eq!(denial, Some(ApiError::InvalidApiKey));
    assert_eq!(ops.take(), [GET_CONSISTENT]);
}

#[tokio::test]
async fn management_routes_are_decided_without_dynamodb() {
    let (store, ops) = counted_store().await;
    let (key, _) = seed_key(&store, None).await;
    ops.take();
    let jwt = JwtKeys::new(b"op-count-secret-op-count-secret-0123456", &config().tokens);
    let token = jwt
        .issue(UserId::new(), WorkspaceId::new(), Timestamp::now())
        .unwrap();
    let now = Timestamp::now();

    let user = decide(
        &store,
        Some(&jwt),
        presented(&headers("authorization", &format!("Bearer {token}"))),
        Credential::UserToken,
        now,
    )
    .await;
    assert!(matches!(user, Ok(Principal::User(_))));
    let key_on_management = decide(
        &store,
        Some(&jwt),
        presented(&headers("x-api-key", &key)),
        Credential::UserToken,
        now,
    )
    .await;
    assert_eq!(
        key_on_management.map_err(ApiError::from).err(),
        Some(ApiError::Unauthorized)
    );
    assert_eq!(ops.take(), []);
}

/// A messaging request as API Gateway delivers it once the authorizer allowed `key`.
fn authorized_request(key: &KeyCaller) -> Request {
    let mut context = ApiGatewayProxyRequestContext::default();
    context.authorizer.fields = context_for(&Principal::ApiKey(key.clone()));
    yebolink_shared::lambda_http::http::Request::builder()
        .method("POST")
        .uri("/api/v1/messages/send")
        .body(Body::Empty)
        .unwrap()
        .with_request_context(RequestContext::ApiGatewayV1(context))
}

fn app(store: DynamoStore, limit: u64) -> App<DynamoStore> {
    let mut config = config();
    config.limits.rate_limit_per_minute = limit;
    assert!(
        !config.local_inline_auth,
        "counts are for the deployed mode"
    );
    App {
        store,
        limits: config.limits,
        jwt: None,
        local_inline_auth: false,
    }
}

fn message(key: &KeyCaller) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        workspace_id: key.workspace_id,
        key_id: key.key_id,
        to: "+26876123456".into(),
        channel: Channel::Sms,
        text: "Hello from YeboLink".into(),
        subject: None,
        status: "queued".into(),
        segments: 1,
        created_at: Timestamp::now(),
    }
}

/// One fixed moment for every gate call of this file: a test's requests then never straddle
/// a minute by chance (the first request of a key's minute also runs its roll-up).
fn gate_time() -> Timestamp {
    static NOW: std::sync::OnceLock<Timestamp> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| floor(Timestamp::now(), MINUTE_SECONDS).plus_seconds(30))
}

async fn admit(
    app: &App<DynamoStore>,
    req: &Request,
    scope: Scope,
) -> Result<
    (KeyCaller, yebolink_shared::domain::window::Quota),
    yebolink_shared::lambda_http::Response<Body>,
> {
    admit_at(app, req, scope, gate_time()).await
}

/// The gate's roll-up look-up on a key's first request of a minute: one small consistent
/// Query of the key's latest earlier minute counters (nothing to write for a new key).
const ROLL_UP_QUERY: Op = Op::Query { consistent: true };

fn caller() -> KeyCaller {
    KeyCaller::new(KeyId::new(), WorkspaceId::new(), Scopes::all())
}

#[tokio::test]
async fn send_message_is_two_counter_updates_and_one_conditional_put() {
    let (store, ops) = counted_store().await;
    let app = app(store, 100);
    let key = caller();

    // The gate: identity from the authorizer context (no call), one counted request for the
    // workspace, then one for the key (which also records the outcome: usage); the key's
    // first request of the minute looks for earlier minutes to roll up.
    let (admitted, quota) = admit(&app, &authorized_request(&key), Scope::SendMessages)
        .await
        .unwrap();
    assert_eq!((admitted.key_id, quota.remaining), (key.key_id, 99));
    assert_eq!(ops.take(), [Op::UpdateItem, Op::UpdateItem, ROLL_UP_QUERY]);
    admit(&app, &authorized_request(&key), Scope::SendMessages)
        .await
        .unwrap();
    assert_eq!(ops.take(), [Op::UpdateItem, Op::UpdateItem]);

    let outcome = app
        .store
        .put_message(&message(&key), None, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(outcome, SendOutcome::Created);
    // One item needs no transaction: a conditional put costs half a transactional one.
    assert_eq!(ops.take(), [Op::PutItem]);
}

#[tokio::test]
async fn an_idempotency_key_adds_its_record_to_the_same_transaction() {
    let (store, ops) = counted_store().await;
    let app = app(store, 100);
    let key = caller();
    let now = Timestamp::now();
    let record = IdempotencyRecord {
        workspace_id: key.workspace_id,
        key: "order-1234".into(),
        request_hash: "f".repeat(64),
        status: 201,
        body: r#"{"success":true}"#.into(),
        expires_at: now.plus_seconds(24 * 60 * 60),
    };
    let both = Op::TransactWriteItems {
        puts: 2,
        updates: 0,
    };

    admit(&app, &authorized_request(&key), Scope::SendMessages)
        .await
        .unwrap();
    let outcome = app
        .store
        .put_message(&message(&key), Some(&record), now)
        .await
        .unwrap();
    assert_eq!(outcome, SendOutcome::Created);
    assert_eq!(
        ops.take(),
        [Op::UpdateItem, Op::UpdateItem, ROLL_UP_QUERY, both.clone()]
    );

    // A retry: the transaction is cancelled by the record's condition, and the stored response
    // is read back (one consistent read) to be replayed.
    admit(&app, &authorized_request(&key), Scope::SendMessages)
        .await
        .unwrap();
    let outcome = app
        .store
        .put_message(&message(&key), Some(&record), now)
        .await
        .unwrap();
    assert!(matches!(outcome, SendOutcome::Replayed(ref first) if first.body == record.body));
    assert_eq!(
        ops.take(),
        [Op::UpdateItem, Op::UpdateItem, both, GET_CONSISTENT]
    );
}

#[tokio::test]
async fn a_refused_request_costs_its_counter_updates_only() {
    let (store, ops) = counted_store().await;
    let mut app = app(store, 1);
    // A key's second request, after its first was admitted: its status and what it cost.
    let second = async |app: &App<DynamoStore>| {
        let key = caller();
        admit(app, &authorized_request(&key), Scope::SendMessages)
            .await
            .unwrap();
        ops.take();
        let refusal = admit(app, &authorized_request(&key), Scope::SendMessages).await;
        (refusal.err().map(|r| r.status().as_u16()), ops.take())
    };
    // Over the limit: refused after the counter updates, before any handler work.
    assert_eq!(
        second(&app).await,
        (Some(429), vec![Op::UpdateItem, Op::UpdateItem])
    );

    // Missing scope: 403, also after counting.
    let read_only = KeyCaller {
        scopes: Scopes::from_stored("read_messages").unwrap(),
        ..caller()
    };
    let refusal = admit(&app, &authorized_request(&read_only), Scope::SendMessages).await;
    assert_eq!(refusal.err().map(|r| r.status().as_u16()), Some(403));
    assert_eq!(ops.take(), [Op::UpdateItem, Op::UpdateItem, ROLL_UP_QUERY]);

    // Over the workspace's limit: one more update moves the key's count to workspace-limited.
    app.limits.workspace_rate_limit_per_minute = 1;
    assert_eq!(second(&app).await, (Some(429), vec![Op::UpdateItem; 3]));
}

#[tokio::test]
async fn reading_messages_is_two_counter_updates_and_one_read() {
    let (store, ops) = counted_store().await;
    let app = app(store, 100);
    let key = caller();
    let sent = message(&key);
    app.store
        .put_message(&sent, None, Timestamp::now())
        .await
        .unwrap();
    ops.take();

    // GET /api/v1/messages: the gate, then one Query (a page; eventually consistent).
    admit(&app, &authorized_request(&key), Scope::ReadMessages)
        .await
        .unwrap();
    let page = app
        .store
        .list_messages(key.workspace_id, 20, None)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(
        ops.take(),
        [
            Op::UpdateItem,
            Op::UpdateItem,
            ROLL_UP_QUERY,
            Op::Query { consistent: false }
        ]
    );

    // GET /api/v1/messages/{id}: the gate, then one consistent GetItem.
    admit(&app, &authorized_request(&key), Scope::ReadMessages)
        .await
        .unwrap();
    let found = app
        .store
        .get_message(key.workspace_id, sent.id)
        .await
        .unwrap();
    assert_eq!(found, Some(sent));
    assert_eq!(ops.take(), [Op::UpdateItem, Op::UpdateItem, GET_CONSISTENT]);
}

#[tokio::test]
async fn management_and_account_calls_cost_what_the_cost_table_says() {
    let (store, ops) = counted_store().await;

    // POST /auth/register: the per-source counter, the email check (before any hashing),
    // then email claim, workspace, owner and the `user.registered` event in one transaction.
    let now = Timestamp::now();
    let source = "192.0.2.1";
    store
        .count(Counter::RegistrationsFromSource(source), now, now)
        .await
        .unwrap();
    let account = NewAccount {
        workspace_id: WorkspaceId::new(),
        workspace_name: DisplayName::parse("Acme").unwrap(),
        user_id: UserId::new(),
        email: Email::parse(&format!("owner-{}@acme.io", uuid::Uuid::new_v4())).unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: Timestamp::now(),
    };
    assert!(store
        .find_credentials(&account.email)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .create_account(&account, &registered_event(&account))
            .await
            .unwrap(),
        AccountCreated::Created
    );
    assert_eq!(
        ops.take(),
        [
            Op::UpdateItem,
            GET_CONSISTENT,
            Op::TransactWriteItems {
                puts: 4,
                updates: 0
            }
        ]
    );

    // POST /auth/login: the per-source counter, then the attempt counted per email and source
    // and per email (one ADD each, before any password work), then the credentials. A right
    // password takes the two attempts back and records `user.login_succeeded` (one put); a
    // wrong one records `user.login_failed` the same way.
    let email = &account.email;
    let attempt = Counter::LoginAttempts { email, source };
    let all = Counter::LoginAttemptsAllSources(email);
    for counter in [Counter::LoginsFromSource(source), attempt, all] {
        assert_eq!(store.count(counter, now, now).await.unwrap(), 1);
    }
    assert!(store.find_credentials(email).await.unwrap().is_some());
    store.uncount(attempt, now).await.unwrap();
    store.uncount(all, now).await.unwrap();
    let login = event(
        AuditEventType::UserLoginSucceeded,
        Target::User {
            id: account.user_id,
        },
    );
    store
        .record_audit_event(account.workspace_id, &login)
        .await
        .unwrap();
    assert_eq!(
        ops.take(),
        [
            Op::UpdateItem,
            Op::UpdateItem,
            Op::UpdateItem,
            GET_CONSISTENT,
            Op::UpdateItem,
            Op::UpdateItem,
            Op::PutItem
        ]
    );

    // GET /audit-events: one Query per page (eventually consistent: a trail read a moment
    // late is still right), with a type filter at most `AUDIT_PAGES_PER_CALL` Queries.
    let page = store
        .list_audit_events(account.workspace_id, 20, None, None)
        .await
        .unwrap();
    assert_eq!(page.events.len(), 2);
    assert_eq!(ops.take(), [Op::Query { consistent: false }]);
    let page = store
        .list_audit_events(
            account.workspace_id,
            20,
            None,
            Some(AuditEventType::UserRegistered),
        )
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(ops.take(), [Op::Query { consistent: false }]);

    // POST /api-keys: one slot of the workspace's cap (a conditional ADD), then the key item,
    // its hash lookup item and the `api_key.created` event in one transaction.
    let (_, key) = seed_key(&store, None).await;
    assert_eq!(
        ops.take(),
        [
            Op::UpdateItem,
            Op::TransactWriteItems {
                puts: 3,
                updates: 0
            }
        ]
    );

    // POST /api-keys/{id}/rotate: read the old key, then one transaction: the old key and its
    // lookup item get the overlap's end (two updates), the new key, its lookup item and the
    // `api_key.rotated` event are put. No slot write: the new key takes the old key's slot.
    let (_, old) = seed_key(&store, None).await;
    ops.take();
    let rotation = rotation_of(&store, &old).await;
    assert_eq!(
        store.rotate_api_key(&rotation).await.unwrap(),
        Rotated::Rotated
    );
    assert_eq!(
        ops.take(),
        [
            GET_CONSISTENT,
            Op::TransactWriteItems {
                puts: 3,
                updates: 2
            }
        ]
    );

    // GET /api-keys: one consistent Query (one page holds 1 MB of keys).
    assert_eq!(
        store.list_api_keys(key.workspace_id).await.unwrap().len(),
        1
    );
    assert_eq!(ops.take(), [Op::Query { consistent: true }]);

    // DELETE /api-keys/{id}: read the key, then both items and the `api_key.deactivated` event
    // in one transaction, then the slot back; a repeat reads.
    let deactivation = Op::TransactWriteItems {
        puts: 1,
        updates: 2,
    };
    assert_eq!(
        store
            .deactivate_api_key(key.workspace_id, key.id, deactivated_event)
            .await
            .unwrap(),
        Deactivation::Deactivated
    );
    assert_eq!(ops.take(), [GET_CONSISTENT, deactivation, Op::UpdateItem]);
    assert_eq!(
        store
            .deactivate_api_key(key.workspace_id, key.id, deactivated_event)
            .await
            .unwrap(),
        Deactivation::AlreadyInactive
    );
    assert_eq!(ops.take(), [GET_CONSISTENT]);
}

// POST /api-keys/leaks (after its signature check, which costs no call): per reported token
// that has our format, one consistent read of its hash; for an active key of ours, the
// deactivation (read, transaction with the `api_key.leak_reported` event, slot back). Tokens
// that are not well-formed keys cost nothing.
#[tokio::test]
async fn a_leak_report_costs_one_read_per_well_formed_token_and_a_deactivation_per_active_key() {
    use yebolink_shared::domain::audit::RequestOrigin;
    use yebolink_shared::domain::leak::{parse_reports, LeakLabel};
    use yebolink_shared::services::leaks::process_reports;

    let (store, ops) = counted_store().await;
    let (active, _) = seed_key(&store, None).await;
    let (inactive, inactive_record) = seed_key(&store, None).await;
    store
        .deactivate_api_key(
            inactive_record.workspace_id,
            inactive_record.id,
            deactivated_event,
        )
        .await
        .unwrap();
    let unknown = ApiKeySecret::generate().unwrap().expose_once();
    ops.take();

    let body = serde_json::Value::Array(
        [active.as_str(), inactive.as_str(), unknown.as_str(), "ghp_not_ours", "x"]
            .iter()
            .map(|token| serde_json::json!({"token": token, "type": "t", "url": "u", "source": "content"}))
            .collect(),
    )
    .to_string();
    let reports = parse_reports(body.as_bytes()).unwrap();
    assert_eq!(ops.take(), [], "parsing and hashing cost no call");

    let verdicts = process_reports(&store, &reports, &RequestOrigin::default(), 30)
        .await
        .unwrap();
    let labels: Vec<LeakLabel> = verdicts.iter().map(|v| v.label).collect();
    assert_eq!(
        labels,
        [
            LeakLabel::TruePositive,
            LeakLabel::TruePositive,
            LeakLabel::FalsePositive,
            LeakLabel::FalsePositive,
            LeakLabel::FalsePositive
        ]
    );
    let deactivation = Op::TransactWriteItems {
        puts: 1,
        updates: 2,
    };
    assert_eq!(
        ops.take(),
        [
            // The active key: its hash, then the deactivation.
            GET_CONSISTENT,
            GET_CONSISTENT,
            deactivation,
            Op::UpdateItem,
            // The inactive key and the unknown well-formed one: their hash only.
            GET_CONSISTENT,
            GET_CONSISTENT,
        ]
    );

    // GitHub delivers the same report again: every key of ours is already inactive.
    process_reports(&store, &reports, &RequestOrigin::default(), 30)
        .await
        .unwrap();
    assert_eq!(ops.take(), [GET_CONSISTENT, GET_CONSISTENT, GET_CONSISTENT]);
}

/// Replaces the answer to the first UpdateItem with a 500, after DynamoDB applied it: the answer
/// of a write that happened is lost, which is what a timeout or a dropped connection also does.
#[derive(Debug, Clone, Default)]
struct LoseFirstUpdateAnswer {
    last_target: Arc<Mutex<String>>,
    lost: Arc<Mutex<bool>>,
}

impl Intercept for LoseFirstUpdateAnswer {
    fn name(&self) -> &'static str {
        "LoseFirstUpdateAnswer"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("");
        *self.last_target.lock().unwrap() = target.to_owned();
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut lost = self.lost.lock().unwrap();
        if *lost || !self.last_target.lock().unwrap().ends_with(".UpdateItem") {
            return Ok(());
        }
        *lost = true;
        let response = context.response_mut();
        *response.status_mut() = 500u16.try_into().unwrap();
        let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}"#;
        response.headers_mut().remove("content-length");
        response.headers_mut().remove("x-amz-crc32");
        *response.body_mut() = body.to_owned().into();
        Ok(())
    }
}

/// Finding 7: an `ADD` whose answer is lost must not be sent again, or it counts twice. The
/// client has a function's timeouts and retries (`sdk_timeouts`: SDK retries on).
#[tokio::test]
async fn a_counter_add_whose_answer_is_lost_is_not_sent_again() {
    let endpoint = std::env::var("DYNAMODB_TEST_ENDPOINT").expect("DYNAMODB_TEST_ENDPOINT");
    let table = format!("opcounts-{}", uuid::Uuid::new_v4());
    create_table(
        &aws_sdk_dynamodb::Client::from_conf(client_config().build()),
        &table,
    )
    .await
    .expect("create table");
    let mut config = config();
    config.table_name = table;
    // The timeouts and retries a function's client has (`bootstrap::sdk::dynamodb_client`).
    let (timeouts, retries) = sdk_timeouts(&config);
    let fault = LoseFirstUpdateAnswer::default();
    let recorder = OpRecorder::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        client_config()
            .endpoint_url(endpoint)
            .timeout_config(timeouts)
            .retry_config(retries)
            .interceptor(fault.clone())
            .interceptor(recorder.clone())
            .build(),
    );
    let store = DynamoStore::new(client, config.table_name.clone());
    let counter = Counter::KeyRequests(KeyId::new());
    let now = Timestamp::now();

    // Applied, answer lost: the caller is told the database is unavailable (a 503)...
    let lost = store.count(counter, now, now).await;
    assert!(matches!(lost, Err(StoreError::Unavailable(_))), "{lost:?}");
    assert!(*fault.lost.lock().unwrap());
    // ...and it was sent once,
    let attempts = std::mem::take(&mut *recorder.attempts.lock().unwrap());
    assert_eq!(attempts, ["UpdateItem"]);
    // so the counter holds that one request, not two.
    assert_eq!(store.count(counter, now, now).await.unwrap(), 2);
}

/// DynamoDB's size of an item: attribute names plus values (strings by their UTF-8 length,
/// numbers by about one byte per two digits plus one), as its read and write units are billed.
fn item_size(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue;
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(text) => text.len(),
                    AttributeValue::N(number) => number.len().div_ceil(2) + 1,
                    AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
                    AttributeValue::B(bytes) => bytes.as_ref().len(),
                    other => panic!("unexpected attribute {other:?}"),
                }
        })
        .sum()
}

/// Read units of one Query: the items' total size rounded up to 4 KB, halved when eventually
/// consistent.
fn query_rru(
    items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>],
    consistent: bool,
) -> f64 {
    let size: usize = items.iter().map(item_size).sum();
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

async fn raw_items(
    store: &DynamoStore,
    pk: String,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    store
        .client()
        .query()
        .table_name(store.table_name())
        .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
        .expression_attribute_values(":pk", AttributeValue::S(pk))
        .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

/// Issue 25: a key with every setting at its largest (20 IPv6 blocks, 2 KB of metadata).
fn largest_policy() -> KeyPolicy {
    use yebolink_shared::domain::policy::{parse_allowed_ips, parse_metadata};
    let blocks: Vec<String> = (0..20)
        .map(|i| format!("2001:db8:{i:x}:ffff:ffff:ffff:ffff:ffff/128"))
        .collect();
    // 20 entries of 40-character keys, filled up to the 2,048-byte cap.
    let mut metadata = serde_json::Map::new();
    for i in 0..20 {
        metadata.insert(format!("{i:0>40}"), serde_json::json!("v".repeat(55)));
    }
    KeyPolicy {
        rate_limit_per_minute: Some(1_000_000),
        allowed_ips: Some(parse_allowed_ips(&serde_json::json!(blocks)).unwrap()),
        metadata: Some(parse_metadata(&serde_json::Value::Object(metadata)).unwrap()),
        monthly_send_limit: Some(10_000_000),
    }
}

#[tokio::test]
async fn the_lookup_item_at_the_largest_settings_stays_under_one_write_unit() {
    let (store, _ops) = counted_store().await;
    let (_, mut key) = seed_key(&store, None).await;
    key.id = KeyId::new();
    let secret = ApiKeySecret::generate().unwrap();
    (key.key_hash, key.key_prefix) = (secret.hash(), secret.prefix());
    key.quota_id = KeyId::new(); // a rotated key's: one more attribute
    key.policy = largest_policy();
    key.expires_at = Some(Timestamp::now().plus_seconds(86_400));
    key.last_used_at = Some(Timestamp::now());
    store
        .create_api_key(&key, 50, &created_event(&key))
        .await
        .unwrap();
    let lookup = raw_items(
        &store,
        format!("KEYHASH#{}", key.key_hash.as_str()),
        "KEYHASH",
    )
    .await;
    let key_item = raw_items(
        &store,
        format!("WS#{}", key.workspace_id),
        &format!("KEY#{}", key.id),
    )
    .await;
    let (lookup_size, key_size) = (item_size(&lookup[0]), item_size(&key_item[0]));
    println!("largest lookup item: {lookup_size} bytes; its key item: {key_size} bytes");
    assert!(
        lookup_size <= 1024,
        "the last_used_at write stays 1 WRU: {lookup_size}"
    );
    assert!(
        key_size > 2048,
        "the metadata is on the key item: {key_size}"
    );
}

#[tokio::test]
async fn a_monthly_limit_adds_one_conditional_update_and_an_edit_is_a_read_and_a_transaction() {
    use yebolink_shared::services::ratelimit::count_monthly_send;
    use yebolink_shared::storage::keys::{KeyUpdate, Updated};
    let (store, ops) = counted_store().await;
    let limited = KeyCaller {
        monthly_send_limit: Some(2),
        ..caller()
    };
    let now = Timestamp::now();
    for _ in 0..3 {
        count_monthly_send(&store, &limited, now).await.unwrap();
    }
    // Admitted or refused, one conditional ADD each; a key without a limit, none.
    assert_eq!(ops.take(), [Op::UpdateItem, Op::UpdateItem, Op::UpdateItem]);
    count_monthly_send(&store, &caller(), now).await.unwrap();
    assert_eq!(ops.take(), []);

    // PATCH: the key (consistent), then key, lookup and event in one transaction; an edit of
    // the name or metadata alone leaves the lookup item as it is.
    let (_, key) = seed_key(&store, None).await;
    ops.take();
    let old = store
        .get_api_key(key.workspace_id, key.id)
        .await
        .unwrap()
        .unwrap();
    let edit = |old: &ApiKeyRecord, new: ApiKeyRecord| KeyUpdate {
        old: old.clone(),
        new,
        event: event(AuditEventType::ApiKeyUpdated, Target::api_key(old)),
        now,
    };
    let limited = ApiKeyRecord {
        policy: largest_policy(),
        ..old.clone()
    };
    let written = store
        .update_api_key(&edit(&old, limited.clone()))
        .await
        .unwrap();
    assert_eq!(written, Updated::Updated);
    assert_eq!(
        ops.take(),
        [
            GET_CONSISTENT,
            Op::TransactWriteItems {
                puts: 1,
                updates: 2
            }
        ]
    );
    let renamed = ApiKeyRecord {
        name: DisplayName::parse("Renamed").unwrap(),
        ..limited.clone()
    };
    store
        .update_api_key(&edit(&limited, renamed))
        .await
        .unwrap();
    assert_eq!(
        ops.take(),
        [Op::TransactWriteItems {
            puts: 1,
            updates: 1
        }]
    );
}

#[tokio::test]
async fn usage_adds_no_write_per_request_and_two_per_key_per_active_minute() {
    let (store, ops) = counted_store().await;
    let app = app(store, 100);
    let key = caller();
    let minute = floor(Timestamp::now(), MINUTE_SECONDS).plus_seconds(60);
    let request = authorized_request(&key);
    let gate = |t: Timestamp| admit_at(&app, &request, Scope::SendMessages, t);

    // 100 requests in one minute: the first looks for earlier minutes (none), the other 99
    // are the two counter updates the rate limits always made, nothing more.
    gate(minute.plus_seconds(1)).await.unwrap();
    assert_eq!(ops.take(), [Op::UpdateItem, Op::UpdateItem, ROLL_UP_QUERY]);
    for i in 0..99 {
        gate(minute.plus_seconds(2 + i % 50)).await.unwrap();
        assert_eq!(ops.take(), [Op::UpdateItem, Op::UpdateItem]);
    }
    // The first request of the next minute rolls the last one up: the hour bucket, then the
    // day bucket, absolute values. Usage's writes: 2 per key per active minute, whatever the
    // rate: 2 / 100 = 0.02 WRU per request at 100 a minute, 0.2 at 10, 2 at 1.
    gate(minute.plus_seconds(61)).await.unwrap();
    assert_eq!(
        ops.take(),
        [
            Op::UpdateItem,
            Op::UpdateItem,
            ROLL_UP_QUERY,
            Op::UpdateItem,
            Op::UpdateItem
        ]
    );
    // The minute counter item stays well under 1 KB (1 WRU per update, as before).
    let counters = raw_items(&app.store, format!("RATE#{}", key.key_id), "W#").await;
    assert!(counters.iter().all(|c| item_size(c) < 200), "{counters:?}");
}

#[tokio::test]
async fn a_full_hour_bucket_stays_under_one_write_unit() {
    let (store, _) = counted_store().await;
    let key = KeyId::new();
    let hour = floor(Timestamp::now(), HOUR_SECONDS);
    // 60 minutes at 6,000 requests each, 5,900 of them 429s: larger than any real minute.
    let minutes: Vec<MinuteUsage> = (0..60)
        .map(|i| MinuteUsage {
            start: hour.plus_seconds(i * 60),
            hits: 6_000,
            limit: 100,
            out_of_scope: 0,
            workspace_limited: 0,
        })
        .collect();
    store.roll_up_minutes(key, hour, &minutes).await.unwrap();
    let hours = raw_items(&store, format!("USAGE#{key}"), "H#").await;
    let days = raw_items(&store, format!("USAGE#{key}"), "D#").await;
    assert!(item_size(&hours[0]) <= 1024, "{}", item_size(&hours[0]));
    assert!(item_size(&days[0]) <= 1024, "{}", item_size(&days[0]));
}

#[tokio::test]
async fn a_90_day_daily_read_costs_at_most_10_read_units_and_a_week_of_hours_is_bounded() {
    let (store, ops) = counted_store().await;
    let now = Timestamp::now();
    let (_, mut record) = seed_key(&store, None).await;
    let today = floor(now, DAY_SECONDS);
    // 90 days with traffic in every hour (large numbers): the largest day items there are.
    for day in 0..90 {
        for hour in 0..24 {
            let start = today.plus_seconds(-day * DAY_SECONDS + hour * HOUR_SECONDS);
            let minute = MinuteUsage {
                start,
                hits: 99_999,
                limit: 100,
                out_of_scope: 9_999,
                workspace_limited: 9_999,
            };
            store
                .roll_up_minutes(record.id, start, &[minute])
                .await
                .unwrap();
        }
    }
    // And a live minute not rolled up yet: the read lays it over its hour.
    let minute = floor(now, MINUTE_SECONDS);
    store
        .count_key_request(
            record.id,
            minute,
            minute.plus_seconds(MINUTE_RETENTION_SECONDS),
            Outcome::Checked,
            100,
        )
        .await
        .unwrap();
    record.last_used_at = Some(now);
    ops.take();

    // GET /api-keys/{id}/usage?granularity=day (90 days): the key (1 consistent GetItem, the
    // handler's), then the day buckets, the live minutes and their hours.
    let range = UsageRange::new(
        Granularity::Day,
        Some(today.plus_seconds(-89 * DAY_SECONDS)),
        Some(now),
        now,
    )
    .unwrap();
    let series = key_series(&store, &record, &range).await.unwrap();
    assert_eq!(series.len(), 90);
    assert_eq!(
        ops.take(),
        [
            Op::Query { consistent: false },
            Op::Query { consistent: true },
            Op::Query { consistent: false }
        ]
    );
    let days = raw_items(&store, format!("USAGE#{}", record.id), "D#").await;
    assert_eq!(days.len(), 90);
    let minutes = raw_items(&store, format!("RATE#{}", record.id), "W#").await;
    let hours = raw_items(&store, format!("USAGE#{}", record.id), "H#").await;
    let tail_hours: Vec<_> = hours.into_iter().rev().take(2).collect();
    let rru =
        1.0 + query_rru(&days, false) + query_rru(&minutes, true) + query_rru(&tail_hours, false);
    eprintln!("90-day daily read: {rru} RRU");
    assert!(rru <= 10.0, "{rru} RRU");

    // granularity=hour, 168 buckets (the cap): one Query of at most 168 hour items.
    let range = UsageRange::new(
        Granularity::Hour,
        Some(now.plus_seconds(-167 * HOUR_SECONDS)),
        Some(now),
        now,
    )
    .unwrap();
    key_series(&store, &record, &range).await.unwrap();
    // The hour buckets (one Query; the emulator pages it, DynamoDB pages at 1 MB) and the live
    // minutes (consistent).
    let taken = ops.take();
    assert!(
        taken.iter().all(|op| matches!(op, Op::Query { .. })),
        "{taken:?}"
    );
    assert_eq!(
        taken
            .iter()
            .filter(|op| **op == Op::Query { consistent: true })
            .count(),
        1
    );
    let hours = raw_items(&store, format!("USAGE#{}", record.id), "H#").await;
    let week: Vec<_> = hours.into_iter().rev().take(168).collect();
    let rru = 1.0 + query_rru(&week, false) + query_rru(&minutes, true);
    eprintln!("168-hour read: {rru} RRU");
    assert!(rru <= 10.0, "{rru} RRU");
}

/// The bound docs/api.md gives on a filtered audit listing: a rare event type behind many others is
/// reached in calls of at most 5 Queries each, each continuing where the last one stopped.
#[tokio::test]
async fn a_filtered_audit_listing_reads_at_most_five_pages_a_call_and_continues() {
    let (store, ops) = counted_store().await;
    let workspace = WorkspaceId::new();
    let rare = event(
        AuditEventType::UserRegistered,
        Target::User { id: UserId::new() },
    );
    store.record_audit_event(workspace, &rare).await.unwrap();
    for _ in 0..30 {
        let common = event(
            AuditEventType::UserLoginSucceeded,
            Target::User { id: UserId::new() },
        );
        store.record_audit_event(workspace, &common).await.unwrap();
    }
    ops.take();

    // limit 1: each Query asks for 2 items, so 5 Queries pass 10 of the 30 newer events.
    let (mut after, mut calls) = (None, 0);
    let found = loop {
        calls += 1;
        let page = store
            .list_audit_events(workspace, 1, after, Some(AuditEventType::UserRegistered))
            .await
            .unwrap();
        let queries = ops.take();
        assert!(
            !queries.is_empty() && queries.len() <= 5,
            "call {calls}: {queries:?}"
        );
        assert!(queries
            .iter()
            .all(|q| *q == Op::Query { consistent: false }));
        if let Some(event) = page.events.first() {
            break event.clone();
        }
        after = Some(page.continue_after.expect("more to read"));
    };
    assert_eq!(found.id, rare.id);
    assert!(calls >= 3, "the rare event was reached in {calls} calls");
}

#[tokio::test]
async fn a_key_event_costs_one_query_and_two_puts_per_endpoint_and_a_retry_its_claim_and_record() {
    use yebolink_shared::domain::webhook::{RetrySchedule, WebhookEventType};
    use yebolink_shared::domain::webhook_target::UrlPolicy;
    use yebolink_shared::services::webhooks::{
        fan_out, run_due_deliveries, Sender, WebhookSettings,
    };
    use yebolink_shared::storage::webhooks::WebhookStore;
    use yebolink_shared::testing::{answering_receiver, webhook_endpoint};

    let (store, ops) = counted_store().await;
    let settings = WebhookSettings {
        url_policy: UrlPolicy::Loopback,
        retries: RetrySchedule::parse("0").unwrap(),
        ..WebhookSettings::deployed(400)
    };
    let sender = Sender::default();
    let ws = WorkspaceId::new();
    let (url, _) = answering_receiver(vec![500]).await;
    let endpoint = webhook_endpoint(ws, &url);
    let made = event(
        AuditEventType::WebhookCreated,
        Target::Webhook { id: endpoint.id },
    );
    store.create_webhook(&endpoint, 10, &made).await.unwrap();
    assert_eq!(
        ops.take(),
        [Op::TransactWriteItems {
            puts: 2,
            updates: 1
        }]
    );

    // The first attempt fails (500): the query of the workspace's endpoints, the delivery's put,
    // its attempt's record, and the endpoint's failing streak starting (a conditional put).
    let source = yebolink_shared::domain::ids::AuditEventId::new();
    let body = r#"{"type":"api_key.created"}"#;
    fan_out(
        &store,
        &sender,
        &settings,
        ws,
        WebhookEventType::ApiKeyCreated,
        source,
        body,
    )
    .await
    .unwrap();
    assert_eq!(
        ops.take(),
        [
            Op::Query { consistent: true },
            Op::PutItem,
            Op::PutItem,
            Op::PutItem
        ]
    );
    // The same event again (a redelivered stream record): the query and a refused put.
    fan_out(
        &store,
        &sender,
        &settings,
        ws,
        WebhookEventType::ApiKeyCreated,
        source,
        body,
    )
    .await
    .unwrap();
    assert_eq!(ops.take(), [Op::Query { consistent: true }, Op::PutItem]);

    // The retry succeeds: a query per due shard, the claim, the endpoint's read, the record,
    // and the streak's end. The scheduler's quiet tick is the four queries alone.
    let shards = vec![Op::Query { consistent: false }; 4];
    assert_eq!(
        run_due_deliveries(&store, &sender, &settings)
            .await
            .unwrap()
            .len(),
        1
    );
    let mut expected = shards.clone();
    expected.extend([Op::UpdateItem, GET_CONSISTENT, Op::PutItem, Op::PutItem]);
    assert_eq!(ops.take(), expected);
    assert_eq!(
        run_due_deliveries(&store, &sender, &settings)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(ops.take(), shards);
}
