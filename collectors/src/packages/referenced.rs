//! What this host runs, as the earlier collectors recorded it: the files targeted
//! verification checks, each with why it is checked (one function per source collector).

use crate::util::command_program;
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::records::{CronEntry, CronScript, ProcessRecord, UnitRecord};
use std::collections::BTreeMap;

/// Path → why it is checked (sorted, deduplicated).
type Targets = BTreeMap<String, Vec<String>>;

/// Executables named by processes, units, cron entries, hooks, privileged files and the
/// loader's preload list of this host, with why.
pub(super) fn executables(ctx: &CollectContext<'_>) -> Targets {
    let mut out = Targets::new();
    processes(ctx, &mut out);
    units(ctx, &mut out);
    cron(ctx, &mut out);
    hooks(ctx, &mut out);
    privileged(ctx, &mut out);
    preloaded(ctx, &mut out);
    for refs in out.values_mut() {
        refs.sort();
        refs.dedup();
    }
    out
}

/// A prior record without its `kind` tag, to read as its record type.
fn strip(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("kind");
    }
    v
}

/// The program of every process (dossier itself and deleted executables left out).
fn processes(ctx: &CollectContext<'_>, out: &mut Targets) {
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
}

/// The programs of a unit's `Exec*=` lines and the libraries it preloads.
fn units(ctx: &CollectContext<'_>, out: &mut Targets) {
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
}

/// The program of every cron entry, and every periodic cron script.
fn cron(ctx: &CollectContext<'_>, out: &mut Targets) {
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
}

/// System-wide boot and login hooks (files in home directories belong to no package).
fn hooks(ctx: &CollectContext<'_>, out: &mut Targets) {
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
}

/// Files that run with privileges (setuid, setgid, capabilities): an unowned one or a
/// packaged one whose content changed is the finding.
fn privileged(ctx: &CollectContext<'_>, out: &mut Targets) {
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
}

/// Libraries the loader injects into every program (names without a path, or with `$LIB`,
/// are resolved by the loader's search and cannot be pinned to one file here).
fn preloaded(ctx: &CollectContext<'_>, out: &mut Targets) {
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
}
