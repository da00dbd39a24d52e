//! `Config`: everything a function reads from its environment, read once at cold start.
//! Secrets come from the environment (locally) or from Secrets Manager (in AWS), decided by
//! `jwt_secret_source` only.

use std::time::Duration;

use crate::domain::limits::Limits;
use crate::domain::webhook::RetrySchedule;
use crate::domain::webhook_target::UrlPolicy;
use crate::services::jwt::TokenSettings;
use crate::services::webhooks::{Sender, WebhookSettings, Webhooks};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, &'static str),
    #[error("the JWT secret could not be read from Secrets Manager")]
    SecretUnavailable,
}

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    /// Set locally to the emulator's URL; unset in AWS.
    pub dynamodb_endpoint: Option<String>,
    pub dynamodb_timeout: Duration,
    pub tokens: TokenSettings,
    pub limits: Limits,
    /// Local mode only: functions run the authorizer's decision themselves, because
    /// `cargo lambda watch` has no API Gateway in front. Never set in the SAM template.
    pub local_inline_auth: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Same as `from_env`, from any source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = get("TABLE_NAME")
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let rate_limit_per_minute = number(&get, "RATE_LIMIT_PER_MINUTE", 100)?;
        Ok(Self {
            table_name,
            dynamodb_endpoint: get("DYNAMODB_ENDPOINT").filter(|v| !v.is_empty()),
            dynamodb_timeout: Duration::from_millis(number(&get, "DYNAMODB_TIMEOUT_MS", 2000)?),
            tokens: TokenSettings {
                issuer: get("JWT_ISSUER").unwrap_or_else(|| "yebolink".into()),
                audience: get("JWT_AUDIENCE").unwrap_or_else(|| "yebolink-api".into()),
                ttl_seconds: i64::try_from(number(&get, "JWT_TTL_SECONDS", 3600)?)
                    .map_err(|_| ConfigError::Invalid("JWT_TTL_SECONDS", "too large"))?,
            },
            limits: Limits {
                rate_limit_per_minute,
                workspace_rate_limit_per_minute: number(
                    &get,
                    "WORKSPACE_RATE_LIMIT_PER_MINUTE",
                    rate_limit_per_minute.saturating_mul(10),
                )?,
                workspace_key_limit: number(&get, "WORKSPACE_KEY_LIMIT", 50)?,
                audit_retention_days: number(&get, "AUDIT_RETENTION_DAYS", 400)?,
                register_limit_per_ip_per_hour: number(&get, "REGISTER_LIMIT_PER_IP_PER_HOUR", 10)?,
                login_limit_per_ip_per_15_min: number(&get, "LOGIN_LIMIT_PER_IP_PER_15_MIN", 60)?,
            },
            local_inline_auth: get("YEBOLINK_LOCAL_INLINE_AUTH").as_deref() == Some("1"),
        })
    }
}

/// What the webhook functions read beside `Config`: `WEBHOOK_URL_POLICY` (`public` unless set
/// to `loopback`, which only `make dev` and `make test` do), `WEBHOOK_RETRY_DELAYS_SECONDS`,
/// `WEBHOOK_DISABLE_AFTER_SECONDS` and `WEBHOOK_TIMEOUT_MS`.
pub fn webhook_settings(
    get: impl Fn(&str) -> Option<String>,
    limits: &Limits,
) -> Result<WebhookSettings, ConfigError> {
    let mut settings = WebhookSettings::deployed(limits.audit_retention_days);
    settings.url_policy = UrlPolicy::parse(get("WEBHOOK_URL_POLICY").as_deref()).ok_or(
        ConfigError::Invalid("WEBHOOK_URL_POLICY", "must be public or loopback"),
    )?;
    if let Some(raw) = get("WEBHOOK_RETRY_DELAYS_SECONDS").filter(|v| !v.trim().is_empty()) {
        settings.retries = RetrySchedule::parse(&raw).ok_or(ConfigError::Invalid(
            "WEBHOOK_RETRY_DELAYS_SECONDS",
            "must be whole seconds separated by commas",
        ))?;
    }
    settings.disable_after_seconds = i64::try_from(number(
        &get,
        "WEBHOOK_DISABLE_AFTER_SECONDS",
        settings.disable_after_seconds.unsigned_abs(),
    )?)
    .map_err(|_| ConfigError::Invalid("WEBHOOK_DISABLE_AFTER_SECONDS", "too large"))?;
    let timeout_ms = number(&get, "WEBHOOK_TIMEOUT_MS", 10_000)?;
    settings.timeout = Duration::from_millis(timeout_ms);
    // A claim outlives the longest attempt.
    settings.lease_seconds = i64::try_from(timeout_ms / 1000 + 50).unwrap_or(i64::MAX);
    Ok(settings)
}

/// The webhook functions' dependencies, from the environment.
pub fn webhooks_from_env() -> Result<Webhooks, ConfigError> {
    let config = Config::from_env()?;
    Ok(Webhooks {
        settings: webhook_settings(|name| std::env::var(name).ok(), &config.limits)?,
        sender: Sender::default(),
    })
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(0) => Err(ConfigError::Invalid(name, "must be positive")),
            Ok(n) => Ok(n),
            Err(_) => Err(ConfigError::Invalid(name, "must be a whole number")),
        },
    }
}

