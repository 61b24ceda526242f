//! Lexical rules: splitting a line into keyword and arguments (OpenSSH's `argv_split`),
//! pattern lists, booleans, times (`convtime`) and the `%` tokens a value may use.

use super::keywords::UNEXPANDED_TOKENS;
use super::model::Pattern;
use std::time::Duration;

/// Checks `%` tokens: `allowed` are expanded, [`UNEXPANDED_TOKENS`] are known to OpenSSH (the
/// value is dropped with a warning when used), anything else is an error as in OpenSSH.
pub(super) fn check_tokens(value: &str, allowed: &str, unexpanded_ok: bool) -> Result<(), String> {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            Some('%') => {}
            Some(t) if allowed.contains(t) => {}
            Some(t) if unexpanded_ok && UNEXPANDED_TOKENS.contains(t) => {}
            Some(t) => return Err(format!("unknown token %{t} in {value:?}")),
            None => return Err(format!("`%` at the end of {value:?}")),
        }
    }
    Ok(())
}

/// OpenSSH's `argv_split`: white space separates words, `"` and `'` quote, a backslash
/// escapes a quote, a backslash or (outside quotes) a space, and a `#` at the start of a
/// word ends the line.
pub(super) fn split_args(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                match chars.get(i + 1) {
                    Some(&n @ ('\'' | '"' | '\\')) => {
                        arg.push(n);
                        i += 1;
                    }
                    Some(' ') if quote.is_none() => {
                        arg.push(' ');
                        i += 1;
                    }
                    _ => arg.push('\\'),
                }
            } else if quote.is_none() && (c == ' ' || c == '\t') {
                break;
            } else if quote.is_none() && (c == '"' || c == '\'') {
                quote = Some(c);
            } else if quote == Some(c) {
                quote = None;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        args.push(arg);
    }
    Ok(args)
}

/// Splits a line into its lower-cased keyword, the raw rest (for ProxyCommand) and the
/// arguments; `None` for blank and comment lines.
pub(super) fn split_line(line: &str) -> Result<Option<(String, String, Vec<String>)>, String> {
    let line = line.trim_end_matches([' ', '\t', '\r', '\n', '\x0c']);
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line.find([' ', '\t', '=']).unwrap_or(line.len());
    let keyword = &line[..end];
    if keyword.is_empty() {
        return Err("missing keyword before `=`".into());
    }
    let mut rest = line[end..].trim_start_matches([' ', '\t']);
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start_matches([' ', '\t']);
    }
    if rest.is_empty() {
        return Err(format!("no argument after keyword \"{keyword}\""));
    }
    let args = split_args(rest)?;
    if args.is_empty() {
        return Err(format!("no argument after keyword \"{keyword}\""));
    }
    Ok(Some((keyword.to_ascii_lowercase(), rest.to_string(), args)))
}

pub(super) fn parse_patterns(args: &[String], lowercase: bool) -> Vec<Pattern> {
    args.iter()
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (negated, glob) = match a.strip_prefix('!') {
                Some(g) => (true, g),
                None => (false, a.as_str()),
            };
            let glob = if lowercase {
                glob.to_ascii_lowercase()
            } else {
                glob.to_string()
            };
            Pattern {
                negated,
                glob: glob.chars().collect(),
            }
        })
        .collect()
}

pub(super) fn comma_list(arg: &str, lowercase: bool) -> Vec<Pattern> {
    let parts: Vec<String> = arg.split(',').map(str::to_string).collect();
    parse_patterns(&parts, lowercase)
}

pub(super) fn parse_bool(keyword: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!(
            "{keyword}: unsupported option {v:?} (expected yes or no)"
        )),
    }
}

/// OpenSSH's `convtime`: `90`, `1m30s`, `2h`, units s m h d w (any case).
pub(super) fn parse_time(v: &str) -> Result<Option<Duration>, String> {
    if v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad = || format!("invalid time value {v:?}");
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total.checked_add(n).ok_or_else(bad)?;
    } else if v.is_empty() || !v.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    if total > i32::MAX as u64 {
        return Err(bad());
    }
    Ok((total > 0).then(|| Duration::from_secs(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("30"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(parse_time("1m30s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(parse_time("1H"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(parse_time("0"), Ok(None));
        assert_eq!(parse_time("none"), Ok(None));
        assert!(parse_time("").is_err());
        assert!(parse_time("m").is_err());
        assert!(parse_time("10x").is_err());
        assert!(parse_time("99999999999999999999").is_err());
    }
}
