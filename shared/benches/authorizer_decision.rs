//! The authorizer's decision without I/O, step by step and whole (`make bench`, or
//! `cargo bench -p yebolink-shared --bench authorizer_decision`).
//!
//! Steps, as the authorizer runs them on every request: parse the REST API REQUEST authorizer
//! event, check the key's format and CRC32 checksum, SHA-256 it, and build the allow context and
//! policy JSON. The policy struct is private to the authorizer binary, so `allow_response_json`
//! builds the same JSON shape with `serde_json`; `functions/authorizer/benches` runs the real
//! handler. `decide_*` run the shared decision (`services::auth::decide`) over `MemoryStore`: everything but
//! the one DynamoDB read.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use yebolink_shared::domain::account::DisplayName;
use yebolink_shared::domain::api_key::ApiKeyRecord;
use yebolink_shared::domain::ids::{KeyId, WorkspaceId};
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::policy::KeyPolicy;
use yebolink_shared::domain::scopes::Scopes;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::auth::presented;
use yebolink_shared::services::auth::{context_for, decide, Credential, KeyCaller, Principal};
use yebolink_shared::storage::memory::MemoryStore;
use yebolink_shared::storage::traits::*;
use yebolink_shared::testing::created_event;

const FIXTURE: &str =
    include_str!("../../functions/authorizer/tests/fixtures/messages-request.json");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// A store holding one active key; returns the key's full secret.
fn seeded_store(rt: &tokio::runtime::Runtime) -> (MemoryStore, String, KeyCaller) {
    let store = MemoryStore::new();
    let secret = ApiKeySecret::generate().expect("randomness");
    let id = KeyId::new();
    let record = ApiKeyRecord {
        id,
        workspace_id: WorkspaceId::new(),
        name: DisplayName::from_stored("bench".into()),
        key_prefix: secret.prefix(),
        key_hash: secret.hash(),
        scopes: Scopes::all(),
        is_active: true,
        // Used a moment ago: the steady state, in which verification writes nothing.
        last_used_at: Some(Timestamp::now()),
        created_at: Timestamp::now(),
        expires_at: None,
        replaced_by: None,
        rotated_from: None,
        policy: KeyPolicy::default(),
        quota_id: id,
        last_used_ip: None,
    };
    rt.block_on(store.create_api_key(&record, u64::MAX, &created_event(&record)))
        .expect("seed key");
    let caller = KeyCaller::new(record.id, record.workspace_id, record.scopes);
    (store, secret.expose_once(), caller)
}

fn event_bytes(key: &str) -> Vec<u8> {
    FIXTURE.replace("REPLACED_BY_TESTS", key).into_bytes()
}

fn parse_event(bytes: &[u8]) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_slice(bytes).expect("fixture parses")
}

/// The allow response as the authorizer serialises it (same field names and nesting).
fn allow_response_json(principal: &Principal, method_arn: &str) -> Vec<u8> {
    let principal_id = match principal {
        Principal::User(user) => user.user_id.to_string(),
        Principal::ApiKey(key) => key.key_id.to_string(),
    };
    serde_json::to_vec(&json!({
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": [method_arn],
            }],
        },
        "context": context_for(principal),
    }))
    .expect("serialisable")
}

fn steps(c: &mut Criterion) {
    let rt = runtime();
    let (_, key, caller) = seeded_store(&rt);
    let bytes = event_bytes(&key);
    let secret = ApiKeySecret::parse(&key).expect("valid key");
    let principal = Principal::ApiKey(caller);
    let method_arn = parse_event(&bytes)
        .method_arn
        .expect("fixture has a method ARN");

    let mut group = c.benchmark_group("authorizer_steps");
    group.bench_function("event_parse", |b| b.iter(|| parse_event(black_box(&bytes))));
    group.bench_function("key_format_and_checksum", |b| {
        b.iter(|| ApiKeySecret::parse(black_box(&key)).is_ok())
    });
    group.bench_function("key_sha256", |b| b.iter(|| black_box(&secret).hash()));
    group.bench_function("allow_context_and_policy_json", |b| {
        b.iter(|| allow_response_json(black_box(&principal), black_box(&method_arn)))
    });
    group.finish();
}

/// Times `iters` sequential awaits of `f` inside one `block_on`, so the runtime's own entry cost
/// is not counted per iteration.
fn time_async<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f().await);
        }
        start.elapsed()
    })
}

fn decision(c: &mut Criterion) {
    let rt = runtime();
    let (store, key, _) = seeded_store(&rt);
    let bytes = event_bytes(&key);
    let garbage = event_bytes("ybk_1234567890abcdef1234567890abcdef1234567890abcdef");

    let mut group = c.benchmark_group("authorizer_decision");
    group.bench_function("decide_valid_key_memory_store", |b| {
        let event = parse_event(&bytes);
        b.iter_custom(|iters| {
            time_async(&rt, iters, || {
                decide(
                    &store,
                    None,
                    presented(&event.headers),
                    Credential::ApiKey,
                    Timestamp::now(),
                )
            })
        })
    });
    // Event bytes in, allow JSON out: everything the authorizer does per request but the read.
    group.bench_function("event_to_allow_json_memory_store", |b| {
        b.iter_custom(|iters| {
            time_async(&rt, iters, || async {
                let event = parse_event(black_box(&bytes));
                let credential = Credential::for_path(event.resource.as_deref().unwrap_or(""))
                    .expect("guarded path");
                let principal = decide(
                    &store,
                    None,
                    presented(&event.headers),
                    credential,
                    Timestamp::now(),
                )
                .await
                .expect("allowed");
                allow_response_json(&principal, event.method_arn.as_deref().unwrap_or(""))
            })
        })
    });
    group.bench_function("event_to_denial_bad_checksum", |b| {
        b.iter_custom(|iters| {
            time_async(&rt, iters, || async {
                let event = parse_event(black_box(&garbage));
                decide(
                    &store,
                    None,
                    presented(&event.headers),
                    Credential::ApiKey,
                    Timestamp::now(),
                )
                .await
                .is_err()
            })
        })
    });
    group.finish();
}

fn config() -> Criterion {
    // Two shared cores: short, but enough samples for a stable median.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = steps, decision
}
criterion_main!(benches);
