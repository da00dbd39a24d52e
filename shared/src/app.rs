//! `App`: what a function builds once at cold start (config, store, JWT keys) and hands to its
//! handler on every request; plus logging setup.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{
    check_secret, jwt_secret_source, AwsEnv, Config, ConfigError, JwtSecretSource,
};
use aws_sdk_dynamodb::config::SharedHttpClient;

use crate::jwt::JwtKeys;
use crate::store::dynamo::{sdk_credentials, sdk_http_client, sdk_timeouts};
use crate::store::DynamoStore;

pub struct App<S> {
    pub store: S,
    pub config: Config,
    /// Present where tokens are issued or verified: register, login, the authorizer, and
    /// every function in local inline-auth mode.
    pub jwt: Option<JwtKeys>,
}

impl App<DynamoStore> {
    /// Cold start of a function behind the authorizer whose requests make one DynamoDB call at
    /// a time. It reads no secret, except in local inline-auth mode, where it verifies tokens
    /// itself with `JWT_SECRET` from the environment.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with_connections(1).await
    }

    /// `from_env` for a function whose requests make up to `connections` DynamoDB calls at once
    /// (the messaging gate: `ratelimit::ADMIT_THEN_CALLS`, `ratelimit::ADMIT_ALONGSIDE_CALLS`):
    /// the cold start's warm-up opens that many connections.
    pub async fn from_env_with_connections(connections: usize) -> Result<Self, ConfigError> {
        coldstart_mark("logging");
        let (config, aws) = (Config::from_env()?, AwsEnv::from_env()?);
        coldstart_mark("config");
        let store = start_store(&config, &aws, sdk_http_client(), connections);
        let jwt = if config.local_inline_auth {
            match jwt_secret_source(|name| std::env::var(name).ok())? {
                JwtSecretSource::Env(secret) => Some(JwtKeys::new(secret.as_bytes(), &config)),
                JwtSecretSource::SecretsManager(_) => {
                    return Err(ConfigError::Invalid(
                        "JWT_SECRET_ARN",
                        "inline auth is local only",
                    ));
                }
            }
        } else {
            None
        };
        Ok(Self { store, config, jwt })
    }

    /// Cold start of a function that signs or verifies tokens in AWS too (register, login, the
    /// authorizer): the secret is read once, here, while the store's warm-up read runs. A
    /// separate constructor, so the Secrets Manager client is linked only into these binaries.
    pub async fn from_env_with_jwt_secret() -> Result<Self, ConfigError> {
        coldstart_mark("logging");
        let (config, aws) = (Config::from_env()?, AwsEnv::from_env()?);
        coldstart_mark("config");
        // One HTTP client (one TLS setup) for DynamoDB and Secrets Manager.
        let http = sdk_http_client();
        // The authorizer's decision makes one call at a time.
        let store = start_store(&config, &aws, http.clone(), 1);
        let secret = match jwt_secret_source(|name| std::env::var(name).ok())? {
            JwtSecretSource::Env(secret) => secret,
            JwtSecretSource::SecretsManager(arn) => read_secret(&config, &aws, http, &arn).await?,
        };
        let jwt = JwtKeys::new(secret.as_bytes(), &config);
        coldstart_mark("secret");
        Ok(Self {
            store,
            config,
            jwt: Some(jwt),
        })
    }
}

/// The store, with its warm-up reads (one per connection) started. They run whenever the rest
/// of the init waits (for Secrets Manager in AWS, for the Lambda runtime's first poll), so
/// their round trip (in AWS also DNS, TCP and TLS) overlaps that work. Measured: giving them
/// the first turn instead (a `yield_now` here) made no cold start shorter (docs/performance.md).
fn start_store(
    config: &Config,
    aws: &AwsEnv,
    http: SharedHttpClient,
    connections: usize,
) -> DynamoStore {
    let store = DynamoStore::from_env(config, aws, http);
    coldstart_mark("clients");
    store.start_warm_up(connections);
    store
}

async fn read_secret(
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

/// The end of a cold-start phase, for `make bench`'s breakdown (tests/src/bin/coldstart.rs):
/// with `YEBOLINK_COLDSTART_MARKS` set, one `coldstart-mark PHASE UNIX-MICROS` line on stderr.
/// Never set in AWS, where it costs one environment lookup per phase.
pub fn coldstart_mark(phase: &str) {
    if std::env::var_os("YEBOLINK_COLDSTART_MARKS").is_some() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!("coldstart-mark {phase} {}", now.as_micros());
    }
}

/// JSON logs (CloudWatch-friendly). `RUST_LOG` is a single level (`error` .. `trace`, default
/// `info`): a level filter instead of per-module directives keeps the regex engine out of
/// every binary. Other crates are capped at `debug` whatever the level: at `trace`,
/// `lambda_runtime` logs each raw event, with its `X-API-Key`, bearer token or password.
/// Release builds have no `trace` lines at all (`release_max_level_debug`, Cargo.toml).
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|raw| {
            raw.trim()
                .parse::<tracing::level_filters::LevelFilter>()
                .ok()
        })
        .unwrap_or(tracing::level_filters::LevelFilter::INFO);
    tracing::subscriber::set_global_default(subscriber(level, std::io::stdout))
        .expect("logging is set up once");
}

/// Crates whose events are logged at the configured level; every other crate at most `debug`.
const OWN_CRATES: [&str; 16] = [
    "yebolink_shared",
    "authorizer",
    "authorizer_handler",
    "create_api_key",
    "deactivate_api_key",
    "get_message",
    "key_usage",
    "list_api_keys",
    "list_audit_events",
    "list_messages",
    "login",
    "register",
    "report_leaked_keys",
    "rotate_api_key",
    "send_message",
    "workspace_usage",
];

fn subscriber<W>(
    level: tracing::level_filters::LevelFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let third_party = level.min(tracing::level_filters::LevelFilter::DEBUG);
    let filter = tracing_subscriber::filter::filter_fn(move |meta| {
        let own = OWN_CRATES
            .iter()
            .any(|name| meta.target() == *name || meta.target().starts_with(&format!("{name}::")));
        *meta.level() <= if own { level } else { third_party }
    });
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_writer(writer)
        .finish()
        .with(filter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Finding 5: with `RUST_LOG=trace`, the raw event `lambda_runtime` logs at TRACE (here
    /// with its exact target and message) is not written; our own trace lines are.
    #[test]
    fn at_trace_level_no_raw_event_with_secrets_reaches_the_log() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(tracing::level_filters::LevelFilter::TRACE, move || {
            writer.clone()
        });
        let key = "ybk_1234567890abcdef1234567890abcdef12345678deadbeef"; // a test fixture, not a key
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = format!(r#"{{"headers":{{"x-api-key":"{key}","authorization":"Bearer eyJhbGciOi.x.y"}},"body":"{{\"password\":\"hunter2hunter2\"}}"}}"#),
                "raw JSON event received from Lambda"
            );
            tracing::debug!(target: "lambda_runtime", "a debug line from a dependency");
            tracing::trace!(target: "yebolink_shared::auth", "our own trace line");
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for secret in [key, "eyJhbGciOi", "hunter2hunter2", "raw JSON event"] {
            assert!(!log.contains(secret), "{secret} reached the log: {log}");
        }
        assert!(log.contains("a debug line from a dependency"), "{log}");
        assert!(log.contains("our own trace line"), "{log}");
    }
}
