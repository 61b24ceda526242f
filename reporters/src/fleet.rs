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
//! one per severity, keeping only where each alert is; it then copies them into the report
//! numbered by severity and, with fleet stacking, rarest first ([`FleetWriter::with_stacking`]:
//! each alert and finding says on how many hosts it is, and a *Stacking* section follows).
//! Only maps keyed by distinct IOC, finding or item grow with the fleet (correlation, site
//! policy and baseline sections), and they are what those sections print.
//! [`render`] is the same code with in-memory sinks.

use crate::md;
use crate::policy::PolicyTally;
use dossier_analyzers::attack;
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::analysis::{
    Finding, HostAnalysis, Ioc, NotCollected, PluginUse, RuleHit, Severity, Unanalyzed,
};
use dossier_plugin_api::analyzer::FleetFinding;
use dossier_plugin_api::policy::StackingSummary;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Seek, SeekFrom, Write};

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
/// What to do about a finding of this severity.
fn urgency(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => {
            "Strong evidence of compromise: contain the host now and treat its credentials as stolen."
        }
        Severity::High => "Typical of intrusions: investigate and contain promptly.",
        Severity::Medium => {
            "Unusual on a managed host: confirm with the owner and correlate with the other findings."
        }
        Severity::Low => "Common in administration: suspicious only together with other findings.",
        Severity::Info => "Informational.",
    }
}

/// Technique ids with their names, as prose: "A", "A and B", "A; B and C" (names can hold
/// commas, never semicolons).
fn techniques(mitre: &[String]) -> String {
    let labels: Vec<String> = mitre.iter().map(|m| attack::label(m)).collect();
    match labels.as_slice() {
        [] => String::new(),
        [one] => md(one),
        [rest @ .., last] => format!("{} and {}", md(&rest.join("; ")), md(last)),
    }
}

/// What the ATT&CK techniques `mitre` give an attacker, from their tactics ("keep access
/// across reboots... and hide from administrators..."), or `None` when no id is known.
fn gains(mitre: &[String]) -> Option<String> {
    let mut tactics: Vec<&str> = mitre.iter().flat_map(|m| attack::tactics(m)).collect();
    tactics.sort_unstable();
    tactics.dedup();
    let phrases: Vec<&str> = tactics
        .iter()
        .filter_map(|t| attack::tactic_gain(t))
        .collect();
    match phrases.as_slice() {
        [] => None,
        [one] => Some(one.to_string()),
        [rest @ .., last] => Some(format!("{} and {last}", rest.join(", "))),
    }
}

