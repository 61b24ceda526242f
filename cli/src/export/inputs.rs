//! The inputs of `dossier export`: a bundle is verified and checked against the custody ledger
//! beside it as `analyze` does, then analyzed in-process with the playbook (built-in rules
//! only: no plugin is loaded), whose site allowlist applies as in `analyze` (a baseline and
//! fleet stacking do not: export the report directory of an analysis that used them); a
//! report directory of `analyze` gives the analyses of its
//! `findings.json` and, when imported events were analyzed, the alerts of its `events.json`
//! (either file may be named directly). Import bundles carry events, not triage records:
//! they are refused, with what to do instead (analyze them, export the report directory).
//! Once the export is written, the custody ledger beside each bundle exported gets an
//! `exported` entry naming the export and its SHA-256.

use crate::analyze::{Ledgers, analyze_bundle_with, custody_of, open_checked};
use crate::import::{COLLECTOR, PLAYBOOK};
use crate::playbook::Playbook;
use crate::plugins::Registry;
use dossier_analyzers::policy;
use dossier_bundle::crypt::Identities;
use dossier_bundle::fsio::open_input;
use dossier_bundle::ledger;
use dossier_bundle::reader::{Bundle, Limits};
use dossier_exports::{Analyses, events, findings};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest `findings.json` or `events.json` read.
const MAX_JSON: u64 = 1 << 30;

/// The name of the analyses file in a report directory.
pub const FINDINGS: &str = "findings.json";
/// The name of the events report's JSON in a report directory.
pub const EVENTS: &str = "events.json";

/// Reads inputs one at a time, keeping the custody ledgers it has read.
pub struct Reader<'a> {
    pub playbook: &'a Playbook,
    pub registry: &'a Registry,
    pub identities: &'a Identities,
    ledgers: Ledgers,
    /// Bundles read, with their SHA-256, for the custody ledger.
    bundles: Vec<(PathBuf, String)>,
}

/// What one input gave.
#[derive(Debug)]
pub enum Read1 {
    /// Analyses read or made, with what they were (`bundle`, `report`).
    Analyses(Analyses, &'static str),
    /// Refused: why.
    Refused(String),
}

impl<'a> Reader<'a> {
    pub fn new(
        playbook: &'a Playbook,
        registry: &'a Registry,
        identities: &'a Identities,
    ) -> Reader<'a> {
        Reader {
            playbook,
            registry,
            identities,
            ledgers: Ledgers::new(),
            bundles: Vec::new(),
        }
    }

    /// An `exported` entry in the custody ledger beside each bundle read (where there is a
    /// writable one), naming the export and its SHA-256 (a warning when one cannot be written).
    pub fn record(&self, export: &str, sha256: &str) {
        for (path, bundle_sha) in &self.bundles {
            let Some(l) = self
                .ledgers
                .get(ledger::bundle_dir(path))
                .and_then(Option::as_ref)
                .filter(|l| l.writable())
            else {
                continue;
            };
            let detail = format!(
                "its findings in {export} (SHA-256 {sha256}); dossier {}",
                env!("CARGO_PKG_VERSION")
            );
            let ev = ledger::Event {
                action: "exported",
                bundle: &ledger::bundle_name(path),
                sha256: Some(bundle_sha),
                detail: Some(&detail),
            };
            if let Err(e) = ledger::append(&l.dir, &ev) {
                eprintln!("dossier: warning: custody ledger not updated: {e}");
            }
        }
    }

    /// The analyses of one input (a report directory, a `findings.json`, or a bundle).
    pub fn read(&mut self, path: &Path) -> Read1 {
        let read = if path.is_dir() {
            report_dir(path)
        } else if path.file_name().is_some_and(|n| n == FINDINGS) {
            findings_of(path)
        } else if path.file_name().is_some_and(|n| n == EVENTS) {
            events_of(path)
        } else {
            return self.bundle(path);
        };
        match read {
            Ok(a) => Read1::Analyses(a, "report"),
            Err(why) => Read1::Refused(why),
        }
    }

