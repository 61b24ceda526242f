//! Writes one evidence bundle: the orchestrator's
//! [`EvidenceSink`](dossier_plugin_api::EvidenceSink).
//!
//! Everything goes through one streaming pass: a source is read once, each chunk feeds the
//! member's SHA-256 and the zip compressor, and every byte the zip writer emits feeds the
//! whole-bundle SHA-256 on its way to disk. The bundle is written to a hidden `.partial` file
//! (mode 0600) and only renamed to `<host>-<UTC>.zip` after the manifest is written and the file
//! and its `.sha256` are fsynced, so a file with the final name is always complete. A bundle
//! that is dropped before [`BundleWriter::finish`] removes its partial file.
//!
//! A bundle encrypted to recipients ([`BundleWriter::create_encrypted`]) is the same zip
//! streamed through the age encryptor into the partial file and renamed to `<...>.zip.age`:
//! no plaintext reaches the disk (the records spool is then an anonymous memory file).

mod hashing_file;
mod options;
mod place;
mod sealed;
mod sink;

use crate::crypt::Recipients;
use crate::fsio::{FsError, create_new_private, ensure_out_dir};
use crate::manifest::{LOG_NAME, MANIFEST_NAME, Manifest, MemberEntry};
use crate::pool::Pool;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::collect::{Issue, MemberRef, RawSource};
use dossier_plugin_api::encoding::hex;
use hashing_file::HashingFile;
use options::member_options;
use sealed::Out;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

