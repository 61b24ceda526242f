//! Anti-forensics: shell history switched off or linked to `/dev/null`, and login or
//! authentication logs emptied after the fact.
//!
//! Emptied logs are told from rotated ones by what should be in them: rotation starts a new,
//! empty file, but the records written before it are then in the rotated copy
//! (`wtmp.1`, `auth.log.1`), whose modification time is at or after them. A log is called
//! cleared only when an event that must have been written to it happened *after* its last
//! rotated copy was last written (or when there is no rotated copy), and the current file
//! does not hold it: a session logged in now (utmp) that wtmp does not have, a lastlog login
//! that wtmp does not have, an empty auth log while wtmp shows a later login. A log replaced
//! by a link to `/dev/null` is cleared by construction.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx, typed};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc, Message};
use dossier_plugin_api::records::{HistoryFileRecord, LastlogRecord, LogFileRecord, LoginRecord};

/// Classes of hook files that a shell reads at start-up.
const SHELL_CLASSES: &[&str] = &["profile", "profile.d", "bash.bashrc", "user-shell-rc"];

/// Why one line of a shell start-up file switches history off or clears it, if it does
/// (`reason.history.*`).
pub fn history_line(line: &str) -> Option<Message> {
    let code = line.split('#').next().unwrap_or("");
    for stmt in code
        .split([';', '\n'])
        .flat_map(|s| s.split("&&"))
        .flat_map(|s| s.split("||"))
    {
        let mut s = stmt.trim();
        for p in [
            "export ",
            "readonly ",
            "declare -x ",
            "typeset -x ",
            "local ",
        ] {
            s = s.strip_prefix(p).map(str::trim_start).unwrap_or(s);
        }
        let words: Vec<&str> = s.split_whitespace().collect();
        match words.as_slice() {
            ["unset", rest @ ..] if rest.contains(&"HISTFILE") => {
                return Some(Message::new("reason.history.unset-histfile"));
            }
            ["set", "+o", "history", ..] | ["shopt", "-uo", "history", ..] => {
                return Some(Message::new("reason.history.off"));
            }
            ["history", "-c", ..] => {
                return Some(Message::new("reason.history.cleared"));
            }
            ["ln", .., "/dev/null", dst] if dst.contains("history") => {
                return Some(Message::new("reason.history.linked-null").text("file", dst));
            }
            _ => {}
        }
        let Some((k, v)) = s.split_once('=') else {
            continue;
        };
        let v = v
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches(|c| c == '"' || c == '\'');
        match k.trim() {
            "HISTFILE" if v == "/dev/null" || v.is_empty() => {
                return Some(
                    Message::new("reason.history.histfile-null")
                        .text("value", if v.is_empty() { "''" } else { v }),
                );
            }
            "HISTSIZE" | "HISTFILESIZE" | "SAVEHIST" if v == "0" => {
                return Some(Message::new("reason.history.size-zero").text("var", k.trim()));
            }
            "HISTIGNORE" if v == "*" => {
                return Some(Message::new("reason.history.ignore-all"));
            }
            _ => {}
        }
    }
    None
}

pub(crate) fn history_disabled(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.active && SHELL_CLASSES.contains(&h.rec.class.as_str()))
    {
        let Some(member) = h.rec.source.as_ref().and_then(|s| s.member.clone()) else {
            continue;
        };
        let Ok(data) = (input.read_member)(&member, cfg.max_scan_bytes.min(4 << 20)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&data);
        let Some((n, line, why)) = text
            .lines()
            .enumerate()
            .find_map(|(i, l)| history_line(l).map(|w| (i + 1, l.trim().to_string(), w)))
        else {
            continue;
        };
        let id = match (h.rec.runs_at == "login", h.rec.owner.is_some()) {
            (true, false) => "finding.antiforensics.history-off-login",
            (false, false) => "finding.antiforensics.history-off-interactive",
            (true, true) => "finding.antiforensics.history-off-login-of",
            (false, true) => "finding.antiforensics.history-off-interactive-of",
        };
        let mut m = Message::new(id)
            .text("file", &h.rec.path)
            .text("n", n)
            .msg("why", why)
            .text("line", &line);
        if let Some(o) = &h.rec.owner {
            m = m.text("owner", o);
        }
        out.push(explained(
            format!("{}:{n}", h.rec.path),
            m,
            ctx.ev(
                h,
                what(
                    "evidence.hook",
                    &[("class", &h.rec.class), ("path", &h.rec.path)],
                ),
                h.rec.source.as_ref(),
            ),
            vec![Ioc::Path(h.rec.path.clone()), Ioc::ConfigLine(line)],
        ));
    }
    out
}

