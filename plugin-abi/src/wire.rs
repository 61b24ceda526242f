//! JSON shapes of the values that cross the ABI (method inputs and host-operation inputs and
//! outputs). Paths are record text ([`dossier_plugin_api::encoding`]), so non-UTF-8 names survive.

use dossier_plugin_api::collect::{MemberRef, PriorRecords, RawSource};
use dossier_plugin_api::host::FileMeta;
use serde::{Deserialize, Serialize};

/// Input of [`crate::METHOD_COLLECT`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CollectInput {
    /// The collector's playbook section.
    pub config: serde_json::Value,
    /// Records of the collectors it runs after (its `after` list) that already ran.
    #[serde(default)]
    pub prior: PriorRecords,
}

/// Input of host operations on one path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PathArg {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// One directory entry (`kind` without following symlinks, when known).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireDirEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<dossier_plugin_api::host::FileKind>,
}

/// Output of [`crate::OP_READ`] (the bytes travel beside it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadMeta {
    pub truncated: bool,
    pub meta: FileMeta,
    pub changed_during_read: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_after: Option<FileMeta>,
}

/// Input of [`crate::OP_EXEC`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecArg {
    pub argv: Vec<String>,
    pub max_output: u64,
    pub timeout_ms: u64,
}

/// Output of [`crate::OP_EXEC`] (stdout travels beside it as raw bytes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecResult {
    pub status: Option<i32>,
    /// Record text of stderr.
    pub stderr: String,
    pub truncated: bool,
    pub timed_out: bool,
}

/// Output of [`crate::OP_OPEN`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Opened {
    pub handle: u64,
    pub meta: FileMeta,
}

/// Input of the operations on an open file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HandleArg {
    pub handle: u64,
    #[serde(default)]
    pub len: usize,
}

/// Output of [`crate::OP_COPY_RAW`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Copied {
    pub member: MemberRef,
    pub source: RawSource,
}

/// Input of [`crate::OP_LOG`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogArg {
    pub message: String,
}

/// Output of the reporter methods.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DocumentOut {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}
