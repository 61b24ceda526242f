//! The head of the fleet report: title and counts, executive summary, host table, and the
//! bundles that could not be analyzed, targets that could not be collected and bundles
//! superseded by a newer one of the same host (`dossier merge`). Written from the host
//! entries only, before any alert.

use super::entry::HostEntry;
use super::severity::ORDER;
use crate::markdown::md;
use dossier_plugin_api::analysis::{NotCollected, Unanalyzed};
use dossier_plugin_api::{Timestamp, attack};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// A verified bundle not analyzed because a newer verified bundle of the same host was
/// (`dossier merge` of sweeps that collected a host twice).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Superseded {
    pub hostname: String,
    /// The bundle superseded (its path as merged).
    pub bundle: String,
    pub sha256: String,
    /// When its collection started.
    pub collected: Timestamp,
    /// The bundle analyzed instead.
    pub by: String,
}

/// Title, executive summary, host table, what was not analyzed or collected or superseded,
/// and the heading of the alerts.
pub(super) fn write_head(
    hosts: &[HostEntry],
    o: &mut dyn Write,
    unanalyzed: &[Unanalyzed],
    not_collected: &[NotCollected],
    events: Option<&str>,
    superseded: &[Superseded],
) -> io::Result<()> {
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for t in not_collected {
        *outcomes.entry(t.outcome.as_str()).or_default() += 1;
    }
    let outcomes = outcomes
        .iter()
        .map(|(k, n)| format!("{}: {n}", md(k)))
        .collect::<Vec<_>>()
        .join(", ");
    counts(o, hosts, not_collected, &outcomes)?;
    executive_summary(o, hosts, unanalyzed, not_collected, &outcomes)?;
    if let Some(e) = events {
        writeln!(o, "{e}")?;
    }
    host_table(o, hosts)?;
    not_analyzed_or_collected(o, unanalyzed, not_collected)?;
    if !superseded.is_empty() {
        writeln!(
            o,
            "\n**Superseded** ({}: older bundles of hosts collected again; the newest verified bundle of each host is analyzed):\n",
            superseded.len()
        )?;
        for s in superseded {
            writeln!(
                o,
                "- `{}` (`{}`) of {}, collected {}: superseded by `{}`",
                md(&s.bundle),
                &s.sha256[..s.sha256.len().min(16)],
                md(&s.hostname),
                s.collected,
                md(&s.by)
            )?;
        }
    }
    writeln!(o, "\n## Security Alerts\n")
}

/// Hosts whose rules ran on partial data (collected with gaps).
fn gapped(hosts: &[HostEntry]) -> usize {
    hosts.iter().filter(|h| h.partial > 0).count()
}

