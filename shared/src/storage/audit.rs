//! The audit trail: events that record no change of their own (logins), and the listing.
//! Events of changes are written by the change's own transaction (`KeyStore`, `AccountStore`).

use std::future::Future;

use crate::domain::audit::{AuditEvent, AuditEventType};
use crate::domain::ids::{AuditEventId, WorkspaceId};
use crate::storage::error::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Where the next page starts after, when there may be more: the last event read (which
    /// with a type filter may be one that did not match).
    pub continue_after: Option<AuditEventId>,
}

pub trait AuditStore: Send + Sync {
    fn record_audit_event(
        &self,
        workspace_id: WorkspaceId,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn list_audit_events(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<AuditEventId>,
        event_type: Option<AuditEventType>,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send;
}
