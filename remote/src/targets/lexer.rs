//! Inventory lines: section headers, group names, and words (quotes, escapes, comments).

use super::error::{describe_char, shown};
use std::net::Ipv6Addr;

/// The text of a `[...]` section header, when the (trimmed) line is one rather than a
/// bracketed IPv6 target (`[fd00::1]`) or a pattern starting with a range (`[a:c]-web`).
pub(super) fn section_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?;
    let (header, rest) = inner.split_once(']')?;
    let rest = rest.trim_start();
    if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
        return None;
    }
    if header.parse::<Ipv6Addr>().is_ok() || header.contains('/') {
        return None;
    }
    Some(header)
}

pub(super) fn validate_group(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty group name".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "group name {} contains {} (allowed: letters, digits, `_`, `-`, `.`)",
            shown(name),
            describe_char(c)
        ));
    }
    Ok(())
}

/// Splits a line into words: white space separates, `'...'` and `"..."` quote, a backslash
/// escapes the next character, and a `#` at the start of a word ends the line.
pub(super) fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    tokens.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated `'` quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("unterminated `\"` quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated `\"` quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap_or('\\'));
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        tokens.push(cur);
    }
    Ok(tokens)
}
