//! The one-pass writer of the fleet report: it keeps the host entries, a small record per
//! alert (where its text is in its severity's section, and its rank), the site-policy tally,
//! and the hosts of each distinct IOC for the correlation.

use super::alert::{Alert, Prevalence};
use super::entry::HostEntry;
use super::head::{Superseded, write_head};
use super::plugin_findings::write_fleet_findings;
use super::severity::slot;
use crate::markdown::md;
use crate::policy::PolicyTally;
use crate::words::{comma, english};
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{HostAnalysis, Ioc, NotCollected, PluginUse, Unanalyzed};
use dossier_plugin_api::analyzer::FleetFinding;
use dossier_plugin_api::policy::StackingSummary;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Seek, SeekFrom, Write};

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
    /// A paragraph on the imported events analyzed in the same run.
    events: Option<&'a str>,
    /// Bundles superseded by a newer one of their host (`dossier merge`).
    superseded: &'a [Superseded],
    /// The language of the report.
    cat: &'a Catalog,
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
            events: None,
            superseded: &[],
            cat: english(),
        }
    }

    /// In the language of this catalogue (English without it).
    pub fn with_catalog(mut self, c: &'a Catalog) -> Self {
        self.cat = c;
        self
    }

    /// With bundles superseded by a newer one of the same host (`dossier merge`): listed
    /// after the targets not collected.
    pub fn with_superseded(mut self, superseded: &'a [Superseded]) -> Self {
        self.superseded = superseded;
        self
    }

    /// With imported events analyzed in the same run: `summary` (Markdown) follows the
    /// executive summary.
    pub fn with_events(mut self, summary: &'a str) -> Self {
        self.events = Some(summary);
        self
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
        write_head(
            self.hosts,
            o,
            (unanalyzed, not_collected),
            self.events,
            self.superseded,
            self.cat,
        )
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
            let alert = Alert::new(h, hit, self.stacking.as_ref().map(|(_, p)| *p));
            let mut o = Vec::new();
            alert.write(&mut o, of, self.cat)?;
            sections[i].write_all(&o)?;
            self.chunks.push(Chunk {
                slot: i,
                rank: alert.rank(),
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
        let c = self.cat;
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
            writeln!(o, "{}\n", c.text("fleet.no_alerts"))?;
        }
        if !fleet_findings.is_empty() {
            write_fleet_findings(o, fleet_findings, self.hosts.len(), c)?;
        }
        if let Some((s, _)) = &self.stacking {
            crate::policy::write_stacking(o, s, c)?;
        }
        self.tally.write(o, self.hosts.len(), c)?;
        self.plugins.extend(reporters.iter().cloned());
        let plugins = std::mem::take(&mut self.plugins);
        writeln!(o, "## {}\n", c.text("fleet.correlation.heading"))?;
        self.write_correlation(o)?;
        if !plugins.is_empty() {
            let columns: Vec<String> = ["kind", "name", "version", "library", "sha256"]
                .iter()
                .map(|k| c.text(&format!("fleet.plugins.{k}")).to_string())
                .collect();
            writeln!(
                o,
                "\n## {}\n\n{}\n\n| {} |\n|---|---|---|---|---|",
                c.text("fleet.plugins.heading"),
                c.text("fleet.plugins.intro"),
                columns.join(" | ")
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
        let c = self.cat;
        if self.iocs.is_empty() {
            return writeln!(o, "{}", c.text("fleet.correlation.none"));
        }
        let mut by_id: Vec<&str> = vec![""; self.names.len()];
        for (name, &id) in &self.names {
            by_id[id as usize] = name;
        }
        let columns: Vec<String> = ["ioc", "type", "hosts", "seen_on"]
            .iter()
            .map(|k| c.text(&format!("fleet.correlation.{k}")).to_string())
            .collect();
        writeln!(o, "| {} |\n|---|---|---|---|", columns.join(" | "))?;
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
            let names: Vec<String> = hs.iter().map(|h| md(h)).collect();
            writeln!(
                o,
                "| `{}` | {} | {} | {} |",
                md(&ioc.value()),
                c.text(&format!("fleet.correlation.kind.{}", ioc.kind())),
                c.format(
                    "fleet.correlation.count",
                    &[("n", &hs.len()), ("of", &self.hosts.len())]
                ),
                comma(c, &names)
            )?;
        }
        Ok(())
    }
}
