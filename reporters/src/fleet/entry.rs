//! What the fleet report keeps in memory of each host: a small entry, enough for the summary,
//! the host table and to number the alerts.

use super::severity::slot;
use dossier_i18n::Catalog;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::analysis::{HostAnalysis, Severity};

/// What the fleet report needs of one host before its alerts: kept in memory for every host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    pub hostname: String,
    pub bundle: String,
    pub bundle_sha256: String,
    pub verdict: String,
    pub score: u32,
    pub findings: usize,
    pub highest: Option<Severity>,
    pub collected_started: Timestamp,
    pub collected_finished: Timestamp,
    /// Rule hits per severity, in [`ORDER`](super::ORDER).
    pub hits: [usize; 5],
    /// Number of rules evaluated on partial data (the host was collected with gaps).
    pub partial: usize,
    /// Number of rules not evaluated (the data they need is missing).
    pub not_evaluated: usize,
    /// Collected from an offline image (`collect --root`): no live processes or sockets.
    pub offline: bool,
}

impl HostEntry {
    /// The entry of an analysis.
    pub fn of(a: &HostAnalysis) -> Self {
        let mut hits = [0; 5];
        for h in &a.hits {
            hits[slot(h.severity)] += 1;
        }
        HostEntry {
            hostname: a.hostname.clone(),
            bundle: a.bundle.clone(),
            bundle_sha256: a.bundle_sha256.clone(),
            verdict: a.verdict.clone(),
            score: a.score,
            findings: a.findings.len(),
            highest: a.highest(),
            collected_started: a.collected_started,
            collected_finished: a.collected_finished,
            hits,
            partial: a.partial.len(),
            not_evaluated: a.not_evaluated.len(),
            offline: a.target.starts_with("image:"),
        }
    }

    /// The host table's `data` column: `complete` only when every rule ran on complete data;
    /// otherwise `offline image (N rules not evaluated)` for an image collected with `--root`,
    /// `partial (N rules)` for rules evaluated on partial data, `incomplete (N rules not
    /// evaluated)` for a live host some data is missing of.
    pub fn data(&self, c: &Catalog) -> String {
        let rules = |n: usize| {
            let id = if n == 1 {
                "fleet.data.rule_one"
            } else {
                "fleet.data.rule_many"
            };
            c.format(id, &[("n", &n)])
        };
        let ne = c.format(
            "fleet.data.not_evaluated",
            &[("rules", &rules(self.not_evaluated))],
        );
        let partial = rules(self.partial);
        let id = match (self.offline, self.not_evaluated > 0, self.partial > 0) {
            (true, false, false) => "fleet.data.offline",
            (true, true, false) => "fleet.data.offline_not_evaluated",
            (true, false, true) => "fleet.data.offline_partial",
            (true, true, true) => "fleet.data.offline_both",
            (false, false, false) => "fleet.data.complete",
            (false, true, false) => "fleet.data.incomplete",
            (false, false, true) => "fleet.data.partial",
            (false, true, true) => "fleet.data.partial_not_evaluated",
        };
        c.format(id, &[("not_evaluated", &ne), ("rules", &partial)])
    }
}
