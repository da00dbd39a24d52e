//! The audit trail: events under their workspace, newest first, with an optional type filter.

use super::*;

/// Query pages one audit listing reads at most (each up to `limit + 1` items).
const AUDIT_PAGES_PER_CALL: usize = 5;

impl AuditStore for DynamoStore {
    async fn record_audit_event(
        &self,
        workspace_id: WorkspaceId,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        // A retried put of the same event id writes the same item again: harmless.
        self.connected()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(workspace_id, event)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_audit_events(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<AuditEventId>,
        event_type: Option<AuditEventType>,
    ) -> Result<AuditPage, StoreError> {
        let pk = workspace_pk(workspace_id);
        let mut start = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), s(pk.clone())),
                ("sk".to_owned(), s(format!("AUDIT#{id}"))),
            ])
        });
        let mut events = Vec::new();
        // With a type filter DynamoDB applies `Limit` before the filter, so read on; but at
        // most a few pages per call, so one request's cost stays bounded. The cursor then
        // continues after the last event read.
        for _ in 0..AUDIT_PAGES_PER_CALL {
            let wanted = limit + 1 - events.len();
            let mut query = self
                .connected()
                .await
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s("AUDIT#"))
                .scan_index_forward(false)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if let Some(t) = event_type {
                query = query
                    .filter_expression("event_type = :type")
                    .expression_attribute_values(":type", s(t.as_str()));
            }
            let output = query.send().await.map_err(unavailable)?;
            for item in output.items() {
                events.push(audit_from_item(item)?);
            }
            start = output.last_evaluated_key;
            if events.len() > limit || start.is_none() {
                break;
            }
        }
        let continue_after = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| e.id)
        } else {
            match &start {
                Some(key) => Some(
                    read_s(key, "sk")?
                        .trim_start_matches("AUDIT#")
                        .parse()
                        .map_err(|_| StoreError::Corrupt("audit sort key".into()))?,
                ),
                None => None,
            }
        };
        Ok(AuditPage {
            events,
            continue_after,
        })
    }
}
