//! Accounts and sudo: uid-0 aliases, usable system accounts, passwordless sudo.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Evidence, Finding, Ioc, Message};
use dossier_plugin_api::records::AccountRecord;

pub(crate) fn account_ev(
    ctx: &Ctx,
    a: &At<dossier_plugin_api::records::AccountRecord>,
) -> Vec<Evidence> {
    ctx.ev(
        a,
        what(
            "evidence.account",
            &[("name", &a.rec.name), ("line", &a.rec.line)],
        ),
        Some(&a.rec.source),
    )
}

/// A password status in words (`reason.password.*`).
pub(crate) fn password_msg(p: &str) -> Message {
    Message::new(match p {
        "usable" => "reason.password.usable",
        "empty" => "reason.password.empty",
        "locked" => "reason.password.locked",
        "disabled" => "reason.password.disabled",
        "no_entry" => "reason.password.no-entry",
        _ => "reason.password.unknown",
    })
}

pub(crate) fn account_extra_uid0(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.accounts
        .iter()
        .filter(|a| a.rec.uid == 0 && a.rec.name != "root")
        .map(|a| {
            let changed = match a.rec.last_change.as_deref() {
                Some(d) => Message::new("finding.accounts.last-changed")
                    .text("date", d)
                    .into(),
                None => Arg::Text(String::new()),
            };
            let m = Message::new("finding.accounts.extra-uid0")
                .text("name", &a.rec.name)
                .text("shell", &a.rec.shell)
                .text("home", &a.rec.home)
                .msg("password", password_msg(&a.rec.password));
            explained(
                &a.rec.name,
                with_arg(m, "changed", changed),
                account_ev(ctx, a),
                vec![Ioc::Account(a.rec.name.clone())],
            )
        })
        .collect()
}

/// Why an account is a daemon identity (a stock service account), if it is: uid below 100, a
/// home that is no home (`/`, `/nonexistent`, `/usr/sbin`, `/bin`, `/dev/null`, `/run/...`,
/// `/var/www`...), or it owns a listening process. Privilege or a login given to such an
/// account hands an intruder a service's identity; a locally created account with a real
/// home (`/home/x`, `/var/lib/ansible`) is someone's. A `reason.daemon.*` message.
pub(crate) fn daemon_identity_msg(ctx: &Ctx, a: &AccountRecord) -> Option<Message> {
    if a.uid == 0 {
        return None;
    }
    if a.uid < 100 {
        return Some(Message::new("reason.daemon.stock-uid").text("uid", a.uid));
    }
    let h = a.home.trim_end_matches('/');
    let no_home = matches!(
        h,
        "" | "/nonexistent" | "/usr/sbin" | "/sbin" | "/bin" | "/usr/bin" | "/dev/null"
    ) || [
        "/run/",
        "/var/run/",
        "/var/www",
        "/proc",
        "/var/empty",
        "/var/spool/",
    ]
    .iter()
    .any(|p| h.starts_with(p));
    if no_home {
        return Some(Message::new("reason.daemon.no-home").text("home", &a.home));
    }
    let listening: Vec<u32> = ctx
        .sockets
        .iter()
        .filter(|s| s.rec.listening)
        .flat_map(|s| s.rec.pids.iter().copied())
        .collect();
    ctx.procs
        .iter()
        .find(|p| p.rec.uid == a.uid && listening.contains(&p.rec.pid))
        .map(|p| {
            Message::new("reason.daemon.listening")
                .text("pid", p.rec.pid)
                .text("comm", &p.rec.comm)
        })
}

pub(crate) const NO_LOGIN_SHELLS: &[&str] = &["nologin", "false", "sync", "halt", "shutdown"];

pub(crate) fn login_shell(a: &dossier_plugin_api::records::AccountRecord) -> bool {
    let b = base(&a.shell);
    !a.shell.is_empty() && !NO_LOGIN_SHELLS.contains(&b) && a.shell_listed != Some(false)
}

