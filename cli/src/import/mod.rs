//! `dossier import`: endpoint telemetry and audit logs taken into custody. Each source file
//! (a Defender for Endpoint export, an `audit.log`, a `journalctl -o json` export, gzipped or
//! not) is streamed into an **import bundle** (the same format as a collection: every member
//! SHA-256 hashed in the manifest, the sidecar, a custody ledger entry `imported`, signed and
//! timestamped like a collection), as `raw/<path>`; its events are parsed by
//! `dossier_events` and stored, normalized, in `records/events.jsonl` (one event per line, in
//! the order of the source files, each naming the member and record it came from), as they
//! are parsed. A record the parser cannot read is never a silent skip: the first
//! [`LISTED_ISSUES`] of each file are issues in the manifest (file and line), and every one is
//! counted by its class ([`Skip`]) in the file's summary, one line per source file in
//! `records/import.jsonl` ([`FileSummary`]: member, format, SHA-256, records read, events
//! normalized, records skipped by class with the first few of each, events read lossily), so
//! that a hostile file of millions of bad lines costs a few counters, not a manifest of
//! millions of issues. The file is read once: the copy hands each piece it stores to a
//! parsing thread ([`tee`]; both cores busy: one reads, hashes and compresses, the other
//! parses), so the events come of the very bytes stored. Only when that cannot be (the same
//! path given twice) is the file parsed from a second read, hashed as it goes: when that hash
//! is not the stored member's (the file changed while it was imported) the manifest says so.
//!
//! The bundle is written by the collection orchestrator ([`crate::orchestrate`]), running two
//! collectors against this machine: [`ImportCollector`] (named `events`), then
//! [`SummaryCollector`] (named `import`).

mod tee;

use crate::local::LocalHost;
use crate::orchestrate::{self, Custody};
use crate::playbook::Playbook;
use dossier_bundle::names::raw_member_name;
use dossier_events::{Counts, Format, Options, ParseIssue, Skip};
use dossier_plugin_api::collect::{
    CollectContext, CollectError, CopyError, EvidenceSink, IssueKind, RawCopy,
};
use dossier_plugin_api::encoding::hex;
use dossier_plugin_api::encoding::path_to_text;
use dossier_plugin_api::host::{DirEntry, FileMeta, FileReader, Host, HostError, HostInfo};
use dossier_plugin_api::{Collector, CollectorInfo};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Name of the import collector, and of its records member (`records/events.jsonl`).
pub const COLLECTOR: &str = "events";
/// Name of the pseudo-playbook an import bundle's manifest names.
pub const PLAYBOOK: &str = "import";
/// Name of the per-file summaries' records member (`records/import.jsonl`).
pub const SUMMARY: &str = "import";
/// Unreadable records of one file listed as manifest issues; the rest are counted only.
pub const LISTED_ISSUES: u64 = 100;
/// Records of each skip class named in a file's summary.
pub const FIRST_PER_CLASS: usize = 5;

/// What became of one source file: a line of `records/import.jsonl`.
#[derive(Debug, Serialize)]
pub struct FileSummary {
    /// The file as given (absolute).
    pub file: String,
    /// Its member in the bundle (`raw/...`); None when it could not be stored.
    pub member: Option<String>,
    /// The format it was read as; None when it could not be told.
    pub format: Option<&'static str>,
    /// SHA-256 of the stored member.
    pub sha256: Option<String>,
    pub bytes: u64,
    /// Source records read: non-blank lines of an audit log (every record of a joined event)
    /// or of a journal export, CSV data rows, JSON row objects.
    pub records_read: u64,
    /// Events normalized (in `records/events.jsonl`).
    pub events: u64,
    /// Records (or joined audit events) skipped.
    pub skipped: u64,
    /// Skips by class ([`Skip`] names), each with its count and the first few records.
    pub skips: BTreeMap<&'static str, SkipClass>,
    /// Events whose text was not UTF-8 in the source, read lossily (the exact bytes kept in
    /// a `*_hex` field, or Latin-1 noted).
    pub lossy: u64,
    /// How many of the skips are listed as manifest issues (at most [`LISTED_ISSUES`]).
    pub issues_listed: u64,
    /// Why the file was not read (to its end), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FileSummary {
    /// The summary of `file` before anything is known of it.
    fn new(file: String) -> Self {
        FileSummary {
            file,
            member: None,
            format: None,
            sha256: None,
            bytes: 0,
            records_read: 0,
            events: 0,
            skipped: 0,
            skips: BTreeMap::new(),
            lossy: 0,
            issues_listed: 0,
            error: None,
        }
    }
}

