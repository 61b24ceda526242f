//! apt's hooks: the commands of `DPkg::{Pre,Post}-Invoke`, `DPkg::Pre-Install-Pkgs`,
//! `DPkg::Post-Invoke-Success` and `APT::Update::{Pre-Invoke,Post-Invoke,Post-Invoke-Success}`
//! in `/etc/apt/apt.conf` and `/etc/apt/apt.conf.d/*`, read with a tolerant reading of apt's
//! configuration syntax; a file is active when apt reads a file of that name.

use crate::hooks::record::{Extracted, Run, regular};
use crate::util::name_text;
use dossier_plugin_api::collect::CollectError;
use std::path::Path;

/// apt options whose list items are shell commands apt runs (lower case).
pub const APT_HOOK_KEYS: &[&str] = &[
    "dpkg::pre-invoke",
    "dpkg::post-invoke",
    "dpkg::pre-install-pkgs",
    "dpkg::post-invoke-success",
    "apt::update::pre-invoke",
    "apt::update::post-invoke",
    "apt::update::post-invoke-success",
];

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Semi,
}

fn apt_tokens(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == '#' {
            // `#include` and `#clear` are directives ending at `;`; other `#` lines are comments.
            let rest: String = b[i..b.len().min(i + 8)].iter().collect();
            let rest = rest.to_ascii_lowercase();
            if rest.starts_with("#include") || rest.starts_with("#clear") {
                while i < b.len() && b[i] != ';' && b[i] != '\n' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            continue;
        }
        match c {
            '{' => {
                out.push(Tok::Open);
                i += 1;
            }
            '}' => {
                out.push(Tok::Close);
                i += 1;
            }
            ';' => {
                out.push(Tok::Semi);
                i += 1;
            }
            '"' => {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i] != '"' {
                    i += 1;
                }
                out.push(Tok::Str(b[start..i.min(b.len())].iter().collect()));
                i += 1;
            }
            _ => {
                let start = i;
                let ends = |c: char, next: Option<&char>| {
                    c.is_whitespace()
                        || matches!(c, '{' | '}' | ';' | '"')
                        || (c == '/' && matches!(next, Some('/') | Some('*')))
                };
                while i < b.len() && !ends(b[i], b.get(i + 1)) {
                    i += 1;
                }
                out.push(Tok::Word(b[start..i].iter().collect()));
            }
        }
    }
    out
}

/// Every `(key, value)` assignment of an apt configuration text, keys fully scoped
/// (`DPkg { Post-Invoke { "x"; }; };` gives `("DPkg::Post-Invoke::", "x")`). Tolerant: odd
/// input gives fewer assignments, never a panic.
pub fn apt_assignments(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut scope: Vec<String> = Vec::new();
    let mut key: Option<String> = None;
    let mut value: Option<String> = None;
    let full = |scope: &[String], k: &str| -> String {
        let mut parts: Vec<&str> = scope.iter().map(String::as_str).collect();
        parts.push(k);
        parts.join("::")
    };
    let flush = |out: &mut Vec<(String, String)>,
                 scope: &[String],
                 key: &mut Option<String>,
                 value: &mut Option<String>| {
        match (key.take(), value.take()) {
            (Some(k), Some(v)) => out.push((full(scope, &k), v)),
            // A bare string in a list scope is a child item.
            (None, Some(v)) => out.push((full(scope, ""), v)),
            _ => {}
        }
    };
    for t in apt_tokens(text) {
        match t {
            Tok::Word(w) => {
                if key.is_some() || value.is_some() {
                    flush(&mut out, &scope, &mut key, &mut value);
                }
                key = Some(w);
            }
            Tok::Str(s) => {
                if value.is_some() {
                    flush(&mut out, &scope, &mut key, &mut value);
                }
                value = Some(s);
            }
            Tok::Open => {
                // `Key "value" { ... }` is allowed: the value is kept, the scope opens.
                let k = key.take().unwrap_or_default();
                if let Some(v) = value.take() {
                    let f = full(&scope, &k);
                    out.push((f, v));
                }
                scope.push(k.trim_end_matches(':').to_string());
            }
            Tok::Semi => flush(&mut out, &scope, &mut key, &mut value),
            Tok::Close => {
                flush(&mut out, &scope, &mut key, &mut value);
                scope.pop();
            }
        }
    }
    flush(&mut out, &scope, &mut key, &mut value);
    out
}

