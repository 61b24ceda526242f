//! The `proc` collector: every process of a live host from `/proc`.
//!
//! For each PID: `stat`, `status`, `cmdline` and `cgroup` are copied verbatim and parsed (and
//! the freezer file of each cgroup read once: a frozen cgroup, a process a responder
//! suspended, is recorded as `frozen` with that file kept as its evidence); the
//! `exe`, `cwd` and `root` links and namespace links are read; the executable is hashed through
//! `/proc/PID/exe` (so a deleted binary is still hashed) once per distinct file. Executables
//! that no package owns, or that were deleted, are copied into the bundle up to a size cap.
//! From `environ` only `LD_PRELOAD`, `LD_LIBRARY_PATH` and `LD_AUDIT` are kept: other
//! variables can hold secrets and are never stored. The targets of descriptors 0-2 are read
//! as links (`socket:[inode]`, `/dev/pts/0`), never opened. On an image there is no `/proc`; that is
//! recorded, not treated as a failure.

use crate::shared::filedigest::{DigestCache, FileId, digests, md5_wanted};
use crate::shared::pkgdb::PackageDb;
use crate::util::{Accounts, ByteSize, name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::encoding::bytes_to_text;
use dossier_plugin_api::records::{ProcessRecord, Record, SourceRef};
use dossier_plugin_api::{
    CollectContext, Collector, CollectorInfo, FileMeta, HostErrorKind, Timestamp,
};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

mod ahead;
use ahead::Ahead;

/// The `proc` collector.
pub struct ProcCollector;

/// Which executables to copy into the bundle.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CopyMode {
    /// None: hash only.
    None,
    /// Deleted executables and those no package owns.
    Unowned,
    /// Every distinct executable.
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_mode")]
    copy_executables: CopyMode,
    /// Executables larger than this are hashed but not copied.
    #[serde(default = "default_exe_cap")]
    max_executable_size: ByteSize,
    /// Stop copying executables once this much has been copied for the host.
    #[serde(default = "default_total")]
    max_total_copy: ByteSize,
    /// At most this much of one executable is hashed.
    #[serde(default = "default_hash_cap")]
    max_hash_size: ByteSize,
}

fn default_mode() -> CopyMode {
    CopyMode::Unowned
}
fn default_exe_cap() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_total() -> ByteSize {
    ByteSize(1 << 30)
}
fn default_hash_cap() -> ByteSize {
    ByteSize(1 << 30)
}

/// USER_HZ: the unit of `/proc/PID/stat` times, 100 on every mainstream Linux architecture.
pub const USER_HZ: u64 = 100;
const PF_KTHREAD: u64 = 0x0020_0000;
const SMALL: u64 = 256 << 10;

impl Collector for ProcCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "proc".into(),
            version: crate::util::VERSION.into(),
            description: "Every process: ids, user, argv, exe (hashed, deleted marker), cwd, start time, cgroup/unit, LD_* preload variables; copies unowned or deleted executables".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        if !ctx.is_live() {
            ctx.not_available("/proc", "not collected: no live /proc (offline image)");
            return Ok(());
        }
        let Some(entries) = ctx.list_dir(Path::new("/proc")) else {
            ctx.not_available("/proc", "not collected: /proc could not be listed");
            return Ok(());
        };
        let mut pids: Vec<u32> = entries
            .iter()
            .filter_map(|e| name_text(&e.name).parse().ok())
            .collect();
        pids.sort_unstable();
        let boot = ctx
            .host()
            .read(Path::new("/proc/stat"), SMALL)
            .ok()
            .and_then(|r| crate::shared::boot::parse_btime(&r.data));
        let accounts = Accounts::load(ctx);
        let db = if cfg.copy_executables == CopyMode::Unowned {
            Some(PackageDb::load(ctx))
        } else {
            None
        };
        let mut state = ExeState {
            own_pids: ctx.host().info().own_pids,
            cfg,
            copied_total: 0,
            seen: HashMap::new(),
            db,
            fd_denied: 0,
            frozen: HashMap::new(),
        };
        let mut vanished = 0usize;
        'pids: for chunk in pids.chunks(ahead::PIDS) {
            // The files of the next few processes asked for together (see `ahead`).
            let mut ahead = match ctx.host_lost() {
                Some(_) => Ahead::default(),
                None => Ahead::fetch(ctx.host(), chunk),
            };
            for &pid in chunk {
                if let Some(lost) = ctx.host_lost() {
                    let msg = format!("host lost ({lost}); remaining processes not collected");
                    ctx.issue("/proc", IssueKind::Incomplete, msg);
                    break 'pids;
                }
                match process(ctx, pid, boot, &accounts, &mut state, &mut ahead) {
                    Some(rec) => ctx.emit(&Record::Process(rec))?,
                    None => vanished += 1,
                }
            }
        }
        if state.fd_denied > 0 {
            ctx.issue(
                "/proc/*/fd",
                IssueKind::Error(HostErrorKind::PermissionDenied),
                format!(
                    "{} stdin/stdout/stderr links of other users' processes could not be read (collect as root to see them)",
                    state.fd_denied
                ),
            );
        }
        if vanished > 0 {
            ctx.log(&format!(
                "{vanished} process(es) exited before they could be read"
            ));
        }
        Ok(())
    }
}

