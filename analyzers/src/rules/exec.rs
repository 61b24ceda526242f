//! Executables: where programs run from, who owns them, and packaged files whose content changed.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::{Ctx, canonical};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc};

pub(crate) fn exec_unusual_path(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (path, who, ev, pid) in referenced_programs(ctx) {
        let Some(why) = program_problem(ctx, &path) else {
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
        out.push(finding(&path, format!("{who} runs {path}: {why}"), ev, iocs).with_fact(fact));
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
        && v.referenced_by
            .iter()
            .all(|r| r.starts_with("hook ") || r == "ld.so.preload")
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
                format!("package verification of {}", v.rec.path),
                v.rec.copy.as_ref(),
            );
            ev.dedup_by(|a, b| a.member == b.member);
            finding(
                &v.rec.path,
                format!(
                    "{} (run by {}) is not owned by any installed package",
                    v.rec.path,
                    v.rec.referenced_by.join(", ")
                ),
                ev,
                iocs,
            )
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
                format!("package verification of {}", v.rec.path),
                v.rec.copy.as_ref(),
            );
            ev.extend(v.rec.digest_source.as_ref().and_then(|d| {
                Some(Evidence {
                    member: d.member.clone()?,
                    sha256: d.sha256.clone()?,
                    line: None,
                    what: format!("digest list of package {pkg}"),
                })
            }));
            finding(
                &v.rec.path,
                format!(
                    "{} from package {pkg} hashes to {} but the package says {}",
                    v.rec.path,
                    v.rec.actual.as_deref().unwrap_or("?"),
                    v.rec.expected.as_deref().unwrap_or("?")
                ),
                ev,
                iocs,
            )
        })
        .collect()
}
