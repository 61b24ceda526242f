//! Log and history clearing (`event-log-clearing`): live logs under /var/log and shell
//! history files deleted, truncated, shredded, emptied by redirection or linked to
//! /dev/null; `history -c`; history logging turned off (HISTFILE unset or /dev/null,
//! HISTSIZE=0, `set +o history`); the audit system stopped or emptied of rules.
//!
//! Rotated and compressed logs (`syslog.1`, `.gz`, `-20251120`, journald's archived files)
//! are not live logs: removing them is retention, whoever does it. The programs whose job is
//! to rotate, compress or expire logs (logrotate, savelog, journald, systemd-tmpfiles, sysstat,
//! package managers, agents), and shells rewriting their own history file, are routine by
//! name *and* packaged path. `journalctl --vacuum-*` is routine; at a terminal it is reported
//! as Info.

use super::view::{View, base, mentions, packaged};
use super::{ArgExt, Hit, event_iocs, parent_arg, process_arg, say, who_arg};
use dossier_plugin_api::analysis::{Arg, Ioc, Message, Severity};

const HISTORY_FILES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".sh_history",
    ".ash_history",
    ".history",
    ".python_history",
    ".mysql_history",
    ".psql_history",
];

const SHELLS: &[&str] = &["bash", "sh", "dash", "zsh", "ksh", "ash", "fish"];

/// Programs whose job is to rotate, compress or expire logs.
const LOG_KEEPERS: &[&str] = &[
    "logrotate",
    "savelog",
    "rsyslogd",
    "syslog-ng",
    "systemd-journald",
    "journalctl",
    "systemd-tmpfiles",
    "systemd",
    "sadc",
    "sa1",
    "sa2",
    "debian-sa1",
    "auditd",
];

pub(crate) fn is_history(path: &str) -> bool {
    HISTORY_FILES.contains(&base(path))
}

/// Whether a path under /var/log is a live log (not a rotated, compressed or archived one).
pub(crate) fn is_live_log(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/var/log/") else {
        return false;
    };
    if rest.is_empty() || rest.ends_with('/') {
        return false;
    }
    let name = base(rest);
    let rotated = [
        ".gz",
        ".xz",
        ".bz2",
        ".zst",
        ".lz4",
        ".old",
        ".bak",
        ".journal~",
    ]
    .iter()
    .any(|s| name.ends_with(s))
        || name.contains('@')
        || name
            .rsplit_once('.')
            .is_some_and(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        || name
            .rsplit_once('-')
            .is_some_and(|(_, d)| d.len() >= 8 && d.chars().take(8).all(|c| c.is_ascii_digit()));
    !rotated
}

/// What a cleared target is.
fn target_kind(path: &str) -> Option<(Message, &'static str)> {
    target_id(path).map(|(id, tech)| (Message::new(id), tech))
}

/// The catalogue id of what a clearing targets (`event-said.target-*`) and its technique.
fn target_id(path: &str) -> Option<(&'static str, &'static str)> {
    if is_history(path) {
        Some(("event-said.target-history", "T1070.003"))
    } else if path == "/var/log/*"
        || path == "/var/log"
        || path.starts_with("/var/log/") && path.ends_with('*')
    {
        Some(("event-said.target-logs", "T1070.002"))
    } else if is_live_log(path) || matches!(path, "/var/run/utmp" | "/run/utmp") {
        Some(("event-said.target-live-log", "T1070.002"))
    } else {
        None
    }
}

fn routine_actor(v: &View, path: &str) -> bool {
    if v.package_manager() || v.agent().is_some() || v.config_management().is_some() {
        return true;
    }
    let Some(p) = &v.proc else { return false };
    let packaged_exe = p.exe.as_deref().is_some_and(packaged);
    packaged_exe
        && (LOG_KEEPERS.contains(&p.base()) || (is_history(path) && SHELLS.contains(&p.base())))
}

