//! Report sections for site policy and fleet context: what the allowlist, a baseline and fleet
//! stacking took out of a host's score (shown, never dropped), allowlisted files whose hash no
//! longer matches, *Changed since baseline*, and the fleet's *Stacking* section. Host sections
//! are rendered from the host's analysis; fleet sections from a [`PolicyTally`] kept while the
//! fleet writer passes over the hosts (one count per distinct finding or item). Fixed text
//! comes from the catalogue given ([`crate::words`]).

use crate::markdown::md;
use crate::words::{comma, explanation, line};
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{Finding, HostAnalysis};
use dossier_plugin_api::policy::{BaselineDiff, Item, Seen, StackingSummary, finding_key};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Items listed per *Changed since baseline* list at most (the rest are counted).
pub const LISTED: usize = 100;

fn finding_line(f: &Finding, c: &Catalog) -> String {
    c.format(
        "policy.finding",
        &[
            ("rule", &f.rule),
            ("subject", &md(&f.subject)),
            ("explanation", &md(&explanation(c, f))),
        ],
    )
}

fn seen_line(s: &Seen, c: &Catalog) -> String {
    c.format(
        "policy.seen",
        &[
            ("item", &md(&s.item.label())),
            ("member", &md(&s.member)),
            ("line", &line(c, s.line)),
        ],
    )
}

fn capped<T>(o: &mut String, items: &[T], c: &Catalog, show: impl Fn(&T) -> String) {
    for i in items.iter().take(LISTED) {
        let _ = writeln!(o, "- {}", show(i));
    }
    if items.len() > LISTED {
        let _ = writeln!(
            o,
            "- {}",
            c.format("policy.more", &[("n", &(items.len() - LISTED))])
        );
    }
}

/// The host report's policy sections (nothing when no policy applied).
pub fn host_sections(o: &mut String, a: &HostAnalysis, c: &Catalog) {
    let p = &a.policy;
    let t = |id: &str| c.text(id).to_string();
    if !p.allow_changed.is_empty() {
        let _ = writeln!(
            o,
            "\n### {}\n\n{}\n",
            t("policy.host.changed_hash_heading"),
            t("policy.host.changed_hash_intro")
        );
        for x in &p.allow_changed {
            let ev: Vec<String> = x
                .evidence
                .iter()
                .map(|e| format!("`{}`{}", md(&e.member), line(c, e.line)))
                .collect();
            let _ = writeln!(
                o,
                "- {}",
                c.format(
                    "policy.host.changed_hash",
                    &[
                        ("path", &md(&x.path)),
                        ("allowed", &x.allowed_sha256),
                        ("seen", &x.seen_sha256),
                        ("reason", &md(&x.reason)),
                        ("evidence", &comma(c, &ev)),
                    ]
                )
            );
        }
    }
    if !p.allowed.is_empty() {
        let _ = writeln!(o, "\n### {}\n", t("policy.host.allowed_heading"));
        for x in &p.allowed {
            let _ = writeln!(
                o,
                "- {}",
                c.format(
                    "policy.host.allowed",
                    &[
                        ("finding", &finding_line(&x.finding, c)),
                        ("reason", &md(&x.reason)),
                        ("entry", &md(&x.entry)),
                    ]
                )
            );
        }
    }
    if !p.known.is_empty() {
        let _ = writeln!(
            o,
            "\n### {}\n\n{}\n",
            t("policy.host.known_heading"),
            t("policy.host.known_intro")
        );
        for f in &p.known {
            let _ = writeln!(o, "- {}", finding_line(f, c));
        }
    }
    if !p.common.is_empty() {
        let _ = writeln!(
            o,
            "\n### {}\n\n{}\n",
            t("policy.host.common_heading"),
            t("policy.host.common_intro")
        );
        for x in &p.common {
            let _ = writeln!(
                o,
                "- {}",
                c.format(
                    "policy.host.common",
                    &[
                        ("finding", &finding_line(&x.finding, c)),
                        ("n", &x.hosts),
                        ("of", &x.of),
                    ]
                )
            );
        }
    }
    if let Some(d) = &p.baseline {
        baseline_section(o, d, c);
    }
}

