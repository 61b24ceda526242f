//! What the folders of a merge hold: each folder's `sweep.json` (when it has one) and its
//! bundles, every bundle verified and checked against the custody ledger beside it, and the
//! duplicates of a host resolved: the newest verified bundle of each host is kept, the others
//! are superseded.
//!
//! A host is its hostname and machine-id as the bundle's manifest records them (two machines
//! cloned with the same name differ by machine-id; one machine reached by name in one shard
//! and by address in another is one host). "Newest" is the manifest's collection start; equal
//! starts are ordered by SHA-256, then path, so the choice never depends on the order the
//! folders were given in.

use crate::analyze::{Ledgers, custody_of, open_checked};
use crate::sweep::{SUMMARY_FORMAT, SUMMARY_NAME, SweepSummary};
use dossier_bundle::crypt::Identities;
use dossier_bundle::reader::Limits;
use dossier_plugin_api::Timestamp;
use dossier_reporters::fleet::Superseded;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a folder cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{0}: not a folder")]
    NotAFolder(PathBuf),
    #[error("{path}: {message}")]
    Summary { path: PathBuf, message: String },
    #[error("{0}: reading the folder: {1}")]
    Read(PathBuf, std::io::Error),
}

/// One folder to merge: where it is and its `sweep.json`, if it has one.
#[derive(Debug)]
pub struct Folder {
    pub dir: PathBuf,
    pub summary: Option<SweepSummary>,
}

impl Folder {
    /// Reads `dir` and its `sweep.json` (a folder of bundles without one is taken too). A
    /// summary that is not a sweep's, or is already a merge's, is refused.
    pub fn read(dir: &Path) -> Result<Folder, FolderError> {
        if !dir.is_dir() {
            return Err(FolderError::NotAFolder(dir.to_path_buf()));
        }
        let path = dir.join(SUMMARY_NAME);
        let bad = |message: String| FolderError::Summary {
            path: path.clone(),
            message,
        };
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Folder {
                    dir: dir.to_path_buf(),
                    summary: None,
                });
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if value.get("merged_from").is_some() {
            return Err(bad(
                "already the summary of a merge: merge the sweep folders it was made of".into(),
            ));
        }
        let summary: SweepSummary =
            serde_json::from_value(value).map_err(|e| bad(format!("not a sweep summary: {e}")))?;
        if summary.format != SUMMARY_FORMAT {
            return Err(bad(format!(
                "format {:?}, not {SUMMARY_FORMAT}",
                summary.format
            )));
        }
        Ok(Folder {
            dir: dir.to_path_buf(),
            summary: Some(summary),
        })
    }

    /// The bundles of the folder: those its `sweep.json` lists (plain file names only), or
    /// without one every `*.zip` and `*.zip.age` in it; sorted.
    pub fn bundles(&self) -> Result<Vec<PathBuf>, FolderError> {
        let mut found = Vec::new();
        if let Some(s) = &self.summary {
            for b in s.targets.iter().filter_map(|t| t.bundle.as_deref()) {
                if b.is_empty() || b.contains('/') || b.starts_with('.') {
                    return Err(FolderError::Summary {
                        path: self.dir.join(SUMMARY_NAME),
                        message: format!("bundle {b:?}: not a file name in the folder"),
                    });
                }
                found.push(self.dir.join(b));
            }
        } else {
            let rd =
                std::fs::read_dir(&self.dir).map_err(|e| FolderError::Read(self.dir.clone(), e))?;
            for e in rd {
                let e = e.map_err(|e| FolderError::Read(self.dir.clone(), e))?;
                let name = e.file_name().to_string_lossy().into_owned();
                let bundle = name.ends_with(".zip") || name.ends_with(".zip.age");
                if bundle && !name.starts_with('.') {
                    found.push(e.path());
                }
            }
        }
        found.sort();
        found.dedup();
        Ok(found)
    }
}

/// A bundle that verified: what its manifest says of its host and collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub path: PathBuf,
    pub sha256: String,
    pub hostname: String,
    pub machine_id: Option<String>,
    /// The manifest's target label (`ssh:root@web1:22`).
    pub label: String,
    pub started: Timestamp,
    pub duration_ms: u64,
}

/// A bundle that did not verify (or failed its custody ledger check), with why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NotVerified {
    pub bundle: String,
    pub reason: String,
}

/// The bundles of every folder, verified, and the duplicates of each host resolved.
#[derive(Debug, Default)]
pub struct Inventory {
    /// The newest verified bundle of each host, sorted by path.
    pub kept: Vec<Verified>,
    /// Older verified bundles of the same hosts, sorted.
    pub superseded: Vec<Superseded>,
    /// The target labels of every verified bundle (kept or superseded): hosts collected.
    pub collected_labels: std::collections::BTreeSet<String>,
    pub not_verified: Vec<NotVerified>,
}

