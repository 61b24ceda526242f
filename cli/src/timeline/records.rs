//! Rows from collected records: what each record kind says happened and when. Process start
//! times; package install times where the database keeps them (rpm); logins, logouts, boots
//! and failed logins (utmp, wtmp, btmp) and last logins
//! (lastlog); password change and expiry dates (shadow, day precision); and the file times of
//! what collectors describe, each row saying what the file is: units and their drop-ins,
//! generators, lingering users, cron files (one row per entry and time), cron scripts, `at`
//! jobs (and when they run), boot/login/package/authentication hooks, the loader's preload
//! file, local binaries, setuid/setgid/capability files, history and login log files,
//! `/etc/shadow`, authorized-keys files (and each key in them), process executables.
//!
//! Kinds that carry no time (package file lists, sockets, groups, sudo rules, kernel modules,
//! interfaces, sshd settings...) give no row and are not counted as skipped; a line that is
//! not JSON or not a known record is counted as skipped (plugin record kinds included).

use super::ctx::{Ctx, Origin};
use super::row::{Row, clip};
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::records::{
    AccountRecord, AuthorizedKeyRecord, CronEntry, LoginRecord, ProcessRecord, Record, UnitRecord,
    from_value,
};

/// Record kinds without a time of their own: not parsed at all.
const TIMELESS: &[&str] = &[
    "package_files",
    "package_verify",
    "diversion",
    "socket",
    "group",
    "sudo_rule",
    "login_shells",
    "ld_so_conf",
    "kernel_module",
    "module_config",
    "kernel_taint",
    "net_interface",
    "sshd_config",
];

/// The first `"kind":"..."` value of a compact JSON line (a nested one, a file's `kind`, may
/// come first: only used to leave out [`TIMELESS`] kinds, which nest none).
fn first_kind(line: &[u8]) -> Option<&[u8]> {
    const PAT: &[u8] = b"\"kind\":\"";
    let at = line.windows(PAT.len()).position(|w| w == PAT)? + PAT.len();
    let rest = &line[at..];
    let end = rest.iter().position(|b| *b == b'"')?;
    Some(&rest[..end])
}

/// The rows of one line of a records member.
pub(crate) fn record_line(ctx: &mut Ctx<'_>, o: &Origin<'_>, line: &[u8]) {
    if first_kind(line).is_some_and(|k| TIMELESS.iter().any(|t| t.as_bytes() == k)) {
        return;
    }
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return ctx.skip(format!("{} line {}: not JSON: {e}", o.member, o.line));
        }
    };
    match from_value(value) {
        Ok(Some(r)) => record_rows(ctx, o, r),
        Ok(None) => ctx.skip(format!(
            "{} line {}: not a record kind dossier knows",
            o.member, o.line
        )),
        Err(e) => ctx.skip(format!("{} line {}: {e}", o.member, o.line)),
    }
}

fn record_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, r: Record) {
    match r {
        Record::HostFacts(h) => {
            if let Some(t) = h.boot_time {
                let mut row = Row::new(
                    t,
                    "Boot time",
                    format!(
                        "{} booted (kernel {})",
                        h.hostname,
                        h.kernel_release.as_deref().unwrap_or("?")
                    ),
                );
                row.set_opt("boot_id", h.boot_id);
                ctx.emit(Some(o), row);
            }
        }
        Record::Process(p) => process_rows(ctx, o, &p),
        Record::Login(l) => login_row(ctx, o, &l),
        Record::Lastlog(l) => {
            let mut row = Row::new(
                l.time,
                "Last login time",
                format!(
                    "last login of {} on {} from {}",
                    l.user,
                    or_dash(&l.line),
                    or_dash(&l.host)
                ),
            );
            row.set("user", l.user)
                .set("uid", l.uid)
                .set("remote_host", l.host);
            ctx.emit(Some(o), row);
        }
        Record::Account(a) => account_rows(ctx, o, &a),
        Record::Package(p) => {
            if let Some(t) = p.install_time {
                let mut row = Row::new(
                    t,
                    "Package install time",
                    format!(
                        "{} package {} {} {} installed",
                        p.manager,
                        p.name,
                        p.version,
                        p.arch.as_deref().unwrap_or("")
                    )
                    .trim_end()
                    .to_string(),
                );
                row.set("package", p.name.as_str())
                    .set("package_version", p.version.as_str())
                    .set("package_manager", p.manager.as_str());
                ctx.emit(Some(o), row);
            }
        }
        Record::Unit(u) => unit_rows(ctx, o, &u),
        Record::CronEntry(c) => cron_entry_rows(ctx, o, &c),
        Record::AuthorizedKey(k) => authorized_key_rows(ctx, o, &k),
        other => file_record_rows(ctx, o, other),
    }
}

