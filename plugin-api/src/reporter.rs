//! The `Reporter` plugin trait: analyses in, documents out.
//!
//! One reporter instance serves one analysis run. It receives every analyzed host in report
//! order (hostname, then bundle name) through [`Reporter::host`], which may return a document
//! for that host (written to `DIR/<host>/<host_file>`), and then [`Reporter::finish`] with
//! what concerns the fleet, which may return the fleet document (written to
//! `DIR/<fleet_file>`). A reporter that needs the whole fleet keeps what it needs of each host
//! between calls; the built-in reporters keep a small entry per host, so that memory stays flat
//! however many bundles are analyzed. Output should depend only on its input (no clock), so
//! the same bundles give the same documents.

use crate::analysis::{HostAnalysis, NotCollected, Unanalyzed};
use crate::analyzer::FleetFinding;
use serde::{Deserialize, Serialize};

/// Static description of a reporter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    /// File name of the per-host document (`ssh-keys.csv`), if it writes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_file: Option<String>,
    /// File name of the fleet document, if it writes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_file: Option<String>,
}

/// What the fleet document is written from, besides the hosts already given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetInput {
    pub unanalyzed: Vec<Unanalyzed>,
    pub not_collected: Vec<NotCollected>,
    pub fleet_findings: Vec<FleetFinding>,
}

/// Why a reporter failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

/// A reporter plugin. Constructed with `Default`, then [`Reporter::configure`]d with its
/// playbook section (`[reporters.<name>]`).
pub trait Reporter: Send {
    /// Name, version and the files it writes.
    fn info(&self) -> ReporterInfo;

    /// Applies the playbook section (empty object when there is none).
    fn configure(&mut self, config: &serde_json::Value) -> Result<(), ReportError> {
        let _ = config;
        Ok(())
    }

    /// One analyzed host; returns its document (for `host_file`), if any.
    fn host(&mut self, analysis: &HostAnalysis) -> Result<Option<String>, ReportError>;

    /// After the last host; returns the fleet document (for `fleet_file`), if any.
    fn finish(&mut self, fleet: &FleetInput) -> Result<Option<String>, ReportError>;
}
