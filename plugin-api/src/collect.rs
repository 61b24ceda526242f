//! The `Collector` plugin trait and the context a collector works through.
//!
//! A collector reads from a [`Host`] and produces two kinds of output through the context:
//! raw evidence (verbatim copies of files, each hashed as it is written into the bundle) and
//! records (normalized JSON objects that analyzers read). Anything it could not collect is
//! recorded as an [`Issue`]; only a failure that stops the whole collector is returned as an
//! error. The orchestrator implements [`EvidenceSink`]; collectors never see the bundle format.

use crate::encoding::path_to_text;
use crate::host::{FileMeta, Host, HostError, HostErrorKind, ReadOutcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Static description of a collector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorInfo {
    /// Unique name; also the name of its records member (`records/<name>.jsonl`).
    pub name: String,
    pub version: String,
    /// One line for `dossier collectors`.
    pub description: String,
    /// Collectors whose records this one reads: when they are in the same playbook they run
    /// first.
    #[serde(default)]
    pub after: Vec<String>,
}

/// A failure that stopped a collector as a whole.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("host lost: {0}")]
    HostLost(HostError),
    #[error("evidence could not be stored: {0}")]
    Sink(String),
    #[error("{0}")]
    Other(String),
}

/// Where a dynamically loaded plugin came from: recorded in bundles and reports so the chain
/// of custody covers the code that produced the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginOrigin {
    /// Plugin (library) name and version.
    pub plugin: String,
    pub version: String,
    /// Path the library was loaded from.
    pub path: String,
    /// SHA-256 of the library file.
    pub sha256: String,
}

/// A collector plugin.
pub trait Collector: Send + Sync {
    /// Name, version and description.
    fn info(&self) -> CollectorInfo;

    /// The plugin library it comes from; `None` for a built-in collector.
    fn origin(&self) -> Option<PluginOrigin> {
        None
    }

    /// Checks this collector's playbook section; called before anything is collected.
    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        let _ = config;
        Ok(())
    }

    /// Collects from `ctx.host()`.
    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError>;
}

/// Where a raw evidence member came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawSource {
    /// Path on the host (record text).
    pub path: String,
    /// Metadata at open (or at `lstat` for links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<FileMeta>,
    /// Metadata after reading, when the file changed while it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_after: Option<FileMeta>,
    /// Only the first `size` bytes were kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Size, mtime or ctime changed while it was read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed_during_read: bool,
}

/// A member written into the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    /// Member name inside the bundle (`raw/etc/crontab`).
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// Result of streaming a file into the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCopy {
    pub member: MemberRef,
    pub source: RawSource,
}

/// Something that could not be collected, or was collected only in part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// What it concerns: a path on the host, or a short subject ("/proc", "rpm database").
    pub subject: String,
    pub kind: IssueKind,
    pub message: String,
}

/// Classes of [`Issue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A host operation failed (see the message).
    Error(HostErrorKind),
    /// Only part of the file was kept (cap reached).
    Truncated,
    /// The file was read and hashed in full but not copied into the bundle (over a copy cap or
    /// budget): its SHA-256 is evidence, its bytes are not.
    NotCopied,
    /// The file changed while it was read.
    Changed,
    /// The data does not exist on this kind of host (no live `/proc` on an image, no dpkg
    /// database, ...).
    NotAvailable,
    /// The content could not be parsed faithfully; the raw copy is authoritative.
    Malformed,
    /// Collection was cut short (deadline, budget).
    Incomplete,
}

/// What the orchestrator provides to store evidence.
pub trait EvidenceSink {
    /// Stores bytes already read from `source` as a raw member.
    fn store_raw(&mut self, source: &RawSource, data: &[u8]) -> Result<MemberRef, String>;

    /// Streams a file from `host` into the bundle, reading at most `limit` bytes, hashing in the
    /// same pass. Returns the host error when the file could not be opened or read.
    fn copy_raw(&mut self, host: &dyn Host, path: &Path, limit: u64) -> Result<RawCopy, CopyError>;

    /// Appends a record to `records/<collector>.jsonl`.
    fn record(&mut self, collector: &str, record: serde_json::Value) -> Result<(), String>;

