//! [`FilesAhead`]: the files a collector is about to capture from a directory it listed (and
//! the targets of those that are symlinks), asked for together a batch at a time: over SSH
//! one batch of requests for up to [`BATCH`] files instead of several round trips per file.
//!
//! Reading ahead changes when a file is read, never what the collector does with it: the
//! collector still takes its files one by one in its own order, and each answer (the data,
//! or the failure) is stored, or recorded, at the point where the collector used to read it,
//! through [`CollectContext::capture_outcome`], exactly as [`CollectContext::capture`] would
//! have. An answer the collector does not take (a masked unit, a file it skips after all) is
//! dropped unstored; a file it captures that was not read ahead is read then.

use dossier_plugin_api::CollectContext;
use dossier_plugin_api::collect::Captured;
use dossier_plugin_api::host::{HostError, ReadOutcome};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Files read together, at most (the SSH host's own batch).
pub const BATCH: usize = 32;

/// Files of one directory to be captured, in the order the collector takes them.
pub struct FilesAhead {
    /// The files, each with whether the listing said it is a symlink.
    todo: Vec<(PathBuf, bool)>,
    /// Bytes kept of each file.
    limit: u64,
    /// `todo[..next]` were asked for already.
    next: usize,
    reads: HashMap<PathBuf, Result<ReadOutcome, HostError>>,
    links: HashMap<PathBuf, Result<PathBuf, HostError>>,
}

impl FilesAhead {
    /// The files `todo` (path, and whether it is a symlink), to be captured with `limit`.
    pub fn new(todo: Vec<(PathBuf, bool)>, limit: u64) -> Self {
        FilesAhead {
            todo,
            limit,
            next: 0,
            reads: HashMap::new(),
            links: HashMap::new(),
        }
    }

    /// When `path` is one of the files not yet asked for, asks for it and the next ones (a
    /// batch: their content, and the targets of the symlinks among them).
    fn fill(&mut self, ctx: &CollectContext<'_>, path: &Path) {
        if ctx.host_lost().is_some() {
            return;
        }
        let Some(i) = self.todo[self.next..].iter().position(|(p, _)| p == path) else {
            return;
        };
        let start = self.next + i;
        let end = (start + BATCH).min(self.todo.len());
        self.next = end;
        let batch = &self.todo[start..end];
        let paths: Vec<PathBuf> = batch.iter().map(|(p, _)| p.clone()).collect();
        let links: Vec<PathBuf> = batch
            .iter()
            .filter(|(_, link)| *link)
            .map(|(p, _)| p.clone())
            .collect();
        let read = ctx.host().read_many(&paths, self.limit);
        self.reads.extend(paths.into_iter().zip(read));
        if !links.is_empty() {
            let targets = ctx.host().read_links(&links);
            self.links.extend(links.into_iter().zip(targets));
        }
    }

    /// [`CollectContext::capture`] of `path` (with this set's limit), from the batch read
    /// ahead when it is one of the files.
    pub fn capture(&mut self, ctx: &mut CollectContext<'_>, path: &Path) -> Option<Captured> {
        if ctx.host_lost().is_some() {
            return None;
        }
        if !self.reads.contains_key(path) {
            self.fill(ctx, path);
        }
        match self.reads.remove(path) {
            Some(r) => ctx.capture_outcome(path, r),
            None => ctx.capture(path, self.limit),
        }
    }

    /// [`CollectContext::read_link`] of `path`, from the batch read ahead when it is one of
    /// the symlinks.
    pub fn read_link(&mut self, ctx: &mut CollectContext<'_>, path: &Path) -> Option<PathBuf> {
        if ctx.host_lost().is_some() {
            return None;
        }
        if !self.links.contains_key(path) {
            self.fill(ctx, path);
        }
        match self.links.remove(path) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) if e.is_not_found() => None,
            Some(Err(e)) => {
                ctx.host_error(&e);
                None
            }
            None => ctx.read_link(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::testing::MemHost;

    #[test]
    fn files_read_ahead_are_captured_as_capture_would() {
        let h = MemHost::new(false)
            .file("/d/a", "alpha")
            .file("/d/b", "beta")
            .link("/d/l", "a");
        let mut sink = dossier_plugin_api::testing::MemSink::default();
        let (config, prior) = (serde_json::Value::Null, Default::default());
        let mut cache = std::collections::HashMap::new();
        let mut ctx = CollectContext::new("t", &h, &mut sink, &config, &prior, &mut cache);
        let todo = vec![
            (PathBuf::from("/d/a"), false),
            (PathBuf::from("/d/b"), false),
            (PathBuf::from("/d/gone"), false),
            (PathBuf::from("/d/l"), true),
        ];
        let mut ahead = FilesAhead::new(todo, 3);
        let a = ahead.capture(&mut ctx, Path::new("/d/a")).unwrap();
        assert_eq!(a.data, b"alp");
        assert!(a.truncated);
        assert!(ahead.capture(&mut ctx, Path::new("/d/gone")).is_none());
        assert_eq!(
            ahead.read_link(&mut ctx, Path::new("/d/l")),
            Some(PathBuf::from("a"))
        );
        assert_eq!(
            ahead.capture(&mut ctx, Path::new("/d/l")).unwrap().data,
            b"alp"
        );
        // Not one of the files: captured directly.
        assert_eq!(
            ahead.capture(&mut ctx, Path::new("/d/b")).unwrap().data,
            b"bet"
        );
    }
}