/// Records that are a file with metadata: its times, with what the file is.
fn file_record_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, r: Record) {
    let none = &|_: &mut Row| {};
    match r {
        Record::SystemdGenerator(g) => {
            if let Some(m) = &g.meta {
                let msg = format!("systemd {} generator {}", g.scope, g.path);
                ctx.file_rows(o, &g.path, m, &msg, none);
            }
        }
        Record::Linger(l) => {
            if let Some(m) = &l.meta {
                let msg = format!(
                    "lingering user {}: its systemd user manager starts at boot",
                    l.user
                );
                ctx.file_rows(o, &l.path, m, &msg, &|r| {
                    r.set("user", l.user.as_str());
                });
            }
        }
        Record::CronScript(c) => {
            if let Some(m) = &c.meta {
                let runs = if c.runs {
                    ""
                } else {
                    " (not run: run-parts skips its name)"
                };
                let msg = format!("cron.{} script {}{runs}", c.period, c.path);
                ctx.file_rows(o, &c.path, m, &msg, none);
            }
        }
        Record::AtJob(j) => {
            let msg = format!(
                "at job {} of {}: {}",
                j.path,
                j.owner.as_deref().unwrap_or("?"),
                clip(j.commands.trim(), 200)
            );
            if let Some(t) = j.run_at {
                let mut row = Row::new(t, "Scheduled run time", msg.as_str());
                row.set("path", j.path.as_str());
                ctx.emit(Some(o), row);
            }
            if let Some(m) = &j.meta {
                ctx.file_rows(o, &j.path, m, &msg, none);
            }
        }
        Record::Hook(h) => {
            if let Some(m) = &h.meta {
                let msg = format!(
                    "{} hook {} (runs at {}{})",
                    h.class,
                    h.path,
                    h.runs_at,
                    if h.active { "" } else { "; inactive" }
                );
                ctx.file_rows(o, &h.path, m, &msg, &|r| {
                    r.set_opt("user", h.owner.as_deref());
                });
            }
        }
        Record::LdPreload(p) => {
            if let Some(m) = &p.meta {
                let msg = format!("{}: preloads {}", p.path, p.entries.join(", "));
                ctx.file_rows(o, &p.path, m, &msg, none);
            }
        }
        other => program_file_rows(ctx, o, other),
    }
}

