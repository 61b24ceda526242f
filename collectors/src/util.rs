//! Helpers shared by the built-in collectors, the lowest module of the crate (it uses no other):
//! the collectors' version, byte sizes in playbooks, the host's accounts,
//! path canonicalization over a `Host`, directory listings made ahead of a walk in batches,
//! merged-/usr aliases, copies within a size cap, and small text helpers.

use dossier_plugin_api::CollectContext;
use dossier_plugin_api::encoding::{bytes_to_text, path_to_text};
use dossier_plugin_api::host::{DirEntry, FileKind, Host, HostError, HostErrorKind};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// A byte count in a playbook: an integer, or text such as `"64 MiB"`, `"512k"`, `"1 GB"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `"64 MiB"` and friends (binary and decimal units, case-insensitive).
    pub fn parse(s: &str) -> Result<u64, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "kb" => 1000,
            "m" | "mib" => 1 << 20,
            "mb" => 1_000_000,
            "g" | "gib" => 1 << 30,
            "gb" => 1_000_000_000,
            "t" | "tib" => 1 << 40,
            "tb" => 1_000_000_000_000,
            other => return Err(format!("unknown size unit {other:?} in {s:?}")),
        };
        let v = n * mult as f64;
        if !(0.0..1.8e19).contains(&v) {
            return Err(format!("size out of range: {s:?}"));
        }
        Ok(v as u64)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Version string shared by the built-in collectors.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Default cap for configuration-like text files (unit files, crontabs...).
pub const DEFAULT_TEXT_CAP: u64 = 4 << 20;

/// One account from `/etc/passwd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// The host's accounts (from its own `/etc/passwd`, captured once per host).
#[derive(Debug, Default)]
pub struct Accounts {
    pub list: Vec<Account>,
    by_uid: HashMap<u32, usize>,
}

impl Accounts {
    /// Parses `/etc/passwd` text; malformed lines are skipped.
    pub fn parse(data: &[u8]) -> Accounts {
        let mut a = Accounts::default();
        for line in data.split(|b| *b == b'\n') {
            let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
            if f.len() < 7 || f[0].is_empty() || f[0].starts_with(b"#") {
                continue;
            }
            let num = |b: &[u8]| {
                std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
            };
            let (Some(uid), Some(gid)) = (num(f[2]), num(f[3])) else {
                continue;
            };
            let acc = Account {
                name: bytes_to_text(f[0]),
                uid,
                gid,
                home: bytes_to_text(f[5]),
                shell: bytes_to_text(f[6]),
            };
            a.by_uid.entry(uid).or_insert(a.list.len());
            a.list.push(acc);
        }
        a
    }

    /// Name of `uid`, if the host knows it.
    pub fn name(&self, uid: u32) -> Option<&str> {
        self.by_uid.get(&uid).map(|i| self.list[*i].name.as_str())
    }

    /// Loads (and captures) the host's `/etc/passwd` once per host collection.
    pub fn load(ctx: &mut CollectContext<'_>) -> Arc<Accounts> {
        if let Some(a) = ctx.cached::<Accounts>() {
            return a;
        }
        let a = Arc::new(
            ctx.capture(Path::new("/etc/passwd"), DEFAULT_TEXT_CAP)
                .map(|c| Accounts::parse(&c.data))
                .unwrap_or_default(),
        );
        ctx.set_cached(a.clone());
        a
    }

    /// Distinct home directories of accounts (plus `/root`), sorted.
    pub fn homes(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .list
            .iter()
            .filter(|a| a.home.starts_with('/') && a.home != "/" && a.home != "/nonexistent")
            .map(|a| (a.home.clone(), a.name.clone()))
            .collect();
        if !v.iter().any(|(h, _)| h == "/root") {
            v.push(("/root".into(), "root".into()));
        }
        v.sort();
        v.dedup_by(|a, b| a.0 == b.0);
        v
    }
}

/// Directories listed together (over SSH, one batch of requests instead of one per
/// directory).
const LIST_BATCH: usize = 32;

/// Directories listed together in one wave of a deep read-ahead, at most (two READDIRs of
/// each in flight stay within the SFTP client's 128 outstanding requests).
const WAVE: usize = 48;
/// Listings waiting for their turn, at most.
const AHEAD_MAX: usize = 512;
/// Entries of the listings waiting for their turn beyond which a deep read-ahead stops (the
/// bound of its memory: about 100 bytes each).
const AHEAD_ENTRIES: usize = 4096;

