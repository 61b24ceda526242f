//! The `local-bin` collector: what sits in the `PATH` directories searched before the
//! system's (`/usr/local/sbin`, `/usr/local/bin`).
//!
//! Every entry is recorded with its metadata and link target. An entry named like a program
//! that a package installs in `/usr/bin`, `/usr/sbin`, `/bin` or `/sbin` shadows it for every
//! shell and script that relies on `PATH`: such entries are hashed, and copied into the bundle
//! when no package owns them. Package ownership comes from the package database shared with
//! the `packages` collector (loaded once per host).

use crate::shared::filedigest::{DigestCache, FileId, copy_once, digests};
use crate::shared::pkgdb::PackageDb;
use crate::util::{ByteSize, canonicalize, name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::host::{FileKind, FileMeta};
use dossier_plugin_api::records::{LocalBinRecord, Record, SourceRef};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo, Timestamp};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// The `local-bin` collector.
pub struct LocalBinCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Largest shadowing file copied (larger ones are hashed only).
    #[serde(default = "default_copy_cap")]
    max_copy_size: ByteSize,
    /// Most entries recorded per directory.
    #[serde(default = "default_max_entries")]
    max_entries: usize,
}

fn default_copy_cap() -> ByteSize {
    ByteSize(64 << 20)
}

fn default_max_entries() -> usize {
    10_000
}

/// Searched before the system directories in every distribution's default `PATH`.
const LOCAL_DIRS: &[&str] = &["/usr/local/sbin", "/usr/local/bin"];
const SYSTEM_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

impl Collector for LocalBinCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "local-bin".into(),
            version: crate::util::VERSION.into(),
            description: "Entries of /usr/local/{sbin,bin}; those shadowing a packaged program are hashed and, when unowned, copied".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let db = PackageDb::load(ctx);
        let cache = DigestCache::of(ctx);
        // Hard links (git, git-receive-pack, ...) are copied once.
        let mut copied = Copies::default();
        if let Some(why) = &db.unavailable {
            ctx.not_available("package database", why);
        }
        // /bin and /sbin are links into /usr on merged systems: name each directory once.
        let mut system_dirs: Vec<&str> = Vec::new();
        let mut canon_seen = std::collections::HashSet::new();
        for d in SYSTEM_DIRS {
            let c = canonicalize(ctx.host(), Path::new(d)).unwrap_or_else(|| d.into());
            if canon_seen.insert(c) {
                system_dirs.push(d);
            }
        }
        for dir in LOCAL_DIRS {
            let dir = Path::new(dir);
            let entries = ctx.list_dir(dir).unwrap_or_default();
            if entries.len() > cfg.max_entries {
                ctx.issue(
                    ptext(dir),
                    IssueKind::Incomplete,
                    format!(
                        "{} entries; only the first {} recorded",
                        entries.len(),
                        cfg.max_entries
                    ),
                );
            }
            for e in entries.into_iter().take(cfg.max_entries) {
                let path = dir.join(&e.name);
                let name = name_text(&e.name);
                let Some(meta) = ctx.lstat(&path) else {
                    continue;
                };
                if meta.kind == FileKind::Dir {
                    continue;
                }
                let text = ptext(&path);
                let link_target = (meta.kind == FileKind::Symlink)
                    .then(|| ctx.read_link(&path).map(|t| ptext(&t)))
                    .flatten();
                // A link to a packaged file (alternatives, admin conveniences) is as good as
                // owned: it runs the package's program.
                let resolved = (meta.kind == FileKind::Symlink)
                    .then(|| canonicalize(ctx.host(), &path))
                    .flatten()
                    .map(|p| ptext(&p));
                let owned = match (db.is_owned(&text), resolved.as_deref()) {
                    (Some(false), Some(r)) => db.is_owned(r),
                    (o, _) => o,
                };
                let shadows: Vec<String> = system_dirs
                    .iter()
                    .map(|d| format!("{d}/{name}"))
                    .filter(|p| db.is_owned(p) == Some(true))
                    .collect();
                let (sha256, copy) = if shadows.is_empty() {
                    (None, None)
                } else {
                    shadowing(ctx, &cache, &mut copied, &path, &meta, owned, &cfg)
                };
                ctx.emit(&Record::LocalBin(LocalBinRecord {
                    path: text,
                    name,
                    meta: Some(meta),
                    link_target,
                    owned,
                    shadows,
                    sha256,
                    copy,
                }))?;
            }
        }
        Ok(())
    }
}

