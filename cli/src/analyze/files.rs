//! Report files: written under a temporary name (`*.partial`, mode 0600) and renamed into
//! place once complete, so a report is either whole or absent; unnamed scratch files for the
//! spool and the fleet report's sections; the directory name of each host's report.

use super::error::ReportError;
use dossier_bundle::fsio::file_safe;
use dossier_bundle::fsio::{create_private, write_synced};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes a report, synced, then renames it into place.
pub(crate) fn write_report(path: &Path, text: &str) -> Result<(), ReportError> {
    let tmp = path.with_extension("partial");
    write_synced(&tmp, text.as_bytes()).map_err(|e| ReportError::write(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ReportError::write(path, e))
}

/// [`write_report`] without the sync: host reports, synced together by one `syncfs` of the
/// output directory's file system before the fleet report is committed.
pub(crate) fn write_report_unsynced(path: &Path, text: &str) -> Result<(), ReportError> {
    let tmp = path.with_extension("partial");
    let mut f = create(&tmp)?;
    f.write_all(text.as_bytes())
        .map_err(|e| ReportError::write(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| ReportError::write(path, e))
}

/// Creates (or truncates) a file with mode 0600, refusing a symbolic link in its place.
fn create(path: &Path) -> Result<File, ReportError> {
    create_private(path).map_err(|e| ReportError::write(path, e))
}

/// A report written under a temporary name (`*.partial`) and renamed into place once complete
/// and synced; removed if dropped before [`Pending::commit`].
pub(crate) struct Pending {
    pub(crate) path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Pending {
    pub(crate) fn create(path: PathBuf) -> Result<Pending, ReportError> {
        let tmp = path.with_extension("partial");
        let f = create(&tmp)?;
        Ok(Pending {
            path,
            tmp,
            out: Some(BufWriter::with_capacity(1 << 16, f)),
        })
    }

    pub(crate) fn sink(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("not committed")
    }

    pub(crate) fn commit(mut self) -> Result<PathBuf, ReportError> {
        let out = self.out.take().expect("not committed");
        let f = out
            .into_inner()
            .map_err(|e| ReportError::write(&self.tmp, e.error()))?;
        f.sync_all().map_err(|e| ReportError::write(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| ReportError::write(&self.path, e))?;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An unnamed temporary file in `dir` (mode 0600; it disappears when closed).
pub(crate) fn scratch(dir: &Path) -> Result<File, ReportError> {
    tempfile::tempfile_in(dir).map_err(|e| ReportError::write(dir, format!("temporary file: {e}")))
}

/// Directory names given to host reports so far.
#[derive(Default)]
pub(crate) struct HostDirs {
    used: HashSet<String>,
    /// Per base name, the suffix where the search for a free name starts next time.
    next: HashMap<String, usize>,
}

/// Directory of a host's report: its file-safe hostname, then `-2`, `-3`... for further
/// bundles of the same host. Starts where the previous search for the same base ended (every
/// name before it is taken and stays taken), so many bundles of one host cost no more than one.
pub(crate) fn host_dir(hostname: &str, dirs: &mut HostDirs) -> String {
    let base = file_safe(hostname);
    let start = dirs.next.get(&base).copied().unwrap_or(1);
    let (i, name) = (start..)
        .map(|i| {
            let name = if i == 1 {
                base.clone()
            } else {
                format!("{base}-{i}")
            };
            (i, name)
        })
        .find(|(_, d)| dirs.used.insert(d.clone()))
        .expect("unbounded");
    dirs.next.insert(base, i + 1);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_dirs_are_unique_whatever_the_hostnames() {
        let mut dirs = HostDirs::default();
        let got: Vec<String> = ["a", "a-2", "a", "a", "b", "a-2"]
            .iter()
            .map(|h| host_dir(h, &mut dirs))
            .collect();
        assert_eq!(got, ["a", "a-2", "a-3", "a-4", "b", "a-2-2"]);
    }
}
