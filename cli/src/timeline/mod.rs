//! `dossier timeline`: one Timesketch timeline (JSONL) from bundles, collected or imported.
//!
//! Each bundle is verified as `analyze` does (whole-file and per-member SHA-256, manifest,
//! the custody ledger beside it; an encrypted one is decrypted as it is read with
//! `--identity`, or refused), then its rows are made ([`source`], with the state in [`ctx`]): the file times of every
//! collected file with what each means (`Modification time`, `Status change time`, `Access
//! time`; the bundle keeps no birth time), process start times, logins, logouts, boots and
//! failed logins, last logins, password changes, units, cron entries, keys and the other files
//! the collectors describe ([`records`]), dpkg's per-package files (written when a package was
//! installed or upgraded), and the events of import bundles at their own time ([`events`]).
//! Every row carries `host` (for an imported event the event's own, the import bundle's then in
//! `bundle_host`), `bundle`, `bundle_sha256`, `member` (the bundle member the fact
//! was read from: a records member with `record_line`, or `manifest.json` for the metadata of
//! a verbatim copy, then named by `raw_member` and `raw_sha256`) and `source` (the collector).
//!
//! The format is Timesketch's JSONL import ([`row`]): `message`, `datetime` (ISO 8601),
//! `timestamp_desc`, `timestamp` (microseconds since the epoch), other keys attributes, none of
//! the names Timesketch keeps for itself, each always of one JSON type. Rows
//! are sorted by time, then by their bytes ([`sort`]: runs of at most a memory budget spilled
//! to an unnamed temporary file and merged), so the same bundles in any order give the same
//! bytes. The file is written under a temporary name (mode 0600, never through a link), synced
//! and renamed into place; each bundle's custody ledger gets a `timelined` entry naming the
//! timeline's SHA-256.

mod ctx;
mod events;
mod records;
mod row;
mod source;

pub use ctx::BundleRows;

use crate::analyze::{Ledgers, custody_of, open_checked};
use crate::extsort::Sorter;
use dossier_bundle::crypt::Identities;
use dossier_bundle::fsio::{create_unique_private, sync_dir};
use dossier_bundle::ledger;
use dossier_bundle::reader::Limits;
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes of records members kept in memory from verification per bundle; larger ones (the
/// events of a big import) are inflated again line by line, so memory stays flat.
const KEPT_RECORDS: u64 = 16 << 20;

/// Where the timeline goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    File(PathBuf),
    /// `--out -`.
    Stdout,
}

/// `dossier timeline`.
pub struct TimelinePlan {
    pub bundles: Vec<PathBuf>,
    pub out: Output,
    pub identities: Identities,
    /// Trusted public keys (`--pubkey`, `--trusted-keys`): when any, only bundles whose
    /// signature verifies are in the timeline (checked by the command before
    /// [`write_timeline`]).
    pub keys: Vec<dossier_bundle::signature::TrustedKey>,
    /// Bytes of rows held in memory before a sorted run is spilled.
    pub budget: usize,
}

/// What a run wrote.
#[derive(Debug)]
pub struct Timeline {
    /// Bundles whose rows are in the timeline, in name order, with what each gave.
    pub bundles: Vec<(PathBuf, BundleRows)>,
    /// Bundles refused (verification, custody ledger, encrypted without identity, or the
    /// same SHA-256 as a bundle already in), with why.
    pub refused: Vec<(PathBuf, String)>,
    /// Rows written, runs spilled, SHA-256 of the timeline (`None`: nothing was written, no
    /// bundle being left).
    pub rows: u64,
    pub runs: usize,
    pub sha256: Option<String>,
}

/// Why the timeline could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error("{}: {source}", path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Rows {
        path: PathBuf,
        source: source::RowsError,
    },
}

/// Verifies `bundles` and writes their timeline as `plan` says (see the module
/// documentation).
pub fn write_timeline(plan: &TimelinePlan, bundles: &[PathBuf]) -> Result<Timeline, TimelineError> {
    let scratch = scratch_dir(&plan.out);
    let out_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TimelineError::Output { path, source }
    };
    let mut sorter = Sorter::new(&scratch, plan.budget);
    let mut order: Vec<&PathBuf> = bundles.iter().collect();
    order.sort_by(|a, b| (a.file_name(), a).cmp(&(b.file_name(), b)));
    order.dedup();
    let limits = Limits {
        max_record_bytes: KEPT_RECORDS,
        ..Limits::default()
    };
    let mut ledgers = Ledgers::new();
    let mut t = Timeline {
        bundles: Vec::new(),
        refused: Vec::new(),
        rows: 0,
        runs: 0,
        sha256: None,
    };
    let mut seen: Vec<(String, PathBuf)> = Vec::new();
    for path in order {
        let custody = custody_of(&mut ledgers, path);
        let mut b = match open_checked(path, custody, &limits, &plan.identities) {
            Ok(b) => b,
            Err((_, why)) => {
                t.refused.push((path.clone(), why));
                continue;
            }
        };
        if let Some((_, first)) = seen.iter().find(|(s, _)| *s == b.sha256) {
            t.refused.push((
                path.clone(),
                format!(
                    "the same bundle (SHA-256) as {}: its rows are in once",
                    first.display()
                ),
            ));
            continue;
        }
        seen.push((b.sha256.clone(), path.clone()));
        let name = ledger::bundle_name(path);
        let rows = source::bundle_rows(&mut b, &name, &mut sorter).map_err(|source| {
            TimelineError::Rows {
                path: path.clone(),
                source,
            }
        })?;
        t.bundles.push((path.clone(), rows));
    }
    if t.bundles.is_empty() {
        return Ok(t);
    }
    t.rows = sorter.rows();
    t.runs = sorter.runs();
    let sha = match &plan.out {
        Output::Stdout => {
            let mut w = Hashing::new(std::io::BufWriter::new(std::io::stdout().lock()));
            sorter.finish(&mut w).map_err(out_err(Path::new("-")))?;
            w.inner.flush().map_err(out_err(Path::new("-")))?;
            hex(&w.hash.finalize())
        }
        Output::File(path) => write_file(path, &scratch, sorter).map_err(out_err(path))?,
    };
    record_in_ledgers(&ledgers, &t, &plan.out, &sha, &seen);
    t.sha256 = Some(sha);
    Ok(t)
}