/// Listings of a directory walk made ahead of their turn, in batches.
#[derive(Default)]
pub struct ListAhead {
    ahead: HashMap<PathBuf, Result<Vec<DirEntry>, HostError>>,
    /// Entries in `ahead`.
    held: usize,
}

/// Entries of a listing (none for a failure).
fn entries_of(l: &Result<Vec<DirEntry>, HostError>) -> usize {
    l.as_ref().map_or(0, Vec::len)
}

/// Which entry of a listed directory the walk will enter next (a directory), as the walk
/// itself decides it, for [`ListAhead::list_deep`].
pub type Enters<'a> = &'a dyn Fn(&Path, &DirEntry) -> bool;

impl ListAhead {
    /// The listing of `dir`, sorted by name, as [`CollectContext::list_dir`] gives it (a
    /// missing directory or one that is not: `None` silently; other failures recorded).
    /// When it was not listed ahead, it is listed with the last of `next` (the directories
    /// the walk enters next, last first, as on a stack), whose listings wait for their turn:
    /// their failures are recorded then, in the walk's order.
    pub fn list(
        &mut self,
        ctx: &mut CollectContext<'_>,
        dir: &Path,
        next: &[PathBuf],
    ) -> Option<Vec<DirEntry>> {
        self.list_deep(ctx, dir, next, None)
    }

    /// [`ListAhead::list`], and when a batch is listed, with `enters` (which entries the walk
    /// will enter), the directories it will enter below the batch are listed too, wave after
    /// wave (each wave one batch of requests), while fewer than [`AHEAD_MAX`] listings and
    /// [`AHEAD_ENTRIES`] entries wait:
    /// a walk whose directories hold one or two subdirectories each then costs a batch per
    /// wave instead of one per directory. A listing made ahead for a directory the walk does
    /// not enter after all is dropped unused; failures are recorded only when their turn
    /// comes, so the walk records what it records without reading ahead.
    pub fn list_deep(
        &mut self,
        ctx: &mut CollectContext<'_>,
        dir: &Path,
        next: &[PathBuf],
        enters: Option<Enters<'_>>,
    ) -> Option<Vec<DirEntry>> {
        if ctx.host_lost().is_some() {
            return None;
        }
        let listing = match self.ahead.remove(dir) {
            Some(l) => {
                self.held -= entries_of(&l);
                l
            }
            None => {
                let mut batch = vec![dir.to_path_buf()];
                batch.extend(
                    next.iter()
                        .rev()
                        .filter(|p| !self.ahead.contains_key(*p) && p.as_path() != dir)
                        .take(LIST_BATCH - 1)
                        .cloned(),
                );
                let mut lists = ctx.host().read_dirs(&batch).into_iter();
                let first = lists.next()?;
                if let Some(enters) = enters {
                    let mut below = subdirs(dir, &first, enters);
                    for (d, l) in batch.iter().skip(1).zip(lists.as_slice()) {
                        below.extend(subdirs(d, l, enters));
                    }
                    self.keep(batch.into_iter().skip(1).zip(lists));
                    self.waves(ctx, below, enters);
                } else {
                    self.keep(batch.into_iter().skip(1).zip(lists));
                }
                first
            }
        };
        match listing {
            Ok(mut v) => {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                Some(v)
            }
            Err(e) if e.is_not_found() || e.kind == HostErrorKind::NotADirectory => None,
            Err(e) => {
                ctx.host_error(&e);
                None
            }
        }
    }
}

impl ListAhead {
    /// Lists `todo` (directories the walk will enter) and what it will enter below them, a
    /// wave at a time, while fewer than [`AHEAD_MAX`] listings wait.
    /// Keeps listings made ahead until their turn.
    fn keep(&mut self, lists: impl Iterator<Item = (PathBuf, Result<Vec<DirEntry>, HostError>)>) {
        for (d, l) in lists {
            self.held += entries_of(&l);
            if let Some(old) = self.ahead.insert(d, l) {
                self.held -= entries_of(&old);
            }
        }
    }

