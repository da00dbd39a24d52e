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

/// Whether a function signs or checks user tokens itself (outside local mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsesJwt {
    Yes,
    OnlyInlineAuth,
}

impl App<DynamoStore> {
    /// Cold start: configuration, one AWS SDK configuration shared by every client, the JWT
    /// secret (read once), and the DynamoDB client.
    pub async fn from_env(uses_jwt: UsesJwt) -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk_config = DynamoStore::sdk_config(&config).await;
        let jwt = if uses_jwt == UsesJwt::Yes || config.local_inline_auth {
            let secret = match jwt_secret_source(|name| std::env::var(name).ok())? {
                JwtSecretSource::Env(secret) => secret,
                JwtSecretSource::SecretsManager(arn) => read_secret(&sdk_config, &arn).await?,
            };
            Some(JwtKeys::new(secret.as_bytes(), &config))
        } else {
            None
        };
        let store = DynamoStore::from_sdk_config(&config, &sdk_config);
        store.warm_up().await;
        Ok(Self { store, config, jwt })
    }
}

async fn read_secret(sdk_config: &aws_config::SdkConfig, arn: &str) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk_config);
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|err| {
        tracing::error!(error = %aws_sdk_secretsmanager::error::DisplayErrorContext(err), "reading the JWT secret failed");
        ConfigError::SecretUnavailable
    })?;
    check_secret(output.secret_string.ok_or(ConfigError::SecretUnavailable)?)
}

/// JSON logs (CloudWatch-friendly), level from `RUST_LOG`, default `info`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .init();
}
