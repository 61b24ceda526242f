//! systemd units, timers and generators.

use super::common::*;
use super::content::*;
use crate::config::AnalysisConfig;
use crate::context::{Ctx, program};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Finding, Ioc};

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
        out.push(finding(
            &u.rec.name,
            format!(
                "unit {} runs {prog}, a binary whose name has nothing in common with the unit's",
                u.rec.name
            ),
            ctx.ev(u, format!("unit {}", u.rec.name), Some(&u.rec.source)),
            vec![Ioc::Unit(u.rec.name.clone()), Ioc::Path(prog.clone())],
        ));
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
            finding(
                &u.rec.name,
                format!(
                    "unit {} was created in /etc/systemd/system and no package owns it",
                    u.rec.name
                ),
                ctx.ev(u, format!("unit {}", u.rec.name), Some(&u.rec.source)),
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
        let owned = ctx.has_package_db && ctx.is_owned(&u.rec.path);
        for cmd in unit_commands(&u.rec) {
            if let Some(why) = shell_pattern(cmd, owned) {
                out.push(finding(
                    &u.rec.name,
                    format!("unit {} {why}: `{cmd}`", u.rec.name),
                    ctx.ev(u, format!("unit {}", u.rec.name), Some(&u.rec.source)),
                    vec![Ioc::Unit(u.rec.name.clone())],
                ));
            }
        }
    }
    for c in &ctx.cron {
        let owned = ctx.has_package_db && ctx.is_owned(&c.rec.source.path);
        if let Some(why) = shell_pattern(&c.rec.command, owned) {
            let src = &c.rec.source.path;
            out.push(finding(
                format!("{src}:{}", c.rec.line),
                format!("{src} line {} {why}: `{}`", c.rec.line, c.rec.command),
                ctx.ev(
                    c,
                    format!("cron entry {src}:{}", c.rec.line),
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
            out.push(finding(
                &u.rec.name,
                format!(
                    "timer {} (no package owns it) starts {} every `{s}`",
                    u.rec.name, t.unit
                ),
                ctx.ev(u, format!("timer {}", u.rec.name), Some(&u.rec.source)),
                vec![Ioc::Unit(u.rec.name.clone()), Ioc::Unit(t.unit.clone())],
            ));
        }
    }
    out
}

pub(crate) fn generator_unowned(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
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
        out.push(finding(
            &g.rec.path,
            format!(
                "{} generator {} runs at every boot and daemon-reload and no package owns it",
                g.rec.scope, g.rec.path
            ),
            ctx.ev(
                g,
                format!("generator {}", g.rec.path),
                g.rec.source.as_ref(),
            ),
            iocs,
        ));
    }
    out
}