    fn bundle(&mut self, path: &Path) -> Read1 {
        let custody = custody_of(&mut self.ledgers, path);
        let mut b = match open_checked(path, custody, &Limits::default(), self.identities) {
            Ok(b) => b,
            Err((_, why)) => return Read1::Refused(why),
        };
        if is_import(&b) {
            return Read1::Refused(format!(
                "{}: an import bundle (imported events, no triage records): run `dossier analyze` \
                 on it and export the report directory",
                path.display()
            ));
        }
        self.bundles.push((path.to_path_buf(), b.sha256.clone()));
        let cfg = &self.playbook.analysis;
        let (mut analysis, _, inv) =
            analyze_bundle_with(&mut b, self.playbook, self.registry, !cfg.allow.is_empty());
        let members = b
            .manifest
            .members
            .iter()
            .map(|m| (m.name.clone(), m.sha256.clone()))
            .collect();
        if policy::apply_allow(&mut analysis, &inv, cfg, &members) {
            dossier_analyzers::rescore(&mut analysis, cfg);
        }
        Read1::Analyses(
            Analyses {
                hosts: vec![analysis],
                fleet: Vec::new(),
                events: Vec::new(),
            },
            "bundle",
        )
    }
}

/// Whether a verified bundle is an import bundle (as `analyze` tells them apart).
fn is_import(b: &Bundle) -> bool {
    b.manifest.playbook.name == PLAYBOOK
        && b.manifest.collectors.iter().any(|c| c.name == COLLECTOR)
}

/// The bytes of a JSON document of a report directory, or why not.
fn read_json(file: &Path) -> Result<Vec<u8>, String> {
    let shown = file.display();
    let mut bytes = Vec::new();
    let read = open_input(file).and_then(|f| f.take(MAX_JSON + 1).read_to_end(&mut bytes));
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{shown}: no such file: give a bundle or a report directory of `dossier analyze`"
        )),
        Err(e) => Err(format!("{shown}: {e}")),
        Ok(_) if bytes.len() as u64 > MAX_JSON => Err(format!("{shown}: over {MAX_JSON} bytes")),
        Ok(_) => Ok(bytes),
    }
}

/// The analyses of a `findings.json`.
fn findings_of(file: &Path) -> Result<Analyses, String> {
    let bytes = read_json(file)?;
    findings::parse(&bytes).map_err(|e| format!("{}: {e}", file.display()))
}

/// The alerts of an `events.json`.
fn events_of(file: &Path) -> Result<Analyses, String> {
    let bytes = read_json(file)?;
    let report = events::parse(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Analyses {
        events: vec![report],
        ..Analyses::default()
    })
}

/// A report directory: its `findings.json`, and its `events.json` when imported events were
/// analyzed.
fn report_dir(dir: &Path) -> Result<Analyses, String> {
    let mut a = findings_of(&dir.join(FINDINGS))?;
    let events = dir.join(EVENTS);
    if events.symlink_metadata().is_ok() {
        a.extend(events_of(&events)?);
    }
    Ok(a)
}

/// The inputs in a stable order (file name, then path), each once.
pub fn ordered(inputs: &[PathBuf]) -> Vec<&PathBuf> {
    let mut order: Vec<&PathBuf> = inputs.iter().collect();
    order.sort_by(|a, b| (a.file_name(), a).cmp(&(b.file_name(), b)));
    order.dedup();
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_ordered_by_file_name_each_once() {
        let given: Vec<PathBuf> = ["b/web02.zip", "a/web01.zip", "rep", "b/web02.zip"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let order: Vec<&str> = ordered(&given)
            .iter()
            .map(|p| p.to_str().unwrap())
            .collect();
        assert_eq!(order, ["rep", "a/web01.zip", "b/web02.zip"]);
    }

    #[test]
    fn report_directories_read_findings_and_events() {
        let d = tempfile::tempdir().unwrap();
        let rep = d.path();
        let err = report_dir(rep).unwrap_err();
        assert!(err.ends_with("findings.json: no such file: give a bundle or a report directory of `dossier analyze`"), "{err}");
        std::fs::write(
            rep.join(FINDINGS),
            r#"{"schema": "dossier-findings", "version": 1, "hosts": [], "fleet_findings": []}"#,
        )
        .unwrap();
        let a = report_dir(rep).unwrap();
        assert!(a.hosts.is_empty() && a.events.is_empty());
        std::fs::write(rep.join(EVENTS), r#"{"schema": "dossier-findings"}"#).unwrap();
        let err = report_dir(rep).unwrap_err();
        assert!(
            err.contains("events.json: schema \"dossier-findings\", not \"dossier-events-report\""),
            "{err}"
        );
        std::fs::write(
            rep.join(EVENTS),
            r#"{"schema": "dossier-events-report", "schema_version": 1, "alerts": []}"#,
        )
        .unwrap();
        assert_eq!(report_dir(rep).unwrap().events.len(), 1);
        assert_eq!(events_of(&rep.join(EVENTS)).unwrap().events.len(), 1);
    }
}
