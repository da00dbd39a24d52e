//! Messages: the message item (with its idempotency record, when the send had a key) and the
//! workspace's history, newest first.

use std::future::Future;

use crate::domain::ids::{MessageId, WorkspaceId};
use crate::domain::message::{IdempotencyRecord, MessageRecord};
use crate::domain::timestamp::Timestamp;
use crate::storage::error::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Created,
    /// An unexpired record with this idempotency key exists; nothing was written.
    Replayed(IdempotencyRecord),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    pub messages: Vec<MessageRecord>,
    pub has_more: bool,
}

pub trait MessageStore: Send + Sync {
    fn put_message(
        &self,
        message: &MessageRecord,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> impl Future<Output = Result<SendOutcome, StoreError>> + Send;

    /// The unexpired record of an `Idempotency-Key`, strongly consistent: for a send refused
    /// before its write (a spent monthly limit), which must still replay its first answer.
    fn find_idempotency_record(
        &self,
        workspace_id: WorkspaceId,
        key: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send;

    fn list_messages(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<MessageId>,
    ) -> impl Future<Output = Result<MessagePage, StoreError>> + Send;

    fn get_message(
        &self,
        workspace_id: WorkspaceId,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<MessageRecord>, StoreError>> + Send;
}
