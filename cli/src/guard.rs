//! The secrets guard: what no bundle may ever hold, enforced in the one place every copy goes
//! through.
//!
//! Every byte a collector (built in or a plugin, through its bridge) puts into a bundle as
//! raw evidence reaches the bundle writer through the [`EvidenceSink`] that the orchestrator
//! gives each collector run: [`GuardedSink`], which wraps the writer. Its `store_raw` (bytes a
//! collector read through the host) and its `copy_raw` (the writer opens and streams the file
//! itself, through [`CheckedHost`], whose `open` checks the descriptor it returns) refuse,
//! whatever path led to the file:
//! - one of the target's files that are never copied (`/etc/shadow`, `/etc/gshadow`, their
//!   `-` backups, the SSH host private keys `/etc/ssh/ssh_host_*_key`), recognised by the
//!   device and inode of the *opened* file (a symlink or hard link to it is the same file),
//!   and by size and SHA-256 where the transport has no inodes (SFTP);
//! - a file reached through a symlink owned by a user other than root, when that user does
//!   not own the file it leads to (`ln -s /etc/shadow ~/.profile`, a link to root's or another
//!   user's private key). The kernel's own files of a live process (`/proc/PID/exe`, ...) are
//!   not users' links.
//!
//! A refusal is one issue of the collector, saying why (the file is not copied; the records
//! still describe the link); the collector and the run go on.

use dossier_bundle::writer::BundleWriter;
use dossier_plugin_api::collect::{
    CopyError, CopyObserver, EvidenceSink, Issue, MemberRef, RawCopy, RawSource,
};
use dossier_plugin_api::encoding::{hex, path_to_text, text_to_path};
use dossier_plugin_api::host::{
    DirEntry, ExecLimits, ExecOutput, FileKind, FileMeta, FileReader, Host, HostError,
    HostErrorKind, HostInfo, ReadOutcome,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// Files of a target that are never copied into a bundle.
const NEVER_COPIED: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
];
/// Largest never-copied file whose content is remembered (for transports without inodes).
const SUM_MAX: u64 = 1 << 20;
/// Most symlinks followed while checking one path (the kernel's limit).
const MAX_LINKS: usize = 40;
/// The never-copied files a built-in collector reads at their own path, to derive from them
/// what is not secret: the accounts collector takes each account's password status, hash
/// scheme and dates from `/etc/shadow` (and the file's SHA-256), never a hash. Reached by
/// any other path, or read by any other collector or a plugin, they are refused like a copy.
const OWN_READS: &[(&str, &str)] = &[("accounts", "/etc/shadow")];

/// An intermediate path component as checked: its type and owner, and its target when it is
/// a symlink.
#[derive(Clone)]
struct Hop {
    kind: FileKind,
    uid: u32,
    id: Option<(u64, u64)>,
    target: Option<PathBuf>,
}

/// The never-copied files of one target and the checks every copy passes.
pub struct SecretGuard {
    live: bool,
    /// Device and inode of each never-copied file, with its path (hard links: one each).
    ids: Vec<((u64, u64), String)>,
    /// Size and SHA-256 of each never-copied file, with its path.
    sums: Vec<(u64, String, String)>,
    /// Intermediate components already checked (directories repeat across copies).
    hops: Mutex<HashMap<PathBuf, Hop>>,
}

impl SecretGuard {
    /// The guard for `host`: finds its never-copied files (those that exist) and notes their
    /// identity and content hash.
    pub fn for_host(host: &dyn Host) -> Self {
        let mut paths: Vec<PathBuf> = NEVER_COPIED.iter().map(PathBuf::from).collect();
        let ssh = Path::new("/etc/ssh");
        for e in host.read_dir(ssh).unwrap_or_default() {
            let n = e.name.to_string_lossy();
            if n.starts_with("ssh_host_") && n.ends_with("_key") {
                paths.push(ssh.join(&e.name));
            }
        }
        let mut guard = SecretGuard {
            live: host.info().live,
            ids: Vec::new(),
            sums: Vec::new(),
            hops: Mutex::new(HashMap::new()),
        };
        for p in paths {
            let Ok(meta) = host.stat(&p) else { continue };
            if meta.kind != FileKind::File {
                continue;
            }
            let text = path_to_text(&p);
            if let Some(id) = meta.identity() {
                guard.ids.push((id, text.clone()));
            }
            if let Ok(out) = host.read(&p, SUM_MAX)
                && !out.truncated
            {
                let sum = hex(&Sha256::digest(&out.data));
                guard.sums.push((out.data.len() as u64, sum, text));
            }
        }
        guard
    }

