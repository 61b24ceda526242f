//! Executables: where programs run from, who owns them, and packaged files whose content changed.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{Ctx, canonical, referrer};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc, Message};

pub(crate) fn exec_unusual_path(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (path, who, ev, pid) in referenced_programs(ctx) {
        let Some(why) = program_problem_msg(ctx, &path) else {
            continue;
        };
        let sha = ctx.verified(&path).and_then(|v| v.rec.sha256.clone());
        let mut iocs = vec![Ioc::Path(path.clone())];
        iocs.extend(sha.map(Ioc::Sha256));
        // A process running a memory-only or deleted file is the fact deleted-exe-running and
        // renamed-process-listening report too; any other reference is about the location.
        let fileless = pid.filter(|pid| {
            path.starts_with("/memfd:")
                || ctx
                    .procs
                    .iter()
                    .any(|p| p.rec.pid == *pid && p.rec.exe_deleted)
        });
        let fact = match fileless {
            Some(pid) => format!("fileless-exe:pid:{pid}"),
            None => format!("exe-location:{}", canonical(&path)),
        };
        if let Some(pid) = pid {
            iocs.push(Ioc::Pid(pid));
        }
        let m = Message::new("finding.exec.unusual-path")
            .msg("who", who)
            .text("path", &path)
            .msg("why", why);
        out.push(explained(&path, m, ev, iocs).with_fact(fact));
    }
    out
}

/// Verified only because a hook file is there (judged by the hook rules, not as a program).
pub(crate) fn hook_only(v: &dossier_plugin_api::records::PackageVerify) -> bool {
    !v.referenced_by.is_empty() && v.referenced_by.iter().all(|r| r.starts_with("hook "))
}

/// Verified only as configuration or as a preloaded library, never run as a program.
pub(crate) fn not_a_program(v: &dossier_plugin_api::records::PackageVerify) -> bool {
    !v.referenced_by.is_empty()
        && v.referenced_by.iter().all(|r| {
            r.starts_with("hook ") || r == "ld.so.preload" || r.starts_with("LD_PRELOAD of ")
        })
}

pub(crate) fn exec_unowned(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.verify
        .iter()
        .filter(|v| v.rec.status == "not_owned" && !not_a_program(&v.rec))
        .map(|v| {
            let mut iocs = vec![Ioc::Path(v.rec.path.clone())];
            iocs.extend(v.rec.sha256.clone().map(Ioc::Sha256));
            let mut ev = ctx.ev(
                v,
                what("evidence.package-verify", &[("path", &v.rec.path)]),
                v.rec.copy.as_ref(),
            );
            ev.dedup_by(|a, b| a.member == b.member);
            let m = if v.rec.referenced_by.is_empty() {
                Message::new("finding.exec.unowned").text("path", &v.rec.path)
            } else {
                let by = v.rec.referenced_by.iter().map(|r| referrer::parse(r));
                with_arg(
                    Message::new("finding.exec.unowned-run-by").text("path", &v.rec.path),
                    "by",
                    comma_list(by),
                )
            };
            explained(&v.rec.path, m, ev, iocs)
        })
        .collect()
}

pub(crate) fn package_hash_mismatch(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.verify
        .iter()
        .filter(|v| {
            v.rec.status == "mismatch" && !v.rec.path.starts_with("/etc/") && !hook_only(&v.rec)
        })
        .map(|v| {
            let mut iocs = vec![Ioc::Path(v.rec.path.clone())];
            iocs.extend(v.rec.sha256.clone().map(Ioc::Sha256));
            let pkg = v.rec.package.as_deref().unwrap_or("?");
            let mut ev = ctx.ev(
                v,
                what("evidence.package-verify", &[("path", &v.rec.path)]),
                v.rec.copy.as_ref(),
            );
            ev.extend(v.rec.digest_source.as_ref().and_then(|d| {
                Some(Evidence {
                    member: d.member.clone()?,
                    sha256: d.sha256.clone()?,
                    line: None,
                    what: format!("digest list of package {pkg}"),
                    what_message: Some(what("evidence.digest-list", &[("package", &pkg)])),
                })
            }));
            explained(
                &v.rec.path,
                Message::new("finding.exec.hash-mismatch")
                    .text("path", &v.rec.path)
                    .text("package", pkg)
                    .text("actual", v.rec.actual.as_deref().unwrap_or("?"))
                    .text("expected", v.rec.expected.as_deref().unwrap_or("?")),
                ev,
                iocs,
            )
            .with_fact(format!("file-modified:{}", canonical(&v.rec.path)))
        })
        .collect()
}
