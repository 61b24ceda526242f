//! Privilege changes (`event-privilege-change`): accounts created with uid 0 or a uid-0 line
//! added to /etc/passwd, accounts added to sudo/wheel/admin/root, accounts created outside an
//! administrator's session, files made setuid or given setuid-like capabilities.
//!
//! Read from the account tools' own records (journal `account_change` messages, audit
//! `ADD_USER`/`USER_MGMT`/`GRP_MGMT` records) and from command lines (useradd, usermod,
//! gpasswd, adduser, chmod, setcap). The same change seen by several sources folds on its
//! subject (the account or the file). Package managers and configuration management are
//! routine (Info); an administrator at a terminal makes it Low (account created) or Medium
//! (privileged group).

use super::view::{View, base, mentions};
use super::{ArgExt, Hit, event_iocs, process_arg, say, who_arg};
use crate::rules::common::{is_interpreter, unusual_location};
use dossier_plugin_api::analysis::{Arg, Ioc, Message, Severity};

/// Groups whose members get root through sudo or by being root's group.
const PRIV_GROUPS: &[&str] = &["sudo", "wheel", "admin", "root"];

/// Programs that give root when setuid (GTFOBins' short list beyond the interpreters).
const SETUID_DANGEROUS: &[&str] = &[
    "find", "vim", "vi", "less", "more", "cp", "mv", "env", "nmap", "awk", "gawk", "tar", "nano",
    "dd", "tee", "chmod", "chown", "docker",
];

/// One change found in an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A new account, and whether its uid is 0.
    NewAccount(String, bool),
    /// An existing account given uid 0.
    Uid0(String),
    /// An account added to a privileged group.
    Group(String, String),
    /// A file made setuid/setgid or given capabilities (what was done).
    Setuid(String, String),
    /// A service account running a command as root through sudo (the command).
    ServiceSudo(String, String),
}

fn priv_group_in(list: &str) -> Option<&'static str> {
    list.split(',')
        .map(str::trim)
        .find_map(|g| PRIV_GROUPS.iter().find(|p| **p == g).copied())
}

/// Changes in a command line.
pub(crate) fn in_command(cmd: &str) -> Vec<Change> {
    if !mentions(
        cmd,
        &[
            "useradd",
            "adduser",
            "usermod",
            "gpasswd",
            "chmod",
            "setcap",
            "/etc/passwd",
        ],
    ) {
        return Vec::new();
    }
    let w: Vec<&str> = cmd
        .split(|c: char| c.is_whitespace() || "'\";|&()".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, x) in w.iter().enumerate() {
        let args = &w[i + 1..];
        let opt = |names: &[&str]| {
            args.iter()
                .position(|a| names.contains(a))
                .and_then(|p| args.get(p + 1).copied())
                .or_else(|| {
                    args.iter().find_map(|a| {
                        names
                            .iter()
                            .find_map(|n| a.strip_prefix(&format!("{n}=")))
                            .or_else(|| {
                                names
                                    .iter()
                                    .filter(|n| n.len() == 2)
                                    .find_map(|n| a.strip_prefix(*n).filter(|r| !r.is_empty()))
                            })
                    })
                })
        };
        let account = args.iter().rev().find(|a| !a.starts_with('-')).copied();
        match base(x) {
            "useradd" | "adduser" => {
                let uid0 = opt(&["-u", "--uid"]) == Some("0");
                // `adduser NAME GROUP` adds to a group.
                let plain: Vec<&&str> = args.iter().filter(|a| !a.starts_with('-')).collect();
                if base(x) == "adduser"
                    && plain.len() == 2
                    && !args.iter().any(|a| a.starts_with('-'))
                {
                    if let Some(g) = priv_group_in(plain[1]) {
                        out.push(Change::Group(plain[0].to_string(), g.to_string()));
                    }
                    continue;
                }
                if let Some(a) = account {
                    out.push(Change::NewAccount(a.to_string(), uid0));
                    if let Some(g) = opt(&["-G", "--groups"]).and_then(priv_group_in) {
                        out.push(Change::Group(a.to_string(), g.to_string()));
                    }
                }
            }
            "usermod" => {
                let Some(a) = account else { continue };
                if opt(&["-u", "--uid"]) == Some("0") {
                    out.push(Change::Uid0(a.to_string()));
                }
                let groups = opt(&["-G", "--groups"]).or_else(|| {
                    args.iter()
                        .position(|a| *a == "-aG")
                        .and_then(|p| args.get(p + 1).copied())
                });
                if let Some(g) = groups.and_then(priv_group_in) {
                    out.push(Change::Group(a.to_string(), g.to_string()));
                }
            }
            "gpasswd" => {
                if let Some(p) = args.iter().position(|a| *a == "-a")
                    && let (Some(a), Some(g)) = (args.get(p + 1), args.get(p + 2))
                    && let Some(g) = priv_group_in(g)
                {
                    out.push(Change::Group(a.to_string(), g.to_string()));
                }
            }
            "chmod" | "setcap" => perm_change(base(x), args, &mut out),
            _ => {}
        }
    }
    // `echo 'x:x:0:0::/root:/bin/bash' >> /etc/passwd`
    if cmd.contains("/etc/passwd") && cmd.contains(">>") {
        for tok in cmd.split(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            let f: Vec<&str> = tok.split(':').collect();
            if f.len() >= 7 && f[2] == "0" && !f[0].is_empty() && f[0] != "root" {
                out.push(Change::NewAccount(f[0].to_string(), true));
            }
        }
    }
    out
}