    /// Appends a record already serialized as one line of JSON (one object, no newline), as
    /// is: a collector that makes many records (imported events) serializes them off the
    /// writing thread and skips the `Value` in between. The default parses the line and calls
    /// [`EvidenceSink::record`].
    fn record_line(&mut self, collector: &str, line: &[u8]) -> Result<(), String> {
        let v: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| format!("record is not JSON: {e}"))?;
        self.record(collector, v)
    }

    /// [`EvidenceSink::copy_raw`] showing each piece of the file to `observer` as it is
    /// stored (the very bytes hashed and stored, in order, once), and letting it record lines
    /// meanwhile: a collector that parses what it copies (imported telemetry) reads and hashes
    /// the file once. None when this sink cannot (the default): copy, then read the file
    /// again.
    fn copy_raw_observed(
        &mut self,
        host: &dyn Host,
        path: &Path,
        limit: u64,
        observer: &mut dyn CopyObserver,
    ) -> Option<Result<RawCopy, CopyError>> {
        let _ = (host, path, limit, observer);
        None
    }

    /// Records an issue for `collector`.
    fn issue(&mut self, collector: &str, issue: Issue);

    /// A free-form log line for `collector` (goes to `log.jsonl`).
    fn log(&mut self, collector: &str, message: &str);
}

/// Appends a record line, as [`EvidenceSink::record_line`] (collector, line).
pub type LineRecorder<'a> = &'a mut dyn FnMut(&str, &[u8]) -> Result<(), String>;

/// What sees a raw copy's bytes as they are stored ([`EvidenceSink::copy_raw_observed`]).
pub trait CopyObserver {
    /// The next `bytes` of the file, exactly as hashed and stored; `records` appends record
    /// lines meanwhile (the sink is busy copying).
    fn chunk(&mut self, bytes: &[u8], records: LineRecorder<'_>);
}

/// Why [`EvidenceSink::copy_raw`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Host(HostError),
    #[error("evidence could not be stored: {0}")]
    Sink(String),
}

/// Bytes read from the host and stored verbatim in the bundle.
#[derive(Clone, Debug)]
pub struct Captured {
    pub data: Vec<u8>,
    pub member: MemberRef,
    pub meta: FileMeta,
    pub truncated: bool,
}

impl Captured {
    /// The record-side pointer to this evidence.
    pub fn source_ref(&self, path: &Path) -> crate::records::SourceRef {
        crate::records::SourceRef {
            path: path_to_text(path),
            member: Some(self.member.name.clone()),
            sha256: Some(self.member.sha256.clone()),
        }
    }
}

/// Records of the collectors that already ran for this host, by collector name.
pub type PriorRecords = HashMap<String, Vec<serde_json::Value>>;

/// Everything a collector works through for one host.
pub struct CollectContext<'a> {
    host: &'a dyn Host,
    sink: &'a mut dyn EvidenceSink,
    config: &'a serde_json::Value,
    prior: &'a PriorRecords,
    cache: &'a mut HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    collector: String,
    lost: Option<HostError>,
    issues: usize,
    records: usize,
}

impl<'a> CollectContext<'a> {
    /// Made by the orchestrator for each collector run.
    pub fn new(
        collector: &str,
        host: &'a dyn Host,
        sink: &'a mut dyn EvidenceSink,
        config: &'a serde_json::Value,
        prior: &'a PriorRecords,
        cache: &'a mut HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    ) -> Self {
        CollectContext {
            host,
            sink,
            config,
            prior,
            cache,
            collector: collector.to_string(),
            lost: None,
            issues: 0,
            records: 0,
        }
    }

