//! The text of one alert (one rule hit on one host) of the fleet report, without its number:
//! severity, category and points, ATT&CK ids, prevalence with stacking, the findings, their
//! evidence and a risk assessment.

use super::risk::risk;
use crate::markdown::md;
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

    /// Writes the alert's text, `of` the number of hosts in the fleet.
    pub(super) fn write(&self, o: &mut dyn Write, of: usize) -> io::Result<()> {
        let (h, hit, fs, prev) = (self.host, self.hit, &self.findings[..], &self.prevalence);
        let rank = self.rank();
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
            if self.stacking {
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
        for f in fs {
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
        writeln!(o, "\n**Risk Assessment:** {}\n\n---\n", risk(hit, fs))?;
        Ok(())
    }
}