/// Verifies `bundles` (each against the custody ledger beside it; encrypted ones decrypted
/// as they are read with `identities`) and resolves duplicates.
pub fn verify_all(bundles: &[PathBuf], identities: &Identities) -> Inventory {
    let limits = Limits::default();
    let mut ledgers = Ledgers::new();
    let mut verified = Vec::new();
    let mut inv = Inventory::default();
    for path in bundles {
        match open_checked(path, custody_of(&mut ledgers, path), &limits, identities) {
            Ok(b) => {
                let m = &b.manifest;
                verified.push(Verified {
                    path: path.clone(),
                    sha256: b.sha256.clone(),
                    hostname: m.host.hostname.clone(),
                    machine_id: m.host.machine_id.clone(),
                    label: m.target.label.clone(),
                    started: m.collection.started,
                    duration_ms: m.collection.duration_ms,
                });
            }
            Err((_, reason)) => inv.not_verified.push(NotVerified {
                bundle: crate::store::shown(path),
                reason,
            }),
        }
    }
    inv.not_verified.sort();
    resolve(verified, &mut inv);
    inv
}

/// Keeps the newest bundle of each host (hostname and machine-id); the others are superseded.
fn resolve(verified: Vec<Verified>, inv: &mut Inventory) {
    let mut hosts: BTreeMap<(String, Option<String>), Vec<Verified>> = BTreeMap::new();
    for v in verified {
        inv.collected_labels.insert(v.label.clone());
        hosts
            .entry((v.hostname.clone(), v.machine_id.clone()))
            .or_default()
            .push(v);
    }
    for (_, mut group) in hosts {
        // Newest first; equal starts by SHA-256, then path.
        group.sort_by(|a, b| {
            b.started
                .cmp(&a.started)
                .then_with(|| a.sha256.cmp(&b.sha256))
                .then_with(|| a.path.cmp(&b.path))
        });
        let mut group = group.into_iter();
        let Some(newest) = group.next() else { continue };
        for old in group {
            inv.superseded.push(Superseded {
                hostname: old.hostname,
                bundle: crate::store::shown(&old.path),
                sha256: old.sha256,
                collected: old.started,
                by: crate::store::shown(&newest.path),
            });
        }
        inv.kept.push(newest);
    }
    inv.kept.sort_by(|a, b| a.path.cmp(&b.path));
    inv.superseded.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(path: &str, host: &str, mid: Option<&str>, secs: i64, sha: &str) -> Verified {
        Verified {
            path: PathBuf::from(path),
            sha256: sha.into(),
            hostname: host.into(),
            machine_id: mid.map(String::from),
            label: format!("ssh:root@{host}:22"),
            started: Timestamp::from_unix(secs, 0).unwrap(),
            duration_ms: 1,
        }
    }

    #[test]
    fn the_newest_bundle_of_a_host_is_kept_whatever_the_order() {
        let all = vec![
            v("a/web1-old.zip", "web1", Some("m1"), 100, "aa"),
            v("b/web1-new.zip", "web1", Some("m1"), 200, "bb"),
            v("b/db1.zip", "db1", Some("m2"), 150, "cc"),
            // A clone: same name, another machine-id: a host of its own.
            v("c/web1-clone.zip", "web1", Some("m9"), 50, "dd"),
            // Same start: the smaller SHA-256 wins.
            v("c/db1-same.zip", "db1", Some("m2"), 150, "c0"),
        ];
        let mut first = Inventory::default();
        resolve(all.clone(), &mut first);
        let mut reversed = Inventory::default();
        resolve(all.into_iter().rev().collect(), &mut reversed);
        for inv in [&first, &reversed] {
            let kept: Vec<_> = inv.kept.iter().map(|k| k.path.to_str().unwrap()).collect();
            assert_eq!(
                kept,
                ["b/web1-new.zip", "c/db1-same.zip", "c/web1-clone.zip"]
            );
            let sup: Vec<_> = inv
                .superseded
                .iter()
                .map(|s| (s.bundle.as_str(), s.by.as_str()))
                .collect();
            assert_eq!(
                sup,
                // By hostname first.
                [
                    ("b/db1.zip", "c/db1-same.zip"),
                    ("a/web1-old.zip", "b/web1-new.zip")
                ]
            );
        }
        assert_eq!(first.superseded, reversed.superseded);
        assert_eq!(first.collected_labels.len(), 2);
    }

    #[test]
    fn a_folder_lists_its_bundles_by_summary_or_by_name() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "b.zip",
            "a.zip",
            "c.zip.age",
            ".hidden.zip",
            "notes.txt",
            "a.zip.sha256",
        ] {
            std::fs::write(d.path().join(f), b"x").unwrap();
        }
        let f = Folder::read(d.path()).unwrap();
        assert!(f.summary.is_none());
        let names: Vec<_> = f
            .bundles()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.zip", "b.zip", "c.zip.age"]);
        std::fs::write(d.path().join(SUMMARY_NAME), b"{\"merged_from\": []}").unwrap();
        let e = Folder::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("already the summary of a merge"), "{e}");
        std::fs::write(d.path().join(SUMMARY_NAME), b"[1,").unwrap();
        assert!(
            Folder::read(d.path())
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
        assert!(matches!(
            Folder::read(&d.path().join("nope")),
            Err(FolderError::NotAFolder(_))
        ));
    }
}