    /// Why the file opened at `path` (metadata `opened`, content `data` when at hand) must
    /// not be copied or read, if it must not. `own` is the never-copied file the reader may
    /// read at its own path (see [`OWN_READS`]).
    fn refusal(
        &self,
        host: &dyn Host,
        path: &Path,
        opened: Option<&FileMeta>,
        data: Option<&[u8]>,
        own: Option<&str>,
    ) -> Option<String> {
        let other = |secret: &str| !(own == Some(secret) && path == Path::new(secret));
        let id = opened.and_then(FileMeta::identity);
        if let Some((_, secret)) = id.and_then(|id| {
            self.ids
                .iter()
                .find(|(i, secret)| *i == id && other(secret))
        }) {
            return Some(format!(
                "the file opened is {secret} (same device and inode), which is never copied or read into a bundle"
            ));
        }
        if let Some(secret) = data
            .and_then(|d| self.same_content(d))
            .filter(|secret| other(secret))
        {
            return Some(format!(
                "the content is that of {secret}, which is never copied or read into a bundle"
            ));
        }
        if self.live && proc_entry(path) {
            return None;
        }
        let walk = match self.walk(host, path) {
            Ok(w) => w,
            Err(e) => {
                return Some(format!("cannot check the path it was reached by ({e})"));
            }
        };
        let owner = opened.map_or(walk.uid, |m| m.uid);
        if let Some((link, uid)) = walk.links.iter().find(|(_, uid)| *uid != owner) {
            return Some(format!(
                "reached through {}, a symlink owned by uid {uid}, to a file owned by uid {owner}",
                path_to_text(link)
            ));
        }
        match (id, walk.id) {
            (Some(a), Some(b)) if a != b && !walk.links.is_empty() => {
                Some("the path changed between opening and checking".to_string())
            }
            _ => None,
        }
    }

    /// The never-copied file whose content `data` is, if any.
    fn same_content(&self, data: &[u8]) -> Option<&str> {
        let len = data.len() as u64;
        if !self.sums.iter().any(|(n, _, _)| *n == len) {
            return None;
        }
        let sum = hex(&Sha256::digest(data));
        self.sums
            .iter()
            .find(|(n, s, _)| *n == len && *s == sum)
            .map(|(_, _, p)| p.as_str())
    }

    /// Whether a file of `size` bytes could be a never-copied one by content.
    fn size_of_secret(&self, size: u64) -> bool {
        self.sums.iter().any(|(n, _, _)| *n == size)
    }

    /// Resolves `path` component by component on `host`: the symlinks on the way that are
    /// not root's, with their owners, and what the path ends at.
    fn walk(&self, host: &dyn Host, path: &Path) -> Result<Walk, HostError> {
        let mut todo: VecDeque<OsString> = comps(path);
        let mut cur = PathBuf::from("/");
        let mut links = Vec::new();
        let mut followed = 0;
        // Owner and identity of the last component resolved (the end, once `todo` is empty).
        let mut end = None;
        loop {
            let Some(c) = todo.pop_front() else {
                let (uid, id) = match end {
                    Some(e) => e,
                    None => host.stat(&cur).map(|m| (m.uid, m.identity()))?,
                };
                return Ok(Walk { links, uid, id });
            };
            if c == ".." {
                cur.pop();
                end = None;
                continue;
            }
            let next = cur.join(&c);
            let hop = if todo.is_empty() {
                self.hop_of(host, &next)?
            } else {
                self.cached_hop(host, &next)?
            };
            let Some(target) = hop.target else {
                end = Some((hop.uid, hop.id));
                cur = next;
                continue;
            };
            followed += 1;
            if followed > MAX_LINKS {
                return Err(HostError::new(
                    HostErrorKind::Loop,
                    path,
                    "too many symbolic links",
                ));
            }
            if hop.uid != 0 {
                links.push((next, hop.uid));
            }
            if target.is_absolute() {
                cur = PathBuf::from("/");
            }
            for t in comps(&target).into_iter().rev() {
                todo.push_front(t);
            }
        }
    }