/// The commands an apt configuration text makes apt run: list items of the hook options of
/// [`APT_HOOK_KEYS`], keys compared case-insensitively, in both the scoped and the flat form.
/// A scalar (`DPkg::Post-Invoke "x";`) has no list items and runs nothing, as in apt.
pub fn apt_hook_commands(text: &str) -> Vec<String> {
    apt_assignments(text)
        .into_iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            let parts: Vec<&str> = k.split("::").filter(|p| !p.is_empty()).collect();
            let trailing_child = k.ends_with("::");
            APT_HOOK_KEYS.iter().any(|h| {
                let hp: Vec<&str> = h.split("::").collect();
                (trailing_child && parts == hp)
                    || (parts.len() == hp.len() + 1 && parts[..hp.len()] == hp[..])
            })
        })
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
        .collect()
}

/// Whether apt reads a file of `apt.conf.d` with this name: letters, digits, `_`, `-` and
/// `.` only, and no extension other than `.conf`.
pub fn apt_reads_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && match name.rsplit_once('.') {
            Some((_, ext)) => ext == "conf",
            None => true,
        }
}

/// Records apt's configuration files with the hook commands they hold.
pub(super) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    let parse = &mut |d: &[u8]| Extracted {
        commands: apt_hook_commands(&String::from_utf8_lossy(d)),
        ..Default::default()
    };
    run.parsed_file(
        Path::new("/etc/apt/apt.conf"),
        "apt",
        "package-operation",
        None,
        &regular,
        parse,
    )?;
    let dir = Path::new("/etc/apt/apt.conf.d");
    for e in run.ctx.list_dir(dir).unwrap_or_default() {
        let name = name_text(&e.name);
        let ok = apt_reads_name(&name);
        run.parsed_file(
            &dir.join(&e.name),
            "apt",
            "package-operation",
            None,
            &|m| ok && regular(m),
            parse,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_hooks_scoped_flat_and_commented() {
        let t = r#"
// A comment with DPkg::Post-Invoke {"no";};
# another comment
/* block DPkg::Pre-Invoke { "no"; }; */
DPkg::Post-Invoke {"rm -f /var/cache/apt/archives/*.deb || true";};
dpkg { pre-invoke { "echo one"; "echo two"; }; };
APT { Update { Post-Invoke-Success { "/usr/bin/test -e /x && /x"; }; }; };
DPkg::Pre-Install-Pkgs:: "/usr/sbin/dpkg-preconfigure --apt || true";
DPkg::Post-Invoke "scalar runs nothing";
APT::Periodic::Update-Package-Lists "1";
#clear DPkg::Post-Invoke;
DPkg::Tools::Options::/usr/bin/apt-listchanges::Version "2";
"#;
        assert_eq!(
            apt_hook_commands(t),
            [
                "rm -f /var/cache/apt/archives/*.deb || true",
                "echo one",
                "echo two",
                "/usr/bin/test -e /x && /x",
                "/usr/sbin/dpkg-preconfigure --apt || true",
            ]
        );
    }

    #[test]
    fn apt_odd_input_never_panics() {
        for t in [
            "",
            "{",
            "}",
            "}}}{{",
            "\"unterminated",
            "/* open",
            "DPkg::Post-Invoke {\"a\"",
            "DPkg { Post-Invoke { \"x\"",
            ";;;",
            "#include",
            "\u{fffd}\u{0}{",
        ] {
            let _ = apt_hook_commands(t);
        }
        // An unterminated list still yields what it holds.
        assert_eq!(apt_hook_commands("DPkg::Post-Invoke {\"a\""), ["a"]);
    }

    #[test]
    fn apt_file_names() {
        for ok in [
            "70debconf",
            "99-apt-fast-update",
            "docker-clean",
            "a.conf",
            "01_x",
        ] {
            assert!(apt_reads_name(ok), "{ok}");
        }
        for no in [
            "x.bak",
            "70debconf.dpkg-old",
            "a b",
            "x~",
            "",
            "x.conf.disabled",
        ] {
            assert!(!apt_reads_name(no), "{no}");
        }
    }
}
