//! Persistence writes (`event-persistence-write`): something writes a place that makes code
//! run later or grants access — cron, systemd units, shell profiles, rc scripts,
//! authorized_keys, sudoers, /etc/ld.so.preload.
//!
//! Writes are seen as file events (audit `open`/`openat` creating the file or caught by a
//! write watch, renames, links; Defender `FileCreated`/`FileModified`/`FileRenamed`) and in
//! command lines (`> file`, `>> file`, `tee`, `cp`/`mv`/`install`/`ln` to it, `sed -i`,
//! `crontab FILE|-`). Who writes and what is written set the severity: package managers,
//! configuration management and agents are Info; systemctl enabling a unit and a person
//! editing with an editor at a terminal are Low; other writers Medium; High when the content
//! or the writer points at something bad (a program in an unusual place, a download, a
//! network shell, a web server or service account, a writer in an unusual place) and for
//! /etc/ld.so.preload.

use super::view::{View, base, mentions, packaged, script_path, unusual_paths, url_hosts};
use super::{Hit, event_iocs, say};
use crate::rules::common::unusual_location;
use crate::rules::content;
use dossier_plugin_api::analysis::{Ioc, Severity};

/// What a persistence point is, and its technique.
pub(crate) fn target(path: &str) -> Option<(&'static str, &'static str)> {
    let name = base(path);
    if name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with('~')
        || name.contains(".dpkg-")
        || name == "README"
    {
        return None;
    }
    let under = |dirs: &[&str]| dirs.iter().any(|d| path.starts_with(d));
    if matches!(path, "/etc/crontab" | "/etc/anacrontab")
        || under(&[
            "/etc/cron.d/",
            "/etc/cron.hourly/",
            "/etc/cron.daily/",
            "/etc/cron.weekly/",
            "/etc/cron.monthly/",
            "/var/spool/cron/",
        ])
    {
        return Some(("cron", "T1053.003"));
    }
    if under(&[
        "/etc/systemd/system/",
        "/usr/lib/systemd/system/",
        "/lib/systemd/system/",
        "/etc/systemd/user/",
        "/usr/lib/systemd/user/",
    ]) || path.contains("/.config/systemd/user/")
    {
        return Some(("systemd unit", "T1543.002"));
    }
    if matches!(
        path,
        "/etc/profile" | "/etc/bash.bashrc" | "/etc/bashrc" | "/etc/zshrc" | "/etc/zsh/zshrc"
    ) || path.starts_with("/etc/profile.d/")
        || ((path.starts_with("/home/") || path.starts_with("/root/"))
            && matches!(
                name,
                ".bashrc"
                    | ".bash_profile"
                    | ".profile"
                    | ".bash_login"
                    | ".bash_logout"
                    | ".zshrc"
                    | ".zprofile"
                    | ".zlogin"
            ))
    {
        return Some(("shell profile", "T1546.004"));
    }
    if matches!(name, "authorized_keys" | "authorized_keys2") {
        return Some(("authorized_keys", "T1098.004"));
    }
    if path == "/etc/sudoers" || path.starts_with("/etc/sudoers.d/") {
        return Some(("sudoers", "T1548.003"));
    }
    if path == "/etc/ld.so.preload" {
        return Some(("ld.so.preload", "T1574.006"));
    }
    if matches!(path, "/etc/rc.local" | "/etc/rc.d/rc.local") || path.starts_with("/etc/init.d/") {
        return Some(("rc script", "T1037.004"));
    }
    None
}

const EDITORS: &[&str] = &[
    "vi",
    "vim",
    "vim.basic",
    "vim.tiny",
    "nvim",
    "nano",
    "emacs",
    "ed",
    "joe",
    "mcedit",
    "visudo",
    "sudoedit",
    "sudo",
    "crontab",
];

/// Programs that copy a file whose content the command line does not show.
const COPIERS: &[&str] = &["cp", "mv", "install", "rsync", "scp", "dd"];

/// The program a word names when it is one: a bare name, or a path in a system binary
/// directory (`/tmp/crontab.X/crontab` is a file, not the crontab program).
fn prog_word(x: &str) -> Option<&str> {
    if !x.contains('/') {
        return Some(x);
    }
    let (dir, name) = x.rsplit_once('/')?;
    matches!(
        dir,
        "/usr/bin" | "/bin" | "/usr/sbin" | "/sbin" | "/usr/local/bin"
    )
    .then_some(name)
}

