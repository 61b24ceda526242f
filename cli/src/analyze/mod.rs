//! Analysis of bundles: verify each bundle (and check it against the custody ledger beside
//! it), feed its records to the analyzers, write the host reports, the fleet report and
//! findings JSON, and record the analysis in the custody ledger.
//!
//! Reports are built only from bundle content, the playbook, the plugins loaded and the
//! baseline given (its name and SHA-256 are in the reports and the custody ledger), so
//! re-analysing the same bundles (here or after copying them elsewhere) gives byte-identical
//! files.
//!
//! Analyzer plugins run after the built-in rules on the records of the collectors they read;
//! their findings are scored with the same playbook overrides, and a plugin that fails leaves
//! its rules *not evaluated* with the reason in the report. Their per-host fleet facts are kept
//! (small) until every bundle is analyzed, then each plugin's fleet phase gives the fleet-level
//! findings of the fleet report and findings JSON. Plugin reporters enabled by the playbook
//! receive the hosts in report order during the final pass, then the fleet. Every dynamic
//! plugin used is listed with the SHA-256 of its library in the reports and the ledger.
//!
//! Site policy and fleet context (see `dossier_analyzers::policy`): the playbook's allowlist
//! and a `--baseline` are applied to each host right after its rules (findings they match
//! leave the score, the host is rescored, *Changed since baseline* is added). When several
//! bundles are analyzed together, each host's inventory is counted for fleet stacking (counts
//! per distinct item, not the items of every host); with `[analysis.stacking] common_share`,
//! a pass over the spool then leaves out of the score the findings common to more than that
//! share of hosts, rewriting those hosts' reports (the custody ledger keeps the verdict before
//! that pass).
//!
//! Memory does not grow with the number of bundles: each bundle's host report is written as
//! soon as it is analyzed, and its analysis goes to a spool (an unnamed temporary file in the
//! output directory, mode 0600, gone when closed) while only a small index entry per host
//! stays in memory. The fleet report and findings JSON are then written in one pass over the
//! spool in report order (hostname, bundle name); the fleet report's alerts go through five
//! temporary files, one per severity, copied into the report at the end (rarest first within a
//! severity when several bundles are stacked).
//!
//! Bundles are verified and analyzed by a small pool of worker threads (one per CPU, at most
//! [`MAX_WORKERS`]), at most two per worker in flight; the main thread takes their results in
//! bundle order and does everything that writes (custody ledger, host reports, spool), so the
//! output is the same whatever the timing. Host reports and ledger lines are written without
//! a sync each; before the fleet report is renamed into place the output file system is
//! synced once and every ledger appended to is synced once, so a finished run is durable and
//! an interrupted one leaves no fleet report. `DOSSIER_TIMINGS=1` prints where the time went
//! (per stage, summed over workers) on stderr.
//!
//! Import bundles (`dossier import`) are verified like the others; their events go through the
//! event rules on the main thread, and `events` writes the events report once every bundle is
//! in (see that module).
//!
//! One stage per module: `open` (verify, custody check), `host` (analyze one host),
//! `host_reports` (ledger line, host report, spool), `stacking` (fleet context), `fleet`
//! (plugin fleet phase, fleet report, findings JSON, final syncs) and `pool` (the workers);
//! this module only conducts them.

mod error;
mod events;
mod files;
mod fleet;
mod host;
mod host_reports;
mod open;
mod pool;
mod reporters;
mod spool;
mod stacking;
mod timings;

pub use error::{AnalyzeError, ReportError};
pub use host::{HostFacts, analyze_bundle, analyze_bundle_with};
pub use open::{Ledgers, Refusal, custody_of, open_checked};
pub use pool::MAX_WORKERS;

use crate::playbook::Playbook;
use crate::plugins::Registry;
use dossier_analyzers::baseline::BaselineIndex;
use dossier_bundle::crypt::Identities;
use dossier_bundle::fsio::ensure_out_dir;
use dossier_bundle::reader::Limits;
use dossier_plugin_api::analysis::{Finding, NotCollected, Unanalyzed};
use dossier_reporters::fleet::{HostEntry, Superseded};
use fleet::{Fleet, commit, fleet_phase, write_fleet};
use host::{Examiner, HostPolicy};
use host_reports::{HostReports, ledger_detail};
use open::ledgers_of;
use spool::{Indexed, Spool, sort_key};
use stacking::Stacking;
use std::path::{Path, PathBuf};
use timings::Timings;

