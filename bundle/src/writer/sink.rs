//! The bundle writer as the collectors' [`EvidenceSink`]: raw copies (read once, hashed and
//! compressed on the way), command output, records, issues and log lines.

use super::options::member_options;
use super::{BUFFERED_MAX, BundleWriter};
use crate::manifest::MemberEntry;
use crate::names::raw_member_name;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::collect::{
    CopyError, CopyObserver, EvidenceSink, Issue, IssueKind, MemberRef, RawCopy, RawSource,
};
use dossier_plugin_api::encoding::{hex, path_to_text};
use dossier_plugin_api::host::{FileMeta, FileReader, Host, HostError, HostErrorKind};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

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
        self.copy_with(host, path, limit, None)
    }

    fn copy_raw_observed(
        &mut self,
        host: &dyn Host,
        path: &Path,
        limit: u64,
        observer: &mut dyn CopyObserver,
    ) -> Option<Result<RawCopy, CopyError>> {
        Some(self.copy_with(host, path, limit, Some(observer)))
    }

    fn record(&mut self, collector: &str, record: serde_json::Value) -> Result<(), String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let (spool, count) = self.spool_of(collector)?;
        serde_json::to_writer(&mut *spool, &record).map_err(|e| e.to_string())?;
        spool.write_all(b"\n").map_err(|e| e.to_string())?;
        *count += 1;
        Ok(())
    }

    fn record_line(&mut self, collector: &str, line: &[u8]) -> Result<(), String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        // One object on one line: anything else would break the member's line structure.
        if line.first() != Some(&b'{') || line.last() != Some(&b'}') || line.contains(&b'\n') {
            return Err("a record line must be one JSON object on one line".to_string());
        }
        let (spool, count) = self.spool_of(collector)?;
        spool.write_all(line).map_err(|e| e.to_string())?;
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

/// Chunks of a streaming copy waiting for the hashing thread at most.
const HASH_QUEUE: usize = 4;

/// The hashing thread of a streaming copy: chunks to it, and their buffers back.
struct Chunks<'a> {
    to_hash: std::sync::mpsc::SyncSender<Vec<u8>>,
    spent: &'a std::sync::mpsc::Receiver<Vec<u8>>,
}

/// The rest of a streaming copy: the file, how much is read, the limit, the observer.
struct Rest<'a, 'o> {
    f: &'a mut dyn FileReader,
    read: &'a mut Reading,
    limit: u64,
    observer: Option<&'a mut (dyn CopyObserver + 'o)>,
}

/// A raw copy being read: the bytes read into memory (the head of the file, up to the
/// writer's in-memory limit, [`BUFFERED_MAX`] at most), the hash and count of every byte read, and how reading ended.
struct Reading {
    data: Vec<u8>,
    hash: Sha256,
    total: u64,
    eof: bool,
    /// A read failed after some bytes: the member holds what was read before.
    error: Option<std::io::Error>,
}

impl Reading {
    /// Reads straight into a buffer (no intermediate copy) up to `cap` bytes, then hashes it
    /// in one go. A failure before the first byte fails the copy.
    fn head(
        f: &mut dyn FileReader,
        meta: &FileMeta,
        cap: u64,
        path: &Path,
    ) -> Result<Reading, CopyError> {
        let first_cap = cap;
        let mut data: Vec<u8> = Vec::with_capacity(meta.size.min(first_cap) as usize);
        let mut error = None;
        match f.take(first_cap).read_to_end(&mut data) {
            Ok(_) => {}
            Err(e) if data.is_empty() => {
                return Err(CopyError::Host(HostError::new(
                    HostErrorKind::Other,
                    path,
                    format!("read failed: {e}"),
                )));
            }
            Err(e) => error = Some(e),
        }
        let mut hash = Sha256::new();
        hash.update(&data);
        let eof = error.is_none() && (data.len() as u64) < first_cap;
        let total = data.len() as u64;
        Ok(Reading {
            data,
            hash,
            total,
            eof,
            error,
        })
    }
}

impl BundleWriter {
    /// [`EvidenceSink::copy_raw`], showing each piece stored to `observer` when given (see
    /// [`EvidenceSink::copy_raw_observed`]).
    pub fn copy_observed(
        &mut self,
        host: &dyn Host,
        path: &Path,
        limit: u64,
        observer: &mut dyn CopyObserver,
    ) -> Result<RawCopy, CopyError> {
        self.copy_with(host, path, limit, Some(observer))
    }