struct ExeState {
    cfg: Config,
    copied_total: u64,
    /// The same executable file → what was learnt about it.
    seen: HashMap<ExeKey, ExeInfo>,
    db: Option<std::sync::Arc<PackageDb>>,
    /// PIDs of the collection itself ([`dossier_plugin_api::HostInfo::own_pids`]).
    own_pids: Vec<u32>,
    /// Descriptor links (`fd/0..2`) refused for lack of permission.
    fd_denied: usize,
    /// Freezer file → whether it said frozen (each cgroup's is read once).
    frozen: HashMap<PathBuf, bool>,
}

/// Identity of an executable file: (dev, inode) where the transport knows it; over SFTP,
/// which has no inode, the path with its size and mtime (a deleted executable is never
/// matched by path: another file may have taken its name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ExeKey {
    Inode(u64, u64),
    Path(String, u64, Option<dossier_plugin_api::Timestamp>),
}

#[derive(Clone, Default)]
struct ExeInfo {
    sha256: Option<String>,
    member: Option<String>,
    error: Option<String>,
}

/// Reads one process: `stat` first (a process gone by then is an issue and no record), then,
/// for a process that is not a kernel thread, what it runs, where, and with what.
fn process(
    ctx: &mut CollectContext<'_>,
    pid: u32,
    boot: Option<Timestamp>,
    accounts: &Accounts,
    st: &mut ExeState,
    ahead: &mut Ahead,
) -> Option<ProcessRecord> {
    let mut files = ProcFiles {
        dir: PathBuf::from(format!("/proc/{pid}")),
        exited: false,
        ahead,
    };
    let (mut rec, parsed) = stat_record(ctx, &mut files, pid, boot, st)?;
    if !parsed {
        return Some(rec);
    }
    if let Some(d) = files.read_small(ctx, "status", &mut rec) {
        let ids = parse_status_ids(&d);
        (rec.uid, rec.euid, rec.gid, rec.egid) = ids;
        if status_kthread(&d) {
            rec.kernel_thread = true;
        }
    }
    rec.user = accounts.name(rec.uid).map(str::to_string);
    if !rec.kernel_thread {
        user_process(ctx, &mut files, &mut rec, st);
    }
    if files.exited {
        ctx.issue(
            ptext(&files.dir),
            IssueKind::Incomplete,
            "process exited while it was read; the record is partial",
        );
    }
    Some(rec)
}

/// The files of one `/proc/PID` directory, and whether the process was seen exiting while
/// they were read.
struct ProcFiles<'x> {
    dir: PathBuf,
    exited: bool,
    /// What was read ahead for this process and its neighbours.
    ahead: &'x mut Ahead,
}

impl ProcFiles<'_> {
    /// Reads and stores a small file of the process (its source added to `rec`).
    fn read_small(
        &mut self,
        ctx: &mut CollectContext<'_>,
        name: &str,
        rec: &mut ProcessRecord,
    ) -> Option<Vec<u8>> {
        let p = self.dir.join(name);
        match self.ahead.read_file(ctx.host(), &p, SMALL) {
            Ok(r) => {
                let c = ctx.store_read(&p, r)?;
                rec.sources.push(c.source_ref(&p));
                Some(c.data)
            }
            Err(e) if e.is_not_found() => {
                self.exited = true;
                None
            }
            Err(e) => {
                ctx.host_error(&e);
                None
            }
        }
    }
}

