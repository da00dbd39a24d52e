//! The real authorizer handler, warm, over `MemoryStore` (no I/O): event bytes in, the policy
//! JSON the runtime posts back out. `make bench`, or
//! `cargo bench -p authorizer --bench authorizer_handler`.
//!
//! The handler is a private module of the `authorizer` binary, so it is compiled in here from its
//! source file; nothing in it is changed or stubbed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use criterion::{criterion_group, criterion_main, Criterion};
use yebolink_shared::domain::ids::{UserId, WorkspaceId};
use yebolink_shared::domain::scopes::Scopes;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::testing::{app, seed_key};

// `clippy --all-targets` checks benches with cfg(test), which brings in the handler's unit
// tests (not run here): hence unused_imports.
#[path = "../src/handler.rs"]
#[allow(dead_code, unused_imports)]
mod handler;

const MESSAGES: &str = include_str!("../tests/fixtures/messages-request.json");
const API_KEYS: &str = include_str!("../tests/fixtures/api-keys-request.json");

fn with_header(fixture: &str, name: &str, value: &str) -> Vec<u8> {
    let mut raw: serde_json::Value = serde_json::from_str(fixture).expect("fixture");
    let mut headers = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for (n, v) in [(name, value), ("Accept", "application/json")] {
        headers.insert(n.to_owned(), v.into());
        multi.insert(n.to_owned(), serde_json::json!([v]));
    }
    raw["headers"] = headers.into();
    raw["multiValueHeaders"] = multi.into();
    serde_json::to_vec(&raw).expect("json")
}

fn handler(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let app = app();
    let (key, _) = rt.block_on(seed_key(&app.store, WorkspaceId::new(), Scopes::all()));
    let token = app
        .jwt
        .as_ref()
        .expect("jwt keys")
        .issue(UserId::new(), WorkspaceId::new(), Timestamp::now())
        .expect("token");
    let cases = [
        ("api_key_allow", with_header(MESSAGES, "X-API-Key", &key)),
        (
            "api_key_deny_bad_checksum",
            with_header(
                MESSAGES,
                "X-API-Key",
                "ybk_1234567890abcdef1234567890abcdef1234567890abcdef",
            ),
        ),
        (
            "bearer_allow",
            with_header(API_KEYS, "Authorization", &format!("Bearer {token}")),
        ),
    ];
    // The first use records last_used_at; after it, a valid key costs one read and no write.
    rt.block_on(async {
        let event = serde_json::from_slice(&cases[0].1).expect("event");
        handler::handle(&app, event)
            .await
            .answer
            .expect("no store error")
    });

    let mut group = c.benchmark_group("authorizer_handler");
    for (name, bytes) in &cases {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let event: ApiGatewayCustomAuthorizerRequestTypeRequest =
                            serde_json::from_slice(black_box(bytes)).expect("event");
                        let response = handler::handle(&app, event).await.answer.expect("answer");
                        black_box(serde_json::to_vec(&response).expect("json"));
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// What each decision adds for its metrics: formatting its EMF line (the write to stdout is
/// the runtime's, beside the log lines).
fn metric_line(c: &mut Criterion) {
    use yebolink_shared::http::metrics::{metric_line, Line, LineContext, Observed};
    use yebolink_shared::services::auth::Principal;
    let mut observed = Observed::default();
    let key = yebolink_shared::testing::key_caller(WorkspaceId::new(), Scopes::all());
    observed.decided(&Ok(Principal::ApiKey(key)));
    let line = Line {
        function: "authorizer",
        status: None,
        latency: Duration::from_micros(1_234),
        limited: None,
        observed,
        context: LineContext {
            request_id: Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into()),
            lambda_request_id: Some("8f5e3b1a-0d2c-4e6f-9a8b-7c6d5e4f3a2b".into()),
            source_ip: Some("203.0.113.9".into()),
        },
    };
    c.bench_function("emf/metric_line", |b| {
        b.iter(|| black_box(metric_line(black_box(&line), std::time::SystemTime::now())))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = handler, metric_line
}
criterion_main!(benches);
