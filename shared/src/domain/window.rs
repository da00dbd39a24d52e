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

/// The calendar month (UTC) that holds `now`: its start and end (Unix seconds), the window of
/// a key's monthly send limit.
pub fn calendar_month(now: Timestamp) -> (i64, i64) {
    let date = time::OffsetDateTime::from_unix_timestamp(now.unix())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    let first = |year: i32, month: time::Month| {
        time::Date::from_calendar_date(year, month, 1)
            .map_or(0, |d| d.midnight().assume_utc().unix_timestamp())
    };
    let (year, month) = (date.year(), date.month());
    let next_year = if month == time::Month::December {
        year + 1
    } else {
        year
    };
    (first(year, month), first(next_year, month.next()))
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
    fn a_month_runs_from_its_first_midnight_to_the_next_months() {
        // 2026-12-08T02:40:00Z: December 2026 to January 2027.
        assert_eq!(
            calendar_month(Timestamp::from_unix(1_796_697_600)),
            (1_796_083_200, 1_798_761_600)
        );
        // 2028-02-29T23:59:59Z: a leap February.
        assert_eq!(
            calendar_month(Timestamp::from_unix(1_835_481_599)),
            (1_832_976_000, 1_835_481_600)
        );
        let (_, end) = calendar_month(Timestamp::from_unix(1_835_481_599));
        assert_eq!(calendar_month(Timestamp::from_unix(end)).0, end);
    }

    #[test]
    fn retry_after_is_never_less_than_a_second() {
        assert_eq!(seconds_until(Timestamp::from_unix(100), 130), 30);
        assert_eq!(seconds_until(Timestamp::from_unix(130), 130), 1);
        assert_eq!(seconds_until(Timestamp::from_unix(200), 130), 1);
    }
}
