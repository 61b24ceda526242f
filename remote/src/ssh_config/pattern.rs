//! OpenSSH wildcard matching (`*`, `?`, `!negation`, `[...]` classes for file names), and the
//! expansion of an `Include` glob into existing files.

use super::limits::MAX_FILES;
use super::model::Pattern;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// OpenSSH's `match_pattern_list`: some positive pattern matches and no negated one does.
pub(super) fn match_list(patterns: &[Pattern], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let mut hit = false;
    for p in patterns {
        if wildmatch(&p.glob, &text, false) {
            if p.negated {
                return false;
            }
            hit = true;
        }
    }
    hit
}

/// `*` and `?` wildcards (and `[...]` classes when `classes`), without exponential
/// backtracking.
fn wildmatch(pattern: &[char], text: &[char], classes: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' if classes => {
                    if let Some((matched, len)) = match_class(&pattern[p..], text[t]) {
                        if matched {
                            p += len;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == '[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches one character against a `[...]` class at the start of `pattern`: `Some((hit,
/// length of the class))`, or `None` when the `[` does not open a valid class.
fn match_class(pattern: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < pattern.len() {
        let lo = pattern[i];
        if lo == ']' && !first {
            return Some((hit != negated, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = pattern[i + 2];
            hit |= lo <= c && c <= hi;
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
    None
}

fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Expands a glob pattern in an absolute path, component by component, into the existing
/// paths it matches (sorted). Names starting with `.` match only a pattern starting with `.`.
pub(super) fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let mut bases = vec![PathBuf::new()];
    for comp in pattern.components() {
        match comp {
            Component::Normal(os) => {
                let s = os.to_string_lossy();
                if !has_wildcards(&s) {
                    for b in &mut bases {
                        b.push(os);
                    }
                    continue;
                }
                let pat: Vec<char> = s.chars().collect();
                let mut next = Vec::new();
                for b in &bases {
                    let Ok(entries) = fs::read_dir(b) else {
                        continue;
                    };
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| !n.starts_with('.') || s.starts_with('.'))
                        .filter(|n| wildmatch(&pat, &n.chars().collect::<Vec<_>>(), true))
                        .take(MAX_FILES + 1)
                        .collect();
                    names.sort();
                    next.extend(names.into_iter().map(|n| b.join(n)));
                }
                if next.len() > MAX_FILES {
                    return Err(format!(
                        "Include pattern {} matches more than {MAX_FILES} files",
                        pattern.display()
                    ));
                }
                bases = next;
            }
            other => {
                for b in &mut bases {
                    b.push(other.as_os_str());
                }
            }
        }
    }
    bases.sort();
    bases.retain(|p| p.exists());
    Ok(bases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let m = |p: &str, t: &str| {
            wildmatch(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
                true,
            )
        };
        assert!(m("*", ""));
        assert!(m("*.example.com", "a.b.example.com"));
        assert!(!m("*.example.com", "example.com"));
        assert!(m("web?", "web1"));
        assert!(!m("web?", "web"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("[0-9]*.conf", "10-x.conf"));
        assert!(!m("[!0-9]*.conf", "10-x.conf"));
        assert!(m("[x", "[x"));
        // Pathological patterns stay fast.
        let text = "a".repeat(5000);
        assert!(!m(&"*a".repeat(50), &format!("{text}b")));
        assert!(!m("*a*a*a*a*a*a*a*a*b", &text));
    }
}
