//! UTC timestamps, always written as RFC 3339 with a `Z` suffix.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A point in time in UTC. Serialized as RFC 3339 (`2026-11-22T10:15:00Z`, with fractional
/// seconds only when they are not zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// From seconds and nanoseconds since the Unix epoch; `None` when out of range.
    pub fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        Utc.timestamp_opt(secs, nanos).single().map(Timestamp)
    }

    /// The current time (the clock of the machine dossier runs on).
    pub fn now() -> Self {
        Timestamp(Utc::now())
    }

    /// From a `chrono` UTC time.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Timestamp(dt)
    }

    /// Parses RFC 3339 (any offset; converted to UTC).
    pub fn parse(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Timestamp(d.with_timezone(&Utc)))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }

    /// The `chrono` value.
    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// RFC 3339 text with `Z`.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// Compact form for file names: `20261122T101500Z`.
    pub fn compact(&self) -> String {
        self.0.format("%Y%m%dT%H%M%SZ").to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z() {
        let t = Timestamp::from_unix(1_755_750_000, 0).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-08-21T04:20:00Z");
        assert_eq!(t.compact(), "20250821T042000Z");
        let t = Timestamp::from_unix(1_755_750_000, 500_000_000).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-08-21T04:20:00.500Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let t = Timestamp::parse("2025-08-21T12:18:55+08:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-08-21T04:18:55Z");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
