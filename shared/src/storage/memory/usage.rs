//! Per-key usage in memory.

use super::*;

impl UsageStore for MemoryStore {
    async fn count_key_request(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        _expires_at: Timestamp,
        outcome: Outcome,
        limit: u64,
    ) -> Result<MinuteUsage, StoreError> {
        let mut state = self.state()?;
        let usage = state
            .minutes
            .entry((key_id, minute.unix()))
            .or_insert(MinuteUsage {
                start: minute,
                hits: 0,
                limit,
                out_of_scope: 0,
                workspace_limited: 0,
            });
        usage.limit = limit;
        match outcome {
            Outcome::Checked => usage.hits += 1,
            Outcome::OutOfScope => usage.out_of_scope += 1,
            Outcome::WorkspaceLimited => usage.workspace_limited += 1,
        }
        Ok(*usage)
    }

    async fn move_to_workspace_limited(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        counted_as: Outcome,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(usage) = state.minutes.get_mut(&(key_id, minute.unix())) {
            usage.move_to_workspace_limited(counted_as);
        }
        Ok(())
    }

    async fn key_minutes(
        &self,
        key_id: KeyId,
        from: Timestamp,
        to: Timestamp,
        newest: usize,
    ) -> Result<Vec<MinuteUsage>, StoreError> {
        let state = self.state()?;
        let mut found: Vec<MinuteUsage> = state
            .minutes
            .range((key_id, from.unix())..(key_id, to.unix()))
            .rev()
            .take(newest)
            .map(|(_, m)| *m)
            .collect();
        found.reverse();
        Ok(found)
    }

    async fn roll_up_minutes(
        &self,
        key_id: KeyId,
        hour: Timestamp,
        minutes: &[MinuteUsage],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let bucket = state
            .buckets
            .entry((key_id, true, hour.unix()))
            .or_insert_with(|| Bucket {
                start: hour,
                parts: BTreeMap::new(),
            });
        for minute in minutes {
            bucket.parts.insert(
                part_of(minute.start, MINUTE_SECONDS, HOUR_SECONDS),
                minute.counts(),
            );
        }
        let total = bucket.total();
        let day = floor(hour, DAY_SECONDS);
        state
            .buckets
            .entry((key_id, false, day.unix()))
            .or_insert_with(|| Bucket {
                start: day,
                parts: BTreeMap::new(),
            })
            .parts
            .insert(part_of(hour, HOUR_SECONDS, DAY_SECONDS), total);
        Ok(())
    }

    async fn usage_buckets(
        &self,
        key_id: KeyId,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bucket>, StoreError> {
        let state = self.state()?;
        let hourly = granularity == Granularity::Hour;
        Ok(state
            .buckets
            .range((key_id, hourly, from.unix())..(key_id, hourly, to.unix()))
            .map(|(_, b)| b.clone())
            .collect())
    }
}
