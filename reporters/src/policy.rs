//! Report sections for site policy and fleet context: what the allowlist, a baseline and fleet
//! stacking took out of a host's score (shown, never dropped), allowlisted files whose hash no
//! longer matches, *Changed since baseline*, and the fleet's *Stacking* section. Host sections
//! are rendered from the host's analysis; fleet sections from a [`PolicyTally`] kept while the
//! fleet writer passes over the hosts (one count per distinct finding or item).

use crate::markdown::md;
use dossier_plugin_api::analysis::{Finding, HostAnalysis};
use dossier_plugin_api::policy::{Item, Seen, StackingSummary, finding_key};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Items listed per *Changed since baseline* list at most (the rest are counted).
pub const LISTED: usize = 100;

fn finding_line(f: &Finding) -> String {
    format!("`{}` {}: {}", f.rule, md(&f.subject), md(&f.explanation))
}

fn seen_line(s: &Seen) -> String {
    format!(
        "{} (`{}`{})",
        md(&s.item.label()),
        md(&s.member),
        s.line.map(|l| format!(" line {l}")).unwrap_or_default()
    )
}

fn capped<T>(o: &mut String, items: &[T], line: impl Fn(&T) -> String) {
    for i in items.iter().take(LISTED) {
        let _ = writeln!(o, "- {}", line(i));
    }
    if items.len() > LISTED {
        let _ = writeln!(
            o,
            "- ... and {} more (see findings.json)",
            items.len() - LISTED
        );
    }
}

