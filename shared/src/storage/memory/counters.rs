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
}
