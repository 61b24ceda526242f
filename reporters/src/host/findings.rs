//! The findings of the host report: flagged executables with their hashes, the rule hits
//! with their points and reasons, and context findings with their evidence.

use crate::markdown::md;
use crate::words::{comma, explanation, line, referrers, rule_title, severity};
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc};
use dossier_plugin_api::attack;
use std::fmt::Write;

/// Rule ids as code spans, joined by the language's comma.
fn rules(c: &Catalog, ids: &[String]) -> String {
    let spans: Vec<String> = ids.iter().map(|r| format!("`{r}`")).collect();
    comma(c, &spans)
}

/// Executables at a flagged path (an IOC), with their SHA-256 and copy in the bundle.
pub(super) fn executables(o: &mut String, a: &HostAnalysis, iocs: &[Ioc], c: &Catalog) {
    let _ = writeln!(o, "## {}\n", c.text("host.findings.heading"));
    // Paths of behaviour findings and of context linked to them (never a lone unowned file).
    let flagged: Vec<&str> = iocs
        .iter()
        .filter_map(|i| {
            if let Ioc::Path(p) = i {
                Some(p.as_str())
            } else {
                None
            }
        })
        .collect();
    let execs: Vec<_> = a
        .executables
        .iter()
        .filter(|e| flagged.contains(&e.path.as_str()))
        .collect();
    if execs.is_empty() {
        let _ = writeln!(o, "- {}", c.text("host.findings.none"));
    }
    for e in execs {
        let copy = e
            .member
            .as_ref()
            .map(|m| c.format("host.findings.copy", &[("member", &md(m))]))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "- {}{copy}",
            c.format(
                "host.findings.exec",
                &[
                    ("path", &md(&e.path)),
                    (
                        "sha256",
                        &e.sha256
                            .as_deref()
                            .unwrap_or(c.text("host.findings.not_read"))
                    ),
                    ("by", &md(&referrers(c, e))),
                ]
            )
        );
    }
}

/// Each rule hit: points (or the rule it is counted under), boost, severity, ATT&CK ids and
/// the explanation of each finding.
pub(super) fn hits(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    let _ = writeln!(o, "\n### {}\n", c.text("host.hits.heading"));
    if a.hits.is_empty() {
        let _ = writeln!(o, "- {}", c.text("host.hits.none"));
    }
    for h in &a.hits {
        let points = match &h.counted_under {
            Some(r) => c.format("host.hits.counted_under", &[("rule", r)]),
            None => format!("+{}", h.weight),
        };
        let boost = if h.boost > 0 {
            c.format(
                "host.hits.boost",
                &[("boost", &h.boost), ("rules", &rules(c, &h.boosted_by))],
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "- {}",
            c.format(
                "host.hits.line",
                &[
                    ("title", &md(rule_title(c, &h.rule, &h.title))),
                    ("points", &points),
                    ("boost", &boost),
                    ("severity", &severity(c, h.severity)),
                    ("rule", &h.rule),
                    ("mitre", &md(&attack::labels(&h.mitre))),
                ]
            )
        );
        for f in a.findings.iter().filter(|f| f.rule == h.rule) {
            let mut notes = Vec::new();
            if let Some(r) = &f.counted_under {
                notes.push(c.format("host.hits.note_counted", &[("rule", r)]));
            }
            if !f.boosted_by.is_empty() {
                notes.push(c.format(
                    "host.hits.note_context",
                    &[("rules", &rules(c, &f.boosted_by))],
                ));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                c.format(
                    "host.hits.notes",
                    &[("notes", &notes.join(c.text("list.separator")))],
                )
            };
            let _ = writeln!(o, "  - {}{notes}", md(&explanation(c, f)));
        }
    }
}

/// Context findings (not scored on their own), with the behaviour they are linked to and
/// their evidence.
pub(super) fn context(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    if a.context.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n### {}\n", c.text("host.context.heading"));
    let _ = writeln!(o, "{}\n", c.text("host.context.intro"));
    for f in &a.context {
        let linked = if f.linked_to.is_empty() {
            String::new()
        } else {
            c.format(
                "host.context.linked",
                &[("rules", &rules(c, &f.linked_to)), ("weight", &f.weight)],
            )
        };
        let _ = writeln!(
            o,
            "- {}",
            c.format(
                "host.context.line",
                &[
                    ("rule", &f.rule),
                    ("title", &md(rule_title(c, &f.rule, &f.title))),
                    ("explanation", &md(&explanation(c, f))),
                    ("linked", &linked),
                ]
            )
        );
        for e in &f.evidence {
            let _ = writeln!(
                o,
                "  - {}",
                c.format(
                    "host.context.evidence",
                    &[
                        ("member", &md(&e.member)),
                        ("sha256", &e.sha256),
                        ("line", &line(c, e.line)),
                    ]
                )
            );
        }
    }
}
