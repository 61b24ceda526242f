//! Writing each host's results, on the main thread in bundle order: the custody ledger line
//! (`analyzed` or `analyze_refused`), the host report `DIR/<host>/report.md` and the host's
//! analysis in the spool.

use super::error::{AnalyzeError, ReportError};
use super::events::Imports;
use super::files::{HostDirs, host_dir, write_report_unsynced};
use super::host::{Done, Examination, Examined, HostFacts};
use super::open::{Ledgers, custody_in};
use super::spool::{Indexed, Spool};
use super::timings::{Stage, Timings};
use crate::playbook::Playbook;
use crate::plugins::Registry;
use dossier_analyzers::baseline::BaselineIndex;
use dossier_bundle::fsio::ensure_out_dir;
use dossier_bundle::ledger;
use dossier_plugin_api::analysis::Unanalyzed;
use dossier_reporters::fleet::HostEntry;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the custody ledger says of every analysis of a run: playbook, dossier version,
/// baseline and analyzer plugins.
pub(crate) fn ledger_detail(
    playbook: &Playbook,
    registry: &Registry,
    baseline: Option<&BaselineIndex>,
) -> String {
    let mut detail = format!(
        "playbook {} {}; dossier {}",
        playbook.name,
        playbook.sha256,
        env!("CARGO_PKG_VERSION")
    );
    if let Some(b) = baseline {
        detail.push_str(&format!("; baseline {} {}", b.name, b.sha256));
    }
    for a in &registry.analyzers {
        let lib = a.origin_lib();
        detail.push_str(&format!(
            "; plugin {} {} {}",
            lib.name, lib.version, lib.sha256
        ));
    }
    detail
}

/// The main thread's side of a run: what it has written so far.
pub(crate) struct HostReports<'r> {
    out: &'r Path,
    ledgers: &'r Ledgers,
    /// See [`ledger_detail`].
    detail: String,
    timings: &'r Timings,
    pub(crate) dirs: HostDirs,
    /// Import bundles, their events through the event rules.
    pub(crate) imports: Imports,
    pub(crate) spool: Spool,
    pub(crate) index: Vec<Indexed>,
    pub(crate) unanalyzed: Vec<Unanalyzed>,
    /// Fleet facts of analyzer plugins: hostname, bundle and facts of each host.
    pub(crate) facts: Vec<(String, String, HostFacts)>,
    /// Ledger directories appended to (synced once at the end).
    pub(crate) appended: Vec<PathBuf>,
}

impl<'r> HostReports<'r> {
    /// Nothing written yet (`expected`: how many bundles will come).
    pub(crate) fn new(
        out: &'r Path,
        ledgers: &'r Ledgers,
        detail: String,
        timings: &'r Timings,
        spool: Spool,
        expected: usize,
    ) -> HostReports<'r> {
        HostReports {
            out,
            ledgers,
            detail,
            timings,
            dirs: HostDirs::default(),
            imports: Imports::new(out),
            spool,
            index: Vec::with_capacity(expected),
            unanalyzed: Vec::new(),
            facts: Vec::new(),
            appended: Vec::new(),
        }
    }

    /// Appends to the custody ledger beside `path` (unsynced), if there is one.
    fn record(&mut self, path: &Path, ev: &ledger::Event<'_>) -> Result<(), ledger::LedgerError> {
        // None, or one that is not a regular file (refused, never written).
        let Some(l) = custody_in(self.ledgers, path).filter(|l| l.writable()) else {
            return Ok(());
        };
        let t = Instant::now();
        let r = ledger::append_unsynced(&l.dir, ev);
        if !self.appended.contains(&l.dir) {
            self.appended.push(l.dir.clone());
        }
        self.timings.add(Stage::Ledger, t);
        r.map(|_| ())
    }

    /// One bundle, in bundle order: custody ledger, host report, spool.
    pub(crate) fn take(&mut self, path: &Path, done: Examined) -> Result<(), AnalyzeError> {
        let name = ledger::bundle_name(path);
        match done {
            Ok(Done::Host(e)) => self.analyzed(path, &name, *e),
            Ok(Done::Import(b)) => match self.imported(path, &name, b) {
                Ok(()) => Ok(()),
                Err(reason) => {
                    self.refused(path, name, "failed verification", reason);
                    Ok(())
                }
            },
            Err((why, reason)) => {
                self.refused(path, name, why, reason);
                Ok(())
            }
        }
    }

    /// A bundle refused: the ledger line, and the reason for the reports.
    fn refused(&mut self, path: &Path, name: String, why: &str, reason: String) {
        let _ = self.record(
            path,
            &ledger::Event {
                action: "analyze_refused",
                bundle: &name,
                sha256: None,
                detail: Some(why),
            },
        );
        self.unanalyzed.push(Unanalyzed {
            subject: name,
            reason,
        });
    }

    /// An import bundle: its events through the rules, then the ledger line.
    /// An import bundle: its events through the rules, then the ledger line; or why it is
    /// refused (its events differ from its manifest).
    fn imported(
        &mut self,
        path: &Path,
        name: &str,
        b: Box<dossier_bundle::reader::Bundle>,
    ) -> Result<(), String> {
        let t = Instant::now();
        let sha256 = b.sha256.clone();
        let taken = self.imports.take(b, name);
        self.timings.add(Stage::Records, t);
        let (events, bad) = taken?;
        let detail = format!(
            "imported events: {events} events through the event rules, {bad} unreadable lines; {}",
            self.detail
        );
        if let Err(err) = self.record(
            path,
            &ledger::Event {
                action: "analyzed",
                bundle: name,
                sha256: Some(&sha256),
                detail: Some(&detail),
            },
        ) {
            eprintln!("dossier: warning: custody ledger not updated: {err}");
        }
        Ok(())
    }

    fn analyzed(&mut self, path: &Path, name: &str, e: Examination) -> Result<(), AnalyzeError> {
        let a = e.analysis;
        if !e.facts.is_empty() {
            self.facts
                .push((a.hostname.clone(), a.bundle.clone(), e.facts));
        }
        let detail = format!("verdict {} score {}; {}", a.verdict, a.score, self.detail);
        if let Err(err) = self.record(
            path,
            &ledger::Event {
                action: "analyzed",
                bundle: name,
                sha256: Some(&e.sha256),
                detail: Some(&detail),
            },
        ) {
            eprintln!("dossier: warning: custody ledger not updated: {err}");
        }
        let json = e.json.map_err(|err| AnalyzeError::spool(self.out, err))?;
        let t = Instant::now();
        let hdir = self.out.join(host_dir(&a.hostname, &mut self.dirs));
        ensure_out_dir(&hdir).map_err(ReportError::OutDir)?;
        let report = hdir.join("report.md");
        write_report_unsynced(&report, &e.report)?;
        let offset = self.spool.push(&json)?;
        self.index.push(Indexed {
            entry: Some(HostEntry::of(&a)),
            bundle: path.to_path_buf(),
            report,
            offset,
            len: json.len(),
        });
        self.timings.add(Stage::Write, t);
        Ok(())
    }
}