/// The skips of one class in one file.
#[derive(Debug, Default, Serialize)]
pub struct SkipClass {
    pub count: u64,
    /// The first [`FIRST_PER_CLASS`]: the record (`line N`) and why.
    pub first: Vec<SkipSample>,
}

/// One skipped record, named.
#[derive(Debug, Serialize)]
pub struct SkipSample {
    pub record: String,
    pub reason: String,
}

/// Bytes of event lines handed from the parsing thread to the recording one at a time.
const BATCH_BYTES: usize = 256 << 10;
/// Batches between the two threads at most.
const BATCHES_IN_FLIGHT: usize = 16;
/// What the parsing thread hands back.
struct Parsed {
    result: Result<Format, dossier_events::Error>,
    counts: Counts,
    skips: Skips,
    /// SHA-256 of what was read, when it was a second read (not the copy's own bytes).
    sha: Option<String>,
}

/// The skips of one file as they come: counted by class, the first ones kept.
#[derive(Default)]
struct Skips {
    by_class: BTreeMap<&'static str, SkipClass>,
    listed: Vec<ParseIssue>,
}

impl Skips {
    fn add(&mut self, i: ParseIssue) {
        let class = self.by_class.entry(i.kind.name()).or_default();
        class.count += 1;
        if class.first.len() < FIRST_PER_CLASS {
            class.first.push(SkipSample {
                record: i.record.clone(),
                reason: i.reason.clone(),
            });
        }
        if (self.listed.len() as u64) < LISTED_ISSUES {
            self.listed.push(i);
        }
    }
}

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
    summaries: Summaries,
}

impl ImportCollector {
    pub fn new(files: Vec<PathBuf>, format: Option<Format>, host: Option<String>) -> Self {
        ImportCollector {
            files,
            format,
            options: Options { host },
            summaries: Summaries::default(),
        }
    }

    /// The collector that records this one's file summaries; it runs after it.
    pub fn summary_collector(&self) -> SummaryCollector {
        SummaryCollector {
            summaries: Arc::clone(&self.summaries),
        }
    }

    /// Keeps a file's summary for the [`SummaryCollector`].
    fn done(&self, summary: FileSummary) {
        self.summaries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(summary);
    }

    /// Imports one file: stored, and parsed from the very bytes the copy reads (see
    /// [`tee`]). When the sink cannot show a copy's bytes, or an earlier file of this import
    /// took the member name (the same path given twice), the file is parsed from a second
    /// read once stored, hashed as it goes: should it not hash as the stored member (the file
    /// changed meanwhile), an issue says so.
    fn import_one(&self, ctx: &mut CollectContext<'_>, path: &Path) {
        let text = path.display().to_string();
        let mut summary = FileSummary::new(text.clone());
        let expected = raw_member_name(&path_to_text(path));
        let (copy, parsed) = match self.copy_teed(ctx, path, &expected) {
            Some(r) => r,
            None => {
                let (host, sink) = ctx.bridge_parts();
                (sink.copy_raw(host, path, u64::MAX), None)
            }
        };
        let copy = match copy {
            Ok(c) => c,
            Err(e) => {
                let why = format!("not imported: {e}");
                ctx.issue(&text, IssueKind::Malformed, why.clone());
                summary.error = Some(why);
                self.done(summary);
                return;
            }
        };
        summary.member = Some(copy.member.name.clone());
        summary.sha256 = Some(copy.member.sha256.clone());
        summary.bytes = copy.member.size;
        ctx.log(&format!(
            "{text}: stored as {} ({} bytes, sha256 {})",
            copy.member.name, copy.member.size, copy.member.sha256
        ));
        let parsed = match parsed {
            Some(p) => p,
            None => match ctx.host().open(path) {
                Ok(reader) => self.parse_alongside(ctx, reader, &copy.member.name),
                Err(e) => {
                    ctx.host_error(&e);
                    summary.error = Some(format!("not parsed: {e}"));
                    self.done(summary);
                    return;
                }
            },
        };
        // Events are recorded as they are parsed (a big export is never held in memory);
        // should a second read not hash as the stored member, the issue below says so.
        let (
            Parsed {
                result: parsed,
                counts,
                skips,
                sha,
            },
            emit_error,
        ) = parsed;
        if let Some(sha) = sha.filter(|s| *s != copy.member.sha256) {
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
        self.finish(ctx, summary, skips, counts, parsed);
    }

    /// Whether an earlier file of this import was stored as `member`.
    fn stored(&self, member: &str) -> bool {
        self.summaries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|s| s.member.as_deref() == Some(member))
    }

