//! Markdown text helpers shared by every report (the bottom of the crate: it uses no other
//! module).

/// Escapes text for a Markdown table cell or inline span.
pub fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ").replace('`', "'")
}
