//! Package-manager and authentication hooks, collected by the `hooks` collector as more hook
//! classes (same record, same copy-and-verify path through the `packages` collector):
//!
//! - `apt`: `/etc/apt/apt.conf` and `/etc/apt/apt.conf.d/*`, with the commands of
//!   `DPkg::{Pre,Post}-Invoke`, `DPkg::Pre-Install-Pkgs`, `DPkg::Post-Invoke-Success` and
//!   `APT::Update::{Pre-Invoke,Post-Invoke,Post-Invoke-Success}` parsed out of apt's
//!   configuration syntax ([`apt_hook_commands`]); `active` mirrors apt's file-name rule;
//! - `yum-plugin`/`dnf-plugin`: plugin configuration (`/etc/yum/pluginconf.d/*.conf`,
//!   `/etc/dnf/plugins/*.conf`) and plugin code (`/usr/lib/yum-plugins`,
//!   `/usr/share/yum-plugins`, `dnf-plugins` of every `python3*` site-packages), active when
//!   `plugins=` of yum.conf/dnf.conf allows plugins (yum: only `plugins=1`; dnf: unless
//!   `plugins=0`) and the plugin is enabled (yum: `enabled=1` in its configuration; dnf: a
//!   plugin without configuration, or without `enabled=0`, is enabled);
//! - `pam`: `/etc/pam.d/*` (and `/etc/pam.conf`, which PAM reads only without `/etc/pam.d`),
//!   lines parsed by [`pam_line`], `pam_exec` commands as the record's commands;
//! - `pam-module`: every module a PAM line loads, resolved against the PAM module directories,
//!   recorded with its metadata and the lines that load it (not copied here: the `packages`
//!   collector verifies it and copies it when no package owns it or it differs);
//! - `polkit`: `/etc/polkit-1/rules.d`, `/usr/share/polkit-1/rules.d` (`*.rules`) and the legacy
//!   `localauthority` `*.pkla` files, with the grants found by [`polkit_rule_grants`] and
//!   [`pkla_grants`] (a textual reading, no JavaScript engine).

use crate::hooks::{Extracted, Run};
use crate::util::{canonicalize, name_text, ptext};
use dossier_plugin_api::FileMeta;
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{HookRecord, Record};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

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

/// One parsed PAM configuration line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PamLine {
    /// `auth`, `account`, `password`, `session` (a leading `-` removed: `optional` is then set).
    pub kind: String,
    /// The `-` prefix: a missing module is not logged.
    pub optional_kind: bool,
    /// `required`, `sufficient`... or a `[value=action ...]` bracket, verbatim.
    pub control: String,
    pub module: String,
    pub args: Vec<String>,
}

/// A line of a PAM service file: `@include FILE` (or an `include`/`substack` control), a
/// module line, or nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum PamEntry {
    Include(String),
    Module(PamLine),
}

/// Splits PAM words: whitespace separates, `[...]` keeps spaces inside (`\]` escapes).
fn pam_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if depth > 0 && chars.peek() == Some(&']') => {
                cur.push(']');
                chars.next();
            }
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' if depth > 0 => {
                depth -= 1;
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses one logical PAM line (comments removed). `with_service` for `/etc/pam.conf`, whose
/// lines start with the service name.
pub fn pam_line(line: &str, with_service: bool) -> Option<PamEntry> {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() {
        return None;
    }
    if let Some(rest) = line.strip_prefix("@include") {
        let f = rest.trim();
        return (!f.is_empty()).then(|| PamEntry::Include(f.to_string()));
    }
    let mut w = pam_words(line).into_iter();
    if with_service {
        w.next()?;
    }
    let kind = w.next()?;
    let (kind, optional_kind) = match kind.strip_prefix('-') {
        Some(k) => (k.to_string(), true),
        None => (kind, false),
    };
    let kind = kind.to_ascii_lowercase();
    if !matches!(kind.as_str(), "auth" | "account" | "password" | "session") {
        return None;
    }
    let control = w.next()?;
    let module = w.next()?;
    // `auth include su` / `auth substack system-auth` name a service file, not a module.
    if control.eq_ignore_ascii_case("include") || control.eq_ignore_ascii_case("substack") {
        return Some(PamEntry::Include(module));
    }
    Some(PamEntry::Module(PamLine {
        kind,
        optional_kind,
        control,
        module,
        args: w.collect(),
    }))
}