/// The record as `stat` gives it (stored in the bundle), and whether `stat` could be parsed;
/// `None` when the process is gone or `stat` unreadable.
fn stat_record(
    ctx: &mut CollectContext<'_>,
    files: &mut ProcFiles<'_>,
    pid: u32,
    boot: Option<Timestamp>,
    st: &ExeState,
) -> Option<(ProcessRecord, bool)> {
    let dir = files.dir.as_path();
    let stat_path = dir.join("stat");
    let stat = match files.ahead.read_file(ctx.host(), &stat_path, SMALL) {
        Ok(r) => r,
        Err(e) if e.is_not_found() => {
            ctx.issue(
                ptext(dir),
                IssueKind::Error(HostErrorKind::NotFound),
                "process exited during collection",
            );
            return None;
        }
        Err(e) => {
            ctx.host_error(&e);
            return None;
        }
    };
    let stat_cap = ctx.store_read(&stat_path, stat)?;
    let mut rec = ProcessRecord {
        pid,
        collector_self: st.own_pids.contains(&pid),
        ..Default::default()
    };
    rec.sources.push(stat_cap.source_ref(&stat_path));
    let Some(s) = parse_stat(&stat_cap.data) else {
        ctx.issue(
            ptext(&stat_path),
            IssueKind::Malformed,
            "unparsable stat line",
        );
        return Some((rec, false));
    };
    rec.comm = s.comm;
    rec.state = s.state;
    rec.ppid = s.ppid;
    rec.threads = s.threads;
    rec.start_ticks = s.start_ticks;
    rec.kernel_thread = s.flags & PF_KTHREAD != 0;
    rec.start_time = boot.and_then(|b| {
        Timestamp::from_unix(
            b.unix_seconds() + (s.start_ticks / USER_HZ) as i64,
            ((s.start_ticks % USER_HZ) * (1_000_000_000 / USER_HZ)) as u32,
        )
    });
    Some((rec, true))
}

/// What a user-space process runs and with what: command line, cgroup, the `LD_*` variables
/// of its environment, its standard descriptors, working and root directories, namespaces,
/// and its executable.
fn user_process(
    ctx: &mut CollectContext<'_>,
    files: &mut ProcFiles<'_>,
    rec: &mut ProcessRecord,
    st: &mut ExeState,
) {
    if let Some(d) = files.read_small(ctx, "cmdline", rec) {
        rec.argv = parse_cmdline(&d);
    }
    if let Some(d) = files.read_small(ctx, "cgroup", rec) {
        (rec.cgroup, rec.systemd_unit) = parse_cgroup(&d);
        rec.frozen = frozen(ctx, &d, rec, st);
    }
    // environ: only the LD_* keys are kept; the bytes are never stored.
    let environ = files.dir.join("environ");
    match files.ahead.read_file(ctx.host(), &environ, ahead::ENVIRON) {
        Ok(r) => (rec.ld_preload, rec.ld_library_path, rec.ld_audit) = parse_environ_ld(&r.data),
        Err(e) if e.is_not_found() => files.exited = true,
        Err(e) => ctx.host_error(&e),
    }
    // Every link of the process asked for at once (over SSH, one round trip), then taken
    // in order.
    let mut links = files.ahead.links_of(ctx.host(), &files.dir).into_iter();
    let stdio = stdio(ctx, links.by_ref().take(3), st);
    if stdio.iter().any(|t| !t.is_empty()) {
        rec.stdio = stdio;
    }
    let mut link = |ctx: &mut CollectContext<'_>| links.next().and_then(|r| link_text(ctx, r));
    rec.cwd = link(ctx);
    rec.root = link(ctx);
    for ns in ["net", "pid", "mnt"] {
        if let Some(t) = link(ctx) {
            if let Some(ino) = t
                .split_once(":[")
                .and_then(|(_, r)| r.trim_end_matches(']').parse().ok())
            {
                rec.namespaces.insert(ns.to_string(), ino);
            }
        }
    }
    if let Some(target) = link(ctx) {
        let (path, deleted) = match target.strip_suffix(" (deleted)") {
            Some(p) => (p.to_string(), true),
            None => (target, false),
        };
        rec.exe = Some(path);
        rec.exe_deleted = deleted;
        executable(ctx, &files.dir, rec, st);
    }
}

