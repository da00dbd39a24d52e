//! `Timestamp`: whole seconds since the Unix epoch, shown to clients as RFC 3339 UTC with a `Z`
//! (`2025-11-02T12:00:00Z`) and stored in DynamoDB as a number so conditions can compare it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// Epoch 0 is the default only so records read back from storage can skip fields that are
/// kept elsewhere; no code path compares against it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn from_unix(seconds: i64) -> Self {
        Self(seconds)
    }

    pub fn unix(&self) -> i64 {
        self.0
    }

    pub fn plus_seconds(&self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }

    /// Parses any RFC 3339 date-time (offsets allowed, fractions of a second dropped).
    pub fn parse_rfc3339(raw: &str) -> Option<Self> {
        OffsetDateTime::parse(raw, &Rfc3339)
            .ok()
            .map(|t| Self(t.unix_timestamp()))
    }

    pub fn rfc3339(&self) -> String {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&raw).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_rfc3339_utc_with_whole_seconds() {
        assert_eq!(
            Timestamp::from_unix(1_762_084_800).rfc3339(),
            "2025-11-02T12:00:00Z"
        );
        assert_eq!(
            serde_json::to_value(Timestamp::from_unix(0)).unwrap(),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn parses_rfc3339_with_offsets_and_refuses_other_forms() {
        let noon = Timestamp::from_unix(1_762_084_800);
        assert_eq!(Timestamp::parse_rfc3339("2025-11-02T12:00:00Z"), Some(noon));
        assert_eq!(
            Timestamp::parse_rfc3339("2025-11-02T14:00:00.75+02:00"),
            Some(noon)
        );
        for raw in [
            "",
            "2025-11-02",
            "2025-11-02 12:00:00",
            "tomorrow",
            "2025-13-02T12:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(raw), None, "{raw}");
        }
    }
}
