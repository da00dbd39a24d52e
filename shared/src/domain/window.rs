//! The window arithmetic of the rate limits: fixed windows, where a caller stands in one
//! (`Quota`), and how long to wait for the next (`Retry-After`).

use crate::domain::timestamp::Timestamp;

/// The window of the per-key and per-workspace limits.
pub const WINDOW_SECONDS: i64 = 60;
pub const REGISTER_WINDOW_SECONDS: i64 = 60 * 60;
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;

/// Where a caller stands in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds at which the window ends.
    pub reset: i64,
}

/// The fixed window of `window_seconds` that holds `now`: its start and end (Unix seconds).
pub fn window(now: Timestamp, window_seconds: i64) -> (i64, i64) {
    let start = now.unix() - now.unix().rem_euclid(window_seconds);
    (start, start + window_seconds)
}

/// Seconds from `now` to `end`, at least 1: a `Retry-After`.
pub fn seconds_until(now: Timestamp, end: i64) -> u64 {
    u64::try_from((end - now.unix()).max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_holds_its_start_and_ends_where_the_next_begins() {
        assert_eq!(
            window(Timestamp::from_unix(1_000_020), 60),
            (1_000_020, 1_000_080)
        );
        assert_eq!(
            window(Timestamp::from_unix(1_000_079), 60),
            (1_000_020, 1_000_080)
        );
        assert_eq!(
            window(Timestamp::from_unix(1_000_080), 60),
            (1_000_080, 1_000_140)
        );
    }

    #[test]
    fn retry_after_is_never_less_than_a_second() {
        assert_eq!(seconds_until(Timestamp::from_unix(100), 130), 30);
        assert_eq!(seconds_until(Timestamp::from_unix(130), 130), 1);
        assert_eq!(seconds_until(Timestamp::from_unix(200), 130), 1);
    }
}
