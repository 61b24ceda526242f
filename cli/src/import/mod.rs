//! `dossier import`: endpoint telemetry and audit logs taken into custody. Each source file
//! (a Defender for Endpoint export, an `audit.log`, a `journalctl -o json` export, gzipped or
//! not) is streamed into an **import bundle** (the same format as a collection: every member
//! SHA-256 hashed in the manifest, the sidecar, a custody ledger entry `imported`, signed and
//! timestamped like a collection), as `raw/<path>`; its events are parsed by
//! `dossier_events` and stored, normalized, in `records/events.jsonl` (one event per line, in
//! the order of the source files, each naming the member and record it came from), as they
//! are parsed. A record the parser cannot read is an issue in the manifest, never a silent
//! skip. The file is parsed from a second read, hashed as it goes: when that hash is not the
//! stored member's (the file changed while it was imported) the manifest says so.
//!
//! The bundle is written by the collection orchestrator ([`crate::orchestrate`]), running one
//! collector, [`ImportCollector`] (named `events`), against this machine.

use crate::local::LocalHost;
use crate::orchestrate::{self, Custody};
use crate::playbook::Playbook;
use dossier_events::{Format, Options};
use dossier_plugin_api::collect::{CollectContext, CollectError, IssueKind};
use dossier_plugin_api::encoding::hex;
use dossier_plugin_api::host::{DirEntry, FileMeta, FileReader, Host, HostError, HostInfo};
use dossier_plugin_api::{Collector, CollectorInfo};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Name of the import collector, and of its records member (`records/events.jsonl`).
pub const COLLECTOR: &str = "events";
/// Name of the pseudo-playbook an import bundle's manifest names.
pub const PLAYBOOK: &str = "import";

/// `dossier import`, its flags checked.
pub struct ImportPlan {
    pub files: Vec<PathBuf>,
    pub format: Option<Format>,
    /// `--host`: the host of events whose source names none, and the bundle's label.
    pub host: Option<String>,
    pub out: PathBuf,
    pub custody: Custody,
    pub quiet: bool,
}

/// Parses `--format`.
pub fn parse_format(s: &str) -> Result<Format, String> {
    Format::ALL
        .into_iter()
        .find(|f| f.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            format!("--format {s:?}: expected one of {}", names.join(", "))
        })
}

/// The collector that streams each source file into the bundle and records its events.
pub struct ImportCollector {
    files: Vec<PathBuf>,
    format: Option<Format>,
    options: Options,
}

impl ImportCollector {
    pub fn new(files: Vec<PathBuf>, format: Option<Format>, host: Option<String>) -> Self {
        ImportCollector {
            files,
            format,
            options: Options { host },
        }
    }

    /// Imports one file: stored, then parsed from a second read that must hash the same.
    fn import_one(&self, ctx: &mut CollectContext<'_>, path: &Path) {
        let text = path.display().to_string();
        let (host, sink) = ctx.bridge_parts();
        let copy = match sink.copy_raw(host, path, u64::MAX) {
            Ok(c) => c,
            Err(e) => {
                ctx.issue(&text, IssueKind::Malformed, format!("not imported: {e}"));
                return;
            }
        };
        ctx.log(&format!(
            "{text}: stored as {} ({} bytes, sha256 {})",
            copy.member.name, copy.member.size, copy.member.sha256
        ));
        let reader = match ctx.host().open(path) {
            Ok(r) => r,
            Err(e) => {
                ctx.host_error(&e);
                return;
            }
        };
        let mut hashing = Hashing {
            inner: reader,
            hash: Sha256::new(),
        };
        let member = copy.member.name.clone();
        // Events are recorded as they are parsed (a big export is never held in memory);
        // should the second read not hash as the stored member, the issue below says so.
        let mut issues = Vec::new();
        let mut emit_error = None;
        let parsed = dossier_events::parse(
            &member,
            &mut hashing,
            self.format,
            &self.options,
            &mut |r| match r {
                Ok(ev) => {
                    if emit_error.is_none()
                        && let Err(e) = ctx.emit(&ev)
                    {
                        emit_error = Some(e.to_string());
                    }
                }
                Err(i) => issues.push(i),
            },
        );
        // Read to the end, so that the hash covers the whole file even if the parser stopped.
        let _ = std::io::copy(&mut hashing, &mut std::io::sink());
        let sha = hex(&hashing.hash.finalize());
        if sha != copy.member.sha256 {
            ctx.issue(
                &text,
                IssueKind::Changed,
                format!(
                    "changed while imported: its events were parsed from a read with SHA-256 \
                     {sha}, not the stored member's {}; import a copy that does not change",
                    copy.member.sha256
                ),
            );
        }
        if let Some(e) = emit_error {
            ctx.issue(&text, IssueKind::Malformed, e);
        }
        for i in issues {
            ctx.issue(
                format!("{}: {}", i.file, i.record),
                IssueKind::Malformed,
                i.reason,
            );
        }
        match parsed {
            Ok((format, counts)) => ctx.log(&format!(
                "{text}: {} format, {} events, {} unreadable records",
                format.name(),
                counts.events,
                counts.issues
            )),
            Err(e) => ctx.issue(&text, IssueKind::Malformed, e.to_string()),
        }
    }
}