    fn waves(&mut self, ctx: &mut CollectContext<'_>, mut todo: Vec<PathBuf>, enters: Enters<'_>) {
        while !todo.is_empty()
            && self.ahead.len() < AHEAD_MAX
            && self.held < AHEAD_ENTRIES
            && ctx.host_lost().is_none()
        {
            let room = WAVE.min(AHEAD_MAX - self.ahead.len());
            let wave: Vec<PathBuf> = todo
                .drain(..todo.len().min(room))
                .filter(|d| !self.ahead.contains_key(d))
                .collect();
            let lists = ctx.host().read_dirs(&wave);
            for (d, l) in wave.into_iter().zip(lists) {
                todo.extend(subdirs(&d, &l, enters));
                self.keep(std::iter::once((d, l)));
            }
        }
    }
}

/// The directories below `dir` (listed as `listing`) that the walk will enter.
fn subdirs(
    dir: &Path,
    listing: &Result<Vec<DirEntry>, HostError>,
    enters: Enters<'_>,
) -> Vec<PathBuf> {
    let Ok(entries) = listing else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|e| enters(dir, e))
        .map(|e| dir.join(&e.name))
        .collect()
}

/// Resolves every symlink in `path` through `host` (like `realpath`), at most 40 hops.
/// `None` when a component is missing or links loop.
pub fn canonicalize(host: &dyn Host, path: &Path) -> Option<PathBuf> {
    let mut todo: Vec<PathBuf> = Vec::new();
    for c in path.components().rev() {
        match c {
            Component::Normal(s) => todo.push(PathBuf::from(s)),
            Component::ParentDir => todo.push(PathBuf::from("..")),
            _ => {}
        }
    }
    let mut cur = PathBuf::from("/");
    let mut hops = 0;
    while let Some(name) = todo.pop() {
        if name.as_os_str() == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&name);
        let meta = host.lstat(&next).ok()?;
        if meta.kind == FileKind::Symlink {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = host.read_link(&next).ok()?;
            if target.is_absolute() {
                cur = PathBuf::from("/");
            }
            for c in target.components().rev() {
                match c {
                    Component::Normal(s) => todo.push(PathBuf::from(s)),
                    Component::ParentDir => todo.push(PathBuf::from("..")),
                    _ => {}
                }
            }
        } else {
            cur = next;
        }
    }
    Some(cur)
}

/// Other spellings of `path` on a merged-/usr system (`/bin/x` ↔ `/usr/bin/x`, also `sbin`,
/// `lib`, `lib32`, `lib64`, `libx32`). Package databases may list either one.
pub fn usr_aliases(path: &str) -> Vec<String> {
    const DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
    let mut out = Vec::new();
    for d in DIRS {
        let short = format!("/{d}/");
        let long = format!("/usr/{d}/");
        if let Some(rest) = path.strip_prefix(&long) {
            out.push(format!("{short}{rest}"));
        } else if let Some(rest) = path.strip_prefix(&short) {
            out.push(format!("{long}{rest}"));
        }
    }
    out
}

/// Joins a directory and an entry name (bytes-safe).
pub fn join(dir: &Path, name: &OsStr) -> PathBuf {
    dir.join(name)
}

/// Record text of a directory entry name.
pub fn name_text(name: &OsStr) -> String {
    bytes_to_text(name.as_bytes())
}

/// Record text of a path.
pub fn ptext(path: &Path) -> String {
    path_to_text(path)
}

/// The first word of a command line, if it is an absolute path (how units and crontabs name
/// what they run). Quotes around it are removed.
pub fn command_program(cmd: &str) -> Option<String> {
    let t = cmd.trim_start();
    let first = if let Some(rest) = t.strip_prefix('"') {
        rest.split('"').next()?
    } else if let Some(rest) = t.strip_prefix('\'') {
        rest.split('\'').next()?
    } else {
        t.split_whitespace().next()?
    };
    first.starts_with('/').then(|| first.to_string())
}

