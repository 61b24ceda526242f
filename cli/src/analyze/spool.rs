//! The analysis spool: each host's analysis (JSON) goes to an unnamed temporary file in the
//! output directory as soon as it is analyzed, and only a small [`Indexed`] entry per host
//! stays in memory; the fleet report and findings JSON are written from it in one pass.

use super::error::{AnalyzeError, ReportError};
use super::files::scratch;
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_reporters::fleet::HostEntry;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What stays in memory of an analyzed bundle until the fleet report is written.
pub(crate) struct Indexed {
    /// Taken out (moved into the fleet writer's slice) once sorted.
    pub(crate) entry: Option<HostEntry>,
    pub(crate) bundle: PathBuf,
    pub(crate) report: PathBuf,
    /// Where its [`HostAnalysis`] (JSON) is in the spool.
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

/// Report order: hostname, then bundle name.
pub(crate) fn sort_key(i: &Indexed) -> (&str, &str) {
    let e = i.entry.as_ref().expect("not taken yet");
    (&e.hostname, &e.bundle)
}

/// The spool file, appended to in bundle order, then read (and appended to) at offsets.
pub(crate) struct Spool {
    w: BufWriter<File>,
    /// Bytes in the spool.
    end: u64,
    /// The output directory (for errors).
    dir: PathBuf,
}

impl Spool {
    /// A spool in the output directory `dir`.
    pub(crate) fn create(dir: &Path) -> Result<Spool, ReportError> {
        Ok(Spool {
            w: BufWriter::with_capacity(1 << 16, scratch(dir)?),
            end: 0,
            dir: dir.to_path_buf(),
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> AnalyzeError {
        AnalyzeError::spool(&self.dir, e)
    }

    /// Appends one analysis (buffered); returns where it is.
    pub(crate) fn push(&mut self, json: &[u8]) -> Result<u64, AnalyzeError> {
        self.w.write_all(json).map_err(|e| self.error(e))?;
        let at = self.end;
        self.end += json.len() as u64;
        Ok(at)
    }

    /// Writes out what is buffered: from here on the spool is read and written at offsets.
    pub(crate) fn flush(&mut self) -> Result<(), AnalyzeError> {
        self.w.flush().map_err(|e| self.error(e))
    }

    /// The analysis of `i` (after [`Spool::flush`]); `buf` is reused between calls.
    pub(crate) fn read(
        &self,
        i: &Indexed,
        buf: &mut Vec<u8>,
    ) -> Result<HostAnalysis, AnalyzeError> {
        buf.resize(i.len, 0);
        self.w
            .get_ref()
            .read_exact_at(buf, i.offset)
            .map_err(|e| self.error(e))?;
        serde_json::from_slice(buf).map_err(|e| self.error(e))
    }

    /// Stores a rewritten analysis of `i` at the end of the spool (after [`Spool::flush`]) and
    /// points `i` at it.
    pub(crate) fn rewrite(
        &mut self,
        i: &mut Indexed,
        a: &HostAnalysis,
    ) -> Result<(), AnalyzeError> {
        let json = serde_json::to_vec(a).map_err(|e| self.error(e))?;
        self.w
            .get_ref()
            .write_all_at(&json, self.end)
            .map_err(|e| self.error(e))?;
        i.entry = Some(HostEntry::of(a));
        i.offset = self.end;
        i.len = json.len();
        self.end += json.len() as u64;
        Ok(())
    }
}
