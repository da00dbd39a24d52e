//! Window counters in memory.

use super::*;

impl CounterStore for MemoryStore {
    async fn count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        _expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut state = self.state()?;
        let count = state
            .counters
            .entry(Self::window_name(counter, window_start))
            .or_insert(0);
        *count += 1;
        Ok(*count)
    }

    async fn uncount(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(count) = state
            .counters
            .get_mut(&Self::window_name(counter, window_start))
        {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn count_up_to(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        _expires_at: Timestamp,
        limit: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mut state = self.state()?;
        let count = state
            .counters
            .entry(Self::window_name(counter, window_start))
            .or_insert(0);
        if *count >= limit {
            return Ok(None);
        }
        *count += 1;
        Ok(Some(*count))
    }

    async fn current_count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> Result<u64, StoreError> {
        let state = self.state()?;
        Ok(state
            .counters
            .get(&Self::window_name(counter, window_start))
            .copied()
            .unwrap_or(0))
    }
}
