//! The head of the host report: the host, the collection (times, case, bundle, playbook,
//! tool, plugins) and the verdict.

use crate::markdown::md;
use crate::words::verdict as verdict_word;
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::HostAnalysis;
use std::fmt::Write;

/// Title, host, OS, collection times, case, bundle, playbook, tool and plugins used.
pub(super) fn host(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    let name = md(&a.hostname);
    let _ = writeln!(o, "# {}\n", c.format("host.title", &[("host", &name)]));
    let target = md(&a.target);
    let _ = writeln!(
        o,
        "- {}",
        c.format("host.host", &[("host", &name), ("target", &target)])
    );
    if let Some(os) = &a.os {
        let kernel = a
            .kernel
            .as_ref()
            .map(|k| c.format("host.kernel", &[("kernel", &md(k))]))
            .unwrap_or_default();
        let _ = writeln!(o, "- {}{kernel}", c.format("host.os", &[("os", &md(os))]));
    }
    let _ = writeln!(
        o,
        "- {}",
        c.format(
            "host.collected",
            &[
                ("from", &a.collected_started),
                ("to", &a.collected_finished)
            ]
        )
    );
    if let Some(case) = &a.case_id {
        let _ = writeln!(o, "- {}", c.format("host.case", &[("case", &md(case))]));
    }
    let _ = writeln!(
        o,
        "- {}",
        c.format("host.bundle", &[("bundle", &md(&a.bundle))])
    );
    let _ = writeln!(
        o,
        "- {}",
        c.format("host.bundle_sha256", &[("sha256", &a.bundle_sha256)])
    );
    let _ = writeln!(
        o,
        "- {}",
        c.format(
            "host.playbook",
            &[("name", &md(&a.playbook)), ("sha256", &a.playbook_sha256)]
        )
    );
    let _ = writeln!(o, "- {}", c.format("host.tool", &[("tool", &md(&a.tool))]));
    for p in &a.plugins {
        let _ = writeln!(
            o,
            "- {}",
            c.format(
                "host.plugin",
                &[
                    ("kind", &p.kind),
                    ("name", &md(&p.name)),
                    ("version", &md(&p.version)),
                    ("path", &md(&p.path)),
                    ("sha256", &p.sha256),
                ]
            )
        );
    }
}

/// The verdict and score, qualified when a benign verdict rests on partial data.
pub(super) fn verdict(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    let partial = if a.partial_data() && a.verdict == "Unclear/Benign" {
        c.format("host.verdict.partial", &[("n", &a.partial.len())])
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "\n## {}\n\n{}{partial}\n",
        c.text("host.verdict.heading"),
        c.format(
            "host.verdict.line",
            &[
                ("verdict", &verdict_word(c, &a.verdict)),
                ("score", &a.score)
            ]
        )
    );
}
