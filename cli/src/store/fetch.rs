//! `s3://` inputs: each is downloaded into one private staging folder (named after the
//! bucket and prefix, so messages still say where a bundle came from) and replaced by the
//! local path before the command is planned. `s3://bucket/prefix/NAME.zip` is one bundle
//! (with its sidecars and the custody ledger beside it); `s3://bucket/prefix` is every
//! object at that prefix: its bundles for `verify`, `analyze`, `baseline`, `timeline` and
//! `export`, the folder itself for `merge`.

use crate::args::Command;
use anyhow::Context;
use dossier_bundle::{fsio, ledger};
use dossier_store::{Location, Store};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The staging folders of this process's downloads and the `s3://` URL each stands for, so
/// that what a command prints and records names the bucket, not the random staging path.
static SHOWN: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// How to show a path a command read: its `s3://` URL when it was downloaded, else itself.
pub fn shown(path: &Path) -> String {
    if let Ok(map) = SHOWN.lock() {
        for (dir, url) in map.iter() {
            if let Ok(rel) = path.strip_prefix(dir) {
                return match rel.to_str() {
                    Some("") => url.clone(),
                    Some(r) => format!("{url}/{r}"),
                    None => path.display().to_string(),
                };
            }
        }
    }
    path.display().to_string()
}

/// The staging folder of downloaded inputs; removed when dropped.
#[derive(Debug)]
pub struct Fetched {
    dir: tempfile::TempDir,
    done: BTreeSet<String>,
}

/// A bundle's file name.
fn is_bundle(name: &str) -> bool {
    name.ends_with(".zip") || name.ends_with(".zip.age")
}

/// `command` with its `s3://` inputs replaced by local copies, and the staging folder that
/// holds them (`None` when no input was in object storage).
pub fn fetch_inputs(mut command: Command) -> anyhow::Result<(Command, Option<Fetched>)> {
    let mut fetched = None;
    let (paths, folders) = match &mut command {
        Command::Verify(a) => (&mut a.bundles, false),
        Command::Analyze(a) => (&mut a.bundles, false),
        Command::Baseline(a) => (&mut a.bundles, false),
        Command::Timeline(a) => (&mut a.bundles, false),
        Command::Export(a) => (&mut a.inputs, false),
        Command::Merge(a) => (&mut a.dirs, true),
        _ => return Ok((command, None)),
    };
    let mut local = Vec::with_capacity(paths.len());
    for p in paths.iter() {
        let Some(loc) = p.to_str().map(Location::parse).transpose()?.flatten() else {
            local.push(p.clone());
            continue;
        };
        if fetched.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("dossier-s3-")
                .tempdir()
                .context(
                    "the local staging folder for downloads (set TMPDIR to a disk with room)",
                )?;
            fetched = Some(Fetched {
                dir,
                done: BTreeSet::new(),
            });
        }
        let f = fetched.as_mut().context("staging folder")?;
        local.extend(f.input(&loc, folders)?);
    }
    *paths = local;
    Ok((command, fetched))
}

impl Fetched {
    /// Downloads one `s3://` input; returns what replaces it on the command line.
    fn input(&mut self, loc: &Location, folders: bool) -> anyhow::Result<Vec<PathBuf>> {
        let (parent, name) = match loc.prefix.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", loc.prefix.as_str()),
        };
        if is_bundle(name) && !folders {
            let at = Location {
                bucket: loc.bucket.clone(),
                prefix: parent.to_string(),
            };
            let store = Store::connect(&at)?;
            let objects = store.list()?;
            if !objects.iter().any(|o| o.name == name) {
                anyhow::bail!("{}: not found in the bucket", loc.url(""));
            }
            let sidecar = format!("{name}.");
            let ledger_files = [
                ledger::LEDGER_NAME.to_string(),
                format!("{}.minisig", ledger::LEDGER_NAME),
            ];
            let dir = self.folder(&at)?;
            for o in &objects {
                if o.name == name || o.name.starts_with(&sidecar) || ledger_files.contains(&o.name)
                {
                    self.download(&store, &at, &dir, &o.name, o.size)?;
                }
            }
            return Ok(vec![dir.join(name)]);
        }
        let store = Store::connect(loc)?;
        let objects = store.list()?;
        let dir = self.folder(loc)?;
        for o in &objects {
            self.download(&store, loc, &dir, &o.name, o.size)?;
        }
        if folders {
            return Ok(vec![dir]);
        }
        let bundles: Vec<PathBuf> = objects
            .iter()
            .filter(|o| is_bundle(&o.name))
            .map(|o| dir.join(&o.name))
            .collect();
        if bundles.is_empty() {
            anyhow::bail!(
                "{}: no bundles (.zip, .zip.age) at this prefix; give the prefix a sweep or collect wrote to, or a bundle's URL",
                loc.url("")
            );
        }
        Ok(bundles)
    }

    /// The local folder of `loc` (`STAGING/bucket/prefix`), made 0700.
    fn folder(&self, loc: &Location) -> anyhow::Result<PathBuf> {
        let mut dir = self.dir.path().join(&loc.bucket);
        if !loc.prefix.is_empty() {
            dir.push(&loc.prefix);
        }
        fsio::ensure_out_dir(&dir)?;
        if let Ok(mut map) = SHOWN.lock() {
            if !map.iter().any(|(d, _)| *d == dir) {
                map.push((dir.clone(), loc.url("")));
            }
        }
        Ok(dir)
    }

    /// Downloads object `name` of `loc` into `dir` once (a new 0600 file, no link followed).
    fn download(
        &mut self,
        store: &Store,
        loc: &Location,
        dir: &Path,
        name: &str,
        size: u64,
    ) -> anyhow::Result<()> {
        if !self.done.insert(loc.url(name)) {
            return Ok(());
        }
        let path = dir.join(name);
        let file = fsio::create_new_private(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        store.download(name, size, &mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_a_staging_folder_are_shown_by_url() {
        let dir = PathBuf::from("/nonexistent/dossier-s3-test/evidence/case");
        SHOWN
            .lock()
            .unwrap()
            .push((dir.clone(), "s3://evidence/case".into()));
        assert_eq!(shown(&dir), "s3://evidence/case");
        assert_eq!(shown(&dir.join("a.zip")), "s3://evidence/case/a.zip");
        assert_eq!(shown(Path::new("/elsewhere/a.zip")), "/elsewhere/a.zip");
        // A sibling folder whose name only starts the same is not under it.
        assert_eq!(
            shown(Path::new(
                "/nonexistent/dossier-s3-test/evidence/case2/a.zip"
            )),
            "/nonexistent/dossier-s3-test/evidence/case2/a.zip"
        );
    }
}
