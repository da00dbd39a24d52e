//! The audit trail in memory.

use super::*;

impl AuditStore for MemoryStore {
    async fn record_audit_event(
        &self,
        workspace_id: WorkspaceId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.state()?.record(workspace_id, event);
        Ok(())
    }

    async fn list_audit_events(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<AuditEventId>,
        event_type: Option<AuditEventType>,
    ) -> Result<AuditPage, StoreError> {
        let state = self.state()?;
        let upper = after.unwrap_or_else(|| AuditEventId::from(uuid::Uuid::max()));
        let mut newest_first = state
            .events
            .range((workspace_id, AuditEventId::from(uuid::Uuid::nil()))..(workspace_id, upper))
            .rev()
            .map(|(_, e)| e)
            .filter(|e| event_type.is_none_or(|t| e.event_type == t));
        let events: Vec<AuditEvent> = newest_first.by_ref().take(limit).cloned().collect();
        let continue_after = match events.last() {
            Some(last) if newest_first.next().is_some() => Some(last.id),
            _ => None,
        };
        Ok(AuditPage {
            events,
            continue_after,
        })
    }
}
