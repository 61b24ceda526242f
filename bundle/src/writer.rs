//! Writes one evidence bundle: the orchestrator's [`EvidenceSink`].
//!
//! Everything goes through one streaming pass: a source is read once, each chunk feeds the
//! member's SHA-256 and the zip compressor, and every byte the zip writer emits feeds the
//! whole-bundle SHA-256 on its way to disk. The bundle is written to a hidden `.partial` file
//! (mode 0600) and only renamed to `<host>-<UTC>.zip` after the manifest is written and the file
//! and its `.sha256` are fsynced, so a file with the final name is always complete. A bundle
//! that is dropped before [`BundleWriter::finish`] removes its partial file.

use crate::fsio::{FsError, create_new_private, ensure_out_dir, sync_dir, write_synced};
use crate::manifest::{LOG_NAME, MANIFEST_NAME, Manifest, MemberEntry};
use crate::names::raw_member_name;
use crate::pool::Pool;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::collect::{
    CopyError, EvidenceSink, Issue, IssueKind, MemberRef, RawCopy, RawSource,
};
use dossier_plugin_api::encoding::{hex, path_to_text};
use dossier_plugin_api::host::{FileMeta, Host, HostError, HostErrorKind};
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

/// Errors that stop a bundle from being written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The output directory or the partial file could not be created.
    #[error(transparent)]
    Output(#[from] FsError),
    #[error("writing the bundle failed: {0}")]
    Write(String),
    #[error("cannot move the finished bundle into place: {0}")]
    Rename(String),
}

/// Passes bytes to a file and hashes them on the way. Every [`SYNC_EVERY`] bytes it asks a
/// background thread to `fdatasync` what was written so far, so the disk writes overlap with
/// hashing and compression instead of all waiting for the final fsync.
struct HashingFile {
    out: BufWriter<File>,
    hash: Sha256,
    written: u64,
    synced_mark: u64,
    syncer: Option<(mpsc::SyncSender<()>, std::thread::JoinHandle<()>)>,
}

/// Bytes between background syncs.
const SYNC_EVERY: u64 = 64 << 20;

impl HashingFile {
    fn new(file: File) -> Self {
        let syncer = file.try_clone().ok().and_then(|clone| {
            let (tx, rx) = mpsc::sync_channel::<()>(1);
            std::thread::Builder::new()
                .name("dossier-sync".into())
                .spawn(move || {
                    while rx.recv().is_ok() {
                        let _ = clone.sync_data();
                    }
                })
                .ok()
                .map(|h| (tx, h))
        });
        HashingFile {
            out: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            written: 0,
            synced_mark: 0,
            syncer,
        }
    }

