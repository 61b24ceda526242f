//! Fleet stacking, when several bundles are analyzed together: each host's inventory and
//! findings are counted as they come (counts per distinct item, not the items of every
//! host); with `[analysis.stacking] common_share`, a pass over the spool then leaves out of
//! the score the findings common to more than that share of hosts, rewriting those hosts'
//! reports (the custody ledger keeps the verdict before that pass).

use super::error::AnalyzeError;
use super::files::write_report;
use super::host::{Done, Examined};
use super::spool::{Indexed, Spool};
use crate::playbook::Playbook;
use dossier_analyzers::baseline::BaselineIndex;
use dossier_analyzers::policy;
use dossier_analyzers::stacking::Stacker;
use dossier_plugin_api::analysis::Finding;
use dossier_plugin_api::policy::StackingSummary;

/// The stacking counts of a run.
pub(crate) struct Stacking {
    /// Whether several bundles are analyzed together.
    on: bool,
    stacker: Stacker,
    /// Hostname and bundle of each host counted, by the number stacking knows it by.
    names: Vec<(String, String)>,
}

impl Stacking {
    /// Counters for a run over `bundles` bundles (off for one).
    pub(crate) fn new(bundles: usize) -> Stacking {
        Stacking {
            on: bundles > 1,
            stacker: Stacker::new(bundles),
            names: Vec::new(),
        }
    }

    /// Whether the inventory of each host is kept for stacking.
    pub(crate) fn on(&self) -> bool {
        self.on
    }

    /// Counts an analyzed host (its inventory is taken: it is not needed any more).
    pub(crate) fn count(&mut self, done: &mut Examined) {
        let (true, Ok(Done::Host(e))) = (self.on, done) else {
            return;
        };
        let inv = std::mem::take(&mut e.inventory);
        let a = &e.analysis;
        self.stacker.add(
            self.names.len() as u32,
            &inv,
            a.findings.iter().chain(&a.context),
        );
        self.names.push((a.hostname.clone(), a.bundle.clone()));
    }

    /// Whether stacking applies: several hosts were counted.
    fn applies(&self) -> bool {
        self.on && self.stacker.hosts() > 1
    }

    /// On how many hosts a finding is.
    pub(crate) fn hosts_with(&self, f: &Finding) -> u32 {
        self.stacker.hosts_with(f)
    }

    /// Leaves the findings common to more than the playbook's `common_share` of hosts out of
    /// the score: the hosts concerned are rescored, their reports rewritten and their
    /// analyses stored again in the spool. Returns the share applied and how many findings
    /// it left out.
    pub(crate) fn leave_common(
        &self,
        playbook: &Playbook,
        index: &mut [Indexed],
        spool: &mut Spool,
    ) -> Result<(Option<f64>, usize), AnalyzeError> {
        let share = playbook
            .analysis
            .stacking
            .common_share
            .filter(|_| self.applies());
        let mut common = 0;
        let Some(share) = share else {
            return Ok((share, common));
        };
        let hosts_with = |f: &Finding| self.stacker.hosts_with(f);
        let mut buf = Vec::new();
        for i in index {
            let mut a = spool.read(i, &mut buf)?;
            if !policy::apply_common(&mut a, share, self.stacker.hosts(), &hosts_with) {
                continue;
            }
            common += a.policy.common.len();
            policy::rescore(&mut a, &playbook.analysis);
            let lang = dossier_i18n::catalog(playbook.report.lang);
            write_report(&i.report, &dossier_reporters::host::render(&a, lang))?;
            spool.rewrite(i, &a)?;
        }
        Ok((Some(share), common))
    }

    /// The stacking summary of the fleet report and findings JSON (when stacking applies),
    /// rare persistence known to the baseline marked as such.
    pub(crate) fn summary(
        &self,
        share: Option<f64>,
        common: usize,
        baseline: Option<&BaselineIndex>,
    ) -> Option<StackingSummary> {
        self.applies().then(|| {
            let names = |h: u32| self.names[h as usize].clone();
            let mut s = self.stacker.summary(&names, share, common);
            if let Some(base) = baseline {
                for r in &mut s.rare_persistence {
                    r.known = base.knows(&r.item);
                }
            }
            s
        })
    }
}
