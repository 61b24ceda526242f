//! The text of one alert (one rule hit on one host) of the fleet report, without its number:
//! severity, category and points, ATT&CK ids, prevalence with stacking, the findings, their
//! evidence and a risk assessment.

use super::risk::risk;
use crate::markdown::md;
use crate::words::{evidence_what, explanation, line, rule_title, severity};
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{Finding, HostAnalysis, RuleHit};
use dossier_plugin_api::attack;
use std::io::{self, Write};

/// On how many hosts a finding is (fleet stacking).
pub type Prevalence<'a> = &'a dyn Fn(&Finding) -> u32;

/// One rule hit on one host, with the host's findings of that rule.
pub(super) struct Alert<'h> {
    host: &'h HostAnalysis,
    hit: &'h RuleHit,
    findings: Vec<&'h Finding>,
    /// On how many hosts each finding is (empty without stacking).
    prevalence: Vec<u32>,
    stacking: bool,
}

impl<'h> Alert<'h> {
    /// The alert of `hit` on `host`; `prevalence` with fleet stacking.
    pub(super) fn new(
        host: &'h HostAnalysis,
        hit: &'h RuleHit,
        prevalence: Option<Prevalence<'_>>,
    ) -> Self {
        let findings: Vec<_> = host
            .findings
            .iter()
            .filter(|f| f.rule == hit.rule)
            .collect();
        let stacking = prevalence.is_some();
        let prevalence: Vec<u32> = match prevalence {
            Some(p) => findings.iter().map(|f| p(f)).collect(),
            None => Vec::new(),
        };
        Alert {
            host,
            hit,
            findings,
            prevalence,
            stacking,
        }
    }

    /// Hosts with its rarest finding (0 without stacking: alerts stay in host order).
    pub(super) fn rank(&self) -> u32 {
        self.prevalence.iter().copied().min().unwrap_or(0)
    }

    /// Writes the alert's text, `of` the number of hosts in the fleet, in the language of `c`.
    pub(super) fn write(&self, o: &mut dyn Write, of: usize, c: &Catalog) -> io::Result<()> {
        let (h, hit, fs, prev) = (self.host, self.hit, &self.findings[..], &self.prevalence);
        let rank = self.rank();
        // The number goes in front when the alerts are copied in rank order.
        writeln!(
            o,
            ": {}\n",
            c.format(
                "fleet.alert.title",
                &[
                    ("title", &md(rule_title(c, &hit.rule, &hit.title))),
                    ("host", &md(&h.hostname)),
                ]
            )
        )?;
        let points = match (&hit.counted_under, hit.boost) {
            (Some(r), _) => c.format("host.hits.counted_under", &[("rule", r)]),
            (None, 0) => c.format("fleet.alert.points", &[("weight", &hit.weight)]),
            (None, b) => c.format(
                "fleet.alert.points_boost",
                &[("weight", &hit.weight), ("boost", &b)],
            ),
        };
        let prevalence = if self.stacking {
            format!(
                "  \n{}",
                c.format("fleet.alert.prevalence", &[("n", &rank), ("of", &of)])
            )
        } else {
            String::new()
        };
        writeln!(
            o,
            "{}  \n{}  \n{}{prevalence}\n",
            c.format(
                "fleet.alert.severity",
                &[("severity", &severity(c, hit.severity))]
            ),
            c.format(
                "fleet.alert.category",
                &[("rule", &hit.rule), ("points", &points)]
            ),
            c.format(
                "fleet.alert.mitre",
                &[("mitre", &md(&attack::labels(&hit.mitre)))]
            ),
        )?;
        writeln!(o, "{}", c.text("fleet.alert.description"))?;
        for (k, f) in fs.iter().enumerate() {
            let on = prev
                .get(k)
                .map(|n| c.format("fleet.alert.on_hosts", &[("n", n), ("of", &of)]))
                .unwrap_or_default();
            writeln!(o, "- {}{on}", md(&explanation(c, f)))?;
        }
        writeln!(o, "\n{}", c.text("fleet.alert.evidence"))?;
        writeln!(
            o,
            "- {}\n- {}",
            c.format(
                "fleet.alert.host",
                &[("host", &md(&h.hostname)), ("time", &h.collected_started)]
            ),
            c.format(
                "fleet.alert.bundle",
                &[("bundle", &md(&h.bundle)), ("sha256", &h.bundle_sha256)]
            )
        )?;
        for f in fs {
            for e in &f.evidence {
                writeln!(
                    o,
                    "  - {}",
                    c.format(
                        "fleet.alert.evidence_line",
                        &[
                            ("member", &md(&e.member)),
                            ("line", &line(c, e.line)),
                            ("sha256", &e.sha256),
                            ("what", &md(&evidence_what(c, e))),
                        ]
                    )
                )?;
            }
        }
        writeln!(
            o,
            "\n{}\n\n---\n",
            c.format("fleet.alert.risk", &[("risk", &risk(hit, fs, c))])
        )?;
        Ok(())
    }
}
