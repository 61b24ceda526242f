//! The IOCs of the host report, by kind, and the listening ports of the snapshot.

use crate::markdown::md;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc};
use std::fmt::Write;

/// The IOCs of the flagged findings, one line per kind.
pub(super) fn iocs(o: &mut String, iocs: &[Ioc]) {
    let _ = writeln!(o, "\n## IOCs\n");
    for kind in [
        "path",
        "sha256",
        "unit",
        "cron_command",
        "pid",
        "port",
        "address",
        "account",
        "config_line",
    ] {
        let vals: Vec<String> = iocs
            .iter()
            .filter(|i| i.kind() == kind)
            .map(|i| i.value())
            .collect();
        if !vals.is_empty() {
            let _ = writeln!(
                o,
                "- {}: {}",
                kind.replace('_', " "),
                vals.iter()
                    .map(|v| format!("`{}`", md(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if iocs.is_empty() {
        let _ = writeln!(o, "- No IOC: no finding flagged a subject to search for.");
    }
}

/// The listening ports of the snapshot, with what is known of their processes.
pub(super) fn listeners(o: &mut String, a: &HostAnalysis) {
    let _ = writeln!(o, "- Listening ports (snapshot):");
    if a.listeners.is_empty() {
        let _ = writeln!(o, "  - none recorded (no live socket data in this bundle)");
    }
    for l in &a.listeners {
        // Only what is known: no empty process name or pid list.
        let mut who = Vec::new();
        if !l.processes.is_empty() {
            who.push(md(&l.processes.join(",")));
        }
        if !l.pids.is_empty() {
            who.push(format!(
                "(pid {})",
                l.pids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        if who.is_empty() {
            who.push("(no process recorded)".to_string());
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