/// The copies made so far, to copy hard links (`git`, `git-receive-pack`, ...) once.
#[derive(Default)]
struct Copies {
    /// By device and inode, where the transport knows them.
    by_inode: HashMap<(u64, u64), SourceRef>,
    /// Whole copies by size and modification time (over SFTP, which has no inodes: a file
    /// with those of an earlier copy is hashed first, and is that copy when its SHA-256 is).
    by_size: HashMap<(u64, Option<Timestamp>), SourceRef>,
}

impl Copies {
    /// An earlier copy of the file at `path` (metadata `real`) by its identity, or by its
    /// content (with its SHA-256, read to compare) when only its size and time match.
    fn earlier(
        &self,
        ctx: &mut CollectContext<'_>,
        cache: &DigestCache,
        fid: Option<&FileId>,
        path: &Path,
        real: &FileMeta,
    ) -> Option<(SourceRef, Option<String>)> {
        if let Some(id) = real.identity() {
            return self.by_inode.get(&id).map(|c| (c.clone(), None));
        }
        let c = self.by_size.get(&(real.size, real.mtime))?;
        let h = digests(ctx.host(), cache, fid, path, real.size, false).ok()?;
        (!h.truncated && c.sha256.as_deref() == Some(h.sha256.as_str()))
            .then(|| (c.clone(), Some(h.sha256)))
    }
}

