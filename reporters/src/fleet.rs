//! The fleet Markdown report: executive summary, alerts grouped by severity (category, MITRE
//! ATT&CK, description, evidence, risk assessment; the structure of `seeds/001`), cross-host
//! correlation of IOCs (the same SHA-256, path, unit or cron command on which hosts), and the
//! bundles that could not be analyzed and targets that could not be collected. Hosts whose
//! rules ran on partial data (collected with gaps) are counted in the summary and marked in
//! the host table's `data` column.
//!
//! The report is written in one pass over the hosts so that memory does not grow with their
//! number: the caller keeps a small [`HostEntry`] per host (enough for the summary and to
//! number the alerts), and [`FleetWriter`] writes each host's alerts into one of five sinks,
//! one per severity, that the caller appends to the report in order. Only the IOC -> hosts
//! map of the correlation grows with the fleet, and it is what that section prints.
//! [`render`] is the same code with in-memory sinks.

use crate::md;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::analysis::{
    HostAnalysis, Ioc, NotCollected, PluginUse, Severity, Unanalyzed,
};
use dossier_plugin_api::analyzer::FleetFinding;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

/// Severities in report order: alerts are numbered Critical first.
pub const ORDER: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// Position of a severity in [`ORDER`] (the index of its alert section).
pub fn slot(sev: Severity) -> usize {
    match sev {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
        Severity::Info => 4,
    }
}
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

/// What the fleet report needs of one host before its alerts: kept in memory for every host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    pub hostname: String,
    pub bundle: String,
    pub bundle_sha256: String,
    pub verdict: String,
    pub score: u32,
    pub findings: usize,
    pub highest: Option<Severity>,
    pub collected_started: Timestamp,
    pub collected_finished: Timestamp,
    /// Rule hits per severity, in [`ORDER`].
    pub hits: [usize; 5],
    /// Number of rules evaluated on partial data (the host was collected with gaps).
    pub partial: usize,
}

impl HostEntry {
    /// The entry of an analysis.
    pub fn of(a: &HostAnalysis) -> Self {
        let mut hits = [0; 5];
        for h in &a.hits {
            hits[slot(h.severity)] += 1;
        }
        HostEntry {
            hostname: a.hostname.clone(),
            bundle: a.bundle.clone(),
            bundle_sha256: a.bundle_sha256.clone(),
            verdict: a.verdict.clone(),
            score: a.score,
            findings: a.findings.len(),
            highest: a.highest(),
            collected_started: a.collected_started,
            collected_finished: a.collected_finished,
            hits,
            partial: a.partial.len(),
        }
    }
}

/// Writes the fleet report in one pass over the hosts:
/// 1. [`FleetWriter::write_head`] into the report (summary and host table, from the entries);
/// 2. [`FleetWriter::add`] for every host, in the order of the entries, with its full
///    analysis: its alerts go to `sections[slot(severity)]`;
/// 3. the caller appends the five sections to the report, in order;
/// 4. [`FleetWriter::write_tail`] into the report (cross-host correlation).
pub struct FleetWriter<'a> {
    hosts: &'a [HostEntry],
    /// Number of the next alert of each severity.
    next: [usize; 5],
    added: usize,
    /// Hostnames by first appearance; the correlation refers to them by index.
    names: BTreeMap<String, u32>,
    iocs: BTreeMap<Ioc, BTreeSet<u32>>,
    /// Dynamic plugins used for any host.
    plugins: BTreeSet<PluginUse>,
}

impl<'a> FleetWriter<'a> {
    /// A writer for these hosts, in report order.
    pub fn new(hosts: &'a [HostEntry]) -> Self {
        let mut next = [1; 5];
        for i in 1..5 {
            next[i] = next[i - 1] + hosts.iter().map(|h| h.hits[i - 1]).sum::<usize>();
        }
        FleetWriter {
            hosts,
            next,
            added: 0,
            names: BTreeMap::new(),
            iocs: BTreeMap::new(),
            plugins: BTreeSet::new(),
        }
    }