    /// Copies `path` into the bundle as member `expected` while a thread of its own parses
    /// the bytes the copy reads, handed over by a [`tee::Tee`] (one core reads, hashes and
    /// compresses, the other parses and serializes), the events recorded as they come. The
    /// copy, and the parse with why the events could not all be recorded (None when the copy
    /// failed). None, with nothing stored, when the member name is taken or the sink cannot
    /// show a copy's bytes.
    #[allow(clippy::type_complexity)]
    fn copy_teed(
        &self,
        ctx: &mut CollectContext<'_>,
        path: &Path,
        expected: &str,
    ) -> Option<(Result<RawCopy, CopyError>, Option<(Parsed, Option<String>)>)> {
        if self.stored(expected) {
            return None;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(BATCHES_IN_FLIGHT);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::scope(|scope| {
            let (mut tee, mut pieces) = tee::tee(&rx, &back_tx, COLLECTOR);
            let worker = scope.spawn(move || self.parse_worker(&mut pieces, expected, tx, back_rx));
            let (host, sink) = ctx.bridge_parts();
            let copy = sink.copy_raw_observed(host, path, u64::MAX, &mut tee);
            tee.close();
            let tee_error = tee.error.take();
            drop(tee);
            let keep = matches!(&copy, Some(Ok(_)));
            let emit_error = tee_error.or(drain(sink, rx, &back_tx, keep));
            let parsed = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            match copy? {
                Ok(c) if c.member.name != expected => {
                    // Never expected: the name was free. The events name `expected`.
                    let why = format!(
                        "events recorded as of member {expected}, stored as {}",
                        c.member.name
                    );
                    Some((Ok(c), Some((parsed, Some(why)))))
                }
                Ok(c) => Some((Ok(c), Some((parsed, emit_error)))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// Parses `reader` (the stored `member`, read again) on a thread of its own, which reads,
    /// hashes, parses and turns the events into JSON lines, while this one records them: the
    /// two halves of the work overlap, and at most [`BATCHES_IN_FLIGHT`] batches of about
    /// [`BATCH_BYTES`] of lines are between them, so memory stays flat. The parse (with the
    /// SHA-256 of what was read), and why the events could not all be recorded, if so.
    fn parse_alongside(
        &self,
        ctx: &mut CollectContext<'_>,
        reader: Box<dyn FileReader + '_>,
        member: &str,
    ) -> (Parsed, Option<String>) {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(BATCHES_IN_FLIGHT);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                let mut hashing = Hashing {
                    inner: reader,
                    hash: Sha256::new(),
                };
                let mut parsed = self.parse_worker(&mut hashing, member, tx, back_rx);
                // Read to the end, so that the hash covers the whole file even if the parser
                // stopped.
                let _ = std::io::copy(&mut hashing, &mut std::io::sink());
                parsed.sha = Some(hex(&hashing.hash.finalize()));
                parsed
            });
            let (_, sink) = ctx.bridge_parts();
            let emit_error = drain(sink, rx, &back_tx, true);
            let parsed = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (parsed, emit_error)
        })
    }

    /// The parsing thread: parses `reader` as `member` and sends its events as batches of
    /// JSON lines, one buffer each, taking emptied buffers back for reuse (no allocation on
    /// one thread freed on the other).
    fn parse_worker(
        &self,
        reader: &mut dyn Read,
        member: &str,
        tx: std::sync::mpsc::SyncSender<Vec<u8>>,
        back_rx: std::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Parsed {
        let mut skips = Skips::default();
        let mut counts = Counts::default();
        let new_batch = || Vec::with_capacity(BATCH_BYTES + (64 << 10));
        let mut batch = new_batch();
        let result = dossier_events::parse_counting(
            member,
            reader,
            self.format,
            &self.options,
            &mut counts,
            &mut |r| match r {
                Ok(ev) => {
                    // The bytes of `serde_json::to_writer(&ev)`, written directly.
                    ev.write_json(&mut batch);
                    batch.push(b'\n');
                    if batch.len() >= BATCH_BYTES {
                        let next = back_rx.try_recv().unwrap_or_else(|_| new_batch());
                        // The receiver drains until the end: a send fails only if it is
                        // gone, and then there is nobody to tell.
                        let _ = tx.send(std::mem::replace(&mut batch, next));
                    }
                }
                Err(i) => skips.add(i),
            },
        );
        let _ = tx.send(batch);
        Parsed {
            result,
            counts,
            skips,
            sha: None,
        }
    }

    /// Reports a parsed file: its first skips as issues, its summary kept and logged.
    fn finish(
        &self,
        ctx: &mut CollectContext<'_>,
        mut summary: FileSummary,
        skips: Skips,
        counts: Counts,
        parsed: Result<Format, dossier_events::Error>,
    ) {
        let text = summary.file.clone();
        summary.issues_listed = skips.listed.len() as u64;
        for i in skips.listed {
            ctx.issue(
                format!("{}: {}", i.file, i.record),
                IssueKind::Malformed,
                format!("{} ({}): skipped", i.reason, i.kind.name()),
            );
        }
        if counts.issues > summary.issues_listed {
            ctx.issue(
                &text,
                IssueKind::Malformed,
                format!(
                    "{} more unreadable records not listed here: counted by class in \
                     records/{SUMMARY}.jsonl",
                    counts.issues - summary.issues_listed
                ),
            );
        }
        summary.records_read = counts.records;
        summary.events = counts.events;
        summary.skipped = counts.issues;
        summary.lossy = counts.lossy;
        summary.skips = skips.by_class;
        match parsed {
            Ok(format) => summary.format = Some(format.name()),
            Err(e) => {
                if !matches!(e, dossier_events::Error::Unknown { .. }) {
                    summary.format = self.format.map(Format::name);
                }
                ctx.issue(&text, IssueKind::Malformed, e.to_string());
                summary.error = Some(e.to_string());
            }
        }
        ctx.log(&format!(
            "{text}: {} format, {} records read, {} events, {} skipped{}, {} read lossily",
            summary.format.unwrap_or("unknown"),
            summary.records_read,
            summary.events,
            summary.skipped,
            skip_text(&summary.skips),
            summary.lossy
        ));
        self.done(summary);
    }
}

/// ` (malformed 3, too_long 1)`, or nothing when no record was skipped.
fn skip_text(skips: &BTreeMap<&'static str, SkipClass>) -> String {
    if skips.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = Skip::ALL
        .iter()
        .filter_map(|k| {
            skips
                .get(k.name())
                .map(|c| format!("{} {}", k.name(), c.count))
        })
        .collect();
    format!(" ({})", parts.join(", "))
}

/// The summaries of the files imported so far, for [`SummaryCollector`].
type Summaries = Arc<Mutex<Vec<FileSummary>>>;

/// The collector that runs after [`ImportCollector`] and records its file summaries in
/// `records/import.jsonl` (a collector of its own, so that the member is the bundle's like any
/// records member, and without `after`, so that the events are not kept in memory for it).
pub struct SummaryCollector {
    summaries: Summaries,
}

impl Collector for SummaryCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: SUMMARY.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "what became of each imported file: records read, events normalized, \
                          records skipped by class"
                .into(),
            after: vec![],
        }
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let summaries =
            std::mem::take(&mut *self.summaries.lock().unwrap_or_else(|e| e.into_inner()));
        for s in &summaries {
            ctx.emit(s)?;
        }
        Ok(())
    }
}

/// Records the batches of event lines of `rx` (when `keep`; else drops them) until the
/// parsing thread is done, handing each buffer back emptied: why the events could not all be
/// recorded, if so.
fn drain(
    sink: &mut dyn EvidenceSink,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    back: &std::sync::mpsc::Sender<Vec<u8>>,
    keep: bool,
) -> Option<String> {
    let mut emit_error = None;
    for mut batch in rx {
        if keep {
            tee::record_batch(&batch, COLLECTOR, &mut emit_error, &mut |c, l| {
                sink.record_line(c, l)
            });
        }
        batch.clear();
        let _ = back.send(batch);
    }
    emit_error
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
    collectors.insert(SUMMARY.to_string(), serde_json::Value::Null);
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
        report: Default::default(),
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
    let import = ImportCollector::new(files, plan.format, plan.host.clone());
    let summary: Arc<dyn Collector> = Arc::new(import.summary_collector());
    let collector: Arc<dyn Collector> = Arc::new(import);
    let progress = crate::progress::for_stderr(plan.quiet);
    let c = orchestrate::collect_host_as(
        &host,
        &[collector, summary],
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
        if !plan.quiet && run.name == COLLECTOR {
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