    fn cached_hop(&self, host: &dyn Host, p: &Path) -> Result<Hop, HostError> {
        if let Some(h) = self.hops.lock().expect("not poisoned").get(p) {
            return Ok(h.clone());
        }
        let h = self.hop_of(host, p)?;
        if matches!(h.kind, FileKind::Dir | FileKind::Symlink) {
            self.hops
                .lock()
                .expect("not poisoned")
                .insert(p.to_path_buf(), h.clone());
        }
        Ok(h)
    }

    fn hop_of(&self, host: &dyn Host, p: &Path) -> Result<Hop, HostError> {
        let m = host.lstat(p)?;
        let target = if m.kind == FileKind::Symlink {
            Some(host.read_link(p)?)
        } else {
            None
        };
        Ok(Hop {
            kind: m.kind,
            uid: m.uid,
            id: m.identity(),
            target,
        })
    }
}

/// What checking a path found.
struct Walk {
    /// Symlinks on the way that are not root's, and their owners.
    links: Vec<(PathBuf, u32)>,
    /// Owner and identity of the file the path ends at.
    uid: u32,
    id: Option<(u64, u64)>,
}

/// Whether `path` is a file of a process, `/proc/PID/NAME` (`exe`, `environ`, ...): on a live
/// host the kernel makes these, links included (`exe` may end in ` (deleted)`), not a user.
fn proc_entry(path: &Path) -> bool {
    let c = comps(path);
    c.len() == 3 && c[0] == "proc" && !c.iter().any(|x| x == "..")
}

/// The normal components of `p` and its `..` (`.` and the root dropped).
fn comps(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// The bundle writer as the [`EvidenceSink`] of one collector run, behind the guard.
pub struct GuardedSink<'a> {
    pub writer: &'a mut BundleWriter,
    pub host: &'a dyn Host,
    pub guard: &'a SecretGuard,
}

impl EvidenceSink for GuardedSink<'_> {
    fn store_raw(&mut self, source: &RawSource, data: &[u8]) -> Result<MemberRef, String> {
        if source.path.starts_with('/') {
            let path = text_to_path(&source.path);
            let why = self
                .guard
                .refusal(self.host, &path, source.meta.as_ref(), Some(data), None);
            if let Some(why) = why {
                return Err(format!("refused: {why}; not copied"));
            }
        } else if let Some(secret) = self.guard.same_content(data) {
            return Err(format!(
                "refused: the content is that of {secret}; not copied"
            ));
        }
        self.writer.store_raw(source, data)
    }

    fn copy_raw(&mut self, host: &dyn Host, path: &Path, limit: u64) -> Result<RawCopy, CopyError> {
        let checked = CheckedHost {
            host,
            guard: self.guard,
            own: None,
        };
        self.writer.copy_raw(&checked, path, limit)
    }

    fn copy_raw_observed(
        &mut self,
        host: &dyn Host,
        path: &Path,
        limit: u64,
        observer: &mut dyn CopyObserver,
    ) -> Option<Result<RawCopy, CopyError>> {
        let checked = CheckedHost {
            host,
            guard: self.guard,
            own: None,
        };
        Some(self.writer.copy_observed(&checked, path, limit, observer))
    }

    fn record(&mut self, collector: &str, record: serde_json::Value) -> Result<(), String> {
        self.writer.record(collector, record)
    }

    fn record_line(&mut self, collector: &str, line: &[u8]) -> Result<(), String> {
        self.writer.record_line(collector, line)
    }

    fn issue(&mut self, collector: &str, issue: Issue) {
        self.writer.issue(collector, issue);
    }

    fn log(&mut self, collector: &str, message: &str) {
        self.writer.log(collector, message);
    }
}

