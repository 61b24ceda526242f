//! udev rules that run programs (`RUN+=`), from every rules directory: a rules file without a
//! `RUN` assignment is not recorded.

use super::record::Run;
use crate::util::{canonicalize, name_text, ptext};
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{HookRecord, Record};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// udev rules directories, in udev's priority order.
const UDEV_DIRS: &[&str] = &[
    "/etc/udev/rules.d",
    "/run/udev/rules.d",
    "/usr/local/lib/udev/rules.d",
    "/usr/lib/udev/rules.d",
    "/lib/udev/rules.d",
];

/// The `RUN` assignments of a udev rules file (`RUN+="..."`, `RUN{program}+="..."`).
pub fn udev_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        if let Some(c) = raw.strip_suffix('\\') {
            logical.push_str(c);
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let mut rest = t;
        while let Some(i) = rest.find("RUN") {
            let after = &rest[i + 3..];
            let after = match after.strip_prefix('{') {
                Some(a) => a.split_once('}').map_or("", |(_, x)| x),
                None => after,
            };
            let after = after.trim_start();
            let op = ["+=", ":=", "="]
                .iter()
                .find(|op| after.starts_with(**op))
                .copied();
            let Some(op) = op else {
                rest = &rest[i + 3..];
                continue;
            };
            let val = after[op.len()..].trim_start();
            if let Some(v) = val.strip_prefix('"') {
                let end = v.find('"').unwrap_or(v.len());
                out.push(v[..end].to_string());
                rest = &v[end..];
            } else {
                rest = val;
            }
        }
    }
    out
}

/// Records every rules file with a `RUN` assignment (each file once, rules directories
/// linked to one another read once).
pub(super) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for dir in UDEV_DIRS {
        let dir = Path::new(dir);
        let Some(canon) = canonicalize(run.ctx.host(), dir) else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        for e in run.ctx.list_dir(dir).unwrap_or_default() {
            let name = name_text(&e.name);
            if !name.ends_with(".rules") {
                continue;
            }
            let path = dir.join(&e.name);
            let out = match run.ctx.host().read(&path, run.cap) {
                Ok(o) => o,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    run.ctx.host_error(&e);
                    continue;
                }
            };
            let commands = udev_runs(&String::from_utf8_lossy(&out.data));
            if commands.is_empty() || !run.take_slot() {
                continue;
            }
            let meta = run.ctx.lstat(&path);
            let link_target = meta
                .as_ref()
                .filter(|m| m.kind == FileKind::Symlink)
                .and_then(|_| run.ctx.read_link(&path))
                .map(|t| ptext(&t));
            // A rules file linked to /dev/null masks the file of the same name: not active.
            let active = link_target.as_deref() != Some("/dev/null");
            let source = run.ctx.store_read(&path, out).map(|c| c.source_ref(&path));
            run.ctx.emit(&Record::Hook(HookRecord {
                path: ptext(&path),
                class: "udev".into(),
                runs_at: "device-event".into(),
                owner: None,
                meta,
                link_target,
                active,
                commands,
                source,
                ..Default::default()
            }))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udev_run_values() {
        let r = udev_runs(
            "# RUN+=\"/commented\"\nACTION==\"add\", SUBSYSTEM==\"net\", RUN+=\"/bin/sh -c 'curl x | sh'\"\nKERNEL==\"sd*\", RUN{program}+=\"/usr/bin/a\", \\\n  RUN+=\"/usr/bin/b\"\nENV{ID_RUN}=\"1\"\n",
        );
        assert_eq!(r, ["/bin/sh -c 'curl x | sh'", "/usr/bin/a", "/usr/bin/b"]);
        assert!(udev_runs("ACTION==\"add\", GOTO=\"end\"\n").is_empty());
    }
}
