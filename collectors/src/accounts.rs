//! The `accounts` collector: `/etc/passwd`, `/etc/group`, `/etc/shells`, `/etc/sudoers` with
//! `/etc/sudoers.d/*` and their includes, and `/etc/shadow` **as metadata only**.
//!
//! passwd, group, shells and sudoers files are copied verbatim and parsed into records. The
//! shadow file is read (capped), parsed in memory and dropped: the bundle gets its file
//! metadata, its SHA-256, and per account whether a usable password exists, its hash scheme and
//! the date of the last change, but never a hash and never a copy of the file.

use crate::util::{ByteSize, DEFAULT_TEXT_CAP, name_text, ptext, split_fields};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::records::{
    AccountRecord, GroupRecord, LoginShells, Record, ShadowFileRecord, SourceRef, SudoRule,
};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `accounts` collector.
pub struct AccountsCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
}

fn default_cap() -> ByteSize {
    ByteSize(DEFAULT_TEXT_CAP)
}

/// How deep sudoers `include`s are followed (sudo itself stops at 128; loops end here).
const MAX_INCLUDE_DEPTH: usize = 8;

impl Collector for AccountsCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "accounts".into(),
            version: crate::util::VERSION.into(),
            description: "Accounts and groups, login shells, sudoers rules, and shadow metadata (never the hashes)".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cap = ctx.config::<Config>()?.max_file_size.0;
        let shells = match ctx.capture(Path::new("/etc/shells"), cap) {
            Some(c) => {
                let list = parse_shells(&c.data);
                ctx.emit(&Record::LoginShells(LoginShells {
                    shells: list.clone(),
                    source: c.source_ref(Path::new("/etc/shells")),
                }))?;
                Some(list)
            }
            None => {
                ctx.not_available("/etc/shells", "missing or unreadable");
                None
            }
        };
        let groups = match ctx.capture(Path::new("/etc/group"), cap) {
            Some(c) => parse_group(&c.data, &c.source_ref(Path::new("/etc/group"))),
            None => Vec::new(),
        };
        for g in &groups {
            ctx.emit(&Record::Group(g.clone()))?;
        }
        let shadow = read_shadow(ctx, cap)?;
        let Some(c) = ctx.capture(Path::new("/etc/passwd"), cap) else {
            ctx.not_available("/etc/passwd", "missing or unreadable");
            return Ok(());
        };
        let mut accounts = parse_passwd(&c.data, &c.source_ref(Path::new("/etc/passwd")));
        let mut orphans: BTreeSet<String> = shadow
            .as_ref()
            .map(|s| s.entries.keys().cloned().collect())
            .unwrap_or_default();
        for a in &mut accounts {
            orphans.remove(&a.name);
            a.shell_listed = shells.as_ref().map(|s| s.contains(&a.shell));
            a.groups = groups
                .iter()
                .filter(|g| g.members.contains(&a.name))
                .map(|g| g.name.clone())
                .collect();
            let passwd_field = a.password.clone();
            a.password = String::new();
            match classify(&passwd_field) {
                // `x`: the real field is in shadow.
                None => match &shadow {
                    Some(s) => match s.entries.get(&a.name) {
                        Some(e) => {
                            a.password = e.status.clone();
                            a.hash_scheme = e.scheme.clone();
                            a.last_change = e.last_change.clone();
                            a.max_days = e.max_days;
                            a.expires = e.expires.clone();
                        }
                        None => a.password = "no_entry".into(),
                    },
                    None => a.password = "unknown".into(),
                },
                Some((status, scheme)) => {
                    a.hash_in_passwd = status == "usable";
                    a.password = status;
                    a.hash_scheme = scheme;
                }
            }
        }
        for a in accounts {
            ctx.emit(&Record::Account(a))?;
        }
        if let Some(mut s) = shadow {
            s.record.orphans = orphans.into_iter().collect();
            ctx.emit(&Record::ShadowFile(s.record))?;
        }
        collect_sudoers(ctx, cap)
    }
}

