//! The `traces` collector: the state of the files an intruder empties or unlinks to hide,
//! without their content.
//!
//! - every account's shell and client history files (`.bash_history`, `.zsh_history`,
//!   `.python_history`, `.mysql_history`...): `lstat` and, for a symlink, its target (a
//!   history linked to `/dev/null` records nothing). History content is never read;
//! - the login and authentication logs of `/var/log` and their rotated copies (`wtmp`,
//!   `btmp`, `lastlog`, `auth.log`, `secure`, `wtmp.1`, `auth.log.2.gz`, `secure-20260101`):
//!   size and times, which tell a log emptied after the fact from one just rotated;
//! - `/var/log/lastlog`: each account's last login (time, terminal, host), parsed from the
//!   binary file (glibc's 292-byte `struct lastlog`, indexed by uid). Only the entries of the
//!   host's accounts are read, never the whole sparse file.

use crate::util::{Accounts, name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::encoding::bytes_to_text;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{
    HistoryFileRecord, LastlogRecord, LogFileRecord, Record, SourceRef,
};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo, Timestamp};
use std::path::{Path, PathBuf};

/// The `traces` collector.
pub struct TracesCollector;

/// `[collectors.traces]`: no settings yet; unknown keys are refused.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {}

/// History files looked for in every home directory.
pub const HISTORY_FILES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".histfile",
    ".sh_history",
    ".ash_history",
    ".ksh_history",
    ".local/share/fish/fish_history",
    ".python_history",
    ".mysql_history",
    ".psql_history",
    ".sqlite_history",
    ".node_repl_history",
    ".rediscli_history",
    ".lesshst",
];

/// Login and authentication logs: file name in `/var/log`, kind.
pub const LOGS: &[(&str, &str)] = &[
    ("wtmp", "wtmp"),
    ("btmp", "btmp"),
    ("lastlog", "lastlog"),
    ("auth.log", "auth"),
    ("secure", "auth"),
];

/// Size of glibc's `struct lastlog` on Linux (32-bit time, 32-byte line, 256-byte host).
pub const LASTLOG_SIZE: usize = 292;
/// uids above this (nobody, 4294967294...) are not looked up in lastlog: the file would be
/// read up to their offset for nothing.
const MAX_LASTLOG_UID: u32 = 60_000;