/// The host report's *Changed since baseline*.
fn baseline_section(o: &mut String, d: &BaselineDiff, c: &Catalog) {
    let t = |id: &str| c.text(id).to_string();
    let _ = writeln!(
        o,
        "\n## {}\n\n{}",
        t("policy.host.baseline_heading"),
        c.format(
            "policy.host.baseline",
            &[
                ("name", &md(&d.baseline)),
                ("sha256", &d.baseline_sha256),
                ("known", &d.known),
                ("new", &d.new.len()),
                ("changed", &d.changed.len()),
                ("removed", &d.removed.len()),
            ]
        )
    );
    if !d.new.is_empty() {
        let _ = writeln!(o, "\n**{}**\n", t("policy.host.new"));
        capped(o, &d.new, c, |s| seen_line(s, c));
    }
    if !d.changed.is_empty() {
        let _ = writeln!(o, "\n**{}**\n", t("policy.host.changed"));
        capped(o, &d.changed, c, |x| {
            let was: Vec<String> = x.was.iter().map(|w| md(&w.label())).collect();
            c.format(
                "policy.host.changed_item",
                &[
                    ("now", &seen_line(&x.now, c)),
                    ("was", &was.join(c.text("list.separator"))),
                ],
            )
        });
    }
    if !d.removed.is_empty() {
        let _ = writeln!(o, "\n**{}**\n", t("policy.host.removed"));
        capped(o, &d.removed, c, |i| md(&i.label()));
    }
}

