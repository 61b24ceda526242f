//! Known-good baselines on disk: `dossier baseline BUNDLE... --out FILE` builds one from
//! verified bundles (schema `dossier-baseline`, see `dossier_analyzers::baseline`), and
//! `analyze --baseline` / `sweep --baseline` load one. A file that is not a regular file, is
//! too large or is not a valid baseline is refused with a one-line error naming it.

use crate::analyze::{analyze_bundle_with, custody_of, open_checked};
use crate::playbook::Playbook;
use crate::plugins::Registry;
use dossier_analyzers::baseline::{Baseline, BaselineBuilder, BaselineHost, BaselineIndex};
use dossier_bundle::crypt::Identities;
use dossier_bundle::fsio::write_synced;
use dossier_bundle::ledger;
use dossier_bundle::reader::Limits;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest baseline file read.
pub const MAX_BASELINE: u64 = 256 << 20;

/// Why a baseline could not be loaded or built.
#[derive(Debug, thiserror::Error)]
pub enum BaselineFileError {
    #[error("baseline {path}: {message}")]
    Load { path: String, message: String },
    #[error("baseline not written: {0}")]
    Refused(String),
    #[error("baseline {path}: {message}")]
    Write { path: String, message: String },
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and indexes a baseline file.
pub fn load(path: &Path) -> Result<BaselineIndex, BaselineFileError> {
    let err = |message: String| BaselineFileError::Load {
        path: path.display().to_string(),
        message: message.replace('\n', " "),
    };
    // A FIFO or device is refused before it is opened (it could block or act on open).
    let f = dossier_bundle::fsio::open_input(path).map_err(|e| err(e.to_string()))?;
    let meta = f.metadata().map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > MAX_BASELINE {
        return Err(err(format!("larger than {MAX_BASELINE} bytes")));
    }
    let mut data = Vec::new();
    f.take(MAX_BASELINE + 1)
        .read_to_end(&mut data)
        .map_err(|e| err(e.to_string()))?;
    if data.len() as u64 > MAX_BASELINE {
        return Err(err(format!("larger than {MAX_BASELINE} bytes")));
    }
    let b = Baseline::parse(&data).map_err(|e| err(e.to_string()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(BaselineIndex::new(b, name, hex(&Sha256::digest(&data))))
}

/// What [`build`] wrote.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub hosts: usize,
    pub items: usize,
}

/// Verifies every bundle (as `analyze` does: SHA-256 of the file and members, custody ledger
/// beside it), analyzes it and writes the baseline of their inventories to `out`. Nothing is
/// written if any bundle is refused.
pub fn build(
    bundles: &[PathBuf],
    playbook: &Playbook,
    registry: &Registry,
    out: &Path,
) -> Result<Built, BaselineFileError> {
    let limits = Limits::default();
    let mut ledgers = HashMap::new();
    let mut builder = BaselineBuilder::default();
    let mut refused = Vec::new();
    let mut order: Vec<&PathBuf> = bundles.iter().collect();
    order.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    for path in order {
        let custody = custody_of(&mut ledgers, path);
        let mut b = match open_checked(path, custody, &limits, &Identities::none()) {
            Ok(b) => b,
            Err((_, reason)) => {
                refused.push(reason);
                continue;
            }
        };
        let (a, _, inv) = analyze_bundle_with(&mut b, playbook, registry, true);
        builder.add(
            BaselineHost {
                hostname: a.hostname.clone(),
                bundle: ledger::bundle_name(path),
                bundle_sha256: b.sha256.clone(),
            },
            &inv,
        );
    }
    if !refused.is_empty() {
        return Err(BaselineFileError::Refused(refused.join("; ")));
    }
    let baseline = builder.finish();
    let text = baseline.to_json();
    let werr = |e: std::io::Error| BaselineFileError::Write {
        path: out.display().to_string(),
        message: e.to_string(),
    };
    let tmp = out.with_extension("partial");
    write_synced(&tmp, text.as_bytes()).map_err(werr)?;
    std::fs::rename(&tmp, out).map_err(werr)?;
    Ok(Built {
        path: out.to_path_buf(),
        hosts: baseline.hosts.len(),
        items: baseline.items.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    #[test]
    fn baseline_flags_reach_analyze_sweep_and_the_baseline_command() {
        let cli =
            Cli::try_parse_from(["dossier", "sweep", "--baseline", "b.json", "web01"]).unwrap();
        let Command::Sweep(s) = cli.command else {
            panic!("not sweep")
        };
        assert_eq!(s.baseline.as_deref(), Some(Path::new("b.json")));
        let cli =
            Cli::try_parse_from(["dossier", "analyze", "--baseline", "b.json", "x.zip"]).unwrap();
        let Command::Analyze(a) = cli.command else {
            panic!("not analyze")
        };
        assert_eq!(a.baseline.as_deref(), Some(Path::new("b.json")));
        // `baseline` needs --out.
        assert!(Cli::try_parse_from(["dossier", "baseline", "x.zip"]).is_err());
        let cli = Cli::try_parse_from(["dossier", "baseline", "x.zip", "--out", "b.json"]).unwrap();
        assert!(matches!(cli.command, Command::Baseline(_)));
    }

    #[test]
    fn unreadable_or_invalid_files_are_one_line_errors_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let e = load(d.path()).unwrap_err().to_string();
        assert!(e.contains("not a regular file: refused"), "{e}");
        let f = d.path().join("b.json");
        std::fs::write(
            &f,
            "{\n\"schema\": \"dossier-baseline\",\n\"version\": 1,\n\"hosts\": []\n",
        )
        .unwrap();
        let e = load(&f).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("baseline {}: ", f.display())) && !e.contains('\n'),
            "{e}"
        );
        let e = load(&d.path().join("none.json")).unwrap_err().to_string();
        assert!(e.contains("No such file"), "{e}");
    }
}
