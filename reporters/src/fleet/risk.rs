//! Risk assessments in prose: the techniques of a finding by name, what their tactics give
//! an attacker, and how urgent the finding is.

use super::severity::urgency;
use crate::markdown::md;
use dossier_plugin_api::analysis::{Finding, RuleHit};
use dossier_plugin_api::attack;

/// Technique ids with their names, as prose: "A", "A and B", "A; B and C" (names can hold
/// commas, never semicolons).
pub(super) fn techniques(mitre: &[String]) -> String {
    let labels: Vec<String> = mitre.iter().map(|m| attack::label(m)).collect();
    match labels.as_slice() {
        [] => String::new(),
        [one] => md(one),
        [rest @ .., last] => format!("{} and {}", md(&rest.join("; ")), md(last)),
    }
}

/// What the ATT&CK techniques `mitre` give an attacker, from their tactics ("keep access
/// across reboots... and hide from administrators..."), or `None` when no id is known.
pub(super) fn gains(mitre: &[String]) -> Option<String> {
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
pub(super) fn risk(hit: &RuleHit, findings: &[&Finding]) -> String {
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
