//! Ansible host ranges: `web[01:20].example.com`, `db-[a:f]`, `10.0.0.[1:254]`,
//! `[start:end:step]`, leading zeros kept, bounded by [`MAX_ADDRESSES`] hosts per pattern.

use super::error::shown;
use super::limits::MAX_ADDRESSES;
use std::net::Ipv6Addr;

/// Expands Ansible host ranges; a pattern without ranges (or a bracketed IPv6 address) is
/// returned as is.
pub(super) fn expand_ranges(pattern: &str) -> Result<Vec<String>, String> {
    if let Some(inner) = pattern.strip_prefix('[')
        && let Some((addr, _)) = inner.split_once(']')
        && (addr.parse::<Ipv6Addr>().is_ok() || addr.contains('/'))
    {
        return Ok(vec![pattern.to_string()]);
    }
    // Literal text and ranges, alternating.
    let mut parts: Vec<Vec<String>> = Vec::new();
    let mut rest = pattern;
    let mut total: u64 = 1;
    while let Some(open) = rest.find(['[', ']']) {
        if rest.as_bytes()[open] == b']' {
            return Err(format!(
                "`]` without `[` in host pattern {}",
                shown(pattern)
            ));
        }
        parts.push(vec![rest[..open].to_string()]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            return Err(format!(
                "`[` without `]` in host pattern {}",
                shown(pattern)
            ));
        };
        let range = &after[..close];
        let count = range_len(range).map_err(|m| {
            format!(
                "invalid host range {} in {}: {m}",
                shown(&format!("[{range}]")),
                shown(pattern)
            )
        })?;
        total = total.saturating_mul(count);
        if total > MAX_ADDRESSES {
            return Err(format!(
                "host pattern {} expands to more than {MAX_ADDRESSES} hosts",
                shown(pattern)
            ));
        }
        parts.push(range_items(range));
        rest = &after[close + 1..];
    }
    parts.push(vec![rest.to_string()]);
    let mut names = vec![String::new()];
    for part in parts {
        names = names
            .iter()
            .flat_map(|prefix| part.iter().map(move |p| format!("{prefix}{p}")))
            .collect();
    }
    Ok(names)
}

/// A range's bounds; letters are their index in `a..zA..Z`, `width` keeps leading zeros.
enum Bounds {
    Numeric {
        begin: u64,
        end: u64,
        step: u64,
        width: usize,
    },
    Alpha {
        begin: usize,
        end: usize,
        step: usize,
    },
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn range_bounds(range: &str) -> Result<Bounds, String> {
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("expected [start:end] or [start:end:step]".into());
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err("no end".into());
    }
    let step = match bounds.get(2) {
        None => 1,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n >= 1 && s.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("step {} is not a number >= 1", shown(s))),
        },
    };
    let letter = |s: &str| {
        (s.len() == 1)
            .then(|| LETTERS.iter().position(|&b| b == s.as_bytes()[0]))
            .flatten()
    };
    if let (Some(b), Some(e)) = (letter(begin), letter(end)) {
        if b > e {
            return Err("start after end".into());
        }
        return Ok(Bounds::Alpha {
            begin: b,
            end: e,
            step: usize::try_from(step).unwrap_or(usize::MAX),
        });
    }
    let number = |s: &str| {
        (s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (Some(b), Some(e)) = (number(begin), number(end)) else {
        return Err("start and end must both be numbers or both single letters".into());
    };
    let width = if begin.len() > 1 && begin.starts_with('0') {
        if end.len() != begin.len() {
            return Err("start and end with leading zeros must have the same width".into());
        }
        begin.len()
    } else {
        0
    };
    if b > e {
        return Err("start after end".into());
    }
    Ok(Bounds::Numeric {
        begin: b,
        end: e,
        step,
        width,
    })
}

fn range_len(range: &str) -> Result<u64, String> {
    Ok(match range_bounds(range)? {
        Bounds::Numeric {
            begin, end, step, ..
        } => (end - begin) / step + 1,
        Bounds::Alpha { begin, end, step } => ((end - begin) / step + 1) as u64,
    })
}

/// The items of a range already checked by [`range_len`].
fn range_items(range: &str) -> Vec<String> {
    match range_bounds(range) {
        Ok(Bounds::Numeric {
            begin,
            end,
            step,
            width,
        }) => (begin..=end)
            .step_by(usize::try_from(step).unwrap_or(usize::MAX))
            .map(|n| format!("{n:0width$}"))
            .collect(),
        Ok(Bounds::Alpha { begin, end, step }) => LETTERS[begin..=end]
            .iter()
            .step_by(step)
            .map(|&b| char::from(b).to_string())
            .collect(),
        Err(_) => Vec::new(),
    }
}
