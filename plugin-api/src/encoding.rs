//! Lossless text forms of byte strings, and hex.
//!
//! Linux file names and command lines are bytes, not UTF-8. Records are JSON, so every byte
//! string is turned into text by [`bytes_to_text`]: valid, printable UTF-8 passes through, and
//! every other byte (invalid UTF-8, control characters including newline, and `%` itself) is
//! written as `%XX`. [`text_to_bytes`] reverses it exactly, so a record names the real file even
//! when its name holds a newline or is not UTF-8.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Encodes bytes as text; see the module documentation for the rules.
pub fn bytes_to_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                push_valid(&mut out, valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // `valid_up_to` guarantees this prefix is UTF-8.
                push_valid(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len());
                for b in &after[..bad] {
                    push_escape(&mut out, *b);
                }
                rest = &after[bad..];
            }
        }
    }
    out
}

fn push_valid(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '%' || c.is_control() && (c as u32) < 0x80 {
            push_escape(out, c as u8);
        } else {
            out.push(c);
        }
    }
}

fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

/// Decodes text made by [`bytes_to_text`]. A `%` not followed by two hex digits is kept as is,
/// so hand-written text without escapes also decodes to itself.
pub fn text_to_bytes(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A path as record text.
pub fn path_to_text(path: &Path) -> String {
    bytes_to_text(path.as_os_str().as_bytes())
}

/// The path named by record text.
pub fn text_to_path(text: &str) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(&text_to_bytes(text)))
}

/// Lower-case hex of a byte slice (digests).
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Parses lower- or upper-case hex; `None` on odd length or a non-hex character.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?))
        .collect()
}

/// Whether `s` is a 64-character lower-case hex SHA-256.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(
            bytes_to_text(b"/etc/systemd/system/a\\x2db.service"),
            "/etc/systemd/system/a\\x2db.service"
        );
        assert_eq!(
            bytes_to_text("/home/jos\u{e9}".as_bytes()),
            "/home/jos\u{e9}"
        );
    }

    #[test]
    fn odd_bytes_are_escaped_and_round_trip() {
        let cases: &[&[u8]] = &[
            b"a\nb",
            b"\xff\xfe/x",
            b"100%",
            b"%41",
            b"tab\there",
            b"\x7f",
            b"",
            b"%",
            b"ab%",
        ];
        for c in cases {
            let t = bytes_to_text(c);
            assert!(!t.contains('\n'));
            assert_eq!(text_to_bytes(&t), *c, "round trip of {c:?} via {t}");
        }
        assert_eq!(bytes_to_text(b"a\nb"), "a%0Ab");
        assert_eq!(bytes_to_text(b"\xff"), "%FF");
        assert_eq!(bytes_to_text(b"5%"), "5%25");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00abFF"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
    }
}
