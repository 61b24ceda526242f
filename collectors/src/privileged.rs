//! The `privileged` collector: files that run with privileges they were given - setuid and
//! setgid files, and files carrying capabilities in their `security.capability` extended
//! attribute.
//!
//! The usual program and writable trees are walked (`/usr`, `/bin`, `/sbin`, `/opt`, `/etc`,
//! `/home`, `/root`, `/srv`, `/tmp`, `/var`, `/dev/shm`...) without following symlinks and
//! without crossing into another file system (a tree's own mount is entered, mounts inside it
//! are not; `/proc`, `/sys` and `/dev` other than `/dev/shm` are never entered). The walk is
//! bounded by a file count and a time budget; reaching either is recorded as an issue.
//! Container and image storage (`/var/lib/docker`, `/var/lib/containers`...: other systems'
//! files) is not entered, which the log says. Each
//! privileged file is hashed, its capabilities decoded from `vfs_cap_data` (revisions 1-3)
//! into names, and it is compared with the host's shells and interpreters (a setuid copy of
//! bash is a classic backdoor). Whether a package owns the file and whether its content
//! changed is decided by the `packages` collector, which verifies every file recorded here
//! and copies those no package owns or whose digest differs.
//!
//! File capabilities need an extended-attribute read: over SFTP there is none, so on an SSH
//! host only setuid and setgid files are found and the missing capabilities are recorded as
//! an issue.

use crate::shared::filedigest::{DigestCache, FileId, digests, md5_wanted};
use crate::util::{ByteSize, Enters, ListAhead, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::host::{DirEntry, FileKind, HostKind};
use dossier_plugin_api::records::{FileCapabilities, PrivilegedFileRecord, Record};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo, FileMeta, HostErrorKind};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `privileged` collector.
pub struct PrivilegedCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Trees walked.
    #[serde(default = "default_roots")]
    roots: Vec<String>,
    /// Most directory entries looked at per host.
    #[serde(default = "default_max_files")]
    max_files: usize,
    /// Time budget of the walk, in seconds.
    #[serde(default = "default_max_seconds")]
    max_seconds: u64,
    /// At most this much of a privileged file is hashed.
    #[serde(default = "default_hash_cap")]
    max_hash_size: ByteSize,
    /// Directories not entered: container and image storage, whose layers hold other
    /// systems' setuid files (every Debian image has its own `passwd` and `su`). Also
    /// skipped: any `.local/share/containers` (rootless podman).
    #[serde(default = "default_skip")]
    skip: Vec<String>,
    /// Trees walked only this many levels deep (a directory deeper than that below the tree
    /// is not entered, and the log counts them): library and data trees whose thousands of
    /// directories cost a round trip each over SSH, while the setuid helpers packages install
    /// there sit near the top (`/usr/lib/openssh/ssh-keysign`,
    /// `/usr/lib/x86_64-linux-gnu/utempter/utempter`). `{}` walks every tree whole.
    #[serde(default = "default_depth_limits")]
    depth_limits: BTreeMap<String, usize>,
}

fn default_depth_limits() -> BTreeMap<String, usize> {
    [
        ("/usr/lib", 3),
        ("/usr/lib32", 3),
        ("/usr/lib64", 3),
        ("/usr/libx32", 3),
        ("/usr/libexec", 3),
        ("/usr/share", 2),
        ("/usr/include", 1),
        ("/usr/src", 2),
    ]
    .into_iter()
    .map(|(p, d)| (p.to_string(), d))
    .collect()
}