    /// Stops the background syncer (the caller does the final fsync). Dropping the file
    /// without this also ends the thread: its channel closes.
    fn stop_syncer(&mut self) {
        if let Some((tx, h)) = self.syncer.take() {
            drop(tx);
            let _ = h.join();
        }
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        self.written += n as u64;
        if self.written - self.synced_mark >= SYNC_EVERY {
            if let Some((tx, _)) = &self.syncer {
                self.out.flush()?;
                // A sync already pending covers these bytes too: never block on it.
                let _ = tx.try_send(());
            }
            self.synced_mark = self.written;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A finished bundle on disk.
#[derive(Clone, Debug)]
pub struct FinishedBundle {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub members: usize,
}

/// Chunk size for streaming copies.
const CHUNK: usize = 1 << 20;
/// Files up to this size are read into memory and compressed off-thread; larger ones stream.
const BUFFERED_MAX: u64 = 64 << 20;
/// In-memory members at least this large are compressed off-thread.
const OFF_THREAD_MIN: u64 = 256 << 10;
/// Members at least this large are compressed at level 1 (throughput over ratio).
const FAST_THRESHOLD: u64 = 1 << 20;

/// The bundle being written.
/// The records one collector emitted, as written to `records/<collector>.jsonl`.
#[derive(Debug, Default)]
pub struct CollectorRecords {
    /// One JSON object a line.
    pub body: Vec<u8>,
    /// Number of records (lines).
    pub count: usize,
}

impl CollectorRecords {
    /// The records as JSON values (for collectors that read them).
    pub fn values(&self) -> Vec<serde_json::Value> {
        self.body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect()
    }
}

pub struct BundleWriter {
    out_dir: PathBuf,
    partial: PathBuf,
    zip: Option<ZipWriter<StreamWriter<HashingFile>>>,
    members: Vec<MemberEntry>,
    by_name: HashMap<String, usize>,
    /// Per collector: its records as JSON lines, serialized as they come (a `Value` tree costs
    /// several times its text) into an unnamed temporary file in the output directory (a
    /// fleet sweep holds one bundle per host being collected; a host's package file lists
    /// alone are megabytes of records), and how many there are.
    records: BTreeMap<String, (std::io::BufWriter<std::fs::File>, usize)>,
    issues: BTreeMap<String, Vec<Issue>>,
    log: Vec<u8>,
    collector: Option<String>,
    failed: Option<String>,
    finished: bool,
    pool: Pool,
}

impl BundleWriter {
    /// Starts a bundle in `out_dir` (created 0700 when missing). `stem` names the temporary
    /// file; the final name is chosen by [`BundleWriter::finish`].
    pub fn create(out_dir: &Path, stem: &str) -> Result<Self, BundleError> {
        ensure_out_dir(out_dir)?;
        let mut n = 0u32;
        let (file, partial) = loop {
            let name = if n == 0 {
                format!(".{stem}.zip.partial")
            } else {
                format!(".{stem}.{n}.zip.partial")
            };
            let path = out_dir.join(name);
            match create_new_private(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(source) => return Err(FsError::Create { path, source }.into()),
            }
        };
        let sink = HashingFile::new(file);
        Ok(BundleWriter {
            out_dir: out_dir.to_path_buf(),
            partial,
            zip: Some(ZipWriter::new_stream(sink)),
            members: Vec::new(),
            by_name: HashMap::new(),
            records: BTreeMap::new(),
            issues: BTreeMap::new(),
            log: Vec::new(),
            collector: None,
            failed: None,
            finished: false,
            pool: Pool::new(),
        })
    }

    /// Path of the temporary file being written.
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    /// Attributes the following members, records and issues to `collector`.
    pub fn begin_collector(&mut self, collector: &str) {
        self.collector = Some(collector.to_string());
    }

    /// Writes `records/<collector>.jsonl` and returns the collector's records (JSON lines and
    /// their number) and issues.
    pub fn end_collector(
        &mut self,
        collector: &str,
    ) -> Result<(CollectorRecords, Vec<Issue>), BundleError> {
        let (body, count) = match self.records.remove(collector) {
            Some((spool, count)) => {
                let mut f = spool
                    .into_inner()
                    .map_err(|e| BundleError::Write(format!("records spool: {}", e.error())))?;
                let mut body = Vec::new();
                std::io::Seek::rewind(&mut f)
                    .and_then(|_| std::io::Read::read_to_end(&mut f, &mut body))
                    .map_err(|e| BundleError::Write(format!("records spool: {e}")))?;
                (body, count)
            }
            None => (Vec::new(), 0),
        };
        let issues = self.issues.remove(collector).unwrap_or_default();
        let name = format!("records/{collector}.jsonl");
        let name = self.unique_name(&name);
        self.write_member(
            &name,
            &body,
            "records",
            Some(collector.to_string()),
            None,
            None,
        )
        .map_err(BundleError::Write)?;
        self.collector = None;
        Ok((CollectorRecords { body, count }, issues))
    }

    /// Appends a line to `log.jsonl`.
    pub fn log_event(&mut self, collector: Option<&str>, message: &str) {
        let line = serde_json::json!({ "time": Timestamp::now(), "collector": collector, "message": message });
        let _ = serde_json::to_writer(&mut self.log, &line);
        self.log.push(b'\n');
    }

    fn unique_name(&self, base: &str) -> String {
        if !self.by_name.contains_key(base) {
            return base.to_string();
        }
        (2..)
            .map(|i| format!("{base}~{i}"))
            .find(|n| !self.by_name.contains_key(n))
            .expect("unbounded")
    }

    fn options(size_hint: u64, sample: &[u8], mtime: Option<i64>) -> SimpleFileOptions {
        let mut o = SimpleFileOptions::default()
            .unix_permissions(0o600)
            .large_file(size_hint >= u32::MAX as u64);
        if looks_incompressible(sample) {
            o = o.compression_method(CompressionMethod::Stored);
        } else {
            let level = if size_hint >= FAST_THRESHOLD { 1 } else { 6 };
            o = o
                .compression_method(CompressionMethod::Deflated)
                .compression_level(Some(level));
        }
        if let Some(t) = mtime.and_then(zip_time) {
            o = o.last_modified_time(t);
        }
        o
    }

    fn zip(&mut self) -> Result<&mut ZipWriter<StreamWriter<HashingFile>>, String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.zip
            .as_mut()
            .ok_or_else(|| "bundle already finished".to_string())
    }

    fn fail(&mut self, e: impl std::fmt::Display) -> String {
        let msg = e.to_string();
        self.failed.get_or_insert(msg.clone());
        msg
    }

    fn write_member(
        &mut self,
        name: &str,
        data: &[u8],
        kind: &str,
        collector: Option<String>,
        source: Option<RawSource>,
        mtime: Option<i64>,
    ) -> Result<MemberRef, String> {
        let sha = hex(&Sha256::digest(data));
        let opts = Self::options(data.len() as u64, &data[..data.len().min(64 << 10)], mtime);
        if data.len() as u64 >= OFF_THREAD_MIN {
            self.submit(name, opts, data.to_vec())?;
        } else {
            let zip = self.zip()?;
            if let Err(e) = zip
                .start_file(name, opts)
                .and_then(|_| zip.write_all(data).map_err(Into::into))
            {
                return Err(self.fail(e));
            }
        }
        let member = MemberRef {
            name: name.to_string(),
            sha256: sha.clone(),
            size: data.len() as u64,
        };
        self.push_member(MemberEntry {
            name: name.to_string(),
            size: data.len() as u64,
            sha256: sha,
            kind: kind.to_string(),
            collector,
            source,
        });
        Ok(member)
    }

    /// Compresses a member off-thread; finished members are appended as they come back.
    fn submit(&mut self, name: &str, opts: SimpleFileOptions, data: Vec<u8>) -> Result<(), String> {
        self.zip()?;
        let (zip, failed) = (&mut self.zip, &mut self.failed);
        let mut sink = |r: Result<zip::PreparedZipFile, String>| append_prepared(zip, failed, r);
        let r = self.pool.submit(name, opts, data, &mut sink);
        if let Err(e) = r {
            return Err(self.fail(e));
        }
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Waits for every member in compression and appends it.
    fn drain_pool(&mut self) {
        let (zip, failed) = (&mut self.zip, &mut self.failed);
        let mut sink = |r: Result<zip::PreparedZipFile, String>| append_prepared(zip, failed, r);
        self.pool.drain(&mut sink);
    }

    fn push_member(&mut self, entry: MemberEntry) {
        self.by_name.insert(entry.name.clone(), self.members.len());
        self.members.push(entry);
    }

    /// Members written so far.
    pub fn members(&self) -> &[MemberEntry] {
        &self.members
    }

    /// Writes `log.jsonl` and the manifest (with `manifest.members` filled in), closes the zip,
    /// fsyncs, writes `<bundle>.sha256` and moves both into place under
    /// `<file_stem>.zip` (or `<file_stem>-2.zip`, ... when taken).
    pub fn finish(
        mut self,
        mut manifest: Manifest,
        file_stem: &str,
    ) -> Result<FinishedBundle, BundleError> {
        self.drain_pool();
        let log = std::mem::take(&mut self.log);
        self.write_member(LOG_NAME, &log, "log", None, None, None)
            .map_err(BundleError::Write)?;
        self.drain_pool();
        manifest.members = self.members.clone();
        let body =
            serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Write(e.to_string()))?;
        let opts = Self::options(body.len() as u64, &body, None);
        let zip = self.zip().map_err(BundleError::Write)?;
        zip.start_file(MANIFEST_NAME, opts)
            .map_err(|e| BundleError::Write(e.to_string()))?;
        zip.write_all(&body)
            .map_err(|e| BundleError::Write(e.to_string()))?;
        let zip = self.zip.take().expect("checked");
        let mut sink = zip
            .finish()
            .map_err(|e| BundleError::Write(e.to_string()))?
            .into_inner();
        sink.flush()
            .map_err(|e| BundleError::Write(e.to_string()))?;
        sink.stop_syncer();
        let size = sink.written;
        let sha256 = hex(&sink.hash.finalize());
        let file = sink
            .out
            .into_inner()
            .map_err(|e| BundleError::Write(e.to_string()))?;
        file.sync_all()
            .map_err(|e| BundleError::Write(format!("fsync: {e}")))?;
        drop(file);
        let path = self.place(file_stem, &sha256)?;
        self.finished = true;
        Ok(FinishedBundle {
            path,
            sha256,
            size,
            members: self.members.len() + 1,
        })
    }

    fn place(&self, file_stem: &str, sha256: &str) -> Result<PathBuf, BundleError> {
        for n in 1..10_000u32 {
            let name = if n == 1 {
                format!("{file_stem}.zip")
            } else {
                format!("{file_stem}-{n}.zip")
            };
            let final_path = self.out_dir.join(&name);
            let sum_path = self.out_dir.join(format!("{name}.sha256"));
            if final_path.exists() || sum_path.exists() {
                continue;
            }
            let sum_tmp = self.out_dir.join(format!(".{name}.sha256.partial"));
            write_synced(&sum_tmp, format!("{sha256}  {name}\n").as_bytes())
                .map_err(|e| BundleError::Rename(format!("{}: {e}", sum_tmp.display())))?;
            match renameat2(
                AT_FDCWD,
                &sum_tmp,
                AT_FDCWD,
                &sum_path,
                RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => {}
                Err(nix::errno::Errno::EEXIST) => {
                    let _ = std::fs::remove_file(&sum_tmp);
                    continue;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&sum_tmp);
                    return Err(BundleError::Rename(format!("{}: {e}", sum_path.display())));
                }
            }
            match renameat2(
                AT_FDCWD,
                &self.partial,
                AT_FDCWD,
                &final_path,
                RenameFlags::RENAME_NOREPLACE,
            ) {
                Ok(()) => {
                    sync_dir(&self.out_dir);
                    return Ok(final_path);
                }
                Err(nix::errno::Errno::EEXIST) => {
                    let _ = std::fs::remove_file(&sum_path);
                    continue;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&sum_path);
                    return Err(BundleError::Rename(format!(
                        "{}: {e}",
                        final_path.display()
                    )));
                }
            }
        }
        Err(BundleError::Rename(format!(
            "no free name for {file_stem}.zip"
        )))
    }
}