/// A host whose file content is checked by the guard before anyone sees it: `open` (and so
/// `hash_file`) on the descriptor it returns, `read` on the file it read. It is the host every
/// collector run sees (built in, or a plugin through its bridge: see
/// [`CheckedHost::for_collector`]), and what the bundle writer streams from in `copy_raw`.
/// Metadata, listings, link targets and `exec` are the host's.
pub struct CheckedHost<'a> {
    host: &'a dyn Host,
    guard: &'a SecretGuard,
    /// The never-copied file this reader may read at its own path (see [`OWN_READS`]).
    own: Option<&'static str>,
}

impl<'a> CheckedHost<'a> {
    /// The host the collector `name` runs against (`builtin`: not a plugin): every read of
    /// file content is judged like a copy, and refused with [`HostErrorKind::PermissionDenied`]
    /// (`refused: ...`), which the collector records as an issue.
    pub fn for_collector(
        host: &'a dyn Host,
        guard: &'a SecretGuard,
        name: &str,
        builtin: bool,
    ) -> Self {
        let own = OWN_READS
            .iter()
            .find(|(c, _)| builtin && *c == name)
            .map(|(_, p)| *p);
        CheckedHost { host, guard, own }
    }

    /// The refusal of the file opened at `path`, as a host error.
    /// A file read through the transport's own `read` (over SSH, pipelined), judged before
    /// the bytes are handed on. Without an inode the content tells: a cut read of a file
    /// the size of a secret is read again whole to be judged.
    fn judged(&self, path: &Path, out: ReadOutcome) -> Result<ReadOutcome, HostError> {
        let whole;
        let data = if out.meta.identity().is_some() {
            None
        } else if !out.truncated {
            Some(out.data.as_slice())
        } else if self.guard.size_of_secret(out.meta.size) {
            whole = self.host.read(path, SUM_MAX)?;
            Some(whole.data.as_slice())
        } else {
            None
        };
        self.check(path, &out.meta, data)?;
        Ok(out)
    }

    fn check(&self, path: &Path, meta: &FileMeta, data: Option<&[u8]>) -> Result<(), HostError> {
        match self
            .guard
            .refusal(self.host, path, Some(meta), data, self.own)
        {
            Some(why) => Err(HostError::new(
                HostErrorKind::PermissionDenied,
                path,
                format!("refused: {why}; not read"),
            )),
            None => Ok(()),
        }
    }
}

impl Host for CheckedHost<'_> {
    fn info(&self) -> HostInfo {
        self.host.info()
    }
    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.host.lstat(path)
    }
    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.host.stat(path)
    }
    fn lstat_many(&self, paths: &[PathBuf]) -> Vec<Result<FileMeta, HostError>> {
        self.host.lstat_many(paths)
    }
    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        self.host.read_link(path)
    }
    fn read_links(&self, paths: &[PathBuf]) -> Vec<Result<PathBuf, HostError>> {
        self.host.read_links(paths)
    }
    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        self.host.read_dir(path)
    }
    fn read_dirs(&self, paths: &[PathBuf]) -> Vec<Result<Vec<DirEntry>, HostError>> {
        self.host.read_dirs(paths)
    }
    fn xattr(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        self.host.xattr(path, name)
    }
    fn exec(&self, argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        self.host.exec(argv, limits)
    }

    fn read(&self, path: &Path, limit: u64) -> Result<ReadOutcome, HostError> {
        let out = self.host.read(path, limit)?;
        self.judged(path, out)
    }

    fn read_many(&self, paths: &[PathBuf], limit: u64) -> Vec<Result<ReadOutcome, HostError>> {
        // The transport's batch, each file judged as `read` judges it.
        let outs = self.host.read_many(paths, limit);
        outs.into_iter()
            .zip(paths)
            .map(|(r, p)| r.and_then(|out| self.judged(p, out)))
            .collect()
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        let mut f = self.host.open(path)?;
        let meta = f.meta().clone();
        // Without an inode, a file the size of a secret is read first and judged by content.
        let mut buffered = None;
        if meta.identity().is_none() && self.guard.size_of_secret(meta.size) {
            let mut data = Vec::new();
            f.by_ref()
                .take(SUM_MAX + 1)
                .read_to_end(&mut data)
                .map_err(|e| {
                    HostError::new(HostErrorKind::Other, path, format!("read failed: {e}"))
                })?;
            buffered = Some(data);
        }
        self.check(path, &meta, buffered.as_deref())?;
        Ok(match buffered {
            Some(data) => Box::new(Buffered {
                data: Cursor::new(data),
                inner: f,
            }),
            None => f,
        })
    }
}

