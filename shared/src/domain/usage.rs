//! Per-key usage: what each messaging request ended as, by minute, hour and day: the counts,
//! the buckets and their arithmetic (the roll-up itself is `services::usage`).
//!
//! Nothing here adds a write to a request. `admit` already writes one counter item per key per
//! minute (`RATE#<key>`/`W#<minute>`); that same `UpdateItem` now also counts how the request
//! ended (`MinuteUsage`). The first request of each minute for a key (the counter answers a
//! total of 1) rolls the key's previous minutes up into an hour bucket and a day bucket with
//! absolute writes (`SET m07 = "12,2,0"`), so a roll-up run twice writes the same values and
//! counts once. Reads take the buckets and overlay the minutes not rolled up yet, read from the
//! live counters, again by absolute value per minute: a request shows at once.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::api_key::ApiKeyRecord;
use crate::domain::invalid::InvalidField;
use crate::domain::timestamp::Timestamp;

pub const MINUTE_SECONDS: i64 = 60;
pub const HOUR_SECONDS: i64 = 60 * MINUTE_SECONDS;
pub const DAY_SECONDS: i64 = 24 * HOUR_SECONDS;

/// Day buckets: at least 400 days, kept 401.
pub const DAY_RETENTION_SECONDS: i64 = 401 * DAY_SECONDS;
/// A key's minute counter items live as long as its day buckets: a key's last active minute is
/// rolled up only on the key's next request, which may come months later (a monthly CI key), and
/// until then reads merge it from here. With a shorter life it would drop out of the history.
pub const MINUTE_RETENTION_SECONDS: i64 = DAY_RETENTION_SECONDS;
/// Hour buckets live as long too: a late roll-up writes a minute into its hour item and the
/// hour's new total into the day item, which must not be recomputed from an hour item that
/// expired meanwhile (it would lose the hour's other minutes). The issue asks for 8 days at least.
pub const HOUR_RETENTION_SECONDS: i64 = DAY_RETENTION_SECONDS;

/// How many of a key's latest earlier minutes a roll-up reads: the previous active minute, and
/// the one before it in case that roll-up failed.
pub const ROLL_UP_MINUTES: usize = 2;

/// What a key did in a span of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsageCounts {
    /// Requests the authorizer allowed (every outcome below included).
    pub requests: u64,
    /// Answered 429: the key's or the workspace's limit.
    pub rate_limited: u64,
    /// Answered 403: the route needs a scope the key lacks.
    pub denied: u64,
}

impl std::ops::AddAssign for UsageCounts {
    fn add_assign(&mut self, other: Self) {
        self.requests += other.requests;
        self.rate_limited += other.rate_limited;
        self.denied += other.denied;
    }
}

impl UsageCounts {
    /// The stored form of a bucket entry: `"requests,rate_limited,denied"` (a short string is
    /// the smallest DynamoDB value for three numbers, and item size is what reads cost).
    pub fn to_stored(&self) -> String {
        format!("{},{},{}", self.requests, self.rate_limited, self.denied)
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        let mut parts = raw.split(',').map(|p| p.parse::<u64>().ok());
        let counts = Self {
            requests: parts.next()??,
            rate_limited: parts.next()??,
            denied: parts.next()??,
        };
        parts.next().is_none().then_some(counts)
    }
}

/// How a messaging request ends, as the key's counter records it. The key's write goes out
/// beside the workspace's, so it records `Checked` or `OutOfScope` (known without I/O); a
/// request the workspace refuses is moved to `WorkspaceLimited` afterwards
/// (`UsageStore::move_to_workspace_limited`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// In scope, workspace under its limit: counted against the key's limit (`hits`); it is a
    /// 429 exactly when `hits` passes the limit.
    Checked,
    /// The key lacks the route's scope: 403, not counted against the key's limit.
    OutOfScope,
    /// The workspace is over its limit: 429, not counted against the key's limit.
    WorkspaceLimited,
}

