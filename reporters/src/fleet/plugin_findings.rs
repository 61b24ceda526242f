//! The fleet-level findings of analyzer plugins (one finding over several hosts), most severe
//! first, with their evidence on each host and a risk assessment.

use super::risk::{gains, techniques};
use super::severity::{slot, urgency};
use crate::markdown::md;
use dossier_plugin_api::analyzer::FleetFinding;
use dossier_plugin_api::attack;
use std::io::{self, Write};

/// The fleet-level findings of analyzer plugins, most severe first.
pub(super) fn write_fleet_findings(
    o: &mut dyn Write,
    found: &[FleetFinding],
    hosts: usize,
) -> io::Result<()> {
    writeln!(o, "## Fleet-level Findings\n")?;
    let mut sorted: Vec<&FleetFinding> = found.iter().collect();
    sorted.sort_by_key(|f| slot(f.severity));
    for (i, f) in sorted.iter().enumerate() {
        writeln!(
            o,
            "### FLEET-{:03}: {} ({})\n",
            i + 1,
            md(&f.title),
            md(&f.subject)
        )?;
        writeln!(
            o,
            "**Severity:** {}  \n**Category:** `{}`  \n**MITRE ATT&CK:** {}  \n**Hosts:** {} of {hosts}: {}\n",
            f.severity.label(),
            f.rule,
            md(&attack::labels(&f.mitre)),
            f.hosts.len(),
            f.hosts.iter().map(|h| md(h)).collect::<Vec<_>>().join(", ")
        )?;
        writeln!(o, "**Description:** {}\n", md(&f.explanation))?;
        if !f.evidence.is_empty() {
            writeln!(o, "**Evidence:**")?;
            for e in &f.evidence {
                writeln!(
                    o,
                    "- {} (`{}`): `{}`{} SHA-256 `{}`: {}",
                    md(&e.hostname),
                    md(&e.bundle),
                    md(&e.evidence.member),
                    e.evidence
                        .line
                        .map(|l| format!(" line {l}"))
                        .unwrap_or_default(),
                    e.evidence.sha256,
                    md(&e.evidence.what)
                )?;
            }
            writeln!(o)?;
        }
        let allows = gains(&f.mitre)
            .map(|g| format!(" As {}, it lets an attacker {g}.", techniques(&f.mitre)))
            .unwrap_or_default();
        writeln!(
            o,
            "**Risk Assessment:** {}: on {} of {hosts} hosts: {}.{allows} {}\n\n---\n",
            f.severity.label(),
            f.hosts.len(),
            md(&f.explanation).trim_end_matches('.'),
            urgency(f.severity)
        )?;
    }
    Ok(())
}