/// A file read ahead into memory (to be judged by content), served from there.
struct Buffered<'a> {
    data: Cursor<Vec<u8>>,
    inner: Box<dyn FileReader + 'a>,
}

impl Read for Buffered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.data.read(buf)? {
            0 => self.inner.read(buf),
            n => Ok(n),
        }
    }
}

impl FileReader for Buffered<'_> {
    fn meta(&self) -> &FileMeta {
        self.inner.meta()
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        self.inner.meta_now()
    }
}

/// The tests' skip-or-fail rule, shared with `dossier-tests` (which this crate cannot depend
/// on): the original is `tests/src/skip.rs`.
#[cfg(test)]
#[path = "../../tests/src/skip.rs"]
mod skip;

#[cfg(test)]
mod tests {
    //! The attack on the live host: files planted by `nobody` in a temporary home, read by
    //! the live [`LocalHost`](crate::local::LocalHost) as root.
    use super::*;
    use crate::local::LocalHost;
    use std::os::unix::fs::{PermissionsExt, chown, lchown, symlink};

    const NOBODY: u32 = 65534;

    fn root_or_skip() -> bool {
        if nix::unistd::Uid::effective().is_root() {
            return true;
        }
        skip::skip_or_fail("the secrets guard test needs root (lchown)");
        false
    }

    #[test]
    fn only_a_process_own_files_skip_the_link_check() {
        assert!(proc_entry(Path::new("/proc/42/exe")));
        assert!(proc_entry(Path::new("/proc/self/environ")));
        assert!(!proc_entry(Path::new("/proc/42/root/etc/shadow")));
        assert!(!proc_entry(Path::new("/proc/42/../../home/a/.profile")));
        assert!(!proc_entry(Path::new("/home/alice/.profile")));
    }

