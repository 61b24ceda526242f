//! The findings of the host report: flagged executables with their hashes, the rule hits
//! with their points and reasons, and context findings with their evidence.

use crate::markdown::md;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc};
use dossier_plugin_api::attack;
use std::fmt::Write;

/// Executables at a flagged path (an IOC), with their SHA-256 and copy in the bundle.
pub(super) fn executables(o: &mut String, a: &HostAnalysis, iocs: &[Ioc]) {
    let _ = writeln!(o, "## Findings\n");
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
        let _ = writeln!(o, "- No flagged executable.");
    }
    for e in execs {
        let _ = writeln!(
            o,
            "- Exec: `{}`  SHA256: `{}`  (run by {}){}",
            md(&e.path),
            e.sha256.as_deref().unwrap_or("not read"),
            md(&e.referenced_by.join(", ")),
            e.member
                .as_ref()
                .map(|m| format!("; copy in bundle: `{}`", md(m)))
                .unwrap_or_default()
        );
    }
}

/// Each rule hit: points (or the rule it is counted under), boost, severity, ATT&CK ids and
/// the explanation of each finding.
pub(super) fn hits(o: &mut String, a: &HostAnalysis) {
    let _ = writeln!(o, "\n### Rule hits & reasons\n");
    if a.hits.is_empty() {
        let _ = writeln!(o, "- No rule fired.");
    }
    for h in &a.hits {
        let points = match &h.counted_under {
            Some(r) => format!("+0: the same observation is counted under `{r}`"),
            None => format!("+{}", h.weight),
        };
        let boost = if h.boost > 0 {
            format!(
                ", +{} boost from context on the same subject: {}",
                h.boost,
                h.boosted_by
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "- **{}** ({points}{boost}) [{}] `{}` {}",
            md(&h.title),
            h.severity.label(),
            h.rule,
            md(&attack::labels(&h.mitre))
        );
        for f in a.findings.iter().filter(|f| f.rule == h.rule) {
            let mut notes = Vec::new();
            if let Some(r) = &f.counted_under {
                notes.push(format!("counted under `{r}`"));
            }
            if !f.boosted_by.is_empty() {
                notes.push(format!(
                    "context: {}",
                    f.boosted_by
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            let _ = writeln!(o, "  - {}{notes}", md(&f.explanation));
        }
    }
}

/// Context findings (not scored on their own), with the behaviour they are linked to and
/// their evidence.
pub(super) fn context(o: &mut String, a: &HostAnalysis) {
    if !a.context.is_empty() {
        let _ = writeln!(o, "\n### Context (not scored on its own)\n");
        let _ = writeln!(
            o,
            "Provenance and other facts that are normal on real hosts on their own. They add their weight only to behaviour on the same subject (shown as a boost above).\n"
        );
        for f in &a.context {
            let linked = if f.linked_to.is_empty() {
                String::new()
            } else {
                format!(
                    " (same subject as {}: +{} once)",
                    f.linked_to
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    f.weight
                )
            };
            let _ = writeln!(
                o,
                "- `{}` {}: {}{linked}",
                f.rule,
                md(&f.title),
                md(&f.explanation)
            );
            for e in &f.evidence {
                let _ = writeln!(
                    o,
                    "  - evidence: `{}` SHA-256 `{}`{}",
                    md(&e.member),
                    e.sha256,
                    e.line.map(|l| format!(" line {l}")).unwrap_or_default()
                );
            }
        }
    }
}