/// The risk assessment of one alert: what was found on which subject, what the techniques
/// let an attacker do, and how urgent it is.
fn risk(hit: &RuleHit, findings: &[&Finding]) -> String {
    let mut subjects: Vec<&str> = findings
        .iter()
        .map(|f| f.subject.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    subjects.dedup();
    let what = match findings.first() {
        Some(f) if findings.len() == 1 => md(&f.explanation),
        Some(f) => format!(
            "{} (and {} more finding{} of this rule)",
            md(&f.explanation),
            findings.len() - 1,
            if findings.len() == 2 { "" } else { "s" }
        ),
        None => md(&hit.title),
    };
    let on = match subjects.as_slice() {
        [] => String::new(),
        [one] => format!("On `{}`: ", md(one)),
        many => format!(
            "On {}: ",
            many.iter()
                .map(|s| format!("`{}`", md(s)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let allows = match gains(&hit.mitre) {
        Some(g) => format!(" As {}, it lets an attacker {g}.", techniques(&hit.mitre)),
        None => String::new(),
    };
    format!(
        "{}: {on}{}.{allows} {}",
        hit.severity.label(),
        what.trim_end_matches('.'),
        urgency(hit.severity)
    )
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
    /// Number of rules not evaluated (the data they need is missing).
    pub not_evaluated: usize,
    /// Collected from an offline image (`collect --root`): no live processes or sockets.
    pub offline: bool,
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
            not_evaluated: a.not_evaluated.len(),
            offline: a.target.starts_with("image:"),
        }
    }

    /// The host table's `data` column: `complete` only when every rule ran on complete data;
    /// otherwise `offline image (N rules not evaluated)` for an image collected with `--root`,
    /// `partial (N rules)` for rules evaluated on partial data, `incomplete (N rules not
    /// evaluated)` for a live host some data is missing of.
    pub fn data(&self) -> String {
        let rules = |n: usize| format!("{n} rule{}", if n == 1 { "" } else { "s" });
        let ne = format!("{} not evaluated", rules(self.not_evaluated));
        match (self.offline, self.not_evaluated > 0, self.partial > 0) {
            (true, false, false) => "offline image".into(),
            (true, true, false) => format!("offline image ({ne})"),
            (true, false, true) => {
                format!("offline image ({} on partial data)", rules(self.partial))
            }
            (true, true, true) => format!(
                "offline image ({ne}, {} on partial data)",
                rules(self.partial)
            ),
            (false, false, false) => "complete".into(),
            (false, true, false) => format!("incomplete ({ne})"),
            (false, false, true) => format!("partial ({})", rules(self.partial)),
            (false, true, true) => format!("partial ({}; {ne})", rules(self.partial)),
        }
    }
}

/// On how many hosts a finding is (fleet stacking).
pub type Prevalence<'a> = &'a dyn Fn(&Finding) -> u32;

/// Where an alert's text is in its severity's section, and how it ranks.
#[derive(Debug)]
struct Chunk {
    slot: usize,
    /// Hosts with its rarest finding (0 without stacking: alerts stay in host order).
    rank: u32,
    seq: usize,
    offset: u64,
    len: usize,
}

/// Writes the fleet report in one pass over the hosts:
/// 1. [`FleetWriter::write_head`] into the report (summary and host table, from the entries);
/// 2. [`FleetWriter::add`] for every host, in the order of the entries, with its full
///    analysis: the text of its alerts goes to `sections[slot(severity)]`;
/// 3. [`FleetWriter::write_alerts`] copies the alerts from the sections into the report,
///    numbered: by severity, then (with stacking) rarest first, then in host order;
/// 4. [`FleetWriter::write_tail`] into the report (stacking, site policy, cross-host
///    correlation).
///
/// Only a small record per alert and counts per distinct IOC, finding or item are kept.
pub struct FleetWriter<'a> {
    hosts: &'a [HostEntry],
    /// Bytes written to each section so far.
    written: [u64; 5],
    chunks: Vec<Chunk>,
    stacking: Option<(&'a StackingSummary, Prevalence<'a>)>,
    tally: PolicyTally,
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
        FleetWriter {
            hosts,
            written: [0; 5],
            chunks: Vec::new(),
            stacking: None,
            tally: PolicyTally::default(),
            added: 0,
            names: BTreeMap::new(),
            iocs: BTreeMap::new(),
            plugins: BTreeSet::new(),
        }
    }

    /// With fleet stacking (several hosts analyzed together): each alert shows on how many
    /// hosts its findings are, alerts rank rarest first within a severity, and the tail has
    /// a *Stacking* section.
    pub fn with_stacking(mut self, s: &'a StackingSummary, prevalence: Prevalence<'a>) -> Self {
        self.stacking = Some((s, prevalence));
        self
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
                h.data(),
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
        self.tally.add(h);
        let of = self.hosts.len();
        for hit in &h.hits {
            let i = slot(hit.severity);
            let mut o = Vec::new();
            let fs: Vec<_> = h.findings.iter().filter(|f| f.rule == hit.rule).collect();
            let prev: Vec<u32> = match &self.stacking {
                Some((_, p)) => fs.iter().map(|f| p(f)).collect(),
                None => Vec::new(),
            };
            let rank = prev.iter().copied().min().unwrap_or(0);
            // The number goes in front when the alerts are copied in rank order.
            writeln!(o, ": {} on {}\n", md(&hit.title), md(&h.hostname))?;
            writeln!(
                o,
                "**Severity:** {}  \n**Category:** `{}` ({})  \n**MITRE ATT&CK:** {}{}\n",
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
                md(&attack::labels(&hit.mitre)),
                if self.stacking.is_some() {
                    format!("  \n**Prevalence:** on {rank} of {of} hosts")
                } else {
                    String::new()
                }
            )?;
            writeln!(o, "**Description:**")?;
            for (k, f) in fs.iter().enumerate() {
                match prev.get(k) {
                    Some(n) => writeln!(o, "- {} (on {n} of {of} hosts)", md(&f.explanation))?,
                    None => writeln!(o, "- {}", md(&f.explanation))?,
                }
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
            writeln!(o, "\n**Risk Assessment:** {}\n\n---\n", risk(hit, &fs))?;
            sections[i].write_all(&o)?;
            self.chunks.push(Chunk {
                slot: i,
                rank,
                seq: self.chunks.len(),
                offset: self.written[i],
                len: o.len(),
            });
            self.written[i] += o.len() as u64;
        }
        let next_id = self.names.len() as u32;
        let id = *self.names.entry(h.hostname.clone()).or_insert(next_id);
        // The host's IOCs: flagged subjects only (behaviour findings and context linked to
        // them, never a packaged, unmodified file).
        for i in h.iocs() {
            if !matches!(i, Ioc::Pid(_)) {
                self.iocs.entry(i).or_default().insert(id);
            }
        }
        Ok(())
    }

    /// Copies the alerts written to `sections` (read back from their start) into the report,
    /// numbered in report order.
    pub fn write_alerts<R: Read + Seek>(
        &mut self,
        o: &mut dyn Write,
        sections: &mut [R; 5],
    ) -> io::Result<()> {
        self.chunks.sort_by_key(|c| (c.slot, c.rank, c.seq));
        let mut buf = Vec::new();
        for (n, c) in self.chunks.iter().enumerate() {
            buf.resize(c.len, 0);
            let s = &mut sections[c.slot];
            s.seek(SeekFrom::Start(c.offset))?;
            s.read_exact(&mut buf)?;
            write!(o, "### ALERT-{:03}", n + 1)?;
            o.write_all(&buf)?;
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
        if let Some((s, _)) = &self.stacking {
            crate::policy::write_stacking(o, s)?;
        }
        self.tally.write(o, self.hosts.len())?;
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
    let mut sections: [io::Cursor<Vec<u8>>; 5] = Default::default();
    let done = (|| {
        w.write_head(&mut out, unanalyzed, not_collected)?;
        for h in hosts {
            w.add(h, &mut sections)?;
        }
        w.write_alerts(&mut out, &mut sections)?;
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
            md(&attack::labels(&f.mitre)),
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
        let allows = gains(&f.mitre)
            .map(|g| format!(" As {}, it lets an attacker {g}.", techniques(&f.mitre)))
            .unwrap_or_default();
        writeln!(
            o,
            "**Risk Assessment:** {}: on {} of {hosts} hosts: {}.{allows} {}\n\n---\n",
            f.severity.label(),
            f.hosts.len(),
            md(&f.explanation).trim_end_matches('.'),
            urgency(f.severity)
        )?;
    }
    Ok(())
}

/// Reads a rendered fleet report back and names every count of its summary that does not
/// match what the report lists (alerts by severity against the alerts, hosts per verdict and
/// findings against the host table, the executive summary's counts): empty when they agree.
/// Tests check every fleet report they render with it.
pub fn summary_mismatches(report: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let field = |name: &str| -> Option<&str> {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("**{name}:** ")))
            .map(|v| v.trim_end())
    };
    let number = |s: &str| {
        s.split([' ', '('])
            .next()
            .and_then(|n| n.parse::<usize>().ok())
    };
    // The host table: rows between its header and the first blank line.
    let rows: Vec<Vec<&str>> = report
        .lines()
        .skip_while(|l| !l.starts_with("| host | verdict |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    if field("Hosts analyzed").and_then(number) != Some(rows.len()) {
        bad.push(format!(
            "Hosts analyzed {:?}, host table has {} rows",
            field("Hosts analyzed"),
            rows.len()
        ));
    }
    let findings: usize = rows
        .iter()
        .filter_map(|r| r.get(3).and_then(|n| n.parse::<usize>().ok()))
        .sum();
    if field("Findings").and_then(number) != Some(findings) {
        bad.push(format!(
            "Findings {:?}, host table sums to {findings}",
            field("Findings")
        ));
    }
    let verdicts = ["Malicious likely", "Suspicious", "Unclear/Benign"];
    let table_verdicts: Vec<usize> = verdicts
        .iter()
        .map(|v| rows.iter().filter(|r| r.get(1) == Some(v)).count())
        .collect();
    let said = verdicts
        .iter()
        .zip(&table_verdicts)
        .map(|(v, n)| format!("{v}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if field("Verdicts") != Some(said.as_str()) {
        bad.push(format!(
            "Verdicts {:?}, host table says {said}",
            field("Verdicts")
        ));
    }
    let summary = format!(
        "{} of {} analyzed hosts are likely compromised",
        table_verdicts[0],
        rows.len()
    );
    if !report.contains(&summary) {
        bad.push(format!("executive summary does not say \"{summary}\""));
    }
    if table_verdicts[1] > 0 || report.contains("## Executive Summary") {
        let sus = format!(", {} suspicious", table_verdicts[1]);
        if !report.contains(&sus) {
            bad.push(format!("executive summary does not say \"{sus}\""));
        }
    }
    // Alerts: the severity of each one listed.
    let mut listed = [0usize; 5];
    let mut in_alert = false;
    for l in report.lines() {
        if l.starts_with("### ALERT-") {
            in_alert = true;
        } else if l.starts_with("## ") || l.starts_with("### FLEET-") {
            in_alert = false;
        } else if let (true, Some(sev)) = (in_alert, l.strip_prefix("**Severity:** ")) {
            let sev = sev.trim_end();
            match ORDER.iter().position(|s| s.label() == sev) {
                Some(i) => listed[i] += 1,
                None => bad.push(format!("alert with unknown severity {sev:?}")),
            }
            in_alert = false;
        }
    }
    let headings = report
        .lines()
        .filter(|l| l.starts_with("### ALERT-"))
        .count();
    if headings != listed.iter().sum::<usize>() {
        bad.push(format!(
            "{headings} alert headings, {} alert severities",
            listed.iter().sum::<usize>()
        ));
    }
    let said: Vec<String> = ORDER
        .iter()
        .zip(listed)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{}: {n}", s.label()))
        .collect();
    let said = if said.is_empty() {
        headings.to_string()
    } else {
        format!("{headings} ({})", said.join(", "))
    };
    if field("Alerts") != Some(said.as_str()) {
        bad.push(format!(
            "Alerts {:?}, the report lists {said}",
            field("Alerts")
        ));
    }
    // Hosts with alerts have a row (alerts say "on HOST").
    let highest_listed = ORDER
        .iter()
        .zip(listed)
        .find(|(_, n)| *n > 0)
        .map(|(s, _)| s.label());
    if field("Highest severity").is_some_and(|h| Some(h) != highest_listed && headings > 0) {
        bad.push(format!(
            "Highest severity {:?}, highest alert {highest_listed:?}",
            field("Highest severity")
        ));
    }
    bad
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
    fn with_stacking_alerts_show_prevalence_and_rank_rarest_first_within_a_severity() {
        let hosts = [
            host("a", "a.zip", &[Severity::Low]),
            host("b", "b.zip", &[Severity::Low]),
            host("c", "c.zip", &[Severity::High, Severity::Low]),
        ];
        let index: Vec<HostEntry> = hosts.iter().map(HostEntry::of).collect();
        let summary = StackingSummary {
            hosts: 3,
            rare_at_most: 1,
            ..StackingSummary::default()
        };
        let prevalence = |f: &Finding| if f.rule == "rule-low-0" { 2 } else { 1 };
        let mut w = FleetWriter::new(&index).with_stacking(&summary, &prevalence);
        let mut out = Vec::new();
        let mut sections: [io::Cursor<Vec<u8>>; 5] = Default::default();
        w.write_head(&mut out, &[], &[]).unwrap();
        for h in &hosts {
            w.add(h, &mut sections).unwrap();
        }
        w.write_alerts(&mut out, &mut sections).unwrap();
        w.write_tail(&mut out, &[], &[]).unwrap();
        let r = String::from_utf8(out).unwrap();
        assert_eq!(
            alert_lines(&r),
            [
                "### ALERT-001: Title of rule-high-0 on c",
                "### ALERT-002: Title of rule-low-1 on c",
                "### ALERT-003: Title of rule-low-0 on a",
                "### ALERT-004: Title of rule-low-0 on b",
            ]
        );
        assert!(r.contains("**Prevalence:** on 2 of 3 hosts"), "{r}");
        assert!(r.contains("(on 1 of 3 hosts)"), "{r}");
        assert!(r.contains("## Stacking\n"), "{r}");
        // Without stacking: host order, no prevalence.
        let plain = render(&hosts, &[], &[]);
        assert_eq!(
            alert_lines(&plain)[1..],
            [
                "### ALERT-002: Title of rule-low-0 on a",
                "### ALERT-003: Title of rule-low-0 on b",
                "### ALERT-004: Title of rule-low-1 on c",
            ]
        );
        assert!(!plain.contains("Prevalence") && !plain.contains("## Stacking"));
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

    #[test]
    fn summary_counts_match_the_alerts_and_hosts_listed() {
        let mut off = host("img", "img.zip", &[Severity::High, Severity::Low]);
        off.target = "image:/mnt/disk".into();
        let hosts = [
            host("a", "a.zip", &[Severity::Low, Severity::High]),
            host(
                "b",
                "b.zip",
                &[Severity::High, Severity::Critical, Severity::Medium],
            ),
            host("c", "c.zip", &[]),
            host(
                "d",
                "d.zip",
                &[
                    Severity::High,
                    Severity::High,
                    Severity::Medium,
                    Severity::Low,
                    Severity::Critical,
                    Severity::Info,
                ],
            ),
            off,
        ];
        let r = render(&hosts, &[], &[]);
        assert_eq!(summary_mismatches(&r), Vec::<String>::new(), "{r}");
        assert!(
            r.contains("**Alerts:** 13 (CRITICAL: 2, HIGH: 5, MEDIUM: 2, LOW: 3, INFO: 1)  \n"),
            "{r}"
        );
        // The checker does catch a summary that says something else.
        let wrong = r.replace("**Alerts:** 13 (", "**Alerts:** 12 (");
        assert_eq!(summary_mismatches(&wrong).len(), 1, "{wrong}");
        let wrong = r.replace("Suspicious: 1", "Suspicious: 3");
        assert!(!summary_mismatches(&wrong).is_empty());
        let r = render(&[host("c", "c.zip", &[])], &[], &[]);
        assert_eq!(summary_mismatches(&r), Vec::<String>::new(), "{r}");
        assert!(r.contains("**Alerts:** 0  \n"), "{r}");
    }

    #[test]
    fn an_offline_image_with_rules_not_evaluated_is_not_complete() {
        let mut a = host("img", "img.zip", &[]);
        a.target = "image:/mnt/disk".into();
        for rule in ["deleted-exe-running", "interpreter-listening"] {
            a.not_evaluated
                .push(dossier_plugin_api::analysis::NotEvaluated {
                    rule: rule.into(),
                    title: rule.into(),
                    reason: "collector 'proc' not available: no live /proc (offline image)".into(),
                });
        }
        let mut live = host("live", "live.zip", &[]);
        live.not_evaluated = a.not_evaluated[..1].to_vec();
        let r = render(&[a, live, host("ok", "ok.zip", &[])], &[], &[]);
        assert!(
            r.contains("| offline image (2 rules not evaluated) |"),
            "{r}"
        );
        assert!(r.contains("| incomplete (1 rule not evaluated) |"), "{r}");
        assert!(
            r.contains("| ok | Unclear/Benign | 0 | 0 | - | complete |"),
            "{r}"
        );
    }

    #[test]
    fn risk_assessments_speak_of_their_finding_and_name_techniques() {
        let mut h = host("a", "a.zip", &[Severity::High, Severity::Low]);
        h.hits[0].mitre = vec!["T1036.005".into()];
        h.findings[0].subject = "/var/log/log".into();
        h.findings[0].explanation =
            "unit python.service runs /var/log/log: it lives in /var/log".into();
        h.hits[1].mitre = vec!["T1053.003".into()];
        let r = render(&[h], &[], &[]);
        assert!(
            r.contains("**MITRE ATT&CK:** T1036.005 Masquerading: Match Legitimate Resource Name or Location\n"),
            "{r}"
        );
        assert!(
            r.contains("**Risk Assessment:** HIGH: On `/var/log/log`: unit python.service runs /var/log/log: it lives in /var/log. As T1036.005 Masquerading: Match Legitimate Resource Name or Location, it lets an attacker hide from administrators and security tools. Typical of intrusions"),
            "{r}"
        );
        assert!(r.contains("it lets an attacker run code of their choice on the host, keep access across reboots and password changes and gain higher privileges"), "{r}");
        let risks: Vec<&str> = r
            .lines()
            .filter(|l| l.starts_with("**Risk Assessment:**"))
            .collect();
        assert_eq!(risks.len(), 2);
        assert_ne!(risks[0], risks[1]);
        assert!(r.contains("**Technique names:** MITRE ATT&CK v"), "{r}");
    }

    #[test]
    fn packaged_unmodified_files_are_no_iocs() {
        let mut h = host("a", "a.zip", &[Severity::High]);
        h.findings[0]
            .iocs
            .push(Ioc::Path("/usr/bin/python3.11".into()));
        h.executables
            .push(dossier_plugin_api::analysis::ExecutableSeen {
                path: "/usr/bin/python3.11".into(),
                sha256: Some("12".repeat(32)),
                referenced_by: vec!["process 7".into()],
                member: None,
                packaged: true,
            });
        h.findings[0].iocs.push(Ioc::Sha256("12".repeat(32)));
        let r = render(&[h.clone()], &[], &[]);
        assert!(!r.contains("python3.11"), "{r}");
        assert!(!r.contains(&"12".repeat(32)), "{r}");
        assert!(r.contains("| `/tmp/x` | path |"), "{r}");
        let host_report = crate::host::render(&h);
        assert!(
            !host_report
                .split("## Evidence")
                .next()
                .unwrap()
                .contains("python3.11"),
            "{host_report}"
        );
    }
}
