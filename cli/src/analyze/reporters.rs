//! Plugin reporters in an analysis run: those the playbook enables get each host in report
//! order during the fleet pass, then the fleet. A reporter that fails is reported on stderr
//! and dropped; the others and the built-in reports go on.

use super::error::ReportError;
use super::files::write_report;
use crate::playbook::Playbook;
use crate::plugins::{PluginReporter, Registry, use_of};
use dossier_plugin_api::Reporter;
use dossier_plugin_api::analysis::{HostAnalysis, PluginUse};
use dossier_plugin_api::reporter::FleetInput;
use std::path::Path;

/// The plugin reporters a playbook enables, for one analysis run.
pub(crate) struct PluginReporters<'r> {
    active: Vec<(&'r PluginReporter, PluginUse)>,
}

impl<'r> PluginReporters<'r> {
    /// Configures the reporters `playbook` enables.
    pub(crate) fn start(registry: &'r Registry, playbook: &Playbook) -> PluginReporters<'r> {
        let mut active = Vec::new();
        for (name, config) in &playbook.reporters {
            let Some(r) = registry.reporters.iter().find(|r| &r.info.name == name) else {
                continue;
            };
            let mut rep = r.reporter.lock().unwrap_or_else(|e| e.into_inner());
            match rep.configure(config) {
                Ok(()) => active.push((r, use_of("reporter", name, rep.origin_lib()))),
                Err(e) => eprintln!("dossier: warning: reporter {name} failed: {e}"),
            }
        }
        PluginReporters { active }
    }

    fn write(dir: &Path, file: &Option<String>, doc: Option<String>) -> Result<(), ReportError> {
        if let (Some(f), Some(doc)) = (file, doc) {
            write_report(&dir.join(f), &doc)?;
        }
        Ok(())
    }

    /// One host, its files written in `dir` (the host's report directory).
    pub(crate) fn host(&mut self, a: &HostAnalysis, dir: &Path) -> Result<(), ReportError> {
        let mut failed = Vec::new();
        for (i, (r, _)) in self.active.iter().enumerate() {
            let doc = r.reporter.lock().unwrap_or_else(|e| e.into_inner()).host(a);
            match doc {
                Ok(doc) => Self::write(dir, &r.info.host_file, doc)?,
                Err(e) => {
                    eprintln!("dossier: warning: reporter {} failed: {e}", r.info.name);
                    failed.push(i);
                }
            }
        }
        for i in failed.into_iter().rev() {
            self.active.remove(i);
        }
        Ok(())
    }

    /// The fleet, its files written in `out`; the reporters that finished.
    pub(crate) fn finish(
        self,
        out: &Path,
        fleet: &FleetInput,
    ) -> Result<Vec<PluginUse>, ReportError> {
        let mut used = Vec::new();
        for (r, u) in self.active {
            let mut rep = r.reporter.lock().unwrap_or_else(|e| e.into_inner());
            match rep.finish(fleet) {
                Ok(doc) => {
                    Self::write(out, &r.info.fleet_file, doc)?;
                    used.push(u);
                }
                Err(e) => eprintln!("dossier: warning: reporter {} failed: {e}", r.info.name),
            }
            if let Err(e) = rep.close() {
                eprintln!("dossier: warning: {e}");
            }
        }
        Ok(used)
    }
}
