//! Live processes: deleted executables, masquerading names, LD_PRELOAD in a process environment.

use super::common::*;
use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Arg, Finding, Ioc, Message};

/// Whether a deleted executable is a packaged file replaced by an upgrade: a package owns the
/// path and a file of that name is there again, verified against the package.
pub(crate) fn upgraded_not_restarted(ctx: &Ctx, exe: &str) -> bool {
    ctx.has_package_db
        && ctx.is_owned(exe)
        && ctx.verified(exe).is_some_and(|v| v.rec.status == "ok")
}

pub(crate) fn deleted_exe_running(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.procs
        .iter()
        .filter(|p| p.rec.exe_deleted && !p.rec.kernel_thread)
        .map(|p| {
            let exe = p.rec.exe.as_deref().unwrap_or("?");
            let upgraded = upgraded_not_restarted(ctx, exe);
            let f = explained(
                format!("pid {}", p.rec.pid),
                Message::new(if upgraded {
                    "finding.process.deleted-exe-upgraded"
                } else {
                    "finding.process.deleted-exe"
                })
                .text("pid", p.rec.pid)
                .text("comm", &p.rec.comm)
                .text("exe", exe),
                proc_ev(ctx, p),
                proc_iocs(p),
            );
            if upgraded {
                f.context()
            } else {
                f.with_fact(format!("fileless-exe:pid:{}", p.rec.pid))
            }
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
            let why = masquerade_reason_msg(ctx, &p.rec)?;
            Some(explained(
                format!("pid {}", p.rec.pid),
                Message::new("finding.process.masquerade")
                    .text("pid", p.rec.pid)
                    .msg("why", why),
                proc_ev(ctx, p),
                proc_iocs(p),
            ))
        })
        .collect()
}

/// Why a preloaded library is a bad sign, if it is: an unusual place, deleted, or no package
/// owns it (unknown ownership counts as not owned).
fn preload_problem(ctx: &Ctx, lib: &str) -> Option<Message> {
    if !lib.starts_with('/') {
        // A bare name is looked up in the loader's directories: judged there by the loader
        // rules (ld-so-conf-unusual).
        return None;
    }
    let reason = |id: &str| Message::new(id).text("lib", lib);
    if let Some(w) = unusual_location_msg(lib) {
        return Some(reason("reason.process.preload-unusual").msg("why", w));
    }
    if ctx.verified(lib).is_some_and(|v| v.rec.status == "missing") {
        return Some(reason("reason.process.preload-deleted"));
    }
    if !ctx.has_package_db {
        return Some(reason("reason.process.preload-ownership-unknown"));
    }
    (!ctx.is_owned(lib)).then(|| reason("reason.process.preload-unowned"))
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
            let libs: Vec<&str> = lib.split([':', ' ']).filter(|s| !s.is_empty()).collect();
            let mut iocs = proc_iocs(p);
            iocs.extend(
                libs.iter()
                    .filter(|s| s.starts_with('/'))
                    .map(|s| Ioc::Path(s.to_string())),
            );
            let preload = |id: &str| {
                Message::new(id)
                    .text("pid", p.rec.pid)
                    .text("comm", &p.rec.comm)
                    .text("value", &lib)
            };
            let problems: Vec<Arg> = libs
                .iter()
                .filter_map(|l| preload_problem(ctx, l))
                .map(Arg::from)
                .collect();
            if problems.is_empty() {
                // Packaged allocators and build helpers (libjemalloc, libfakeroot,
                // libeatmydata) are preloaded on purpose.
                explained(
                    format!("pid {}", p.rec.pid),
                    preload("finding.process.ld-preload-packaged"),
                    proc_ev(ctx, p),
                    iocs,
                )
                .context()
            } else {
                explained(
                    format!("pid {}", p.rec.pid),
                    preload("finding.process.ld-preload").list("problems", problems),
                    proc_ev(ctx, p),
                    iocs,
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::engine::analyze_records;
    use crate::testkit::{self, proc};
    use serde_json::json;

    #[test]
    fn packaged_preloads_and_upgraded_daemons_are_context() {
        let procs = vec![
            (
                1,
                proc(
                    20,
                    "redis",
                    &["/usr/bin/redis"],
                    "/usr/bin/redis",
                    json!({"ld_preload": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}),
                ),
            ),
            (
                2,
                proc(
                    21,
                    "app",
                    &["/usr/bin/app"],
                    "/usr/bin/app",
                    json!({"ld_preload": "/usr/local/lib/libhide.so"}),
                ),
            ),
            (
                3,
                proc(
                    22,
                    "app",
                    &["/usr/bin/app"],
                    "/usr/bin/app",
                    json!({"ld_preload": "/dev/shm/.l/x.so"}),
                ),
            ),
            (
                4,
                proc(
                    23,
                    "nginx",
                    &["nginx: master process"],
                    "/usr/sbin/nginx",
                    json!({"exe_deleted": true}),
                ),
            ),
            (
                5,
                proc(
                    24,
                    "agent",
                    &["/opt/agent"],
                    "/opt/agent",
                    json!({"exe_deleted": true}),
                ),
            ),
        ];
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "x", "version": "1", "source": {"path": "s"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "x", "source": {"path": "x"},
                "files": ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/bin/redis", "/usr/bin/app", "/usr/sbin/nginx"]}),
            ),
            (
                3,
                json!({"kind": "package_verify", "path": "/usr/sbin/nginx", "status": "ok", "referenced_by": ["process 23"]}),
            ),
        ];
        let records = [
            ("proc".to_string(), procs),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let a = analyze_records(records);
        let class = |rule: &str| testkit::classes(&a, rule);
        assert_eq!(
            class("ld-preload-process"),
            [
                ("pid 21".to_string(), true),
                ("pid 22".to_string(), true),
                ("pid 20".to_string(), false)
            ]
        );
        assert_eq!(
            class("deleted-exe-running"),
            [("pid 24".to_string(), true), ("pid 23".to_string(), false)]
        );
    }
}