/// Region and credentials for the AWS clients, from the environment only. Lambda always sets
/// `AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`, so the SDK's default provider chain (profile files, IMDS, ECS, web
/// identity through STS) only added work to every cold start and code to every binary
/// (docs/performance.md, "Choices that shaped the release profile").
#[derive(Clone, Debug)]
pub struct AwsEnv {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Unset for long-term keys (local development).
    pub session_token: Option<String>,
}

impl AwsEnv {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        Ok(Self {
            region: required("AWS_REGION").or_else(|_| required("AWS_DEFAULT_REGION"))?,
            access_key_id: required("AWS_ACCESS_KEY_ID")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
            session_token: get("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
        })
    }
}

/// Where the JWT signing secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtSecretSource {
    /// `JWT_SECRET`: local development and tests.
    Env(String),
    /// `JWT_SECRET_ARN`: a Secrets Manager secret, read once at cold start.
    SecretsManager(String),
}

/// The one place that decides where the JWT secret is read from. `JWT_SECRET_ARN` wins, so a
/// deployed function never falls back to a plain environment value.
pub fn jwt_secret_source(
    get: impl Fn(&str) -> Option<String>,
) -> Result<JwtSecretSource, ConfigError> {
    if let Some(arn) = get("JWT_SECRET_ARN").filter(|v| !v.is_empty()) {
        return Ok(JwtSecretSource::SecretsManager(arn));
    }
    let secret = get("JWT_SECRET").ok_or(ConfigError::Missing("JWT_SECRET or JWT_SECRET_ARN"))?;
    check_secret(secret).map(JwtSecretSource::Env)
}

/// A signing secret must be at least 32 bytes (256 bits for HS256).
pub fn check_secret(secret: String) -> Result<String, ConfigError> {
    if secret.len() < 32 {
        return Err(ConfigError::Invalid(
            "JWT secret",
            "must be at least 32 bytes",
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let config = config(&[("TABLE_NAME", "t")]).unwrap();
        assert_eq!(config.limits.rate_limit_per_minute, 100);
        assert_eq!(config.limits.workspace_rate_limit_per_minute, 1000);
        assert_eq!(config.limits.workspace_key_limit, 50);
        assert_eq!(config.limits.register_limit_per_ip_per_hour, 10);
        assert_eq!(config.limits.login_limit_per_ip_per_15_min, 60);
        assert!(!config.local_inline_auth);
        assert_eq!(config.dynamodb_endpoint, None);
    }

    #[test]
    fn every_limit_is_read_from_the_environment() {
        let config = config(&[
            ("TABLE_NAME", "t"),
            ("RATE_LIMIT_PER_MINUTE", "7"),
            ("WORKSPACE_RATE_LIMIT_PER_MINUTE", "20"),
            ("WORKSPACE_KEY_LIMIT", "3"),
            ("REGISTER_LIMIT_PER_IP_PER_HOUR", "4"),
            ("LOGIN_LIMIT_PER_IP_PER_15_MIN", "5"),
        ])
        .unwrap();
        assert_eq!(
            (
                config.limits.rate_limit_per_minute,
                config.limits.workspace_rate_limit_per_minute,
                config.limits.workspace_key_limit,
                config.limits.register_limit_per_ip_per_hour,
                config.limits.login_limit_per_ip_per_15_min
            ),
            (7, 20, 3, 4, 5)
        );
        // The workspace default follows the per-key limit.
        let config = config_default_workspace();
        assert_eq!(config.limits.workspace_rate_limit_per_minute, 70);
    }

    fn config_default_workspace() -> Config {
        config(&[("TABLE_NAME", "t"), ("RATE_LIMIT_PER_MINUTE", "7")]).unwrap()
    }

    #[test]
    fn inline_auth_needs_the_exact_flag() {
        assert!(
            config(&[("TABLE_NAME", "t"), ("YEBOLINK_LOCAL_INLINE_AUTH", "1")])
                .unwrap()
                .local_inline_auth
        );
        assert!(
            !config(&[("TABLE_NAME", "t"), ("YEBOLINK_LOCAL_INLINE_AUTH", "true")])
                .unwrap()
                .local_inline_auth
        );
    }

    #[test]
    fn the_secret_arn_wins_over_a_plain_secret_and_short_secrets_are_refused() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            jwt_secret_source(vars(&[("JWT_SECRET_ARN", "arn:x"), ("JWT_SECRET", "y")])).unwrap(),
            JwtSecretSource::SecretsManager("arn:x".into())
        );
        assert!(jwt_secret_source(vars(&[("JWT_SECRET", "too-short")])).is_err());
        assert!(jwt_secret_source(vars(&[])).is_err());
    }

    #[test]
    fn aws_credentials_and_region_come_from_the_environment_or_init_fails() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            AwsEnv::from_lookup(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        let lambda = env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
        ])
        .unwrap();
        assert_eq!(lambda.region, "eu-west-1");
        assert_eq!(lambda.session_token.as_deref(), Some("t"));
        let local = env(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
        ])
        .unwrap();
        assert_eq!(
            (local.region.as_str(), local.session_token),
            ("us-east-1", None)
        );
        assert!(matches!(
            env(&[("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "k")]),
            Err(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))
        ));
    }

    #[test]
    fn bad_numbers_and_missing_table_are_errors() {
        assert!(config(&[]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("RATE_LIMIT_PER_MINUTE", "lots")]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("RATE_LIMIT_PER_MINUTE", "0")]).is_err());
    }
}