fn to_null(meta_kind: dossier_plugin_api::host::FileKind, target: Option<&str>) -> bool {
    meta_kind == dossier_plugin_api::host::FileKind::CharDevice
        || target.is_some_and(|t| t == "/dev/null" || t.ends_with("/dev/null"))
}

pub(crate) fn history_file_nulled(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let files: Vec<At<HistoryFileRecord>> = typed(input, "traces", "history_file");
    files
        .iter()
        .filter(|f| to_null(f.rec.meta.kind, f.rec.link_target.as_deref()))
        .map(|f| {
            let m = match &f.rec.link_target {
                Some(t) => {
                    Message::new("finding.antiforensics.history-file-link").text("target", t)
                }
                None => Message::new("finding.antiforensics.history-file-device"),
            };
            explained(
                f.rec.path.clone(),
                m.text("file", &f.rec.path).text("user", &f.rec.user),
                ctx.ev(
                    f,
                    what("evidence.history-file", &[("path", &f.rec.path)]),
                    None,
                ),
                vec![Ioc::Path(f.rec.path.clone())],
            )
        })
        .collect()
}

fn user_logins<'a>(ctx: &'a Ctx, log: &'a str) -> impl Iterator<Item = &'a At<LoginRecord>> {
    ctx.logins.iter().filter(move |l| {
        l.rec.log == log && l.rec.entry_type == "user_process" && l.rec.time.is_some()
    })
}

/// A session opened from another host (sshd, telnet, rlogin): the host is an address or a
/// name, not a display or a multiplexer's tag.
fn remote_login(l: &LoginRecord) -> bool {
    l.address.is_some()
        || (!l.host.is_empty()
            && !l.host.starts_with(':')
            && !l.host.contains(['(', ')', '%', ' ']))
}

fn secs(l: &LoginRecord) -> i64 {
    l.time.as_ref().map_or(0, |t| t.unix_seconds())
}

/// Newest modification time of the rotated copies of `log`, if any.
fn newest_rotation(logs: &[At<LogFileRecord>], log: &str) -> Option<i64> {
    logs.iter()
        .filter(|l| l.rec.log == log && l.rec.rotated)
        .filter_map(|l| l.rec.meta.mtime.as_ref().map(|t| t.unix_seconds()))
        .max()
}

fn current<'a>(logs: &'a [At<LogFileRecord>], log: &str) -> Option<&'a At<LogFileRecord>> {
    logs.iter().find(|l| l.rec.log == log && !l.rec.rotated)
}

pub(crate) fn login_logs_cleared(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    facts_by_subject(cleared(ctx, cfg, input), "log-cleared")
}

fn cleared(ctx: &Ctx, _: &AnalysisConfig, input: &mut BundleInput<'_>) -> Vec<Finding> {
    let logs: Vec<At<LogFileRecord>> = typed(input, "traces", "log_file");
    let lastlog: Vec<At<LastlogRecord>> = typed(input, "traces", "lastlog");
    let mut out = nulled_logs(ctx, &logs);
    let wtmp_logins: Vec<&At<LoginRecord>> = user_logins(ctx, "wtmp").collect();
    if let Some(wtmp) = current(&logs, "wtmp")
        .filter(|l| l.rec.meta.kind == dossier_plugin_api::host::FileKind::File)
    {
        let wtmp = Wtmp {
            log: wtmp,
            rotated: newest_rotation(&logs, "wtmp"),
            logins: &wtmp_logins,
        };
        out.extend(session_not_in_wtmp(ctx, &wtmp));
        out.extend(lastlog_not_in_wtmp(ctx, &wtmp, &lastlog));
    }
    out.extend(auth_log_emptied(ctx, &logs, &wtmp_logins));
    out
}