/// Errors that stop a bundle from being written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The output directory or the partial file could not be created.
    #[error(transparent)]
    Output(#[from] FsError),
    /// Writing or compressing a member, the manifest or the zip failed (the first failure
    /// of the bundle: later writes are refused with it).
    #[error("writing the bundle failed: {0}")]
    Write(String),
    /// The sidecar checksum file could not be written.
    #[error("cannot move the finished bundle into place: {}: {source}", path.display())]
    Sidecar {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The sidecar or the bundle could not be renamed to its final name.
    #[error("cannot move the finished bundle into place: {}: {source}", path.display())]
    Rename {
        path: PathBuf,
        source: nix::errno::Errno,
    },
    /// Every candidate name is taken.
    #[error("cannot move the finished bundle into place: no free name for {stem}.zip")]
    NoFreeName { stem: String },
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

/// The bundle being written.
pub struct BundleWriter {
    out_dir: PathBuf,
    partial: PathBuf,
    zip: Option<ZipWriter<StreamWriter<Out>>>,
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
    /// Encrypted to recipients: the file name ends `.zip.age`, records spool in memory.
    encrypted: bool,
    /// Records spools larger than this are streamed into the bundle when their lines are not
    /// kept ([`BUFFERED_MAX`]; lower in tests and under [`BundleWriter::limit_memory`]).
    stream_records_over: u64,
    /// Files up to this size are read into memory and compressed off-thread, larger ones
    /// stream ([`BUFFERED_MAX`] unless [`BundleWriter::limit_memory`] lowers it).
    buffered_max: u64,
    /// The buffer of a streaming copy ([`CHUNK`] unless lowered).
    chunk: usize,
}

impl BundleWriter {
    /// Starts a bundle in `out_dir` (created 0700 when missing). `stem` names the temporary
    /// file; the final name is chosen by [`BundleWriter::finish`].
    pub fn create(out_dir: &Path, stem: &str) -> Result<Self, BundleError> {
        Self::create_with(out_dir, stem, None)
    }

    /// [`BundleWriter::create`] for a bundle encrypted to `recipients` (the age format):
    /// the zip is encrypted as it is written and the bundle is named `<file_stem>.zip.age`.
    pub fn create_encrypted(
        out_dir: &Path,
        stem: &str,
        recipients: &Recipients,
    ) -> Result<Self, BundleError> {
        Self::create_with(out_dir, stem, Some(recipients))
    }

    /// [`BundleWriter::create`], encrypted when `recipients` are given.
    pub fn create_with(
        out_dir: &Path,
        stem: &str,
        recipients: Option<&Recipients>,
    ) -> Result<Self, BundleError> {
        ensure_out_dir(out_dir)?;
        let ext = extension(recipients.is_some());
        let mut n = 0u32;
        let (file, partial) = loop {
            let name = if n == 0 {
                format!(".{stem}.{ext}.partial")
            } else {
                format!(".{stem}.{n}.{ext}.partial")
            };
            let path = out_dir.join(name);
            match create_new_private(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(source) => return Err(FsError::Create { path, source }.into()),
            }
        };
        let sink = HashingFile::new(file);
        let sink = match recipients {
            None => Out::Plain(sink),
            Some(r) => match crate::crypt::encrypt(sink, r) {
                Ok(w) => Out::Age(Box::new(w)),
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    return Err(BundleError::Write(e.to_string()));
                }
            },
        };
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
            encrypted: recipients.is_some(),
            stream_records_over: BUFFERED_MAX,
            buffered_max: BUFFERED_MAX,
            chunk: CHUNK,
        })
    }

    /// Holds about `bytes` of member data in memory at most, for a process that writes many
    /// bundles at once (a fleet sweep: one per host in flight): a file larger than `bytes`
    /// streams through the calling thread instead of being read whole and compressed
    /// off-thread, at most `bytes` wait for the compression workers, records spools larger
    /// than `bytes` whose lines are not kept stream from their temporary file, and streaming
    /// copies use a buffer of at most a quarter of it. The bundle holds the same members
    /// (names, bytes, hashes); only where the work happens changes.
    pub fn limit_memory(&mut self, bytes: u64) {
        let bytes = bytes.max(64 << 10);
        self.buffered_max = self.buffered_max.min(bytes);
        self.stream_records_over = self.stream_records_over.min(bytes);
        self.chunk = self.chunk.min((bytes / 4).max(64 << 10) as usize);
        self.pool.limit_in_flight(bytes);
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
        self.end_collector_keeping(collector, true)
    }

    /// [`BundleWriter::end_collector`], keeping the records' lines in the result only when
    /// `keep` is set (a later collector reads them): otherwise a spool larger than
    /// [`BUFFERED_MAX`] is streamed into the bundle chunk by chunk and never held in memory
    /// (the records of imported events may be gigabytes), and the body returned is empty.
    pub fn end_collector_keeping(
        &mut self,
        collector: &str,
        keep: bool,
    ) -> Result<(CollectorRecords, Vec<Issue>), BundleError> {
        let spool_err =
            |e: &dyn std::fmt::Display| BundleError::Write(format!("records spool: {e}"));
        let issues = self.issues.remove(collector).unwrap_or_default();
        let name = format!("records/{collector}.jsonl");
        let name = self.unique_name(&name);
        let (body, count) = match self.records.remove(collector) {
            Some((spool, count)) => {
                let mut f = spool.into_inner().map_err(|e| spool_err(&e.error()))?;
                let size = f.stream_position().map_err(|e| spool_err(&e))?;
                std::io::Seek::rewind(&mut f).map_err(|e| spool_err(&e))?;
                if !keep && size > self.stream_records_over {
                    self.stream_records(&name, collector, &mut f, size)
                        .map_err(BundleError::Write)?;
                    self.collector = None;
                    return Ok((
                        CollectorRecords {
                            body: Vec::new(),
                            count,
                        },
                        issues,
                    ));
                }
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut body).map_err(|e| spool_err(&e))?;
                (body, count)
            }
            None => (Vec::new(), 0),
        };
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

    /// Streams records spools larger than `bytes` (instead of [`BUFFERED_MAX`]): lets tests
    /// reach the streaming path with small records.
    pub fn stream_records_over(&mut self, bytes: u64) {
        self.stream_records_over = bytes;
    }

    /// Streams a records spool of `size` bytes into member `name`, hashing it on the way: the
    /// chunks read are hashed on a thread of its own while this one compresses them (the
    /// records of a big import are the last member written, with nothing else to overlap).
    fn stream_records(
        &mut self,
        name: &str,
        collector: &str,
        f: &mut std::fs::File,
        size: u64,
    ) -> Result<(), String> {
        use std::io::Read;
        let mut head = vec![0u8; (64usize << 10).min(size as usize)];
        f.read_exact(&mut head)
            .map_err(|e| format!("records spool: {e}"))?;
        let opts = member_options(size, &head, None);
        self.drain_pool();
        let (tx, rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<Vec<u8>>>(4);
        std::thread::scope(|scope| {
            let hasher = scope.spawn(move || {
                let mut hash = Sha256::new();
                for chunk in rx {
                    hash.update(&chunk[..]);
                }
                hash
            });
            let total = self.stream_spool(name, opts, head, f, &tx);
            drop(tx);
            let hash = hasher
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let total = total?;
            if total != size {
                return Err(self.fail(format!(
                    "records spool: {total} bytes read back of {size} written"
                )));
            }
            self.push_member(MemberEntry {
                name: name.to_string(),
                size,
                sha256: hex(&hash.finalize()),
                kind: "records".to_string(),
                collector: Some(collector.to_string()),
                source: None,
            });
            Ok(())
        })
    }

    /// Starts member `name` with `head` and writes the rest of the spool `f` into it, each
    /// chunk sent to `hash` too: the bytes written.
    fn stream_spool(
        &mut self,
        name: &str,
        opts: SimpleFileOptions,
        head: Vec<u8>,
        f: &mut std::fs::File,
        hash: &std::sync::mpsc::SyncSender<std::sync::Arc<Vec<u8>>>,
    ) -> Result<u64, String> {
        use std::io::Read;
        let zip = self.zip()?;
        if let Err(e) = zip.start_file(name, opts) {
            return Err(self.fail(e));
        }
        let mut total = 0u64;
        let mut chunk = head;
        loop {
            if chunk.is_empty() {
                break;
            }
            total += chunk.len() as u64;
            let shared = std::sync::Arc::new(chunk);
            let _ = hash.send(std::sync::Arc::clone(&shared));
            let zip = self.zip()?;
            if let Err(e) = zip.write_all(&shared) {
                return Err(self.fail(e));
            }
            let mut next = std::sync::Arc::try_unwrap(shared).unwrap_or_default();
            next.resize(self.chunk, 0);
            let n = loop {
                match f.read(&mut next) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.fail(format!("records spool: {e}"))),
                }
            };
            next.truncate(n);
            chunk = next;
        }
        Ok(total)
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

    fn zip(&mut self) -> Result<&mut ZipWriter<StreamWriter<Out>>, String> {
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
        let opts = member_options(data.len() as u64, &data[..data.len().min(64 << 10)], mtime);
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
        let opts = member_options(body.len() as u64, &body, None);
        let zip = self.zip().map_err(BundleError::Write)?;
        zip.start_file(MANIFEST_NAME, opts)
            .map_err(|e| BundleError::Write(e.to_string()))?;
        zip.write_all(&body)
            .map_err(|e| BundleError::Write(e.to_string()))?;
        let zip = self.zip.take().expect("checked");
        let mut sink = zip
            .finish()
            .map_err(|e| BundleError::Write(e.to_string()))?
            .into_inner()
            .finish()
            .map_err(|e| BundleError::Write(e.to_string()))?;
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
        let ext = extension(self.encrypted);
        let path = place::place(&self.out_dir, &self.partial, file_stem, ext, &sha256)?;
        self.finished = true;
        Ok(FinishedBundle {
            path,
            sha256,
            size,
            members: self.members.len() + 1,
        })
    }
}

/// The extension of a bundle's file name: `zip`, or `zip.age` when encrypted.
fn extension(encrypted: bool) -> &'static str {
    if encrypted { "zip.age" } else { "zip" }
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
    zip: &mut Option<ZipWriter<StreamWriter<Out>>>,
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
