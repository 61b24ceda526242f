//! Built-in reporters: the per-host Markdown report, the fleet Markdown report and the
//! machine-readable findings JSON. Output depends only on the analyses given (sorted, no
//! wall-clock time), so the same bundles always give byte-identical reports.

pub mod fleet;
pub mod host;
pub mod json;

/// Escapes text for a Markdown table cell or inline span.
pub fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ").replace('`', "'")
}
