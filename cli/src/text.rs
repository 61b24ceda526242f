//! Text shown on the terminal: what a hostile host or file could put in it (escape
//! sequences in a host name, an error or a banner) is shown escaped. Used by progress output,
//! the sweep plan's warnings and the commands' result lines.

/// Text for the terminal with control characters (escape sequences a hostile server could
/// send in a host name, an error or a banner) shown as `\u{..}` escapes.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
