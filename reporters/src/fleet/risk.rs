//! Risk assessments in prose: the techniques of a finding by name, what their tactics give
//! an attacker, and how urgent the finding is, in the catalogue's language.

use super::severity::urgency;
use crate::markdown::md;
use crate::words::{comma, explanation, prose, rule_title, severity};
use dossier_i18n::Catalog;
use dossier_plugin_api::analysis::{Finding, RuleHit};
use dossier_plugin_api::attack;

/// Technique ids with their names, as prose: "A", "A and B", "A; B and C" (names can hold
/// commas, never semicolons).
pub(super) fn techniques(mitre: &[String], c: &Catalog) -> String {
    let labels: Vec<String> = mitre.iter().map(|m| attack::label(m)).collect();
    match labels.as_slice() {
        [] => String::new(),
        [one] => md(one),
        [rest @ .., last] => format!(
            "{}{}{}",
            md(&rest.join(c.text("list.separator"))),
            c.text("list.and_techniques"),
            md(last)
        ),
    }
}

/// What the ATT&CK techniques `mitre` give an attacker, from their tactics ("keep access
/// across reboots... and hide from administrators..."), or `None` when no id is known.
pub(super) fn gains(mitre: &[String], c: &Catalog) -> Option<String> {
    let mut tactics: Vec<&str> = mitre.iter().flat_map(|m| attack::tactics(m)).collect();
    tactics.sort_unstable();
    tactics.dedup();
    let phrases: Vec<&str> = tactics
        .iter()
        .filter(|t| attack::tactic_gain(t).is_some())
        .filter_map(|t| c.get(&format!("tactic.{t}")).or(attack::tactic_gain(t)))
        .collect();
    if phrases.is_empty() {
        return None;
    }
    Some(prose(&phrases, c.text("list.comma"), c.text("list.and")))
}

/// " As T1234 Name, it lets an attacker ...." or nothing when no tactic is known.
pub(super) fn allows(mitre: &[String], c: &Catalog) -> String {
    gains(mitre, c)
        .map(|g| {
            c.format(
                "fleet.risk.allows",
                &[("techniques", &techniques(mitre, c)), ("gains", &g)],
            )
        })
        .unwrap_or_default()
}

/// A sentence without its final full stop (`.` or `。`), for a template that adds its own.
pub(super) fn unstopped(s: &str) -> &str {
    s.trim_end_matches(['.', '。'])
}

/// The risk assessment of one alert: what was found on which subject, what the techniques
/// let an attacker do, and how urgent it is.
pub(super) fn risk(hit: &RuleHit, findings: &[&Finding], c: &Catalog) -> String {
    let mut subjects: Vec<&str> = findings
        .iter()
        .map(|f| f.subject.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    subjects.dedup();
    let what = match findings.first() {
        Some(f) if findings.len() == 1 => md(&explanation(c, f)),
        Some(f) => {
            let id = if findings.len() == 2 {
                "fleet.risk.more_one"
            } else {
                "fleet.risk.more_many"
            };
            c.format(
                id,
                &[
                    ("what", &md(&explanation(c, f))),
                    ("n", &(findings.len() - 1)),
                ],
            )
        }
        None => md(rule_title(c, &hit.rule, &hit.title)),
    };
    let on = if subjects.is_empty() {
        String::new()
    } else {
        let spans: Vec<String> = subjects.iter().map(|s| format!("`{}`", md(s))).collect();
        c.format("fleet.risk.on", &[("subjects", &comma(c, &spans))])
    };
    c.format(
        "fleet.risk.line",
        &[
            ("severity", &severity(c, hit.severity)),
            ("on", &on),
            ("what", &unstopped(&what)),
            ("allows", &allows(&hit.mitre, c)),
            ("urgency", &urgency(hit.severity, c)),
        ],
    )
}
