//! The fleet Markdown report: executive summary, alerts grouped by severity (category, MITRE
//! ATT&CK, description, evidence, risk assessment; the structure of `seeds/001`), and
//! cross-host correlation of IOCs (the same SHA-256, path, unit or cron command on which
//! hosts).

use crate::md;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc, Severity, Unanalyzed};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

fn risk(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => {
            "Critical: strong evidence of compromise; contain the host now and treat its credentials as stolen."
        }
        Severity::High => {
            "High: a persistence, evasion or payload indicator typical of intrusions; investigate and contain promptly."
        }
        Severity::Medium => {
            "Medium: unusual on a managed host and often part of an intrusion; confirm with the owner and correlate with other findings."
        }
        Severity::Low => {
            "Low: common in administration; suspicious only together with other findings."
        }
        Severity::Info => "Informational.",
    }
}

/// Renders the fleet report.
pub fn render(hosts: &[HostAnalysis], unanalyzed: &[Unanalyzed]) -> String {
    let mut o = String::new();
    let findings: usize = hosts.iter().map(|h| h.findings.len()).sum();
    let highest = hosts.iter().filter_map(|h| h.highest()).max();
    let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
    for h in hosts {
        *verdicts.entry(h.verdict.as_str()).or_default() += 1;
    }
    let first = hosts.iter().map(|h| h.collected_started).min();
    let last = hosts.iter().map(|h| h.collected_finished).max();
    let _ = writeln!(o, "# Fleet Security Analysis Report\n");
    if let (Some(a), Some(b)) = (first, last) {
        let _ = writeln!(o, "**Collection period:** {a} to {b} (UTC)  ");
    }
    let _ = writeln!(
        o,
        "**Hosts analyzed:** {}  \n**Bundles:** {}  \n**Findings:** {findings}  \n**Highest severity:** {}  ",
        hosts.len(),
        hosts.len(),
        highest.map_or("none", |s| s.label())
    );
    let _ = writeln!(
        o,
        "**Verdicts:** {}\n",
        ["Malicious likely", "Suspicious", "Unclear/Benign"]
            .iter()
            .map(|v| format!("{v}: {}", verdicts.get(v).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let _ = writeln!(o, "## Executive Summary\n");
    let bad: Vec<&HostAnalysis> = hosts
        .iter()
        .filter(|h| h.verdict == "Malicious likely")
        .collect();
    let sus: Vec<&HostAnalysis> = hosts.iter().filter(|h| h.verdict == "Suspicious").collect();
    let _ = writeln!(
        o,
        "{} of {} analyzed hosts are likely compromised{}, {} suspicious{}. {} bundle(s) or target(s) could not be analyzed.\n",
        bad.len(),
        hosts.len(),
        names(&bad),
        sus.len(),
        names(&sus),
        unanalyzed.len()
    );
    let _ = writeln!(
        o,
        "| host | verdict | score | findings | highest | bundle |\n|---|---|---|---|---|---|"
    );
    for h in hosts {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | `{}` (`{}`) |",
            md(&h.hostname),
            h.verdict,
            h.score,
            h.findings.len(),
            h.highest().map_or("-", |s| s.label()),
            md(&h.bundle),
            &h.bundle_sha256[..h.bundle_sha256.len().min(16)]
        );
    }
    if !unanalyzed.is_empty() {
        let _ = writeln!(o, "\n**Not analyzed:**\n");
        for u in unanalyzed {
            let _ = writeln!(o, "- `{}`: {}", md(&u.subject), md(&u.reason));
        }
    }

    let _ = writeln!(o, "\n## Security Alerts\n");
    let mut n = 0;
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        for h in hosts {
            for hit in h.hits.iter().filter(|x| x.severity == sev) {
                n += 1;
                let fs: Vec<_> = h.findings.iter().filter(|f| f.rule == hit.rule).collect();
                let _ = writeln!(
                    o,
                    "### ALERT-{n:03}: {} on {}\n",
                    md(&hit.title),
                    md(&h.hostname)
                );
                let _ = writeln!(
                    o,
                    "**Severity:** {}  \n**Category:** `{}` (+{} to the host score)  \n**MITRE ATT&CK:** {}\n",
                    sev.label(),
                    hit.rule,
                    hit.weight,
                    hit.mitre.join(", ")
                );
                let _ = writeln!(o, "**Description:**");
                for f in &fs {
                    let _ = writeln!(o, "- {}", md(&f.explanation));
                }
                let _ = writeln!(o, "\n**Evidence:**");
                let _ = writeln!(
                    o,
                    "- **Host:** {} (collected {})\n- **Bundle:** `{}` SHA-256 `{}`",
                    md(&h.hostname),
                    h.collected_started,
                    md(&h.bundle),
                    h.bundle_sha256
                );
                for f in &fs {
                    for e in &f.evidence {
                        let _ = writeln!(
                            o,
                            "  - `{}`{} SHA-256 `{}`: {}",
                            md(&e.member),
                            e.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                            e.sha256,
                            md(&e.what)
                        );
                    }
                }
                let _ = writeln!(o, "\n**Risk Assessment:** {}\n\n---\n", risk(sev));
            }
        }
    }
    if n == 0 {
        let _ = writeln!(o, "No alerts.\n");
    }

    let _ = writeln!(o, "## Cross-host Correlation\n");
    let mut seen: BTreeMap<&Ioc, BTreeSet<&str>> = BTreeMap::new();
    for h in hosts {
        for f in &h.findings {
            for i in &f.iocs {
                if !matches!(i, Ioc::Pid(_)) {
                    seen.entry(i).or_default().insert(h.hostname.as_str());
                }
            }
        }
    }
    if seen.is_empty() {
        let _ = writeln!(o, "No IOC to correlate.");
    } else {
        let _ = writeln!(o, "| IOC | type | hosts | seen on |\n|---|---|---|---|");
        let mut rows: Vec<_> = seen.into_iter().collect();
        rows.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        for (ioc, hs) in rows {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} of {} | {} |",
                md(&ioc.value()),
                ioc.kind(),
                hs.len(),
                hosts.len(),
                hs.iter().map(|h| md(h)).collect::<Vec<_>>().join(", ")
            );
        }
    }
    o
}

fn names(hs: &[&HostAnalysis]) -> String {
    if hs.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            hs.iter()
                .map(|h| h.hostname.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
