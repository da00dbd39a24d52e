//! `Limits`: the numbers the API enforces (rate windows, the active-key cap, how long the audit
//! trail is kept). Read once from the environment by `bootstrap::config`; plain values here so
//! services and handlers take them without knowing where they came from.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute per API key.
    pub rate_limit_per_minute: u64,
    /// Requests per minute across all keys of one workspace (default 10 x the per-key limit).
    pub workspace_rate_limit_per_minute: u64,
    /// Active keys a workspace may hold at once.
    pub workspace_key_limit: u64,
    /// Days an audit event is kept (its TTL).
    pub audit_retention_days: u64,
    /// Registrations per source address per hour.
    pub register_limit_per_ip_per_hour: u64,
    /// Login requests per source address per 15 minutes.
    pub login_limit_per_ip_per_15_min: u64,
}

/// Which limit refused a request: what the `RateLimited` metric's `Limit` dimension says, so an
/// operator tells a noisy key from a workspace at its cap or an address hammering login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The key's own window.
    Key,
    /// The window all keys of a workspace share.
    Workspace,
    /// A per-source limit (register, login, login attempts per email).
    Source,
    /// A key's monthly send limit.
    Quota,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Key => "key",
            LimitKind::Workspace => "workspace",
            LimitKind::Source => "source",
            LimitKind::Quota => "quota",
        }
    }
}