/// The logical lines of a PAM file (`\` continues a line), numbered from 1.
pub fn pam_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut first = 0;
    for (i, raw) in text.lines().enumerate() {
        if cur.is_empty() {
            first = i + 1;
        }
        match raw.strip_suffix('\\') {
            Some(c) => {
                cur.push_str(c);
                cur.push(' ');
            }
            None => {
                cur.push_str(raw);
                out.push((first, std::mem::take(&mut cur)));
            }
        }
    }
    if !cur.is_empty() {
        out.push((first, cur));
    }
    out
}

/// The command `pam_exec.so` runs, from its arguments (its options come first).
pub fn pam_exec_command(args: &[String]) -> Option<String> {
    let i = args.iter().position(|a| {
        !matches!(
            a.as_str(),
            "debug" | "expose_authtok" | "seteuid" | "quiet" | "quiet_log" | "stdout"
        ) && !a.starts_with("log=")
            && !a.starts_with("type=")
    })?;
    Some(args[i..].join(" "))
}

fn module_base(module: &str) -> &str {
    module.rsplit('/').next().unwrap_or(module)
}

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

/// `key=value` of the `[main]` section of a yum/dnf ini file (lower-cased key).
pub fn ini_main(text: &str, key: &str) -> Option<String> {
    let mut in_main = true;
    let mut found = None;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('[') {
            in_main = l.eq_ignore_ascii_case("[main]");
            continue;
        }
        if !in_main || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            if k.trim().eq_ignore_ascii_case(key) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

fn truthy(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn regular(m: &FileMeta) -> bool {
    m.kind == FileKind::File
}

/// Reads a small configuration file for a decision (the file itself is recorded separately).
fn peek(run: &mut Run<'_, '_>, path: &Path) -> Option<String> {
    match run.ctx.host().read(path, run.cap) {
        Ok(o) => Some(String::from_utf8_lossy(&o.data).into_owned()),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            run.ctx.host_error(&e);
            None
        }
    }
}

/// Collects every class of this module.
pub(crate) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    apt(run)?;
    yum_dnf(run)?;
    pam(run)?;
    polkit(run)
}

