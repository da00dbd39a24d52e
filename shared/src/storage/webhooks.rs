//! Webhooks: a workspace's endpoints (at most `MAX_ENDPOINTS_PER_WORKSPACE`, each change in one
//! transaction with its audit event), the deliveries made to each, and the schedule of what is
//! due: deliveries to retry and key expiry reminders to send (the sparse `due_index`).

use std::future::Future;

use crate::domain::audit::AuditEvent;
use crate::domain::ids::{DeliveryId, KeyId, WebhookId, WorkspaceId};
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{Delivery, WebhookEndpoint};
use crate::storage::error::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookCreated {
    Created,
    /// The workspace already has its maximum; nothing was written.
    LimitReached,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Where the next page starts after, when there may be more.
    pub continue_after: Option<DeliveryId>,
}

/// A key whose expiry reminder is due: `due_at` is the time the store holds, so that two
/// schedulers cannot both send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReminder {
    pub workspace_id: WorkspaceId,
    pub key_id: KeyId,
    pub due_at: Timestamp,
}

pub trait WebhookStore: Send + Sync {
    /// The endpoint and its event, unless the workspace has `max` endpoints already.
    fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        max: u64,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<WebhookCreated, StoreError>> + Send;

    /// The workspace's endpoints, newest first.
    fn list_webhooks(
        &self,
        workspace_id: WorkspaceId,
    ) -> impl Future<Output = Result<Vec<WebhookEndpoint>, StoreError>> + Send;

    fn get_webhook(
        &self,
        workspace_id: WorkspaceId,
        id: WebhookId,
    ) -> impl Future<Output = Result<Option<WebhookEndpoint>, StoreError>> + Send;

    /// Writes `endpoint` (whose `version` is one more than the stored one) with `event`, only
    /// if the stored endpoint is still at `version - 1`: `false` when it changed or is gone.
    fn save_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        event: Option<&AuditEvent>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `false` when there was no such endpoint. Its deliveries expire with their TTL.
    fn delete_webhook(
        &self,
        workspace_id: WorkspaceId,
        id: WebhookId,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A new delivery, claimed by its creator until `lease_until` (due again then, should the
    /// creator never record its attempt). `false` when it exists already.
    fn create_delivery(
        &self,
        delivery: &Delivery,
        lease_until: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn get_delivery(
        &self,
        endpoint_id: WebhookId,
        id: DeliveryId,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    /// Newest first.
    fn list_deliveries(
        &self,
        endpoint_id: WebhookId,
        limit: usize,
        after: Option<DeliveryId>,
    ) -> impl Future<Output = Result<DeliveryPage, StoreError>> + Send;

    /// Takes the delivery for one attempt until `lease_until`: only a pending delivery (or,
    /// with `finished_too`, one that succeeded or failed: a manual retry) that nobody else
    /// holds at `now`. `None` when it is held, finished, or gone.
    fn claim_delivery(
        &self,
        endpoint_id: WebhookId,
        id: DeliveryId,
        now: Timestamp,
        lease_until: Timestamp,
        finished_too: bool,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    /// Writes the delivery after its attempt (and releases the claim), only if the stored one
    /// still has `attempts_before` attempts: `false` when someone else recorded one meanwhile.
    fn record_attempt(
        &self,
        delivery: &Delivery,
        attempts_before: usize,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deliveries due at `now` (retries, and claims abandoned past their lease), at most
    /// `limit`.
    fn due_deliveries(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(WebhookId, DeliveryId)>, StoreError>> + Send;

    /// Keys whose next expiry reminder is due at `now`, at most `limit`.
    fn due_key_reminders(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<KeyReminder>, StoreError>> + Send;

    /// Moves the key's reminder on to `next_due` (or drops it) and, with `event`, records the
    /// reminder, in one transaction, only if it is still due at `reminder.due_at`: `false`
    /// when another scheduler got there first.
    fn advance_key_reminder(
        &self,
        reminder: &KeyReminder,
        next_due: Option<Timestamp>,
        event: Option<&AuditEvent>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
