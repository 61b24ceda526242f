//! cron entries and scripts.

use super::common::*;
use super::content::*;
use crate::config::AnalysisConfig;
use crate::context::{At, Ctx, canonical};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc};
use dossier_plugin_api::records::CronEntry;

pub(crate) fn root_cron_reboot(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.cron
        .iter()
        .filter(|c| c.rec.special.as_deref() == Some("reboot") && c.rec.run_as == "root")
        .map(|c| {
            let src = &c.rec.source.path;
            let text = format!(
                "{src} line {} runs `{}` as root at every boot (@reboot)",
                c.rec.line, c.rec.command
            );
            let ev = ctx.ev(
                c,
                format!("cron entry {src}:{}", c.rec.line),
                Some(&c.rec.source),
            );
            let mut iocs = vec![Ioc::CronCommand(c.rec.command.clone())];
            iocs.extend(segment_programs(&c.rec.command).into_iter().map(Ioc::Path));
            let subject = format!("{src}:{}", c.rec.line);
            // Persistence pointing at something bad is behaviour; an @reboot line running an
            // ordinary command (a late NFS mount) is context.
            match command_problem(ctx, &c.rec.command) {
                Some(why) => finding(subject, format!("{text}: {why}"), ev, iocs),
                None => finding(subject, text, ev, iocs).context(),
            }
        })
        .collect()
}

/// Evidence of a cron entry.
fn cron_ev(ctx: &Ctx, c: &At<CronEntry>) -> Vec<Evidence> {
    let src = &c.rec.source.path;
    ctx.ev(
        c,
        format!("cron entry {src}:{}", c.rec.line),
        Some(&c.rec.source),
    )
}

pub(crate) fn cron_suspicious_path(
    ctx: &Ctx,
    cfg: &AnalysisConfig,
    input: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.cron.iter().filter(|c| c.rec.format != "user") {
        let src = &c.rec.source.path;
        for prog in segment_programs(&c.rec.command) {
            if prog == "/dev/null" {
                continue;
            }
            let iocs = vec![
                Ioc::Path(prog.clone()),
                Ioc::CronCommand(c.rec.command.clone()),
            ];
            if let Some(why) = unusual_location(&prog) {
                // The same observation as exec-unusual-path's: counted once.
                out.push(
                    finding(
                        format!("{src}:{}", c.rec.line),
                        format!("{src} line {} runs {prog}: {why}", c.rec.line),
                        cron_ev(ctx, c),
                        iocs,
                    )
                    .with_fact(format!("exe-location:{}", canonical(&prog))),
                );
            } else if ctx.has_package_db && !ctx.is_owned(&prog) {
                out.push(
                    finding(
                        format!("{src}:{}", c.rec.line),
                        format!("{src} line {} runs {prog}: no package owns it", c.rec.line),
                        cron_ev(ctx, c),
                        iocs,
                    )
                    .context(),
                );
            }
        }
    }
    for s in ctx.cron_scripts.iter().filter(|s| s.rec.runs) {
        let target = s
            .rec
            .link_target
            .clone()
            .unwrap_or_else(|| s.rec.path.clone());
        let ev = ctx.ev(
            s,
            format!("cron script {}", s.rec.path),
            s.rec.source.as_ref(),
        );
        let iocs = vec![Ioc::Path(s.rec.path.clone())];
        if let Some(why) = unusual_location(&target) {
            out.push(
                finding(
                    &s.rec.path,
                    format!("cron.{} runs {}: {why}", s.rec.period, s.rec.path),
                    ev,
                    iocs,
                )
                .with_fact(format!("exe-location:{}", canonical(&target))),
            );
            continue;
        }
        if !(ctx.has_package_db && !ctx.is_owned(&s.rec.path) && !ctx.is_owned(&target)) {
            continue;
        }
        // An unowned script: what it does decides.
        let bad = s
            .rec
            .source
            .as_ref()
            .and_then(|src| src.member.as_ref())
            .and_then(|m| (input.read_member)(m, cfg.max_scan_bytes.min(16 << 20)).ok())
            .and_then(|d| {
                script_patterns(&String::from_utf8_lossy(&d))
                    .into_iter()
                    .next()
            });
        out.push(match bad {
            Some((n, line, why)) => finding(
                &s.rec.path,
                format!(
                    "cron.{} runs {}, which no package owns, and its line {n} {why}: `{}`",
                    s.rec.period,
                    s.rec.path,
                    line.chars().take(200).collect::<String>()
                ),
                ev,
                iocs,
            ),
            None => finding(
                &s.rec.path,
                format!(
                    "cron.{} runs {}: no package owns it",
                    s.rec.period, s.rec.path
                ),
                ev,
                iocs,
            )
            .context(),
        });
    }
    out
}
