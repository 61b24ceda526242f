//! Severities in the fleet report: their order (alerts are numbered and filed by it) and
//! what each asks the reader to do.

use dossier_plugin_api::analysis::Severity;

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
pub(super) fn urgency(sev: Severity) -> &'static str {
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
