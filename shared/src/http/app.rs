//! `App`: what every handler is handed, built once at cold start (`bootstrap`): the store, the
//! limits, the JWT keys where tokens are issued or verified, and whether identity is decided
//! inline (local mode) instead of read from the authorizer's context.

use crate::domain::limits::Limits;
use crate::services::jwt::JwtKeys;

pub struct App<S> {
    pub store: S,
    pub limits: Limits,
    /// Present where tokens are issued or verified: register, login, the authorizer, and
    /// every function in local inline-auth mode.
    pub jwt: Option<JwtKeys>,
    /// Local mode only: functions run the authorizer's decision themselves, because
    /// `cargo lambda watch` has no API Gateway in front. Never set in the SAM template.
    pub local_inline_auth: bool,
}