    /// As root, a temp folder with a home owned by `nobody` whose `.profile` links to
    /// `/etc/shadow`, `.bashrc` to a root-only key beside the home and `.bash_logout` to a file
    /// of nobody's own, each link owned by nobody; `None` (skipped, or failed under CI) when not
    /// root or without `/etc/shadow`.
    fn nobody_home() -> Option<(tempfile::TempDir, PathBuf)> {
        if !root_or_skip() {
            return None;
        }
        if !Path::new("/etc/shadow").is_file() {
            skip::skip_or_fail("no /etc/shadow on this machine");
            return None;
        }
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        std::fs::create_dir(&home).unwrap();
        chown(&home, Some(NOBODY), Some(NOBODY)).unwrap();
        let root_key = d.path().join("id_ed25519");
        std::fs::write(&root_key, "ROOT-PRIVATE-KEY").unwrap();
        std::fs::set_permissions(&root_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let own = home.join("own");
        std::fs::write(&own, "nobody's own").unwrap();
        chown(&own, Some(NOBODY), Some(NOBODY)).unwrap();
        for (name, target) in [
            (".profile", Path::new("/etc/shadow")),
            (".bashrc", root_key.as_path()),
            (".bash_logout", own.as_path()),
        ] {
            symlink(target, home.join(name)).unwrap();
            lchown(home.join(name), Some(NOBODY), Some(NOBODY)).unwrap();
        }
        Some((d, home))
    }

    #[test]
    fn a_nobody_link_to_a_secret_or_a_root_file_is_refused_on_the_live_host() {
        let Some((d, home)) = nobody_home() else {
            return;
        };
        let host = LocalHost::live();
        let guard = SecretGuard::for_host(&host);
        let out = d.path().join("out");
        let mut writer = BundleWriter::create(&out, "guard-test").unwrap();
        let mut sink = GuardedSink {
            writer: &mut writer,
            host: &host,
            guard: &guard,
        };
        let denied = |r: Result<RawCopy, CopyError>| match r {
            Err(CopyError::Host(e)) if e.kind == HostErrorKind::PermissionDenied => e.message,
            other => panic!("not refused: {other:?}"),
        };
        let msg = denied(sink.copy_raw(&host, &home.join(".profile"), 1 << 20));
        assert!(
            msg.contains("/etc/shadow") && msg.contains("inode"),
            "{msg}"
        );
        let msg = denied(sink.copy_raw(&host, &home.join(".bashrc"), 1 << 20));
        assert!(
            msg.contains("owned by uid 65534, to a file owned by uid 0"),
            "{msg}"
        );
        // Bytes a collector read itself are judged by the opened file's metadata.
        let p = home.join(".profile");
        let read = host.read(&p, 1 << 20).unwrap();
        let source = RawSource {
            path: path_to_text(&p),
            meta: Some(read.meta.clone()),
            meta_after: None,
            truncated: false,
            changed_during_read: false,
        };
        let e = sink.store_raw(&source, &read.data).unwrap_err();
        assert!(
            e.starts_with("refused: ") && e.contains("/etc/shadow"),
            "{e}"
        );
        // Even with no metadata at all (a plugin's bytes), the content gives it away.
        let e = sink
            .store_raw(
                &RawSource {
                    meta: None,
                    ..source
                },
                &read.data,
            )
            .unwrap_err();
        assert!(e.contains("/etc/shadow"), "{e}");
        // A link to the user's own file is copied as before.
        let c = sink
            .copy_raw(&host, &home.join(".bash_logout"), 1 << 20)
            .unwrap();
        assert_eq!(c.member.size, 12);
    }

    #[test]
    fn a_collector_reads_no_secret_through_a_nobody_link_on_the_live_host() {
        let Some((_d, home)) = nobody_home() else {
            return;
        };
        let live = LocalHost::live();
        let guard = SecretGuard::for_host(&live);
        let denied = |r: Result<(), HostError>, what: &str| {
            let e = r.expect_err("not refused");
            assert_eq!(e.kind, HostErrorKind::PermissionDenied, "{e}");
            assert!(
                e.message.starts_with("refused: ") && e.message.contains(what),
                "{e}"
            );
        };
        // Every way to content: read, open, hash_file. The accounts collector may read
        // /etc/shadow at its own path, not through the link; no other reader may.
        for (name, builtin) in [("hooks", true), ("accounts", true), ("accounts", false)] {
            let host = CheckedHost::for_collector(&live, &guard, name, builtin);
            let profile = home.join(".profile");
            denied(host.read(&profile, 1 << 20).map(drop), "/etc/shadow");
            denied(host.open(&profile).map(drop), "/etc/shadow");
            denied(host.hash_file(&profile, 1 << 20).map(drop), "/etc/shadow");
            let bashrc = home.join(".bashrc");
            denied(host.read(&bashrc, 1 << 20).map(drop), "owned by uid 65534");
            denied(
                host.hash_file(&bashrc, 1 << 20).map(drop),
                "owned by uid 65534",
            );
            let shadow = Path::new("/etc/shadow");
            if name == "accounts" && builtin {
                assert!(host.read(shadow, 1 << 20).is_ok());
                assert!(host.hash_file(shadow, 1 << 20).is_ok());
            } else {
                denied(
                    host.read(shadow, 1 << 20).map(drop),
                    "same device and inode",
                );
            }
            let out = host.read(&home.join(".bash_logout"), 100).unwrap();
            assert_eq!(out.data, b"nobody's own");
        }
    }
    /// A host without inodes (as SFTP is): `inner`'s files, their device and inode dropped.
    struct NoInodes<'a>(&'a dyn Host);