/// The links of a user-space process read by [`user_process`], in the order it takes them.
const LINKS: [&str; 9] = [
    "fd/0", "fd/1", "fd/2", "cwd", "root", "ns/net", "ns/pid", "ns/mnt", "exe",
];

/// Where a link of the process leads (`cwd`, `root`, `ns/net`...), failures other than "not
/// found" recorded.
fn link_text(
    ctx: &mut CollectContext<'_>,
    r: Result<PathBuf, dossier_plugin_api::HostError>,
) -> Option<String> {
    match r {
        Ok(t) => Some(ptext(&t)),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            ctx.host_error(&e);
            None
        }
    }
}

/// stdin, stdout and stderr: where they lead (a terminal, a pipe, a socket), empty when
/// unknown. Only the links are read; the descriptors are never opened.
fn stdio(
    ctx: &mut CollectContext<'_>,
    links: impl Iterator<Item = Result<PathBuf, dossier_plugin_api::HostError>>,
    st: &mut ExeState,
) -> Vec<String> {
    let mut stdio = Vec::with_capacity(3);
    for r in links {
        stdio.push(match r {
            Ok(t) => ptext(&t),
            Err(e) if e.kind == HostErrorKind::PermissionDenied => {
                st.fd_denied += 1;
                String::new()
            }
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => {
                ctx.host_error(&e);
                String::new()
            }
        });
    }
    stdio
}

fn executable(
    ctx: &mut CollectContext<'_>,
    dir: &Path,
    rec: &mut ProcessRecord,
    st: &mut ExeState,
) {
    let exe_link = dir.join("exe");
    let meta: FileMeta = match ctx.host().stat(&exe_link) {
        Ok(m) => m,
        Err(e) => {
            rec.exe_error = Some(e.to_string());
            if !e.is_not_found() {
                ctx.host_error(&e);
            }
            return;
        }
    };
    rec.exe_size = Some(meta.size);
    rec.exe_meta = Some(meta.clone());
    let key = match (meta.identity(), &rec.exe) {
        (Some((dev, ino)), _) => Some(ExeKey::Inode(dev, ino)),
        (None, Some(p)) if !rec.exe_deleted => Some(ExeKey::Path(p.clone(), meta.size, meta.mtime)),
        _ => None,
    };
    if let Some(info) = key.as_ref().and_then(|k| st.seen.get(k)) {
        rec.exe_sha256 = info.sha256.clone();
        rec.exe_member = info.member.clone();
        rec.exe_error = info.error.clone();
        return;
    }
    let path = rec.exe.clone().unwrap_or_default();
    let owned = st.db.as_ref().and_then(|db| db.is_owned(&path));
    let want_copy = match st.cfg.copy_executables {
        // dossier's own executable: its hash is recorded, a copy would be evidence of nothing.
        _ if rec.collector_self => false,
        CopyMode::None => false,
        CopyMode::All => true,
        CopyMode::Unowned => {
            rec.exe_deleted
                || owned
                    .map(|owned| !owned)
                    .unwrap_or_else(|| !system_path(&path))
        }
    };
    // The file by its path (a deleted one has none), for the other collectors that read it
    // (`packages` verifies what processes run): read once for all of them.
    let cache = DigestCache::of(ctx);
    let id = (!rec.exe_deleted)
        .then(|| FileId::new(&path, &meta))
        .flatten();
    let mut info = ExeInfo::default();
    let cap = st.cfg.max_executable_size.0;
    let fits = meta.size <= cap && st.copied_total + meta.size <= st.cfg.max_total_copy.0;
    if want_copy && !fits {
        let why = if meta.size > cap {
            format!(
                "executable is {} bytes, over the {cap}-byte copy cap; hashed only",
                meta.size
            )
        } else {
            "total executable copy budget reached; hashed only".to_string()
        };
        ctx.issue(path.clone(), IssueKind::NotCopied, why);
    }
    if want_copy && fits {
        if let Some(c) = ctx.copy(&exe_link, cap) {
            st.copied_total += c.member.size;
            if !c.source.truncated {
                info.sha256 = Some(c.member.sha256.clone());
                if !c.source.changed_during_read && id.is_some() {
                    let copy = SourceRef {
                        path: c.source.path.clone(),
                        member: Some(c.member.name.clone()),
                        sha256: Some(c.member.sha256.clone()),
                    };
                    cache.put_copy(&path, c.source.meta.as_ref(), &copy, None);
                }
            }
            info.member = Some(c.member.name);
        }
    }
    if info.sha256.is_none() {
        // The MD5 with it when a package's digest may be one (a file no package owns has
        // none to compare with).
        let md5 = owned != Some(false) && md5_wanted(ctx);
        let hashed = digests(
            ctx.host(),
            &cache,
            id.as_ref(),
            &exe_link,
            st.cfg.max_hash_size.0,
            md5,
        );
        match hashed {
            Ok(h) if !h.truncated => info.sha256 = Some(h.sha256),
            Ok(h) => info.error = Some(format!("only the first {} bytes hashed (cap)", h.bytes)),
            Err(e) => {
                info.error = Some(e.to_string());
                ctx.host_error(&e);
            }
        }
    }
    rec.exe_sha256 = info.sha256.clone();
    rec.exe_member = info.member.clone();
    rec.exe_error = info.error.clone();
    if let Some(k) = key {
        st.seen.insert(k, info);
    }
}

