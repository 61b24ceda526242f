//! polkit: JavaScript rules (`/etc/polkit-1/rules.d`, `/usr/share/polkit-1/rules.d`,
//! `*.rules`) and the legacy local authority's `*.pkla` files, with the grants that need no
//! authentication, found by a textual reading (no JavaScript engine).

use crate::hooks::record::{Extracted, Run, regular};
use crate::util::name_text;
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::host::FileKind;
use std::collections::BTreeMap;
use std::path::Path;

const POLKIT_WINDOW: usize = 4096;
const POLKIT_MAX_GRANTS: usize = 1000;

/// Identities polkit's default configuration treats as administrators.
const ADMIN_GROUPS: &[&str] = &["wheel", "sudo", "admin", "root"];

fn quoted_after<'t>(text: &'t str, pat: &str) -> Vec<&'t str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(pat) {
        let after = rest[i + pat.len()..].trim_start();
        let after = after.trim_start_matches(['=', ' ', '(']);
        let q = after.chars().next();
        if let Some(q @ ('"' | '\'')) = q {
            let body = &after[1..];
            if let Some(end) = body.find(q) {
                out.push(&body[..end]);
            }
        }
        rest = &rest[i + pat.len()..];
    }
    out
}

/// Grants of a polkit JavaScript rules file that need no authentication: each
/// `polkit.Result.YES` with the identity conditions written between the enclosing
/// `addRule(` and it. Identities are `subject.user == "x"` and `subject.isInGroup("x")`;
/// a YES with none of them is for any subject; one whose identities are all administrators
/// (root, wheel, sudo, admin) is not reported. A textual heuristic: conditions built in
/// variables or helper functions are not followed.
pub fn polkit_rule_grants(text: &str) -> Vec<String> {
    // Comments out first, so a commented-out rule grants nothing.
    let mut clean = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            clean.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let mut out = Vec::new();
    let mut from = 0;
    // Bounded work on hostile files: the conditions of a grant are read at most
    // `POLKIT_WINDOW` bytes back, and at most `POLKIT_MAX_GRANTS` grants are looked at.
    let mut looked = 0;
    let (mut line, mut counted) = (1, 0);
    while let Some(i) = clean[from..].find("polkit.Result.YES") {
        looked += 1;
        if looked > POLKIT_MAX_GRANTS {
            out.push(format!(
                "more than {POLKIT_MAX_GRANTS} YES results; the rest not read"
            ));
            break;
        }
        let at = from + i;
        let mut floor = at.saturating_sub(POLKIT_WINDOW);
        while !clean.is_char_boundary(floor) {
            floor -= 1;
        }
        let start = clean[floor..at]
            .rfind("addRule(")
            .map_or(floor, |s| floor + s);
        let window = &clean[start..at];
        line += clean[counted..at].bytes().filter(|b| *b == b'\n').count();
        counted = at;
        let mut users: Vec<&str> = quoted_after(window, "subject.user ==");
        users.extend(quoted_after(window, "subject.user==="));
        users.extend(quoted_after(window, "subject.user=="));
        let groups = quoted_after(window, "subject.isInGroup");
        let actions: Vec<&str> = {
            let mut a = quoted_after(window, "action.id ==");
            a.extend(quoted_after(window, "action.id=="));
            a.extend(quoted_after(window, "action.id.indexOf"));
            a
        };
        let what = if actions.is_empty() {
            "any action".to_string()
        } else {
            actions.join(", ")
        };
        let non_admin: Vec<String> = users
            .iter()
            .filter(|u| **u != "root")
            .map(|u| format!("user {u}"))
            .chain(
                groups
                    .iter()
                    .filter(|g| !ADMIN_GROUPS.contains(g))
                    .map(|g| format!("group {g}")),
            )
            .collect();
        if users.is_empty() && groups.is_empty() {
            out.push(format!("YES for any subject on {what} (line {line})"));
        } else if !non_admin.is_empty() {
            out.push(format!(
                "YES for {} on {what} (line {line})",
                non_admin.join(", ")
            ));
        }
        from = at + "polkit.Result.YES".len();
    }
    out
}