/// What [`analyze_bundles`] wrote.
#[derive(Debug)]
pub struct Analysis {
    /// Analyzed bundles, sorted by hostname and bundle name.
    pub hosts: Vec<HostSummary>,
    /// Bundles refused (failed verification or the custody ledger check), by file name.
    pub unanalyzed: Vec<Unanalyzed>,
    pub fleet_report: PathBuf,
    pub findings_json: PathBuf,
    /// The events report (`events-report.md`), when import bundles were analyzed, with how
    /// many events went through the event rules and how many alerts they raised.
    pub events: Option<EventsSummary>,
}

/// What the events stage wrote.
#[derive(Debug)]
pub struct EventsSummary {
    pub report: PathBuf,
    pub json: PathBuf,
    pub events: u64,
    pub alerts: usize,
}

/// One analyzed bundle.
#[derive(Debug)]
pub struct HostSummary {
    pub hostname: String,
    pub bundle: PathBuf,
    pub verdict: String,
    pub score: u32,
    pub findings: usize,
    pub report: PathBuf,
}

/// Verifies and analyzes `bundles`, writing reports under `out`: `DIR/<host>/report.md` for
/// each bundle, then `DIR/fleet-report.md` and `DIR/findings.json` over all of them and the
/// targets that could not be collected (`not_collected`, empty when every target gave a
/// bundle). A bundle that fails verification, or whose custody ledger (beside it, if any) is
/// broken, lacks its `created` entry or records another SHA-256, is not analyzed but listed;
/// so is an encrypted bundle none of `identities` decrypts (they decrypt as a stream).
pub fn analyze_bundles(
    bundles: &[PathBuf],
    playbook: &Playbook,
    registry: &Registry,
    out: &Path,
    not_collected: &[NotCollected],
    baseline: Option<&BaselineIndex>,
    identities: &Identities,
) -> Result<Analysis, AnalyzeError> {
    let fleet_in = (not_collected, &[][..]);
    analyze_merged(
        bundles, playbook, registry, out, fleet_in, baseline, identities,
    )
}

/// [`analyze_bundles`] for `dossier merge`: the fleet report also lists the `superseded`
/// bundles (older verified bundles of hosts whose newest one is among `bundles`).
pub fn analyze_merged(
    bundles: &[PathBuf],
    playbook: &Playbook,
    registry: &Registry,
    out: &Path,
    (not_collected, superseded): (&[NotCollected], &[Superseded]),
    baseline: Option<&BaselineIndex>,
    identities: &Identities,
) -> Result<Analysis, AnalyzeError> {
    ensure_out_dir(out).map_err(ReportError::OutDir)?;
    let mut stacking = Stacking::new(bundles.len());
    let mut order: Vec<&PathBuf> = bundles.iter().collect();
    order.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    let detail = ledger_detail(playbook, registry, baseline);
    let spool = Spool::create(out)?;
    let ledgers = ledgers_of(&order);
    let timings = Timings::from_env();
    let examiner = Examiner {
        limits: Limits::default(),
        identities,
        ledgers: &ledgers,
        playbook,
        registry,
        policy: HostPolicy {
            baseline,
            inventory: stacking.on() || baseline.is_some() || !playbook.analysis.allow.is_empty(),
            keep_inventory: stacking.on(),
        },
        timings: &timings,
    };
    let mut reports = HostReports::new(out, &ledgers, detail, &timings, spool, bundles.len());
    reports.imports.allow_direct(&order);
    examine_all(&order, &examiner, &mut reports, &mut stacking)?;
    let HostReports {
        mut spool,
        mut index,
        unanalyzed,
        facts,
        appended,
        imports,
        mut dirs,
        ..
    } = reports;
    spool.flush()?;
    let (share, common) = stacking.leave_common(playbook, &mut index, &mut spool)?;
    let summary = stacking.summary(share, common, baseline);
    let prevalence = |f: &Finding| stacking.hosts_with(f);
    // Stable: bundles of one host with the same file name stay in argument order.
    index.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let lang = dossier_i18n::catalog(playbook.report.lang);
    let events = events::finish(out, imports, &index, &spool, &mut dirs, lang)?;
    let entries: Vec<HostEntry> = index
        .iter_mut()
        .map(|i| i.entry.take().expect("taken once"))
        .collect();
    let mut not_collected = not_collected.to_vec();
    not_collected.sort();
    let fleet_findings = fleet_phase(registry, playbook, facts);
    let fleet = Fleet {
        entries: &entries,
        index: &index,
        unanalyzed: &unanalyzed,
        not_collected: &not_collected,
        fleet_findings: &fleet_findings,
        stacking: summary.as_ref().map(|s| (s, &prevalence as _)),
        events: events.as_ref().map(|e| e.summary.as_str()),
        superseded,
    };
    let pending = write_fleet(out, &fleet, spool, (registry, playbook), &timings)?;
    let (fleet_report, findings_json) = commit(out, &appended, pending, &timings)?;
    timings.print(index.len());
    Ok(Analysis {
        hosts: summaries(entries, index),
        unanalyzed,
        fleet_report,
        findings_json,
        events: events.map(|e| EventsSummary {
            report: e.report,
            json: e.json,
            events: e.events,
            alerts: e.alerts,
        }),
    })
}