/// One key's minute, as its counter item holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteUsage {
    pub start: Timestamp,
    /// Requests counted against the key's limit (`Outcome::Checked`).
    pub hits: u64,
    /// The key's limit in that minute.
    pub limit: u64,
    pub out_of_scope: u64,
    pub workspace_limited: u64,
}

impl MinuteUsage {
    /// Every request of the minute, whatever its outcome.
    pub fn total(&self) -> u64 {
        self.hits + self.out_of_scope + self.workspace_limited
    }

    /// This minute after `UsageStore::move_to_workspace_limited` moved one request counted as
    /// `counted_as` (never below zero, like the store).
    pub fn move_to_workspace_limited(&mut self, counted_as: Outcome) {
        let from = match counted_as {
            Outcome::Checked => &mut self.hits,
            Outcome::OutOfScope => &mut self.out_of_scope,
            Outcome::WorkspaceLimited => return,
        };
        if *from > 0 {
            *from -= 1;
            self.workspace_limited += 1;
        }
    }

    pub fn counts(&self) -> UsageCounts {
        UsageCounts {
            requests: self.total(),
            rate_limited: self.hits.saturating_sub(self.limit) + self.workspace_limited,
            denied: self.out_of_scope,
        }
    }
}

/// The size of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    pub fn seconds(&self) -> i64 {
        match self {
            Self::Hour => HOUR_SECONDS,
            Self::Day => DAY_SECONDS,
        }
    }

    /// The most buckets one call may ask for.
    pub fn max_buckets(&self) -> i64 {
        match self {
            Self::Hour => 168,
            Self::Day => 90,
        }
    }

    /// Buckets in the default range (ending with the current one): the last 24 hours, the
    /// last 30 days.
    pub fn default_buckets(&self) -> i64 {
        match self {
            Self::Hour => 24,
            Self::Day => 30,
        }
    }

    /// The start of the bucket holding `t` (UTC hours and days).
    pub fn floor(&self, t: Timestamp) -> Timestamp {
        floor(t, self.seconds())
    }
}

pub fn floor(t: Timestamp, unit: i64) -> Timestamp {
    Timestamp::from_unix(t.unix() - t.unix().rem_euclid(unit))
}

/// A stored bucket: an hour (parts keyed by minute of the hour) or a day (by hour of the day).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bucket {
    pub start: Timestamp,
    pub parts: BTreeMap<u32, UsageCounts>,
}

impl Bucket {
    pub fn total(&self) -> UsageCounts {
        let mut sum = UsageCounts::default();
        for counts in self.parts.values() {
            sum += *counts;
        }
        sum
    }
}

/// The index of `t`'s `part`-sized slot within its `whole`-sized bucket (minute of the hour,
/// hour of the day).
pub fn part_of(t: Timestamp, part: i64, whole: i64) -> u32 {
    u32::try_from(t.unix().rem_euclid(whole) / part).unwrap_or(0)
}

/// The buckets a usage query asks for: `[first, end)` in steps of the granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    pub granularity: Granularity,
    /// The start of the first bucket (`from` rounded down).
    pub first: Timestamp,
    /// The end of the last bucket (the first bucket start at or after `to`).
    pub end: Timestamp,
}

