//! The bundle manifest (`manifest.json`): a versioned contract. It names the bundle format and
//! version, who collected what, when, with which tool build and playbook, how every collector
//! fared, and for every other member its size, SHA-256 and (for raw copies) where it came from
//! and the file's metadata at collection time.

use dossier_plugin_api::collect::{Issue, RawSource};
use dossier_plugin_api::records::HostFacts;
use dossier_plugin_api::{CollectorStatus, HostInfo, Timestamp};
use serde::{Deserialize, Serialize};

/// Value of `format`.
pub const FORMAT: &str = "dossier-bundle";
/// Current `format_version`. Readers refuse versions they do not know.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest member.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Name of the log member.
pub const LOG_NAME: &str = "log.jsonl";

/// The whole manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// Unique id of this bundle.
    pub bundle_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examiner: Option<String>,
    pub tool: ToolInfo,
    pub host: HostFacts,
    pub target: HostInfo,
    pub playbook: PlaybookRef,
    pub collection: CollectionTimes,
    pub collectors: Vec<CollectorRun>,
    pub members: Vec<MemberEntry>,
}

/// The dossier build that wrote the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    /// `git` commit, target triple and profile of the build.
    pub build: String,
}

/// The playbook that drove collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookRef {
    pub name: String,
    /// SHA-256 of the playbook file's exact bytes.
    pub sha256: String,
    /// `builtin:triage` or the file path.
    pub source: String,
}

/// When collection ran (UTC) and as whom on the collecting machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionTimes {
    pub started: Timestamp,
    pub finished: Timestamp,
    pub duration_ms: u64,
    /// The account dossier ran as on the examiner's machine.
    pub operator: String,
    /// Name of the machine dossier ran on.
    pub operator_host: String,
    /// Key id of the key that signs the bundle (`--sign`; absent, and not written, otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_key_id: Option<String>,
}

/// How one collector fared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorRun {
    pub name: String,
    pub version: String,
    /// `builtin`, or `plugin:<path>` for dynamically loaded collectors.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_sha256: Option<String>,
    /// `ok`, `partial` (something could not be collected; see issues), `not_available`
    /// (nothing to collect on this kind of host) or `failed`.
    pub status: CollectorStatus,
    pub duration_ms: u64,
    pub records: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<Issue>,
}

/// One member of the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// `raw` (verbatim evidence file), `command` (output of a command run on the host),
    /// `records` or `log`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RawSource>,
}
