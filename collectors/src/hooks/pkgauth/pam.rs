//! PAM: the service files (`/etc/pam.d/*`, and `/etc/pam.conf`, which PAM reads only without
//! `/etc/pam.d`, plus files they `@include` outside `/etc/pam.d`), their lines parsed, the
//! commands of `pam_exec`, and every module a line loads, resolved against the PAM module
//! directories and recorded with the lines that load it.

use crate::hooks::record::{Extracted, Run, regular};
use crate::util::{canonicalize, name_text, ptext};
use dossier_plugin_api::collect::CollectError;
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{HookRecord, Record};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

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

/// Records the PAM service files and the modules their lines load.
pub(super) fn collect(run: &mut Run<'_, '_>) -> Result<(), CollectError> {
    let modules = service_files(run)?;
    if modules.is_empty() {
        return Ok(());
    }
    for (path, at) in resolve_modules(run, modules) {
        pam_module(run, &path, at)?;
    }
    Ok(())
}

/// Module as written → the lines (`file:line`) loading it.
type ModuleLines = BTreeMap<String, Vec<String>>;

/// Records every service file of `/etc/pam.d`, `/etc/pam.conf`, and the files they include by
/// an absolute path outside `/etc/pam.d` (a few, once each); returns the modules they load.
fn service_files(run: &mut Run<'_, '_>) -> Result<ModuleLines, CollectError> {
    let mut modules = ModuleLines::new();
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
        // PAM ignores /etc/pam.conf when /etc/pam.d exists.
        let counts = !(with_service && has_pam_d);
        let (found, includes) = service_file(run, &path, with_service, counts)?;
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
    Ok(modules)
}

/// (module, `file:line`) of every module line of a service file, and the files it includes.
type ServiceLines = (Vec<(String, String)>, Vec<String>);

/// Records one service file (`pam_exec` commands as its commands; active when PAM reads it,
/// `counts`) and returns what its lines load and include.
fn service_file(
    run: &mut Run<'_, '_>,
    path: &Path,
    with_service: bool,
    counts: bool,
) -> Result<ServiceLines, CollectError> {
    let where_ = ptext(path);
    let mut found: Vec<(String, String)> = Vec::new();
    let mut includes: Vec<String> = Vec::new();
    run.parsed_file(
        path,
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
    Ok((found, includes))
}

/// Resolves each module against the PAM module directories (a module found in none keeps its
/// name); the same file under two names (`/lib` and `/usr/lib`) is one entry with the lines of
/// both.
fn resolve_modules(run: &mut Run<'_, '_>, modules: ModuleLines) -> ModuleLines {
    let dirs = pam_module_dirs(run);
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut by_path = ModuleLines::new();
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
    by_path
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
