//! Messages in memory.

use super::*;

impl MessageStore for MemoryStore {
    async fn put_message(
        &self,
        message: &MessageRecord,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError> {
        let mut state = self.state()?;
        if let Some(record) = idempotency {
            let slot = (record.workspace_id, record.key.clone());
            if let Some(existing) = state.idempotency.get(&slot) {
                if existing.expires_at > now {
                    return Ok(SendOutcome::Replayed(existing.clone()));
                }
            }
            state.idempotency.insert(slot, record.clone());
        }
        state
            .messages
            .insert((message.workspace_id, message.id), message.clone());
        Ok(SendOutcome::Created)
    }

    async fn find_idempotency_record(
        &self,
        workspace_id: WorkspaceId,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let state = self.state()?;
        Ok(state
            .idempotency
            .get(&(workspace_id, key.to_owned()))
            .filter(|record| record.expires_at > now)
            .cloned())
    }

    async fn list_messages(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<MessageId>,
    ) -> Result<MessagePage, StoreError> {
        let state = self.message_state()?;
        let upper = after.unwrap_or_else(|| MessageId::from(uuid::Uuid::max()));
        let mut newest_first = state
            .messages
            .range((workspace_id, MessageId::from(uuid::Uuid::nil()))..(workspace_id, upper))
            .rev()
            .map(|(_, m)| m.clone());
        let messages: Vec<_> = newest_first.by_ref().take(limit).collect();
        let has_more = newest_first.next().is_some();
        Ok(MessagePage { messages, has_more })
    }

    async fn get_message(
        &self,
        workspace_id: WorkspaceId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self
            .message_state()?
            .messages
            .get(&(workspace_id, id))
            .cloned())
    }
}
