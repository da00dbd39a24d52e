//! The usage roll-up and reads over the usage store: a key's earlier minutes rolled up into its
//! hour and day buckets on its first request of a minute, and a key's series read back with the
//! minutes not rolled up yet laid over the buckets (`domain::usage` explains the scheme).

use std::collections::BTreeMap;

use crate::domain::api_key::ApiKeyRecord;
use crate::domain::ids::KeyId;
use crate::domain::timestamp::Timestamp;
use crate::domain::usage::{
    floor, part_of, Bucket, Granularity, MinuteUsage, UsageCounts, UsageRange, DAY_SECONDS,
    HOUR_SECONDS, MINUTE_RETENTION_SECONDS, MINUTE_SECONDS, ROLL_UP_MINUTES,
};
use crate::storage::error::StoreError;
use crate::storage::usage::UsageStore;

/// Writes `minutes` (absolute values) into their hour buckets and those hours' totals into
/// their day buckets. Only minutes in the hour of the newest are written, so one roll-up is at
/// most one hour write and one day write. Idempotent: run twice, the same values are written.
pub async fn roll_up<S: UsageStore>(
    store: &S,
    key_id: KeyId,
    minutes: &[MinuteUsage],
) -> Result<(), StoreError> {
    let Some(newest) = minutes.iter().map(|m| m.start).max() else {
        return Ok(());
    };
    let hour = floor(newest, HOUR_SECONDS);
    let same_hour: Vec<MinuteUsage> = minutes
        .iter()
        .filter(|m| floor(m.start, HOUR_SECONDS) == hour)
        .copied()
        .collect();
    store.roll_up_minutes(key_id, hour, &same_hour).await?;
    Ok(())
}

/// After the first request of `minute` for a key: rolls up the key's latest earlier minutes.
/// Bookkeeping: a failure is logged and the request goes on (the minutes stay in the live
/// counters, which reads merge, and the next roll-up reads them again).
pub async fn roll_up_before<S: UsageStore>(store: &S, key_id: KeyId, minute: Timestamp) {
    let result = async {
        let earlier = store
            .key_minutes(
                key_id,
                minute.plus_seconds(-MINUTE_RETENTION_SECONDS),
                minute,
                ROLL_UP_MINUTES,
            )
            .await?;
        roll_up(store, key_id, &earlier).await
    }
    .await;
    if let Err(err) = result {
        tracing::warn!(error = %err, key_id = %key_id, "could not roll up key usage");
    }
}

/// A key's usage in `range`, every bucket present, oldest first: the stored buckets with the
/// minutes not rolled up yet laid over them. Those minutes are found from `last_used_at`: the
/// key's latest request falls in the minute of `last_used_at` or the next (it is written at
/// most once a minute), and roll-ups leave at most that minute and the one before unrolled.
pub async fn key_series<S: UsageStore>(
    store: &S,
    key: &ApiKeyRecord,
    range: &UsageRange,
) -> Result<Vec<(Timestamp, UsageCounts)>, StoreError> {
    let mut buckets: BTreeMap<Timestamp, Bucket> = BTreeMap::new();
    let Some(last_used) = key.last_used_at else {
        return Ok(range
            .starts()
            .map(|t| (t, UsageCounts::default()))
            .collect());
    };
    // Nothing can have happened before the key's creation or after its last use.
    let active_end = floor(last_used, MINUTE_SECONDS).plus_seconds(2 * MINUTE_SECONDS);
    if floor(key.created_at, MINUTE_SECONDS) < range.end && range.first < active_end {
        for bucket in store
            .usage_buckets(key.id, range.granularity, range.first, range.end)
            .await?
        {
            buckets.insert(bucket.start, bucket);
        }
        let tail_from = floor(last_used, MINUTE_SECONDS)
            .plus_seconds(-(ROLL_UP_MINUTES as i64) * MINUTE_SECONDS)
            .max(range.first);
        let tail_to = active_end.min(range.end);
        if tail_from < tail_to {
            let live = store
                .key_minutes(key.id, tail_from, tail_to, ROLL_UP_MINUTES + 2)
                .await?;
            overlay(store, key.id, range.granularity, &mut buckets, &live).await?;
        }
    }
    Ok(range
        .starts()
        .map(|t| (t, buckets.get(&t).map(Bucket::total).unwrap_or_default()))
        .collect())
}

/// Lays live minutes over stored buckets, replacing what a roll-up wrote for the same minute.
async fn overlay<S: UsageStore>(
    store: &S,
    key_id: KeyId,
    granularity: Granularity,
    buckets: &mut BTreeMap<Timestamp, Bucket>,
    live: &[MinuteUsage],
) -> Result<(), StoreError> {
    let Some(first) = live.iter().map(|m| m.start).min() else {
        return Ok(());
    };
    let mut hours: BTreeMap<Timestamp, Bucket> = match granularity {
        Granularity::Hour => std::mem::take(buckets),
        // A day bucket holds hour totals: the hours the live minutes fall in are read whole
        // (at most two items) and summed again.
        Granularity::Day => {
            let last = live.iter().map(|m| m.start).max().unwrap_or(first);
            store
                .usage_buckets(
                    key_id,
                    Granularity::Hour,
                    floor(first, HOUR_SECONDS),
                    floor(last, HOUR_SECONDS).plus_seconds(HOUR_SECONDS),
                )
                .await?
                .into_iter()
                .map(|b| (b.start, b))
                .collect()
        }
    };
    for minute in live {
        let hour = floor(minute.start, HOUR_SECONDS);
        let bucket = hours.entry(hour).or_insert_with(|| Bucket {
            start: hour,
            parts: BTreeMap::new(),
        });
        bucket.parts.insert(
            part_of(minute.start, MINUTE_SECONDS, HOUR_SECONDS),
            minute.counts(),
        );
    }
    match granularity {
        Granularity::Hour => *buckets = hours,
        Granularity::Day => {
            for (hour, bucket) in hours {
                let day = floor(hour, DAY_SECONDS);
                let entry = buckets.entry(day).or_insert_with(|| Bucket {
                    start: day,
                    parts: BTreeMap::new(),
                });
                entry
                    .parts
                    .insert(part_of(hour, HOUR_SECONDS, DAY_SECONDS), bucket.total());
            }
        }
    }
    Ok(())
}