/// Grants of a legacy `.pkla` file: sections whose `ResultAny`, `ResultInactive` or
/// `ResultActive` is `yes` for identities that are not administrators.
pub fn pkla_grants(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sections: Vec<BTreeMap<String, String>> = Vec::new();
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('[') {
            sections.push(BTreeMap::new());
        } else if let (Some(s), Some((k, v))) = (sections.last_mut(), l.split_once('=')) {
            if !l.starts_with('#') {
                s.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    for s in sections {
        let yes = ["resultany", "resultinactive", "resultactive"]
            .iter()
            .any(|k| s.get(*k).is_some_and(|v| v.eq_ignore_ascii_case("yes")));
        if !yes {
            continue;
        }
        let ids = s.get("identity").cloned().unwrap_or_default();
        let non_admin: Vec<&str> = ids
            .split(';')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .filter(|i| {
                let name = i.split_once(':').map_or(*i, |(_, n)| n);
                !(name == "root" || ADMIN_GROUPS.contains(&name))
            })
            .collect();
        if !non_admin.is_empty() {
            out.push(format!(
                "YES for {} on {}",
                non_admin.join(";"),
                s.get("action").map_or("?", String::as_str)
            ));
        }
    }
    out
}

/// Records the rules and `.pkla` files with their grants.
pub(super) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    let parse = &mut |d: &[u8]| Extracted {
        grants: polkit_rule_grants(&String::from_utf8_lossy(d)),
        ..Default::default()
    };
    for dir in ["/etc/polkit-1/rules.d", "/usr/share/polkit-1/rules.d"] {
        for e in run.ctx.list_dir(Path::new(dir)).unwrap_or_default() {
            let name = name_text(&e.name);
            let rules = name.ends_with(".rules");
            run.parsed_file(
                &Path::new(dir).join(&e.name),
                "polkit",
                "authorization",
                None,
                &|m| rules && regular(m),
                parse,
            )?;
        }
    }
    // Legacy local authority: /etc/polkit-1/localauthority/*/*.pkla (and /var/lib's).
    for base in [
        "/etc/polkit-1/localauthority",
        "/var/lib/polkit-1/localauthority",
    ] {
        for sub in run.ctx.list_dir(Path::new(base)).unwrap_or_default() {
            let d = Path::new(base).join(&sub.name);
            if sub.kind != Some(FileKind::Dir)
                && run.ctx.host().stat(&d).map(|m| m.kind).ok() != Some(FileKind::Dir)
            {
                continue;
            }
            for e in run.ctx.list_dir(&d).unwrap_or_default() {
                let name = name_text(&e.name);
                let pkla = name.ends_with(".pkla");
                run.parsed_file(
                    &d.join(&e.name),
                    "polkit",
                    "authorization",
                    None,
                    &|m| pkla && regular(m),
                    &mut |data| Extracted {
                        grants: pkla_grants(&String::from_utf8_lossy(data)),
                        ..Default::default()
                    },
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polkit_grants_heuristic() {
        let admin = r#"polkit.addRule(function(action, subject) {
    if (action.id == "org.freedesktop.systemd1.manage-units" && subject.isInGroup("sudo")) {
        return polkit.Result.YES;
    }
});
polkit.addRule(function(action, subject) {
    if (subject.user == "backup") { return polkit.Result.AUTH_ADMIN; }
});"#;
        assert!(polkit_rule_grants(admin).is_empty());
        let bad = r#"// polkit.addRule(function(a, s) { return polkit.Result.YES; });
polkit.addRule(function(action, subject) {
    if (subject.user == 'svc-backup') {
        return polkit.Result.YES;
    }
});
polkit.addRule(function(action, subject) { return polkit.Result.YES; });"#;
        let g = polkit_rule_grants(bad);
        assert_eq!(g.len(), 2, "{g:?}");
        assert!(g[0].contains("user svc-backup"), "{g:?}");
        assert!(g[1].contains("any subject"), "{g:?}");
        let pkla = "[Allow admins]\nIdentity=unix-group:sudo\nAction=*\nResultActive=yes\n\n[Allow web]\nIdentity=unix-user:www-data\nAction=org.freedesktop.*\nResultAny=yes\n";
        assert_eq!(
            pkla_grants(pkla),
            ["YES for unix-user:www-data on org.freedesktop.*"]
        );
    }
}