pub(crate) fn system_account_usable(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in ctx
        .accounts
        .iter()
        .filter(|a| a.rec.uid != 0 && a.rec.uid < 1000 && login_shell(&a.rec))
    {
        let mut why: Vec<Message> = Vec::new();
        let mut ev = account_ev(ctx, a);
        if matches!(a.rec.password.as_str(), "usable" | "empty") {
            why.push(password_msg(&a.rec.password));
        }
        for k in ctx
            .ssh_keys
            .iter()
            .filter(|k| k.rec["user"].as_str() == Some(a.rec.name.as_str()))
        {
            why.push(
                Message::new("reason.account.ssh-key")
                    .text("fingerprint", k.rec["fingerprint"].as_str().unwrap_or("?")),
            );
            ev.extend(ctx.ev(
                k,
                what("evidence.authorized-key", &[("name", &a.rec.name)]),
                None,
            ));
        }
        if why.is_empty() {
            continue;
        }
        let text = |id: &str| {
            let m = Message::new(id)
                .text("name", &a.rec.name)
                .text("uid", a.rec.uid)
                .text("home", &a.rec.home)
                .text("shell", &a.rec.shell);
            with_arg(m, "why", and_list(why.clone()))
        };
        let iocs = vec![Ioc::Account(a.rec.name.clone())];
        out.push(match daemon_identity_msg(ctx, &a.rec) {
            Some(d) => explained(
                &a.rec.name,
                text("finding.accounts.system-usable-daemon").msg("daemon", d),
                ev,
                iocs,
            ),
            // A locally created account with a real home (an automation user).
            None => explained(
                &a.rec.name,
                text("finding.accounts.system-usable-own-home"),
                ev,
                iocs,
            )
            .context(),
        });
    }
    out
}

pub(crate) const ADMIN_GROUPS: &[&str] = &["sudo", "wheel", "admin", "root"];

/// Whether a user is in an admin group, as a member or by its primary group.
fn in_admin_group(ctx: &Ctx, user: &str) -> bool {
    ctx.groups.iter().any(|g| {
        ADMIN_GROUPS.contains(&g.rec.name.as_str()) && g.rec.members.iter().any(|m| m == user)
    }) || ctx.accounts.iter().any(|a| {
        a.rec.name == user
            && ctx
                .groups
                .iter()
                .any(|g| g.rec.gid == a.rec.gid && ADMIN_GROUPS.contains(&g.rec.name.as_str()))
    })
}

/// Whether a sudoers principal (`user`, `#uid`, `%group`) is someone other than root or an
/// admin group (or a member of one).
fn outside_admins(ctx: &Ctx, p: &str) -> bool {
    if let Some(g) = p.strip_prefix('%') {
        !ADMIN_GROUPS.contains(&g.trim_start_matches(':'))
    } else {
        p != "root" && p != "#0" && !in_admin_group(ctx, p)
    }
}

/// Why a sudoers principal is a service's identity (a daemon account, a group of them, a stock
/// service uid or gid), if it is (`reason.grantee.*`).
fn daemon_grantee(ctx: &Ctx, p: &str) -> Option<Message> {
    if let Some(g) = p.strip_prefix('%') {
        let g = g.trim_start_matches(':');
        let grp = ctx.groups.iter().find(|x| x.rec.name == g)?;
        let members: Vec<&AccountRecord> = ctx
            .accounts
            .iter()
            .filter(|a| a.rec.gid == grp.rec.gid || grp.rec.members.contains(&a.rec.name))
            .map(|a| &a.rec)
            .collect();
        (grp.rec.gid < 100
            || !members.is_empty()
                && members
                    .iter()
                    .all(|a| daemon_identity_msg(ctx, a).is_some()))
        .then(|| Message::new("reason.grantee.group").text("group", g))
    } else if let Some(uid) = p.strip_prefix('#') {
        let uid: u32 = uid.parse().ok()?;
        let a = ctx.accounts.iter().find(|a| a.rec.uid == uid);
        match a {
            Some(a) => daemon_identity_msg(ctx, &a.rec).map(|d| {
                Message::new("reason.grantee.uid-account")
                    .text("principal", p)
                    .text("name", &a.rec.name)
                    .msg("why", d)
            }),
            None => {
                (uid < 100).then(|| Message::new("reason.grantee.stock-uid").text("principal", p))
            }
        }
    } else {
        let a = ctx.accounts.iter().find(|a| a.rec.name == p)?;
        daemon_identity_msg(ctx, &a.rec).map(|d| {
            Message::new("reason.grantee.account")
                .text("principal", p)
                .msg("why", d)
        })
    }
}

