//! Recording one hook file: the budget of files per host (`max_files`), the copy of its
//! content into the bundle, what its content says (commands, grants, hidden), whether it is an
//! unchanged copy of a distribution template, and the hook record. A hook file's digests are
//! noted in the host's digest cache as it is copied, for `packages`, which verifies it next. Every hook class goes
//! through [`Run`]; the modules of the classes depend on this one, never the other way.

use crate::shared::filedigest::{DigestCache, capture_noted, md5_wanted};
use crate::util::{name_text, ptext};
use dossier_plugin_api::collect::{CollectError, IssueKind};
use dossier_plugin_api::host::FileKind;
use dossier_plugin_api::records::{HookRecord, Record};
use dossier_plugin_api::{CollectContext, FileMeta, HostErrorKind};
use std::path::Path;
use std::sync::Arc;

/// Hook files that distributions install by copying a packaged template (path of the copy,
/// path of the template).
const TEMPLATES: &[(&str, &str)] = &[("/etc/profile", "/usr/share/base-files/profile")];

/// One collection of hooks on one host: the context, the per-file cap and the file budget.
pub(crate) struct Run<'c, 'a> {
    pub(crate) ctx: &'c mut CollectContext<'a>,
    pub(crate) cap: u64,
    left: usize,
    full: bool,
    /// The host's digest cache, where each hook file's digests wait for `packages` (which
    /// verifies the system-wide ones), and whether it may need their MD5.
    digests: Arc<DigestCache>,
    md5: bool,
}

/// What a hook file's content says, for the classes whose syntax is parsed.
#[derive(Default)]
pub(crate) struct Extracted {
    pub(crate) commands: Vec<String>,
    pub(crate) grants: Vec<String>,
    /// The file says it does not run (`Hidden=true`).
    pub(crate) hidden: bool,
}

impl<'c, 'a> Run<'c, 'a> {
    /// Starts a collection: files read up to `cap` bytes, at most `max_files` recorded.
    pub(crate) fn new(ctx: &'c mut CollectContext<'a>, cap: u64, max_files: usize) -> Self {
        let digests = DigestCache::of(ctx);
        let md5 = md5_wanted(ctx);
        Run {
            ctx,
            cap,
            left: max_files,
            full: false,
            digests,
            md5,
        }
    }

    /// Counts one more record against `max_files`; false (and an issue, once) when full.
    pub(crate) fn take_slot(&mut self) -> bool {
        if self.left == 0 {
            if !self.full {
                self.full = true;
                self.ctx.issue(
                    "hooks",
                    IssueKind::Incomplete,
                    "max_files reached; later hook files were not collected",
                );
            }
            return false;
        }
        self.left -= 1;
        true
    }

    /// Records one hook file whose content is kept but not parsed. `active` decides from the
    /// metadata of what the path resolves to.
    pub(crate) fn file(
        &mut self,
        path: &Path,
        class: &str,
        runs_at: &str,
        owner: Option<&str>,
        active: &dyn Fn(&FileMeta) -> bool,
    ) -> Result<(), CollectError> {
        self.parsed_file(path, class, runs_at, owner, active, &mut |_| {
            Extracted::default()
        })
    }

    /// Records one hook file whose content `parse` reads (the bytes kept in the bundle).
    pub(crate) fn parsed_file(
        &mut self,
        path: &Path,
        class: &str,
        runs_at: &str,
        owner: Option<&str>,
        active: &dyn Fn(&FileMeta) -> bool,
        parse: &mut dyn FnMut(&[u8]) -> Extracted,
    ) -> Result<(), CollectError> {
        if self.left == 0 {
            self.take_slot();
            return Ok(());
        }
        let Some(meta) = self.ctx.lstat(path) else {
            return Ok(());
        };
        if meta.kind == FileKind::Dir {
            return Ok(());
        }
        self.take_slot();
        let link_target = (meta.kind == FileKind::Symlink)
            .then(|| self.ctx.read_link(path).map(|t| ptext(&t)))
            .flatten();
        let target = if meta.kind == FileKind::Symlink {
            match self.ctx.host().stat(path) {
                Ok(m) => Some(m),
                Err(e) if e.is_not_found() => None,
                Err(e) => {
                    self.ctx.host_error(&e);
                    None
                }
            }
        } else {
            Some(meta.clone())
        };
        let mut ex = Extracted::default();
        let source = match target.as_ref().map(|m| m.kind) {
            // rc links point at init scripts recorded on their own; other links are copied.
            Some(FileKind::File) if class == "rc-link" && link_target.is_some() => None,
            Some(FileKind::File) => {
                let c = if meta.kind == FileKind::File {
                    let md5 = self.md5 && owner.is_none();
                    capture_noted(self.ctx, &self.digests, path, self.cap, md5)
                } else {
                    self.ctx.capture(path, self.cap)
                };
                c.map(|c| {
                    ex = parse(&c.data);
                    c.source_ref(path)
                })
            }
            Some(k) => {
                self.ctx.issue(
                    ptext(path),
                    IssueKind::Error(HostErrorKind::NotRegular),
                    format!("{} where a hook file is expected; not opened", k.name()),
                );
                None
            }
            None => None,
        };
        let is_active = target.as_ref().is_some_and(active) && !ex.hidden;
        let copy_of = source.as_ref().and_then(|s| self.template_of(path, s));
        self.ctx.emit(&Record::Hook(HookRecord {
            path: ptext(path),
            class: class.into(),
            runs_at: runs_at.into(),
            owner: owner.map(str::to_string),
            meta: Some(meta),
            link_target,
            active: is_active,
            commands: ex.commands,
            grants: ex.grants,
            copy_of,
            source,
            ..Default::default()
        }))
    }

    /// The distribution template `path` is an identical copy of, if any: files that a
    /// package's maintainer script copies into /etc instead of shipping them, so no package
    /// owns the copy.
    fn template_of(
        &mut self,
        path: &Path,
        source: &dossier_plugin_api::records::SourceRef,
    ) -> Option<String> {
        let template = TEMPLATES
            .iter()
            .find(|(copy, _)| Path::new(copy) == path)
            .map(|(_, t)| *t)?;
        let ours = source.sha256.as_deref()?;
        let theirs = self
            .ctx
            .host()
            .hash_file(Path::new(template), self.cap)
            .ok()?;
        (theirs.sha256 == ours).then(|| template.to_string())
    }

    /// Records every entry of `dir` as a hook file of `class`; `active` decides from the
    /// entry's name and the metadata of what it resolves to.
    pub(crate) fn dir(
        &mut self,
        dir: &str,
        class: &str,
        runs_at: &str,
        active: &dyn Fn(&str, &FileMeta) -> bool,
    ) -> Result<(), CollectError> {
        let dir = Path::new(dir);
        for e in self.ctx.list_dir(dir).unwrap_or_default() {
            let name = name_text(&e.name);
            self.file(&dir.join(&e.name), class, runs_at, None, &|m| {
                active(&name, m)
            })?;
        }
        Ok(())
    }
}

/// A regular file.
pub(crate) fn regular(m: &FileMeta) -> bool {
    m.kind == FileKind::File
}

/// A regular file with an execute bit.
pub(crate) fn executable(m: &FileMeta) -> bool {
    m.kind == FileKind::File && m.is_executable()
}