/// Directories where, with no package database to ask, executables are assumed to be the
/// system's own (and are therefore hashed, not copied).
fn system_path(p: &str) -> bool {
    [
        "/usr/bin/",
        "/usr/sbin/",
        "/bin/",
        "/sbin/",
        "/usr/lib/",
        "/lib/",
        "/usr/libexec/",
        "/lib64/",
        "/usr/lib64/",
    ]
    .iter()
    .any(|d| p.starts_with(d))
}

/// Fields of `/proc/PID/stat` that the record uses.
#[derive(Debug, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub state: String,
    pub ppid: u32,
    pub flags: u64,
    pub threads: u32,
    pub start_ticks: u64,
}

/// Parses `/proc/PID/stat`. `comm` may hold spaces and parentheses, so it is taken between the
/// first `(` and the *last* `)`.
pub fn parse_stat(data: &[u8]) -> Option<Stat> {
    let open = data.iter().position(|b| *b == b'(')?;
    let close = data.iter().rposition(|b| *b == b')')?;
    if close < open {
        return None;
    }
    let comm = bytes_to_text(&data[open + 1..close]);
    let rest = std::str::from_utf8(data.get(close + 1..)?).ok()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3].
    Some(Stat {
        comm,
        state: f.first()?.to_string(),
        ppid: f.get(1)?.parse().ok()?,
        flags: f.get(6)?.parse().ok()?,
        threads: f.get(17)?.parse().ok()?,
        start_ticks: f.get(19)?.parse().ok()?,
    })
}

