//! The fleet-level findings of analyzer plugins (one finding over several hosts), most severe
//! first, with their evidence on each host and a risk assessment.

use super::risk::{allows, unstopped};
use super::severity::{slot, urgency};
use crate::markdown::md;
use crate::words::{comma, evidence_what, line, severity};
use dossier_i18n::Catalog;
use dossier_plugin_api::analyzer::FleetFinding;
use dossier_plugin_api::attack;
use std::io::{self, Write};

/// The fleet-level findings of analyzer plugins, most severe first.
pub(super) fn write_fleet_findings(
    o: &mut dyn Write,
    found: &[FleetFinding],
    hosts: usize,
    c: &Catalog,
) -> io::Result<()> {
    writeln!(o, "## {}\n", c.text("fleet.plugin_findings.heading"))?;
    let mut sorted: Vec<&FleetFinding> = found.iter().collect();
    sorted.sort_by_key(|f| slot(f.severity));
    for (i, f) in sorted.iter().enumerate() {
        writeln!(
            o,
            "### FLEET-{:03}: {}\n",
            i + 1,
            c.format(
                "fleet.plugin_findings.title",
                &[("title", &md(&f.title)), ("subject", &md(&f.subject))]
            )
        )?;
        let names: Vec<String> = f.hosts.iter().map(|h| md(h)).collect();
        writeln!(
            o,
            "{}  \n{}  \n{}  \n{}\n",
            c.format(
                "fleet.alert.severity",
                &[("severity", &severity(c, f.severity))]
            ),
            c.format("fleet.plugin_findings.category", &[("rule", &f.rule)]),
            c.format(
                "fleet.alert.mitre",
                &[("mitre", &md(&attack::labels(&f.mitre)))]
            ),
            c.format(
                "fleet.plugin_findings.hosts",
                &[
                    ("n", &f.hosts.len()),
                    ("of", &hosts),
                    ("hosts", &comma(c, &names))
                ]
            )
        )?;
        writeln!(
            o,
            "{}\n",
            c.format(
                "fleet.plugin_findings.description",
                &[("text", &md(&f.explanation))]
            )
        )?;
        if !f.evidence.is_empty() {
            writeln!(o, "{}", c.text("fleet.alert.evidence"))?;
            for e in &f.evidence {
                writeln!(
                    o,
                    "- {}",
                    c.format(
                        "fleet.plugin_findings.evidence",
                        &[
                            ("host", &md(&e.hostname)),
                            ("bundle", &md(&e.bundle)),
                            ("member", &md(&e.evidence.member)),
                            ("line", &line(c, e.evidence.line)),
                            ("sha256", &e.evidence.sha256),
                            ("what", &md(&evidence_what(c, &e.evidence))),
                        ]
                    )
                )?;
            }
            writeln!(o)?;
        }
        let risk = c.format(
            "fleet.risk.fleet_line",
            &[
                ("severity", &severity(c, f.severity)),
                ("n", &f.hosts.len()),
                ("of", &hosts),
                ("what", &unstopped(&md(&f.explanation))),
                ("allows", &allows(&f.mitre, c)),
                ("urgency", &urgency(f.severity, c)),
            ],
        );
        writeln!(
            o,
            "{}\n\n---\n",
            c.format("fleet.alert.risk", &[("risk", &risk)])
        )?;
    }
    Ok(())
}
