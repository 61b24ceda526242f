//! The IOCs of the host report, by kind, and the listening ports of the snapshot.

use crate::markdown::md;
use crate::words::comma;
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc};
use std::fmt::Write;

/// IOC kinds in the order the report lists them.
const KINDS: [&str; 9] = [
    "path",
    "sha256",
    "unit",
    "cron_command",
    "pid",
    "port",
    "address",
    "account",
    "config_line",
];

/// The IOCs of the flagged findings, one line per kind.
pub(super) fn iocs(o: &mut String, iocs: &[Ioc], c: &Catalog) {
    let _ = writeln!(o, "\n## {}\n", c.text("host.iocs.heading"));
    for kind in KINDS {
        let vals: Vec<String> = iocs
            .iter()
            .filter(|i| i.kind() == kind)
            .map(|i| format!("`{}`", md(&i.value())))
            .collect();
        if !vals.is_empty() {
            let _ = writeln!(
                o,
                "- {}",
                c.format(
                    "host.iocs.line",
                    &[
                        ("kind", &c.text(&format!("ioc.{kind}"))),
                        ("values", &comma(c, &vals)),
                    ]
                )
            );
        }
    }
    if iocs.is_empty() {
        let _ = writeln!(o, "- {}", c.text("host.iocs.none"));
    }
}

/// The listening ports of the snapshot, with what is known of their processes.
pub(super) fn listeners(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    let _ = writeln!(o, "- {}", c.text("host.listeners.heading"));
    if a.listeners.is_empty() {
        let _ = writeln!(o, "  - {}", c.text("host.listeners.none"));
    }
    for l in &a.listeners {
        // Only what is known: no empty process name or pid list.
        let mut who = Vec::new();
        if !l.processes.is_empty() {
            who.push(md(&l.processes.join(",")));
        }
        if !l.pids.is_empty() {
            let pids: Vec<String> = l.pids.iter().map(u32::to_string).collect();
            who.push(c.format("host.listeners.pids", &[("pids", &pids.join(","))]));
        }
        if who.is_empty() {
            who.push(c.text("host.listeners.no_process").to_string());
        }
        let _ = writeln!(
            o,
            "  - {} {}:{} {}",
            l.protocol,
            l.address,
            l.port,
            who.join(" ")
        );
    }
}