    fn strip(mut m: FileMeta) -> FileMeta {
        m.dev = None;
        m.inode = None;
        m
    }

    struct StrippedReader<'a>(Box<dyn FileReader + 'a>, FileMeta);

    impl Read for StrippedReader<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl FileReader for StrippedReader<'_> {
        fn meta(&self) -> &FileMeta {
            &self.1
        }
        fn meta_now(&mut self) -> Result<FileMeta, HostError> {
            self.0.meta_now().map(strip)
        }
    }

    impl Host for NoInodes<'_> {
        fn info(&self) -> HostInfo {
            self.0.info()
        }
        fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
            self.0.lstat(path).map(strip)
        }
        fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
            self.0.stat(path).map(strip)
        }
        fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
            self.0.read_link(path)
        }
        fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
            self.0.read_dir(path)
        }
        fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
            let f = self.0.open(path)?;
            let m = strip(f.meta().clone());
            Ok(Box::new(StrippedReader(f, m)))
        }
    }

    #[test]
    fn without_inodes_a_secret_is_known_by_content_even_when_the_read_is_cut() {
        let d = tempfile::tempdir().unwrap();
        let secret = "root:$6$salt$hashhashhash:20000:0:99999:7:::\n";
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::create_dir_all(d.path().join("home/a")).unwrap();
        std::fs::write(d.path().join("etc/shadow"), secret).unwrap();
        // A copy of it (same owner, no link): only the content gives it away.
        std::fs::write(d.path().join("home/a/notes"), secret).unwrap();
        std::fs::write(d.path().join("home/a/other"), "x".repeat(secret.len())).unwrap();
        let image = LocalHost::image(d.path()).unwrap();
        let sftp = NoInodes(&image);
        let guard = SecretGuard::for_host(&sftp);
        assert!(guard.ids.is_empty() && guard.sums.len() == 1);
        let host = CheckedHost::for_collector(&sftp, &guard, "cron", true);
        let notes = Path::new("/home/a/notes");
        for limit in [5, 1 << 20] {
            let e = host.read(notes, limit).unwrap_err();
            assert!(e.message.contains("content is that of /etc/shadow"), "{e}");
        }
        let e = host.hash_file(notes, 5).unwrap_err();
        assert!(e.message.contains("content is that of /etc/shadow"), "{e}");
        // The same size, other content: read (cut as asked).
        let out = host.read(Path::new("/home/a/other"), 5).unwrap();
        assert_eq!((out.data.as_slice(), out.truncated), (&b"xxxxx"[..], true));
        // Read in a batch, each file is judged the same.
        let batch = [notes, Path::new("/home/a/other"), notes].map(Path::to_path_buf);
        for limit in [5, 1 << 20] {
            let outs = host.read_many(&batch, limit);
            assert_eq!(outs.len(), 3);
            for i in [0, 2] {
                let e = outs[i].as_ref().unwrap_err();
                assert!(e.message.contains("content is that of /etc/shadow"), "{e}");
            }
            assert!(outs[1].as_ref().unwrap().data.starts_with(b"xxxxx"));
        }
        // The accounts collector reads the secret at its own path, by content too.
        let accounts = CheckedHost::for_collector(&sftp, &guard, "accounts", true);
        assert_eq!(
            accounts.read(Path::new("/etc/shadow"), 5).unwrap().data,
            b"root:"
        );
        assert!(accounts.read(notes, 5).is_err());
    }
}