/// (uid, euid, gid, egid) from `/proc/PID/status`.
pub fn parse_status_ids(data: &[u8]) -> (u32, u32, u32, u32) {
    let s = String::from_utf8_lossy(data);
    let ids = |key: &str| -> (u32, u32) {
        let v: Vec<u32> = s
            .lines()
            .find(|l| l.starts_with(key))
            .map(|l| {
                l[key.len()..]
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        (
            v.first().copied().unwrap_or(0),
            v.get(1).copied().unwrap_or(0),
        )
    };
    let (uid, euid) = ids("Uid:");
    let (gid, egid) = ids("Gid:");
    (uid, euid, gid, egid)
}

fn status_kthread(data: &[u8]) -> bool {
    String::from_utf8_lossy(data)
        .lines()
        .any(|l| l.starts_with("Kthread:") && l[8..].trim() == "1")
}

/// argv from `cmdline` (NUL-separated; a trailing NUL ends the last argument).
pub fn parse_cmdline(data: &[u8]) -> Vec<String> {
    let d = data.strip_suffix(b"\0").unwrap_or(data);
    if d.is_empty() {
        return Vec::new();
    }
    d.split(|b| *b == 0).map(bytes_to_text).collect()
}

/// The cgroup path (v2, else the v1 systemd hierarchy) and the systemd unit it names.
pub fn parse_cgroup(data: &[u8]) -> (Option<String>, Option<String>) {
    let s = String::from_utf8_lossy(data);
    let mut v2 = None;
    let mut v1 = None;
    for l in s.lines() {
        let mut it = l.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if id == "0" && ctrl.is_empty() {
            v2 = Some(path.to_string());
        } else if ctrl == "name=systemd" {
            v1 = Some(path.to_string());
        }
    }
    let path = v2.or(v1);
    let unit = path.as_deref().and_then(|p| {
        p.split('/')
            .rev()
            .find(|c| c.ends_with(".service") || c.ends_with(".scope"))
            .map(str::to_string)
    });
    (path, unit)
}

/// The freezer files of the cgroups `/proc/PID/cgroup` names: cgroup v2 `cgroup.events`
/// (under `/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host) and the v1
/// `freezer.state`. The root cgroup (it cannot be frozen) and paths with `..` (a cgroup
/// outside the reader's namespace) are skipped.
pub fn freezer_files(data: &[u8]) -> Vec<PathBuf> {
    let s = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for l in s.lines() {
        let mut it = l.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if !path.starts_with('/') || path == "/" || path.split('/').any(|c| c == "..") {
            continue;
        }
        if id == "0" && ctrl.is_empty() {
            for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                out.push(PathBuf::from(format!("{root}{path}/cgroup.events")));
            }
        } else if ctrl.split(',').any(|c| c == "freezer") {
            out.push(PathBuf::from(format!(
                "/sys/fs/cgroup/freezer{path}/freezer.state"
            )));
        }
    }
    out
}

/// Whether a freezer file says frozen (`frozen 1` in `cgroup.events`, `FROZEN` in
/// `freezer.state`).
pub fn says_frozen(data: &[u8]) -> bool {
    let s = String::from_utf8_lossy(data);
    s.lines()
        .any(|l| l.trim() == "frozen 1" || l.trim() == "FROZEN")
}

/// Whether the process's cgroup is frozen (a responder suspended it). Each freezer file is
/// read once per collection; it is stored in the bundle (and named in the record's sources)
/// only when it says frozen, as the evidence of that.
fn frozen(
    ctx: &mut CollectContext<'_>,
    cgroup: &[u8],
    rec: &mut ProcessRecord,
    st: &mut ExeState,
) -> bool {
    let mut any = false;
    for f in freezer_files(cgroup) {
        if let Some(&known) = st.frozen.get(&f) {
            any |= known;
            continue;
        }
        let yes = match ctx.host().read(&f, 4096) {
            Ok(r) if says_frozen(&r.data) => match ctx.store_read(&f, r) {
                Some(c) => {
                    rec.sources.push(c.source_ref(&f));
                    true
                }
                None => true,
            },
            // Not there (the other hierarchy, an exited cgroup) or not readable: not known to
            // be frozen; the state letter still shows a stopped process.
            _ => false,
        };
        st.frozen.insert(f, yes);
        any |= yes;
    }
    any
}

/// `LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT` values from `environ`; nothing else is kept.
pub fn parse_environ_ld(data: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let mut out: BTreeMap<&[u8], String> = BTreeMap::new();
    for var in data.split(|b| *b == 0) {
        for key in [&b"LD_PRELOAD"[..], b"LD_LIBRARY_PATH", b"LD_AUDIT"] {
            if var.len() > key.len() && var.starts_with(key) && var[key.len()] == b'=' {
                out.insert(key, bytes_to_text(&var[key.len() + 1..]));
            }
        }
    }
    (
        out.remove(&b"LD_PRELOAD"[..]),
        out.remove(&b"LD_LIBRARY_PATH"[..]),
        out.remove(&b"LD_AUDIT"[..]),
    )
}

/// Record for a file reference of a process (used by reporters for evidence pointers).
pub fn exe_source(rec: &ProcessRecord) -> Option<SourceRef> {
    Some(SourceRef {
        path: rec.exe.clone()?,
        member: rec.exe_member.clone(),
        sha256: rec.exe_sha256.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    const STAT: &str = "812 (log) S 1 812 812 0 -1 4194560 100 0 0 0 50 20 0 0 20 0 4 0 12345 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_with_odd_comm() {
        let s =
            parse_stat(b"77 (a) b (c)) R 1 77 77 0 -1 2097216 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 0 0")
                .unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.state, "R");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.flags & PF_KTHREAD, PF_KTHREAD);
        assert_eq!(s.start_ticks, 99);
        assert!(parse_stat(b"garbage").is_none());
        assert!(parse_stat(b"1 (x) S").is_none());
    }

    #[test]
    fn small_parsers() {
        assert_eq!(
            parse_status_ids(b"Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n"),
            (1000, 0, 100, 100)
        );
        assert_eq!(
            parse_cmdline(b"/var/log/log\0-o\0pool.example:3333\0"),
            vec!["/var/log/log", "-o", "pool.example:3333"]
        );
        assert_eq!(parse_cmdline(b""), Vec::<String>::new());
        assert_eq!(
            parse_cmdline(b"nginx: worker process"),
            vec!["nginx: worker process"]
        );
        assert_eq!(
            parse_cgroup(b"0::/system.slice/python.service\n"),
            (
                Some("/system.slice/python.service".into()),
                Some("python.service".into())
            )
        );
        assert_eq!(
            parse_cgroup(b"12:pids:/x\n1:name=systemd:/user.slice/user-0.slice/session-3.scope\n")
                .1
                .as_deref(),
            Some("session-3.scope")
        );
        assert_eq!(
            freezer_files(b"0::/system.slice/python.service\n"),
            [
                PathBuf::from("/sys/fs/cgroup/system.slice/python.service/cgroup.events"),
                PathBuf::from("/sys/fs/cgroup/unified/system.slice/python.service/cgroup.events")
            ]
        );
        assert_eq!(
            freezer_files(b"7:freezer:/x\n3:cpu,cpuacct:/y\n0::/\n0::/../../z\n"),
            [PathBuf::from("/sys/fs/cgroup/freezer/x/freezer.state")]
        );
        assert!(says_frozen(b"populated 1\nfrozen 1\n"));
        assert!(!says_frozen(b"populated 1\nfrozen 0\n"));
        assert!(
            says_frozen(b"FROZEN\n") && !says_frozen(b"THAWED\n") && !says_frozen(b"FREEZING\n")
        );
        let env = b"HOME=/root\0AWS_SECRET_ACCESS_KEY=hunter2\0LD_PRELOAD=/usr/lib/libhide.so\0LD_PRELOADX=no\0";
        assert_eq!(
            parse_environ_ld(env),
            (Some("/usr/lib/libhide.so".into()), None, None)
        );
    }

    fn live_host() -> MemHost {
        MemHost::new(true)
            .file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
            .file("/proc/stat", "btime 1755750000\n")
            .file("/proc/812/stat", STAT)
            .file(
                "/proc/812/status",
                "Name:\tlog\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
            )
            .file("/proc/812/cmdline", "/var/log/log\0")
            .file("/proc/812/cgroup", "0::/system.slice/python.service\n")
            .file(
                "/proc/812/environ",
                "SECRET_TOKEN=abc\0LD_PRELOAD=/tmp/x.so\0",
            )
            .link("/proc/812/exe", "/var/log/log")
            .link("/proc/812/cwd", "/")
            .link("/proc/812/fd/0", "socket:[31337]")
            .link("/proc/812/fd/1", "socket:[31337]")
            .link("/proc/812/fd/2", "/dev/pts/3")
            .link("/proc/812/ns/net", "net:[4026531840]")
            .exe("/var/log/log", "\x7fELF miner stratum+tcp://pool")
            .file(
                "/proc/2/stat",
                "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n",
            )
            .file(
                "/proc/2/status",
                "Name:\tkthreadd\nUid:\t0\t0\t0\t0\nKthread:\t1\n",
            )
            .file(
                "/proc/900/stat",
                "900 (sleep) S 1 900 900 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0\n",
            )
            .file("/proc/900/status", "Uid:\t1000\t1000\t1000\t1000\n")
            .file("/proc/900/cmdline", "sleep\x00100\x00")
            .link("/proc/900/exe", "/usr/bin/sleep (deleted)")
            .dir("/proc/901")
    }

    #[test]
    fn a_process_in_a_frozen_cgroup_is_recorded_frozen_with_the_evidence() {
        let events = "/sys/fs/cgroup/system.slice/python.service/cgroup.events";
        for (text, want) in [
            ("populated 1\nfrozen 1\n", true),
            ("populated 1\nfrozen 0\n", false),
        ] {
            let h = live_host().file(events, text);
            let (sink, r) = run_collector(
                &ProcCollector,
                &h,
                serde_json::Value::Null,
                &Default::default(),
            );
            r.unwrap();
            let procs = sink.of_kind("proc", "process");
            let miner = procs.iter().find(|p| p["pid"] == 812).unwrap();
            let other = procs.iter().find(|p| p["pid"] == 900).unwrap();
            assert!(other.get("frozen").is_none(), "{other}");
            let kept = sink.raw.keys().any(|k| k.ends_with("cgroup.events"));
            let named = miner["sources"].to_string().contains("cgroup.events");
            if want {
                assert_eq!(miner["frozen"], true, "{miner}");
                assert!(kept && named, "{:?} {miner}", sink.raw.keys());
            } else {
                assert!(miner.get("frozen").is_none(), "{miner}");
                assert!(!kept && !named, "{:?}", sink.raw.keys());
            }
        }
    }

    #[test]
    fn the_collecting_process_is_marked_and_not_copied() {
        // PID 812 is dossier itself here: recorded and hashed, never copied.
        let h = live_host().own_pid(812);
        let (sink, r) = run_collector(
            &ProcCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let procs = sink.of_kind("proc", "process");
        let me = procs.iter().find(|p| p["pid"] == 812).unwrap();
        assert_eq!(me["collector_self"], true);
        assert!(me["exe_sha256"].is_string(), "{me}");
        assert!(me.get("exe_member").is_none(), "{me}");
        assert!(
            !sink.raw.keys().any(|k| k.ends_with("/exe")),
            "{:?}",
            sink.raw.keys()
        );
        let other = procs.iter().find(|p| p["pid"] == 900).unwrap();
        assert!(other.get("collector_self").is_none());
        assert_eq!(
            me["stdio"],
            serde_json::json!(["socket:[31337]", "socket:[31337]", "/dev/pts/3"])
        );
        assert!(
            other.get("stdio").is_none(),
            "no fd links: nothing recorded"
        );
    }

    #[test]
    fn collects_processes_hashes_and_copies() {
        let h = live_host().exe("/usr/bin/sleep (deleted)", "old sleep");
        let (sink, r) = run_collector(
            &ProcCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let procs: BTreeMap<u64, serde_json::Value> = sink
            .of_kind("proc", "process")
            .into_iter()
            .map(|p| (p["pid"].as_u64().unwrap(), p))
            .collect();
        let miner = &procs[&812];
        assert_eq!(miner["exe"], "/var/log/log");
        assert_eq!(miner["user"], "root");
        assert_eq!(miner["systemd_unit"], "python.service");
        assert_eq!(miner["ld_preload"], "/tmp/x.so");
        assert_eq!(miner["start_time"], "2025-08-21T04:22:03.450Z");
        assert_eq!(miner["namespaces"]["net"], 4026531840u64);
        assert_eq!(
            miner["exe_member"], "raw/proc/812/exe",
            "no package database: /var/log/log is copied"
        );
        assert_eq!(miner["exe_sha256"].as_str().unwrap().len(), 64);
        assert!(procs[&2]["kernel_thread"].as_bool().unwrap());
        assert!(procs[&2].get("exe").is_none());
        assert_eq!(procs[&900]["exe_deleted"], true);
        assert_eq!(procs[&900]["exe_member"], "raw/proc/900/exe");
        assert!(!procs.contains_key(&901), "a PID without stat has exited");
        assert_eq!(sink.issues_about("/proc/901").len(), 1);
        // Secrets from environ never reach the bundle.
        let all: String = sink
            .records
            .values()
            .flatten()
            .map(|v| v.to_string())
            .collect();
        assert!(!all.contains("SECRET_TOKEN"));
        assert!(!sink.raw.keys().any(|k| k.contains("environ")));
    }

    #[test]
    fn offline_image_says_not_collected() {
        let (sink, r) = run_collector(
            &ProcCollector,
            &MemHost::new(false),
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        assert!(sink.of_kind("proc", "process").is_empty());
        assert!(
            sink.issues_about("/proc")[0]
                .message
                .contains("no live /proc")
        );
    }

    #[test]
    fn copy_cap_hashes_without_copying() {
        let h = live_host();
        let (sink, r) = run_collector(
            &ProcCollector,
            &h,
            serde_json::json!({"max_executable_size": 4}),
            &Default::default(),
        );
        r.unwrap();
        let p = sink
            .of_kind("proc", "process")
            .into_iter()
            .find(|p| p["pid"] == 812)
            .unwrap();
        assert!(p.get("exe_member").is_none());
        assert_eq!(p["exe_sha256"].as_str().unwrap().len(), 64);
        assert!(!sink.issues_about("/var/log/log").is_empty());
    }
}