/// Verifies and analyzes the bundles on the worker pool, and writes each one's results on
/// this thread in bundle order; stops writing at the first error.
fn examine_all(
    order: &[&PathBuf],
    examiner: &Examiner<'_>,
    reports: &mut HostReports<'_>,
    stacking: &mut Stacking,
) -> Result<(), AnalyzeError> {
    let mut failed: Option<AnalyzeError> = None;
    pool::in_order(
        order,
        |path| examiner.examine(path),
        |path, mut done| {
            if failed.is_some() {
                return;
            }
            stacking.count(&mut done);
            if let Err(e) = reports.take(path, done) {
                failed = Some(e);
            }
        },
    );
    failed.map_or(Ok(()), Err)
}

/// The summary of each analyzed bundle, in report order.
fn summaries(entries: Vec<HostEntry>, index: Vec<Indexed>) -> Vec<HostSummary> {
    entries
        .into_iter()
        .zip(index)
        .map(|(e, i)| HostSummary {
            hostname: e.hostname,
            bundle: i.bundle,
            verdict: e.verdict,
            score: e.score,
            findings: e.findings,
            report: i.report,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_not_collected_reach_both_reports_and_no_scratch_file_remains() {
        let d = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bundles");
        for f in ["esxi-web01-snapshot.zip", "esxi-web01-snapshot.zip.sha256"] {
            std::fs::copy(fixtures.join(f), d.path().join(f)).unwrap();
        }
        let registry = Registry::builtin();
        let playbook = crate::playbook::load(None, &registry).unwrap();
        let nc = [
            NotCollected {
                target: "web09".into(),
                outcome: "timed_out".into(),
                reason: "no answer within 10 s".into(),
            },
            NotCollected {
                target: "db01".into(),
                outcome: "host_key_refused".into(),
                reason: "the host key changed".into(),
            },
        ];
        let out = d.path().join("rep");
        let r = analyze_bundles(
            &[d.path().join("esxi-web01-snapshot.zip")],
            &playbook,
            &registry,
            &out,
            &nc,
            None,
            &Identities::none(),
        )
        .unwrap();
        assert_eq!(r.hosts.len(), 1);
        assert!(r.unanalyzed.is_empty());
        let fleet = std::fs::read_to_string(&r.fleet_report).unwrap();
        assert!(
            fleet.contains("**Targets not collected:** 2 (host_key_refused: 1, timed_out: 1)")
                && fleet.contains(
                    "- `db01`: host_key_refused: the host key changed\n- `web09`: timed_out"
                ),
            "{fleet}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&r.findings_json).unwrap()).unwrap();
        assert_eq!(json["not_collected"].as_array().unwrap().len(), 2);
        assert_eq!(json["not_collected"][0]["target"], "db01");
        assert_eq!(json["hosts"][0]["hostname"], "esxi-web01");
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["esxi-web01", "findings.json", "fleet-report.md"]);
    }

    #[test]
    fn a_report_that_cannot_be_written_is_a_report_error_not_a_bundle_error() {
        let d = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bundles");
        for f in ["esxi-web01-snapshot.zip", "esxi-web01-snapshot.zip.sha256"] {
            std::fs::copy(fixtures.join(f), d.path().join(f)).unwrap();
        }
        // report.md cannot be put in place: a directory (not empty) has its name. This fails
        // for root too, unlike a directory without write permission.
        let out = d.path().join("rep");
        let blocker = out.join("esxi-web01/report.md");
        std::fs::create_dir_all(blocker.join("x")).unwrap();
        let registry = Registry::builtin();
        let playbook = crate::playbook::load(None, &registry).unwrap();
        let e = analyze_bundles(
            &[d.path().join("esxi-web01-snapshot.zip")],
            &playbook,
            &registry,
            &out,
            &[],
            None,
            &Identities::none(),
        )
        .unwrap_err();
        assert!(
            matches!(e, AnalyzeError::Report(ReportError::Write { .. })),
            "{e:?}"
        );
        // As `dossier analyze` prints it.
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert!(
            shown.starts_with(&format!(
                "writing the reports failed: {}: ",
                blocker.display()
            )) && !shown.contains("bundle"),
            "{shown}"
        );
        assert!(!out.join("fleet-report.md").exists());
    }
}
