//! What the score rests on: the score, rules not evaluated, rules evaluated on partial data
//! and the collection gaps.

use crate::markdown::md;
use crate::words::{rendered, rule_title, status};
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::HostAnalysis;
use std::fmt::Write;

/// The total score and the thresholds.
pub(super) fn score(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    let _ = writeln!(
        o,
        "\n### {}\n\n- {}",
        c.text("host.score.heading"),
        c.format("host.score.total", &[("score", &a.score)])
    );
}

/// Rules not evaluated for lack of data (not clean).
pub(super) fn not_evaluated(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    if a.not_evaluated.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n### {}\n", c.text("host.not_evaluated.heading"));
    for n in &a.not_evaluated {
        let _ = writeln!(
            o,
            "- {}",
            c.format(
                "host.not_evaluated.line",
                &[
                    ("rule", &n.rule),
                    ("title", &md(rule_title(c, &n.rule, &n.title))),
                    (
                        "reason",
                        &md(&rendered(c, &n.reason, n.reason_message.as_ref()))
                    ),
                ]
            )
        );
    }
}

/// Rules evaluated on partial data, and whether they fired on what was read.
pub(super) fn partial(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    if a.partial.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n### {}\n", c.text("host.partial.heading"));
    for p in &a.partial {
        let fired = if a.hits.iter().any(|h| h.rule == p.rule)
            || a.context.iter().any(|f| f.rule == p.rule)
        {
            c.text("host.partial.fired")
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "- {}",
            c.format(
                "host.partial.line",
                &[
                    ("rule", &p.rule),
                    ("title", &md(rule_title(c, &p.rule, &p.title))),
                    ("fired", &fired),
                    (
                        "missing",
                        &md(&rendered(c, &p.missing, p.missing_message.as_ref()))
                    ),
                ]
            )
        );
    }
}

/// Collectors and analyzer plugins that did not give all their data, and malformed records.
pub(super) fn gaps(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    if a.gaps.is_empty() && a.record_errors.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n### {}\n", c.text("host.gaps.heading"));
    for g in &a.gaps {
        // Analyzer plugins that failed are listed here too (`analyzer plugin NAME`).
        let who = match g.collector.strip_prefix("analyzer plugin ") {
            Some(name) => c.format("host.gaps.analyzer", &[("name", &md(name))]),
            None => c.format("host.gaps.collector", &[("name", &g.collector)]),
        };
        let _ = writeln!(
            o,
            "- {}",
            c.format(
                "host.gaps.line",
                &[
                    ("who", &who),
                    ("status", &status(c, g.status)),
                    (
                        "detail",
                        &md(&rendered(c, &g.detail, g.detail_message.as_ref()))
                    ),
                ]
            )
        );
    }
    for e in &a.record_errors {
        let _ = writeln!(
            o,
            "- {}",
            c.format("host.gaps.malformed", &[("record", &md(e))])
        );
    }
}
