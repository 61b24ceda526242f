//! How a collector fared in a collection: one definition for the bundle manifest, the
//! analysis input and the reports, serialized as the strings bundles have always held
//! (`ok`, `partial`, `not_available`, `failed`), so bundles written before the enum still
//! verify and analyze.

use serde::{Deserialize, Serialize};

/// How a collector fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectorStatus {
    /// Everything it looked for was collected.
    Ok,
    /// Something could not be collected (see its issues).
    Partial,
    /// Nothing to collect on this kind of host.
    NotAvailable,
    /// The collector failed (its error says why).
    Failed,
}

impl CollectorStatus {
    /// Every status, in declaration order.
    pub const ALL: [CollectorStatus; 4] = [
        CollectorStatus::Ok,
        CollectorStatus::Partial,
        CollectorStatus::NotAvailable,
        CollectorStatus::Failed,
    ];

    /// The serialized form: `ok`, `partial`, `not_available`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorStatus::Ok => "ok",
            CollectorStatus::Partial => "partial",
            CollectorStatus::NotAvailable => "not_available",
            CollectorStatus::Failed => "failed",
        }
    }

    /// As reports and messages write it: `not available` rather than `not_available`.
    pub fn words(self) -> &'static str {
        match self {
            CollectorStatus::NotAvailable => "not available",
            other => other.as_str(),
        }
    }

    /// Whether the collector gave nothing to analyze (`not_available` or `failed`).
    pub fn gave_nothing(self) -> bool {
        matches!(
            self,
            CollectorStatus::NotAvailable | CollectorStatus::Failed
        )
    }
}

impl std::fmt::Display for CollectorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_serializes_to_the_string_bundles_hold() {
        let old = ["ok", "partial", "not_available", "failed"];
        for (s, text) in CollectorStatus::ALL.into_iter().zip(old) {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(s.as_str(), text);
            assert_eq!(s.to_string(), text);
            assert_eq!(s.words(), text.replace('_', " "));
            let back: CollectorStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s);
        }
        assert!(serde_json::from_str::<CollectorStatus>("\"OK\"").is_err());
    }
}