fn log_ev(ctx: &Ctx, l: &At<LogFileRecord>) -> Vec<Evidence> {
    ctx.ev(l, what("evidence.log-file", &[("path", &l.rec.path)]), None)
}

/// Logs replaced by links to /dev/null.
fn nulled_logs(ctx: &Ctx, logs: &[At<LogFileRecord>]) -> Vec<Finding> {
    logs.iter()
        .filter(|l| !l.rec.rotated && to_null(l.rec.meta.kind, l.rec.link_target.as_deref()))
        .map(|l| {
            let m = match l.rec.link_target.as_deref() {
                Some(t) => Message::new("finding.antiforensics.log-link").text("target", t),
                None => Message::new("finding.antiforensics.log-device"),
            };
            explained(
                l.rec.path.clone(),
                m.text("file", &l.rec.path),
                log_ev(ctx, l),
                vec![Ioc::Path(l.rec.path.clone())],
            )
        })
        .collect()
}

/// The current wtmp (a regular file), when it was last rotated and the user logins it holds.
struct Wtmp<'a> {
    log: &'a At<LogFileRecord>,
    rotated: Option<i64>,
    logins: &'a [&'a At<LoginRecord>],
}

impl Wtmp<'_> {
    /// Whether a login at `t` must be in the current wtmp (it came after the last rotation).
    fn after_rotation(&self, t: i64) -> bool {
        self.rotated.is_none_or(|r| r < t)
    }
}

/// (a) A session open now that wtmp does not have (the first one).
///
/// Remote logins only: terminal multiplexers and X terminals (screen, tmux, xterm: hosts such
/// as `:pts/0:S.0` or `tmux(812).%0`) add utmp entries without wtmp ones.
fn session_not_in_wtmp(ctx: &Ctx, wtmp: &Wtmp<'_>) -> Option<Finding> {
    let s = user_logins(ctx, "utmp")
        .filter(|s| remote_login(&s.rec))
        .find(|s| {
            let t = secs(&s.rec);
            let in_wtmp = wtmp.logins.iter().any(|w| {
                w.rec.line == s.rec.line
                    && ((secs(&w.rec) - t).abs() <= 2 || w.rec.pid == s.rec.pid)
            });
            !in_wtmp && wtmp.after_rotation(t)
        })?;
    let log = wtmp.log;
    let mut ev = ctx.ev(
        s,
        what(
            "evidence.current-session",
            &[("user", &s.rec.user), ("line", &s.rec.line)],
        ),
        Some(&s.rec.source),
    );
    ev.extend(log_ev(ctx, log));
    let id = match wtmp.rotated {
        Some(_) => "finding.antiforensics.session-not-in-wtmp",
        None => "finding.antiforensics.session-not-in-wtmp-never-rotated",
    };
    Some(explained(
        log.rec.path.clone(),
        Message::new(id)
            .text("user", &s.rec.user)
            .text("tty", &s.rec.line)
            .text(
                "since",
                s.rec
                    .time
                    .as_ref()
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
            )
            .text("file", &log.rec.path)
            .text("size", log.rec.meta.size),
        ev,
        vec![
            Ioc::Path(log.rec.path.clone()),
            Ioc::Account(s.rec.user.clone()),
        ],
    ))
}

/// (b) A lastlog login that wtmp does not have (the first one).
fn lastlog_not_in_wtmp(
    ctx: &Ctx,
    wtmp: &Wtmp<'_>,
    lastlog: &[At<LastlogRecord>],
) -> Option<Finding> {
    let l = lastlog.iter().find(|l| {
        let t = l.rec.time.unix_seconds();
        let in_wtmp = wtmp
            .logins
            .iter()
            .any(|w| w.rec.user == l.rec.user && (secs(&w.rec) - t).abs() <= 60);
        !in_wtmp && wtmp.after_rotation(t)
    })?;
    let log = wtmp.log;
    let mut ev = ctx.ev(
        l,
        what("evidence.lastlog-entry", &[("user", &l.rec.user)]),
        None,
    );
    ev.extend(log_ev(ctx, log));
    let m = if l.rec.host.is_empty() {
        Message::new("finding.antiforensics.lastlog-not-in-wtmp")
    } else {
        Message::new("finding.antiforensics.lastlog-not-in-wtmp-from").text("host", &l.rec.host)
    };
    Some(explained(
        log.rec.path.clone(),
        m.text("user", &l.rec.user)
            .text("time", l.rec.time.to_rfc3339())
            .text("tty", &l.rec.line)
            .text("file", &log.rec.path)
            .text("size", log.rec.meta.size),
        ev,
        vec![
            Ioc::Path(log.rec.path.clone()),
            Ioc::Account(l.rec.user.clone()),
        ],
    ))
}

