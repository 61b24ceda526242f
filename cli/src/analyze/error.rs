//! The errors of an analysis run: [`ReportError`] when a report file cannot be written (the
//! output directory, a host report, the fleet report, findings JSON, a plugin reporter's
//! file), [`AnalyzeError`] for everything that stops a run. A bundle that fails verification
//! is not an error: it is listed as not analyzed.

use dossier_bundle::fsio::FsError;
use std::path::{Path, PathBuf};

/// A report (or the output directory it goes in) that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The output directory could not be created.
    #[error(transparent)]
    OutDir(FsError),
    /// A report file (or its temporary file) could not be written or moved into place.
    #[error("writing the reports failed: {}: {message}", .path.display())]
    Write { path: PathBuf, message: String },
}

impl ReportError {
    /// A write error of `path`.
    pub fn write(path: &Path, e: impl std::fmt::Display) -> ReportError {
        ReportError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// Why an analysis run stopped before its fleet report was written.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// A report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The analysis spool (a temporary file in the output directory) failed.
    #[error("the analysis spool in {} failed: {message}", .dir.display())]
    Spool { dir: PathBuf, message: String },
}

impl AnalyzeError {
    /// A spool error in the output directory `dir`.
    pub fn spool(dir: &Path, e: impl std::fmt::Display) -> AnalyzeError {
        AnalyzeError::Spool {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        }
    }
}
