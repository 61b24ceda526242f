//! Machine-readable findings (`findings.json`) for SIEMs.
//!
//! Schema `dossier-findings` version 1: `{ "schema", "version", "hosts": [HostAnalysis...],
//! "unanalyzed": [{subject, reason}...] }`, where each host carries bundle name and SHA-256,
//! score, verdict, rule hits, findings (rule, title, mitre, severity, weight, explanation,
//! subject, evidence [{member, sha256, line, what}], iocs [{type, value}]), rules not
//! evaluated, executables, listeners and collection gaps. Hosts are sorted by hostname and
//! bundle name.

use dossier_plugin_api::analysis::{HostAnalysis, Unanalyzed};

/// Schema name.
pub const SCHEMA: &str = "dossier-findings";
/// Schema version.
pub const VERSION: u32 = 1;

/// Renders the findings document.
pub fn render(hosts: &[HostAnalysis], unanalyzed: &[Unanalyzed]) -> String {
    let doc = serde_json::json!({ "schema": SCHEMA, "version": VERSION, "hosts": hosts, "unanalyzed": unanalyzed });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
