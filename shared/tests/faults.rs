//! Fault injection at the storage boundary: a DynamoDB endpoint that refuses connections, and
//! one that accepts them and never answers. Both must end in `Unavailable` within the timeout
//! the configuration sets (never a hang until the Lambda timeout), and the authorizer decision
//! must deny, never allow.

use std::time::{Duration, Instant};

use lambda_http::http::HeaderMap;
use yebolink_shared::bootstrap::config::{AwsEnv, Config};
use yebolink_shared::bootstrap::sdk::{dynamodb_client, sdk_http_client};
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::auth::presented;
use yebolink_shared::services::auth::{decide, AuthError, Credential};
use yebolink_shared::storage::counters::Counter;
use yebolink_shared::storage::dynamo::DynamoStore;
use yebolink_shared::storage::error::StoreError;
use yebolink_shared::storage::traits::*;

/// A store built exactly as a function builds it at cold start, pointed at `endpoint`.
async fn store_at(endpoint: &str, timeout_ms: u64) -> DynamoStore {
    // Set before any SDK call; every test here sets the same values.
    std::env::set_var("AWS_ACCESS_KEY_ID", "local");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
    std::env::set_var("AWS_REGION", "us-east-1");
    let mut config =
        Config::from_lookup(|name| (name == "TABLE_NAME").then(|| "faults".into())).unwrap();
    config.dynamodb_endpoint = Some(endpoint.to_owned());
    config.dynamodb_timeout = Duration::from_millis(timeout_ms);
    let aws = AwsEnv::from_env().unwrap();
    DynamoStore::new(
        dynamodb_client(&config, &aws, sdk_http_client()),
        config.table_name.clone(),
    )
}

/// A TCP server that accepts connections and never answers.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

fn key_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let key = ApiKeySecret::generate().unwrap().expose_once();
    headers.insert("x-api-key", key.parse().unwrap());
    headers
}

#[tokio::test]
async fn a_hanging_database_is_unavailable_within_the_configured_timeout() {
    let store = store_at(&black_hole().await, 1000).await;
    let started = Instant::now();
    let result = store
        .find_key_by_hash(&ApiKeySecret::generate().unwrap().hash())
        .await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_millis(1800), "took {elapsed:?}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_quickly() {
    // Bind then drop: the port is free, so connecting is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = store_at(&format!("http://127.0.0.1:{port}"), 1000).await;
    let started = Instant::now();
    let result = store
        .count(
            Counter::KeyRequests(yebolink_shared::domain::ids::KeyId::new()),
            Timestamp::now(),
            Timestamp::now(),
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1800));
}

#[tokio::test]
async fn the_authorizer_decision_fails_closed_when_the_database_hangs() {
    let store = store_at(&black_hole().await, 600).await;
    let decision = decide(
        &store,
        None,
        presented(&key_headers()),
        Credential::ApiKey,
        Timestamp::now(),
    )
    .await;
    assert!(
        matches!(decision, Err(AuthError::Unavailable(_))),
        "{decision:?}"
    );
}