/// Words of a command line with quotes and separators removed, in order.
fn words(cmd: &str) -> Vec<&str> {
    cmd.split(|c: char| c.is_whitespace() || "'\";|&()`".contains(c))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Resolves `~/x` and `$HOME/x` for the account (as far as can be told).
fn expand(w: &str, user: Option<&str>) -> String {
    let home = match user {
        Some("root") => "/root".to_string(),
        Some(u) if !u.starts_with("uid=") => format!("/home/{u}"),
        _ => "~".to_string(),
    };
    if let Some(r) = w.strip_prefix("~/") {
        format!("{home}/{r}")
    } else if let Some(r) = w.strip_prefix("$HOME/") {
        format!("{home}/{r}")
    } else {
        w.to_string()
    }
}

/// A clearing action: target, how, severity, technique.
type Clearing = (String, Message, Severity, &'static str);

/// Clearing actions in a command line.
pub(crate) fn in_command(cmd: &str, user: Option<&str>) -> Vec<Clearing> {
    let mut out: Vec<Clearing> = Vec::new();
    // Every clearing below names a log path, a history file or variable, utmp or auditd.
    if !mentions(
        cmd,
        &["/var/log", "history", "hist", "HIST", "utmp", "audit"],
    ) {
        return out;
    }
    let w = words(cmd);
    let lower = cmd.to_ascii_lowercase();
    history_commands(&w, &lower, user, &mut out);
    deleting_commands(cmd, &w, user, &mut out);
    let audit_off = (w.iter().any(|x| base(x) == "auditctl")
        && (w.contains(&"-D") || w.windows(2).any(|p| p == ["-e", "0"])))
        || (w.iter().any(|x| matches!(base(x), "systemctl" | "service"))
            && lower.contains("auditd")
            && (lower.contains("stop") || lower.contains("disable") || lower.contains("mask")));
    if audit_off {
        out.push((
            "audit system".into(),
            Message::new("event-said.audit-off"),
            Severity::Medium,
            "T1562.012",
        ));
    }
    let mut seen = Vec::new();
    out.retain(|(t, ..)| {
        let new = !seen.contains(t);
        seen.push(t.clone());
        new
    });
    out
}

/// `history -c`, and history logging turned off.
fn history_commands(w: &[&str], lower: &str, user: Option<&str>, out: &mut Vec<Clearing>) {
    let hist_owner = user.unwrap_or("the account");
    for (i, x) in w.iter().enumerate() {
        if *x == "history"
            && w.get(i + 1)
                .is_some_and(|a| a.starts_with('-') && a.contains('c'))
        {
            out.push((
                format!("shell history of {hist_owner}"),
                Message::new("event-said.history-cleared"),
                Severity::High,
                "T1070.003",
            ));
        }
    }
    let disables = (lower.contains("unset histfile"))
        || lower.contains("histfile=/dev/null")
        || lower.contains("histsize=0")
        || lower.contains("histfilesize=0")
        || lower.contains("set +o history");
    if disables {
        out.push((
            format!("history logging of {hist_owner}"),
            Message::new("event-said.history-off"),
            Severity::Medium,
            "T1562.003",
        ));
    }
}

/// Deleting, shredding, truncating, emptying by redirection or copying /dev/null over.
fn deleting_commands(cmd: &str, w: &[&str], user: Option<&str>, out: &mut Vec<Clearing>) {
    for (i, x) in w.iter().enumerate() {
        let prog = base(x);
        let how = match prog {
            "rm" | "unlink" | "srm" => "event-said.deletes",
            "shred" | "wipe" => "event-said.shreds",
            "truncate" => "event-said.truncates",
            "ln" if w[i + 1..].contains(&"/dev/null") => "event-said.links-null",
            _ => continue,
        };
        for a in w[i + 1..]
            .iter()
            .take_while(|a| !matches!(**a, "&&" | "||"))
        {
            if a.starts_with('-') || *a == "/dev/null" {
                continue;
            }
            let t = expand(a, user);
            if let Some((what, tech)) = target_kind(&t) {
                out.push((
                    t.clone(),
                    say(how, &[("target", &t)]).msg("what", what),
                    Severity::High,
                    tech,
                ));
            }
        }
    }
    // `> file`, `: > file`, `cat /dev/null > file`, `cp /dev/null file`.
    let spaced = cmd.replace('>', " > ").replace(" >  > ", " >> ");
    let sw: Vec<&str> = spaced.split_whitespace().collect();
    for (i, x) in sw.iter().enumerate() {
        if *x == ">"
            && let Some(t) = sw.get(i + 1)
        {
            let t = expand(t.trim_matches(|c| c == '"' || c == '\''), user);
            if let Some((what, tech)) = target_kind(&t) {
                out.push((
                    t.clone(),
                    say("event-said.empties", &[("target", &t)]).msg("what", what),
                    Severity::High,
                    tech,
                ));
            }
        }
    }
    for (i, x) in w.iter().enumerate() {
        if matches!(base(x), "cp" | "dd")
            && w[i + 1..]
                .iter()
                .any(|a| a.ends_with("/dev/null") || *a == "if=/dev/null" || *a == "if=/dev/zero")
        {
            for a in &w[i + 1..] {
                let t = expand(a.trim_start_matches("of="), user);
                if let Some((what, tech)) = target_kind(&t) {
                    out.push((
                        t.clone(),
                        say("event-said.overwrites", &[("target", &t)]).msg("what", what),
                        Severity::High,
                        tech,
                    ));
                }
            }
        }
    }
}

pub(crate) fn check(v: &View, out: &mut Vec<Hit>) {
    commands(v, out);
    file_event(v, out);
}

/// Clearing in the command an event runs, or in the lines of a recorded script.
fn commands(v: &View, out: &mut Vec<Hit>) {
    let user = v.user();
    let mut cmds: Vec<(&str, Option<usize>)> = Vec::new();
    if let Some(c) = v.run_command() {
        cmds.push((c, None));
    }
    if let Some(text) = v.script() {
        cmds.extend(
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with('#'))
                .map(|(i, l)| (l, Some(i + 1)))
                .take(10_000),
        );
    }
    for (cmd, line) in cmds {
        if v.package_manager() || v.agent().is_some() {
            break;
        }
        let words = if cmd.contains("journalctl") {
            words(cmd)
        } else {
            Vec::new()
        };
        if words.first().is_some_and(|w| base(w) == "journalctl")
            && words.iter().any(|w| w.starts_with("--vacuum"))
        {
            if v.interactive() {
                out.push(
                    Hit::said(
                        "event-log-clearing",
                        Severity::Info,
                        "journal vacuum",
                        say("event-said.journal-vacuum", &[("cmd", &cmd)])
                            .arg("who", who_arg(v))
                            .arg("parent", parent_arg(v)),
                        say("event-risk.journal-vacuum", &[]),
                    )
                    .techniques(vec!["T1070.002"]),
                );
            }
            continue;
        }
        for (target, how, severity, tech) in in_command(cmd, user) {
            let place = match line {
                Some(n) => say("event-said.script-line", &[("n", &n)]),
                None => say("event-said.command-run", &[("cmd", &cmd)]),
            }
            .arg("who", who_arg(v))
            .arg("parent", parent_arg(v));
            let mut h = Hit::said(
                "event-log-clearing",
                severity,
                target.clone(),
                Message::new("event-said.clearing")
                    .msg("place", place)
                    .msg("how", how),
                risk(tech, &v.ev.host),
            )
            .techniques(vec![tech])
            .iocs(event_iocs(v));
            if target.starts_with('/') {
                h = h.iocs([Ioc::Path(target.clone())]);
            }
            if let Some(n) = line {
                h = h.field("Script line", format!("{n}: {cmd}"));
            }
            out.push(h);
        }
    }
}

/// A live log or history file deleted, truncated or renamed (audit, Defender file events).
fn file_event(v: &View, out: &mut Vec<Hit>) {
    let deleting = matches!(
        v.action(),
        "unlink"
            | "unlinkat"
            | "rename"
            | "renameat"
            | "renameat2"
            | "truncate"
            | "ftruncate"
            | "FileDeleted"
            | "FileRenamed"
    );
    if !deleting {
        return;
    }
    let Some(path) = v.file() else { return };
    let Some((what, tech)) = target_kind(&path) else {
        return;
    };
    if routine_actor(v, &path) {
        return;
    }
    let prog = match &v.proc {
        Some(p) => process_arg(p),
        None => Arg::Message(Message::new("event-said.a-process")),
    };
    let verb = match v.action() {
        "unlink" | "unlinkat" | "FileDeleted" => "event-said.file-deleted",
        "truncate" | "ftruncate" => "event-said.file-truncated",
        _ => "event-said.file-renamed",
    };
    out.push(
        Hit::said(
            "event-log-clearing",
            Severity::High,
            path.clone(),
            say(verb, &[("path", &path)])
                .arg("prog", prog)
                .arg("who", who_arg(v))
                .arg("parent", parent_arg(v))
                .msg("what", what)
                .arg(
                    "command",
                    match v.actor_command() {
                        Some(c) => {
                            Arg::Message(Message::new("event-said.command").text("command", c))
                        }
                        None => Arg::Text(String::new()),
                    },
                ),
            risk(tech, &v.ev.host),
        )
        .techniques(vec![tech])
        .iocs([Ioc::Path(path.clone())])
        .iocs(event_iocs(v)),
    );
}

fn risk(tech: &str, host: &str) -> Message {
    let id = match tech {
        "T1070.003" => "event-risk.history-erased",
        "T1562.003" => "event-risk.history-off",
        "T1562.012" => "event-risk.audit-off",
        _ => "event-risk.logs-wiped",
    };
    say(id, &[("host", &host)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_logs_and_commands() {
        assert!(is_live_log("/var/log/auth.log"));
        assert!(is_live_log("/var/log/audit/audit.log"));
        assert!(!is_live_log("/var/log/syslog.1"));
        assert!(!is_live_log("/var/log/auth.log.2.gz"));
        assert!(!is_live_log("/var/log/messages-20251120"));
        assert!(!is_live_log("/var/log/journal/abc/system@0005-1.journal"));
        let c = |s: &str| in_command(s, Some("root"));
        assert_eq!(
            c("truncate -s0 /var/log/auth.log")[0].0,
            "/var/log/auth.log"
        );
        assert_eq!(c("rm -f ~/.bash_history")[0].0, "/root/.bash_history");
        assert_eq!(c("bash -c history -c")[0].2, Severity::High);
        assert_eq!(
            c("ln -sf /dev/null /root/.bash_history")[0].0,
            "/root/.bash_history"
        );
        assert_eq!(c("cat /dev/null > /var/log/wtmp")[0].0, "/var/log/wtmp");
        assert_eq!(c("unset HISTFILE")[0].2, Severity::Medium);
        assert_eq!(c("auditctl -D")[0].0, "audit system");
        assert!(c("rm -f /var/log/nginx/access.log.3.gz").is_empty());
        assert!(c("find /var/log/app -name '*.gz' -mtime +30 -delete").is_empty());
        assert!(c("tail -n 50 /var/log/auth.log").is_empty());
        assert!(c("echo done >> /var/log/deploy.log").is_empty());
        assert!(c("history | tail").is_empty());
    }
}
