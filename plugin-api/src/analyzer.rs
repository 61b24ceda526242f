//! The `Analyzer` plugin trait: records of one verified bundle in, findings out.
//!
//! An analyzer declares its rules ([`RuleDescriptor`]: id, title, MITRE ATT&CK ids, default
//! severity and weight, the collectors whose records it needs). For each bundle it receives the
//! records of the collectors it reads ([`AnalysisInput`]) and returns findings that name one of
//! its rules; dossier fills in title, MITRE ids, severity and weight from the descriptor and the
//! playbook's overrides, scores the host and writes the reports. A rule whose collectors did not
//! run is reported as *not evaluated*, never as clean. Analyzers never see a host, only bundle
//! content, so the same bundle always gives the same findings.
//!
//! An analyzer that needs the evidence itself (a raw copy of a file, a copied executable to
//! scan) reads bundle members through a [`MemberReader`], each re-checked against its SHA-256
//! as it is read.
//!
//! An analyzer may also look across a fleet: [`HostFindings::fleet_facts`] is a small summary
//! of one host, kept while the other bundles are analyzed; [`Analyzer::fleet`] then receives
//! every host's summary and returns fleet-level findings (for example "this SSH key is on only
//! one of twelve hosts"), which go into the fleet report and the findings JSON.

use crate::CollectorStatus;
use crate::analysis::{Evidence, Finding, NotEvaluated, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a rule judges one host or the fleet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// Findings about one host: they count towards its score.
    #[default]
    Host,
    /// Findings across hosts ([`Analyzer::fleet`]): reported in the fleet report.
    Fleet,
}

/// One rule of an analyzer, as `dossier rules` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDescriptor {
    /// Unique id (`ssh-key-root`); also the key of its playbook overrides.
    pub id: String,
    pub title: String,
    pub mitre: Vec<String>,
    pub severity: Severity,
    /// Default weight in the host score (fleet rules: 0).
    pub weight: u32,
    /// Collectors whose records the rule needs: when one did not run, the rule is not
    /// evaluated.
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub scope: RuleScope,
    /// What it catches and its false positives.
    #[serde(default)]
    pub doc: String,
}

/// Static description of an analyzer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzerInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Collectors whose records it receives.
    pub reads: Vec<String>,
    pub rules: Vec<RuleDescriptor>,
}

/// How a collector fared in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorState {
    pub status: CollectorStatus,
    /// Its error and a summary of its issues (count by kind, first few subjects).
    #[serde(default)]
    pub detail: String,
}

/// A record with its 1-based line in `records/<collector>.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberedRecord {
    pub line: usize,
    pub record: serde_json::Value,
}

/// What an analyzer receives of one bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisInput {
    pub hostname: String,
    /// Bundle file name and its SHA-256.
    pub bundle: String,
    pub bundle_sha256: String,
    /// Transport label of the collection (`local`, `image:/mnt/x`, `ssh:root@h:22`).
    pub target: String,
    /// Whether the host was running when collected.
    pub live: bool,
    /// Every collector that ran, with its status.
    pub collectors: BTreeMap<String, CollectorState>,
    /// Records of the collectors in [`AnalyzerInfo::reads`] that ran.
    pub records: BTreeMap<String, Vec<NumberedRecord>>,
    /// Member name -> SHA-256 of every member of the bundle (a raw copy made by one of its
    /// collectors may be recorded under another collector that read the same file first).
    pub members: BTreeMap<String, String>,
}

impl AnalysisInput {
    /// Records of `collector` with the given `kind`.
    pub fn of_kind<'a>(
        &'a self,
        collector: &str,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a NumberedRecord> + 'a {
        self.records
            .get(collector)
            .into_iter()
            .flatten()
            .filter(move |r| r.record["kind"] == kind)
    }

    /// The evidence pointer of a record of `collector` at `line`.
    pub fn record_evidence(&self, collector: &str, line: usize, what: &str) -> Evidence {
        let member = format!("records/{collector}.jsonl");
        Evidence {
            sha256: self.members.get(&member).cloned().unwrap_or_default(),
            member,
            line: Some(line),
            what: what.to_string(),
            what_message: None,
        }
    }
}

/// What an analyzer found on one host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostFindings {
    /// Findings; `rule` names one of the analyzer's host rules (title, MITRE ids, severity and
    /// weight are filled in by dossier).
    pub findings: Vec<Finding>,
    /// Rules it could not evaluate on this bundle, with why.
    #[serde(default)]
    pub not_evaluated: Vec<NotEvaluated>,
    /// A small summary of this host for [`Analyzer::fleet`] (kept in memory for every host:
    /// keep it small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_facts: Option<serde_json::Value>,
}

/// One host's summary for the fleet phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetFacts {
    pub hostname: String,
    pub bundle: String,
    pub facts: serde_json::Value,
}

/// Evidence of a fleet finding on one host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetEvidence {
    pub hostname: String,
    pub bundle: String,
    pub evidence: Evidence,
}

/// A finding about the fleet as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetFinding {
    /// One of the analyzer's fleet rules (title, MITRE ids and severity are filled in).
    pub rule: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub mitre: Vec<String>,
    #[serde(default = "info")]
    pub severity: Severity,
    pub subject: String,
    pub explanation: String,
    /// The hosts it concerns.
    pub hosts: Vec<String>,
    #[serde(default)]
    pub evidence: Vec<FleetEvidence>,
}

fn info() -> Severity {
    Severity::Info
}

/// Reads members of the bundle being analyzed.
pub trait MemberReader {
    /// The bytes of member `name` (at most `cap`; a larger member is an error), after checking
    /// them against the manifest's SHA-256.
    fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String>;
}

/// A [`MemberReader`] over a map of member name -> content (for analyzer unit tests).
impl MemberReader for BTreeMap<String, Vec<u8>> {
    fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String> {
        match self.get(name) {
            Some(d) if d.len() as u64 <= cap => Ok(d.clone()),
            Some(d) => Err(format!("{name}: {} bytes, more than {cap}", d.len())),
            None => Err(format!("{name}: not in the bundle")),
        }
    }
}

/// Why an analyzer could not run on a bundle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AnalyzeError(pub String);

/// An analyzer plugin. Called from several threads at once: keep no per-call state in `self`.
pub trait Analyzer: Send + Sync {
    /// Name, version, rules and the collectors it reads.
    fn info(&self) -> AnalyzerInfo;

    /// Analyzes one bundle's records; `members` reads the evidence itself when needed.
    fn analyze(
        &self,
        input: &AnalysisInput,
        members: &mut dyn MemberReader,
    ) -> Result<HostFindings, AnalyzeError>;

    /// Fleet-level findings from every analyzed host's [`HostFindings::fleet_facts`] (hosts
    /// without facts are left out).
    fn fleet(&self, hosts: &[FleetFacts]) -> Result<Vec<FleetFinding>, AnalyzeError> {
        let _ = hosts;
        Ok(Vec::new())
    }
}
