//! Reading one scope's unit directories: fragments (the highest-priority one wins), drop-ins
//! (`<unit>.d/*.conf`), and the links that enable units (`*.wants/`, `*.requires/`,
//! `*.upholds/`, aliases); each file copied and parsed.

use super::parse;
use crate::shared::ahead::FilesAhead;
use crate::util::{canonicalize, name_text, ptext};
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::collect::IssueKind;
use dossier_plugin_api::host::{DirEntry, FileKind};
use dossier_plugin_api::records::SourceRef;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Suffixes of unit names.
const UNIT_SUFFIXES: &[&str] = &[
    "service",
    "socket",
    "timer",
    "path",
    "mount",
    "automount",
    "swap",
    "target",
    "slice",
    "scope",
    "device",
];

/// One unit file (fragment or drop-in) found in a directory.
#[derive(Clone, Debug)]
pub(super) struct Found {
    pub(super) path: PathBuf,
    pub(super) dir: PathBuf,
    pub(super) source: SourceRef,
    pub(super) meta: Option<dossier_plugin_api::FileMeta>,
    pub(super) link_target: Option<String>,
    pub(super) masked: bool,
    pub(super) parsed: parse::UnitFile,
}

/// Everything found in one scope's directories, in priority order.
#[derive(Default, Debug)]
pub(super) struct Scan {
    /// name → fragments, highest priority first.
    pub(super) fragments: BTreeMap<String, Vec<Found>>,
    /// `<unit>.d` name (without `.d`) → drop-ins, by file name, highest priority first.
    pub(super) dropins: BTreeMap<String, Vec<(String, Found)>>,
    /// unit name → link paths that enable it (`*.wants/`, `*.requires/`, `*.upholds/`).
    pub(super) enabled_via: BTreeMap<String, Vec<String>>,
}

/// A unit name: a non-empty stem and a unit suffix.
fn is_unit_name(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, suffix)| !stem.is_empty() && UNIT_SUFFIXES.contains(&suffix))
}

