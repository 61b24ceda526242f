//! From a report to a plan: reads an analysis's `findings.json` (schema `dossier-findings`
//! version 1, written by `dossier analyze`/`sweep`) and makes the steps a responder wants for
//! one host from its **behaviour** findings (the `findings` list; context findings, allowed and
//! baseline-known items are never acted on):
//!
//! - a process (a `pid` IOC, or evidence `process N`): [`Step::Suspend`] with its start time
//!   and exe SHA-256 read again on the target now (a process that is gone, or whose exe no
//!   longer has the hash the report gave, is left out with the reason: its PID was reused);
//! - a systemd unit (a finding about `NAME.service|timer|path|socket`, a `unit` IOC, or
//!   evidence `unit NAME`): [`Step::NeutralizeUnit`], `runtime` as asked;
//! - a crontab line (a subject or evidence `cron entry PATH:N`): [`Step::NeutralizeCron`] with
//!   the exact text of line N as it is now, when it still holds the flagged command or path;
//! - an executable file the report lists with its SHA-256 and no package verifying it:
//!   [`Step::Quarantine`] with the report's hash (a file that is gone or changed since is left
//!   out with the reason).
//!
//! With `runtime` (block at once without altering the scene), cron lines and files are not
//! planned: they are on disk, and a runtime neutralization changes nothing there.
//!
//! The document is hostile input: read with a size limit, its schema checked, and every value
//! that becomes an argument (unit names, paths, hashes) validated before it is planned.

use crate::action::{CronLine, Step};
use crate::actuator::Actuator;
use crate::ops::{self, OpError};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// Largest `findings.json` read (a sweep of thousands of hosts stays well below).
pub const MAX_FINDINGS_BYTES: u64 = 256 << 20;
/// Largest crontab read to find a flagged line.
const MAX_CRONTAB: u64 = 1 << 20;
/// Unit types a neutralization handles.
const UNIT_SUFFIXES: &[&str] = &[".service", ".timer", ".path", ".socket"];

/// Why no plan could be made from a findings document.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: larger than {max} bytes: not a findings.json dossier wrote")]
    TooLarge { path: String, max: u64 },
    #[error("{path}: not a dossier findings document: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: no analysis of host {host:?} in it (hosts: {known})")]
    NoSuchHost {
        path: String,
        host: String,
        known: String,
    },
    #[error(transparent)]
    Op(#[from] OpError),
}

/// The parts of `findings.json` a plan uses (unknown fields are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct FindingsDoc {
    pub schema: String,
    pub version: u32,
    #[serde(default)]
    pub hosts: Vec<HostEntry>,
}

/// One analyzed bundle.
#[derive(Debug, Clone, Deserialize)]
pub struct HostEntry {
    pub hostname: String,
    pub bundle: String,
    #[serde(default)]
    pub bundle_sha256: String,
    #[serde(default)]
    pub collected_finished: Option<String>,
    /// Behaviour findings only (context findings are in another list).
    #[serde(default)]
    pub findings: Vec<FindingEntry>,
    #[serde(default)]
    pub executables: Vec<ExecutableEntry>,
}

/// One behaviour finding.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingEntry {
    pub rule: String,
    pub subject: String,
    #[serde(default)]
    pub evidence: Vec<EvidenceEntry>,
    #[serde(default)]
    pub iocs: Vec<IocEntry>,
    /// `context` for a context finding (never in `findings` as dossier writes it).
    #[serde(default)]
    pub class: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EvidenceEntry {
    #[serde(default)]
    pub what: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IocEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: serde_json::Value,
}

/// An executable the analysis saw, with its hash.
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutableEntry {
    pub path: String,
    #[serde(default)]
    pub sha256: Option<String>,
    /// A package owns it and its content verified.
    #[serde(default)]
    pub packaged: bool,
}