impl UsageRange {
    /// Validates a query: `from` and `to` optional (defaults: the last 24 hours or 30 days,
    /// ending with the current bucket), `from` before `to`, at most the granularity's cap of
    /// buckets. Errors name the field.
    pub fn new(
        granularity: Granularity,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Self, InvalidField> {
        let unit = granularity.seconds();
        let to = to.unwrap_or(now);
        let from = from.unwrap_or_else(|| {
            granularity
                .floor(to.plus_seconds(-1))
                .plus_seconds(-(granularity.default_buckets() - 1) * unit)
        });
        if from >= to {
            return Err(InvalidField::new("from", "must be before to"));
        }
        let first = granularity.floor(from);
        let end = granularity.floor(to.plus_seconds(unit - 1));
        let buckets = (end.unix() - first.unix()) / unit;
        if buckets > granularity.max_buckets() {
            return Err(InvalidField::new(
                "from",
                &format!(
                    "the range holds {buckets} {} buckets; at most {} per call",
                    granularity.as_str(),
                    granularity.max_buckets()
                ),
            ));
        }
        Ok(Self {
            granularity,
            first,
            end,
        })
    }

    pub fn starts(&self) -> impl Iterator<Item = Timestamp> + '_ {
        let unit = self.granularity.seconds();
        (0..)
            .map(move |i| self.first.plus_seconds(i * unit))
            .take_while(move |t| *t < self.end)
    }
}

/// Whether `key` can have any usage in `range` (created before its end, used after its start):
/// the workspace total skips the others without reading them.
pub fn may_have_usage(key: &ApiKeyRecord, range: &UsageRange) -> bool {
    key.created_at < range.end
        && key.last_used_at.is_some_and(|used| {
            floor(used, MINUTE_SECONDS).plus_seconds(2 * MINUTE_SECONDS) > range.first
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn stored_counts_round_trip_and_garbage_is_refused() {
        let counts = UsageCounts {
            requests: 12,
            rate_limited: 2,
            denied: 1,
        };
        assert_eq!(UsageCounts::from_stored(&counts.to_stored()), Some(counts));
        for bad in ["", "1,2", "1,2,3,4", "a,b,c", "-1,0,0"] {
            assert_eq!(UsageCounts::from_stored(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_minute_counts_429s_past_the_key_limit_and_the_workspace_limit() {
        let minute = MinuteUsage {
            start: Timestamp::from_unix(T),
            hits: 35,
            limit: 30,
            out_of_scope: 2,
            workspace_limited: 3,
        };
        assert_eq!(
            minute.counts(),
            UsageCounts {
                requests: 40,
                rate_limited: 8,
                denied: 2
            }
        );
    }

    #[test]
    fn default_ranges_are_the_last_24_hours_and_30_days_ending_with_the_current_bucket() {
        let now = Timestamp::from_unix(T + 10 * HOUR_SECONDS + 125);
        let hours = UsageRange::new(Granularity::Hour, None, None, now).unwrap();
        assert_eq!(hours.starts().count(), 24);
        assert_eq!(
            hours.starts().last(),
            Some(Timestamp::from_unix(T + 10 * HOUR_SECONDS))
        );
        let days = UsageRange::new(Granularity::Day, None, None, now).unwrap();
        assert_eq!(days.starts().count(), 30);
        assert_eq!(days.starts().last(), Some(Timestamp::from_unix(T)));
    }

    #[test]
    fn ranges_past_the_cap_or_backwards_name_from() {
        let t = Timestamp::from_unix(T);
        let ok = UsageRange::new(
            Granularity::Hour,
            Some(t),
            Some(t.plus_seconds(168 * HOUR_SECONDS)),
            t,
        );
        assert_eq!(ok.unwrap().starts().count(), 168);
        for (g, span) in [
            (Granularity::Hour, 169 * HOUR_SECONDS),
            (Granularity::Day, 91 * DAY_SECONDS),
            (Granularity::Hour, 0),
            (Granularity::Day, -DAY_SECONDS),
        ] {
            let err = UsageRange::new(g, Some(t), Some(t.plus_seconds(span)), t).unwrap_err();
            assert!(err.field == "from", "{err:?}");
        }
        // A range inside one hour is that hour's bucket.
        let one = UsageRange::new(
            Granularity::Hour,
            Some(t.plus_seconds(600)),
            Some(t.plus_seconds(700)),
            t,
        )
        .unwrap();
        assert_eq!(one.starts().collect::<Vec<_>>(), vec![t]);
    }
}
