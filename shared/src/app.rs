//! `App`: what a function builds once at cold start (config, store, JWT keys) and hands to its
//! handler on every request; plus logging setup.

use crate::config::{check_secret, jwt_secret_source, Config, ConfigError, JwtSecretSource};
use crate::jwt::JwtKeys;
use crate::store::DynamoStore;

pub struct App<S> {
    pub store: S,
    pub config: Config,
    /// Present where tokens are issued or verified: register, login, the authorizer, and
    /// every function in local inline-auth mode.
    pub jwt: Option<JwtKeys>,
}

impl App<DynamoStore> {
    /// Cold start of a function behind the authorizer. It reads no secret, except in local
    /// inline-auth mode, where it verifies tokens itself with `JWT_SECRET` from the environment.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk_config = DynamoStore::sdk_config(&config).await;
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
        Ok(Self::assemble(config, &sdk_config, jwt).await)
    }

    /// Cold start of a function that signs or verifies tokens in AWS too (register, login, the
    /// authorizer): the secret is read once, here. A separate constructor, so the Secrets
    /// Manager client is linked only into these binaries.
    pub async fn from_env_with_jwt_secret() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk_config = DynamoStore::sdk_config(&config).await;
        let jwt = load_jwt_keys(&config, &sdk_config).await?;
        Ok(Self::assemble(config, &sdk_config, Some(jwt)).await)
    }

    async fn assemble(
        config: Config,
        sdk_config: &aws_config::SdkConfig,
        jwt: Option<JwtKeys>,
    ) -> Self {
        let store = DynamoStore::from_sdk_config(&config, sdk_config);
        store.warm_up().await;
        Self { store, config, jwt }
    }
}

async fn load_jwt_keys(
    config: &Config,
    sdk_config: &aws_config::SdkConfig,
) -> Result<JwtKeys, ConfigError> {
    let secret = match jwt_secret_source(|name| std::env::var(name).ok())? {
        JwtSecretSource::Env(secret) => secret,
        JwtSecretSource::SecretsManager(arn) => read_secret(sdk_config, &arn).await?,
    };
    Ok(JwtKeys::new(secret.as_bytes(), config))
}

async fn read_secret(sdk_config: &aws_config::SdkConfig, arn: &str) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk_config);
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|err| {
        tracing::error!(error = %aws_sdk_secretsmanager::error::DisplayErrorContext(err), "reading the JWT secret failed");
        ConfigError::SecretUnavailable
    })?;
    check_secret(output.secret_string.ok_or(ConfigError::SecretUnavailable)?)
}

/// JSON logs (CloudWatch-friendly). `RUST_LOG` is a single level (`error` .. `trace`, default
/// `info`): a level filter instead of per-module directives keeps the regex engine out of
/// every binary. Other crates are capped at `debug` whatever the level: at `trace`,
/// `lambda_runtime` logs each raw event, with its `X-API-Key`, bearer token or password.
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
const OWN_CRATES: [&str; 11] = [
    "yebolink_shared",
    "authorizer",
    "authorizer_handler",
    "create_api_key",
    "deactivate_api_key",
    "get_message",
    "list_api_keys",
    "list_messages",
    "login",
    "register",
    "send_message",
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
        let key = "ybk_0123456789abcdef0123456789abcdef01234567deadbeef";
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
