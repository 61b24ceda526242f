//! A target or hosts file that cannot be used, and how untrusted text is shown in messages
//! (quoted, escaped, shortened).

use super::limits::MAX_SHOWN;

/// A target or hosts file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// `target` is already quoted, escaped and shortened for display.
    #[error("invalid target {target}: {reason}")]
    Invalid { target: String, reason: String },
    #[error(
        "network {net} has {} addresses; the limit is {limit} per network (a /16 for IPv4, a /112 for IPv6): sweep subnets, not the internet",
        count_text(*host_bits)
    )]
    TooLarge {
        net: String,
        host_bits: u32,
        limit: u64,
    },
    /// An error in one line of a hosts file.
    #[error("{file}:{line}: {error}")]
    Line {
        file: String,
        line: usize,
        error: Box<TargetError>,
    },
    /// A syntax or inventory error in one line of a hosts file.
    #[error("{file}:{line}: {message}")]
    Inventory {
        file: String,
        line: usize,
        message: String,
    },
    /// The hosts file as a whole (unreadable, too large).
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

fn count_text(host_bits: u32) -> String {
    if host_bits < 64 {
        (1u64 << host_bits).to_string()
    } else {
        format!("2^{host_bits}")
    }
}

/// Quotes, escapes and shortens untrusted text for an error message.
pub(super) fn shown(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_SHOWN).collect();
        format!("{head:?}... ({} bytes)", s.len())
    }
}

pub(super) fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '\0' => "a NUL byte".into(),
        c if c.is_control() => format!("control character U+{:04X}", c as u32),
        c => format!("{c:?} (U+{:04X})", c as u32),
    }
}