/// Files a command line writes: redirection targets, `tee` arguments, the destination of
/// `cp`/`mv`/`install`/`ln`, `sed -i` files, and the account's crontab for `crontab FILE|-`.
pub(crate) fn written_by_command(cmd: &str, user: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Every target (and the crontab command) has one of these in its name.
    if !mentions(
        cmd,
        &[
            "cron",
            "systemd",
            "profile",
            "bashrc",
            "zshrc",
            "bash_log",
            "zlogin",
            "authorized_keys",
            "sudoers",
            "ld.so.preload",
            "rc.local",
            "init.d",
        ],
    ) {
        return out;
    }
    let spaced = cmd.replace(">>", " \u{1} ").replace('>', " \u{1} ");
    let w: Vec<&str> = spaced
        .split(|c: char| c.is_whitespace() || "'\";|&()`".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let mut push = |p: &str| {
        let p = p.trim_end_matches('/').to_string();
        if p.starts_with('/') && !out.contains(&p) {
            out.push(p);
        }
    };
    for (i, x) in w.iter().enumerate() {
        if *x == "\u{1}" {
            if let Some(t) = w.get(i + 1) {
                push(t);
            }
            continue;
        }
        match prog_word(x).unwrap_or("") {
            "tee" => {
                for a in w[i + 1..].iter().take_while(|a| **a != "\u{1}") {
                    if !a.starts_with('-') {
                        push(a);
                    }
                }
            }
            "cp" | "mv" | "install" | "ln" => {
                let args: Vec<&&str> = w[i + 1..]
                    .iter()
                    .take_while(|a| {
                        **a != "\u{1}" && !matches!(base(a), "chmod" | "systemctl" | "chown")
                    })
                    .filter(|a| !a.starts_with('-'))
                    .collect();
                if args.len() >= 2
                    && let Some(dest) = args.last()
                {
                    // `cp x /etc/cron.d/` names the directory: the file keeps its name.
                    if dest.ends_with('/') || target(dest).is_none() {
                        let src = base(args[0]);
                        push(&format!("{}/{src}", dest.trim_end_matches('/')));
                    } else {
                        push(dest);
                    }
                }
            }
            "sed" | "perl"
                if w[i + 1..]
                    .iter()
                    .any(|a| a.starts_with("-i") || a.starts_with("-pi")) =>
            {
                if let Some(f) = w[i + 1..].iter().rev().find(|a| a.starts_with('/')) {
                    push(f);
                }
            }
            "crontab" => {
                let args = &w[i + 1..];
                let reads = args.iter().any(|a| matches!(*a, "-l" | "-r" | "-e"));
                if !reads && let Some(u) = user.filter(|u| !u.starts_with("uid=")) {
                    push(&format!("/var/spool/cron/crontabs/{u}"));
                }
            }
            _ => {}
        }
    }
    out
}

/// The line a command writes, when it shows it (`echo '...' > file`, `printf ...`).
fn written_line(cmd: &str) -> Option<String> {
    for q in ['\'', '"'] {
        let mut parts = cmd.split(q);
        parts.next();
        if let Some(inner) = parts.next()
            && inner.contains('/')
            && parts.next().is_some()
        {
            return Some(inner.trim().to_string());
        }
    }
    let i = cmd
        .find("echo ")
        .map(|i| i + 5)
        .or_else(|| cmd.find("printf ").map(|i| i + 7))?;
    let rest = &cmd[i..];
    let end = rest.find('>').unwrap_or(rest.len());
    let line = rest[..end].trim();
    (!line.is_empty()).then(|| line.to_string())
}

fn is_file_write(v: &View) -> bool {
    let ok = v.ev.outcome.as_deref() != Some("failure");
    match v.action() {
        "open" | "openat" | "openat2" => {
            ok && (v
                .ev
                .fields
                .get("path_nametype")
                .is_some_and(|n| n == "CREATE")
                || v.ev.fields.contains_key("key"))
        }
        "creat" | "rename" | "renameat" | "renameat2" | "link" | "linkat" | "symlink"
        | "symlinkat" | "truncate" | "ftruncate" => ok,
        "FileCreated" | "FileModified" | "FileRenamed" => true,
        _ => false,
    }
}

pub(crate) fn check(v: &View, out: &mut Vec<Hit>) {
    let mut targets: Vec<(String, &'static str)> = Vec::new();
    if is_file_write(v)
        && let Some(f) = v.file()
        && target(&f).is_some()
    {
        targets.push((f, "wrote"));
    }
    if let Some(cmd) = v.run_command() {
        for t in written_by_command(cmd, v.user()) {
            if target(&t).is_some() && !targets.iter().any(|(p, _)| *p == t) {
                targets.push((t, "writes"));
            }
        }
    }
    for (path, how) in targets {
        out.push(hit(v, &path, how));
    }
}

/// How bad a write is: (severity, subject, why, unusual paths the command names).
fn judge(
    v: &View,
    path: &str,
    what: &str,
    cmd: &str,
) -> (Severity, String, String, Vec<(String, String)>) {
    let writer_name = v
        .proc
        .as_ref()
        .map(|p| p.base().to_string())
        .unwrap_or_default();
    let copies = cmd
        .split_whitespace()
        .find(|w| !matches!(base(w), "sudo" | "env"))
        .is_some_and(|w| COPIERS.contains(&base(w)));
    // The writer's own script (an interpreter's first argument) is judged as the writer.
    let own_script = script_path(cmd);
    let odd: Vec<(String, String)> = if copies {
        Vec::new()
    } else {
        unusual_paths(cmd, Some(path))
            .into_iter()
            .filter(|(p, _)| Some(p.as_str()) != own_script)
            .collect()
    };
    let pattern = content::hook_line_pattern(cmd);
    let writer_odd = v.exe().and_then(unusual_location).or_else(|| {
        own_script
            .filter(|_| v.config_management().is_none())
            .and_then(unusual_location)
    });
    let mut bad: Vec<String> = Vec::new();
    if let Some(p) = &pattern {
        bad.push(format!("the command {p}"));
    }
    for (p, why) in &odd {
        bad.push(format!("it names {p} ({why})"));
    }
    if let Some(w) = &writer_odd {
        bad.push(format!("the writer itself is in an unusual place ({w})"));
    }
    if v.web_context() {
        bad.push("a web server or web service account is behind the write".into());
    }
    if let Some(t) = &v.taint {
        bad.push(format!(
            "the writer descends from a process of the intrusion: {t}"
        ));
    }
    let routine = v
        .config_management()
        .or_else(|| v.package_manager().then_some("the package manager"))
        .or_else(|| v.agent());
    let packaged_writer = v.exe().is_some_and(packaged);
    let (severity, subject, context) = if let Some(r) = routine.filter(|_| bad.is_empty()) {
        (
            Severity::Info,
            format!("{what} by {r}"),
            format!("Behind it: {r}, doing routine installation or configuration."),
        )
    } else if !bad.is_empty() || what == "ld.so.preload" {
        let because = if bad.is_empty() {
            "/etc/ld.so.preload makes every program load a library: rootkits use it, packages almost never do".to_string()
        } else {
            bad.join("; ")
        };
        (
            Severity::High,
            path.to_string(),
            format!("What makes it bad: {because}."),
        )
    } else if packaged_writer && matches!(writer_name.as_str(), "systemctl" | "systemd") {
        (
            Severity::Low,
            path.to_string(),
            "systemctl (or systemd) enabled or changed a unit: an administrator's action as a rule; the unit's own file says what it runs.".into(),
        )
    } else if packaged_writer && EDITORS.contains(&writer_name.as_str()) && v.interactive() {
        (
            Severity::Low,
            path.to_string(),
            format!("A person edited it with {writer_name} at a terminal: maintenance, as a rule."),
        )
    } else {
        (
            Severity::Medium,
            path.to_string(),
            "No package manager, configuration management or editor session was behind it.".into(),
        )
    };
    (severity, subject, context, odd)
}

fn hit(v: &View, path: &str, how: &str) -> Hit {
    let (what, tech) = target(path).expect("a persistence target");
    let who = v.user().unwrap_or("an unknown account");
    let writer = v
        .proc
        .as_ref()
        .map(|p| p.label())
        .unwrap_or_else(|| "a process".into());
    let cmd = v.actor_command().unwrap_or("");
    let parent = v
        .parent_label()
        .map(|p| format!(" (parent {p})"))
        .unwrap_or_default();
    let line = written_line(cmd);
    let (severity, subject, context, odd) = judge(v, path, what, cmd);
    let explanation = format!(
        "{writer}, running as `{who}`{parent}, {how} the {what} file {path}{}{}. {context}",
        if cmd.is_empty() {
            String::new()
        } else {
            format!(" (`{cmd}`)")
        },
        match (&line, what) {
            (Some(l), "cron" | "systemd unit" | "shell profile" | "rc script" | "sudoers") => {
                format!("; the written line reads `{l}`")
            }
            _ => String::new(),
        }
    );
    let risk = say(
        match what {
            "cron" => "event-risk.cron",
            "systemd unit" => "event-risk.unit",
            "shell profile" => "event-risk.profile",
            "authorized_keys" => "event-risk.authorized-keys",
            "sudoers" => "event-risk.sudoers",
            "ld.so.preload" => "event-risk.preload",
            _ => "event-risk.boot-script",
        },
        &[("path", &path)],
    );
    let mut iocs = vec![Ioc::Path(path.to_string())];
    for (p, _) in &odd {
        iocs.push(Ioc::Path(p.clone()));
    }
    iocs.extend(url_hosts(cmd).into_iter().map(Ioc::Address));
    if what == "cron"
        && severity >= Severity::Medium
        && let Some(l) = &line
    {
        iocs.push(Ioc::CronCommand(l.clone()));
    }
    iocs.extend(event_iocs(v));
    let mut h = Hit::new(
        "event-persistence-write",
        severity,
        subject,
        explanation,
        risk,
    )
    .techniques(vec![tech])
    .title(format!("Persistence point written: {what}"))
    .field("Target", path)
    .iocs(iocs);
    if let Some(l) = line {
        h = h.field("Written", l);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_commands() {
        assert_eq!(target("/etc/cron.d/syncd").map(|t| t.0), Some("cron"));
        assert_eq!(
            target("/var/spool/cron/crontabs/root").map(|t| t.0),
            Some("cron")
        );
        assert_eq!(
            target("/etc/systemd/system/syncd.service").map(|t| t.0),
            Some("systemd unit")
        );
        assert_eq!(
            target("/home/deploy/.ssh/authorized_keys").map(|t| t.0),
            Some("authorized_keys")
        );
        assert_eq!(
            target("/home/deploy/.bashrc").map(|t| t.0),
            Some("shell profile")
        );
        assert_eq!(target("/etc/cron.d/.syncd.swp"), None);
        assert_eq!(target("/etc/nginx/nginx.conf"), None);
        let w = |c: &str| written_by_command(c, Some("root"));
        assert_eq!(
            w("echo '* * * * * root /tmp/.x/syncd' > /etc/cron.d/syncd"),
            ["/etc/cron.d/syncd"]
        );
        assert_eq!(
            w("echo ssh-ed25519 AAAA x >> /root/.ssh/authorized_keys"),
            ["/root/.ssh/authorized_keys"]
        );
        assert_eq!(
            w("cp /tmp/backup.cron /etc/cron.d/"),
            ["/etc/cron.d/backup.cron"]
        );
        assert_eq!(w("tee -a /etc/sudoers.d/x"), ["/etc/sudoers.d/x"]);
        assert_eq!(w("crontab /tmp/c"), ["/var/spool/cron/crontabs/root"]);
        assert!(w("crontab -l").is_empty());
        assert_eq!(
            written_line("bash -c echo '* * * * * root /tmp/.x/syncd' > /etc/cron.d/syncd")
                .as_deref(),
            Some("* * * * * root /tmp/.x/syncd")
        );
        assert_eq!(
            written_line("bash -c echo * * * * * root /tmp/.x/syncd > /etc/cron.d/syncd")
                .as_deref(),
            Some("* * * * * root /tmp/.x/syncd")
        );
    }
}
