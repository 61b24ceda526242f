//! The head of the fleet report: title and counts, executive summary, host table, and the
//! bundles that could not be analyzed, targets that could not be collected and bundles
//! superseded by a newer one of the same host (`dossier merge`). Written from the host
//! entries only, before any alert.

use super::entry::HostEntry;
use super::severity::ORDER;
use crate::markdown::md;
use crate::words::{comma, count, paren, severity, verdict};
use dossier_i18n::Catalog;
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
/// and the heading of the alerts, in the language of `c`.
pub(super) fn write_head(
    hosts: &[HostEntry],
    o: &mut dyn Write,
    (unanalyzed, not_collected): (&[Unanalyzed], &[NotCollected]),
    events: Option<&str>,
    superseded: &[Superseded],
    c: &Catalog,
) -> io::Result<()> {
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for t in not_collected {
        *outcomes.entry(t.outcome.as_str()).or_default() += 1;
    }
    let outcomes: Vec<String> = outcomes.iter().map(|(k, n)| count(c, &md(k), n)).collect();
    let outcomes = comma(c, &outcomes);
    counts(o, hosts, not_collected, &outcomes, c)?;
    executive_summary(o, hosts, (unanalyzed, not_collected), &outcomes, c)?;
    if let Some(e) = events {
        writeln!(o, "{e}")?;
    }
    host_table(o, hosts, c)?;
    not_analyzed_or_collected(o, unanalyzed, not_collected, c)?;
    if !superseded.is_empty() {
        writeln!(
            o,
            "\n{}\n",
            c.format("fleet.lists.superseded", &[("n", &superseded.len())])
        )?;
        for s in superseded {
            writeln!(
                o,
                "- {}",
                c.format(
                    "fleet.lists.superseded_item",
                    &[
                        ("bundle", &md(&s.bundle)),
                        ("sha256", &&s.sha256[..s.sha256.len().min(16)]),
                        ("host", &md(&s.hostname)),
                        ("time", &s.collected),
                        ("by", &md(&s.by)),
                    ]
                )
            )?;
        }
    }
    writeln!(o, "\n## {}\n", c.text("fleet.alerts_heading"))
}

/// Hosts whose rules ran on partial data (collected with gaps).
fn gapped(hosts: &[HostEntry]) -> usize {
    hosts.iter().filter(|h| h.partial > 0).count()
}

/// The verdicts as analyses store them, in the order the summary counts them.
const VERDICTS: [&str; 3] = ["Malicious likely", "Suspicious", "Unclear/Benign"];

/// The title and the counts under it: period, hosts, findings, targets not collected
/// (`outcomes`: how many of each outcome), gaps, alerts by severity, verdicts.
fn counts(
    o: &mut dyn Write,
    hosts: &[HostEntry],
    not_collected: &[NotCollected],
    outcomes: &str,
    c: &Catalog,
) -> io::Result<()> {
    let findings: usize = hosts.iter().map(|h| h.findings).sum();
    let highest = hosts.iter().filter_map(|h| h.highest).max();
    let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
    for h in hosts {
        *verdicts.entry(h.verdict.as_str()).or_default() += 1;
    }
    let first = hosts.iter().map(|h| h.collected_started).min();
    let last = hosts.iter().map(|h| h.collected_finished).max();
    writeln!(o, "# {}\n", c.text("fleet.title"))?;
    if let (Some(a), Some(b)) = (first, last) {
        writeln!(
            o,
            "{}  ",
            c.format("fleet.period", &[("from", &a), ("to", &b)])
        )?;
    }
    let highest = highest.map_or(c.text("fleet.none"), |s| severity(c, s));
    for line in [
        c.format("fleet.hosts", &[("n", &hosts.len())]),
        c.format("fleet.bundles", &[("n", &hosts.len())]),
        c.format("fleet.findings", &[("n", &findings)]),
        c.format("fleet.highest", &[("severity", &highest)]),
    ] {
        writeln!(o, "{line}  ")?;
    }
    if !not_collected.is_empty() {
        writeln!(
            o,
            "{}  ",
            c.format(
                "fleet.not_collected",
                &[("n", &not_collected.len()), ("outcomes", &outcomes)]
            )
        )?;
    }
    writeln!(
        o,
        "{}  ",
        c.format("fleet.gapped", &[("n", &gapped(hosts))])
    )?;
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
        .map(|(s, n)| count(c, severity(c, *s), n))
        .collect();
    let by_sev = if by_sev.is_empty() {
        String::new()
    } else {
        paren(c, &comma(c, &by_sev))
    };
    writeln!(
        o,
        "{}  ",
        c.format(
            "fleet.alerts",
            &[
                ("n", &alerts.iter().sum::<usize>()),
                ("by_severity", &by_sev)
            ]
        )
    )?;
    writeln!(
        o,
        "{}  ",
        c.format("fleet.techniques", &[("release", &attack::release())])
    )?;
    let verdicts: Vec<String> = VERDICTS
        .iter()
        .map(|v| count(c, verdict(c, v), verdicts.get(v).copied().unwrap_or(0)))
        .collect();
    writeln!(
        o,
        "{}\n",
        c.format("fleet.verdicts", &[("verdicts", &comma(c, &verdicts))])
    )
}

