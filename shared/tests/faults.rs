//! Fault injection at the storage boundary: a DynamoDB endpoint that refuses connections, and
//! one that accepts them and never answers. Both must end in `Unavailable` within the timeout
//! the configuration sets (never a hang until the Lambda timeout), and the authorizer decision
//! must deny, never allow.

use std::time::{Duration, Instant};

use lambda_http::http::HeaderMap;
use yebolink_shared::auth::{decide, Credential};
use yebolink_shared::config::{AwsEnv, Config};
use yebolink_shared::error::ApiError;
use yebolink_shared::keys::ApiKeySecret;
use yebolink_shared::store::dynamo::sdk_http_client;
use yebolink_shared::store::{DynamoStore, Store, StoreError};
use yebolink_shared::timestamp::Timestamp;

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
    DynamoStore::from_env(&config, &aws, sdk_http_client())
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
        .count_request(
            yebolink_shared::ids::KeyId::new(),
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
        &key_headers(),
        Credential::ApiKey,
        Timestamp::now(),
    )
    .await;
    assert_eq!(decision.err(), Some(ApiError::ServiceUnavailable));
}