/// Reads and checks `findings.json` (size limit, schema and version).
pub fn read_findings(path: &Path) -> Result<FindingsDoc, FindingsError> {
    let name = path.display().to_string();
    let err = |e: std::io::Error| FindingsError::Read {
        path: name.clone(),
        message: e.to_string(),
    };
    let f = std::fs::File::open(path).map_err(err)?;
    let mut text = Vec::new();
    f.take(MAX_FINDINGS_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(err)?;
    if text.len() as u64 > MAX_FINDINGS_BYTES {
        return Err(FindingsError::TooLarge {
            path: name,
            max: MAX_FINDINGS_BYTES,
        });
    }
    parse_findings(&name, &text)
}

/// Parses and checks a findings document held in memory; `name` names it in errors.
pub fn parse_findings(name: &str, text: &[u8]) -> Result<FindingsDoc, FindingsError> {
    let invalid = |message: String| FindingsError::Invalid {
        path: name.into(),
        message,
    };
    let doc: FindingsDoc = serde_json::from_slice(text).map_err(|e| invalid(e.to_string()))?;
    if doc.schema != "dossier-findings" || doc.version != 1 {
        return Err(invalid(format!(
            "schema {:?} version {}, expected \"dossier-findings\" version 1",
            doc.schema, doc.version
        )));
    }
    Ok(doc)
}

/// A host's plan from its findings, and what was left out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingsPlan {
    /// The bundle the findings came from, and its SHA-256.
    pub bundle: String,
    pub bundle_sha256: String,
    /// In the order to apply: processes first (frozen before anything they might notice),
    /// then units, cron lines, files.
    pub steps: Vec<Step>,
    /// Flagged things not planned, each with the reason.
    pub left_out: Vec<String>,
}

/// What the flagged findings of one host name, before the target is asked.
#[derive(Debug, Default)]
struct Flagged {
    /// PID → the exe SHA-256 the report gave (when one finding names one).
    pids: BTreeMap<u32, Option<String>>,
    units: BTreeSet<String>,
    /// (crontab, line) → commands or paths the line must still hold.
    cron: BTreeMap<(String, usize), BTreeSet<String>>,
    /// Flagged paths, with the SHA-256 a finding about that very path gave.
    paths: BTreeMap<String, Option<String>>,
}

fn unit_ok(u: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| u.ends_with(s) && u.len() > s.len())
        && u.len() <= 255
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.@-\\".contains(&b))
}

fn path_ok(p: &str) -> bool {
    p.starts_with('/') && !p.contains('\0') && !p.contains('\n') && p.len() <= 4096
}