impl Drop for BundleWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Appends a member compressed off-thread (or records why it could not be).
fn append_prepared(
    zip: &mut Option<ZipWriter<StreamWriter<HashingFile>>>,
    failed: &mut Option<String>,
    r: Result<zip::PreparedZipFile, String>,
) {
    if failed.is_some() {
        return;
    }
    let result = match (zip.as_mut(), r) {
        (Some(z), Ok(p)) => z.add_prepared_file(p).map_err(|e| e.to_string()),
        (None, _) => Err("bundle already finished".into()),
        (_, Err(e)) => Err(format!("compression failed: {e}")),
    };
    if let Err(e) = result {
        *failed = Some(e);
    }
}

/// Whether a sample looks already compressed or random (Shannon entropy above 7.5 bits/byte),
/// so deflating it would cost time for nothing.
fn looks_incompressible(sample: &[u8]) -> bool {
    if sample.len() < 4096 {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[b as usize] += 1;
    }
    let n = sample.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy > 7.5
}

fn zip_time(unix: i64) -> Option<zip::DateTime> {
    let dt = chrono::DateTime::from_timestamp(unix, 0)?;
    use chrono::{Datelike, Timelike};
    zip::DateTime::from_date_and_time(
        dt.year().try_into().ok()?,
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
    )
    .ok()
}