fn default_skip() -> Vec<String> {
    [
        "/var/lib/docker",
        "/var/lib/containers",
        "/var/lib/containerd",
        "/var/lib/lxc",
        "/var/lib/lxd",
        "/var/lib/machines",
        "/var/lib/snapd",
        "/var/lib/flatpak",
        "/var/lib/kubelet",
        "/var/lib/rancher",
        "/var/snap",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn default_roots() -> Vec<String> {
    [
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/opt",
        "/etc",
        "/home",
        "/root",
        "/srv",
        "/tmp",
        "/var",
        "/dev/shm",
        "/run/user",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_max_files() -> usize {
    2_000_000
}
fn default_max_seconds() -> u64 {
    300
}
fn default_hash_cap() -> ByteSize {
    ByteSize(256 << 20)
}

/// Never entered: kernel views and device nodes.
const NEVER: &[&str] = &["/proc", "/sys", "/dev"];

/// Shells and interpreters a privileged copy of is a backdoor.
const SHELLS: &[&str] = &[
    "/usr/bin/bash",
    "/usr/bin/sh",
    "/usr/bin/dash",
    "/usr/bin/zsh",
    "/usr/bin/ksh",
    "/usr/bin/busybox",
    "/usr/bin/python3",
    "/usr/bin/python",
    "/usr/bin/perl",
    "/usr/bin/ruby",
    "/usr/bin/php",
    "/usr/bin/nc",
    "/usr/bin/socat",
    "/usr/bin/env",
    "/usr/bin/find",
    "/usr/bin/vim.basic",
];

/// Linux capability names by number (`capability.h`).
pub const CAP_NAMES: &[&str] = &[
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

fn cap_names(bits: u64) -> Vec<String> {
    (0..64)
        .filter(|i| bits & (1u64 << i) != 0)
        .map(|i| {
            CAP_NAMES
                .get(i)
                .map_or_else(|| format!("cap_{i}"), |n| n.to_string())
        })
        .collect()
}

/// Decodes a `security.capability` value (`struct vfs_cap_data` / `vfs_ns_cap_data`,
/// little-endian).
pub fn decode_caps(v: &[u8]) -> Result<FileCapabilities, String> {
    let u32_at = |i: usize| -> Option<u32> {
        v.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let magic = u32_at(0).ok_or("shorter than 4 bytes")?;
    let revision = magic >> 24;
    let effective = magic & 1 != 0;
    let (words, want) = match revision {
        1 => (1, 12),
        2 => (2, 20),
        3 => (2, 24),
        r => return Err(format!("unknown revision {r}")),
    };
    if v.len() != want {
        return Err(format!(
            "revision {revision} should be {want} bytes, is {}",
            v.len()
        ));
    }
    let mut permitted = 0u64;
    let mut inheritable = 0u64;
    for w in 0..words {
        permitted |= u64::from(u32_at(4 + w * 8).unwrap_or(0)) << (32 * w);
        inheritable |= u64::from(u32_at(8 + w * 8).unwrap_or(0)) << (32 * w);
    }
    let rootid = (revision == 3).then(|| u32_at(20).unwrap_or(0));
    let permitted = cap_names(permitted);
    let inheritable = cap_names(inheritable);
    let mut text = String::new();
    if !permitted.is_empty() {
        text = format!(
            "{}={}p",
            permitted.join(","),
            if effective { "e" } else { "" }
        );
    }
    if !inheritable.is_empty() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("{}+i", inheritable.join(",")));
    }
    Ok(FileCapabilities {
        revision,
        effective,
        permitted,
        inheritable,
        rootid,
        text,
    })
}

struct Walk {
    skip: Vec<String>,
    depth_limits: BTreeMap<String, usize>,
    /// Directories not entered for being deeper than their tree's depth limit.
    too_deep: usize,
    skipped: Vec<String>,
    left: usize,
    deadline: Instant,
    stopped: Option<String>,
    /// `Some(false)` once the host said it cannot read extended attributes.
    xattrs: Option<bool>,
    found: Vec<PathBuf>,
    caps: HashMap<PathBuf, Result<FileCapabilities, String>>,
    skipped_mounts: usize,
}

impl Collector for PrivilegedCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "privileged".into(),
            version: crate::util::VERSION.into(),
            description: "setuid and setgid files and files with capabilities (security.capability, decoded) in the program and writable trees, hashed and compared with the host's shells; bounded walk, one file system per tree".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let mut w = Walk {
            skip: cfg.skip.clone(),
            depth_limits: cfg.depth_limits.clone(),
            too_deep: 0,
            skipped: Vec::new(),
            left: cfg.max_files,
            deadline: Instant::now() + Duration::from_secs(cfg.max_seconds),
            stopped: None,
            xattrs: None,
            found: Vec::new(),
            caps: HashMap::new(),
            skipped_mounts: 0,
        };
        walk_roots(ctx, &cfg.roots, &mut w);
        report_walk(ctx, &w);
        record_found(ctx, &mut w, cfg.max_hash_size.0)
    }
}

/// Walks every root (a tree inside another listed tree as part of it; kernel views and
/// devices never, `/dev/shm` excepted), until the walk is stopped.
fn walk_roots(ctx: &mut CollectContext<'_>, roots: &[String], w: &mut Walk) {
    let outer: Vec<&String> = roots
        .iter()
        .filter(|r| {
            !roots
                .iter()
                .any(|o| o != *r && r.starts_with(&format!("{}/", o.trim_end_matches('/'))))
        })
        .collect();
    for root in outer {
        let shm = root == "/dev/shm" || root.starts_with("/dev/shm/");
        let kernel = NEVER
            .iter()
            .any(|n| root == n || root.starts_with(&format!("{n}/")));
        if kernel && !shm {
            ctx.log(&format!(
                "{root}: not walked (kernel views and devices never are)"
            ));
            continue;
        }
        let root = Path::new(root);
        let Some(meta) = ctx.lstat(root) else {
            continue;
        };
        // /bin -> usr/bin on merged-/usr systems: the target tree is walked on its own.
        if meta.kind != FileKind::Dir {
            continue;
        }
        walk(ctx, w, root, meta.dev);
        if w.stopped.is_some() {
            break;
        }
    }
}

/// Says what the walk did not cover: why it stopped, trees skipped, directories too deep,
/// mount points not entered, capabilities unreadable over this transport.
fn report_walk(ctx: &mut CollectContext<'_>, w: &Walk) {
    if let Some(why) = &w.stopped {
        ctx.issue("privileged files", IssueKind::Incomplete, why.clone());
    }
    if !w.skipped.is_empty() {
        ctx.log(&format!(
            "not entered (container and image storage, `skip`): {}",
            w.skipped.join(", ")
        ));
    }
    if w.too_deep > 0 {
        ctx.log(&format!(
            "{} director(ies) deeper than the playbook's depth_limits ({}) were not entered",
            w.too_deep,
            w.depth_limits
                .iter()
                .map(|(p, d)| format!("{p}: {d}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if w.skipped_mounts > 0 {
        ctx.log(&format!(
            "{} mount point(s) inside the walked trees were not entered",
            w.skipped_mounts
        ));
    }
    if w.xattrs == Some(false) {
        ctx.not_available(
            "security.capability",
            "file capabilities not collected: this transport cannot read extended attributes (SFTP has none); only setuid and setgid files were looked for",
        );
    }
}

/// Records every privileged file found: metadata, capabilities, SHA-256 (files up to
/// `hash_cap`), and which shell it is a copy of.
fn record_found(
    ctx: &mut CollectContext<'_>,
    w: &mut Walk,
    hash_cap: u64,
) -> Result<(), CollectError> {
    let mut shells = Shells::default();
    // `packages` verifies every privileged file: the MD5 its package may expect is computed
    // in the same read, and both wait in the host's digest cache.
    let cache = DigestCache::of(ctx);
    let md5 = md5_wanted(ctx);
    for path in std::mem::take(&mut w.found) {
        let Some(meta) = ctx.lstat(&path) else {
            continue;
        };
        let text = ptext(&path);
        let id = FileId::new(&text, &meta);
        let sha256 = match digests(ctx.host(), &cache, id.as_ref(), &path, hash_cap, md5) {
            Ok(h) => Some(h.sha256),
            Err(e) => {
                ctx.host_error(&e);
                None
            }
        };
        let copy_of = match &sha256 {
            Some(h) => shells.copy_of(ctx, &text, meta.size, h, hash_cap),
            None => None,
        };
        let (capabilities, capabilities_error) = match w.caps.remove(&path) {
            Some(Ok(c)) => (Some(c), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        ctx.emit(&Record::PrivilegedFile(PrivilegedFileRecord {
            path: text,
            setuid: meta.mode & 0o4000 != 0,
            setgid: meta.mode & 0o2000 != 0,
            meta,
            capabilities,
            capabilities_error,
            sha256,
            copy_of,
        }))?;
    }
    Ok(())
}

/// The host's shells and interpreters (symlinks followed), compared with privileged files:
/// sizes are read once, and a shell is hashed only when a privileged file has its size (over
/// SSH, hashing every interpreter of every host cost megabytes of reads per host).
#[derive(Default)]
struct Shells {
    /// Path and size of each shell present (read on first use).
    sizes: Option<Vec<(String, u64)>>,
    hashes: HashMap<String, Option<String>>,
}

impl Shells {
    /// The shell or interpreter `path` (of `size` bytes, hashing to `sha256`) is a copy of.
    fn copy_of(
        &mut self,
        ctx: &mut CollectContext<'_>,
        path: &str,
        size: u64,
        sha256: &str,
        cap: u64,
    ) -> Option<String> {
        let sizes = self.sizes.get_or_insert_with(|| {
            SHELLS
                .iter()
                .filter_map(|s| {
                    let m = ctx.host().stat(Path::new(s)).ok()?;
                    Some((s.to_string(), m.size))
                })
                .collect()
        });
        for (shell, _) in sizes.iter().filter(|(p, sz)| *sz == size && p != path) {
            let h = self.hashes.entry(shell.clone()).or_insert_with(|| {
                ctx.host()
                    .hash_file(Path::new(shell), cap)
                    .ok()
                    .map(|h| h.sha256)
            });
            if h.as_deref() == Some(sha256) {
                return Some(shell.clone());
            }
        }
        None
    }
}

fn walk(ctx: &mut CollectContext<'_>, w: &mut Walk, root: &Path, dev: Option<u64>) {
    let mut stack = vec![root.to_path_buf()];
    let mut ahead = ListAhead::default();
    // Without device numbers (SFTP) a directory is entered on its listing alone (see below),
    // so the directories below a batch can be listed ahead of their turn: what `enters` says
    // is what the loop decides, without counting.
    let (skip, limits) = (w.skip.clone(), w.depth_limits.clone());
    let enters = move |dir: &Path, e: &DirEntry| {
        if e.kind != Some(FileKind::Dir) {
            return false;
        }
        let path = dir.join(&e.name);
        let text = ptext(&path);
        !NEVER.contains(&text.as_str())
            && !skip.contains(&text)
            && !text.ends_with("/.local/share/containers")
            && !limits.iter().any(|(tree, limit)| {
                path.strip_prefix(tree)
                    .is_ok_and(|rest| rest.components().count() > *limit)
            })
    };
    let deep = dev.is_none() && ctx.host().info().kind == HostKind::Ssh;
    while let Some(dir) = stack.pop() {
        if ctx.host_lost().is_some() {
            return;
        }
        // Listed with the next directories the walk enters (the top of the stack).
        let enters: Option<Enters<'_>> = if deep { Some(&enters) } else { None };
        let Some(entries) = ahead.list_deep(ctx, &dir, &stack, enters) else {
            continue;
        };
        for e in entries {
            if w.left == 0 {
                w.stopped = Some("max_files reached: the walk for privileged files stopped early; later trees and files were not looked at".into());
                return;
            }
            w.left -= 1;
            if w.left % 1024 == 0 && Instant::now() > w.deadline {
                w.stopped = Some("max_seconds reached: the walk for privileged files stopped early; later trees and files were not looked at".into());
                return;
            }
            let path = dir.join(&e.name);
            match (e.kind, e.mode) {
                (Some(FileKind::Dir), _) if skipped(w, &path) || too_deep(w, &path) => continue,
                (Some(FileKind::Dir), _) if dev.is_none() => {
                    // No device numbers (SFTP): nothing to learn from a stat.
                    if !NEVER.iter().any(|n| ptext(&path) == *n) {
                        stack.push(path);
                    }
                    continue;
                }
                // The listing gave the mode (SFTP): an entry with no setuid/setgid bit, and no
                // execute bit or no way to read capabilities, needs no round trip.
                (Some(FileKind::File), Some(m))
                    if m & 0o6000 == 0 && (m & 0o111 == 0 || w.xattrs == Some(false)) =>
                {
                    continue;
                }
                (Some(FileKind::Dir) | Some(FileKind::File) | None, _) => {}
                _ => continue,
            }
            let meta = match ctx.host().lstat(&path) {
                Ok(m) => m,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    ctx.host_error(&e);
                    continue;
                }
            };
            match meta.kind {
                FileKind::Dir => {
                    if NEVER.iter().any(|n| ptext(&path) == *n)
                        || skipped(w, &path)
                        || too_deep(w, &path)
                    {
                        continue;
                    }
                    if dev.is_some() && meta.dev != dev {
                        w.skipped_mounts += 1;
                        continue;
                    }
                    stack.push(path);
                }
                FileKind::File => file(ctx, w, path, &meta),
                _ => {}
            }
        }
    }
}

/// Whether a directory lies deeper below a depth-limited tree than the limit allows (counted).
fn too_deep(w: &mut Walk, path: &Path) -> bool {
    let deep = w.depth_limits.iter().any(|(tree, limit)| {
        path.strip_prefix(tree)
            .is_ok_and(|rest| rest.components().count() > *limit)
    });
    if deep {
        w.too_deep += 1;
    }
    deep
}

/// Whether a directory is container or image storage not to be entered (noted once).
fn skipped(w: &mut Walk, path: &Path) -> bool {
    let text = ptext(path);
    let skip = w.skip.contains(&text) || text.ends_with("/.local/share/containers");
    if skip {
        w.skipped.push(text);
    }
    skip
}

fn file(ctx: &mut CollectContext<'_>, w: &mut Walk, path: PathBuf, meta: &FileMeta) {
    let mut privileged = meta.mode & 0o6000 != 0;
    if meta.is_executable() && w.xattrs != Some(false) {
        match ctx.host().xattr(&path, "security.capability") {
            Ok(Some(v)) => {
                w.caps.insert(path.clone(), decode_caps(&v));
                privileged = true;
                w.xattrs = Some(true);
            }
            Ok(None) => w.xattrs = Some(true),
            Err(e) if e.kind == HostErrorKind::Unsupported => w.xattrs = Some(false),
            Err(e) if e.is_not_found() => {}
            Err(e) => ctx.host_error(&e),
        }
    }
    if privileged {
        w.found.push(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    fn caps_v2(effective: bool, permitted: u64) -> Vec<u8> {
        let mut v = (0x0200_0000u32 | u32::from(effective))
            .to_le_bytes()
            .to_vec();
        v.extend((permitted as u32).to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v.extend(((permitted >> 32) as u32).to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v
    }

    #[test]
    fn capabilities_decode() {
        let c = decode_caps(&caps_v2(true, 1 << 13)).unwrap();
        assert_eq!(c.permitted, ["cap_net_raw"]);
        assert_eq!(c.text, "cap_net_raw=ep");
        assert_eq!(c.revision, 2);
        let mut v3 = caps_v2(false, (1 << 7) | (1 << 40));
        v3[3] = 3;
        v3.extend(1000u32.to_le_bytes());
        let c = decode_caps(&v3).unwrap();
        assert_eq!(c.permitted, ["cap_setuid", "cap_checkpoint_restore"]);
        assert_eq!(c.rootid, Some(1000));
        assert_eq!(c.text, "cap_setuid,cap_checkpoint_restore=p");
        assert!(decode_caps(&[1, 2]).is_err());
        assert!(decode_caps(&caps_v2(true, 1)[..12]).is_err());
    }

    #[test]
    fn finds_setuid_setgid_and_capabilities_and_shell_copies() {
        let h = MemHost::new(false)
            .exe("/usr/bin/bash", "bash binary")
            .exe("/usr/bin/passwd", "passwd binary")
            .mode("/usr/bin/passwd", 0o4755)
            .exe("/usr/bin/ping", "ping binary")
            .xattr(
                "/usr/bin/ping",
                "security.capability",
                &caps_v2(true, 1 << 13),
            )
            .exe("/usr/bin/ls", "ls")
            .exe("/var/tmp/.x/bash", "bash binary")
            .mode("/var/tmp/.x/bash", 0o4755)
            .exe("/home/alice/tool", "tool")
            .xattr(
                "/home/alice/tool",
                "security.capability",
                &caps_v2(true, 1 << 7),
            )
            .exe("/var/lib/docker/overlay2/abc/diff/usr/bin/su", "su")
            .mode("/var/lib/docker/overlay2/abc/diff/usr/bin/su", 0o4755)
            .exe("/proc/1/exe", "never")
            .mode("/proc/1/exe", 0o4755)
            .link("/bin", "usr/bin");
        let (sink, r) = run_collector(
            &PrivilegedCollector,
            &h,
            serde_json::json!({"roots": ["/usr", "/bin", "/var", "/var/tmp", "/home", "/proc"]}),
            &Default::default(),
        );
        r.unwrap();
        let recs = sink.of_kind("privileged", "privileged_file");
        let paths: Vec<&str> = recs.iter().map(|r| r["path"].as_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/usr/bin/passwd",
                "/usr/bin/ping",
                "/var/tmp/.x/bash",
                "/home/alice/tool"
            ]
        );
        assert_eq!(recs[0]["setuid"], true);
        assert_eq!(recs[1]["capabilities"]["text"], "cap_net_raw=ep");
        assert_eq!(recs[2]["copy_of"], "/usr/bin/bash");
        assert!(recs[2]["sha256"].is_string());
        assert_eq!(recs[3]["capabilities"]["permitted"][0], "cap_setuid");
    }

    #[test]
    fn depth_limited_trees_are_walked_only_so_deep() {
        let h = MemHost::new(false)
            .exe("/usr/lib/openssh/ssh-keysign", "keysign")
            .mode("/usr/lib/openssh/ssh-keysign", 0o4755)
            .exe("/usr/lib/x86_64-linux-gnu/utempter/utempter", "utempter")
            .mode("/usr/lib/x86_64-linux-gnu/utempter/utempter", 0o2755)
            .exe("/usr/lib/python3/dist-packages/deep/down/x", "x")
            .mode("/usr/lib/python3/dist-packages/deep/down/x", 0o4755)
            .exe("/var/tmp/a/b/c/d/e/sh", "sh")
            .mode("/var/tmp/a/b/c/d/e/sh", 0o4755);
        let paths = |cfg: serde_json::Value| -> Vec<String> {
            let (sink, r) = run_collector(&PrivilegedCollector, &h, cfg, &Default::default());
            r.unwrap();
            let mut v: Vec<String> = sink
                .of_kind("privileged", "privileged_file")
                .iter()
                .map(|r| r["path"].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        // Default limits: /usr/lib three levels deep; /var/tmp has none.
        let got = paths(serde_json::json!({"roots": ["/usr", "/var/tmp"]}));
        assert_eq!(
            got,
            [
                "/usr/lib/openssh/ssh-keysign",
                "/usr/lib/x86_64-linux-gnu/utempter/utempter",
                "/var/tmp/a/b/c/d/e/sh"
            ]
        );
        // `{}` walks every tree whole.
        let got = paths(serde_json::json!({"roots": ["/usr"], "depth_limits": {}}));
        assert_eq!(got.len(), 3, "{got:?}");
    }

    /// A host like SFTP: everything but extended attributes.
    struct NoXattr(MemHost);

    impl dossier_plugin_api::Host for NoXattr {
        fn info(&self) -> dossier_plugin_api::HostInfo {
            self.0.info()
        }
        fn lstat(&self, p: &Path) -> Result<FileMeta, dossier_plugin_api::HostError> {
            self.0.lstat(p)
        }
        fn stat(&self, p: &Path) -> Result<FileMeta, dossier_plugin_api::HostError> {
            self.0.stat(p)
        }
        fn read_link(&self, p: &Path) -> Result<PathBuf, dossier_plugin_api::HostError> {
            self.0.read_link(p)
        }
        fn read_dir(
            &self,
            p: &Path,
        ) -> Result<Vec<dossier_plugin_api::host::DirEntry>, dossier_plugin_api::HostError>
        {
            self.0.read_dir(p)
        }
        fn open(
            &self,
            p: &Path,
        ) -> Result<Box<dyn dossier_plugin_api::host::FileReader + '_>, dossier_plugin_api::HostError>
        {
            self.0.open(p)
        }
    }

    #[test]
    fn the_walk_is_bounded_and_missing_capabilities_are_said() {
        let mut h = MemHost::new(false);
        for i in 0..10 {
            h = h.exe(&format!("/opt/a/f{i}"), "x");
        }
        let h = h.mode("/opt/a/f1", 0o2755);
        let (sink, r) = run_collector(
            &PrivilegedCollector,
            &h,
            serde_json::json!({"roots": ["/opt"], "max_files": 5}),
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(sink.issues_about("privileged files").len(), 1);
        let (sink, r) = run_collector(
            &PrivilegedCollector,
            &NoXattr(h),
            serde_json::json!({"roots": ["/opt"]}),
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(
            sink.of_kind("privileged", "privileged_file")[0]["setgid"],
            true
        );
        assert_eq!(sink.issues_about("security.capability").len(), 1);
    }
}
