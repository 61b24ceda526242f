//! Severities in the fleet report: their order (alerts are numbered and filed by it) and
//! what each asks the reader to do.

use dossier_i18n::Catalog;
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
pub(super) fn urgency(sev: Severity, c: &Catalog) -> String {
    c.text(&format!("urgency.{}", crate::words::severity_key(sev)))
        .to_string()
}
