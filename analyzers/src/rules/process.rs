//! Live processes: deleted executables, masquerading names, LD_PRELOAD in a process environment.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Finding, Ioc};

pub(crate) fn deleted_exe_running(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.procs
        .iter()
        .filter(|p| p.rec.exe_deleted && !p.rec.kernel_thread)
        .map(|p| {
            finding(
                format!("pid {}", p.rec.pid),
                format!(
                    "process {} ({}) runs {}, which was deleted from disk",
                    p.rec.pid,
                    p.rec.comm,
                    p.rec.exe.as_deref().unwrap_or("?")
                ),
                proc_ev(ctx, p),
                proc_iocs(p),
            )
        })
        .collect()
}

pub(crate) fn process_masquerade(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.procs
        .iter()
        .filter_map(|p| {
            let why = masquerade_reason(ctx, &p.rec)?;
            Some(finding(
                format!("pid {}", p.rec.pid),
                format!("process {} {why}", p.rec.pid),
                proc_ev(ctx, p),
                proc_iocs(p),
            ))
        })
        .collect()
}

pub(crate) fn ld_preload(ctx: &Ctx, _: &AnalysisConfig, _: &mut BundleInput<'_>) -> Vec<Finding> {
    ctx.procs
        .iter()
        .filter(|p| {
            p.rec
                .ld_preload
                .as_deref()
                .is_some_and(|v| !v.trim().is_empty())
        })
        .map(|p| {
            let lib = p.rec.ld_preload.clone().unwrap_or_default();
            let mut iocs = proc_iocs(p);
            iocs.extend(
                lib.split([':', ' '])
                    .filter(|s| s.starts_with('/'))
                    .map(|s| Ioc::Path(s.to_string())),
            );
            finding(
                format!("pid {}", p.rec.pid),
                format!(
                    "process {} ({}) runs with LD_PRELOAD={lib}",
                    p.rec.pid, p.rec.comm
                ),
                proc_ev(ctx, p),
                iocs,
            )
        })
        .collect()
}
