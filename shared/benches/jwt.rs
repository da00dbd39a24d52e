//! User session tokens (HS256): verification, which the authorizer runs on every management
//! request, and issue, which register and login run (`make bench`, or
//! `cargo bench -p yebolink-shared --bench jwt`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use yebolink_shared::bootstrap::config::Config;
use yebolink_shared::domain::ids::{UserId, WorkspaceId};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::auth::presented;
use yebolink_shared::lambda_http::http::{HeaderMap, HeaderValue};
use yebolink_shared::services::auth::{decide, Credential};
use yebolink_shared::services::jwt::JwtKeys;
use yebolink_shared::storage::memory::MemoryStore;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";

fn keys() -> JwtKeys {
    let config =
        Config::from_lookup(|name| (name == "TABLE_NAME").then(|| "bench".into())).expect("config");
    JwtKeys::new(SECRET, &config.tokens)
}

fn jwt(c: &mut Criterion) {
    let keys = keys();
    let (user, workspace) = (UserId::new(), WorkspaceId::new());
    let token = keys
        .issue(user, workspace, Timestamp::now())
        .expect("token");
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });

    let mut group = c.benchmark_group("jwt");
    group.bench_function("verify_valid", |b| {
        b.iter(|| keys.verify(black_box(&token)).expect("valid"))
    });
    group.bench_function("verify_bad_signature", |b| {
        b.iter(|| keys.verify(black_box(&tampered)).is_err())
    });
    group.bench_function("issue", |b| {
        b.iter(|| {
            keys.issue(black_box(user), black_box(workspace), Timestamp::now())
                .expect("token")
        })
    });

    // The authorizer's whole decision on a management route: header checks + verification.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let store = MemoryStore::new();
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    group.bench_function("decide_bearer_token", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let principal = decide(
                        &store,
                        Some(&keys),
                        presented(black_box(&headers)),
                        Credential::UserToken,
                        Timestamp::now(),
                    )
                    .await;
                    black_box(principal.expect("allowed"));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = jwt
}
criterion_main!(benches);
