//! `ApiError`: the one error type at the HTTP boundary. Each variant maps to a status code and
//! a stable error `code`; the message is safe to show a client (never internal error text).
//! Every lower layer's error becomes one here (`From`), so handlers use `?` throughout.

use lambda_http::http::StatusCode;

use crate::domain::invalid::InvalidField;
use crate::domain::leak::InvalidReports;
use crate::domain::limits::LimitKind;
use crate::services::auth::{AuthError, MissingScope};
use crate::services::ratelimit::Refusal;
use crate::storage::error::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("Request body is not valid JSON")]
    InvalidJson,
    #[error("{0}")]
    Validation(String),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Missing or invalid bearer token")]
    Unauthorized,
    #[error("Invalid email or password")]
    InvalidCredentials,
    #[error("Invalid API key")]
    InvalidApiKey,
    /// A leaked-key report whose signature is missing, malformed, by an unknown key or wrong.
    #[error("Missing or invalid request signature")]
    InvalidSignature,
    #[error("This API key lacks the {0} scope")]
    InsufficientScope(&'static str),
    #[error("This API key cannot be used from this address")]
    IpNotAllowed,
    #[error("Resource not found")]
    NotFound,
    #[error("An account with this email already exists")]
    EmailTaken,
    #[error("This workspace already has the maximum number of active API keys ({limit}); deactivate one first")]
    KeyLimitReached { limit: u64 },
    #[error("Only an active key that has not been rotated yet can be rotated")]
    KeyNotRotatable,
    #[error("Only an active key that has not been rotated can be edited")]
    KeyNotEditable,
    #[error("This workspace already has the maximum number of webhook endpoints ({limit}); delete one first")]
    WebhookLimitReached { limit: u64 },
    #[error("This delivery is being attempted right now; retry in a minute")]
    DeliveryInProgress,
    #[error("Request body exceeds 64 KiB")]
    PayloadTooLarge,
    #[error("Idempotency-Key was already used with a different request body")]
    IdempotencyConflict,
    #[error("Rate limit exceeded, retry after {retry_after} seconds")]
    RateLimited { retry_after: u64, limit: LimitKind },
    #[error("Too many failed login attempts, retry after {retry_after} seconds")]
    TooManyLoginAttempts { retry_after: u64 },
    #[error("This API key has reached its monthly send limit")]
    QuotaExceeded { retry_after: u64 },
    #[error("Internal server error")]
    Internal,
    #[error("Service temporarily unavailable, please retry")]
    ServiceUnavailable,
}

impl ApiError {
    /// A validation error whose message names the offending field.
    pub fn field(field: &str, problem: &str) -> Self {
        ApiError::Validation(format!("{field}: {problem}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized
            | ApiError::InvalidCredentials
            | ApiError::InvalidApiKey
            | ApiError::InvalidSignature => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope(_) | ApiError::IpNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::EmailTaken
            | ApiError::KeyLimitReached { .. }
            | ApiError::KeyNotRotatable
            | ApiError::KeyNotEditable
            | ApiError::WebhookLimitReached { .. }
            | ApiError::DeliveryInProgress => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::IdempotencyConflict => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. }
            | ApiError::TooManyLoginAttempts { .. }
            | ApiError::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson => "invalid_json",
            ApiError::Validation(_) => "validation_error",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::InvalidSignature => "invalid_signature",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::IpNotAllowed => "ip_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::EmailTaken => "email_taken",
            ApiError::KeyLimitReached { .. } => "key_limit_reached",
            ApiError::KeyNotRotatable => "key_not_rotatable",
            ApiError::KeyNotEditable => "key_not_editable",
            ApiError::WebhookLimitReached { .. } => "webhook_limit_reached",
            ApiError::DeliveryInProgress => "delivery_in_progress",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::IdempotencyConflict => "idempotency_conflict",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyLoginAttempts { .. } => "too_many_attempts",
            ApiError::QuotaExceeded { .. } => "quota_exceeded",
            ApiError::Internal => "internal_error",
            ApiError::ServiceUnavailable => "service_unavailable",
        }
    }

    /// Seconds a client should wait before retrying, for the `Retry-After` header.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. }
            | ApiError::TooManyLoginAttempts { retry_after }
            | ApiError::QuotaExceeded { retry_after } => Some(*retry_after),
            ApiError::ServiceUnavailable => Some(1),
            _ => None,
        }
    }

    /// The limit behind a 429: for the `RateLimited` metric (a failed login's lockout counts
    /// as a per-source limit).
    pub fn limit_kind(&self) -> Option<LimitKind> {
        match self {
            ApiError::RateLimited { limit, .. } => Some(*limit),
            ApiError::TooManyLoginAttempts { .. } => Some(LimitKind::Source),
            ApiError::QuotaExceeded { .. } => Some(LimitKind::Quota),
            _ => None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                tracing::error!(error = %detail, "storage unavailable");
                ApiError::ServiceUnavailable
            }
            StoreError::Corrupt(detail) => {
                tracing::error!(error = %detail, "stored item is corrupt");
                ApiError::Internal
            }
        }
    }
}

impl From<InvalidField> for ApiError {
    fn from(invalid: InvalidField) -> Self {
        ApiError::field(&invalid.field, &invalid.problem)
    }
}

impl From<InvalidReports> for ApiError {
    fn from(invalid: InvalidReports) -> Self {
        match invalid {
            InvalidReports::NotJson => ApiError::InvalidJson,
            InvalidReports::Field(field) => field.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidToken => ApiError::Unauthorized,
            AuthError::InvalidApiKey(_) => ApiError::InvalidApiKey,
            AuthError::Unavailable(err) => err.into(),
        }
    }
}

impl From<MissingScope> for ApiError {
    fn from(MissingScope(scope): MissingScope) -> Self {
        ApiError::InsufficientScope(scope.as_str())
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::RateLimited { retry_after, limit } => {
                ApiError::RateLimited { retry_after, limit }
            }
            Refusal::MissingScope(scope) => MissingScope(scope).into(),
            Refusal::IpNotAllowed => ApiError::IpNotAllowed,
            Refusal::QuotaExceeded { retry_after } => ApiError::QuotaExceeded { retry_after },
        }
    }
}

/// No randomness for a fresh key (create, rotate): the operating system failed us.
impl From<getrandom::Error> for ApiError {
    fn from(err: getrandom::Error) -> Self {
        tracing::error!(error = %err, "no randomness");
        ApiError::Internal
    }
}