/// A reader that hashes what it reads.
struct Hashing<'a> {
    inner: Box<dyn FileReader + 'a>,
    hash: Sha256,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

impl Collector for ImportCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: COLLECTOR.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "imported telemetry: each source file stored as given, its events \
                          normalized into records/events.jsonl"
                .into(),
            after: vec![],
        }
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        for f in &self.files {
            self.import_one(ctx, f);
        }
        Ok(())
    }
}

/// This machine, labelled as the import it holds (`--host`, else `import`).
struct ImportHost {
    local: LocalHost,
    label: String,
}

impl Host for ImportHost {
    fn info(&self) -> HostInfo {
        HostInfo {
            label: self.label.clone(),
            live: false,
            can_exec: false,
            own_pids: vec![],
            ..self.local.info()
        }
    }

    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.local.lstat(path)
    }

    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.local.stat(path)
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        self.local.read_link(path)
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        self.local.read_dir(path)
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        self.local.open(path)
    }
}

/// The playbook an import bundle's manifest names: only the `events` collector.
fn import_playbook() -> Playbook {
    let text = "# dossier import: no collection playbook; the source files are the evidence\n";
    let mut collectors = std::collections::BTreeMap::new();
    collectors.insert(COLLECTOR.to_string(), serde_json::Value::Null);
    Playbook {
        name: PLAYBOOK.into(),
        description: "telemetry and audit logs imported by dossier import".into(),
        source: "builtin:import".into(),
        sha256: hex(&Sha256::digest(text.as_bytes())),
        text: text.into(),
        collectors,
        analysis: Default::default(),
        plugins: Default::default(),
        reporters: Default::default(),
        plugin_limits: Default::default(),
    }
}

/// `dossier import`: one import bundle of every file given.
pub fn import(plan: ImportPlan) -> anyhow::Result<ExitCode> {
    let files: Vec<PathBuf> = plan
        .files
        .iter()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
        .collect();
    let host = ImportHost {
        local: LocalHost::live(),
        label: plan.host.clone().unwrap_or_else(|| PLAYBOOK.into()),
    };
    let collector: Arc<dyn Collector> =
        Arc::new(ImportCollector::new(files, plan.format, plan.host.clone()));
    let progress = crate::progress::for_stderr(plan.quiet);
    let c = orchestrate::collect_host_as(
        &host,
        &[collector],
        &import_playbook(),
        &plan.custody,
        &plan.out,
        progress.as_ref(),
        "imported",
    )?;
    let mut failed = false;
    for run in &c.manifest_collectors {
        for i in &run.issues {
            eprintln!("dossier: import: {}: {}", i.subject, i.message);
        }
        failed |= run.status != dossier_plugin_api::CollectorStatus::Ok;
        if !plan.quiet {
            eprintln!("dossier: import: {} events recorded", run.records);
        }
    }
    if let Some(e) = &c.ledger_error {
        eprintln!(
            "dossier: warning: the bundle is complete but the custody ledger was not updated: {e}"
        );
    }
    if let Some(Err(e)) = &c.signature {
        eprintln!("dossier: error: the bundle is complete but not signed: {e}");
        failed = true;
    }
    if let Some(Err(e)) = &c.timestamp {
        eprintln!("dossier: warning: the bundle is complete and kept, but not timestamped: {e}");
        failed = true;
    }
    println!("{}", c.bundle.path.display());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
