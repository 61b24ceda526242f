//! The digests of files read during one host's collection, shared by the collectors that
//! read the same files: `proc` hashes every process's executable, `privileged` every setuid
//! file, `local-bin` the programs that shadow packaged ones, `hooks` reads the hook files,
//! and `packages` verifies most of them again. Through [`DigestCache`] a file is read once
//! per host for every digest (SHA-256, and MD5 where package verification may need it,
//! computed in the same pass) and for the copy that needs it.
//!
//! An entry is keyed by the file's identity ([`FileId`]): the path it was read at, its size
//! and modification time, and its device and inode where the transport knows them (SFTP
//! does not). A look-up with any of them different misses, so a file replaced or changed
//! since it was read is read again. A file with neither a modification time nor an inode,
//! or that changed while it was read, or was read only in part, is never cached.

use super::pkgdb::PackageDb;
use crate::util::{Copied, copy_capped, ptext};
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::collect::Captured;
use dossier_plugin_api::encoding::hex;
use dossier_plugin_api::host::{FileKind, FileMeta, Host, HostError, HostErrorKind};
use dossier_plugin_api::records::SourceRef;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What identifies a file's content for the cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    path: String,
    size: u64,
    mtime: Option<Timestamp>,
    inode: Option<(u64, u64)>,
}

impl FileId {
    /// The identity of the regular file at `path` (record text) with metadata `meta`; `None`
    /// when it is not a regular file or the metadata could not tell a changed file apart
    /// (no modification time and no inode).
    pub fn new(path: &str, meta: &FileMeta) -> Option<FileId> {
        if meta.kind != FileKind::File || (meta.mtime.is_none() && meta.identity().is_none()) {
            return None;
        }
        Some(FileId {
            path: path.to_string(),
            size: meta.size,
            mtime: meta.mtime,
            inode: meta.identity(),
        })
    }

    /// Size of the file as identified.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The digests of a whole file, and its copy in the bundle when a collector made one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileDigests {
    pub sha256: String,
    /// `None` when it was not computed (no one was expected to need it).
    pub md5: Option<String>,
    /// The verbatim copy of the whole file (its `path` the one it was copied from).
    pub copy: Option<SourceRef>,
}

/// The digests of the files read so far on this host (see the module documentation).
#[derive(Default)]
pub struct DigestCache {
    map: Mutex<HashMap<FileId, FileDigests>>,
}

impl DigestCache {
    /// The cache of this host's collection (made on first use).
    pub fn of(ctx: &mut CollectContext<'_>) -> Arc<DigestCache> {
        if let Some(c) = ctx.cached::<DigestCache>() {
            return c;
        }
        let c = Arc::new(DigestCache::default());
        ctx.set_cached(c.clone());
        c
    }

    /// What is known of the file identified by `id`.
    pub fn get(&self, id: &FileId) -> Option<FileDigests> {
        self.lock().get(id).cloned()
    }

    /// Notes the digests of the file `id`, keeping what an earlier entry knew that this one
    /// does not (its MD5, its copy).
    pub fn put(&self, id: FileId, d: FileDigests) {
        let mut map = self.lock();
        let e = map.entry(id).or_default();
        if e.sha256 != d.sha256 {
            // Same identity, other content (changed within the clock's granularity): the
            // newer reading wins, nothing of the older is kept.
            *e = d;
            return;
        }
        e.md5 = d.md5.or(e.md5.take());
        e.copy = d.copy.or(e.copy.take());
    }