    /// A raw copy, observed or not.
    fn copy_with<'o>(
        &mut self,
        host: &dyn Host,
        path: &Path,
        limit: u64,
        mut observer: Option<&mut (dyn CopyObserver + 'o)>,
    ) -> Result<RawCopy, CopyError> {
        self.zip().map_err(CopyError::Sink)?;
        let mut f = host.open(path).map_err(CopyError::Host)?;
        let meta: FileMeta = f.meta().clone();
        let text = path_to_text(path);
        let base = raw_member_name(&text);
        // A file copied again (same name and size) is read whole up to [`BUFFERED_MAX`]
        // whatever the memory limit, so that an identical copy is still found and stored once.
        let again = self
            .by_name
            .get(&base)
            .is_some_and(|&i| self.members[i].kind == "raw" && self.members[i].size == meta.size);
        let cap = if again {
            BUFFERED_MAX
        } else {
            self.buffered_max
        };
        let mut read = Reading::head(&mut *f, &meta, limit.min(cap), path)?;
        let mtime = meta.mtime.as_ref().map(Timestamp::unix_seconds);
        let buffered_all = read.eof || read.error.is_some() || read.total >= limit;
        // The same file copied again with the same bytes (a hook file that `packages` also
        // copies as unowned) is stored once: the earlier member is returned.
        let reused = buffered_all
            .then(|| self.by_name.get(&base).map(|&i| &self.members[i]))
            .flatten()
            .filter(|m| m.kind == "raw" && m.size == read.total)
            .filter(|m| m.sha256 == hex(&read.hash.clone().finalize()))
            .map(|m| m.name.clone());
        let name = match &reused {
            Some(n) => n.clone(),
            None => self.unique_name(&base),
        };
        let data = std::mem::take(&mut read.data);
        if reused.is_some() {
            self.feed(observer.as_deref_mut(), &data);
            drop(data);
        } else if buffered_all {
            let opts = member_options(read.total, &data[..data.len().min(64 << 10)], mtime);
            if observer.is_some() {
                // Compressed off-thread while the observer sees it.
                self.submit(&name, opts, data.clone())
                    .map_err(CopyError::Sink)?;
                self.feed(observer.as_deref_mut(), &data);
            } else {
                self.submit(&name, opts, data).map_err(CopyError::Sink)?;
            }
        } else {
            let size = meta.size.min(limit);
            let opts = member_options(size, &data[..data.len().min(64 << 10)], mtime)
                .large_file(size >= u32::MAX as u64 / 2);
            let rest = Rest {
                f: &mut *f,
                read: &mut read,
                limit,
                observer,
            };
            self.stream_rest(&name, opts, data, rest)?;
        }
        let source = self.copy_source(&mut *f, &read, meta, text, limit);
        let (total, sha) = (read.total, hex(&read.hash.finalize()));
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

    /// The records spool of a collector and its record count, made on its first record.
    fn spool_of(
        &mut self,
        collector: &str,
    ) -> Result<&mut (std::io::BufWriter<std::fs::File>, usize), String> {
        if !self.records.contains_key(collector) {
            let f = self.records_spool()?;
            self.records.insert(
                collector.to_string(),
                (std::io::BufWriter::with_capacity(64 << 10, f), 0),
            );
        }
        Ok(self.records.get_mut(collector).expect("inserted above"))
    }

    /// A new spool for a collector's records: an unnamed temporary file in the output
    /// directory, or, for an encrypted bundle, an anonymous memory file (`memfd`): the
    /// plaintext of an encrypted bundle never reaches the disk.
    fn records_spool(&self) -> Result<std::fs::File, String> {
        if self.encrypted {
            use nix::sys::memfd::{MFdFlags, memfd_create};
            return memfd_create("dossier-records", MFdFlags::MFD_CLOEXEC)
                .map(std::fs::File::from)
                .map_err(|e| format!("records spool in memory: {e}"));
        }
        tempfile::tempfile_in(&self.out_dir)
            .map_err(|e| format!("records spool in {}: {e}", self.out_dir.display()))
    }

    /// Shows `bytes` to the observer, if any, a chunk at a time, letting it record lines.
    fn feed<'o>(&mut self, observer: Option<&mut (dyn CopyObserver + 'o)>, bytes: &[u8]) {
        if let Some(o) = observer {
            for piece in bytes.chunks(self.chunk) {
                o.chunk(piece, &mut |c, l| EvidenceSink::record_line(self, c, l));
            }
        }
    }

    /// Starts the member `name` with the head already read (`data`) and streams the rest of
    /// the file into it, chunk by chunk, up to the limit; the observer sees each chunk just
    /// before it is compressed (so that it can work on it meanwhile).
    fn stream_rest<'o>(
        &mut self,
        name: &str,
        opts: zip::write::SimpleFileOptions,
        data: Vec<u8>,
        rest: Rest<'_, 'o>,
    ) -> Result<(), CopyError> {
        let Rest {
            f,
            read,
            limit,
            mut observer,
        } = rest;
        self.drain_pool();
        let zip = self.zip().map_err(CopyError::Sink)?;
        if let Err(e) = zip.start_file(name, opts) {
            return Err(CopyError::Sink(self.fail(e)));
        }
        for piece in data.chunks(self.chunk) {
            self.feed(observer.as_deref_mut(), piece);
            let zip = self.zip().map_err(CopyError::Sink)?;
            if let Err(e) = zip.write_all(piece) {
                return Err(CopyError::Sink(self.fail(e)));
            }
        }
        drop(data);
        // The rest is hashed on a thread of its own while this one shows each chunk to the
        // observer and compresses it: the same bytes in the same order, so the same hash,
        // and the SHA-256 off the thread that compresses.
        let (to_hash, hashing) = std::sync::mpsc::sync_channel::<Vec<u8>>(HASH_QUEUE);
        let (spent_tx, spent) = std::sync::mpsc::channel::<Vec<u8>>();
        let mut hash = std::mem::take(&mut read.hash);
        std::thread::scope(|scope| {
            let hasher = scope.spawn(move || {
                for c in hashing {
                    hash.update(&c);
                    let _ = spent_tx.send(c);
                }
                hash
            });
            let chunks = Chunks {
                to_hash,
                spent: &spent,
            };
            let r = self.stream_chunks(f, read, limit, observer, chunks);
            read.hash = hasher
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            r
        })
    }

    /// The reading loop of [`BundleWriter::stream_rest`]: reads `f` to `limit` a chunk at a
    /// time, each shown to `observer`, written into the current member and handed to the
    /// hashing thread (which hands the buffer back).
    fn stream_chunks<'o>(
        &mut self,
        f: &mut dyn FileReader,
        read: &mut Reading,
        limit: u64,
        mut observer: Option<&mut (dyn CopyObserver + 'o)>,
        chunks: Chunks<'_>,
    ) -> Result<(), CopyError> {
        while read.total < limit {
            let mut chunk = chunks.spent.try_recv().unwrap_or_default();
            chunk.resize(self.chunk, 0);
            let want = (limit - read.total).min(chunk.len() as u64) as usize;
            match f.read(&mut chunk[..want]) {
                Ok(0) => {
                    read.eof = true;
                    break;
                }
                Ok(n) => {
                    chunk.truncate(n);
                    self.feed(observer.as_deref_mut(), &chunk);
                    read.total += n as u64;
                    let zip = self.zip().map_err(CopyError::Sink)?;
                    if let Err(e) = zip.write_all(&chunk) {
                        return Err(CopyError::Sink(self.fail(e)));
                    }
                    // The hasher ends only when this sender is dropped.
                    let _ = chunks.to_hash.send(chunk);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    read.error = Some(e);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Where a raw copy came from: the file's metadata before and (when it changed) after
    /// reading, and whether the copy is truncated (the limit was reached with bytes left, or a
    /// read failed, which is also recorded as an issue of the current collector).
    fn copy_source(
        &mut self,
        f: &mut dyn FileReader,
        read: &Reading,
        meta: FileMeta,
        text: String,
        limit: u64,
    ) -> RawSource {
        let mut truncated = false;
        if read.error.is_none() && !read.eof && read.total >= limit {
            let mut probe = [0u8; 1];
            truncated = matches!(f.read(&mut probe), Ok(n) if n > 0);
        }
        let after = f.meta_now().ok();
        let changed = after.as_ref().is_some_and(|a| meta.changed_since(a));
        if let Some(e) = &read.error {
            truncated = true;
            let collector = self.collector.clone().unwrap_or_default();
            let msg = format!(
                "read failed after {} bytes ({e}); the member holds the bytes read before the failure",
                read.total
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
        RawSource {
            path: text,
            meta: Some(meta),
            meta_after: after.filter(|_| changed),
            truncated,
            changed_during_read: changed,
        }
    }
}