/// Where spilled runs go: beside the output file (the current directory for stdout).
fn scratch_dir(out: &Output) -> PathBuf {
    match out {
        Output::File(p) => match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        },
        Output::Stdout => std::env::temp_dir(),
    }
}

/// Writes the sorted rows to a new file beside `path`, syncs it and renames it into place;
/// returns its SHA-256.
fn write_file(path: &Path, dir: &Path, sorter: Sorter) -> std::io::Result<String> {
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "timeline".into());
    let (f, tmp) = create_unique_private(dir, &format!(".{stem}."), ".partial")?;
    let written = (|| {
        let mut w = Hashing::new(std::io::BufWriter::with_capacity(1 << 20, f));
        sorter.finish(&mut w)?;
        let sha = hex(&w.hash.finalize());
        let f = w.inner.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(dir);
        Ok(sha)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A `timelined` entry in the custody ledger of each bundle in the timeline (a warning when
/// one cannot be written).
fn record_in_ledgers(
    ledgers: &Ledgers,
    t: &Timeline,
    out: &Output,
    sha: &str,
    seen: &[(String, PathBuf)],
) {
    let to = match out {
        Output::File(p) => p.display().to_string(),
        Output::Stdout => "standard output".into(),
    };
    for (path, rows) in &t.bundles {
        let Some(l) = ledgers
            .get(ledger::bundle_dir(path))
            .and_then(Option::as_ref)
            .filter(|l| l.writable())
        else {
            continue;
        };
        let bundle_sha = seen
            .iter()
            .find(|(_, p)| p == path)
            .map(|(s, _)| s.as_str());
        let detail = format!(
            "{} row(s) of {} in the timeline {to} (SHA-256 {sha}); dossier {}",
            rows.rows,
            t.rows,
            env!("CARGO_PKG_VERSION")
        );
        let ev = ledger::Event {
            action: "timelined",
            bundle: &ledger::bundle_name(path),
            sha256: bundle_sha,
            detail: Some(&detail),
        };
        if let Err(e) = ledger::append(&l.dir, &ev) {
            eprintln!("dossier: warning: custody ledger not updated: {e}");
        }
    }
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use crate::plans::{Plan, plan};
    use clap::Parser;

    fn planned(args: &[&str]) -> anyhow::Result<TimelinePlan> {
        let cli = Cli::try_parse_from(args)?;
        match plan(cli.command)? {
            Plan::Timeline(p) => Ok(p),
            _ => anyhow::bail!("not a timeline plan"),
        }
    }

    #[test]
    fn flags_become_a_plan_and_bad_ones_stop_it() {
        let p = planned(&["dossier", "timeline", "a.zip", "b.zip", "--out", "-"]).unwrap();
        assert_eq!(p.out, Output::Stdout);
        assert_eq!(p.bundles.len(), 2);
        assert_eq!(p.budget, 64 << 20);
        let p = planned(&[
            "dossier",
            "timeline",
            "a.zip",
            "--out",
            "t.jsonl",
            "--sort-memory",
            "8",
        ])
        .unwrap();
        assert_eq!(p.out, Output::File(PathBuf::from("t.jsonl")));
        assert_eq!(p.budget, 8 << 20);
        // --out is required, a bundle too; a zero budget or a directory cannot run.
        assert!(planned(&["dossier", "timeline", "a.zip"]).is_err());
        assert!(planned(&["dossier", "timeline", "--out", "t.jsonl"]).is_err());
        assert!(
            planned(&[
                "dossier",
                "timeline",
                "a.zip",
                "--out",
                "t",
                "--sort-memory",
                "0"
            ])
            .is_err()
        );
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_str().unwrap();
        let e = planned(&["dossier", "timeline", "a.zip", "--out", dir])
            .err()
            .unwrap();
        assert!(e.to_string().contains("a directory"), "{e}");
    }

    #[test]
    fn no_bundle_left_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("t.jsonl");
        let missing = d.path().join("missing.zip");
        let p = TimelinePlan {
            bundles: vec![missing.clone()],
            out: Output::File(out.clone()),
            identities: Identities::none(),
            keys: Vec::new(),
            budget: 1 << 20,
        };
        let t = write_timeline(&p, &p.bundles).unwrap();
        assert_eq!((t.bundles.len(), t.refused.len(), t.sha256), (0, 1, None));
        assert_eq!(t.refused[0].0, missing);
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
