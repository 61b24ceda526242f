//! What the score rests on: the score, rules not evaluated, rules evaluated on partial data
//! and the collection gaps.

use crate::markdown::md;
use dossier_plugin_api::analysis::HostAnalysis;
use std::fmt::Write;

/// The total score and the thresholds.
pub(super) fn score(o: &mut String, a: &HostAnalysis) {
    let _ = writeln!(
        o,
        "\n### Score\n\n- Total score: **{}** (>=60: Malicious likely, 30-59: Suspicious, <30: Unclear/Benign; thresholds from the playbook)",
        a.score
    );
}

/// Rules not evaluated for lack of data (not clean).
pub(super) fn not_evaluated(o: &mut String, a: &HostAnalysis) {
    if !a.not_evaluated.is_empty() {
        let _ = writeln!(
            o,
            "\n### Not evaluated (data missing: these are not clean)\n"
        );
        for n in &a.not_evaluated {
            let _ = writeln!(o, "- `{}` {}: {}", n.rule, md(&n.title), md(&n.reason));
        }
    }
}

/// Rules evaluated on partial data, and whether they fired on what was read.
pub(super) fn partial(o: &mut String, a: &HostAnalysis) {
    if !a.partial.is_empty() {
        let _ = writeln!(
            o,
            "\n### Evaluated on partial data (a clean result here is not proof)\n"
        );
        for p in &a.partial {
            let fired = if a.hits.iter().any(|h| h.rule == p.rule)
                || a.context.iter().any(|f| f.rule == p.rule)
            {
                " (fired on what was read)"
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "- `{}` {}{fired}: missing {}",
                p.rule,
                md(&p.title),
                md(&p.missing)
            );
        }
    }
}

/// Collectors and analyzer plugins that did not give all their data, and malformed records.
pub(super) fn gaps(o: &mut String, a: &HostAnalysis) {
    if !a.gaps.is_empty() || !a.record_errors.is_empty() {
        let _ = writeln!(o, "\n### Collection gaps\n");
        for g in &a.gaps {
            // Analyzer plugins that failed are listed here too (`analyzer plugin NAME`).
            let who = match g.collector.strip_prefix("analyzer plugin ") {
                Some(name) => format!("analyzer plugin `{}`", md(name)),
                None => format!("collector `{}`", g.collector),
            };
            let _ = writeln!(o, "- {who}: {} ({})", g.status.words(), md(&g.detail));
        }
        for e in &a.record_errors {
            let _ = writeln!(o, "- malformed record: {}", md(e));
        }
    }
}