/// Whether `name` is a rotated copy of log `base` (`base.1`, `base.2.gz`, `base-20260101`,
/// `base-20260101.gz`, `base.old`).
pub fn rotated_name(base: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(base) else {
        return false;
    };
    let rest = rest.strip_suffix(".gz").unwrap_or(rest);
    let rest = rest.strip_suffix(".xz").unwrap_or(rest);
    let rest = rest.strip_suffix(".zst").unwrap_or(rest);
    match rest.split_at_checked(1) {
        Some((".", n)) => n == "old" || (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        Some(("-", n)) => !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// One lastlog entry: time (0 = never), terminal, host.
pub fn parse_lastlog_entry(b: &[u8]) -> Option<(i64, String, String)> {
    if b.len() < LASTLOG_SIZE {
        return None;
    }
    let time = i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let text = |s: &[u8]| {
        let end = s.iter().position(|c| *c == 0).unwrap_or(s.len());
        bytes_to_text(&s[..end])
    };
    Some((time, text(&b[4..36]), text(&b[36..292])))
}

impl Collector for TracesCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "traces".into(),
            version: crate::util::VERSION.into(),
            description: "Anti-forensics traces without content: every account's history files (lstat, link target), login and auth logs with their rotations (size, times), lastlog entries".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let accounts = Accounts::load(ctx);
        // Every history file of every account asked for together (over SSH, one batch of
        // requests), then taken in order: failures are recorded where `lstat` would have.
        let files: Vec<(String, PathBuf)> = accounts
            .homes()
            .into_iter()
            .flat_map(|(home, user)| {
                HISTORY_FILES
                    .iter()
                    .map(move |f| (user.clone(), Path::new(&home).join(f)))
            })
            .collect();
        let paths: Vec<PathBuf> = files.iter().map(|(_, p)| p.clone()).collect();
        let metas = match ctx.host_lost() {
            Some(_) => Vec::new(),
            None => ctx.host().lstat_many(&paths),
        };
        for ((user, path), meta) in files.into_iter().zip(metas) {
            let Some(meta) = ctx.lstat_outcome(&path, meta) else {
                continue;
            };
            let link_target = (meta.kind == FileKind::Symlink)
                .then(|| ctx.read_link(&path).map(|t| ptext(&t)))
                .flatten();
            ctx.emit(&Record::HistoryFile(HistoryFileRecord {
                user,
                path: ptext(&path),
                meta,
                link_target,
            }))?;
        }
        let logdir = Path::new("/var/log");
        let names: Vec<String> = ctx
            .list_dir(logdir)
            .unwrap_or_default()
            .iter()
            .map(|e| name_text(&e.name))
            .collect();
        for name in &names {
            let Some((log, rotated)) = LOGS.iter().find_map(|(base, log)| {
                if name == base {
                    Some((*log, false))
                } else if rotated_name(base, name) {
                    Some((*log, true))
                } else {
                    None
                }
            }) else {
                continue;
            };
            let path = logdir.join(name);
            let Some(meta) = ctx.lstat(&path) else {
                continue;
            };
            let link_target = (meta.kind == FileKind::Symlink)
                .then(|| ctx.read_link(&path).map(|t| ptext(&t)))
                .flatten();
            ctx.emit(&Record::LogFile(LogFileRecord {
                path: ptext(&path),
                log: log.into(),
                rotated,
                meta,
                link_target,
            }))?;
        }
        lastlog(ctx, &accounts)
    }
}

fn lastlog(ctx: &mut CollectContext<'_>, accounts: &Accounts) -> Result<(), CollectError> {
    let path = Path::new("/var/log/lastlog");
    let Some(max_uid) = accounts
        .list
        .iter()
        .map(|a| a.uid)
        .filter(|u| *u <= MAX_LASTLOG_UID)
        .max()
    else {
        return Ok(());
    };
    let limit = (u64::from(max_uid) + 1) * LASTLOG_SIZE as u64;
    let data = match ctx.host().read(path, limit) {
        Ok(o) if o.meta.kind == FileKind::File => o.data,
        Ok(_) => return Ok(()),
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => {
            ctx.host_error(&e);
            return Ok(());
        }
    };
    if data.len() % LASTLOG_SIZE != 0 && data.len() < limit as usize {
        ctx.issue(
            ptext(path),
            IssueKind::Malformed,
            format!(
                "{} bytes is not a whole number of {LASTLOG_SIZE}-byte entries",
                data.len()
            ),
        );
    }
    let mut done = std::collections::HashSet::new();
    for a in &accounts.list {
        if a.uid > MAX_LASTLOG_UID || !done.insert(a.uid) {
            continue;
        }
        let off = a.uid as usize * LASTLOG_SIZE;
        let Some((time, line, host)) = data
            .get(off..off + LASTLOG_SIZE)
            .and_then(parse_lastlog_entry)
        else {
            continue;
        };
        let Some(time) = (time > 0).then(|| Timestamp::from_unix(time, 0)).flatten() else {
            continue;
        };
        ctx.emit(&Record::Lastlog(LastlogRecord {
            uid: a.uid,
            user: a.name.clone(),
            time,
            line,
            host,
            source: SourceRef::path_only(format!("/var/log/lastlog#uid={}", a.uid)),
        }))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    /// A lastlog entry.
    pub fn entry(time: i32, line: &str, host: &str) -> Vec<u8> {
        let mut v = time.to_le_bytes().to_vec();
        let mut l = line.as_bytes().to_vec();
        l.resize(32, 0);
        let mut h = host.as_bytes().to_vec();
        h.resize(256, 0);
        v.extend(l);
        v.extend(h);
        v
    }

    #[test]
    fn settings_are_checked() {
        assert!(
            TracesCollector
                .validate_config(&serde_json::Value::Null)
                .is_ok()
        );
        assert!(
            TracesCollector
                .validate_config(&serde_json::json!({"x": 1}))
                .is_err()
        );
    }

    #[test]
    fn rotated_names() {
        assert!(rotated_name("wtmp", "wtmp.1"));
        assert!(rotated_name("auth.log", "auth.log.2.gz"));
        assert!(rotated_name("secure", "secure-20260101"));
        assert!(!rotated_name("wtmp", "wtmp"));
        assert!(!rotated_name("wtmp", "wtmpx"));
        assert!(!rotated_name("secure", "secure.conf"));
    }

    #[test]
    fn history_links_log_sizes_and_lastlog() {
        let mut ll = vec![0u8; LASTLOG_SIZE * 1000];
        ll.extend(entry(1_764_600_000, "pts/1", "198.51.100.7"));
        let h = MemHost::new(false)
            .file("/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n")
            .link("/root/.bash_history", "/dev/null")
            .file("/home/alice/.bash_history", "ls\n")
            .file("/var/log/wtmp", "")
            .file("/var/log/wtmp.1", vec![0u8; 384])
            .file("/var/log/auth.log", "")
            .file("/var/log/auth.log.2.gz", "gz")
            .file("/var/log/syslog", "x")
            .file_bytes_path(b"/var/log/lastlog", ll);
        let (sink, r) = run_collector(
            &TracesCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let hist = sink.of_kind("traces", "history_file");
        assert_eq!(hist.len(), 2);
        let root = hist.iter().find(|h| h["user"] == "root").unwrap();
        assert_eq!(root["link_target"], "/dev/null");
        assert!(
            sink.raw.keys().all(|k| !k.contains("history")),
            "content never copied"
        );
        let logs = sink.of_kind("traces", "log_file");
        let names: Vec<&str> = logs.iter().map(|l| l["path"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "/var/log/auth.log",
                "/var/log/auth.log.2.gz",
                "/var/log/lastlog",
                "/var/log/wtmp",
                "/var/log/wtmp.1"
            ]
        );
        assert_eq!(logs[0]["meta"]["size"], 0);
        assert_eq!(logs[1]["rotated"], true);
        let last = sink.of_kind("traces", "lastlog");
        assert_eq!(last.len(), 1);
        assert_eq!(last[0]["user"], "alice");
        assert_eq!(last[0]["host"], "198.51.100.7");
        assert_eq!(last[0]["line"], "pts/1");
    }
}