/// `chmod` making files setuid/setgid, `setcap` giving setuid-like capabilities.
fn perm_change(prog: &str, args: &[&str], out: &mut Vec<Change>) {
    match prog {
        "chmod" => {
            let mode = args
                .iter()
                .find(|a| !a.starts_with('-') || a.starts_with("-s"));
            let Some(mode) = mode else { return };
            let numeric = mode.len() == 4
                && mode.chars().all(|c| c.is_ascii_digit())
                && matches!(mode.chars().next(), Some('4' | '6'));
            let symbolic = mode.contains("+s") && !mode.starts_with('o');
            if numeric || symbolic {
                for f in args
                    .iter()
                    .filter(|a| a.starts_with('/') || a.starts_with("./"))
                {
                    out.push(Change::Setuid(f.to_string(), format!("chmod {mode}")));
                }
            }
        }
        "setcap" => {
            let caps = args.first().copied().unwrap_or("");
            let lc = caps.to_ascii_lowercase();
            if [
                "cap_setuid",
                "cap_setgid",
                "cap_sys_admin",
                "cap_dac_override",
                "cap_dac_read_search",
                "cap_sys_ptrace",
                "=ep",
            ]
            .iter()
            .any(|c| lc.contains(c))
                && let Some(f) = args.get(1)
            {
                out.push(Change::Setuid(f.to_string(), format!("setcap {caps}")));
            }
        }
        _ => {}
    }
}

