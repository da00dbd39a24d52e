//! Per-key usage: the key's minute counters (its rate window, with how each request ended) and
//! the hour and day buckets they roll up into.

use std::future::Future;

use crate::domain::ids::KeyId;
use crate::domain::timestamp::Timestamp;
use crate::domain::usage::{Bucket, Granularity, MinuteUsage, Outcome};
use crate::storage::error::StoreError;

pub trait UsageStore: Send + Sync {
    fn count_key_request(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        expires_at: Timestamp,
        outcome: Outcome,
        limit: u64,
    ) -> impl Future<Output = Result<MinuteUsage, StoreError>> + Send;

    fn move_to_workspace_limited(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        counted_as: Outcome,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn key_minutes(
        &self,
        key_id: KeyId,
        from: Timestamp,
        to: Timestamp,
        newest: usize,
    ) -> impl Future<Output = Result<Vec<MinuteUsage>, StoreError>> + Send;

    fn roll_up_minutes(
        &self,
        key_id: KeyId,
        hour: Timestamp,
        minutes: &[MinuteUsage],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn usage_buckets(
        &self,
        key_id: KeyId,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<Bucket>, StoreError>> + Send;
}