/// Splits a line into at most `n` whitespace-separated fields, the last holding the rest of the
/// line (leading whitespace removed).
pub fn split_fields(line: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while out.len() + 1 < n {
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            None => {
                if !rest.is_empty() {
                    out.push(rest);
                }
                return out;
            }
        }
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Checks a collector's playbook section against its `Config` type; a missing section means
/// every default.
pub fn validate<T: serde::de::DeserializeOwned>(config: &serde_json::Value) -> Result<(), String> {
    let v = if config.is_null() {
        serde_json::json!({})
    } else {
        config.clone()
    };
    serde_json::from_value::<T>(v)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A copy made by [`copy_capped`].
pub(crate) struct Copied {
    pub(crate) source: dossier_plugin_api::records::SourceRef,
    /// The size of the file when the copy is all of it (its SHA-256 then the file's).
    pub(crate) whole: Option<u64>,
    /// Metadata of the file copied, when the copy is all of it and the file did not change
    /// while it was copied (what identifies the content the copy holds).
    pub(crate) settled: Option<dossier_plugin_api::host::FileMeta>,
}

/// Copies `path` (of `size` bytes by its `stat`) into the bundle when within `cap` (else an
/// issue says it was hashed, not copied).
pub(crate) fn copy_capped(
    ctx: &mut CollectContext<'_>,
    path: &Path,
    size: u64,
    cap: u64,
) -> Option<Copied> {
    if size > cap {
        ctx.issue(
            ptext(path),
            dossier_plugin_api::collect::IssueKind::NotCopied,
            format!("{size} bytes, over the {cap}-byte copy cap: hashed, not copied"),
        );
        return None;
    }
    let c = ctx.copy(path, cap)?;
    let whole = (!c.source.truncated).then_some(c.member.size);
    let settled = c
        .source
        .meta
        .filter(|_| whole.is_some() && !c.source.changed_during_read);
    Some(Copied {
        source: dossier_plugin_api::records::SourceRef {
            path: c.source.path,
            member: Some(c.member.name),
            sha256: Some(c.member.sha256),
        },
        whole,
        settled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::MemHost;

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("64 MiB"), Ok(64 << 20));
        assert_eq!(ByteSize::parse("512k"), Ok(512 << 10));
        assert_eq!(ByteSize::parse("1GB"), Ok(1_000_000_000));
        assert_eq!(ByteSize::parse("100"), Ok(100));
        assert!(ByteSize::parse("lots").is_err());
        assert!(ByteSize::parse("3 parsecs").is_err());
        let v: ByteSize = serde_json::from_str("\"1.5 KiB\"").unwrap();
        assert_eq!(v.0, 1536);
    }

    #[test]
    fn passwd_parsing_skips_garbage() {
        let a = Accounts::parse(b"root:x:0:0:root:/root:/bin/bash\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\nbad:x:notanumber:0::/:/bin/sh\n");
        assert_eq!(a.list.len(), 2);
        assert_eq!(a.name(1000), Some("alice"));
        assert_eq!(a.name(5), None);
        assert_eq!(
            a.homes(),
            vec![
                ("/home/alice".to_string(), "alice".to_string()),
                ("/root".to_string(), "root".to_string())
            ]
        );
    }

    #[test]
    fn canonicalize_follows_links_and_detects_loops() {
        let h = MemHost::new(false)
            .link("/lib", "usr/lib")
            .dir("/usr/lib/systemd/system")
            .link("/a", "/b")
            .link("/b", "/a");
        assert_eq!(
            canonicalize(&h, Path::new("/lib/systemd/system")),
            Some(PathBuf::from("/usr/lib/systemd/system"))
        );
        assert_eq!(canonicalize(&h, Path::new("/a")), None);
        assert_eq!(canonicalize(&h, Path::new("/missing")), None);
    }

    #[test]
    fn aliases_and_programs() {
        assert_eq!(usr_aliases("/usr/bin/log"), vec!["/bin/log".to_string()]);
        assert_eq!(
            usr_aliases("/sbin/init"),
            vec!["/usr/sbin/init".to_string()]
        );
        assert!(usr_aliases("/var/log/log").is_empty());
        assert_eq!(
            command_program("  /var/log/log -c x"),
            Some("/var/log/log".into())
        );
        assert_eq!(
            command_program("\"/opt/my app/run\" x"),
            Some("/opt/my app/run".into())
        );
        assert_eq!(command_program("run-parts /etc/cron.daily"), None);
        assert_eq!(split_fields("a  b   c d e", 3), vec!["a", "b", "c d e"]);
        assert_eq!(split_fields("a", 3), vec!["a"]);
    }
}