/// The host report's policy sections (nothing when no policy applied).
pub fn host_sections(o: &mut String, a: &HostAnalysis) {
    let p = &a.policy;
    if !p.allow_changed.is_empty() {
        let _ = writeln!(
            o,
            "\n### Allowlisted hash no longer matches\n\nAn allowlisted file has another content: the allowlist entry no longer applies to it (its findings stay scored).\n"
        );
        for c in &p.allow_changed {
            let ev = c
                .evidence
                .iter()
                .map(|e| {
                    format!(
                        "`{}`{}",
                        md(&e.member),
                        e.line.map(|l| format!(" line {l}")).unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                o,
                "- `{}`: allowed SHA-256 `{}`, seen `{}` (allowed because: {}); evidence {ev}",
                md(&c.path),
                c.allowed_sha256,
                c.seen_sha256,
                md(&c.reason)
            );
        }
    }
    if !p.allowed.is_empty() {
        let _ = writeln!(o, "\n### Allowed by site policy (not scored)\n");
        for x in &p.allowed {
            let _ = writeln!(
                o,
                "- {} (reason: {}; entry: {})",
                finding_line(&x.finding),
                md(&x.reason),
                md(&x.entry)
            );
        }
    }
    if !p.known.is_empty() {
        let _ = writeln!(
            o,
            "\n### Known from baseline (not scored)\n\nThe subject of these findings is in the baseline with the same path and hash.\n"
        );
        for f in &p.known {
            let _ = writeln!(o, "- {}", finding_line(f));
        }
    }
    if !p.common.is_empty() {
        let _ = writeln!(
            o,
            "\n### Common across the fleet (not scored)\n\nThe same finding is on more hosts than `[analysis.stacking] common_share` allows: left out of the score.\n"
        );
        for c in &p.common {
            let _ = writeln!(
                o,
                "- {} (on {} of {} hosts)",
                finding_line(&c.finding),
                c.hosts,
                c.of
            );
        }
    }
    if let Some(d) = &p.baseline {
        let _ = writeln!(
            o,
            "\n## Changed since baseline\n\nBaseline `{}` (SHA-256 `{}`): {} item(s) known, {} new, {} changed, {} removed.",
            md(&d.baseline),
            d.baseline_sha256,
            d.known,
            d.new.len(),
            d.changed.len(),
            d.removed.len()
        );
        if !d.new.is_empty() {
            let _ = writeln!(o, "\n**New:**\n");
            capped(o, &d.new, seen_line);
        }
        if !d.changed.is_empty() {
            let _ = writeln!(o, "\n**Changed:**\n");
            capped(o, &d.changed, |c| {
                format!(
                    "{}; baseline: {}",
                    seen_line(&c.now),
                    c.was
                        .iter()
                        .map(|w| md(&w.label()))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            });
        }
        if !d.removed.is_empty() {
            let _ = writeln!(o, "\n**Removed:**\n");
            capped(o, &d.removed, |i| md(&i.label()));
        }
    }
}

/// Counts kept by the fleet writer: policy outcomes per distinct finding or item.
#[derive(Debug, Default)]
pub struct PolicyTally {
    /// (rule, subject, reason) -> hosts.
    allowed: BTreeMap<(String, String, String), BTreeSet<String>>,
    known: BTreeMap<(String, String), BTreeSet<String>>,
    common: BTreeMap<(String, String), (u32, u32, BTreeSet<String>)>,
    /// (path, allowed, seen) -> hosts.
    changed_hash: BTreeMap<(String, String, String), BTreeSet<String>>,
    /// (status, item) -> hosts (at most five names kept) and count.
    baseline: BTreeMap<(&'static str, Item), (usize, BTreeSet<String>)>,
    baseline_names: BTreeSet<(String, String)>,
}

const NAMES: usize = 5;

fn note(set: &mut BTreeSet<String>, host: &str) {
    if set.len() < NAMES || set.contains(host) {
        set.insert(host.to_string());
    }
}

impl PolicyTally {
    /// Counts one host.
    pub fn add(&mut self, a: &HostAnalysis) {
        let h = a.hostname.as_str();
        let p = &a.policy;
        for x in &p.allowed {
            let k = (
                x.finding.rule.clone(),
                x.finding.subject.clone(),
                x.reason.clone(),
            );
            note(self.allowed.entry(k).or_default(), h);
        }
        for f in &p.known {
            note(
                self.known
                    .entry((f.rule.clone(), f.subject.clone()))
                    .or_default(),
                h,
            );
        }
        for c in &p.common {
            let e = self
                .common
                .entry((c.finding.rule.clone(), finding_key(&c.finding)))
                .or_insert((c.hosts, c.of, BTreeSet::new()));
            note(&mut e.2, &c.finding.subject);
        }
        for c in &p.allow_changed {
            let k = (
                c.path.clone(),
                c.allowed_sha256.clone(),
                c.seen_sha256.clone(),
            );
            note(self.changed_hash.entry(k).or_default(), h);
        }
        if let Some(d) = &p.baseline {
            self.baseline_names
                .insert((d.baseline.clone(), d.baseline_sha256.clone()));
            let mut add = |status: &'static str, item: &Item| {
                let e = self.baseline.entry((status, item.clone())).or_default();
                e.0 += 1;
                if e.1.len() < NAMES {
                    e.1.insert(h.to_string());
                }
            };
            for s in &d.new {
                add("new", &s.item);
            }
            for c in &d.changed {
                add("changed", &c.now.item);
            }
            for i in &d.removed {
                add("removed", i);
            }
        }
    }

    /// The fleet report's policy sections.
    pub fn write(&self, o: &mut dyn Write, hosts: usize) -> io::Result<()> {
        let list = |s: &BTreeSet<String>, n: usize| {
            let names = s.iter().map(|h| md(h)).collect::<Vec<_>>().join(", ");
            if n > s.len() {
                format!("{names} and {} more", n - s.len())
            } else {
                names
            }
        };
        if !self.changed_hash.is_empty() {
            writeln!(o, "## Allowlisted hash no longer matches\n")?;
            for ((path, allowed, seen), hs) in &self.changed_hash {
                writeln!(
                    o,
                    "- `{}`: allowed SHA-256 `{allowed}`, seen `{seen}` on {}",
                    md(path),
                    list(hs, hs.len())
                )?;
            }
            writeln!(o)?;
        }
        if !self.allowed.is_empty() {
            writeln!(o, "## Allowed by site policy\n")?;
            writeln!(
                o,
                "Findings the playbook's `[[analysis.allow]]` entries took out of the score (see each host report).\n"
            )?;
            for ((rule, subject, reason), hs) in &self.allowed {
                writeln!(
                    o,
                    "- `{rule}` {}: reason: {} (on {})",
                    md(subject),
                    md(reason),
                    list(hs, hs.len())
                )?;
            }
            writeln!(o)?;
        }
        if !self.known.is_empty() {
            writeln!(o, "## Known from baseline\n")?;
            for ((rule, subject), hs) in &self.known {
                writeln!(o, "- `{rule}` {} (on {})", md(subject), list(hs, hs.len()))?;
            }
            writeln!(o)?;
        }
        if !self.common.is_empty() {
            writeln!(
                o,
                "## Common findings left out of the score\n\n`[analysis.stacking] common_share` applied: these findings are on more than that share of the {hosts} hosts, so their weight is 0 on every host that has them.\n"
            )?;
            for ((rule, _), (n, of, subjects)) in &self.common {
                writeln!(
                    o,
                    "- `{rule}` {}: on {n} of {of} hosts",
                    subjects
                        .iter()
                        .map(|s| md(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
            }
            writeln!(o)?;
        }
        if !self.baseline_names.is_empty() {
            writeln!(o, "## Changed since baseline\n")?;
            for (n, sha) in &self.baseline_names {
                writeln!(o, "Baseline `{}` (SHA-256 `{sha}`).", md(n))?;
            }
            for status in ["new", "changed", "removed"] {
                let rows: Vec<_> = self
                    .baseline
                    .iter()
                    .filter(|((s, _), _)| *s == status)
                    .collect();
                writeln!(o, "\n**{status}:** {} item(s)\n", rows.len())?;
                let mut sorted = rows.clone();
                sorted.sort_by(|a, b| (a.1.0, &a.0.1).cmp(&(b.1.0, &b.0.1)));
                for ((_, item), (n, hs)) in sorted.iter().take(LISTED) {
                    writeln!(
                        o,
                        "- {}: on {n} of {hosts} hosts ({})",
                        md(&item.label()),
                        list(hs, *n)
                    )?;
                }
                if rows.len() > LISTED {
                    writeln!(o, "- ... and {} more", rows.len() - LISTED)?;
                }
            }
            writeln!(o)?;
        }
        Ok(())
    }
}

/// The fleet report's *Stacking* section.
pub fn write_stacking(o: &mut dyn Write, s: &StackingSummary) -> io::Result<()> {
    writeln!(
        o,
        "## Stacking\n\nLeast frequency of occurrence over {} hosts: persistence items on at most {} host(s) (max(1, 5% of hosts)), rarest first, whether or not a rule fired. The same name with other content is another item.\n",
        s.hosts, s.rare_at_most
    )?;
    writeln!(o, "| kind | distinct | rare |\n|---|---|---|")?;
    for k in &s.kinds {
        writeln!(o, "| {} | {} | {} |", k.kind, k.distinct, k.rare)?;
    }
    writeln!(o)?;
    if s.rare_persistence.is_empty() {
        writeln!(o, "No rare persistence item.\n")?;
    }
    for r in &s.rare_persistence {
        writeln!(
            o,
            "- {}{}: on {} of {} hosts: {}",
            md(&r.item.label()),
            if r.known {
                " (known from baseline)"
            } else {
                ""
            },
            r.hosts,
            s.hosts,
            r.seen
                .iter()
                .map(|x| format!(
                    "{} (`{}`: `{}`{})",
                    md(&x.hostname),
                    md(&x.bundle),
                    md(&x.member),
                    x.line.map(|l| format!(" line {l}")).unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if s.left_out > 0 {
        writeln!(
            o,
            "\n{} more rare persistence item(s) left out (the list stops at {}; the counts per kind above include them).",
            s.left_out, s.listed_at_most
        )?;
    }
    writeln!(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::host;
    use dossier_plugin_api::analysis::Severity;
    use dossier_plugin_api::policy::{
        AllowChanged, Allowed, BaselineDiff, ChangedItem, Common, Policy,
    };

    fn seen(key: &str) -> Seen {
        Seen {
            item: Item {
                kind: "unit".into(),
                key: key.into(),
                sha256: Some("ab".repeat(32)),
                detail: "/usr/bin/sleep 1".into(),
            },
            member: "records/systemd.jsonl".into(),
            line: Some(4),
            path: None,
        }
    }

    #[test]
    fn every_policy_outcome_is_shown_in_host_and_fleet_reports() {
        let mut a = host("a", "a.zip", &[Severity::Low, Severity::High]);
        let f = a.findings.pop().unwrap();
        a.policy = Policy {
            allowed: vec![Allowed {
                finding: f.clone(),
                reason: "backup agent".into(),
                entry: "path /tmp/x".into(),
            }],
            known: vec![f.clone()],
            common: vec![Common {
                finding: f.clone(),
                hosts: 9,
                of: 10,
            }],
            allow_changed: vec![AllowChanged {
                path: "/opt/agent".into(),
                allowed_sha256: "1".repeat(64),
                seen_sha256: "2".repeat(64),
                reason: "agent".into(),
                evidence: vec![],
            }],
            baseline: Some(BaselineDiff {
                baseline: "gold.json".into(),
                baseline_sha256: "3".repeat(64),
                known: 7,
                new: vec![seen("new.service")],
                changed: vec![ChangedItem {
                    now: seen("x.service"),
                    was: vec![seen("x.service").item],
                }],
                removed: vec![seen("gone.service").item],
            }),
        };
        let mut o = String::new();
        host_sections(&mut o, &a);
        for s in [
            "### Allowlisted hash no longer matches",
            "### Allowed by site policy (not scored)",
            "(reason: backup agent; entry: path /tmp/x)",
            "### Known from baseline (not scored)",
            "### Common across the fleet (not scored)",
            "(on 9 of 10 hosts)",
            "## Changed since baseline",
            "7 item(s) known, 1 new, 1 changed, 1 removed.",
            "- unit new.service (sha256 abababababababab) [/usr/bin/sleep 1] (`records/systemd.jsonl` line 4)",
        ] {
            assert!(o.contains(s), "{s}: {o}");
        }
        let mut t = PolicyTally::default();
        t.add(&a);
        let mut out = Vec::new();
        t.write(&mut out, 1).unwrap();
        let r = String::from_utf8(out).unwrap();
        for s in [
            "## Allowlisted hash no longer matches",
            "## Allowed by site policy",
            "## Known from baseline",
            "## Common findings left out of the score",
            "## Changed since baseline",
            "**removed:** 1 item(s)",
        ] {
            assert!(r.contains(s), "{s}: {r}");
        }
        let mut empty = PolicyTally::default();
        empty.add(&host("b", "b.zip", &[]));
        let mut out = Vec::new();
        empty.write(&mut out, 1).unwrap();
        assert!(out.is_empty());
    }
}