/// Changes the account tools record themselves (journal and audit user-space records).
fn in_records(v: &View) -> Vec<Change> {
    let f = &v.ev.fields;
    let mut out = Vec::new();
    if v.action() == "account_change"
        && let Some(c) = f.get("change")
    {
        if let Some(rest) = c.strip_prefix("new user: ") {
            let name = rest
                .split_once("name=")
                .map(|(_, r)| r.split(',').next().unwrap_or(r).trim().to_string());
            let uid0 = rest.contains("UID=0,") || rest.ends_with("UID=0");
            if let Some(n) = name {
                out.push(Change::NewAccount(n, uid0));
            }
        } else if c.contains(" to group ") || c.contains(" to shadow group ") {
            let quoted: Vec<&str> = c.split('\'').skip(1).step_by(2).collect();
            if let (Some(a), Some(g)) = (quoted.first(), quoted.get(1))
                && let Some(g) = priv_group_in(g)
            {
                out.push(Change::Group(a.to_string(), g.to_string()));
            }
        }
    }
    if v.ev.outcome.as_deref() != Some("failure") {
        match v.action() {
            "ADD_USER" => {
                if let Some(u) = v.ev.user.as_deref().map(str::to_string) {
                    let uid0 = f.get("id").is_some_and(|i| i == "0");
                    out.push(Change::NewAccount(u, uid0));
                }
            }
            "USER_MGMT" | "GRP_MGMT" => {
                if f.get("op").is_some_and(|o| o.contains("group"))
                    && let Some(g) = f.get("grp").and_then(|g| priv_group_in(g))
                    && let Some(u) = f.get("acct").or(v.ev.user.as_deref()).map(str::to_string)
                {
                    out.push(Change::Group(u, g.to_string()));
                }
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn check(v: &View, out: &mut Vec<Hit>) {
    let mut changes = in_records(v);
    // Service accounts have no business with sudo: a web application's account getting root
    // through it (often by a GTFOBins escape, `sudo find . -exec /bin/sh`) is an escalation.
    if v.is_sudo_command()
        && let Some(u) =
            v.ev.user
                .as_deref()
                .filter(|u| super::view::service_account(u))
        && let Some(c) = v.run_command()
    {
        changes.push(Change::ServiceSudo(u.to_string(), c.to_string()));
    }
    if let Some(c) = v.run_command() {
        for ch in in_command(c) {
            if !changes.contains(&ch) {
                changes.push(ch);
            }
        }
    }
    for ch in changes {
        out.push(hit(v, ch));
    }
}

/// Subject, what was done, severity, technique and risk of a change.
fn assess(
    ch: &Change,
    routine: bool,
    bad: bool,
    interactive: bool,
    known: bool,
) -> (String, Message, Severity, &'static str, Message) {
    match ch {
        Change::NewAccount(a, true) | Change::Uid0(a) => (
            a.clone(),
            say("event-said.uid0", &[("a", &a)]),
            Severity::Critical,
            "T1136.001",
            say("event-risk.uid0", &[("a", &a)]),
        ),
        Change::NewAccount(a, false) => (
            a.clone(),
            say("event-said.new-account", &[("a", &a)]),
            if routine {
                Severity::Info
            } else if bad || (known && !interactive) {
                // Outside an administrator's session: a script or a service made it.
                Severity::High
            } else if interactive {
                Severity::Low
            } else {
                Severity::Medium
            },
            "T1136.001",
            say("event-risk.new-account", &[("a", &a)]),
        ),
        Change::Group(a, g) => (
            a.clone(),
            say("event-said.admin-group", &[("a", &a), ("g", &g)]),
            if routine {
                Severity::Info
            } else if bad || (known && !interactive) {
                Severity::High
            } else {
                Severity::Medium
            },
            "T1098",
            say("event-risk.admin-group", &[("a", &a)]),
        ),
        Change::ServiceSudo(a, c) => (
            a.clone(),
            say("event-said.service-sudo", &[("c", &c), ("a", &a)]),
            Severity::High,
            "T1548.003",
            say("event-risk.service-sudo", &[("a", &a)]),
        ),
        Change::Setuid(f, how) => {
            let name = base(f);
            let dangerous = is_interpreter(name) || SETUID_DANGEROUS.contains(&name);
            let odd = unusual_location(f).is_some();
            (
                f.clone(),
                say("event-said.setuid", &[("f", &f), ("how", &how)]),
                if routine && !odd {
                    Severity::Info
                } else if dangerous || odd || bad {
                    Severity::High
                } else {
                    Severity::Medium
                },
                "T1548.001",
                say(
                    if dangerous {
                        "event-risk.setuid-shell"
                    } else {
                        "event-risk.setuid"
                    },
                    &[("name", &name)],
                ),
            )
        }
    }
}

fn hit(v: &View, ch: Change) -> Hit {
    let actor = match &v.proc {
        Some(p) => process_arg(p),
        None => Arg::Message(Message::new("event-said.a-process")),
    };
    let cmd = match v.run_command().or_else(|| v.actor_command()) {
        Some(c) => Arg::Message(Message::new("event-said.command").text("command", c)),
        None => Arg::Text(String::new()),
    };
    let routine = v
        .package_manager()
        .then_some("the package manager")
        .or_else(|| v.config_management());
    let odd_actor = v
        .lineage()
        .any(|p| p.exe.as_deref().and_then(unusual_location).is_some());
    let bad = v.web_context() || odd_actor || v.taint.is_some();
    let interactive = v.interactive();
    // Journal and audit user-space records name no parent: the context is unknown.
    let known = interactive || !v.ancestors.is_empty();
    let (subject, what, severity, tech, risk) =
        assess(&ch, routine.is_some(), bad, interactive, known);
    let context = match (routine, bad, interactive, known) {
        (Some(r), ..) if severity == Severity::Info => {
            let r = if v.package_manager() {
                Arg::Message(Message::new("event-said.package-manager"))
            } else {
                Arg::Text(r.to_string())
            };
            Message::new("event-said.routine").arg("actor", r)
        }
        (_, true, ..) => match &v.taint {
            Some(t) => say("event-said.tainted", &[("taint", &t)]),
            None => Message::new("event-said.bad-actor"),
        },
        (_, _, true, _) => Message::new("event-said.terminal"),
        (.., false) => Message::new("event-said.unknown-starter"),
        _ => Message::new("event-said.no-admin"),
    };
    let explanation = Message::new("event-said.privilege")
        .arg("actor", actor)
        .arg("who", who_arg(v))
        .arg("command", cmd)
        .msg("what", what)
        .msg("context", context);
    let mut iocs = Vec::new();
    match &ch {
        Change::Setuid(f, _) => iocs.push(Ioc::Path(f.clone())),
        Change::NewAccount(a, _)
        | Change::Uid0(a)
        | Change::Group(a, _)
        | Change::ServiceSudo(a, _) => iocs.push(Ioc::Account(a.clone())),
    }
    iocs.extend(event_iocs(v));
    let subject = if severity == Severity::Info {
        format!("changes by {}", routine.unwrap_or("routine tools"))
    } else {
        subject
    };
    Hit::said(
        "event-privilege-change",
        severity,
        subject,
        explanation,
        risk,
    )
    .techniques(match ch {
        Change::Group(..) => vec![tech, "T1078.003"],
        _ => vec![tech],
    })
    .iocs(iocs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(
            in_command("useradd -m -s /bin/bash svc-backup"),
            [Change::NewAccount("svc-backup".into(), false)]
        );
        assert_eq!(
            in_command("useradd -o -u 0 -g 0 toor"),
            [Change::NewAccount("toor".into(), true)]
        );
        assert_eq!(
            in_command("usermod -aG sudo svc-backup"),
            [Change::Group("svc-backup".into(), "sudo".into())]
        );
        assert_eq!(in_command("usermod -aG docker,video alice"), []);
        assert_eq!(
            in_command("gpasswd -a bob wheel"),
            [Change::Group("bob".into(), "wheel".into())]
        );
        assert_eq!(
            in_command("chmod u+s /tmp/.x/sh"),
            [Change::Setuid("/tmp/.x/sh".into(), "chmod u+s".into())]
        );
        assert_eq!(in_command("chmod 4755 /usr/local/bin/tool").len(), 1);
        assert!(in_command("chmod 755 /usr/local/bin/tool").is_empty());
        assert!(in_command("chmod +x /tmp/build.sh").is_empty());
        assert_eq!(
            in_command("echo 'sys2:x:0:0::/root:/bin/bash' >> /etc/passwd"),
            [Change::NewAccount("sys2".into(), true)]
        );
    }
}
