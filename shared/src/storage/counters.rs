//! Fixed-window counters: atomic counts per window item, with a TTL, for the per-workspace and
//! per-source limits (a key's own window is its usage counter, `UsageStore`).

use std::future::Future;

use crate::domain::account::Email;
use crate::domain::ids::{KeyId, WorkspaceId};
use crate::domain::limits::LimitKind;
use crate::domain::timestamp::Timestamp;
use crate::storage::error::StoreError;

/// A fixed-window counter: what is counted, and for whom. Each is one item per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter<'a> {
    /// Requests made with one API key.
    KeyRequests(KeyId),
    /// Requests made with any key of one workspace.
    WorkspaceRequests(WorkspaceId),
    /// Login attempts for one email from one source address.
    LoginAttempts { email: &'a Email, source: &'a str },
    /// Login attempts for one email from every source together.
    LoginAttemptsAllSources(&'a Email),
    /// Login requests from one source address, whatever the email.
    LoginsFromSource(&'a str),
    /// Registrations from one source address.
    RegistrationsFromSource(&'a str),
    /// Messages sent by a line of keys (a key and its rotations: `ApiKeyRecord::quota_id`),
    /// per calendar month.
    MonthlySends(KeyId),
}

impl Counter<'_> {
    /// The counter's name: the partition key of its items (the window is the sort key).
    pub fn name(&self) -> String {
        match self {
            Counter::KeyRequests(key) => format!("RATE#{key}"),
            Counter::WorkspaceRequests(ws) => format!("RATE#WS#{ws}"),
            // The source first: it never contains '#', so no email can forge another name.
            Counter::LoginAttempts { email, source } => {
                format!("LOGINSRC#{source}#{}", email.as_str())
            }
            Counter::LoginAttemptsAllSources(email) => format!("LOGIN#{}", email.as_str()),
            Counter::LoginsFromSource(source) => format!("SRC#{source}#LOGIN"),
            Counter::RegistrationsFromSource(source) => format!("SRC#{source}#REGISTER"),
            Counter::MonthlySends(quota_id) => format!("QUOTA#{quota_id}"),
        }
    }

    /// The limit this counter's window enforces.
    pub fn limit_kind(&self) -> LimitKind {
        match self {
            Counter::KeyRequests(_) => LimitKind::Key,
            Counter::WorkspaceRequests(_) => LimitKind::Workspace,
            Counter::MonthlySends(_) => LimitKind::Quota,
            Counter::LoginAttempts { .. }
            | Counter::LoginAttemptsAllSources(_)
            | Counter::LoginsFromSource(_)
            | Counter::RegistrationsFromSource(_) => LimitKind::Source,
        }
    }
}

pub trait CounterStore: Send + Sync {
    fn count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    fn uncount(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts one in the window unless it already holds `limit`: the count after, or `None`
    /// (nothing written) when it is full. One conditional write, so concurrent callers can
    /// never pass the limit together.
    fn count_up_to(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        expires_at: Timestamp,
        limit: u64,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// The window's count (0 for a window never counted in), strongly consistent.
    fn current_count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
