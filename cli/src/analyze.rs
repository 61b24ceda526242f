//! Analysis of bundles: verify each bundle (and check it against the custody ledger beside
//! it), feed its records to the analyzers, write the host reports, the fleet report and
//! findings JSON, and record the analysis in the custody ledger.
//!
//! Reports are built only from bundle content and the playbook, so re-analysing the same
//! bundles (here or after copying them elsewhere) gives byte-identical files.

use crate::bundle::ledger::{self, Beside};
use crate::bundle::reader::{Bundle, Limits};
use crate::bundle::writer::{BundleError, ensure_out_dir, write_synced};
use crate::orchestrate::file_safe;
use crate::playbook::Playbook;
use dossier_analyzers::{BundleInput, Header, analyze};
use dossier_plugin_api::analysis::{HostAnalysis, NotCollected, Unanalyzed};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Largest records member read.
const MAX_RECORDS: u64 = 1 << 30;

/// What [`analyze_bundles`] wrote.
#[derive(Debug)]
pub struct Analysis {
    pub hosts: Vec<HostSummary>,
    pub unanalyzed: Vec<Unanalyzed>,
    pub fleet_report: PathBuf,
    pub findings_json: PathBuf,
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

fn bundle_header(b: &Bundle) -> Header {
    let m = &b.manifest;
    Header {
        hostname: m.host.hostname.clone(),
        bundle: b
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bundle_sha256: b.sha256.clone(),
        case_id: m.case_id.clone(),
        target: m.target.label.clone(),
        live: m.target.live,
        started: m.collection.started,
        finished: m.collection.finished,
        playbook: m.playbook.name.clone(),
        playbook_sha256: m.playbook.sha256.clone(),
        tool: format!("{} {} ({})", m.tool.name, m.tool.version, m.tool.build),
        os: m.host.os_pretty_name.clone(),
        kernel: m.host.kernel_release.clone(),
    }
}

/// Analyzes one opened bundle.
pub fn analyze_bundle(b: &mut Bundle, playbook: &Playbook) -> HostAnalysis {
    let header = bundle_header(b);
    let mut collectors = BTreeMap::new();
    let mut records = BTreeMap::new();
    let mut record_errors = Vec::new();
    let runs = b.manifest.collectors.clone();
    for run in &runs {
        let detail = run
            .error
            .clone()
            .or_else(|| {
                run.issues
                    .first()
                    .map(|i| format!("{}: {}", i.subject, i.message))
            })
            .unwrap_or_default();
        collectors.insert(run.name.clone(), (run.status.clone(), detail));
        match b.records(&run.name, MAX_RECORDS) {
            Ok((recs, bad)) => {
                records.insert(run.name.clone(), recs);
                record_errors.extend(bad);
            }
            Err(e) => record_errors.push(e),
        }
    }
    let members = b
        .manifest
        .members
        .iter()
        .map(|m| (m.name.clone(), m.sha256.clone()))
        .collect();
    let mut read = |name: &str, cap: u64| b.read_member(name, cap);
    let mut input = BundleInput {
        header,
        collectors,
        records,
        members,
        read_member: &mut read,
        record_errors,
    };
    analyze(&mut input, &playbook.analysis)
}

fn write_report(path: &Path, text: &str) -> Result<(), BundleError> {
    let tmp = path.with_extension("partial");
    write_synced(&tmp, text.as_bytes())
        .map_err(|e| BundleError::Write(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| BundleError::Write(format!("{}: {e}", path.display())))
}

/// Verifies and analyzes `bundles`, writing reports under `out`; the fleet report and findings
/// JSON also list the targets that could not be collected (`not_collected`, empty when every
/// target gave a bundle). A bundle that fails verification, or whose custody ledger (beside
/// it, if any) is broken, lacks its `created` entry or records another SHA-256, is not
/// analyzed but listed.
pub fn analyze_bundles(
    bundles: &[PathBuf],
    playbook: &Playbook,
    out: &Path,
    not_collected: &[NotCollected],
) -> Result<Analysis, BundleError> {
    ensure_out_dir(out)?;
    let limits = Limits::default();
    let mut order: Vec<&PathBuf> = bundles.iter().collect();
    order.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    let mut analyses: Vec<(PathBuf, HostAnalysis)> = Vec::new();
    let mut unanalyzed = Vec::new();
    let detail = format!(
        "playbook {} {}; dossier {}",
        playbook.name,
        playbook.sha256,
        env!("CARGO_PKG_VERSION")
    );
    // Each directory's ledger as it was before this run appended to it.
    let mut ledgers: HashMap<PathBuf, Option<Beside>> = HashMap::new();
    for path in order {
        let name = ledger::bundle_name(path);
        let custody = ledgers
            .entry(ledger::bundle_dir(path).to_path_buf())
            .or_insert_with(|| {
                let l = Beside::of(path);
                if l.is_none() {
                    eprintln!(
                        "dossier: note: no custody ledger beside {}: analyses of bundles in that directory are not recorded",
                        path.display()
                    );
                }
                l
            })
            .as_ref();
        let opened = match Bundle::open(path, &limits) {
            Err(e) => Err(("failed verification", e.to_string().replace('\n', " "))),
            Ok((b, _)) => {
                let problems =
                    custody.map_or_else(Vec::new, |l| l.problems(&name, Some(&b.sha256)));
                if problems.is_empty() {
                    Ok(b)
                } else {
                    Err((
                        "custody ledger check failed",
                        format!(
                            "{}: custody ledger: {}",
                            path.display(),
                            problems
                                .iter()
                                .map(|p| p.message.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    ))
                }
            }
        };
        let mut b = match opened {
            Ok(b) => b,
            Err((why, reason)) => {
                if let Some(l) = custody {
                    let ev = ledger::Event {
                        action: "analyze_refused",
                        bundle: &name,
                        sha256: None,
                        detail: Some(why),
                    };
                    let _ = ledger::append(&l.dir, &ev);
                }
                unanalyzed.push(Unanalyzed {
                    subject: name,
                    reason,
                });
                continue;
            }
        };
        let a = analyze_bundle(&mut b, playbook);
        if let Some(l) = custody {
            let ev = ledger::Event {
                action: "analyzed",
                bundle: &name,
                sha256: Some(&b.sha256),
                detail: Some(&format!(
                    "verdict {} score {}; {detail}",
                    a.verdict, a.score
                )),
            };
            if let Err(e) = ledger::append(&l.dir, &ev) {
                eprintln!("dossier: warning: custody ledger not updated: {e}");
            }
        }
        analyses.push((path.clone(), a));
    }
    analyses.sort_by(|a, b| (&a.1.hostname, &a.1.bundle).cmp(&(&b.1.hostname, &b.1.bundle)));
    let mut used = HashSet::new();
    let mut hosts = Vec::new();
    for (path, a) in &analyses {
        let base = file_safe(&a.hostname);
        let dirname = (1..)
            .map(|i| {
                if i == 1 {
                    base.clone()
                } else {
                    format!("{base}-{i}")
                }
            })
            .find(|d| used.insert(d.clone()))
            .expect("unbounded");
        let hdir = out.join(&dirname);
        ensure_out_dir(&hdir)?;
        let report = hdir.join("report.md");
        write_report(&report, &dossier_reporters::host::render(a))?;
        hosts.push(HostSummary {
            hostname: a.hostname.clone(),
            bundle: path.clone(),
            verdict: a.verdict.clone(),
            score: a.score,
            findings: a.findings.len(),
            report,
        });
    }
    let all: Vec<HostAnalysis> = analyses.into_iter().map(|(_, a)| a).collect();
    let mut not_collected = not_collected.to_vec();
    not_collected.sort();
    let fleet_report = out.join("fleet-report.md");
    write_report(
        &fleet_report,
        &dossier_reporters::fleet::render(&all, &unanalyzed, &not_collected),
    )?;
    let findings_json = out.join("findings.json");
    write_report(
        &findings_json,
        &dossier_reporters::json::render(&all, &unanalyzed, &not_collected),
    )?;
    Ok(Analysis {
        hosts,
        unanalyzed,
        fleet_report,
        findings_json,
    })
}