    /// Title, executive summary, host table, what was not analyzed or collected, and the
    /// heading of the alerts.
    pub fn write_head(
        &self,
        o: &mut dyn Write,
        unanalyzed: &[Unanalyzed],
        not_collected: &[NotCollected],
    ) -> io::Result<()> {
        let hosts = self.hosts;
        let findings: usize = hosts.iter().map(|h| h.findings).sum();
        let highest = hosts.iter().filter_map(|h| h.highest).max();
        let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
        for h in hosts {
            *verdicts.entry(h.verdict.as_str()).or_default() += 1;
        }
        let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
        for t in not_collected {
            *outcomes.entry(t.outcome.as_str()).or_default() += 1;
        }
        let outcomes = outcomes
            .iter()
            .map(|(k, n)| format!("{}: {n}", md(k)))
            .collect::<Vec<_>>()
            .join(", ");
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
        let gapped = hosts.iter().filter(|h| h.partial > 0).count();
        writeln!(o, "**Hosts collected with gaps:** {gapped}  ")?;
        writeln!(
            o,
            "**Verdicts:** {}\n",
            ["Malicious likely", "Suspicious", "Unclear/Benign"]
                .iter()
                .map(|v| format!("{v}: {}", verdicts.get(v).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        )?;

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
        writeln!(o, "\n")?;
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
                if h.partial > 0 {
                    format!(
                        "partial ({} rule{})",
                        h.partial,
                        if h.partial == 1 { "" } else { "s" }
                    )
                } else {
                    "complete".to_string()
                },
                md(&h.bundle),
                &h.bundle_sha256[..h.bundle_sha256.len().min(16)]
            )?;
        }
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
        writeln!(o, "\n## Security Alerts\n")
    }

