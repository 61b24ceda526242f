//! What a verified bundle gives the analyzers: its header facts, collector statuses, records,
//! member hashes and a reader for members.

use dossier_plugin_api::{CollectorStatus, Timestamp};
use std::collections::BTreeMap;

/// Header facts of a bundle, from its manifest.
#[derive(Clone, Debug)]
pub struct Header {
    pub hostname: String,
    pub bundle: String,
    pub bundle_sha256: String,
    pub case_id: Option<String>,
    pub target: String,
    pub live: bool,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub playbook: String,
    pub playbook_sha256: String,
    pub tool: String,
    pub os: Option<String>,
    pub kernel: Option<String>,
}

/// Reads a bundle member (at most the given number of bytes), re-checking its hash.
pub type MemberReader<'a> = dyn FnMut(&str, u64) -> Result<Vec<u8>, String> + 'a;

/// What a verified bundle gives the analyzers.
pub struct BundleInput<'a> {
    pub header: Header,
    /// Collector name → (status, error and summary of its issues).
    pub collectors: BTreeMap<String, (CollectorStatus, String)>,
    /// Collector name → why its data is incomplete, for collectors that ran but missed
    /// something that matters (see [`crate::completeness`]); rules needing them are reported
    /// as evaluated on partial data.
    pub incomplete: BTreeMap<String, String>,
    /// Collector name → its detail and its reason of `incomplete` as catalogue messages, for
    /// reports in the responder's language (see [`crate::completeness::HealthMessages`]).
    pub health: BTreeMap<String, crate::completeness::HealthMessages>,
    /// Collector name → records with their 1-based line numbers.
    pub records: BTreeMap<String, Vec<(usize, serde_json::Value)>>,
    /// Member name → SHA-256, for every member of the bundle.
    pub members: BTreeMap<String, String>,
    /// Reads a member (at most the given number of bytes), re-checking its hash.
    pub read_member: &'a mut MemberReader<'a>,
    /// Malformed record lines.
    pub record_errors: Vec<String>,
}