/// The SHA-256 of an entry that shadows a packaged program and, when no package owns it,
/// its copy (a hard link of a file copied already is not copied again: see [`Copies`]).
fn shadowing(
    ctx: &mut CollectContext<'_>,
    cache: &DigestCache,
    copied: &mut Copies,
    path: &Path,
    meta: &FileMeta,
    owned: Option<bool>,
    cfg: &Config,
) -> (Option<String>, Option<SourceRef>) {
    let (mut sha256, mut copy) = (None, None);
    let Some(real) = ctx
        .host()
        .stat(path)
        .ok()
        .filter(|m| m.kind == FileKind::File)
    else {
        return (None, None);
    };
    // Known to the digest cache by its own path only (a symlink's target may change between
    // two reads).
    let known = (meta.kind == FileKind::File).then_some(cache);
    let fid = known.and_then(|_| FileId::new(&ptext(path), &real));
    if owned == Some(false) {
        match copied.earlier(ctx, cache, fid.as_ref(), path, &real) {
            Some((c, sha)) => (copy, sha256) = (Some(c), sha),
            // One read: the copy's SHA-256 is the file's when it is whole.
            None => {
                if let Some(c) = copy_once(ctx, known, path, &real, cfg.max_copy_size.0) {
                    if let Some(size) = c.whole {
                        sha256 = c.source.sha256.clone();
                        copied.by_size.insert((size, real.mtime), c.source.clone());
                    }
                    if let Some(id) = real.identity() {
                        copied.by_inode.insert(id, c.source.clone());
                    }
                    copy = Some(c.source);
                }
            }
        }
    }
    if sha256.is_none() {
        let cap = cfg.max_copy_size.0.max(1 << 30);
        sha256 = digests(ctx.host(), cache, fid.as_ref(), path, cap, false)
            .ok()
            .map(|h| h.sha256);
    }
    (sha256, copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::host::{DirEntry, FileReader, Host, HostError, HostInfo};
    use dossier_plugin_api::testing::{MemHost, run_collector};

    #[test]
    fn shadowing_entries_are_hashed_and_copied() {
        let h = MemHost::new(false)
            .link("/bin", "usr/bin")
            .file("/var/lib/dpkg/status", "Package: coreutils\nStatus: install ok installed\nVersion: 9.1-1\n\nPackage: tool\nStatus: install ok installed\nVersion: 1\n")
            .file("/var/lib/dpkg/info/coreutils.list", "/bin/ls\n/usr/bin/sleep\n")
            .file("/var/lib/dpkg/info/tool.list", "/usr/local/bin/tool\n")
            .exe("/usr/bin/ls", "ls")
            .exe("/usr/bin/sleep", "sleep")
            .exe("/usr/local/bin/ls", "#!/bin/sh\n/usr/bin/ls \"$@\" | grep -v x\n")
            .exe("/usr/local/bin/backup-db", "#!/bin/sh\n")
            .exe("/usr/local/bin/tool", "tool")
            .link("/usr/local/sbin/sleep", "/usr/bin/sleep");
        let (sink, r) = run_collector(
            &LocalBinCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let recs = sink.of_kind("local-bin", "local_bin");
        let by = |p: &str| recs.iter().find(|r| r["path"] == p).unwrap().clone();
        let ls = by("/usr/local/bin/ls");
        assert_eq!(
            ls["shadows"],
            serde_json::json!(["/usr/bin/ls"]),
            "/bin is /usr/bin"
        );
        assert_eq!(ls["owned"], false);
        assert!(ls["sha256"].is_string());
        assert_eq!(ls["copy"]["member"], "raw/usr/local/bin/ls");
        assert_eq!(
            ls["sha256"], ls["copy"]["sha256"],
            "hashed as it was copied"
        );
        assert_eq!(
            ls["sha256"],
            dossier_plugin_api::encoding::hex(&<sha2::Sha256 as sha2::Digest>::digest(
                b"#!/bin/sh\n/usr/bin/ls \"$@\" | grep -v x\n"
            ))
        );
        let b = by("/usr/local/bin/backup-db");
        assert!(b.get("shadows").is_none() && b.get("copy").is_none());
        assert_eq!(by("/usr/local/bin/tool")["owned"], true);
        let s = by("/usr/local/sbin/sleep");
        assert_eq!(s["link_target"], "/usr/bin/sleep");
        assert_eq!(s["shadows"][0], "/usr/bin/sleep");
        assert!(s.get("copy").is_none());
        assert_eq!(
            s["owned"], true,
            "a link to the packaged file runs the package's program"
        );
    }

    /// A host whose transport knows no inodes (SFTP).
    struct NoInodes(MemHost);

    struct Reader<'a>(Box<dyn FileReader + 'a>, FileMeta);

    impl std::io::Read for Reader<'_> {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(b)
        }
    }

    impl FileReader for Reader<'_> {
        fn meta(&self) -> &FileMeta {
            &self.1
        }
        fn meta_now(&mut self) -> Result<FileMeta, HostError> {
            self.0.meta_now().map(strip)
        }
    }

    fn strip(mut m: FileMeta) -> FileMeta {
        (m.dev, m.inode) = (None, None);
        m
    }

    impl Host for NoInodes {
        fn info(&self) -> HostInfo {
            self.0.info()
        }
        fn lstat(&self, p: &Path) -> Result<FileMeta, HostError> {
            self.0.lstat(p).map(strip)
        }
        fn stat(&self, p: &Path) -> Result<FileMeta, HostError> {
            self.0.stat(p).map(strip)
        }
        fn read_link(&self, p: &Path) -> Result<std::path::PathBuf, HostError> {
            self.0.read_link(p)
        }
        fn read_dir(&self, p: &Path) -> Result<Vec<DirEntry>, HostError> {
            self.0.read_dir(p)
        }
        fn open(&self, p: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
            let f = self.0.open(p)?;
            let m = strip(f.meta().clone());
            Ok(Box::new(Reader(f, m)))
        }
    }

    #[test]
    fn without_inodes_a_file_the_same_as_an_earlier_copy_is_not_copied_again() {
        let h = NoInodes(
            MemHost::new(false)
                .file(
                    "/var/lib/dpkg/status",
                    "Package: git\nStatus: install ok installed\nVersion: 1\n",
                )
                .file(
                    "/var/lib/dpkg/info/git.list",
                    "/usr/bin/git\n/usr/bin/git-receive-pack\n/usr/bin/git-shell\n",
                )
                .exe("/usr/bin/git", "packaged")
                .exe("/usr/bin/git-receive-pack", "packaged")
                .exe("/usr/bin/git-shell", "packaged")
                .exe("/usr/local/bin/git", "local git")
                .exe("/usr/local/bin/git-receive-pack", "local git")
                .exe("/usr/local/bin/git-shell", "other git"),
        );
        let (sink, r) = run_collector(
            &LocalBinCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let recs = sink.of_kind("local-bin", "local_bin");
        let by = |p: &str| recs.iter().find(|r| r["path"] == p).unwrap().clone();
        let (git, pack, shell) = (
            by("/usr/local/bin/git"),
            by("/usr/local/bin/git-receive-pack"),
            by("/usr/local/bin/git-shell"),
        );
        assert_eq!(git["copy"]["member"], "raw/usr/local/bin/git");
        assert_eq!(
            pack["copy"], git["copy"],
            "the same content: the first copy"
        );
        assert_eq!(pack["sha256"], git["sha256"]);
        // Same size and time, other content: a copy of its own.
        assert_eq!(shell["copy"]["member"], "raw/usr/local/bin/git-shell");
        assert_ne!(shell["sha256"], git["sha256"]);
        assert!(!sink.raw.contains_key("raw/usr/local/bin/git-receive-pack"));
    }
}
