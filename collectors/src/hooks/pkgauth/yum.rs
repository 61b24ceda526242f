//! yum and dnf plugins: plugin configuration (`/etc/yum/pluginconf.d/*.conf`,
//! `/etc/dnf/plugins/*.conf`) and plugin code (`/usr/lib/yum-plugins`, `/usr/share/yum-plugins`,
//! `dnf-plugins` of every `python3*` site-packages), active when `plugins=` of yum.conf/dnf.conf
//! allows plugins (yum: only `plugins=1`; dnf: unless `plugins=0`) and the plugin is enabled
//! (yum: `enabled=1` in its configuration; dnf: a plugin without configuration, or without
//! `enabled=0`, is enabled).

use crate::hooks::record::{Extracted, Run, regular};
use crate::util::{canonicalize, name_text};
use dossier_plugin_api::collect::CollectError;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// `key=value` of the `[main]` section of a yum/dnf ini file (lower-cased key).
pub fn ini_main(text: &str, key: &str) -> Option<String> {
    let mut in_main = true;
    let mut found = None;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('[') {
            in_main = l.eq_ignore_ascii_case("[main]");
            continue;
        }
        if !in_main || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            if k.trim().eq_ignore_ascii_case(key) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

fn truthy(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Reads a small configuration file for a decision (the file itself is recorded separately).
fn peek(run: &mut Run<'_, '_>, path: &Path) -> Option<String> {
    match run.ctx.host().read(path, run.cap) {
        Ok(o) => Some(String::from_utf8_lossy(&o.data).into_owned()),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            run.ctx.host_error(&e);
            None
        }
    }
}

/// Records the plugin configuration and code of yum and dnf.
pub(super) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    for (class, main_confs, conf_dir, default_on, code_dirs) in [
        (
            "yum-plugin",
            &["/etc/yum.conf", "/etc/yum/yum.conf"][..],
            "/etc/yum/pluginconf.d",
            false,
            vec![
                PathBuf::from("/usr/lib/yum-plugins"),
                PathBuf::from("/usr/share/yum-plugins"),
            ],
        ),
        (
            "dnf-plugin",
            &["/etc/dnf/dnf.conf"][..],
            "/etc/dnf/plugins",
            true,
            dnf_plugin_dirs(run),
        ),
    ] {
        // yum loads plugins only with plugins=1; dnf unless plugins=0.
        let mut plugins_on = default_on;
        for c in main_confs {
            if let Some(v) = peek(run, Path::new(c)).and_then(|t| ini_main(&t, "plugins")) {
                plugins_on = truthy(&v).unwrap_or(plugins_on);
                break;
            }
        }
        let mut enabled: BTreeMap<String, bool> = BTreeMap::new();
        let conf_dir = Path::new(conf_dir);
        for e in run.ctx.list_dir(conf_dir).unwrap_or_default() {
            let name = name_text(&e.name);
            let Some(stem) = name.strip_suffix(".conf") else {
                continue;
            };
            // A configuration without `enabled=` enables a dnf plugin, not a yum one.
            let on = std::cell::Cell::new(false);
            run.parsed_file(
                &conf_dir.join(&e.name),
                class,
                "package-operation",
                None,
                &|m| plugins_on && on.get() && regular(m),
                &mut |d| {
                    on.set(
                        ini_main(&String::from_utf8_lossy(d), "enabled")
                            .and_then(|v| truthy(&v))
                            .unwrap_or(default_on),
                    );
                    Extracted::default()
                },
            )?;
            let on = on.get();
            enabled.insert(stem.replace('-', "_"), on);
        }
        for dir in code_dirs {
            for e in run.ctx.list_dir(&dir).unwrap_or_default() {
                let name = name_text(&e.name);
                let Some(stem) = name.strip_suffix(".py") else {
                    continue;
                };
                let on = plugins_on
                    && match enabled.get(&stem.replace('-', "_")) {
                        Some(on) => *on,
                        // dnf enables a plugin without configuration; yum needs enabled=1.
                        None => default_on,
                    };
                run.parsed_file(
                    &dir.join(&e.name),
                    class,
                    "package-operation",
                    None,
                    &|m| on && regular(m),
                    &mut |_| Extracted::default(),
                )?;
            }
        }
    }
    Ok(())
}

/// `dnf-plugins` directories of every `python3*` under /usr/lib and /usr/lib64.
fn dnf_plugin_dirs(run: &mut Run<'_, '_>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for lib in ["/usr/lib", "/usr/lib64"] {
        for e in run.ctx.list_dir(Path::new(lib)).unwrap_or_default() {
            let name = name_text(&e.name);
            if !name.starts_with("python3") {
                continue;
            }
            let d = Path::new(lib)
                .join(&e.name)
                .join("site-packages/dnf-plugins");
            let key = canonicalize(run.ctx.host(), &d).unwrap_or_else(|| d.clone());
            if seen.insert(key) {
                out.push(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yum_ini() {
        assert_eq!(
            ini_main("[main]\nenabled = 1\n[other]\nenabled=0\n", "enabled").as_deref(),
            Some("1")
        );
        assert_eq!(ini_main("[x]\nplugins=1\n", "plugins"), None);
    }
}