    /// The next host, in the order of the entries given to [`FleetWriter::new`]: writes each
    /// of its alerts to the section of its severity (`sections[slot(severity)]`) and notes its
    /// IOCs for the correlation.
    pub fn add<W: Write>(&mut self, h: &HostAnalysis, sections: &mut [W; 5]) -> io::Result<()> {
        match self.hosts.get(self.added) {
            Some(e) if e.hostname == h.hostname && e.bundle == h.bundle => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "fleet report: host {} ({}) is not entry {} of the index",
                        h.hostname, h.bundle, self.added
                    ),
                ));
            }
        }
        self.added += 1;
        self.plugins.extend(h.plugins.iter().cloned());
        for hit in &h.hits {
            let i = slot(hit.severity);
            let o = &mut sections[i];
            let n = self.next[i];
            self.next[i] += 1;
            let fs: Vec<_> = h.findings.iter().filter(|f| f.rule == hit.rule).collect();
            writeln!(
                o,
                "### ALERT-{n:03}: {} on {}\n",
                md(&hit.title),
                md(&h.hostname)
            )?;
            writeln!(
                o,
                "**Severity:** {}  \n**Category:** `{}` ({})  \n**MITRE ATT&CK:** {}\n",
                hit.severity.label(),
                hit.rule,
                match (&hit.counted_under, hit.boost) {
                    (Some(r), _) => format!("+0: the same observation is counted under `{r}`"),
                    (None, 0) => format!("+{} to the host score", hit.weight),
                    (None, b) => format!(
                        "+{} to the host score, +{b} from context on the same subject",
                        hit.weight
                    ),
                },
                hit.mitre.join(", ")
            )?;
            writeln!(o, "**Description:**")?;
            for f in &fs {
                writeln!(o, "- {}", md(&f.explanation))?;
            }
            writeln!(o, "\n**Evidence:**")?;
            writeln!(
                o,
                "- **Host:** {} (collected {})\n- **Bundle:** `{}` SHA-256 `{}`",
                md(&h.hostname),
                h.collected_started,
                md(&h.bundle),
                h.bundle_sha256
            )?;
            for f in &fs {
                for e in &f.evidence {
                    writeln!(
                        o,
                        "  - `{}`{} SHA-256 `{}`: {}",
                        md(&e.member),
                        e.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                        e.sha256,
                        md(&e.what)
                    )?;
                }
            }
            writeln!(o, "\n**Risk Assessment:** {}\n\n---\n", risk(hit.severity))?;
        }
        let next_id = self.names.len() as u32;
        let id = *self.names.entry(h.hostname.clone()).or_insert(next_id);
        // Behaviour findings and the context linked to them: never a lone unowned file.
        let linked = h.context.iter().filter(|c| !c.linked_to.is_empty());
        for f in h.findings.iter().chain(linked) {
            for i in &f.iocs {
                if !matches!(i, Ioc::Pid(_)) {
                    if let Some(set) = self.iocs.get_mut(i) {
                        set.insert(id);
                    } else {
                        self.iocs.insert(i.clone(), BTreeSet::from([id]));
                    }
                }
            }
        }
        Ok(())
    }

    /// After the sections: "No alerts." when there were none, the fleet-level findings of
    /// analyzer plugins, the cross-host correlation, and the dynamic plugins used (those of
    /// the hosts and `reporters`), each with the SHA-256 of its library.
    pub fn write_tail(
        mut self,
        o: &mut dyn Write,
        fleet_findings: &[FleetFinding],
        reporters: &[PluginUse],
    ) -> io::Result<()> {
        if self.added != self.hosts.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "fleet report: {} of {} hosts added",
                    self.added,
                    self.hosts.len()
                ),
            ));
        }
        if self.hosts.iter().flat_map(|h| h.hits).sum::<usize>() == 0 {
            writeln!(o, "No alerts.\n")?;
        }
        if !fleet_findings.is_empty() {
            write_fleet_findings(o, fleet_findings, self.hosts.len())?;
        }
        self.plugins.extend(reporters.iter().cloned());
        let plugins = std::mem::take(&mut self.plugins);
        writeln!(o, "## Cross-host Correlation\n")?;
        self.write_correlation(o)?;
        if !plugins.is_empty() {
            writeln!(
                o,
                "\n## Plugins\n\nDynamic plugins whose code collected, analyzed or reported (library SHA-256):\n\n| kind | name | version | library | SHA-256 |\n|---|---|---|---|---|"
            )?;
            for p in &plugins {
                writeln!(
                    o,
                    "| {} | {} | {} | `{}` | `{}` |",
                    p.kind,
                    md(&p.name),
                    md(&p.version),
                    md(&p.path),
                    p.sha256
                )?;
            }
        }
        Ok(())
    }

    fn write_correlation(self, o: &mut dyn Write) -> io::Result<()> {
        if self.iocs.is_empty() {
            return writeln!(o, "No IOC to correlate.");
        }
        let mut by_id: Vec<&str> = vec![""; self.names.len()];
        for (name, &id) in &self.names {
            by_id[id as usize] = name;
        }
        writeln!(o, "| IOC | type | hosts | seen on |\n|---|---|---|---|")?;
        let mut rows: Vec<(Ioc, Vec<&str>)> = self
            .iocs
            .into_iter()
            .map(|(ioc, ids)| {
                let mut hs: Vec<&str> = ids.iter().map(|&i| by_id[i as usize]).collect();
                hs.sort_unstable();
                (ioc, hs)
            })
            .collect();
        rows.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        for (ioc, hs) in rows {
            writeln!(
                o,
                "| `{}` | {} | {} of {} | {} |",
                md(&ioc.value()),
                ioc.kind(),
                hs.len(),
                self.hosts.len(),
                hs.iter().map(|h| md(h)).collect::<Vec<_>>().join(", ")
            )?;
        }
        Ok(())
    }
}

