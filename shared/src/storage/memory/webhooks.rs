//! Webhooks in memory: endpoints, deliveries with their claims, and what is due.

use super::*;
use crate::domain::ids::{DeliveryId, WebhookId};
use crate::domain::webhook::{next_expiry_reminder, Delivery, DeliveryStatus, WebhookEndpoint};
use crate::storage::webhooks::{DeliveryPage, KeyReminder, WebhookCreated, WebhookStore};

/// A stored delivery, its claim's end and when it is next due (pending only).
#[derive(Clone)]
pub(super) struct StoredDelivery {
    delivery: Delivery,
    lease_until: Option<Timestamp>,
    due_at: Option<Timestamp>,
}

impl MemoryStore {
    /// When a key's reminder is due: what the scheduler moved it to, else the first one.
    fn reminder_due(state: &State, key: &ApiKeyRecord) -> Option<Timestamp> {
        match state.reminders.get(&(key.workspace_id, key.id)) {
            Some(moved) => *moved,
            None if key.replaced_by.is_some() => None,
            None => key
                .expires_at
                .and_then(|expiry| next_expiry_reminder(expiry, key.created_at)),
        }
    }
}

impl WebhookStore for MemoryStore {
    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        max: u64,
        event: &AuditEvent,
    ) -> Result<WebhookCreated, StoreError> {
        let mut state = self.state()?;
        let count = state
            .webhook_counts
            .entry(endpoint.workspace_id)
            .or_default();
        if *count >= max {
            return Ok(WebhookCreated::LimitReached);
        }
        *count += 1;
        state
            .webhooks
            .insert((endpoint.workspace_id, endpoint.id), endpoint.clone());
        state.record(endpoint.workspace_id, event);
        Ok(WebhookCreated::Created)
    }

    async fn list_webhooks(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let state = self.state()?;
        Ok(state
            .webhooks
            .iter()
            .rev()
            .filter(|((ws, _), _)| *ws == workspace_id)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn get_webhook(
        &self,
        workspace_id: WorkspaceId,
        id: WebhookId,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        Ok(self.state()?.webhooks.get(&(workspace_id, id)).cloned())
    }

    async fn save_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let slot = (endpoint.workspace_id, endpoint.id);
        match state.webhooks.get(&slot) {
            Some(stored) if stored.version + 1 == endpoint.version => {}
            _ => return Ok(false),
        }
        state.webhooks.insert(slot, endpoint.clone());
        if let Some(event) = event {
            state.record(endpoint.workspace_id, event);
        }
        Ok(true)
    }

    async fn delete_webhook(
        &self,
        workspace_id: WorkspaceId,
        id: WebhookId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        if state.webhooks.remove(&(workspace_id, id)).is_none() {
            return Ok(false);
        }
        if let Some(count) = state.webhook_counts.get_mut(&workspace_id) {
            *count = count.saturating_sub(1);
        }
        state.record(workspace_id, event);
        Ok(true)
    }

    async fn create_delivery(
        &self,
        delivery: &Delivery,
        lease_until: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let slot = (delivery.endpoint_id, delivery.id);
        if state.deliveries.contains_key(&slot) {
            return Ok(false);
        }
        let stored = StoredDelivery {
            delivery: delivery.clone(),
            lease_until: Some(lease_until),
            due_at: Some(lease_until),
        };
        state.deliveries.insert(slot, stored);
        Ok(true)
    }

    async fn get_delivery(
        &self,
        endpoint_id: WebhookId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .state()?
            .deliveries
            .get(&(endpoint_id, id))
            .map(|d| d.delivery.clone()))
    }

    async fn list_deliveries(
        &self,
        endpoint_id: WebhookId,
        limit: usize,
        after: Option<DeliveryId>,
    ) -> Result<DeliveryPage, StoreError> {
        let state = self.state()?;
        let mut newest_first = state
            .deliveries
            .iter()
            .rev()
            .filter(|((endpoint, id), _)| {
                *endpoint == endpoint_id && after.is_none_or(|after| *id < after)
            })
            .map(|(_, d)| d.delivery.clone());
        let deliveries: Vec<Delivery> = newest_first.by_ref().take(limit).collect();
        let continue_after = match deliveries.last() {
            Some(last) if newest_first.next().is_some() => Some(last.id),
            _ => None,
        };
        Ok(DeliveryPage {
            deliveries,
            continue_after,
        })
    }

    async fn claim_delivery(
        &self,
        endpoint_id: WebhookId,
        id: DeliveryId,
        now: Timestamp,
        lease_until: Timestamp,
        finished_too: bool,
    ) -> Result<Option<Delivery>, StoreError> {
        let mut state = self.state()?;
        let Some(stored) = state.deliveries.get_mut(&(endpoint_id, id)) else {
            return Ok(None);
        };
        let free = stored.lease_until.is_none_or(|lease| lease <= now);
        let pending = stored.delivery.status == DeliveryStatus::Pending;
        if !free || !(pending || finished_too) {
            return Ok(None);
        }
        stored.delivery.status = DeliveryStatus::Pending;
        stored.lease_until = Some(lease_until);
        stored.due_at = Some(lease_until);
        Ok(Some(stored.delivery.clone()))
    }

    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempts_before: usize,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(stored) = state
            .deliveries
            .get_mut(&(delivery.endpoint_id, delivery.id))
        else {
            return Ok(false);
        };
        if stored.delivery.attempts.len() != attempts_before {
            return Ok(false);
        }
        *stored = StoredDelivery {
            delivery: delivery.clone(),
            lease_until: None,
            due_at: delivery
                .next_attempt_at
                .filter(|_| delivery.status == DeliveryStatus::Pending),
        };
        Ok(true)
    }

    async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(WebhookId, DeliveryId)>, StoreError> {
        Ok(self
            .state()?
            .deliveries
            .iter()
            .filter(|(_, d)| d.due_at.is_some_and(|due| due <= now))
            .map(|(slot, _)| *slot)
            .take(limit)
            .collect())
    }

    async fn due_key_reminders(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KeyReminder>, StoreError> {
        let state = self.state()?;
        Ok(state
            .keys
            .values()
            .filter_map(|key| {
                let due_at = Self::reminder_due(&state, key).filter(|due| *due <= now)?;
                Some(KeyReminder {
                    workspace_id: key.workspace_id,
                    key_id: key.id,
                    due_at,
                })
            })
            .take(limit)
            .collect())
    }

    async fn advance_key_reminder(
        &self,
        reminder: &KeyReminder,
        next_due: Option<Timestamp>,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(key) = state.keys.get(&(reminder.workspace_id, reminder.key_id)) else {
            return Ok(false);
        };
        if Self::reminder_due(&state, key) != Some(reminder.due_at) {
            return Ok(false);
        }
        state
            .reminders
            .insert((reminder.workspace_id, reminder.key_id), next_due);
        if let Some(event) = event {
            state.record(reminder.workspace_id, event);
        }
        Ok(true)
    }
}