    /// Notes the copy `c` of a whole file read at `path` with metadata `meta` (its
    /// SHA-256 is the file's), with the MD5 when it was computed.
    pub fn put_copy(
        &self,
        path: &str,
        meta: Option<&FileMeta>,
        c: &SourceRef,
        md5: Option<String>,
    ) {
        if let (Some(id), Some(sha)) = (meta.and_then(|m| FileId::new(path, m)), &c.sha256) {
            self.put(
                id,
                FileDigests {
                    sha256: sha.clone(),
                    md5,
                    copy: Some(c.clone()),
                },
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileId, FileDigests>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether package verification on this host may need MD5 digests (dpkg's `md5sums` and
/// conffile digests, rpm packages with MD5 file digests): yes unless the package database
/// loaded so far says it cannot.
pub fn md5_wanted(ctx: &CollectContext<'_>) -> bool {
    ctx.cached::<PackageDb>()
        .is_none_or(|db| db.may_expect_md5())
}

/// A file's digests as read (or as an earlier read of the same file gave them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hashed {
    pub sha256: String,
    /// When it was asked for.
    pub md5: Option<String>,
    /// Bytes hashed.
    pub bytes: u64,
    /// The file was longer than the cap: the digests cover only the first `bytes`.
    pub truncated: bool,
}

/// The SHA-256 (and, with `md5`, the MD5) of the first `cap` bytes of `path`, in one read,
/// with the metadata of the file opened and whether it changed while it was read.
fn hash(
    host: &dyn Host,
    path: &Path,
    cap: u64,
    md5: bool,
) -> Result<(Hashed, FileMeta, bool), HostError> {
    let mut f = host.open(path)?;
    let meta = f.meta().clone();
    let (mut sha, mut m5) = (Sha256::new(), md5.then(Md5::new));
    // A buffer fitted to the file (over SFTP each read of the buffer's size asks for that
    // much, even of a small file).
    let fit = meta.size.min(cap).saturating_add(1).clamp(4096, 256 << 10);
    let mut buf = vec![0u8; fit as usize];
    let err =
        |e: std::io::Error| HostError::new(HostErrorKind::Other, path, format!("read failed: {e}"));
    let mut total = 0u64;
    let truncated = loop {
        let want = (cap - total).min(buf.len() as u64) as usize;
        if want == 0 {
            break f.read(&mut buf[..1]).map_err(err)? > 0;
        }
        let n = f.read(&mut buf[..want]).map_err(err)?;
        if n == 0 {
            break false;
        }
        sha.update(&buf[..n]);
        if let Some(m) = m5.as_mut() {
            m.update(&buf[..n]);
        }
        total += n as u64;
    };
    let changed = f.meta_now().map_or(true, |now| meta.changed_since(&now));
    let h = Hashed {
        sha256: hex(&sha.finalize()),
        md5: m5.map(|m| hex(&m.finalize())),
        bytes: total,
        truncated,
    };
    Ok((h, meta, changed))
}

/// The digests of the file known as `id` (its path, and metadata from a `stat` of it), read
/// through `read_path` (its own path, or another name of the same file such as
/// `/proc/PID/exe`): from `cache`, or read now (up to `cap` bytes; with its MD5 when `md5`)
/// and noted when read whole and unchanged, under the identity of the file opened. An entry
/// without the MD5 asked for, or larger than `cap`, is read again.
pub fn digests(
    host: &dyn Host,
    cache: &DigestCache,
    id: Option<&FileId>,
    read_path: &Path,
    cap: u64,
    md5: bool,
) -> Result<Hashed, HostError> {
    if let Some(id) = id.filter(|id| id.size <= cap)
        && let Some(d) = cache.get(id)
        && (d.md5.is_some() || !md5)
    {
        return Ok(Hashed {
            sha256: d.sha256,
            md5: d.md5.filter(|_| md5),
            bytes: id.size,
            truncated: false,
        });
    }
    let (h, meta, changed) = hash(host, read_path, cap, md5)?;
    if !h.truncated
        && !changed
        && let Some(opened) = id.and_then(|i| FileId::new(&i.path, &meta))
    {
        cache.put(
            opened,
            FileDigests {
                sha256: h.sha256.clone(),
                md5: h.md5.clone(),
                copy: None,
            },
        );
    }
    Ok(h)
}

/// [`CollectContext::capture`] of the file at `path` (its own path: no symlink at its end),
/// its digests noted for the collectors that read it next (with its MD5 when `md5`) when it
/// was read whole and did not change meanwhile.
pub fn capture_noted(
    ctx: &mut CollectContext<'_>,
    cache: &DigestCache,
    path: &Path,
    limit: u64,
    md5: bool,
) -> Option<Captured> {
    if ctx.host_lost().is_some() {
        return None;
    }
    let out = match ctx.host().read(path, limit) {
        Ok(out) => out,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            ctx.host_error(&e);
            return None;
        }
    };
    let settled = (!out.truncated && !out.changed_during_read).then(|| out.meta.clone());
    let c = ctx.store_read(path, out)?;
    if let Some(id) = settled.and_then(|m| FileId::new(&ptext(path), &m)) {
        let digests = FileDigests {
            sha256: c.member.sha256.clone(),
            md5: md5.then(|| hex(&Md5::digest(&c.data))),
            copy: Some(c.source_ref(path)),
        };
        cache.put(id, digests);
    }
    Some(c)
}

/// Copies the regular file at `path` (`meta` from its `stat`) into the bundle within `cap`
/// ([`copy_capped`]), unless a collector already copied this same file (same identity) from
/// this same path: that copy is given instead of a second one. A whole, settled copy is
/// noted for the others. `cache` is `None` when `path` ends in a symlink (its target may
/// change between two reads): then the copy is made and not noted.
pub(crate) fn copy_once(
    ctx: &mut CollectContext<'_>,
    cache: Option<&DigestCache>,
    path: &Path,
    meta: &FileMeta,
    cap: u64,
) -> Option<Copied> {
    let text = ptext(path);
    let id = cache.and_then(|_| FileId::new(&text, meta));
    if let Some(copy) = id
        .as_ref()
        .filter(|id| id.size <= cap)
        .and_then(|id| cache?.get(id))
        .and_then(|d| d.copy)
        .filter(|c| c.path == text && c.member.is_some())
    {
        return Some(Copied {
            source: copy,
            whole: Some(meta.size),
            settled: None,
        });
    }
    let c = copy_capped(ctx, path, meta.size, cap)?;
    if let (Some(cache), Some(settled)) = (cache, &c.settled) {
        cache.put_copy(&text, Some(settled), &c.source, None);
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::host::{DirEntry, FileReader, HostInfo};
    use dossier_plugin_api::testing::{MemHost, MemSink};
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A host that counts the files opened.
    struct Opens<'a>(&'a MemHost, AtomicUsize);

    impl Opens<'_> {
        fn count(&self) -> usize {
            self.1.load(Ordering::Relaxed)
        }
    }

    impl Host for Opens<'_> {
        fn info(&self) -> HostInfo {
            self.0.info()
        }
        fn lstat(&self, p: &Path) -> Result<FileMeta, HostError> {
            self.0.lstat(p)
        }
        fn stat(&self, p: &Path) -> Result<FileMeta, HostError> {
            self.0.stat(p)
        }
        fn read_link(&self, p: &Path) -> Result<PathBuf, HostError> {
            self.0.read_link(p)
        }
        fn read_dir(&self, p: &Path) -> Result<Vec<DirEntry>, HostError> {
            self.0.read_dir(p)
        }
        fn open(&self, p: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.open(p)
        }
    }

    fn meta(size: u64, mtime: i64, inode: Option<u64>) -> FileMeta {
        FileMeta {
            kind: FileKind::File,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size,
            nlink: None,
            mtime: Timestamp::from_unix(mtime, 0),
            ctime: None,
            atime: None,
            dev: inode.map(|_| 1),
            inode,
        }
    }

    fn digests_of(sha: &str) -> FileDigests {
        FileDigests {
            sha256: sha.into(),
            ..Default::default()
        }
    }

    #[test]
    fn same_identity_hits_and_any_difference_misses() {
        let cache = DigestCache::default();
        let id = |size, mtime, inode| FileId::new("/usr/bin/x", &meta(size, mtime, inode));
        cache.put(id(10, 100, None).unwrap(), digests_of("a"));
        cache.put(id(10, 100, Some(7)).unwrap(), digests_of("b"));
        assert_eq!(cache.get(&id(10, 100, None).unwrap()).unwrap().sha256, "a");
        assert_eq!(
            cache.get(&id(10, 100, Some(7)).unwrap()).unwrap().sha256,
            "b"
        );
        assert!(cache.get(&id(11, 100, None).unwrap()).is_none(), "size");
        assert!(cache.get(&id(10, 101, None).unwrap()).is_none(), "mtime");
        assert!(cache.get(&id(10, 100, Some(8)).unwrap()).is_none(), "inode");
        let other = FileId::new("/usr/bin/y", &meta(10, 100, None)).unwrap();
        assert!(cache.get(&other).is_none(), "path");
        // Nothing tells a changed file apart, or it is not a regular file: never an identity.
        let mut m = meta(10, 0, None);
        m.mtime = None;
        assert!(FileId::new("/x", &m).is_none());
        m.kind = FileKind::Dir;
        m.inode = Some(3);
        m.dev = Some(1);
        assert!(FileId::new("/x", &m).is_none());
    }

    #[test]
    fn an_entry_keeps_what_an_earlier_one_knew_of_the_same_content() {
        let cache = DigestCache::default();
        let id = FileId::new("/x", &meta(1, 1, None)).unwrap();
        let copy = SourceRef {
            path: "/x".into(),
            member: Some("raw/x".into()),
            sha256: Some("a".into()),
        };
        cache.put(
            id.clone(),
            FileDigests {
                copy: Some(copy.clone()),
                ..digests_of("a")
            },
        );
        cache.put(
            id.clone(),
            FileDigests {
                md5: Some("m".into()),
                ..digests_of("a")
            },
        );
        let d = cache.get(&id).unwrap();
        assert_eq!((d.md5.as_deref(), d.copy), (Some("m"), Some(copy)));
        // Other content under the same identity: the newer reading alone.
        cache.put(id.clone(), digests_of("b"));
        assert_eq!(cache.get(&id).unwrap(), digests_of("b"));
    }

    #[test]
    fn a_file_is_read_once_for_both_digests() {
        let mem = MemHost::new(true)
            .exe("/usr/bin/x", "program")
            .link("/proc/9/exe", "/usr/bin/x");
        let host = Opens(&mem, AtomicUsize::new(0));
        let cache = DigestCache::default();
        let m = host.lstat(Path::new("/usr/bin/x")).unwrap();
        let id = FileId::new("/usr/bin/x", &m);
        // Read through another name of the file, noted under its own path.
        let first = digests(
            &host,
            &cache,
            id.as_ref(),
            Path::new("/proc/9/exe"),
            1 << 20,
            true,
        )
        .unwrap();
        assert_eq!(first.sha256, hex(&Sha256::digest(b"program")));
        assert_eq!(first.md5, Some(hex(&Md5::digest(b"program"))));
        let again = digests(
            &host,
            &cache,
            id.as_ref(),
            Path::new("/usr/bin/x"),
            1 << 20,
            true,
        )
        .unwrap();
        assert_eq!((again, host.count()), (first.clone(), 1));
        // Without an identity nothing is looked up; a cap under the size is read again.
        digests(&host, &cache, None, Path::new("/usr/bin/x"), 1 << 20, false).unwrap();
        let cut = digests(
            &host,
            &cache,
            id.as_ref(),
            Path::new("/usr/bin/x"),
            3,
            false,
        )
        .unwrap();
        assert!(cut.truncated && cut.bytes == 3);
        assert_eq!(host.count(), 3);
    }

    #[test]
    fn a_changed_file_or_a_missing_md5_is_read_again() {
        let cache = DigestCache::default();
        let old = MemHost::new(true).exe("/usr/bin/x", "program");
        let id = FileId::new("/usr/bin/x", &old.lstat(Path::new("/usr/bin/x")).unwrap());
        let p = Path::new("/usr/bin/x");
        digests(&old, &cache, id.as_ref(), p, 1 << 20, false).unwrap();
        let host = Opens(&old, AtomicUsize::new(0));
        let h = digests(&host, &cache, id.as_ref(), p, 1 << 20, true).unwrap();
        assert!(h.md5.is_some());
        assert_eq!(host.count(), 1, "no MD5 in the entry: read again");
        // Same path and size, another modification time: another file.
        let new = MemHost::new(true)
            .exe("/usr/bin/x", "PROGRAM")
            .mtime("/usr/bin/x", 1_800_000_000);
        let new_id = FileId::new("/usr/bin/x", &new.lstat(p).unwrap());
        let host = Opens(&new, AtomicUsize::new(0));
        let h = digests(&host, &cache, new_id.as_ref(), p, 1 << 20, false).unwrap();
        assert_eq!(h.sha256, hex(&Sha256::digest(b"PROGRAM")));
        assert_eq!(host.count(), 1);
    }

    #[test]
    fn a_file_copied_from_the_same_path_is_copied_once() {
        let mem = MemHost::new(true)
            .exe("/usr/local/bin/ls", "shadow")
            .link("/usr/local/bin/l", "ls");
        let (mut sink, mut store, prior) = (MemSink::default(), HashMap::new(), HashMap::new());
        let config = serde_json::Value::Null;
        let mut ctx = CollectContext::new("t", &mem, &mut sink, &config, &prior, &mut store);
        let cache = DigestCache::of(&mut ctx);
        let p = Path::new("/usr/local/bin/ls");
        let m = mem.stat(p).unwrap();
        let first = copy_once(&mut ctx, Some(&cache), p, &m, 1 << 20).unwrap();
        assert_eq!(first.whole, Some(6));
        let same = DigestCache::of(&mut ctx);
        let again = copy_once(&mut ctx, Some(&same), p, &m, 1 << 20);
        assert_eq!(again.unwrap().source, first.source);
        // Its digests are known to whoever hashes it next.
        let id = FileId::new("/usr/local/bin/ls", &m);
        let d = cache.get(id.as_ref().unwrap()).unwrap();
        assert_eq!(Some(d.sha256), first.source.sha256);
        // Through a symlink: copied, and not noted.
        let l = Path::new("/usr/local/bin/l");
        let c = copy_once(&mut ctx, None, l, &m, 1 << 20).unwrap();
        assert_eq!(c.source.member.as_deref(), Some("raw/usr/local/bin/l"));
        drop(ctx);
        assert_eq!(sink.raw.len(), 2, "{:?}", sink.raw.keys());
    }
}