pub(crate) fn sudo_nopasswd_all(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in ctx
        .sudo
        .iter()
        .filter(|r| r.rec.nopasswd_all && !r.rec.ignored_by_sudo)
    {
        let outsiders: Vec<&String> = r
            .rec
            .principals
            .iter()
            .filter(|p| outside_admins(ctx, p))
            .collect();
        if outsiders.is_empty() {
            continue;
        }
        // Behaviour when a grantee is a daemon identity, or a group of them; NOPASSWD ALL for
        // an ordinary or automation account is context.
        let daemons: Vec<Message> = outsiders
            .iter()
            .filter_map(|p| daemon_grantee(ctx, p))
            .collect();
        let src = &r.rec.source.path;
        let mut iocs = vec![Ioc::ConfigLine(r.rec.text.clone()), Ioc::Path(src.clone())];
        iocs.extend(
            outsiders
                .iter()
                .filter(|p| !p.starts_with('%'))
                .map(|p| Ioc::Account((*p).clone())),
        );
        let text = |id: &str| {
            Message::new(id)
                .text("file", src)
                .text("line", r.rec.line)
                .text(
                    "who",
                    outsiders
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .text("rule", &r.rec.text)
        };
        let ev = ctx.ev(
            r,
            what(
                "evidence.sudoers-rule",
                &[("file", &src), ("line", &r.rec.line)],
            ),
            Some(&r.rec.source),
        );
        let subject = format!("{src}:{}", r.rec.line);
        out.push(if daemons.is_empty() {
            explained(
                subject,
                text("finding.accounts.sudo-nopasswd-ordinary"),
                ev,
                iocs,
            )
            .context()
        } else {
            explained(
                subject,
                text("finding.accounts.sudo-nopasswd-daemon")
                    .list("daemons", daemons.into_iter().map(Arg::from).collect()),
                ev,
                iocs,
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::engine::analyze_records;
    use crate::testkit;
    use serde_json::json;

    #[test]
    fn privilege_for_daemon_identities_is_behaviour_for_people_context() {
        let src = json!({"path": "/etc/passwd"});
        let acc = |line: usize, name: &str, uid: u32, home: &str| {
            (
                line,
                json!({"kind": "account", "name": name, "uid": uid, "gid": uid, "home": home, "shell": "/bin/bash", "shell_listed": true, "password": "usable", "line": line, "source": src}),
            )
        };
        let sudo = |line: usize, who: &str| {
            (
                line,
                json!({"kind": "sudo_rule", "source": {"path": "/etc/sudoers.d/x"}, "line": line, "text": format!("{who} ALL=(ALL) NOPASSWD: ALL"), "principals": [who], "hosts": ["ALL"], "commands": ["ALL"], "nopasswd": true, "all_commands": true, "nopasswd_all": true}),
            )
        };
        let recs = vec![
            acc(1, "ansible", 998, "/var/lib/ansible"),
            acc(2, "deploy", 1001, "/home/deploy"),
            acc(3, "svc", 997, "/nonexistent"),
            acc(4, "nobody", 65534, "/nonexistent"),
            sudo(5, "ansible"),
            sudo(6, "deploy"),
            sudo(7, "svc"),
            sudo(8, "%daemon"),
            (
                9,
                json!({"kind": "group", "name": "daemon", "gid": 1, "members": [], "line": 9, "source": src}),
            ),
        ];
        let records = [("accounts".to_string(), recs)].into_iter().collect();
        let a = analyze_records(records);
        let class = |rule: &str| testkit::classes(&a, rule);
        assert_eq!(
            class("sudo-nopasswd-all"),
            [
                ("/etc/sudoers.d/x:7".to_string(), true),
                ("/etc/sudoers.d/x:8".to_string(), true),
                ("/etc/sudoers.d/x:5".to_string(), false),
                ("/etc/sudoers.d/x:6".to_string(), false),
            ]
        );
        assert_eq!(
            class("system-account-usable"),
            [("svc".to_string(), true), ("ansible".to_string(), false)]
        );
    }

    #[test]
    fn account_rules() {
        let src =
            json!({"path": "/etc/passwd", "member": "raw/etc/passwd", "sha256": "c".repeat(64)});
        let acc = |line: usize, name: &str, uid: u32, gid: u32, shell: &str, pw: &str| {
            (
                line,
                json!({"kind": "account", "name": name, "uid": uid, "gid": gid, "home": "/", "shell": shell, "shell_listed": shell != "/usr/sbin/nologin", "password": pw, "line": line, "source": src}),
            )
        };
        let sudo = |line: usize, who: &str, nopw_all: bool| {
            (
                line,
                json!({"kind": "sudo_rule", "source": {"path": "/etc/sudoers"}, "line": line, "text": format!("{who} ALL=(ALL) NOPASSWD: ALL"), "principals": [who], "hosts": ["ALL"], "commands": ["ALL"], "nopasswd": nopw_all, "all_commands": true, "nopasswd_all": nopw_all}),
            )
        };
        let mut recs = vec![
            acc(1, "root", 0, 0, "/bin/bash", "usable"),
            acc(2, "systemd-netd", 0, 0, "/bin/bash", "usable"),
            acc(3, "www-data", 33, 33, "/bin/bash", "usable"),
            acc(4, "daemon", 1, 1, "/usr/sbin/nologin", "usable"),
            acc(5, "backup", 34, 34, "/bin/sh", "locked"),
            acc(6, "alice", 1000, 1000, "/bin/bash", "usable"),
            acc(7, "git", 120, 120, "/bin/bash", "locked"),
            (
                8,
                json!({"kind": "group", "name": "sudo", "gid": 27, "members": ["alice"], "line": 8, "source": src}),
            ),
            sudo(9, "%sudo", true),
            sudo(10, "alice", true),
            sudo(11, "www-data", true),
            sudo(12, "bob", false),
        ];
        recs.push((13, json!({"kind": "sudo_rule", "source": {"path": "/etc/sudoers.d/x.bak"}, "line": 1, "text": "eve ALL=(ALL) NOPASSWD:ALL", "principals": ["eve"], "hosts": ["ALL"], "commands": ["ALL"], "nopasswd": true, "all_commands": true, "nopasswd_all": true, "ignored_by_sudo": true})));
        let keys = vec![(
            1,
            json!({"kind": "authorized_key", "user": "git", "fingerprint": "SHA256:abc"}),
        )];
        let records = [
            ("accounts".to_string(), recs),
            ("ssh-keys".to_string(), keys),
        ]
        .into_iter()
        .collect();
        let a = analyze_records(records);
        let subjects = |rule: &str| testkit::subjects(&a, rule);
        assert_eq!(subjects("account-extra-uid0"), ["systemd-netd"]);
        assert_eq!(subjects("system-account-usable"), ["git", "www-data"]);
        assert_eq!(subjects("sudo-nopasswd-all"), ["/etc/sudoers:11"]);
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "sudo-nopasswd-all")
            .unwrap();
        assert!(f.iocs.contains(&dossier_plugin_api::analysis::Ioc::Account(
            "www-data".into()
        )));
        assert_eq!(a.verdict, "Malicious likely");
    }
}