/// Lines of a text file (lossy UTF-8, tabs as blanks, `\r` dropped): the parsed forms of
/// configuration lines; the verbatim bytes are in the raw copy.
fn text_lines(data: &[u8]) -> Vec<String> {
    data.split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).replace('\t', " "))
        .collect()
}

/// `/etc/shells` entries (absolute paths, comments dropped).
pub fn parse_shells(data: &[u8]) -> Vec<String> {
    text_lines(data)
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with('/'))
        .map(str::to_string)
        .collect()
}

/// `/etc/group` lines.
pub fn parse_group(data: &[u8], source: &SourceRef) -> Vec<GroupRecord> {
    let mut out = Vec::new();
    for (i, line) in text_lines(data).iter().enumerate() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || f[0].is_empty() || f[0].starts_with('#') {
            continue;
        }
        let Ok(gid) = f[2].trim().parse() else {
            continue;
        };
        out.push(GroupRecord {
            name: f[0].into(),
            gid,
            members: f[3]
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
            line: (i + 1) as u32,
            source: source.clone(),
        });
    }
    out
}

/// `/etc/passwd` lines. The password field is kept in `password` only transiently (the caller
/// replaces it by its classification before anything is emitted).
fn parse_passwd(data: &[u8], source: &SourceRef) -> Vec<AccountRecord> {
    let mut out = Vec::new();
    for (i, line) in text_lines(data).iter().enumerate() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0].is_empty() || f[0].starts_with('#') {
            continue;
        }
        let (Ok(uid), Ok(gid)) = (f[2].trim().parse(), f[3].trim().parse()) else {
            continue;
        };
        out.push(AccountRecord {
            name: f[0].into(),
            uid,
            gid,
            gecos: f[4].into(),
            home: f[5].into(),
            shell: f[6].into(),
            password: f[1].into(),
            line: (i + 1) as u32,
            source: source.clone(),
            ..Default::default()
        });
    }
    out
}

/// Classifies a password field: `None` for `x` (look in shadow), else the status and, for a
/// usable hash, its scheme. The field itself is never returned.
pub fn classify(field: &str) -> Option<(String, Option<String>)> {
    let f = field.trim();
    if f == "x" {
        return None;
    }
    let (status, scheme) = if f.is_empty() {
        ("empty", None)
    } else if f.starts_with('!') {
        ("locked", None)
    } else if f.starts_with('*') {
        ("disabled", None)
    } else if let Some(rest) = f.strip_prefix('$') {
        let id = rest.split('$').next().unwrap_or("");
        let scheme = match id {
            "1" => "md5crypt",
            "2a" | "2b" | "2y" => "bcrypt",
            "5" => "sha256crypt",
            "6" => "sha512crypt",
            "y" => "yescrypt",
            "gy" => "gost-yescrypt",
            "7" => "scrypt",
            _ => "unknown",
        };
        ("usable", Some(scheme.to_string()))
    } else if f.len() == 13 {
        ("usable", Some("descrypt".to_string()))
    } else {
        // Anything else cannot match a crypt(3) result: the account cannot log in by password.
        ("disabled", None)
    };
    Some((status.to_string(), scheme))
}

/// The non-secret part of one shadow entry.
#[derive(Debug, Default)]
struct ShadowEntry {
    status: String,
    scheme: Option<String>,
    last_change: Option<String>,
    max_days: Option<i64>,
    expires: Option<String>,
}