/// Renders the fleet report of `hosts` (in this order) in memory.
pub fn render(
    hosts: &[HostAnalysis],
    unanalyzed: &[Unanalyzed],
    not_collected: &[NotCollected],
) -> String {
    let index: Vec<HostEntry> = hosts.iter().map(HostEntry::of).collect();
    let mut w = FleetWriter::new(&index);
    let mut out = Vec::new();
    let mut sections: [Vec<u8>; 5] = Default::default();
    let done = (|| {
        w.write_head(&mut out, unanalyzed, not_collected)?;
        for h in hosts {
            w.add(h, &mut sections)?;
        }
        for s in &sections {
            out.extend_from_slice(s);
        }
        w.write_tail(&mut out, &[], &[])
    })();
    done.expect("writing to memory with a matching index cannot fail");
    String::from_utf8(out).expect("the report is UTF-8")
}

/// The fleet-level findings of analyzer plugins, most severe first.
fn write_fleet_findings(o: &mut dyn Write, found: &[FleetFinding], hosts: usize) -> io::Result<()> {
    writeln!(o, "## Fleet-level Findings\n")?;
    let mut sorted: Vec<&FleetFinding> = found.iter().collect();
    sorted.sort_by_key(|f| slot(f.severity));
    for (i, f) in sorted.iter().enumerate() {
        writeln!(
            o,
            "### FLEET-{:03}: {} ({})\n",
            i + 1,
            md(&f.title),
            md(&f.subject)
        )?;
        writeln!(
            o,
            "**Severity:** {}  \n**Category:** `{}`  \n**MITRE ATT&CK:** {}  \n**Hosts:** {} of {hosts}: {}\n",
            f.severity.label(),
            f.rule,
            f.mitre.join(", "),
            f.hosts.len(),
            f.hosts.iter().map(|h| md(h)).collect::<Vec<_>>().join(", ")
        )?;
        writeln!(o, "**Description:** {}\n", md(&f.explanation))?;
        if !f.evidence.is_empty() {
            writeln!(o, "**Evidence:**")?;
            for e in &f.evidence {
                writeln!(
                    o,
                    "- {} (`{}`): `{}`{} SHA-256 `{}`: {}",
                    md(&e.hostname),
                    md(&e.bundle),
                    md(&e.evidence.member),
                    e.evidence
                        .line
                        .map(|l| format!(" line {l}"))
                        .unwrap_or_default(),
                    e.evidence.sha256,
                    md(&e.evidence.what)
                )?;
            }
            writeln!(o)?;
        }
        writeln!(o, "**Risk Assessment:** {}\n\n---\n", risk(f.severity))?;
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::host;

    fn alert_lines(report: &str) -> Vec<&str> {
        report
            .lines()
            .filter(|l| l.starts_with("### ALERT-"))
            .collect()
    }

    #[test]
    fn alerts_are_numbered_by_severity_then_host() {
        let hosts = [
            host("a", "a.zip", &[Severity::Low, Severity::High]),
            host("b", "b.zip", &[Severity::High, Severity::Critical]),
            host("c", "c.zip", &[]),
        ];
        let r = render(&hosts, &[], &[]);
        assert_eq!(
            alert_lines(&r),
            [
                "### ALERT-001: Title of rule-critical-1 on b",
                "### ALERT-002: Title of rule-high-1 on a",
                "### ALERT-003: Title of rule-high-0 on b",
                "### ALERT-004: Title of rule-low-0 on a",
            ]
        );
        assert!(!r.contains("No alerts."));
        // Text from the analyses is escaped for Markdown.
        assert!(
            r.contains("matched rule-low-0 \\| with a pipe and a newline"),
            "{r}"
        );
    }

    #[test]
    fn no_alerts_and_nothing_to_correlate() {
        let r = render(&[host("c", "c.zip", &[])], &[], &[]);
        assert!(r.contains("## Security Alerts\n\nNo alerts.\n\n## Cross-host Correlation\n\nNo IOC to correlate.\n"), "{r}");
        assert!(r.contains("0 bundle(s) could not be analyzed."), "{r}");
        assert!(
            !r.contains("not collected") && !r.contains("Not collected"),
            "{r}"
        );
    }

    #[test]
    fn correlation_counts_hosts_not_bundles_and_skips_pids() {
        let hosts = [
            host("a", "a-1.zip", &[Severity::Low]),
            host("a", "a-2.zip", &[Severity::Low]),
            host("b", "b.zip", &[Severity::Medium]),
        ];
        let r = render(&hosts, &[], &[]);
        assert!(r.contains("| `/tmp/x` | path | 2 of 3 | a, b |"), "{r}");
        assert!(r.contains("| `a.service` | unit | 1 of 3 | a |"), "{r}");
        assert!(!r.contains("| pid |"), "{r}");
        // Most widespread first.
        let path = r.find("| `/tmp/x` |").unwrap();
        let unit = r.find("| `a.service` |").unwrap();
        assert!(path < unit);
    }

    #[test]
    fn targets_not_collected_are_counted_and_listed() {
        let nc = [
            NotCollected {
                target: "10.0.0.7".into(),
                outcome: "unreachable".into(),
                reason: "connection timed out after 10 s".into(),
            },
            NotCollected {
                target: "db9".into(),
                outcome: "auth_failed".into(),
                reason: "publickey refused".into(),
            },
            NotCollected {
                target: "10.0.0.8".into(),
                outcome: "unreachable".into(),
                reason: "no route to host".into(),
            },
        ];
        let un = [Unanalyzed {
            subject: "x.zip".into(),
            reason: "verification failed".into(),
        }];
        let r = render(&[host("a", "a.zip", &[])], &un, &nc);
        assert!(
            r.contains("**Targets not collected:** 3 (auth_failed: 1, unreachable: 2)  \n"),
            "{r}"
        );
        assert!(
            r.contains("1 bundle(s) could not be analyzed. 3 target(s) could not be collected (auth_failed: 1, unreachable: 2)"),
            "{r}"
        );
        assert!(
            r.contains("**Not collected:**\n\n- `10.0.0.7`: unreachable: connection timed out after 10 s\n- `db9`: auth_failed: publickey refused\n"),
            "{r}"
        );
        assert!(r.contains("**Not analyzed:**\n\n- `x.zip`: verification failed\n"));
    }

    #[test]
    fn hosts_collected_with_gaps_are_counted_and_marked() {
        let mut a = host("a", "a.zip", &[]);
        a.partial = vec![crate::sample::partial("system-account-usable")];
        a.partial.push(crate::sample::partial("sudo-nopasswd-all"));
        let mut b = host("b", "b.zip", &[Severity::Low]);
        let mut one = b.clone();
        one.hostname = "one".into();
        one.partial = vec![crate::sample::partial("sudo-nopasswd-all")];
        let r = render(&[one], &[], &[]);
        assert!(r.contains("| partial (1 rule) |"), "{r}");
        b.partial.clear();
        let r = render(&[a, b.clone()], &[], &[]);
        assert!(r.contains("**Hosts collected with gaps:** 1  \n"), "{r}");
        assert!(
            r.contains("1 host(s) collected with gaps: some rules ran on partial data"),
            "{r}"
        );
        assert!(
            r.contains("| a | Unclear/Benign | 0 | 0 | - | partial (2 rules) | `a.zip`"),
            "{r}"
        );
        assert!(
            r.contains("| b | Unclear/Benign | 10 | 1 | LOW | complete | `b.zip`"),
            "{r}"
        );
        let r = render(&[b], &[], &[]);
        assert!(r.contains("**Hosts collected with gaps:** 0  \n"), "{r}");
        assert!(!r.contains("host(s) collected with gaps"), "{r}");
    }

    #[test]
    fn hosts_must_come_in_index_order_and_all_of_them() {
        let a = host("a", "a.zip", &[Severity::Low]);
        let b = host("b", "b.zip", &[Severity::Low]);
        let index = [HostEntry::of(&a), HostEntry::of(&b)];
        let mut sections: [Vec<u8>; 5] = Default::default();
        let mut w = FleetWriter::new(&index);
        assert!(w.add(&b, &mut sections).is_err());
        let mut w = FleetWriter::new(&index);
        w.add(&a, &mut sections).unwrap();
        assert!(w.write_tail(&mut Vec::new(), &[], &[]).is_err());
    }
}
