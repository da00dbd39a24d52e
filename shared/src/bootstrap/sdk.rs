//! The AWS clients a function builds once at cold start: one HTTP client (rustls with only
//! Amazon's roots), static credentials from the environment, the timeouts that make a hanging
//! database a fast 503, the DynamoDB store with its warm-up reads, and the JWT secret read from
//! Secrets Manager.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, Region, SharedHttpClient, StalledStreamProtectionConfig,
};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use crate::bootstrap::coldstart::coldstart_mark;
use crate::bootstrap::config::{check_secret, AwsEnv, Config, ConfigError};
use crate::storage::dynamo::DynamoStore;

/// Timeouts and retries of every AWS client a function makes (DynamoDB, Secrets Manager).
/// Their clients also turn stalled-stream protection off: it times every response body's
/// throughput and fails a stalled one after a 5 s grace period, and the operation timeout
/// (`DYNAMODB_TIMEOUT_MS`, 2 s) already fails a stalled answer first.
pub fn sdk_timeouts(config: &Config) -> (TimeoutConfig, RetryConfig) {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.dynamodb_timeout.min(Duration::from_secs(1)))
        .operation_attempt_timeout(config.dynamodb_timeout / 2)
        .operation_timeout(config.dynamodb_timeout)
        .build();
    (timeouts, RetryConfig::standard().with_max_attempts(2))
}

/// The HTTP client of every AWS client a function makes: rustls with aws-lc (the SDK's default
/// stack), trusting only the Amazon Trust Services roots that AWS endpoints chain to. The SDK's
/// default loads every root of the operating system's store instead (on Debian 292 files read
/// and parsed while the client is built: the largest part of init, docs/performance.md).
pub fn sdk_http_client() -> SharedHttpClient {
    let roots = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    let context = TlsContext::builder().with_trust_store(roots).build();
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    match context {
        Ok(context) => builder.tls_context(context).build_https(),
        // Unreachable with this version (the builder cannot fail): the SDK's default roots.
        Err(_) => builder.build_https(),
    }
}

/// Amazon Root CA 1-4 and Starfield Services Root CA G2 (https://www.amazontrust.com/repository/),
/// as Mozilla's store (Debian's ca-certificates) has them.
const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-trust-services-roots.pem");

/// Static credentials: the SDK needs no provider chain or identity cache refresh for values
/// that never change during a Lambda environment's life.
pub fn sdk_credentials(aws: &AwsEnv) -> Credentials {
    Credentials::new(
        &aws.access_key_id,
        &aws.secret_access_key,
        aws.session_token.clone(),
        None,
        "environment",
    )
}

/// One read of the cold start's warm-up (`start_warm_up`).
async fn warm_up_read(client: Client, table: String) {
    let result = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("WARMUP".into()))
        .key("sk", AttributeValue::S("WARMUP".into()))
        .send()
        .await;
    if let Err(err) = result {
        tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(err), "DynamoDB warm-up failed");
    }
}

/// The DynamoDB client of a function: region and credentials from the environment (`AwsEnv`),
/// the endpoint override for local mode, and timeouts so a hanging database fails fast (503)
/// instead of holding the function until its own timeout.
pub fn dynamodb_client(config: &Config, aws: &AwsEnv, http: SharedHttpClient) -> Client {
    let (timeouts, retries) = sdk_timeouts(config);
    let mut builder = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(aws.region.clone()))
        .credentials_provider(sdk_credentials(aws))
        .timeout_config(timeouts)
        .retry_config(retries)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    if let Some(endpoint) = &config.dynamodb_endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(builder.build())
}

/// Opens `connections` connections (DNS, TCP, TLS) during the cold start instead of on the
/// first request: as many eventually consistent reads at once of an item that never exists,
/// started here and run beside the Lambda runtime's start, which is the rest of the init.
/// A request that makes several calls at once (the messaging gate's counters and read) then
/// finds a connection for each instead of opening the others itself: the store holds every
/// call until the reads are done. Failure is only logged; the first request will report it
/// properly. Needs a Tokio runtime.
pub fn start_warm_up(store: &DynamoStore, connections: usize) {
    let (client, table) = (store.client().clone(), store.table_name().to_owned());
    let reads = tokio::spawn(async move {
        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..connections.max(1) {
            reads.spawn(warm_up_read(client.clone(), table.clone()));
        }
        while reads.join_next().await.is_some() {}
        coldstart_mark("warm-up");
    });
    store.hold_calls_until(reads);
}

/// The JWT signing secret from Secrets Manager, over the same HTTP client as DynamoDB.
pub async fn read_secret(
    config: &Config,
    aws: &AwsEnv,
    http: SharedHttpClient,
    arn: &str,
) -> Result<String, ConfigError> {
    let (timeouts, retries) = sdk_timeouts(config);
    let sdk_config = aws_sdk_secretsmanager::Config::builder()
        .http_client(http)
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new(
            aws.region.clone(),
        ))
        .credentials_provider(sdk_credentials(aws))
        .timeout_config(timeouts)
        .retry_config(retries)
        .stalled_stream_protection(
            aws_sdk_secretsmanager::config::StalledStreamProtectionConfig::disabled(),
        )
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(sdk_config);
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|err| {
        tracing::error!(error = %aws_sdk_secretsmanager::error::DisplayErrorContext(err), "reading the JWT secret failed");
        ConfigError::SecretUnavailable
    })?;
    check_secret(output.secret_string.ok_or(ConfigError::SecretUnavailable)?)
}
