//! The evidence table of the host report: for every finding, its rule, ATT&CK ids, severity,
//! subject and the bundle member, hash and line it rests on.

use crate::markdown::md;
use crate::words::severity;
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::attack;
use std::fmt::Write;

/// The evidence table, one row per piece of evidence of a scored finding.
pub(super) fn evidence(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    let _ = writeln!(o, "\n## {}\n", c.text("host.evidence.heading"));
    let _ = writeln!(
        o,
        "{}\n",
        c.format("host.evidence.release", &[("release", &attack::release())])
    );
    let columns: Vec<String> = [
        "rule", "mitre", "severity", "subject", "member", "sha256", "line",
    ]
    .iter()
    .map(|k| c.text(&format!("host.evidence.{k}")).to_string())
    .collect();
    let _ = writeln!(o, "| {} |", columns.join(" | "));
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for f in &a.findings {
        for e in &f.evidence {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | `{}` | `{}` | {} |",
                f.rule,
                md(&attack::labels(&f.mitre)),
                severity(c, f.severity),
                md(&f.subject),
                md(&e.member),
                e.sha256,
                e.line.map(|l| l.to_string()).unwrap_or_default()
            );
        }
    }
    if a.findings.is_empty() {
        let _ = writeln!(o, "| - | - | - | - | - | - | - |");
    }
}