fn apt(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
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

fn yum_dnf(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    for (class, main_confs, conf_dir, default_on, code_dirs) in [
        (
            "yum-plugin",
            &["/etc/yum.conf", "/etc/yum/yum.conf"][..],
            "/etc/yum/pluginconf.d",
            false,
            vec![
                PathBuf::from("/usr/lib/yum-plugins"),
                PathBuf::from("/usr/share/yum-plugins"),
            ],
        ),
        (
            "dnf-plugin",
            &["/etc/dnf/dnf.conf"][..],
            "/etc/dnf/plugins",
            true,
            dnf_plugin_dirs(run),
        ),
    ] {
        // yum loads plugins only with plugins=1; dnf unless plugins=0.
        let mut plugins_on = default_on;
        for c in main_confs {
            if let Some(v) = peek(run, Path::new(c)).and_then(|t| ini_main(&t, "plugins")) {
                plugins_on = truthy(&v).unwrap_or(plugins_on);
                break;
            }
        }
        let mut enabled: BTreeMap<String, bool> = BTreeMap::new();
        let conf_dir = Path::new(conf_dir);
        for e in run.ctx.list_dir(conf_dir).unwrap_or_default() {
            let name = name_text(&e.name);
            let Some(stem) = name.strip_suffix(".conf") else {
                continue;
            };
            // A configuration without `enabled=` enables a dnf plugin, not a yum one.
            let on = std::cell::Cell::new(false);
            run.parsed_file(
                &conf_dir.join(&e.name),
                class,
                "package-operation",
                None,
                &|m| plugins_on && on.get() && regular(m),
                &mut |d| {
                    on.set(
                        ini_main(&String::from_utf8_lossy(d), "enabled")
                            .and_then(|v| truthy(&v))
                            .unwrap_or(default_on),
                    );
                    Extracted::default()
                },
            )?;
            let on = on.get();
            enabled.insert(stem.replace('-', "_"), on);
        }
        for dir in code_dirs {
            for e in run.ctx.list_dir(&dir).unwrap_or_default() {
                let name = name_text(&e.name);
                let Some(stem) = name.strip_suffix(".py") else {
                    continue;
                };
                let on = plugins_on
                    && match enabled.get(&stem.replace('-', "_")) {
                        Some(on) => *on,
                        // dnf enables a plugin without configuration; yum needs enabled=1.
                        None => default_on,
                    };
                run.parsed_file(
                    &dir.join(&e.name),
                    class,
                    "package-operation",
                    None,
                    &|m| on && regular(m),
                    &mut |_| Extracted::default(),
                )?;
            }
        }
    }
    Ok(())
}

/// `dnf-plugins` directories of every `python3*` under /usr/lib and /usr/lib64.
fn dnf_plugin_dirs(run: &mut Run<'_, '_>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for lib in ["/usr/lib", "/usr/lib64"] {
        for e in run.ctx.list_dir(Path::new(lib)).unwrap_or_default() {
            let name = name_text(&e.name);
            if !name.starts_with("python3") {
                continue;
            }
            let d = Path::new(lib)
                .join(&e.name)
                .join("site-packages/dnf-plugins");
            let key = canonicalize(run.ctx.host(), &d).unwrap_or_else(|| d.clone());
            if seen.insert(key) {
                out.push(d);
            }
        }
    }
    out
}

/// PAM module directories, most specific first: the multiarch directories present on the
/// host, then the fixed ones of the distributions.
fn pam_module_dirs(run: &mut Run<'_, '_>) -> Vec<PathBuf> {
    let mut triplets = Vec::new();
    for lib in ["/lib", "/usr/lib"] {
        for e in run.ctx.list_dir(Path::new(lib)).unwrap_or_default() {
            let name = name_text(&e.name);
            if name.contains("-linux-gnu") && !triplets.contains(&name) {
                triplets.push(name);
            }
        }
    }
    let mut dirs = Vec::new();
    for t in &triplets {
        dirs.push(PathBuf::from(format!("/lib/{t}/security")));
        dirs.push(PathBuf::from(format!("/usr/lib/{t}/security")));
    }
    for d in [
        "/lib64/security",
        "/usr/lib64/security",
        "/lib/security",
        "/usr/lib/security",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Most PAM files looked at (service files plus included files outside /etc/pam.d).
const MAX_PAM_FILES: usize = 512;

fn pam(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    // module as written -> lines loading it
    let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let pam_d = Path::new("/etc/pam.d");
    let has_pam_d = run
        .ctx
        .lstat(pam_d)
        .is_some_and(|m| m.kind == FileKind::Dir || m.kind == FileKind::Symlink);
    let mut files: Vec<(PathBuf, bool)> = run
        .ctx
        .list_dir(pam_d)
        .unwrap_or_default()
        .into_iter()
        .map(|e| (pam_d.join(&e.name), false))
        .collect();
    files.push((PathBuf::from("/etc/pam.conf"), true));
    // `@include` of an absolute path outside /etc/pam.d is collected too (a few, once each).
    let mut queued: HashSet<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let mut next = 0;
    while next < files.len() {
        let (path, with_service) = files[next].clone();
        next += 1;
        let where_ = ptext(&path);
        // PAM ignores /etc/pam.conf when /etc/pam.d exists.
        let counts = !(with_service && has_pam_d);
        let mut found: Vec<(String, String)> = Vec::new();
        let mut includes: Vec<String> = Vec::new();
        run.parsed_file(
            &path,
            "pam",
            "authentication",
            None,
            &|m| counts && regular(m),
            &mut |d| {
                let mut ex = Extracted::default();
                for (n, l) in pam_lines(&String::from_utf8_lossy(d)) {
                    match pam_line(&l, with_service) {
                        Some(PamEntry::Module(p)) => {
                            if module_base(&p.module) == "pam_exec.so" {
                                ex.commands.extend(pam_exec_command(&p.args));
                            }
                            found.push((p.module, format!("{where_}:{n}")));
                        }
                        Some(PamEntry::Include(f)) => includes.push(f),
                        None => {}
                    }
                }
                ex
            },
        )?;
        if !counts || !run.ctx.host().stat(&path).is_ok_and(|m| regular(&m)) {
            continue;
        }
        for (m, at) in found {
            modules.entry(m).or_default().push(at);
        }
        for f in includes {
            let p = PathBuf::from(&f);
            if f.starts_with('/')
                && !p.starts_with(pam_d)
                && queued.len() < MAX_PAM_FILES
                && queued.insert(p.clone())
            {
                files.push((p, false));
            }
        }
    }
    if modules.is_empty() {
        return Ok(());
    }
    let dirs = pam_module_dirs(run);
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (m, at) in modules {
        let resolved = if m.starts_with('/') {
            Some(PathBuf::from(&m))
        } else {
            dirs.iter()
                .map(|d| d.join(&m))
                .find(|p| run.ctx.host().lstat(p).is_ok())
        };
        let key = match &resolved {
            Some(p) => {
                let canon = canonicalize(run.ctx.host(), p).unwrap_or_else(|| p.clone());
                if !seen.insert(canon) {
                    // Same file under another name (/lib vs /usr/lib): merge the references.
                    let k = by_path
                        .keys()
                        .find(|k| {
                            canonicalize(run.ctx.host(), Path::new(k)).as_deref()
                                == canonicalize(run.ctx.host(), p).as_deref()
                        })
                        .cloned()
                        .unwrap_or_else(|| ptext(p));
                    by_path.entry(k).or_default().extend(at);
                    continue;
                }
                ptext(p)
            }
            None => m.clone(),
        };
        by_path.entry(key).or_default().extend(at);
    }
    for (path, at) in by_path {
        pam_module(run, &path, at)?;
    }
    Ok(())
}

/// Records one PAM module (metadata only; missing modules without `meta`).
fn pam_module(run: &mut Run<'_, '_>, path: &str, at: Vec<String>) -> Result<(), CollectError> {
    if !run.take_slot() {
        return Ok(());
    }
    let p = Path::new(path);
    let meta = if path.starts_with('/') {
        run.ctx.lstat(p)
    } else {
        None
    };
    let link_target = meta
        .as_ref()
        .filter(|m| m.kind == FileKind::Symlink)
        .and_then(|_| run.ctx.read_link(p))
        .map(|t| ptext(&t));
    let active = meta.is_some() && run.ctx.host().stat(p).is_ok_and(|m| regular(&m));
    run.ctx.emit(&Record::Hook(HookRecord {
        path: path.to_string(),
        class: "pam-module".into(),
        runs_at: "authentication".into(),
        meta,
        link_target,
        active,
        referenced_by: at,
        ..Default::default()
    }))
}

fn polkit(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
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

    #[test]
    fn pam_lines_brackets_includes_and_exec() {
        let t = "#%PAM-1.0\n@include common-auth\nauth\t[success=1 default=ignore]\tpam_unix.so nullok\n-session optional pam_systemd.so\nauth optional pam_exec.so quiet expose_authtok log=/x /usr/lib/sec/helper --arg\npassword required pam_x.so [a b\\] c]\nsession required \\\n pam_limits.so\nbogus line here\n";
        let lines = pam_lines(t);
        let parsed: Vec<(usize, PamEntry)> = lines
            .iter()
            .filter_map(|(n, l)| pam_line(l, false).map(|e| (*n, e)))
            .collect();
        assert_eq!(parsed[0], (2, PamEntry::Include("common-auth".into())));
        let PamEntry::Module(m) = &parsed[1].1 else {
            panic!()
        };
        assert_eq!(m.control, "[success=1 default=ignore]");
        assert_eq!(m.module, "pam_unix.so");
        assert_eq!(m.args, ["nullok"]);
        let PamEntry::Module(m) = &parsed[2].1 else {
            panic!()
        };
        assert!(m.optional_kind);
        assert_eq!(m.kind, "session");
        let PamEntry::Module(m) = &parsed[3].1 else {
            panic!()
        };
        assert_eq!(
            pam_exec_command(&m.args).as_deref(),
            Some("/usr/lib/sec/helper --arg")
        );
        let PamEntry::Module(m) = &parsed[4].1 else {
            panic!()
        };
        assert_eq!(m.args, ["[a b] c]"]);
        assert_eq!(parsed[5].0, 7);
        let PamEntry::Module(m) = &parsed[5].1 else {
            panic!()
        };
        assert_eq!(m.module, "pam_limits.so");
        assert_eq!(parsed.len(), 6);
        assert_eq!(pam_exec_command(&["quiet".into()]), None);
        // Red Hat style includes name service files, not modules.
        assert_eq!(
            pam_line("auth include su", false),
            Some(PamEntry::Include("su".into()))
        );
        assert_eq!(
            pam_line("-session substack system-auth", false),
            Some(PamEntry::Include("system-auth".into()))
        );
        // pam.conf lines start with the service.
        let Some(PamEntry::Module(m)) = pam_line("sshd auth required pam_unix.so", true) else {
            panic!()
        };
        assert_eq!(m.module, "pam_unix.so");
    }

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

    #[test]
    fn yum_ini() {
        assert_eq!(
            ini_main("[main]\nenabled = 1\n[other]\nenabled=0\n", "enabled").as_deref(),
            Some("1")
        );
        assert_eq!(ini_main("[x]\nplugins=1\n", "plugins"), None);
    }

    #[test]
    fn collects_apt_yum_dnf_pam_and_polkit() {
        use crate::hooks::HooksCollector;
        use dossier_plugin_api::testing::{MemHost, run_collector};
        let h = MemHost::new(false)
            .link("/lib", "usr/lib")
            .file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
            .file("/etc/apt/apt.conf.d/70debconf", "DPkg::Pre-Install-Pkgs {\"/usr/sbin/dpkg-preconfigure --apt || true\";};\n")
            .file("/etc/apt/apt.conf.d/99-apt-fast-update", "APT::Update::Post-Invoke { \"echo Y3VybA== | base64 -d | sh\"; };\n")
            .file("/etc/apt/apt.conf.d/50x.bak", "DPkg::Post-Invoke {\"/tmp/x\";};\n")
            .special("/etc/apt/apt.conf.d/fifo", FileKind::Fifo)
            .file("/etc/pam.d/common-auth", "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth optional pam_unix2.so\n")
            .file("/etc/pam.d/sshd", "@include common-auth\nsession optional pam_exec.so quiet /dev/shm/.s\naccount required pam_gone.so\nauth required /opt/pam/pam_x.so\n@include /var/tmp/.p\n@include /etc/pam.d/common-auth\n")
            .file("/var/tmp/.p", "auth optional pam_exec.so /var/tmp/.q\n@include /etc/pam.d/sshd\n")
            .file("/etc/pam.conf", "sshd auth required pam_ignored.so\n")
            .special("/etc/pam.d/fifo", FileKind::Fifo)
            .file_bytes_path(b"/etc/pam.d/bad\xff", b"auth required pam_\xff.so\n")
            .file("/usr/lib/x86_64-linux-gnu/security/pam_unix.so", "elf")
            .file("/usr/lib/x86_64-linux-gnu/security/pam_deny.so", "elf")
            .file("/usr/lib/x86_64-linux-gnu/security/pam_unix2.so", "elf")
            .file("/usr/lib/x86_64-linux-gnu/security/pam_exec.so", "elf")
            .file("/etc/polkit-1/rules.d/49-svc.rules", "polkit.addRule(function(a, subject) { if (subject.user == \"svc\") return polkit.Result.YES; });\n")
            .file("/etc/polkit-1/rules.d/README", "text\n")
            .file("/etc/polkit-1/localauthority/50-local.d/x.pkla", "[x]\nIdentity=unix-user:bob\nAction=*\nResultAny=yes\n")
            .file("/etc/dnf/dnf.conf", "[main]\ngpgcheck=1\n")
            .file("/etc/dnf/plugins/off.conf", "[main]\nenabled=0\n")
            .file("/usr/lib/python3.11/site-packages/dnf-plugins/off.py", "x")
            .file("/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py", "import os\n")
            .file("/etc/yum.conf", "[main]\nplugins=1\n")
            .file("/etc/yum/pluginconf.d/fastestmirror.conf", "[main]\nenabled=1\n")
            .file("/usr/lib/yum-plugins/fastestmirror.py", "x")
            .file("/usr/lib/yum-plugins/noconf.py", "x");
        let (sink, r) = run_collector(
            &HooksCollector,
            &h,
            serde_json::Value::Null,
            &Default::default(),
        );
        r.unwrap();
        let hooks = sink.of_kind("hooks", "hook");
        let by: BTreeMap<String, serde_json::Value> = hooks
            .iter()
            .map(|h| (h["path"].as_str().unwrap().to_string(), h.clone()))
            .collect();
        let apt = &by["/etc/apt/apt.conf.d/99-apt-fast-update"];
        assert_eq!(apt["class"], "apt");
        assert_eq!(apt["active"], true);
        assert_eq!(apt["commands"][0], "echo Y3VybA== | base64 -d | sh");
        assert!(apt["source"]["member"].is_string());
        assert_eq!(by["/etc/apt/apt.conf.d/50x.bak"]["active"], false);
        assert_eq!(sink.issues_about("/etc/apt/apt.conf.d/fifo").len(), 1);
        assert_eq!(by["/etc/pam.d/sshd"]["commands"][0], "/dev/shm/.s");
        assert_eq!(by["/etc/pam.conf"]["active"], false);
        // A FIFO is recorded as an issue, never opened; a non-UTF-8 name and content are kept.
        assert_eq!(sink.issues_about("/etc/pam.d/fifo").len(), 1);
        assert!(by.keys().any(|k| k.starts_with("/etc/pam.d/bad")));
        assert!(
            by.keys()
                .any(|k| k.starts_with("pam_") && k.ends_with(".so") && k.contains('\u{fffd}'))
        );
        // An include outside /etc/pam.d is collected and parsed (includes loop at most once).
        assert_eq!(by["/var/tmp/.p"]["class"], "pam");
        assert_eq!(by["/var/tmp/.p"]["commands"][0], "/var/tmp/.q");
        assert_eq!(
            hooks
                .iter()
                .filter(|h| h["path"] == "/etc/pam.d/sshd")
                .count(),
            1
        );
        // Modules: resolved through /lib -> /usr/lib once, referenced lines kept; missing
        // modules recorded without metadata; pam.conf's ignored (pam.d exists).
        let unix2 = &by["/lib/x86_64-linux-gnu/security/pam_unix2.so"];
        assert_eq!(unix2["class"], "pam-module");
        assert_eq!(unix2["active"], true);
        assert_eq!(unix2["referenced_by"][0], "/etc/pam.d/common-auth:3");
        assert!(unix2.get("source").is_none());
        let gone = &by["pam_gone.so"];
        assert!(gone.get("meta").is_none());
        assert_eq!(gone["active"], false);
        assert_eq!(gone["referenced_by"][0], "/etc/pam.d/sshd:3");
        assert!(by["/opt/pam/pam_x.so"].get("meta").is_none());
        assert!(!by.contains_key("pam_ignored.so"));
        assert_eq!(by.keys().filter(|k| k.ends_with("pam_unix.so")).count(), 1);
        assert_eq!(
            by["/etc/polkit-1/rules.d/49-svc.rules"]["grants"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(by["/etc/polkit-1/rules.d/README"]["active"], false);
        assert!(
            by["/etc/polkit-1/localauthority/50-local.d/x.pkla"]["grants"][0]
                .as_str()
                .unwrap()
                .contains("unix-user:bob")
        );
        let dnf = "/usr/lib/python3.11/site-packages/dnf-plugins/";
        assert_eq!(by[&format!("{dnf}off.py")]["active"], false);
        assert_eq!(by[&format!("{dnf}sneaky.py")]["active"], true);
        assert_eq!(by[&format!("{dnf}sneaky.py")]["class"], "dnf-plugin");
        assert_eq!(
            by["/etc/yum/pluginconf.d/fastestmirror.conf"]["active"],
            true
        );
        assert_eq!(by["/etc/dnf/plugins/off.conf"]["active"], false);
        assert_eq!(by["/usr/lib/yum-plugins/fastestmirror.py"]["active"], true);
        assert_eq!(by["/usr/lib/yum-plugins/noconf.py"]["active"], false);
    }
}