impl EvidenceSink for BundleWriter {
    fn store_raw(&mut self, source: &RawSource, data: &[u8]) -> Result<MemberRef, String> {
        let base = raw_member_name(&source.path);
        let sha = hex(&Sha256::digest(data));
        // The same file captured twice with the same content is stored once.
        if let Some(&i) = self.by_name.get(&base) {
            let m = &self.members[i];
            if m.sha256 == sha && m.kind != "records" {
                return Ok(MemberRef {
                    name: m.name.clone(),
                    sha256: sha,
                    size: m.size,
                });
            }
        }
        let name = self.unique_name(&base);
        let kind = if source.path.starts_with('/') {
            "raw"
        } else {
            "command"
        };
        let mtime = source
            .meta
            .as_ref()
            .and_then(|m| m.mtime.as_ref())
            .map(Timestamp::unix_seconds);
        self.write_member(
            &name,
            data,
            kind,
            self.collector.clone(),
            Some(source.clone()),
            mtime,
        )
    }

    fn copy_raw(&mut self, host: &dyn Host, path: &Path, limit: u64) -> Result<RawCopy, CopyError> {
        self.zip().map_err(CopyError::Sink)?;
        let mut f = host.open(path).map_err(CopyError::Host)?;
        let meta: FileMeta = f.meta().clone();
        let text = path_to_text(path);
        let read_failed = |e: std::io::Error| {
            CopyError::Host(HostError::new(
                HostErrorKind::Other,
                path,
                format!("read failed: {e}"),
            ))
        };
        // Read into memory up to BUFFERED_MAX (hashing as we go); such a member is compressed
        // off-thread. A larger file is streamed into the zip from there on.
        let mut hash = Sha256::new();
        let first_cap = limit.min(BUFFERED_MAX);
        let mut data: Vec<u8> = Vec::with_capacity(meta.size.min(first_cap) as usize);
        let mut read_error: Option<std::io::Error> = None;
        // Read straight into the buffer (no intermediate copy), then hash it in one go.
        match (&mut f).take(first_cap).read_to_end(&mut data) {
            Ok(_) => {}
            Err(e) if data.is_empty() => return Err(read_failed(e)),
            Err(e) => read_error = Some(e),
        }
        hash.update(&data);
        let mut eof = read_error.is_none() && (data.len() as u64) < first_cap;
        let mut chunk = Vec::new();
        let base = raw_member_name(&text);
        let mtime = meta.mtime.as_ref().map(Timestamp::unix_seconds);
        let mut total = data.len() as u64;
        let buffered_all = eof || read_error.is_some() || total >= limit;
        // The same file copied again with the same bytes (a hook file that `packages` also
        // copies as unowned) is stored once: the earlier member is returned.
        let reused = buffered_all
            .then(|| self.by_name.get(&base).map(|&i| &self.members[i]))
            .flatten()
            .filter(|m| m.kind == "raw" && m.size == total)
            .filter(|m| m.sha256 == hex(&hash.clone().finalize()))
            .map(|m| m.name.clone());
        let name = match &reused {
            Some(n) => n.clone(),
            None => self.unique_name(&base),
        };
        if reused.is_some() {
            drop(data);
        } else if buffered_all {
            let opts = Self::options(total, &data[..data.len().min(64 << 10)], mtime);
            self.submit(&name, opts, data).map_err(CopyError::Sink)?;
        } else {
            let opts = Self::options(
                meta.size.min(limit),
                &data[..data.len().min(64 << 10)],
                mtime,
            )
            .large_file(meta.size.min(limit) >= u32::MAX as u64 / 2);
            self.drain_pool();
            let zip = self.zip().map_err(CopyError::Sink)?;
            if let Err(e) = zip
                .start_file(name.as_str(), opts)
                .and_then(|_| zip.write_all(&data).map_err(Into::into))
            {
                return Err(CopyError::Sink(self.fail(e)));
            }
            drop(data);
            chunk.resize(CHUNK, 0);
            while total < limit {
                let want = (limit - total).min(CHUNK as u64) as usize;
                match f.read(&mut chunk[..want]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        hash.update(&chunk[..n]);
                        total += n as u64;
                        let zip = self.zip().map_err(CopyError::Sink)?;
                        if let Err(e) = zip.write_all(&chunk[..n]) {
                            return Err(CopyError::Sink(self.fail(e)));
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                }
            }
        }
        let mut truncated = false;
        if read_error.is_none() && !eof && total >= limit {
            let mut probe = [0u8; 1];
            truncated = matches!(f.read(&mut probe), Ok(n) if n > 0);
        }
        let after = f.meta_now().ok();
        let changed = after.as_ref().is_some_and(|a| meta.changed_since(a));
        if let Some(e) = &read_error {
            truncated = true;
            let collector = self.collector.clone().unwrap_or_default();
            let msg = format!(
                "read failed after {total} bytes ({e}); the member holds the bytes read before the failure"
            );
            self.issue(
                &collector,
                Issue {
                    subject: text.clone(),
                    kind: IssueKind::Error(HostErrorKind::Other),
                    message: msg,
                },
            );
        }
        let source = RawSource {
            path: text,
            meta: Some(meta),
            meta_after: after.filter(|_| changed),
            truncated,
            changed_during_read: changed,
        };
        let sha = hex(&hash.finalize());
        if reused.is_none() {
            self.push_member(MemberEntry {
                name: name.clone(),
                size: total,
                sha256: sha.clone(),
                kind: "raw".into(),
                collector: self.collector.clone(),
                source: Some(source.clone()),
            });
        }
        Ok(RawCopy {
            member: MemberRef {
                name,
                sha256: sha,
                size: total,
            },
            source,
        })
    }

    fn record(&mut self, collector: &str, record: serde_json::Value) -> Result<(), String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !self.records.contains_key(collector) {
            let f = tempfile::tempfile_in(&self.out_dir)
                .map_err(|e| format!("records spool in {}: {e}", self.out_dir.display()))?;
            self.records.insert(
                collector.to_string(),
                (std::io::BufWriter::with_capacity(64 << 10, f), 0),
            );
        }
        let (spool, count) = self.records.get_mut(collector).expect("inserted above");
        serde_json::to_writer(&mut *spool, &record).map_err(|e| e.to_string())?;
        spool.write_all(b"\n").map_err(|e| e.to_string())?;
        *count += 1;
        Ok(())
    }

    fn issue(&mut self, collector: &str, issue: Issue) {
        self.issues
            .entry(collector.to_string())
            .or_default()
            .push(issue);
    }

    fn log(&mut self, collector: &str, message: &str) {
        self.log_event(Some(collector), message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_heuristic() {
        assert!(!looks_incompressible(&vec![b'a'; 8192]));
        let text: Vec<u8> = (0..8192u32)
            .map(|i| b"the quick brown fox "[i as usize % 20])
            .collect();
        assert!(!looks_incompressible(&text));
        let mut x = 0x1234_5678u32;
        let random: Vec<u8> = (0..8192)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert!(looks_incompressible(&random));
    }

    #[test]
    fn zip_times() {
        assert!(zip_time(1_700_000_000).is_some());
        assert!(zip_time(0).is_none());
    }
}
