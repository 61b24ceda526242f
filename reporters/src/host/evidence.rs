//! The evidence table of the host report: for every finding, its rule, ATT&CK ids, severity,
//! subject and the bundle member, hash and line it rests on.

use crate::markdown::md;
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::attack;
use std::fmt::Write;

/// The evidence table, one row per piece of evidence of a scored finding.
pub(super) fn evidence(o: &mut String, a: &HostAnalysis) {
    let _ = writeln!(o, "\n## Evidence\n");
    let _ = writeln!(o, "Technique names from {}.\n", attack::release());
    let _ = writeln!(
        o,
        "| rule | MITRE ATT&CK | severity | subject | bundle member | SHA-256 | line |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for f in &a.findings {
        for e in &f.evidence {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | `{}` | `{}` | {} |",
                f.rule,
                md(&attack::labels(&f.mitre)),
                f.severity.label(),
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