/// Reads the unit directories `dirs` of one scope, highest priority first (a directory seen
/// before under another name, in `seen`, is skipped).
pub(super) fn scan_scope(
    ctx: &mut CollectContext<'_>,
    dirs: Vec<PathBuf>,
    cap: u64,
    seen: &mut HashSet<PathBuf>,
) -> Scan {
    let mut scan = Scan::default();
    for dir in dirs {
        // /lib/systemd/system is /usr/lib/systemd/system on merged-/usr systems: scan once.
        let Some(canon) = canonicalize(ctx.host(), &dir) else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        let Some(entries) = ctx.list_dir(&dir) else {
            continue;
        };
        // The unit files below are read a batch at a time (see `FilesAhead`).
        let mut ahead = files_ahead(&dir, &entries, cap, |name, e| {
            is_unit_name(name) && e.kind != Some(FileKind::Dir)
        });
        for e in entries {
            let name = name_text(&e.name);
            let path = dir.join(&e.name);
            let kind = e
                .kind
                .or_else(|| ctx.host().lstat(&path).ok().map(|m| m.kind));
            if let Some(unit) = name.strip_suffix(".d") {
                if is_unit_name(unit)
                    || UNIT_SUFFIXES.contains(&unit)
                    || unit.ends_with('-')
                    || unit.contains("-.")
                {
                    for (file, found) in scan_dropins(ctx, &path, &dir, cap) {
                        scan.dropins
                            .entry(unit.to_string())
                            .or_default()
                            .push((file, found));
                    }
                }
                continue;
            }
            if let Some(target) = [".wants", ".requires", ".upholds"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
            {
                if let Some(links) = ctx.list_dir(&path) {
                    for l in links {
                        let lname = name_text(&l.name);
                        let lpath = path.join(&l.name);
                        let _ = target;
                        scan.enabled_via
                            .entry(lname)
                            .or_default()
                            .push(ptext(&lpath));
                    }
                }
                continue;
            }
            if is_unit_name(&name) && kind != Some(FileKind::Dir) {
                if let Some(found) = read_unit_file(ctx, &path, &dir, &mut ahead) {
                    // A symlink in a unit directory whose target has another unit name is an
                    // alias: it enables the target like a .wants link does.
                    if let Some(t) = &found.link_target {
                        let tname = t.rsplit('/').next().unwrap_or(t).to_string();
                        if tname != name && is_unit_name(&tname) && dir.starts_with("/etc") {
                            scan.enabled_via
                                .entry(tname)
                                .or_default()
                                .push(ptext(&path));
                        }
                    }
                    scan.fragments.entry(name).or_default().push(found);
                }
            }
        }
    }
    scan
}

/// The files of the listing `entries` of `dir` that `wanted` (by name and entry) says the
/// scan reads, in the listing's order, to be read ahead with `cap`.
fn files_ahead(
    dir: &Path,
    entries: &[DirEntry],
    cap: u64,
    wanted: impl Fn(&str, &DirEntry) -> bool,
) -> FilesAhead {
    let todo = entries
        .iter()
        .filter(|e| wanted(&name_text(&e.name), e))
        .map(|e| (dir.join(&e.name), e.kind == Some(FileKind::Symlink)))
        .collect();
    FilesAhead::new(todo, cap)
}

/// Records a symlink whose target cannot be opened (missing, looping, or out of reach).
fn unfollowable_link(ctx: &mut CollectContext<'_>, path: &Path, target: &str) {
    ctx.issue(
        ptext(path),
        IssueKind::Malformed,
        format!("symlink to {target} cannot be followed (dangling or looping); not read"),
    );
}

/// The `*.conf` drop-ins of one `<unit>.d` directory, by file name.
fn scan_dropins(
    ctx: &mut CollectContext<'_>,
    ddir: &Path,
    dir: &Path,
    cap: u64,
) -> Vec<(String, Found)> {
    let mut out = Vec::new();
    let issues_before = ctx.issues_recorded();
    let Some(entries) = ctx.list_dir(ddir) else {
        if ctx.issues_recorded() == issues_before
            && ctx
                .host()
                .lstat(ddir)
                .is_ok_and(|m| m.kind == FileKind::Symlink)
        {
            let target = ctx.read_link(ddir).map(|t| ptext(&t)).unwrap_or_default();
            unfollowable_link(ctx, ddir, &target);
        }
        return out;
    };
    let mut ahead = files_ahead(ddir, &entries, cap, |name, _| name.ends_with(".conf"));
    for e in entries {
        let name = name_text(&e.name);
        if !name.ends_with(".conf") {
            continue;
        }
        if let Some(f) = read_unit_file(ctx, &ddir.join(&e.name), dir, &mut ahead) {
            out.push((name, f));
        }
    }
    out
}

/// Reads one unit file (fragment or drop-in): metadata, link target, copy and parse; a link
/// to `/dev/null` is a masked unit and not read.
fn read_unit_file(
    ctx: &mut CollectContext<'_>,
    path: &Path,
    dir: &Path,
    ahead: &mut FilesAhead,
) -> Option<Found> {
    let meta = ctx.lstat(path)?;
    let mut link_target = None;
    let mut masked = false;
    if meta.kind == FileKind::Symlink {
        let t = ahead.read_link(ctx, path)?;
        masked = t == Path::new("/dev/null");
        link_target = Some(ptext(&t));
    }
    let mut found = Found {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        source: SourceRef::path_only(ptext(path)),
        meta: Some(meta.clone()),
        link_target,
        masked,
        parsed: Default::default(),
    };
    if masked {
        return Some(found);
    }
    let issues_before = ctx.issues_recorded();
    match ahead.capture(ctx, path) {
        Some(c) => {
            found.parsed = parse::parse(&c.data);
            found.source = c.source_ref(path);
            if !found.parsed.warnings.is_empty() {
                let msg = format!(
                    "{} line(s) not understood; first: {}",
                    found.parsed.warnings.len(),
                    found.parsed.warnings[0]
                );
                ctx.issue(ptext(path), IssueKind::Malformed, msg);
            }
        }
        None if meta.kind == FileKind::Symlink && ctx.issues_recorded() == issues_before => {
            // The record keeps what it points at; say why there is no content (over SFTP a
            // symlink loop also reads as "no such file").
            unfollowable_link(ctx, path, found.link_target.as_deref().unwrap_or_default());
        }
        None => {}
    }
    Some(found)
}

impl PartialEq for Found {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}
