//! cron entries and scripts.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Finding, Ioc};

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
            finding(
                format!("{src}:{}", c.rec.line),
                format!(
                    "{src} line {} runs `{}` as root at every boot (@reboot)",
                    c.rec.line, c.rec.command
                ),
                ctx.ev(
                    c,
                    format!("cron entry {src}:{}", c.rec.line),
                    Some(&c.rec.source),
                ),
                vec![Ioc::CronCommand(c.rec.command.clone())],
            )
        })
        .collect()
}

pub(crate) fn suspicious_path(ctx: &Ctx, path: &str) -> Option<String> {
    if path == "/dev/null" {
        return None;
    }
    unusual_location(path).or_else(|| {
        (ctx.has_package_db && !ctx.is_owned(path)).then(|| "no package owns it".to_string())
    })
}

pub(crate) fn cron_suspicious_path(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in ctx.cron.iter().filter(|c| c.rec.format != "user") {
        for prog in segment_programs(&c.rec.command) {
            if let Some(why) = suspicious_path(ctx, &prog) {
                let src = &c.rec.source.path;
                out.push(finding(
                    format!("{src}:{}", c.rec.line),
                    format!("{src} line {} runs {prog}: {why}", c.rec.line),
                    ctx.ev(
                        c,
                        format!("cron entry {src}:{}", c.rec.line),
                        Some(&c.rec.source),
                    ),
                    vec![
                        Ioc::Path(prog.clone()),
                        Ioc::CronCommand(c.rec.command.clone()),
                    ],
                ));
            }
        }
    }
    for s in ctx.cron_scripts.iter().filter(|s| s.rec.runs) {
        let target = s
            .rec
            .link_target
            .clone()
            .unwrap_or_else(|| s.rec.path.clone());
        let why = unusual_location(&target).or_else(|| {
            (ctx.has_package_db && !ctx.is_owned(&s.rec.path) && !ctx.is_owned(&target))
                .then(|| "no package owns it".to_string())
        });
        if let Some(why) = why {
            out.push(finding(
                &s.rec.path,
                format!("cron.{} runs {}: {why}", s.rec.period, s.rec.path),
                ctx.ev(
                    s,
                    format!("cron script {}", s.rec.path),
                    s.rec.source.as_ref(),
                ),
                vec![Ioc::Path(s.rec.path.clone())],
            ));
        }
    }
    out
}