fn sha_ok(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `PATH:N` (a crontab line as findings name it).
fn cron_ref(s: &str) -> Option<(String, usize)> {
    let (p, n) = s.rsplit_once(':')?;
    let n: usize = n.parse().ok()?;
    (path_ok(p) && n > 0 && is_crontab(p)).then(|| (p.to_string(), n))
}

fn is_crontab(p: &str) -> bool {
    [
        "/etc/crontab",
        "/etc/cron.d/",
        "/var/spool/cron/",
        "/etc/anacrontab",
    ]
    .iter()
    .any(|c| p == c.trim_end_matches('/') || p.starts_with(c))
}

impl Flagged {
    fn add(&mut self, f: &FindingEntry) {
        let str_iocs = |kind: &str| -> Vec<String> {
            f.iocs
                .iter()
                .filter(|i| i.kind == kind)
                .filter_map(|i| i.value.as_str().map(String::from))
                .collect()
        };
        let shas = str_iocs("sha256");
        let sha = (shas.len() == 1 && sha_ok(&shas[0])).then(|| shas[0].to_ascii_lowercase());
        let mut pids: Vec<u32> = f
            .iocs
            .iter()
            .filter(|i| i.kind == "pid")
            .filter_map(|i| i.value.as_u64().and_then(|p| u32::try_from(p).ok()))
            .collect();
        let mut units = str_iocs("unit");
        let mut crons: Vec<(String, usize)> = cron_ref(&f.subject).into_iter().collect();
        if UNIT_SUFFIXES.iter().any(|s| f.subject.ends_with(s)) {
            units.push(f.subject.clone());
        }
        for e in &f.evidence {
            if let Some(rest) = e.what.strip_prefix("process ") {
                let n = rest
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap_or("");
                pids.extend(n.parse::<u32>().ok());
            } else if let Some(u) = e.what.strip_prefix("unit ") {
                units.push(u.trim().to_string());
            } else if let Some(c) = e.what.strip_prefix("cron entry ") {
                crons.extend(cron_ref(c.trim()));
            }
        }
        for p in pids.into_iter().filter(|p| *p > 1) {
            let e = self.pids.entry(p).or_default();
            if e.is_none() {
                *e = sha.clone();
            }
        }
        self.units.extend(units);
        let mut needles: BTreeSet<String> = str_iocs("cron_command").into_iter().collect();
        if needles.is_empty() {
            needles.extend(str_iocs("path"));
        }
        for c in crons {
            self.cron
                .entry(c)
                .or_default()
                .extend(needles.iter().cloned());
        }
        if path_ok(&f.subject) && cron_ref(&f.subject).is_none() {
            let e = self.paths.entry(f.subject.clone()).or_default();
            if e.is_none() {
                *e = sha.clone();
            }
        }
        for p in str_iocs("path").into_iter().filter(|p| path_ok(p)) {
            self.paths.entry(p).or_default();
        }
    }
}

/// The analysis of `host` in `doc` (the latest collection when there are several).
pub fn host_entry<'a>(
    doc: &'a FindingsDoc,
    name: &str,
    host: &str,
) -> Result<&'a HostEntry, FindingsError> {
    doc.hosts
        .iter()
        .filter(|h| h.hostname == host)
        .max_by(|a, b| a.collected_finished.cmp(&b.collected_finished))
        .ok_or_else(|| FindingsError::NoSuchHost {
            path: name.into(),
            host: host.into(),
            known: doc
                .hosts
                .iter()
                .map(|h| h.hostname.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The plan for the host `a` reaches, from its analysis in `doc` (`name` names the document
/// in errors). The target is only read: process start times and exe hashes, crontab lines,
/// file hashes.
pub fn plan_from_findings(
    doc: &FindingsDoc,
    name: &str,
    a: &mut dyn Actuator,
    runtime: bool,
) -> Result<FindingsPlan, FindingsError> {
    let h = host_entry(doc, name, a.host())?;
    let mut flagged = Flagged::default();
    for f in h
        .findings
        .iter()
        .filter(|f| f.class.as_deref() != Some("context"))
    {
        flagged.add(f);
    }
    let mut plan = FindingsPlan {
        bundle: h.bundle.clone(),
        bundle_sha256: h.bundle_sha256.clone(),
        ..Default::default()
    };
    for (pid, sha) in &flagged.pids {
        plan_process(a, *pid, sha.as_deref(), &mut plan)?;
    }
    for u in &flagged.units {
        if unit_ok(u) {
            plan.steps.push(Step::NeutralizeUnit {
                unit: u.clone(),
                runtime,
            });
        } else {
            plan.left_out.push(format!(
                "unit {u:?}: not a service, timer, path or socket unit name"
            ));
        }
    }
    if runtime {
        if !flagged.cron.is_empty() || !flagged.paths.is_empty() {
            plan.left_out.push(
                "crontab lines and files: --runtime changes nothing on disk (plan without \
                 --runtime to neutralize them)"
                    .into(),
            );
        }
        return Ok(plan);
    }
    plan_cron(a, &flagged.cron, &mut plan)?;
    plan_files(a, h, &flagged.paths, &mut plan)?;
    Ok(plan)
}

fn plan_process(
    a: &mut dyn Actuator,
    pid: u32,
    sha: Option<&str>,
    plan: &mut FindingsPlan,
) -> Result<(), FindingsError> {
    let stat_path = format!("/proc/{pid}/stat");
    let stat = match ops::read(a, &stat_path, 64 << 10) {
        Ok(s) => s,
        Err(OpError::Unexpected { .. }) | Err(OpError::Failed { .. }) => {
            plan.left_out
                .push(format!("process {pid}: not running any more"));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let Some(now) = crate::process::procfs::parse_stat(&stat) else {
        plan.left_out
            .push(format!("process {pid}: unreadable {stat_path}"));
        return Ok(());
    };
    if let Some(why) = now.exited("freeze") {
        plan.left_out.push(format!("process {pid}: {why}"));
        return Ok(());
    }
    let start_time = now.start_time;
    let exe = format!("/proc/{pid}/exe");
    let now = a
        .run(
            &["/usr/bin/sha256sum", "-b", "--", &exe],
            b"",
            ops::OP_TIMEOUT,
        )
        .map_err(OpError::from)?;
    let now = now
        .success()
        .then(|| {
            String::from_utf8_lossy(&now.stdout)
                .split_whitespace()
                .next()
                .map(String::from)
        })
        .flatten()
        .filter(|s| sha_ok(s));
    if let (Some(want), Some(have)) = (sha, now.as_deref())
        && want != have
    {
        plan.left_out.push(format!(
            "process {pid}: its executable is now {have}, not {want} as in the report (PID \
             reused?)"
        ));
        return Ok(());
    }
    plan.steps.push(Step::Suspend {
        pid,
        start_time,
        exe_sha256: now,
    });
    Ok(())
}

fn plan_cron(
    a: &mut dyn Actuator,
    cron: &BTreeMap<(String, usize), BTreeSet<String>>,
    plan: &mut FindingsPlan,
) -> Result<(), FindingsError> {
    let mut by_file: BTreeMap<&str, Vec<CronLine>> = BTreeMap::new();
    for ((path, n), needles) in cron {
        let text = match ops::read(a, path, MAX_CRONTAB) {
            Ok(t) => t,
            Err(OpError::Act(e)) => return Err(OpError::Act(e).into()),
            Err(e) => {
                plan.left_out.push(format!("{path}:{n}: {e}"));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&text);
        let Some(line) = text.split('\n').nth(n - 1) else {
            plan.left_out
                .push(format!("{path}:{n}: the file has fewer lines now"));
            continue;
        };
        if !needles.is_empty() && !needles.iter().any(|s| line.contains(s.as_str())) {
            plan.left_out.push(format!(
                "{path}:{n}: the line changed since the report (now {line:?})"
            ));
            continue;
        }
        by_file.entry(path).or_default().push(CronLine {
            number: *n,
            text: line.to_string(),
        });
    }
    for (path, lines) in by_file {
        plan.steps.push(Step::NeutralizeCron {
            path: path.to_string(),
            lines,
        });
    }
    Ok(())
}

/// Quarantines the flagged files the report knows as executables no package verifies (with
/// their hash there), or that a finding about that very file gave the hash of (a file
/// flagged for its content).
fn plan_files(
    a: &mut dyn Actuator,
    h: &HostEntry,
    paths: &BTreeMap<String, Option<String>>,
    plan: &mut FindingsPlan,
) -> Result<(), FindingsError> {
    for (p, finding_sha) in paths {
        let want = match h.executables.iter().find(|e| &e.path == p) {
            Some(e) if e.packaged => continue,
            Some(e) => e.sha256.as_deref(),
            None => match finding_sha {
                Some(s) => Some(s.as_str()),
                None => continue,
            },
        };
        let Some(want) = want.filter(|s| sha_ok(s)) else {
            plan.left_out
                .push(format!("{p}: the report has no SHA-256 of it"));
            continue;
        };
        match ops::sha256(a, p) {
            Ok(have) if have == want.to_ascii_lowercase() => plan.steps.push(Step::Quarantine {
                path: p.clone(),
                sha256: have,
            }),
            Ok(have) => plan.left_out.push(format!(
                "{p}: changed since the report (SHA-256 now {have}, was {want})"
            )),
            Err(OpError::Act(e)) => return Err(OpError::Act(e).into()),
            Err(e) => plan.left_out.push(format!("{p}: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::{ActError, Output};
    use sha2::{Digest, Sha256};
    use std::time::Duration;

    fn hex(d: &[u8]) -> String {
        Sha256::digest(d)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `findings.json` of `dossier collect --root tests/fixtures/rootfs-miner` (then analyzed).
    const MINER: &str = include_str!("../testdata/miner-findings.json");
    const MINER_SHA: &str = "10325a0a699b12bc5979044dd6425a6ee644d25bb658473f15567d83ac852b3c";

    /// A target made of files in memory; answers `stat`, `sha256sum` and `head` only, so a
    /// plan that tried anything else (a change) fails.
    struct Fake {
        name: String,
        files: BTreeMap<String, Vec<u8>>,
        ran: Vec<String>,
    }

    impl Actuator for Fake {
        fn host(&self) -> &str {
            &self.name
        }
        fn is_local(&self) -> bool {
            false
        }
        fn run(&mut self, argv: &[&str], _: &[u8], _: Duration) -> Result<Output, ActError> {
            self.ran.push(argv.join(" "));
            let path = argv.last().unwrap();
            let Some(data) = self.files.get(*path) else {
                return Ok(Output {
                    status: Some(1),
                    stdout: vec![],
                    stderr: format!("{path}: No such file or directory\n").into_bytes(),
                });
            };
            let stdout = match argv[0] {
                "/usr/bin/stat" => format!("81ed 0 0 {} 1.0 1.0 801 7\n", data.len()).into_bytes(),
                "/usr/bin/sha256sum" => format!("{} *{path}\n", hex(data)).into_bytes(),
                "/usr/bin/head" => data.clone(),
                other => panic!("the plan ran {other}"),
            };
            Ok(Output {
                status: Some(0),
                stdout,
                stderr: vec![],
            })
        }
    }

    /// The miner host as the fixture has it, with the miner binary's content standing in for
    /// the hashes the report gave.
    fn miner_host() -> (Fake, Vec<u8>) {
        let bin = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/rootfs-miner/var/log/log"
        ))
        .unwrap();
        assert_eq!(hex(&bin), MINER_SHA);
        let mut files = BTreeMap::new();
        for p in ["/var/log/log", "/usr/bin/log"] {
            files.insert(p.to_string(), bin.clone());
        }
        for p in ["/etc/cron.d/python", "/var/spool/cron/crontabs/root"] {
            let text = std::fs::read(format!(
                "{}/../tests/fixtures/rootfs-miner{p}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            files.insert(p.to_string(), text);
        }
        let fake = Fake {
            name: "esxi-web01".into(),
            files,
            ran: vec![],
        };
        (fake, bin)
    }

    /// The fixture with a running miner process added as the analyzer reports one
    /// (`pid` IOC and evidence `process N (comm)`).
    fn with_process(pid: u32, sha: &str) -> FindingsDoc {
        let mut v: serde_json::Value = serde_json::from_str(MINER).unwrap();
        let f = serde_json::json!({
            "rule": "deleted-exe-running", "title": "t", "mitre": [], "severity": "high",
            "weight": 40, "explanation": "e", "subject": format!("pid {pid}"),
            "evidence": [{"member": "records/processes.jsonl", "sha256": "00", "line": 3,
                          "what": format!("process {pid} (log)")}],
            "iocs": [{"type": "pid", "value": pid}, {"type": "path", "value": "/var/log/log"},
                     {"type": "sha256", "value": sha}]
        });
        v["hosts"][0]["findings"].as_array_mut().unwrap().push(f);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_miner_report_gives_suspend_unit_cron_and_quarantine_steps() {
        let doc = with_process(812, MINER_SHA);
        let (mut t, bin) = miner_host();
        let stat = "812 (log) S 1 812 812 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 3 0 123456 1 2";
        t.files
            .insert("/proc/812/stat".into(), stat.as_bytes().to_vec());
        t.files.insert("/proc/812/exe".into(), bin);
        let plan = plan_from_findings(&doc, "findings.json", &mut t, false).unwrap();
        assert_eq!(plan.bundle_sha256.len(), 64);
        assert!(plan.bundle.starts_with("esxi-web01-"), "{}", plan.bundle);
        let cron = |path: &str, number, text: &str| Step::NeutralizeCron {
            path: path.into(),
            lines: vec![CronLine {
                number,
                text: text.into(),
            }],
        };
        let root_lines = Step::NeutralizeCron {
            path: "/var/spool/cron/crontabs/root".into(),
            lines: vec![
                CronLine {
                    number: 2,
                    text: "@reboot /var/log/log >/dev/null 2>&1".into(),
                },
                CronLine {
                    number: 3,
                    text: "*/10 * * * * pgrep -x log >/dev/null || /var/log/log >/dev/null 2>&1"
                        .into(),
                },
            ],
        };
        let q = |p: &str| Step::Quarantine {
            path: p.into(),
            sha256: MINER_SHA.into(),
        };
        assert_eq!(
            plan.steps,
            vec![
                Step::Suspend {
                    pid: 812,
                    start_time: 123456,
                    exe_sha256: Some(MINER_SHA.into())
                },
                Step::NeutralizeUnit {
                    unit: "python.service".into(),
                    runtime: false
                },
                cron(
                    "/etc/cron.d/python",
                    3,
                    "*/5 * * * * root /usr/bin/log >/dev/null 2>&1"
                ),
                root_lines,
                q("/usr/bin/log"),
                q("/var/log/log"),
            ],
            "left out: {:?}",
            plan.left_out
        );
        assert!(plan.left_out.is_empty(), "{:?}", plan.left_out);
        // Only read: stat, hash and head.
        assert!(
            t.ran
                .iter()
                .all(|c| ["/usr/bin/stat", "/usr/bin/sha256sum", "/usr/bin/head"]
                    .iter()
                    .any(|p| c.starts_with(p))),
            "{:?}",
            t.ran
        );
    }

    #[test]
    fn runtime_plans_only_units_and_processes() {
        let doc = parse_findings("f", MINER.as_bytes()).unwrap();
        let (mut t, _) = miner_host();
        let plan = plan_from_findings(&doc, "f", &mut t, true).unwrap();
        assert_eq!(
            plan.steps,
            vec![Step::NeutralizeUnit {
                unit: "python.service".into(),
                runtime: true
            }]
        );
        assert!(
            plan.left_out[0].contains("--runtime"),
            "{:?}",
            plan.left_out
        );
    }

    #[test]
    fn what_changed_since_the_report_is_left_out_with_the_reason() {
        let doc = with_process(812, MINER_SHA);
        let (mut t, _) = miner_host();
        // PID 812 now runs something else; PID reuse.
        let stat = "812 (bash) S 1 812 812 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 3 0 999 1 2";
        t.files
            .insert("/proc/812/stat".into(), stat.as_bytes().to_vec());
        t.files.insert("/proc/812/exe".into(), b"bash".to_vec());
        // The binary was replaced, the copy removed, the crontab edited.
        t.files.insert("/var/log/log".into(), b"other".to_vec());
        t.files.remove("/usr/bin/log");
        t.files.insert(
            "/var/spool/cron/crontabs/root".into(),
            b"# empty\n\n\n".to_vec(),
        );
        let plan = plan_from_findings(&doc, "f", &mut t, false).unwrap();
        let steps: Vec<&str> = plan
            .steps
            .iter()
            .map(|s| match s {
                Step::NeutralizeUnit { .. } => "unit",
                Step::NeutralizeCron { .. } => "cron",
                _ => "other",
            })
            .collect();
        assert_eq!(steps, ["unit", "cron"], "{:?}", plan.steps);
        let why = plan.left_out.join("\n");
        for want in [
            "process 812: its executable is now",
            "/var/spool/cron/crontabs/root:2: the line changed",
            "/var/spool/cron/crontabs/root:3: the line changed",
            "/var/log/log: changed since the report",
            "/usr/bin/log: ",
        ] {
            assert!(why.contains(want), "{want:?} not in {why}");
        }
        // Gone altogether.
        t.files.remove("/proc/812/stat");
        let plan = plan_from_findings(&doc, "f", &mut t, false).unwrap();
        assert!(
            plan.left_out
                .iter()
                .any(|l| l == "process 812: not running any more")
        );
    }

    #[test]
    fn hostile_or_foreign_documents_are_refused_clearly() {
        let e = parse_findings("f", b"{\"schema\":\"other\",\"version\":1}").unwrap_err();
        assert!(
            e.to_string().contains("not a dossier findings document"),
            "{e}"
        );
        let e = parse_findings("f", b"[1,2").unwrap_err();
        assert!(
            e.to_string().contains("not a dossier findings document"),
            "{e}"
        );
        let deep = "[".repeat(100_000);
        assert!(parse_findings("f", deep.as_bytes()).is_err());
        let doc = parse_findings("f", MINER.as_bytes()).unwrap();
        let (mut t, _) = miner_host();
        t.name = "other-host".into();
        let e = plan_from_findings(&doc, "f", &mut t, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f: no analysis of host \"other-host\" in it (hosts: esxi-web01)"
        );
        // Values that would become arguments are checked.
        let mut v: serde_json::Value = serde_json::from_str(MINER).unwrap();
        let f = serde_json::json!({"rule": "x", "subject": "evil;rm -rf /.service",
            "evidence": [{"what": "unit ../../x.service"}, {"what": "cron entry relative:3"}],
            "iocs": [{"type": "pid", "value": -1}, {"type": "pid", "value": "7"}]});
        v["hosts"][0]["findings"] = serde_json::json!([f]);
        let doc: FindingsDoc = serde_json::from_value(v).unwrap();
        let plan = plan_from_findings(&doc, "f", &mut t_named(), false).unwrap();
        assert!(plan.steps.is_empty(), "{:?}", plan.steps);
        assert_eq!(plan.left_out.len(), 2, "{:?}", plan.left_out);
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("findings.json");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FINDINGS_BYTES + 1).unwrap();
        assert!(matches!(
            read_findings(&big),
            Err(FindingsError::TooLarge { .. })
        ));
        assert!(matches!(
            read_findings(&d.path().join("none")),
            Err(FindingsError::Read { .. })
        ));
    }

    fn t_named() -> Fake {
        miner_host().0
    }

    #[test]
    fn a_file_flagged_for_its_content_is_quarantined_with_the_findings_hash() {
        let mut v: serde_json::Value = serde_json::from_str(MINER).unwrap();
        let f = serde_json::json!({"rule": "miner-strings", "subject": "/usr/log",
            "evidence": [{"what": "copy of /usr/log"}],
            "iocs": [{"type": "path", "value": "/usr/log"}, {"type": "sha256", "value": MINER_SHA}]});
        v["hosts"][0]["findings"] = serde_json::json!([f]);
        let doc: FindingsDoc = serde_json::from_value(v).unwrap();
        let (mut t, bin) = miner_host();
        t.files.insert("/usr/log".into(), bin);
        let plan = plan_from_findings(&doc, "f", &mut t, false).unwrap();
        assert_eq!(
            plan.steps,
            vec![Step::Quarantine {
                path: "/usr/log".into(),
                sha256: MINER_SHA.into()
            }]
        );
    }

    #[test]
    fn a_zombie_or_unreadable_process_is_left_out_with_the_reason() {
        let doc = with_process(812, MINER_SHA);
        let (mut t, bin) = miner_host();
        t.files.insert("/proc/812/exe".into(), bin);
        let stat = "812 (a b) c) Z 1 812 812 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 3 0 4242 1 2";
        t.files
            .insert("/proc/812/stat".into(), stat.as_bytes().to_vec());
        let plan = plan_from_findings(&doc, "f", &mut t, true).unwrap();
        assert!(
            !plan.steps.iter().any(|s| matches!(s, Step::Suspend { .. })),
            "{:?}",
            plan.steps
        );
        assert!(
            plan.left_out
                .iter()
                .any(|l| l
                    == "process 812: PID 812 is a zombie (exited, not reaped): nothing to freeze"),
            "{:?}",
            plan.left_out
        );
        // The same process running: its start time is field 22 even with `) ` in the name.
        let running = stat.replace(") Z ", ") S ");
        t.files
            .insert("/proc/812/stat".into(), running.into_bytes());
        let plan = plan_from_findings(&doc, "f", &mut t, true).unwrap();
        assert!(
            plan.steps.contains(&Step::Suspend {
                pid: 812,
                start_time: 4242,
                exe_sha256: Some(MINER_SHA.into())
            }),
            "{:?}",
            plan.steps
        );
        t.files.insert("/proc/812/stat".into(), b"garbage".to_vec());
        let plan = plan_from_findings(&doc, "f", &mut t, true).unwrap();
        assert!(
            plan.left_out
                .iter()
                .any(|l| l == "process 812: unreadable /proc/812/stat"),
            "{:?}",
            plan.left_out
        );
    }
}
