//! `App`: what a function builds once at cold start (config, store, JWT keys) and hands to its
//! handler on every request; plus logging setup.

use crate::config::{jwt_secret, Config, ConfigError};
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
    pub async fn from_env(uses_jwt: UsesJwt) -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let jwt = if uses_jwt == UsesJwt::Yes || config.local_inline_auth {
            Some(JwtKeys::new(&jwt_secret()?, &config))
        } else {
            None
        };
        let store = DynamoStore::connect(&config).await;
        Ok(Self { store, config, jwt })
    }
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