    /// The host being collected.
    pub fn host(&self) -> &'a dyn Host {
        self.host
    }

    /// Whether the host is running (has `/proc`).
    pub fn is_live(&self) -> bool {
        self.host.info().live
    }

    /// This collector's playbook section, deserialized (unknown keys are an error when `T`
    /// denies them).
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, CollectError> {
        let v = if self.config.is_null() {
            serde_json::Value::Object(Default::default())
        } else {
            self.config.clone()
        };
        serde_json::from_value(v).map_err(|e| CollectError::Config(e.to_string()))
    }

    /// This collector's playbook section as given (`null` when it has none).
    pub fn config_value(&self) -> &serde_json::Value {
        self.config
    }

    /// The host and the evidence sink at once, for an adapter that serves a collector running
    /// elsewhere (a dynamically loaded plugin's callbacks) with them.
    pub fn bridge_parts(&mut self) -> (&'a dyn Host, &mut dyn EvidenceSink) {
        (self.host, &mut *self.sink)
    }

    /// Notes that the host was lost (by a plugin's host operation), so that the orchestrator
    /// stops collecting from it.
    pub fn note_host_lost(&mut self, e: HostError) {
        if self.lost.is_none() {
            self.lost = Some(e);
        }
    }

    /// Records of an earlier collector (empty when it did not run).
    pub fn prior(&self, collector: &str) -> &[serde_json::Value] {
        self.prior.get(collector).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether an earlier collector ran for this host.
    pub fn prior_ran(&self, collector: &str) -> bool {
        self.prior.contains_key(collector)
    }

    /// A value shared by collectors during this host's collection (e.g. a parsed package
    /// database), if one was stored.
    pub fn cached<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.cache
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|a| a.downcast::<T>().ok())
    }

    /// Stores a shared value (see [`CollectContext::cached`]).
    pub fn set_cached<T: Any + Send + Sync>(&mut self, value: Arc<T>) {
        self.cache.insert(TypeId::of::<T>(), value);
    }

    /// The connection to the host was lost: the collector should stop.
    pub fn host_lost(&self) -> Option<&HostError> {
        self.lost.as_ref()
    }

    /// Number of records emitted so far.
    pub fn records_emitted(&self) -> usize {
        self.records
    }

    /// Number of issues recorded so far.
    pub fn issues_recorded(&self) -> usize {
        self.issues
    }

    fn note_error(&mut self, e: &HostError) {
        if matches!(e.kind, HostErrorKind::Disconnected | HostErrorKind::Timeout)
            && self.lost.is_none()
        {
            self.lost = Some(e.clone());
        }
    }

    /// Emits a record (any serializable value; it should carry a `kind` field).
    pub fn emit<T: Serialize>(&mut self, record: &T) -> Result<(), CollectError> {
        let v = serde_json::to_value(record)
            .map_err(|e| CollectError::Other(format!("record not serializable: {e}")))?;
        self.sink
            .record(&self.collector, v)
            .map_err(CollectError::Sink)?;
        self.records += 1;
        Ok(())
    }

    /// Emits a record already serialized as one line of JSON (one object, no newline), as
    /// the sink's [`EvidenceSink::record_line`] takes it: a collector whose records are large
    /// writes them straight from its own data, without a `serde_json::Value` in between. The
    /// line should be what [`CollectContext::emit`] would write (keys sorted, as a `Value`
    /// serializes them).
    pub fn emit_line(&mut self, line: &[u8]) -> Result<(), CollectError> {
        self.sink
            .record_line(&self.collector, line)
            .map_err(CollectError::Sink)?;
        self.records += 1;
        Ok(())
    }

    /// Records an issue.
    pub fn issue(
        &mut self,
        subject: impl Into<String>,
        kind: IssueKind,
        message: impl Into<String>,
    ) {
        self.issues += 1;
        let issue = Issue {
            subject: subject.into(),
            kind,
            message: message.into(),
        };
        self.sink.issue(&self.collector, issue);
    }

    /// Records a failed host operation as an issue.
    pub fn host_error(&mut self, e: &HostError) {
        self.note_error(e);
        let subject = e.path.clone().unwrap_or_else(|| "host".to_string());
        self.issue(subject, IssueKind::Error(e.kind), e.message.clone());
    }

    /// Records that something does not exist on this host ("no live /proc").
    pub fn not_available(&mut self, subject: &str, reason: &str) {
        self.issue(subject, IssueKind::NotAvailable, reason);
    }

    /// A log line.
    pub fn log(&mut self, message: &str) {
        self.sink.log(&self.collector, message);
    }

    /// Reads a file (at most `limit` bytes) and stores it verbatim in the bundle; the bytes are
    /// returned for parsing. A missing file gives `None` silently; any other failure is
    /// recorded as an issue and gives `None`. Truncation and change-while-reading are recorded.
    pub fn capture(&mut self, path: &Path, limit: u64) -> Option<Captured> {
        if self.lost.is_some() {
            return None;
        }
        let read = self.host.read(path, limit);
        self.capture_outcome(path, read)
    }

    /// [`CollectContext::capture`] of a file already read (`read` is what [`Host::read`] of
    /// `path` answered, for instance in a batch read ahead with [`Host::read_many`]): stored,
    /// or its failure recorded, exactly as `capture` does; nothing once the host is lost.
    pub fn capture_outcome(
        &mut self,
        path: &Path,
        read: Result<ReadOutcome, HostError>,
    ) -> Option<Captured> {
        if self.lost.is_some() {
            return None;
        }
        match read {
            Ok(out) => self.store_read(path, out),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                self.host_error(&e);
                None
            }
        }
    }

    /// Stores an already-read file as raw evidence (see [`CollectContext::capture`]).
    pub fn store_read(&mut self, path: &Path, out: ReadOutcome) -> Option<Captured> {
        let text = path_to_text(path);
        if out.truncated {
            let msg = format!(
                "file is {} bytes; only the first {} were kept (cap)",
                out.meta.size,
                out.data.len()
            );
            self.issue(text.clone(), IssueKind::Truncated, msg);
        }
        if out.changed_during_read {
            self.issue(
                text.clone(),
                IssueKind::Changed,
                "file changed while it was read; metadata before and after are in the manifest",
            );
        }
        let source = RawSource {
            path: text,
            meta: Some(out.meta.clone()),
            meta_after: out.meta_after.clone(),
            truncated: out.truncated,
            changed_during_read: out.changed_during_read,
        };
        match self.sink.store_raw(&source, &out.data) {
            Ok(member) => Some(Captured {
                data: out.data,
                member,
                meta: out.meta,
                truncated: out.truncated,
            }),
            Err(e) => {
                self.issue(
                    source.path,
                    IssueKind::Incomplete,
                    format!("could not store evidence: {e}"),
                );
                None
            }
        }
    }

    /// Streams a (possibly large) file into the bundle without keeping it in memory.
    /// Failures are recorded; a missing file gives `None` silently.
    pub fn copy(&mut self, path: &Path, limit: u64) -> Option<RawCopy> {
        if self.lost.is_some() {
            return None;
        }
        match self.sink.copy_raw(self.host, path, limit) {
            Ok(c) => {
                if c.source.truncated {
                    let msg = format!(
                        "file is larger than the {limit}-byte cap; only the first {} bytes were kept",
                        c.member.size
                    );
                    self.issue(c.source.path.clone(), IssueKind::Truncated, msg);
                }
                if c.source.changed_during_read {
                    self.issue(
                        c.source.path.clone(),
                        IssueKind::Changed,
                        "file changed while it was read",
                    );
                }
                Some(c)
            }
            Err(CopyError::Host(e)) if e.is_not_found() => None,
            Err(CopyError::Host(e)) => {
                self.host_error(&e);
                None
            }
            Err(CopyError::Sink(e)) => {
                self.issue(
                    path_to_text(path),
                    IssueKind::Incomplete,
                    format!("could not store evidence: {e}"),
                );
                None
            }
        }
    }

    /// Lists a directory sorted by name. Missing gives `None` silently; other failures are
    /// recorded.
    pub fn list_dir(&mut self, path: &Path) -> Option<Vec<crate::host::DirEntry>> {
        if self.lost.is_some() {
            return None;
        }
        match self.host.read_dir(path) {
            Ok(mut v) => {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                Some(v)
            }
            Err(e) if e.is_not_found() || e.kind == HostErrorKind::NotADirectory => None,
            Err(e) => {
                self.host_error(&e);
                None
            }
        }
    }

    /// `lstat` with failures other than "not found" recorded.
    pub fn lstat(&mut self, path: &Path) -> Option<FileMeta> {
        if self.lost.is_some() {
            return None;
        }
        match self.host.lstat(path) {
            Ok(m) => Some(m),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                self.host_error(&e);
                None
            }
        }
    }

    /// [`CollectContext::lstat`] answered already (`r` is what [`Host::lstat`] of `path`
    /// answered, for instance in a batch asked with [`Host::lstat_many`]): failures other
    /// than "not found" recorded, exactly as `lstat` does; nothing once the host is lost.
    pub fn lstat_outcome(
        &mut self,
        path: &Path,
        r: Result<FileMeta, HostError>,
    ) -> Option<FileMeta> {
        if self.lost.is_some() {
            return None;
        }
        let _ = path;
        match r {
            Ok(m) => Some(m),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                self.host_error(&e);
                None
            }
        }
    }

    /// `read_link` with failures other than "not found" recorded.
    pub fn read_link(&mut self, path: &Path) -> Option<std::path::PathBuf> {
        if self.lost.is_some() {
            return None;
        }
        match self.host.read_link(path) {
            Ok(p) => Some(p),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                self.host_error(&e);
                None
            }
        }
    }
}