/// Records of programs, logs and account files with metadata: their times, with what each is.
fn program_file_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, r: Record) {
    let none = &|_: &mut Row| {};
    match r {
        Record::LocalBin(l) => {
            if let Some(m) = &l.meta {
                let owned = match l.owned {
                    Some(true) => "owned by a package",
                    Some(false) => "owned by no package",
                    None => "ownership unknown",
                };
                let shadows = if l.shadows.is_empty() {
                    String::new()
                } else {
                    format!("; shadows {}", l.shadows.join(", "))
                };
                let msg = format!("local binary {} ({owned}{shadows})", l.path);
                ctx.file_rows(o, &l.path, m, &msg, &|r| {
                    r.set_opt("sha256", l.sha256.as_deref());
                });
            }
        }
        Record::PrivilegedFile(p) => {
            let what: Vec<&str> = [
                (p.setuid, "setuid"),
                (p.setgid, "setgid"),
                (p.capabilities.is_some(), "file capabilities"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect();
            let msg = format!("{} file {}", what.join(", "), p.path);
            ctx.file_rows(o, &p.path, &p.meta, &msg, &|r| {
                r.set_opt("sha256", p.sha256.as_deref());
            });
        }
        Record::HistoryFile(h) => {
            let msg = format!("history file of {}: {}", h.user, h.path);
            ctx.file_rows(o, &h.path, &h.meta, &msg, &|r| {
                r.set("user", h.user.as_str());
            });
        }
        Record::LogFile(l) => {
            let rotated = if l.rotated { " (rotated)" } else { "" };
            let msg = format!("{} log {}{rotated}", l.log, l.path);
            ctx.file_rows(o, &l.path, &l.meta, &msg, none);
        }
        Record::ShadowFile(s) => {
            if let Some(m) = &s.meta {
                let msg = format!("{} ({} entries)", s.path, s.entries);
                ctx.file_rows(o, &s.path, m, &msg, none);
            }
        }
        Record::AuthorizedKeysFile(f) => {
            let msg = format!(
                "authorized keys file of {}: {} ({} key(s){})",
                f.user,
                f.path,
                f.keys,
                if f.read_by_sshd {
                    ", read by sshd"
                } else {
                    ", not read by sshd"
                }
            );
            let user = &|r: &mut Row| {
                r.set("user", f.user.as_str());
            };
            if let Some(m) = &f.meta {
                ctx.file_rows(o, &f.path, m, &msg, user);
            }
            if let (Some(m), Some((dir, _))) = (&f.dir_meta, f.path.rsplit_once('/')) {
                let msg = format!("directory of the authorized keys file {}", f.path);
                ctx.file_rows(o, dir, m, &msg, user);
            }
        }
        _ => {}
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn process_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, p: &ProcessRecord) {
    let cmd = if p.argv.is_empty() {
        format!("[{}]", p.comm)
    } else {
        p.argv.join(" ")
    };
    let user = p.user.clone().unwrap_or_else(|| format!("uid {}", p.uid));
    if let Some(t) = p.start_time {
        let mut msg = format!(
            "process {} started: {} (user {user}",
            p.pid,
            clip(&cmd, 300)
        );
        if p.kernel_thread {
            msg.push_str(", kernel thread");
        }
        if p.exe_deleted {
            msg.push_str(", executable deleted");
        }
        if p.collector_self {
            msg.push_str(", the collection itself");
        }
        msg.push(')');
        let mut row = Row::new(t, "Process start time", msg);
        row.set("pid", p.pid)
            .set("ppid", p.ppid)
            .set("comm", p.comm.as_str())
            .set("command_line", cmd.as_str())
            .set("user", user.as_str())
            .set("uid", p.uid)
            .set_opt("exe", p.exe.as_deref())
            .set_opt("exe_sha256", p.exe_sha256.as_deref())
            .set_opt("systemd_unit", p.systemd_unit.as_deref());
        ctx.emit(Some(o), row);
    }
    if let (Some(exe), Some(m)) = (&p.exe, &p.exe_meta) {
        let msg = format!("executable {exe} of process {} ({})", p.pid, p.comm);
        ctx.file_rows(o, exe, m, &msg, &|r| {
            r.set("pid", p.pid)
                .set_opt("exe_sha256", p.exe_sha256.as_deref());
        });
    }
}

/// What a utmp/wtmp/btmp entry's time means, and its message.
fn login_meaning(l: &LoginRecord) -> (&'static str, String) {
    let from = if l.host.is_empty() {
        String::new()
    } else {
        format!(" from {}", l.host)
    };
    if l.log == "btmp" {
        return (
            "Failed login time",
            format!(
                "failed login of {} on {}{from}",
                or_dash(&l.user),
                or_dash(&l.line)
            ),
        );
    }
    match l.entry_type.as_str() {
        "user_process" => (
            "Login time",
            format!("{} logged in on {}{from} (pid {})", l.user, l.line, l.pid),
        ),
        "dead_process" => (
            "Logout time",
            format!("session on {} ended (pid {})", or_dash(&l.line), l.pid),
        ),
        "boot_time" => (
            "Boot time",
            format!("system boot (kernel {})", or_dash(&l.host)),
        ),
        "run_lvl" if l.user == "shutdown" => ("Shutdown time", "system shutdown".to_string()),
        "run_lvl" => (
            "Run level change time",
            format!("run level change ({})", l.user),
        ),
        "login_process" => (
            "Login prompt time",
            format!("login prompt on {} (pid {})", or_dash(&l.line), l.pid),
        ),
        other => (
            "Session record time",
            format!(
                "{other} entry for {} on {}",
                or_dash(&l.user),
                or_dash(&l.line)
            ),
        ),
    }
}

fn login_row(ctx: &mut Ctx<'_>, o: &Origin<'_>, l: &LoginRecord) {
    let Some(t) = l.time else { return };
    let (desc, msg) = login_meaning(l);
    let mut row = Row::new(t, desc, format!("{}: {msg}", l.log));
    row.set("log", l.log.as_str())
        .set("entry_type", l.entry_type.as_str())
        .set("user", l.user.as_str())
        .set("terminal", l.line.as_str())
        .set("remote_host", l.host.as_str())
        .set_opt("address", l.address.as_deref())
        .set("pid", l.pid)
        .set("log_index", l.index)
        .set("path", l.source.path.as_str())
        .set_opt("raw_member", l.source.member.as_deref());
    ctx.emit(Some(o), row);
}

/// Password change and account expiry dates (shadow keeps days: midnight UTC of that day).
fn account_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, a: &AccountRecord) {
    for (date, desc, what) in [
        (
            &a.last_change,
            "Password change date",
            "password last changed",
        ),
        (&a.expires, "Account expiration date", "account expires"),
    ] {
        let Some(t) = date
            .as_deref()
            .and_then(|d| Timestamp::parse(&format!("{d}T00:00:00Z")))
        else {
            continue;
        };
        let mut row = Row::new(
            t,
            desc,
            format!("{}: {what} (day precision, from /etc/shadow)", a.name),
        );
        row.set("user", a.name.as_str()).set("uid", a.uid);
        ctx.emit(Some(o), row);
    }
}

fn unit_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, u: &UnitRecord) {
    let mut state = vec![u.scope.clone()];
    state.push(if u.enabled { "enabled" } else { "not enabled" }.into());
    if u.masked {
        state.push("masked".into());
    }
    if let Some(s) = &u.active_state {
        state.push(s.clone());
    }
    let exec = u
        .exec_start
        .first()
        .map(|e| format!(": ExecStart={}", clip(e, 200)))
        .unwrap_or_default();
    let more = |r: &mut Row| {
        r.set("unit", u.name.as_str())
            .set("unit_scope", u.scope.as_str())
            .set("enabled", u.enabled)
            .set_opt("user", u.owner.as_deref().or(u.user.as_deref()));
        if !u.exec_start.is_empty() {
            r.set("exec_start", u.exec_start.join("\n"));
        }
    };
    if let Some(m) = &u.meta {
        let msg = format!("systemd unit {} ({}){exec}", u.name, state.join(", "));
        ctx.file_rows(o, &u.path, m, &msg, &more);
    }
    for d in &u.dropins {
        if let Some(m) = ctx.meta_of(&d.path) {
            let msg = format!("drop-in {} of systemd unit {}", d.path, u.name);
            ctx.file_rows(o, &d.path, &m, &msg, &more);
        }
    }
}

fn cron_entry_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, c: &CronEntry) {
    let Some(m) = ctx.meta_of(&c.source.path) else {
        return;
    };
    let msg = format!(
        "cron entry {}:{} (runs as {}): {} {}",
        c.source.path,
        c.line,
        c.run_as,
        c.schedule,
        clip(&c.command, 300)
    );
    ctx.file_rows(o, &c.source.path, &m, &msg, &|r| {
        r.set("cron_line", c.line)
            .set("schedule", c.schedule.as_str())
            .set("command", c.command.as_str())
            .set("user", c.run_as.as_str());
    });
}