struct Shadow {
    entries: BTreeMap<String, ShadowEntry>,
    record: ShadowFileRecord,
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
pub fn day_to_date(days: i64) -> String {
    // Civil-from-days (Howard Hinnant), valid for any day count.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn parse_shadow(data: &[u8]) -> BTreeMap<String, ShadowEntry> {
    let mut out = BTreeMap::new();
    for text in text_lines(data) {
        let f: Vec<&str> = text.split(':').collect();
        if f.len() < 2 || f[0].is_empty() || f[0].starts_with('#') {
            continue;
        }
        let num = |i: usize| f.get(i).and_then(|s| s.trim().parse::<i64>().ok());
        let (status, scheme) = match classify(f[1]) {
            Some(c) => c,
            None => ("disabled".to_string(), None),
        };
        out.insert(
            f[0].to_string(),
            ShadowEntry {
                status,
                scheme,
                last_change: num(2).filter(|d| *d > 0).map(day_to_date),
                max_days: num(4),
                expires: num(7).map(day_to_date),
            },
        );
    }
    out
}

/// Reads `/etc/shadow` without storing it. Its metadata and SHA-256 go into a record.
fn read_shadow(ctx: &mut CollectContext<'_>, cap: u64) -> Result<Option<Shadow>, CollectError> {
    let path = Path::new("/etc/shadow");
    let out = match ctx.host().read(path, cap) {
        Ok(o) => o,
        Err(e) if e.is_not_found() => {
            ctx.not_available("/etc/shadow", "no shadow file: password status unknown");
            return Ok(None);
        }
        Err(e) => {
            ctx.host_error(&e);
            return Ok(None);
        }
    };
    if out.truncated {
        ctx.issue(
            "/etc/shadow",
            IssueKind::Truncated,
            format!("larger than the {cap}-byte cap; later entries not parsed"),
        );
    }
    let entries = parse_shadow(&out.data);
    let sha256 = ctx.host().hash_file(path, cap).ok().map(|h| h.sha256);
    let record = ShadowFileRecord {
        path: "/etc/shadow".into(),
        meta: Some(out.meta.clone()),
        entries: entries.len() as u32,
        sha256,
        orphans: vec![],
    };
    // `out.data` (with the hashes) is dropped here; nothing of it was stored.
    drop(out);
    Ok(Some(Shadow { entries, record }))
}

/// Parses sudoers text into user specifications. Aliases, `Defaults` and include directives
/// are not user specifications; includes are returned for the caller to follow.
pub fn parse_sudoers(data: &[u8], source: &SourceRef) -> (Vec<SudoRule>, Vec<Include>) {
    let mut rules = Vec::new();
    let mut includes = Vec::new();
    let mut logical = String::new();
    let mut start = 0u32;
    for (i, raw) in text_lines(data).iter().enumerate() {
        if logical.is_empty() {
            start = (i + 1) as u32;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let t = line.trim();
        if let Some(inc) = include_directive(t) {
            includes.push(inc);
            continue;
        }
        let t = strip_comment(t);
        if t.is_empty() {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or("");
        if first.starts_with("Defaults")
            || matches!(
                first,
                "User_Alias" | "Runas_Alias" | "Host_Alias" | "Cmnd_Alias" | "Cmd_Alias"
            )
        {
            continue;
        }
        if let Some(r) = parse_user_spec(t, start, source) {
            rules.push(r);
        }
    }
    (rules, includes)
}

/// An `include`/`includedir` directive of a sudoers file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    pub path: String,
    pub dir: bool,
}

fn include_directive(t: &str) -> Option<Include> {
    for (p, dir) in [
        ("#includedir", true),
        ("@includedir", true),
        ("#include", false),
        ("@include", false),
    ] {
        if let Some(rest) = t.strip_prefix(p) {
            if rest.starts_with(char::is_whitespace) {
                let path = rest.trim().trim_matches('"').to_string();
                return (!path.is_empty()).then_some(Include { path, dir });
            }
        }
    }
    None
}

fn strip_comment(t: &str) -> &str {
    // `#` starts a comment unless it introduces a uid (`#0`) at the start of a word.
    let b = t.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'#' {
            let word_start = i == 0 || b[i - 1].is_ascii_whitespace() || b[i - 1] == b',';
            let uid = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(word_start && uid) {
                return t[..i].trim();
            }
        }
    }
    t.trim()
}

/// Splits at commas outside parentheses.
fn split_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

const TAGS: &[&str] = &[
    "NOPASSWD",
    "PASSWD",
    "NOEXEC",
    "EXEC",
    "SETENV",
    "NOSETENV",
    "LOG_INPUT",
    "NOLOG_INPUT",
    "LOG_OUTPUT",
    "NOLOG_OUTPUT",
    "MAIL",
    "NOMAIL",
    "FOLLOW",
    "NOFOLLOW",
    "INTERCEPT",
    "NOINTERCEPT",
];

/// `who host = (runas) TAGS: cmd, cmd : host2 = ...` → one record (every host part merged).
fn parse_user_spec(t: &str, line: u32, source: &SourceRef) -> Option<SudoRule> {
    let f = split_fields(t, 2);
    if f.len() < 2 || !f[1].contains('=') {
        return None;
    }
    let mut r = SudoRule {
        source: source.clone(),
        line,
        text: t.to_string(),
        principals: split_list(f[0]),
        ..Default::default()
    };
    // Host specs are separated by `:` outside command lists; a `:` after a tag is the tag's.
    for part in split_host_specs(f[1]) {
        let Some((hosts, cmnds)) = part.split_once('=') else {
            continue;
        };
        r.hosts.extend(split_list(hosts));
        let mut nopasswd = false;
        for spec in split_list(cmnds) {
            let mut s = spec.trim();
            if let Some(rest) = s.strip_prefix('(') {
                if let Some((runas, after)) = rest.split_once(')') {
                    if r.runas.is_empty() {
                        r.runas = runas.trim().to_string();
                    }
                    s = after.trim_start();
                }
            }
            while let Some((tag, rest)) = s.split_once(':') {
                let tag = tag.trim();
                if !TAGS.contains(&tag) {
                    break;
                }
                match tag {
                    "NOPASSWD" => nopasswd = true,
                    "PASSWD" => nopasswd = false,
                    _ => {}
                }
                s = rest.trim_start();
            }
            let cmd = s.trim().to_string();
            let all = cmd == "ALL";
            r.nopasswd |= nopasswd;
            r.all_commands |= all;
            r.nopasswd_all |= nopasswd && all;
            if !cmd.is_empty() {
                r.commands.push(cmd);
            }
        }
    }
    Some(r)
}

/// Splits `h1 = cmds : h2 = cmds` at each `:` that starts a new host spec: one not closing a
/// tag (`NOPASSWD:`) and followed by a single word and `=`.
fn split_host_specs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, c) in s.char_indices() {
        if c == ':' {
            let before = cur.trim_end();
            let closes_tag = TAGS.iter().any(|t| {
                before.strip_suffix(t).is_some_and(|b| {
                    b.is_empty() || b.ends_with(|c: char| c.is_whitespace() || c == ')' || c == ':')
                })
            });
            let next = s[i + 1..].split('=').next().unwrap_or("");
            let starts_spec = s[i + 1..].contains('=')
                && next.split_whitespace().count() == 1
                && !next.contains([',', '(', ')']);
            if !closes_tag && starts_spec {
                out.push(std::mem::take(&mut cur));
                continue;
            }
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// Whether sudo reads a file found in an `includedir` (names with `.` or ending in `~` are
/// skipped).
pub fn sudo_reads(name: &str) -> bool {
    !name.contains('.') && !name.ends_with('~')
}

fn collect_sudoers(ctx: &mut CollectContext<'_>, cap: u64) -> Result<(), CollectError> {
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut todo: Vec<(PathBuf, usize, bool)> = vec![(PathBuf::from("/etc/sudoers"), 0, false)];
    // /etc/sudoers.d is collected even when /etc/sudoers does not name it (or is missing).
    let mut dirs: Vec<(PathBuf, usize)> = vec![(PathBuf::from("/etc/sudoers.d"), 1)];
    loop {
        while let Some((path, depth, ignored)) = todo.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let Some(c) = ctx.capture(&path, cap) else {
                continue;
            };
            let (mut rules, includes) = parse_sudoers(&c.data, &c.source_ref(&path));
            for r in &mut rules {
                r.ignored_by_sudo = ignored;
                ctx.emit(&Record::SudoRule(r.clone()))?;
            }
            rules.clear();
            if depth >= MAX_INCLUDE_DEPTH {
                if !includes.is_empty() {
                    ctx.issue(
                        ptext(&path),
                        IssueKind::Incomplete,
                        "includes nested too deep; not followed",
                    );
                }
                continue;
            }
            for inc in includes {
                // Relative includes are relative to the including file's directory.
                let p = if inc.path.starts_with('/') {
                    PathBuf::from(&inc.path)
                } else {
                    path.parent().unwrap_or(Path::new("/")).join(&inc.path)
                };
                if inc.dir {
                    dirs.push((p, depth + 1));
                } else {
                    todo.push((p, depth + 1, ignored));
                }
            }
        }
        let Some((dir, depth)) = dirs.pop() else {
            break;
        };
        if !seen.insert(dir.clone()) {
            continue;
        }
        let mut entries = ctx.list_dir(&dir).unwrap_or_default();
        entries.reverse(); // popped in name order
        for e in entries {
            let name = name_text(&e.name);
            todo.push((dir.join(&e.name), depth, !sudo_reads(&name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    fn src() -> SourceRef {
        SourceRef::path_only("/etc/sudoers")
    }

    #[test]
    fn password_fields_are_classified_never_kept() {
        assert_eq!(classify("x"), None);
        assert_eq!(classify("").unwrap().0, "empty");
        assert_eq!(classify("!").unwrap().0, "locked");
        assert_eq!(classify("!$6$abc$def").unwrap().0, "locked");
        assert_eq!(classify("*").unwrap().0, "disabled");
        assert_eq!(
            classify("$y$j9T$salt$hash"),
            Some(("usable".into(), Some("yescrypt".into())))
        );
        assert_eq!(classify("abcdefghijklm").unwrap().1.unwrap(), "descrypt");
        assert_eq!(day_to_date(0), "1970-01-01");
        assert_eq!(day_to_date(19_700), "2023-12-09");
    }

    #[test]
    fn sudoers_specs() {
        let data = b"Defaults\tenv_reset\nDefaults secure_path=\"/usr/sbin:/usr/bin\"\nUser_Alias OPS = bob, carol\nroot\tALL=(ALL:ALL) ALL\n%sudo   ALL=(ALL:ALL) ALL\nwww-data ALL=(ALL) NOPASSWD: ALL # deploy\nbob ALL = (root) NOPASSWD: /usr/bin/systemctl restart nginx, PASSWD: ALL\ncarol host1 = /usr/bin/ls : host2 = NOPASSWD: ALL\n#0 ALL=(ALL) \\\n  NOPASSWD:ALL\n#includedir /etc/sudoers.d\n@include extra\n";
        let (r, inc) = parse_sudoers(data, &src());
        assert_eq!(r.len(), 6, "{r:#?}");
        assert_eq!(r[0].principals, ["root"]);
        assert!(r[0].all_commands && !r[0].nopasswd);
        assert_eq!(r[1].principals, ["%sudo"]);
        assert_eq!(r[1].runas, "ALL:ALL");
        assert!(!r[1].nopasswd_all);
        assert!(r[2].nopasswd_all);
        assert_eq!(r[2].line, 6);
        assert!(r[3].nopasswd && r[3].all_commands && !r[3].nopasswd_all);
        assert_eq!(r[4].hosts, ["host1", "host2"]);
        assert!(r[4].nopasswd_all);
        assert_eq!(r[5].principals, ["#0"]);
        assert!(r[5].nopasswd_all);
        assert_eq!(r[5].line, 9);
        assert_eq!(
            inc,
            [
                Include {
                    path: "/etc/sudoers.d".into(),
                    dir: true
                },
                Include {
                    path: "extra".into(),
                    dir: false
                }
            ]
        );
        assert!(sudo_reads("90-cloud-init-users"));
        assert!(!sudo_reads("README.bak") && !sudo_reads("x~"));
    }

    #[test]
    fn collects_accounts_without_copying_shadow() {
        let secret = "$y$j9T$fixture$VerySecretHashValue0123456789";
        let h = MemHost::new(false)
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\ntoor:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n")
            .file("/etc/group", "sudo:x:27:alice\nalice:x:1000:\n")
            .file("/etc/shells", "# comment\n/bin/sh\n/bin/bash\n")
            .file(
                "/etc/shadow",
                format!("root:*:19700:0:99999:7:::\ndaemon:*:19700::::::\ntoor:{secret}:20400:0:99999:7:::\nwww-data:{secret}:20401:0:99999:7:::\nalice:!:19000::::::\nghost:{secret}:1::::::\n"),
            )
            .file("/etc/sudoers", "%sudo ALL=(ALL:ALL) ALL\n#includedir /etc/sudoers.d\n")
            .file("/etc/sudoers.d/README", "# nothing\n")
            .file("/etc/sudoers.d/90-cloud-init-users", "www-data ALL=(ALL) NOPASSWD:ALL\n")
            .file("/etc/sudoers.d/old.bak", "alice ALL=(ALL) NOPASSWD:ALL\n");
        let (sink, r) = run_collector(
            &AccountsCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let acc = sink.of_kind("accounts", "account");
        let by = |n: &str| acc.iter().find(|a| a["name"] == n).unwrap().clone();
        assert_eq!(by("toor")["password"], "usable");
        assert_eq!(by("toor")["hash_scheme"], "yescrypt");
        assert_eq!(by("toor")["last_change"], "2025-11-08");
        assert_eq!(by("root")["password"], "disabled");
        assert_eq!(by("alice")["password"], "locked");
        assert_eq!(by("alice")["groups"][0], "sudo");
        assert_eq!(by("www-data")["shell_listed"], true);
        assert_eq!(by("daemon")["shell_listed"], false);
        let shadow = sink.of_kind("accounts", "shadow_file");
        assert_eq!(shadow[0]["entries"], 6);
        assert_eq!(shadow[0]["orphans"][0], "ghost");
        assert!(!sink.raw.keys().any(|k| k.contains("shadow")));
        let everything = format!("{:?}{:?}", sink.records, sink.issues);
        assert!(!everything.contains("VerySecretHashValue"));
        assert!(sink.raw.contains_key("raw/etc/passwd"));
        let rules = sink.of_kind("accounts", "sudo_rule");
        assert_eq!(rules.len(), 3);
        let cloud = rules
            .iter()
            .find(|r| r["source"]["path"] == "/etc/sudoers.d/90-cloud-init-users")
            .unwrap();
        assert_eq!(cloud["nopasswd_all"], true);
        assert!(cloud.get("ignored_by_sudo").is_none());
        let bak = rules
            .iter()
            .find(|r| r["source"]["path"] == "/etc/sudoers.d/old.bak")
            .unwrap();
        assert_eq!(bak["ignored_by_sudo"], true);
    }

    #[test]
    fn missing_files_are_said() {
        let h = MemHost::new(false).file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        let (sink, r) = run_collector(
            &AccountsCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        assert_eq!(sink.issues_about("/etc/shadow").len(), 1);
        assert_eq!(sink.issues_about("/etc/shells").len(), 1);
        assert_eq!(
            sink.of_kind("accounts", "account")[0]["password"],
            "unknown"
        );
    }
}
