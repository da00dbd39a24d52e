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
