//! The fleet stage of an analysis run: the fleet phase of analyzer plugins, then the fleet
//! report and findings JSON in one pass over the spool in report order (hostname, bundle
//! name), with the plugin reporters fed on the way. The fleet report's alerts go through five
//! temporary files, one per severity, copied into the report at the end (rarest first within
//! a severity when several bundles are stacked).

use super::error::{AnalyzeError, ReportError};
use super::files::{Pending, scratch};
use super::host::HostFacts;
use super::reporters::PluginReporters;
use super::spool::{Indexed, Spool};
use super::timings::{Stage, Timings};
use crate::playbook::Playbook;
use crate::plugins::Registry;
use dossier_plugin_api::Analyzer;
use dossier_plugin_api::analysis::{NotCollected, Unanalyzed};
use dossier_plugin_api::analyzer::{FleetFacts, FleetFinding};
use dossier_plugin_api::policy::StackingSummary;
use dossier_plugin_api::reporter::FleetInput;
use dossier_reporters::fleet::{FleetWriter, HostEntry, Prevalence, Superseded};
use dossier_reporters::json::FindingsWriter;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

/// Runs the fleet phase of every analyzer plugin over the facts of the analyzed hosts.
pub(crate) fn fleet_phase(
    registry: &Registry,
    playbook: &Playbook,
    facts: Vec<(String, String, HostFacts)>,
) -> Vec<FleetFinding> {
    let mut per: Vec<Vec<FleetFacts>> = vec![Vec::new(); registry.analyzers.len()];
    for (hostname, bundle, hf) in facts {
        for (i, f) in hf {
            per[i].push(FleetFacts {
                hostname: hostname.clone(),
                bundle: bundle.clone(),
                facts: f,
            });
        }
    }
    let mut out = Vec::new();
    for (an, hosts) in registry.analyzers.iter().zip(per) {
        if hosts.is_empty() {
            continue;
        }
        let info = an.info();
        match an.fleet(&hosts) {
            Ok(found) => out.extend(dossier_analyzers::plugins::fleet_findings(
                &info,
                found,
                &playbook.analysis,
            )),
            Err(e) => eprintln!(
                "dossier: warning: fleet analysis of plugin {} failed: {e}",
                info.name
            ),
        }
    }
    out
}

/// What the fleet report and findings JSON are written from.
pub(crate) struct Fleet<'a> {
    /// Hosts in report order.
    pub(crate) entries: &'a [HostEntry],
    /// Where each host's analysis is in the spool, in report order.
    pub(crate) index: &'a [Indexed],
    pub(crate) unanalyzed: &'a [Unanalyzed],
    /// Sorted.
    pub(crate) not_collected: &'a [NotCollected],
    pub(crate) fleet_findings: &'a [FleetFinding],
    /// Stacking summary and prevalence (several hosts stacked).
    pub(crate) stacking: Option<(&'a StackingSummary, Prevalence<'a>)>,
    /// The paragraph on imported events, when import bundles were analyzed.
    pub(crate) events: Option<&'a str>,
    /// Bundles superseded by a newer one of their host (`dossier merge`).
    pub(crate) superseded: &'a [Superseded],
}

/// Five scratch files, one per severity, for the fleet report's alerts.
fn sections(out: &Path) -> Result<[BufWriter<File>; 5], ReportError> {
    let mut sections = Vec::with_capacity(5);
    for _ in 0..5 {
        sections.push(BufWriter::with_capacity(1 << 16, scratch(out)?));
    }
    Ok(sections.try_into().expect("five sections"))
}

/// Writes `DIR/fleet-report.md` and `DIR/findings.json` (and the files of plugin reporters)
/// from the spool, under their temporary names: the caller commits them once everything
/// else is durable.
pub(crate) fn write_fleet(
    out: &Path,
    fleet: &Fleet<'_>,
    spool: Spool,
    (registry, playbook): (&Registry, &Playbook),
    timings: &Timings,
) -> Result<(Pending, Pending), AnalyzeError> {
    let mut reporters = PluginReporters::start(registry, playbook);
    let mut report = Pending::create(out.join("fleet-report.md"))?;
    let mut findings = Pending::create(out.join("findings.json"))?;
    let (report_path, findings_path) = (report.path.clone(), findings.path.clone());
    let report_err = |e: std::io::Error| ReportError::write(&report_path, e);
    let findings_err = |e: std::io::Error| ReportError::write(&findings_path, e);
    let mut fw = FleetWriter::new(fleet.entries)
        .with_superseded(fleet.superseded)
        .with_catalog(dossier_i18n::catalog(playbook.report.lang));
    if let Some((s, prevalence)) = fleet.stacking {
        fw = fw.with_stacking(s, prevalence);
    }
    if let Some(e) = fleet.events {
        fw = fw.with_events(e);
    }
    fw.write_head(report.sink(), fleet.unanalyzed, fleet.not_collected)
        .map_err(report_err)?;
    let mut sections = sections(out)?;
    let mut jw =
        FindingsWriter::new(findings.sink(), fleet.fleet_findings).map_err(findings_err)?;
    if let Some((s, _)) = fleet.stacking {
        jw = jw.with_stacking(s);
    }
    let fleet_pass = Instant::now();
    let mut buf = Vec::new();
    for i in fleet.index {
        let a = spool.read(i, &mut buf)?;
        fw.add(&a, &mut sections).map_err(report_err)?;
        jw.host(&a).map_err(findings_err)?;
        reporters.host(&a, i.report.parent().unwrap_or(out))?;
    }
    drop(spool);
    timings.add(Stage::Fleet, fleet_pass);
    jw.finish(fleet.unanalyzed, fleet.not_collected)
        .map_err(findings_err)?;
    let mut files = Vec::with_capacity(5);
    for s in sections {
        files.push(s.into_inner().map_err(|e| report_err(e.into_error()))?);
    }
    let mut files: [File; 5] = files.try_into().expect("five sections");
    fw.write_alerts(report.sink(), &mut files)
        .map_err(report_err)?;
    let used_reporters = reporters.finish(
        out,
        &FleetInput {
            unanalyzed: fleet.unanalyzed.to_vec(),
            not_collected: fleet.not_collected.to_vec(),
            fleet_findings: fleet.fleet_findings.to_vec(),
        },
    )?;
    fw.write_tail(report.sink(), fleet.fleet_findings, &used_reporters)
        .map_err(report_err)?;
    Ok((report, findings))
}

/// Makes a finished run durable, then commits the fleet report and findings JSON: host
/// reports and ledger lines were written unsynced, so they are made durable before the fleet
/// report (whose presence says the run finished) is.
pub(crate) fn commit(
    out: &Path,
    appended: &[std::path::PathBuf],
    (report, findings): (Pending, Pending),
    timings: &Timings,
) -> Result<(std::path::PathBuf, std::path::PathBuf), ReportError> {
    let t = Instant::now();
    if let Ok(d) = File::open(out) {
        let _ = nix::unistd::syncfs(&d);
    }
    for dir in appended {
        if let Err(e) = dossier_bundle::ledger::sync(dir) {
            eprintln!("dossier: warning: custody ledger not synced: {e}");
        }
    }
    let fleet_report = report.commit()?;
    let findings_json = findings.commit()?;
    dossier_bundle::fsio::sync_dir(out);
    timings.add(Stage::Sync, t);
    Ok((fleet_report, findings_json))
}
