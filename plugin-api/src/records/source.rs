//! [`SourceRef`]: the pointer from a record to the hashed evidence it was parsed from.

use serde::{Deserialize, Serialize};

/// Points from a record to the evidence it was parsed from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// Path on the host.
    pub path: String,
    /// Bundle member holding the verbatim copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// SHA-256 of that member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl SourceRef {
    /// A source with no raw copy (e.g. a symlink, whose target is in the record itself).
    pub fn path_only(path: impl Into<String>) -> Self {
        SourceRef {
            path: path.into(),
            member: None,
            sha256: None,
        }
    }
}