fn authorized_key_rows(ctx: &mut Ctx<'_>, o: &Origin<'_>, k: &AuthorizedKeyRecord) {
    let Some(m) = ctx.meta_of(&k.file) else {
        return;
    };
    let comment = if k.comment.is_empty() {
        String::new()
    } else {
        format!(" ({})", k.comment)
    };
    let msg = format!(
        "authorized key {} {}{comment} of {} in {}:{}",
        k.key_type,
        k.fingerprint.as_deref().unwrap_or("(undecodable)"),
        k.user,
        k.file,
        k.line
    );
    ctx.file_rows(o, &k.file, &m, &msg, &|r| {
        r.set("user", k.user.as_str())
            .set("key_line", k.line)
            .set_opt("fingerprint", k.fingerprint.as_deref())
            .set_opt("key_command", k.command.as_deref())
            .set_opt("key_from", k.from.as_deref());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extsort::Sorter;

    /// The rows of records lines (member `records/x.jsonl`), parsed, in time order.
    fn rows_of(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
        let d = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(d.path(), 1 << 20);
        let mut ctx = Ctx::new(&mut sorter, ["h", "b.zip", "00"], Default::default());
        for (i, l) in lines.iter().enumerate() {
            let o = Origin {
                member: "records/x.jsonl",
                member_sha256: "11",
                collector: "x",
                line: i + 1,
            };
            record_line(&mut ctx, &o, l.to_string().as_bytes());
        }
        let counts = ctx.finish().unwrap();
        assert_eq!(counts.skipped, 0, "{:?}", counts.skipped_why);
        let mut out = Vec::new();
        sorter.finish(&mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn an_rpm_install_time_is_a_row_and_a_dpkg_package_none() {
        let src = serde_json::json!({"path": "exec:rpm -qa"});
        let rows = rows_of(&[
            serde_json::json!({"kind": "package", "manager": "rpm", "name": "coreutils",
                "version": "8.32-35.el9", "arch": "x86_64", "install_time": "2023-11-14T22:13:20Z",
                "source": src}),
            serde_json::json!({"kind": "package", "manager": "dpkg", "name": "bash",
                "version": "5.2", "source": src}),
            serde_json::json!({"kind": "package_files", "manager": "dpkg", "package": "bash",
                "files": ["/bin/bash"], "source": src}),
        ]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["timestamp_desc"], "Package install time");
        assert_eq!(
            rows[0]["message"],
            "rpm package coreutils 8.32-35.el9 x86_64 installed"
        );
        assert_eq!(rows[0]["record_line"], 1);
        assert_eq!(rows[0]["timestamp"], 1_700_000_000_000_000i64);
    }

    #[test]
    fn a_process_gives_its_start_and_its_executable_times() {
        let meta = serde_json::json!({"kind": "file", "mode": 493, "uid": 0, "gid": 0,
            "size": 64, "mtime": "2025-11-05T00:40:00Z", "ctime": "2025-11-05T00:40:00Z"});
        let rows = rows_of(
            &[serde_json::json!({"kind": "process", "pid": 812, "ppid": 1,
            "state": "S", "comm": "log", "argv": ["/var/log/log", "-o", "pool"], "uid": 0,
            "euid": 0, "gid": 0, "egid": 0, "kernel_thread": false, "start_ticks": 5,
            "threads": 1, "exe": "/var/log/log", "exe_meta": meta, "user": "root",
            "start_time": "2025-11-05T00:46:40Z"})],
        );
        let desc: Vec<&str> = rows
            .iter()
            .map(|r| r["timestamp_desc"].as_str().unwrap())
            .collect();
        assert_eq!(
            desc,
            [
                "Modification time",
                "Status change time",
                "Process start time"
            ]
        );
        assert_eq!(
            rows[2]["message"],
            "process 812 started: /var/log/log -o pool (user root)"
        );
        assert_eq!(rows[0]["path"], "/var/log/log");
        assert_eq!(rows[0]["mode"], "0755");
    }

    #[test]
    fn the_first_kind_is_read_without_parsing() {
        assert_eq!(
            first_kind(br#"{"files":["/x"],"kind":"package_files","manager":"dpkg"}"#),
            Some(&b"package_files"[..])
        );
        assert_eq!(first_kind(br#"{"a":1}"#), None);
        // A nested file kind comes first: not a timeless record kind, so the line is parsed.
        let k = first_kind(br#"{"exe_meta":{"kind":"file"},"kind":"process"}"#).unwrap();
        assert!(!TIMELESS.iter().any(|t| t.as_bytes() == k));
    }

    #[test]
    fn btmp_entries_are_failed_logins_and_wtmp_ones_say_what_they_are() {
        let mut l = LoginRecord {
            log: "btmp".into(),
            entry_type: "login_process".into(),
            user: "root".into(),
            line: "ssh:notty".into(),
            host: "203.0.113.5".into(),
            ..Default::default()
        };
        assert_eq!(
            login_meaning(&l),
            (
                "Failed login time",
                "failed login of root on ssh:notty from 203.0.113.5".to_string()
            )
        );
        l.log = "wtmp".into();
        l.entry_type = "user_process".into();
        assert_eq!(login_meaning(&l).0, "Login time");
        l.entry_type = "dead_process".into();
        assert_eq!(login_meaning(&l).0, "Logout time");
        l.entry_type = "run_lvl".into();
        l.user = "shutdown".into();
        assert_eq!(login_meaning(&l).0, "Shutdown time");
    }
}