/// (c) An empty auth log while wtmp shows a login after its last rotation.
fn auth_log_emptied(
    ctx: &Ctx,
    logs: &[At<LogFileRecord>],
    wtmp_logins: &[&At<LoginRecord>],
) -> Option<Finding> {
    let auth = current(logs, "auth").filter(|l| {
        l.rec.meta.kind == dossier_plugin_api::host::FileKind::File && l.rec.meta.size == 0
    })?;
    let latest = wtmp_logins.iter().max_by_key(|w| secs(&w.rec))?;
    let t = secs(&latest.rec);
    if newest_rotation(logs, "auth").is_some_and(|r| r >= t) {
        return None;
    }
    let mut ev = log_ev(ctx, auth);
    ev.extend(ctx.ev(
        latest,
        what("evidence.wtmp-login", &[("user", &latest.rec.user)]),
        Some(&latest.rec.source),
    ));
    Some(explained(
        auth.rec.path.clone(),
        Message::new("finding.antiforensics.auth-log-emptied")
            .text("file", &auth.rec.path)
            .text("user", &latest.rec.user)
            .text(
                "time",
                latest
                    .rec
                    .time
                    .as_ref()
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
            )
            .text("source", &latest.rec.source.path),
        ev,
        vec![Ioc::Path(auth.rec.path.clone())],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::analyze;
    use crate::testkit::input;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn history_lines() {
        for l in [
            "export HISTFILE=/dev/null",
            "unset HISTFILE",
            "HISTSIZE=0",
            "set +o history",
            "export HISTFILESIZE=0 # quiet",
            "[ -n x ] && unset HISTFILE HISTSAVE",
        ] {
            assert!(history_line(l).is_some(), "{l}");
        }
        for l in [
            "HISTCONTROL=ignoreboth",
            "HISTSIZE=1000",
            "# unset HISTFILE",
            "shopt -s histappend",
            "HISTFILE=~/.bash_history_$USER",
        ] {
            assert!(history_line(l).is_none(), "{l}");
        }
    }

    fn meta(kind: &str, size: u64, mtime: &str) -> serde_json::Value {
        json!({"kind": kind, "mode": 0o664, "uid": 0, "gid": 43, "size": size, "mtime": mtime})
    }

    fn login(
        log: &str,
        path: &str,
        user: &str,
        line: &str,
        pid: i32,
        time: &str,
    ) -> serde_json::Value {
        json!({"kind": "login", "log": log, "index": 0, "entry_type": "user_process", "pid": pid, "line": line, "user": user, "host": "192.0.2.5",
               "time": time, "source": {"path": path}})
    }

    fn run(traces: Vec<serde_json::Value>, sessions: Vec<serde_json::Value>) -> Vec<String> {
        let mut r = BTreeMap::new();
        r.insert(
            "traces".to_string(),
            traces
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i + 1, v))
                .collect(),
        );
        r.insert(
            "sessions".to_string(),
            sessions
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i + 1, v))
                .collect(),
        );
        let mut read = |_: &str, _: u64| -> Result<Vec<u8>, String> { Err("none".into()) };
        let mut inp = input(r, &mut read);
        analyze(&mut inp, &AnalysisConfig::default())
            .findings
            .iter()
            .filter(|f| f.rule == "login-logs-cleared" || f.rule == "history-file-nulled")
            .map(|f| f.explanation.clone())
            .collect()
    }

    #[test]
    fn cleared_logs_are_told_from_rotated_ones() {
        // Truncated: wtmp empty, no rotation since the session and the lastlog login; auth.log
        // empty after a login; root's history linked to /dev/null.
        let got = run(
            vec![
                json!({"kind": "log_file", "path": "/var/log/wtmp", "log": "wtmp", "rotated": false, "meta": meta("file", 0, "2026-12-01T10:00:00Z")}),
                json!({"kind": "log_file", "path": "/var/log/wtmp.1", "log": "wtmp", "rotated": true, "meta": meta("file", 3840, "2026-11-01T00:00:00Z")}),
                json!({"kind": "log_file", "path": "/var/log/auth.log", "log": "auth", "rotated": false, "meta": meta("file", 0, "2026-12-01T10:00:00Z")}),
                json!({"kind": "log_file", "path": "/var/log/auth.log.1", "log": "auth", "rotated": true, "meta": meta("file", 900, "2026-11-29T00:00:00Z")}),
                json!({"kind": "lastlog", "uid": 0, "user": "root", "time": "2026-12-01T09:00:00Z", "line": "pts/1", "host": "203.0.113.9", "source": {"path": "/var/log/lastlog#uid=0"}}),
                json!({"kind": "history_file", "user": "root", "path": "/root/.bash_history", "meta": meta("symlink", 9, "2026-12-01T09:00:00Z"), "link_target": "/dev/null"}),
            ],
            vec![
                login(
                    "utmp",
                    "/run/utmp",
                    "root",
                    "pts/1",
                    4242,
                    "2026-12-01T09:00:00Z",
                ),
                login(
                    "wtmp",
                    "/var/log/wtmp.1",
                    "alice",
                    "pts/0",
                    100,
                    "2026-11-30T08:00:00Z",
                ),
            ],
        );
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got.iter().any(|e| e.contains("logged in now on pts/1")));
        assert!(got.iter().any(|e| e.contains("lastlog says root")));
        assert!(got.iter().any(|e| e.contains("/var/log/auth.log is empty")));
        // Rotated: the session and the login are in wtmp.1, which was written after them;
        // the empty auth.log's predecessor was written after the last login.
        let got = run(
            vec![
                json!({"kind": "log_file", "path": "/var/log/wtmp", "log": "wtmp", "rotated": false, "meta": meta("file", 0, "2026-12-01T00:00:00Z")}),
                json!({"kind": "log_file", "path": "/var/log/wtmp.1", "log": "wtmp", "rotated": true, "meta": meta("file", 3840, "2026-11-30T23:00:00Z")}),
                json!({"kind": "log_file", "path": "/var/log/auth.log", "log": "auth", "rotated": false, "meta": meta("file", 0, "2026-12-01T00:00:00Z")}),
                json!({"kind": "log_file", "path": "/var/log/auth.log.1", "log": "auth", "rotated": true, "meta": meta("file", 900, "2026-11-30T23:59:00Z")}),
                json!({"kind": "lastlog", "uid": 0, "user": "root", "time": "2026-11-30T09:00:00Z", "line": "pts/1", "host": "", "source": {"path": "/var/log/lastlog#uid=0"}}),
            ],
            vec![
                login(
                    "utmp",
                    "/run/utmp",
                    "root",
                    "pts/1",
                    4242,
                    "2026-11-30T09:00:00Z",
                ),
                login(
                    "wtmp",
                    "/var/log/wtmp.1",
                    "root",
                    "pts/1",
                    4242,
                    "2026-11-30T09:00:00Z",
                ),
            ],
        );
        assert!(got.is_empty(), "{got:#?}");
        // A tmux window in utmp (no wtmp record by design) on an unrotated wtmp.
        let mut tmux = login(
            "utmp",
            "/run/utmp",
            "alice",
            "pts/3",
            900,
            "2026-12-01T09:30:00Z",
        );
        tmux["host"] = json!("tmux(812).%0");
        let got = run(
            vec![
                json!({"kind": "log_file", "path": "/var/log/wtmp", "log": "wtmp", "rotated": false, "meta": meta("file", 384, "2026-12-01T09:00:00Z")}),
            ],
            vec![tmux],
        );
        assert!(got.is_empty(), "{got:#?}");
    }
}
