//! The head of the host report: the host, the collection (times, case, bundle, playbook,
//! tool, plugins) and the verdict.

use crate::markdown::md;
use dossier_plugin_api::analysis::HostAnalysis;
use std::fmt::Write;

/// Title, host, OS, collection times, case, bundle, playbook, tool and plugins used.
pub(super) fn host(o: &mut String, a: &HostAnalysis) {
    let _ = writeln!(o, "# Incident Analysis Report: {}\n", md(&a.hostname));
    let _ = writeln!(o, "- Host: `{}` ({})", md(&a.hostname), md(&a.target));
    if let Some(os) = &a.os {
        let _ = writeln!(
            o,
            "- OS: {}{}",
            md(os),
            a.kernel
                .as_ref()
                .map(|k| format!(", kernel {}", md(k)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        o,
        "- Collected: {} to {} (UTC)",
        a.collected_started, a.collected_finished
    );
    if let Some(c) = &a.case_id {
        let _ = writeln!(o, "- Case: {}", md(c));
    }
    let _ = writeln!(o, "- Bundle: `{}`", md(&a.bundle));
    let _ = writeln!(o, "- Bundle SHA-256: `{}`", a.bundle_sha256);
    let _ = writeln!(
        o,
        "- Playbook: {} (`{}`)",
        md(&a.playbook),
        a.playbook_sha256
    );
    let _ = writeln!(o, "- Collected with: {}", md(&a.tool));
    for p in &a.plugins {
        let _ = writeln!(
            o,
            "- Plugin {} `{}` {}: `{}` SHA-256 `{}`",
            p.kind,
            md(&p.name),
            md(&p.version),
            md(&p.path),
            p.sha256
        );
    }
}

/// The verdict and score, qualified when a benign verdict rests on partial data.
pub(super) fn verdict(o: &mut String, a: &HostAnalysis) {
    let _ = writeln!(
        o,
        "\n## Verdict\n\n**{}** (score {} / 100){}\n",
        a.verdict,
        a.score,
        if a.partial_data() && a.verdict == "Unclear/Benign" {
            format!(
                ", on partial data: {} rule(s) ran on incomplete collections (see \"Evaluated on partial data\")",
                a.partial.len()
            )
        } else {
            String::new()
        }
    );
}