/// The title and the counts under it: period, hosts, findings, targets not collected
/// (`outcomes`: how many of each outcome), gaps, alerts by severity, verdicts.
fn counts(
    o: &mut dyn Write,
    hosts: &[HostEntry],
    not_collected: &[NotCollected],
    outcomes: &str,
) -> io::Result<()> {
    let findings: usize = hosts.iter().map(|h| h.findings).sum();
    let highest = hosts.iter().filter_map(|h| h.highest).max();
    let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
    for h in hosts {
        *verdicts.entry(h.verdict.as_str()).or_default() += 1;
    }
    let first = hosts.iter().map(|h| h.collected_started).min();
    let last = hosts.iter().map(|h| h.collected_finished).max();
    writeln!(o, "# Fleet Security Analysis Report\n")?;
    if let (Some(a), Some(b)) = (first, last) {
        writeln!(o, "**Collection period:** {a} to {b} (UTC)  ")?;
    }
    writeln!(
        o,
        "**Hosts analyzed:** {}  \n**Bundles:** {}  \n**Findings:** {findings}  \n**Highest severity:** {}  ",
        hosts.len(),
        hosts.len(),
        highest.map_or("none", |s| s.label())
    )?;
    if !not_collected.is_empty() {
        writeln!(
            o,
            "**Targets not collected:** {} ({outcomes})  ",
            not_collected.len()
        )?;
    }
    let gapped = gapped(hosts);
    writeln!(o, "**Hosts collected with gaps:** {gapped}  ")?;
    // One alert per rule hit: the same counts as the alerts listed below.
    let mut alerts = [0usize; 5];
    for h in hosts {
        for (a, n) in alerts.iter_mut().zip(h.hits) {
            *a += n;
        }
    }
    let by_sev: Vec<String> = ORDER
        .iter()
        .zip(alerts)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{}: {n}", s.label()))
        .collect();
    writeln!(
        o,
        "**Alerts:** {}{}  ",
        alerts.iter().sum::<usize>(),
        if by_sev.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_sev.join(", "))
        }
    )?;
    writeln!(o, "**Technique names:** {}  ", attack::release())?;
    writeln!(
        o,
        "**Verdicts:** {}\n",
        ["Malicious likely", "Suspicious", "Unclear/Benign"]
            .iter()
            .map(|v| format!("{v}: {}", verdicts.get(v).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The executive summary: compromised and suspicious hosts by name, what could not be
/// analyzed or collected, and hosts collected with gaps.
fn executive_summary(
    o: &mut dyn Write,
    hosts: &[HostEntry],
    unanalyzed: &[Unanalyzed],
    not_collected: &[NotCollected],
    outcomes: &str,
) -> io::Result<()> {
    let gapped = gapped(hosts);
    writeln!(o, "## Executive Summary\n")?;
    let bad: Vec<&HostEntry> = hosts
        .iter()
        .filter(|h| h.verdict == "Malicious likely")
        .collect();
    let sus: Vec<&HostEntry> = hosts.iter().filter(|h| h.verdict == "Suspicious").collect();
    write!(
        o,
        "{} of {} analyzed hosts are likely compromised{}, {} suspicious{}. {} bundle(s) could not be analyzed.",
        bad.len(),
        hosts.len(),
        names(&bad),
        sus.len(),
        names(&sus),
        unanalyzed.len()
    )?;
    if !not_collected.is_empty() {
        write!(
            o,
            " {} target(s) could not be collected ({outcomes}): they are not known to be clean.",
            not_collected.len()
        )?;
    }
    if gapped > 0 {
        write!(
            o,
            " {gapped} host(s) collected with gaps: some rules ran on partial data (permission denied, truncated, host lost), so a clean result there is not proof (see each host report).",
        )?;
    }
    writeln!(o, "\n")
}

/// One row per host: verdict, score, findings, highest severity, data and bundle.
fn host_table(o: &mut dyn Write, hosts: &[HostEntry]) -> io::Result<()> {
    writeln!(
        o,
        "| host | verdict | score | findings | highest | data | bundle |\n|---|---|---|---|---|---|---|"
    )?;
    for h in hosts {
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | `{}` (`{}`) |",
            md(&h.hostname),
            h.verdict,
            h.score,
            h.findings,
            h.highest.map_or("-", |s| s.label()),
            h.data(),
            md(&h.bundle),
            &h.bundle_sha256[..h.bundle_sha256.len().min(16)]
        )?;
    }
    Ok(())
}

/// The bundles that could not be analyzed and the targets that could not be collected, with
/// their reasons.
fn not_analyzed_or_collected(
    o: &mut dyn Write,
    unanalyzed: &[Unanalyzed],
    not_collected: &[NotCollected],
) -> io::Result<()> {
    if !unanalyzed.is_empty() {
        writeln!(o, "\n**Not analyzed:**\n")?;
        for u in unanalyzed {
            writeln!(o, "- `{}`: {}", md(&u.subject), md(&u.reason))?;
        }
    }
    if !not_collected.is_empty() {
        writeln!(o, "\n**Not collected:**\n")?;
        for t in not_collected {
            writeln!(
                o,
                "- `{}`: {}: {}",
                md(&t.target),
                md(&t.outcome),
                md(&t.reason)
            )?;
        }
    }
    Ok(())
}

/// The hostnames of `hs` in parentheses after a count (" (a, b)"), or nothing.
fn names(hs: &[&HostEntry]) -> String {
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
