//! Evidence in object storage on the command line: `--out s3://bucket/prefix` for `collect`
//! and `sweep` (written to a private local staging folder, each bundle uploaded create-only
//! once it is complete and synced, the rest of the output after the run), and `s3://`
//! inputs of `verify`, `analyze`, `merge` and `export` (downloaded into a private staging
//! folder, then read like local files: verification re-hashes the downloaded bytes).
//!
//! The staging folder goes once everything is in the bucket; when an upload fails it is kept
//! and the error names it, so no evidence is lost.

mod fetch;

pub use fetch::{Fetched, fetch_inputs, shown};

use anyhow::Context;
use dossier_bundle::{fsio, ledger};
use dossier_store::{Location, Store};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The names an earlier run leaves at a prefix: a new run there would have to overwrite them.
const RUN_FILES: &[&str] = &[ledger::LEDGER_NAME, "sweep.json"];

/// An `--out s3://...`: the bucket location, the local staging folder, what was uploaded.
#[derive(Debug)]
pub struct Upload {
    store: Store,
    staging: Mutex<Option<tempfile::TempDir>>,
    dir: PathBuf,
    done: Mutex<BTreeSet<String>>,
    /// Set once everything is in the bucket ([`Upload::rest`]): only then does the staging
    /// folder go.
    finished: AtomicBool,
}

/// The output folder of `flag`: a local folder checked by [`crate::inputs::out_dir`], or, for
/// `s3://bucket/prefix`, a fresh staging folder and the [`Upload`] (the bucket reachable with
/// the credentials, and no earlier run at that prefix).
pub fn out(flag: &str, out: &Path) -> anyhow::Result<(PathBuf, Option<Upload>)> {
    let Some(loc) = out.to_str().map(Location::parse).transpose()?.flatten() else {
        crate::inputs::out_dir(flag, out)?;
        return Ok((out.to_path_buf(), None));
    };
    let store = Store::connect(&loc)?;
    let there = store.list()?;
    if let Some(o) = there.iter().find(|o| RUN_FILES.contains(&o.name.as_str())) {
        anyhow::bail!(
            "{flag} {}: holds {} of an earlier run; give each run (each shard) its own prefix",
            loc.url(""),
            o.name
        );
    }
    let staging = tempfile::Builder::new()
        .prefix("dossier-s3-")
        .tempdir()
        .context("the local staging folder for the upload (set TMPDIR to a disk with room)")?;
    let dir = staging.path().to_path_buf();
    Ok((
        dir.clone(),
        Some(Upload {
            store,
            staging: Mutex::new(Some(staging)),
            dir,
            done: Mutex::new(BTreeSet::new()),
            finished: AtomicBool::new(false),
        }),
    ))
}

impl Upload {
    /// The bucket location written to.
    pub fn location(&self) -> &Location {
        self.store.location()
    }

    /// How to show `path` (under the staging folder) to the user: its URL in the bucket.
    pub fn shown(&self, path: &Path) -> String {
        match path.strip_prefix(&self.dir) {
            Ok(rel) => self.location().url(&rel.to_string_lossy()),
            Err(_) => path.display().to_string(),
        }
    }

    /// Uploads a complete bundle, then its sidecars (`BUNDLE.minisig`, `BUNDLE.tsr`, ...),
    /// each create-only. Returns the bundle's URL.
    pub fn bundle(&self, bundle: &Path) -> anyhow::Result<String> {
        let name = bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("a bundle path without a file name")?;
        let url = self.file(&name)?;
        let sidecar = format!("{name}.");
        for n in self.top_names()? {
            if n.starts_with(&sidecar) {
                self.file(&n)?;
            }
        }
        Ok(url)
    }

    /// Uploads what is not yet in the bucket: bundles first, then their sidecars, the custody
    /// ledger, `sweep.json`, then `analysis/`. Returns how many objects the run wrote.
    pub fn rest(&self) -> anyhow::Result<usize> {
        let names = self.top_names()?;
        let is_bundle = |n: &str| n.ends_with(".zip") || n.ends_with(".zip.age");
        for n in names.iter().filter(|n| is_bundle(n)) {
            self.bundle(&self.dir.join(n))?;
        }
        for n in names.iter().filter(|n| !is_bundle(n)) {
            self.file(n)?;
        }
        self.tree("analysis")?;
        self.finished.store(true, Ordering::SeqCst);
        Ok(self.done.lock().map(|d| d.len()).unwrap_or_default())
    }

    /// Uploads the regular files of the folder `rel` (under staging), recursively.
    fn tree(&self, rel: &str) -> anyhow::Result<()> {
        let Ok(rd) = std::fs::read_dir(self.dir.join(rel)) else {
            return Ok(());
        };
        let mut entries: Vec<(String, std::fs::FileType)> = rd
            .flatten()
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (n, t) in entries {
            let child = format!("{rel}/{n}");
            if t.is_dir() {
                self.tree(&child)?;
            } else if t.is_file() && !n.starts_with('.') {
                self.file(&child)?;
            }
        }
        Ok(())
    }

    /// The regular files directly in the staging folder, by name (not hidden ones: the
    /// writers' temporary files).
    fn top_names(&self) -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        let rd = std::fs::read_dir(&self.dir)
            .with_context(|| format!("the staging folder {}", self.dir.display()))?;
        for e in rd.flatten() {
            let (Ok(n), Ok(t)) = (e.file_name().into_string(), e.file_type()) else {
                continue;
            };
            if t.is_file() && !n.starts_with('.') {
                names.push(n);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Uploads the staging file `rel` once, create-only.
    fn file(&self, rel: &str) -> anyhow::Result<String> {
        if self.done.lock().is_ok_and(|d| d.contains(rel)) {
            return Ok(self.location().url(rel));
        }
        let path = self.dir.join(rel);
        let mut f = fsio::open_regular(&path)
            .with_context(|| format!("reading {} for the upload", path.display()))?;
        let size = f.metadata()?.len();
        let url = self.store.upload_new(&mut f, size, rel)?;
        if let Ok(mut d) = self.done.lock() {
            d.insert(rel.to_string());
        }
        Ok(url)
    }

    /// After a failed upload: the staging folder is kept (and named, so the evidence can be
    /// uploaded by hand or collected again).
    pub fn keep(&self) -> Option<PathBuf> {
        let staging = self.staging.lock().ok()?.take()?;
        Some(staging.keep())
    }
}

impl Drop for Upload {
    /// A run that stopped before everything was uploaded (an error of its own, not of the
    /// upload) keeps what it wrote, and says where.
    fn drop(&mut self) {
        if self.finished.load(Ordering::SeqCst) {
            return;
        }
        let wrote = std::fs::read_dir(&self.dir).is_ok_and(|mut d| d.next().is_some());
        if let (true, Some(dir)) = (wrote, self.keep()) {
            eprintln!(
                "dossier: note: not everything reached {}; the output is kept in {}",
                self.location().url(""),
                dir.display()
            );
        }
    }
}

/// Runs `upload` and, when it fails, keeps the staging folder and says where it is.
pub fn or_keep<T>(up: &Upload, r: anyhow::Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| match up.keep() {
        Some(dir) => e.context(format!(
            "not everything reached {}; the output is kept in {}",
            up.location().url(""),
            dir.display()
        )),
        None => e,
    })
}