/// Host names (at most [`NAMES`] kept) of `n` hosts: "a, b and 3 more".
fn names_list(s: &BTreeSet<String>, n: usize, c: &Catalog) -> String {
    let names: Vec<String> = s.iter().map(|h| md(h)).collect();
    let names = comma(c, &names);
    if n > s.len() {
        c.format(
            "policy.names_more",
            &[("names", &names), ("n", &(n - s.len()))],
        )
    } else {
        names
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
    pub fn write(&self, o: &mut dyn Write, hosts: usize, c: &Catalog) -> io::Result<()> {
        let list = |s: &BTreeSet<String>, n: usize| names_list(s, n, c);
        if !self.changed_hash.is_empty() {
            writeln!(o, "## {}\n", c.text("policy.fleet.changed_hash_heading"))?;
            for ((path, allowed, seen), hs) in &self.changed_hash {
                writeln!(
                    o,
                    "- {}",
                    c.format(
                        "policy.fleet.changed_hash",
                        &[
                            ("path", &md(path)),
                            ("allowed", allowed),
                            ("seen", seen),
                            ("hosts", &list(hs, hs.len())),
                        ]
                    )
                )?;
            }
            writeln!(o)?;
        }
        if !self.allowed.is_empty() {
            writeln!(o, "## {}\n", c.text("policy.fleet.allowed_heading"))?;
            writeln!(o, "{}\n", c.text("policy.fleet.allowed_intro"))?;
            for ((rule, subject, reason), hs) in &self.allowed {
                writeln!(
                    o,
                    "- {}",
                    c.format(
                        "policy.fleet.allowed",
                        &[
                            ("rule", rule),
                            ("subject", &md(subject)),
                            ("reason", &md(reason)),
                            ("hosts", &list(hs, hs.len())),
                        ]
                    )
                )?;
            }
            writeln!(o)?;
        }
        if !self.known.is_empty() {
            writeln!(o, "## {}\n", c.text("policy.fleet.known_heading"))?;
            for ((rule, subject), hs) in &self.known {
                writeln!(
                    o,
                    "- {}",
                    c.format(
                        "policy.fleet.known",
                        &[
                            ("rule", rule),
                            ("subject", &md(subject)),
                            ("hosts", &list(hs, hs.len())),
                        ]
                    )
                )?;
            }
            writeln!(o)?;
        }
        if !self.common.is_empty() {
            writeln!(
                o,
                "## {}\n\n{}\n",
                c.text("policy.fleet.common_heading"),
                c.format("policy.fleet.common_intro", &[("hosts", &hosts)])
            )?;
            for ((rule, _), (n, of, subjects)) in &self.common {
                let subjects: Vec<String> = subjects.iter().map(|s| md(s)).collect();
                writeln!(
                    o,
                    "- {}",
                    c.format(
                        "policy.fleet.common",
                        &[
                            ("rule", rule),
                            ("subjects", &comma(c, &subjects)),
                            ("n", n),
                            ("of", of),
                        ]
                    )
                )?;
            }
            writeln!(o)?;
        }
        self.write_baseline(o, hosts, c)
    }

    /// The fleet report's *Changed since baseline*: items new, changed or removed on how many
    /// hosts.
    fn write_baseline(&self, o: &mut dyn Write, hosts: usize, c: &Catalog) -> io::Result<()> {
        let list = |s: &BTreeSet<String>, n: usize| names_list(s, n, c);
        if !self.baseline_names.is_empty() {
            writeln!(o, "## {}\n", c.text("policy.fleet.baseline_heading"))?;
            for (n, sha) in &self.baseline_names {
                writeln!(
                    o,
                    "{}",
                    c.format(
                        "policy.fleet.baseline",
                        &[("name", &md(n)), ("sha256", sha)]
                    )
                )?;
            }
            for status in ["new", "changed", "removed"] {
                let rows: Vec<_> = self
                    .baseline
                    .iter()
                    .filter(|((s, _), _)| *s == status)
                    .collect();
                writeln!(
                    o,
                    "\n{}\n",
                    c.format(
                        "policy.fleet.status",
                        &[
                            ("status", &c.text(&format!("policy.fleet.{status}"))),
                            ("n", &rows.len()),
                        ]
                    )
                )?;
                let mut sorted = rows.clone();
                sorted.sort_by(|a, b| (a.1.0, &a.0.1).cmp(&(b.1.0, &b.0.1)));
                for ((_, item), (n, hs)) in sorted.iter().take(LISTED) {
                    writeln!(
                        o,
                        "- {}",
                        c.format(
                            "policy.fleet.item",
                            &[
                                ("item", &md(&item.label())),
                                ("n", n),
                                ("of", &hosts),
                                ("hosts", &list(hs, *n)),
                            ]
                        )
                    )?;
                }
                if rows.len() > LISTED {
                    writeln!(
                        o,
                        "- {}",
                        c.format("policy.more_plain", &[("n", &(rows.len() - LISTED))])
                    )?;
                }
            }
            writeln!(o)?;
        }
        Ok(())
    }
}

/// The fleet report's *Stacking* section.
pub fn write_stacking(o: &mut dyn Write, s: &StackingSummary, c: &Catalog) -> io::Result<()> {
    writeln!(
        o,
        "## {}\n\n{}\n",
        c.text("policy.stacking.heading"),
        c.format(
            "policy.stacking.intro",
            &[("hosts", &s.hosts), ("rare", &s.rare_at_most)]
        )
    )?;
    writeln!(
        o,
        "| {} | {} | {} |\n|---|---|---|",
        c.text("policy.stacking.kind"),
        c.text("policy.stacking.distinct"),
        c.text("policy.stacking.rare")
    )?;
    for k in &s.kinds {
        writeln!(o, "| {} | {} | {} |", k.kind, k.distinct, k.rare)?;
    }
    writeln!(o)?;
    if s.rare_persistence.is_empty() {
        writeln!(o, "{}\n", c.text("policy.stacking.none"))?;
    }
    for r in &s.rare_persistence {
        let seen: Vec<String> = r
            .seen
            .iter()
            .map(|x| {
                c.format(
                    "policy.stacking.seen",
                    &[
                        ("host", &md(&x.hostname)),
                        ("bundle", &md(&x.bundle)),
                        ("member", &md(&x.member)),
                        ("line", &line(c, x.line)),
                    ],
                )
            })
            .collect();
        let known = if r.known {
            c.text("policy.stacking.known")
        } else {
            ""
        };
        writeln!(
            o,
            "- {}",
            c.format(
                "policy.stacking.item",
                &[
                    ("item", &md(&r.item.label())),
                    ("known", &known),
                    ("n", &r.hosts),
                    ("of", &s.hosts),
                    ("seen", &comma(c, &seen)),
                ]
            )
        )?;
    }
    if s.left_out > 0 {
        writeln!(
            o,
            "\n{}",
            c.format(
                "policy.stacking.left_out",
                &[("n", &s.left_out), ("max", &s.listed_at_most)]
            )
        )?;
    }
    writeln!(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::host;
    use crate::words::english as en;
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
        host_sections(&mut o, &a, en());
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
        t.write(&mut out, 1, en()).unwrap();
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
        empty.write(&mut out, 1, en()).unwrap();
        assert!(out.is_empty());
    }
}