/// The executive summary: compromised and suspicious hosts by name, what could not be
/// analyzed or collected, and hosts collected with gaps.
fn executive_summary(
    o: &mut dyn Write,
    hosts: &[HostEntry],
    (unanalyzed, not_collected): (&[Unanalyzed], &[NotCollected]),
    outcomes: &str,
    c: &Catalog,
) -> io::Result<()> {
    let gapped = gapped(hosts);
    writeln!(o, "## {}\n", c.text("fleet.summary.heading"))?;
    let bad: Vec<&HostEntry> = hosts.iter().filter(|h| h.verdict == VERDICTS[0]).collect();
    let sus: Vec<&HostEntry> = hosts.iter().filter(|h| h.verdict == VERDICTS[1]).collect();
    write!(
        o,
        "{}",
        c.format(
            "fleet.summary.hosts",
            &[
                ("bad", &bad.len()),
                ("hosts", &hosts.len()),
                ("bad_names", &names(&bad, c)),
                ("suspicious", &sus.len()),
                ("suspicious_names", &names(&sus, c)),
                ("unanalyzed", &unanalyzed.len()),
            ]
        )
    )?;
    if !not_collected.is_empty() {
        write!(
            o,
            "{}",
            c.format(
                "fleet.summary.not_collected",
                &[("n", &not_collected.len()), ("outcomes", &outcomes)]
            )
        )?;
    }
    if gapped > 0 {
        write!(o, "{}", c.format("fleet.summary.gapped", &[("n", &gapped)]))?;
    }
    writeln!(o, "\n")
}

/// One row per host: verdict, score, findings, highest severity, data and bundle.
fn host_table(o: &mut dyn Write, hosts: &[HostEntry], c: &Catalog) -> io::Result<()> {
    let columns: Vec<String> = [
        "host", "verdict", "score", "findings", "highest", "data", "bundle",
    ]
    .iter()
    .map(|k| c.text(&format!("fleet.table.{k}")).to_string())
    .collect();
    writeln!(
        o,
        "| {} |\n|---|---|---|---|---|---|---|",
        columns.join(" | ")
    )?;
    for h in hosts {
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | `{}` (`{}`) |",
            md(&h.hostname),
            verdict(c, &h.verdict),
            h.score,
            h.findings,
            h.highest.map_or("-", |s| severity(c, s)),
            h.data(c),
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
    c: &Catalog,
) -> io::Result<()> {
    if !unanalyzed.is_empty() {
        writeln!(o, "\n{}\n", c.text("fleet.lists.not_analyzed"))?;
        for u in unanalyzed {
            writeln!(o, "- `{}`: {}", md(&u.subject), md(&u.reason))?;
        }
    }
    if !not_collected.is_empty() {
        writeln!(o, "\n{}\n", c.text("fleet.lists.not_collected"))?;
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
fn names(hs: &[&HostEntry], c: &Catalog) -> String {
    if hs.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = hs.iter().map(|h| h.hostname.as_str()).collect();
        paren(c, &comma(c, &names))
    }
}
