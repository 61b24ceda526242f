//! Snapshot first: before the first change on a host, a verified bundle of that host names the
//! state it was in. Either a fresh one is collected now into the case directory with the
//! existing collection code ([`take`]: a local collection of this machine, or a one-host sweep
//! connection to an SSH target, with the playbook given, `triage` by default), or the one the
//! responder names with `--snapshot` is accepted when it verifies, is of the same host (the
//! manifest's host name) and finished less than `--snapshot-max-age` minutes ago
//! ([`check_given`]). Either way the record gets the bundle's file name and SHA-256.

use crate::orchestrate::{self, Custody};
use crate::playbook::Playbook;
use anyhow::Context as _;
use dossier_bundle::reader::{self, Limits};
use dossier_contain::record::Snapshot;
use dossier_plugin_api::Collector;
use dossier_remote::ssh::{self, SshAuth, SshSettings, SshTarget};
use std::path::Path;
use std::sync::Arc;

/// Default of `--snapshot-max-age` (minutes).
pub const DEFAULT_MAX_AGE_MINS: u64 = 30;

/// How the host to snapshot is reached.
pub enum Reach<'a> {
    /// This machine (a live local collection).
    Local,
    /// An SSH target, connected to as `dossier sweep` connects (its own connection; with
    /// `settings.sudo`, files are read through `sudo -n sftp-server -R`).
    Ssh {
        target: &'a SshTarget,
        auth: &'a SshAuth,
        settings: &'a SshSettings,
    },
}

/// What a fresh snapshot is collected with.
pub struct Collection<'a> {
    pub collectors: &'a [Arc<dyn Collector>],
    pub playbook: &'a Playbook,
    pub custody: &'a Custody,
    /// The case directory the bundle is written into.
    pub out: &'a Path,
    pub quiet: bool,
}

/// The snapshot of `host`: `given` checked when there is one, else a fresh one collected.
pub fn ensure(
    given: Option<&Path>,
    max_age_mins: u64,
    host: &str,
    reach: &Reach<'_>,
    c: &Collection<'_>,
) -> anyhow::Result<Snapshot> {
    match given {
        Some(b) => check_given(b, host, max_age_mins),
        None => take(reach, c),
    }
}

/// Collects a fresh bundle of the host into `c.out`, verifies it and returns its name and
/// SHA-256. A bundle that does not verify, or whose collection was cut short, is refused:
/// no change may follow a snapshot that does not hold the state before.
pub fn take(reach: &Reach<'_>, c: &Collection<'_>) -> anyhow::Result<Snapshot> {
    dossier_bundle::fsio::ensure_out_dir(c.out)
        .with_context(|| format!("snapshot: output directory {}", c.out.display()))?;
    let progress = crate::progress::for_stderr(c.quiet);
    let collected = match reach {
        Reach::Local => {
            let host = crate::local::LocalHost::live();
            orchestrate::collect_host(
                &host,
                c.collectors,
                c.playbook,
                c.custody,
                c.out,
                progress.as_ref(),
            )
        }
        Reach::Ssh {
            target,
            auth,
            settings,
        } => {
            let host = ssh::connect(target, auth, settings).map_err(|e| {
                anyhow::anyhow!("snapshot of {}: {e}; nothing was changed", target.label())
            })?;
            let r = orchestrate::collect_host(
                &host,
                c.collectors,
                c.playbook,
                c.custody,
                c.out,
                progress.as_ref(),
            );
            host.close();
            r
        }
    }
    .map_err(|e| {
        anyhow::anyhow!("snapshot: the bundle could not be written: {e}; nothing was changed")
    })?;
    if let Some(e) = &collected.ledger_error {
        eprintln!("dossier: warning: snapshot bundle complete, custody ledger not updated: {e}");
    }
    let path = &collected.bundle.path;
    let v = reader::verify(path, &Limits::default());
    if !v.ok() {
        let p = &v.problems[0];
        anyhow::bail!(
            "snapshot {}: does not verify ({}: {}); nothing was changed",
            path.display(),
            p.subject,
            p.message
        );
    }
    anyhow::ensure!(
        orchestrate::collection_complete(&collected.manifest_collectors),
        "snapshot {}: the collection did not finish (see its manifest); nothing was changed",
        path.display()
    );
    let sha256 = v.sha256.unwrap_or(collected.bundle.sha256);
    Ok(Snapshot {
        bundle: dossier_bundle::ledger::bundle_name(path),
        sha256,
    })
}

/// Checks a `--snapshot` bundle: it verifies, is of `host` (the manifest's host name), and
/// finished less than `max_age_mins` minutes ago. Returns its name and SHA-256.
pub fn check_given(path: &Path, host: &str, max_age_mins: u64) -> anyhow::Result<Snapshot> {
    let v = reader::verify(path, &Limits::default());
    if !v.ok() {
        let p = &v.problems[0];
        anyhow::bail!(
            "--snapshot {}: does not verify ({}: {}); nothing was changed",
            path.display(),
            p.subject,
            p.message
        );
    }
    let (Some(m), Some(sha256)) = (v.manifest, v.sha256) else {
        anyhow::bail!(
            "--snapshot {}: no manifest or hash (encrypted?); nothing was changed",
            path.display()
        );
    };
    anyhow::ensure!(
        m.host.hostname == host,
        "--snapshot {}: a bundle of {:?}, not of {host:?}; nothing was changed",
        path.display(),
        m.host.hostname
    );
    let age = dossier_plugin_api::Timestamp::now().datetime() - m.collection.finished.datetime();
    anyhow::ensure!(
        age.num_minutes() < i64::try_from(max_age_mins).unwrap_or(i64::MAX),
        "--snapshot {}: collected {} minutes ago, more than --snapshot-max-age {max_age_mins}; \
         take a new one (or leave --snapshot out to have one collected); nothing was changed",
        path.display(),
        age.num_minutes()
    );
    Ok(Snapshot {
        bundle: dossier_bundle::ledger::bundle_name(path),
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalHost;

    fn registry_and_triage() -> (Vec<Arc<dyn Collector>>, Playbook) {
        let registry = crate::plugins::Registry::builtin();
        let playbook = crate::playbook::load(None, &registry).unwrap();
        (registry.collectors.clone(), playbook)
    }

    #[test]
    fn a_given_snapshot_must_verify_be_of_the_host_and_recent() {
        let (collectors, playbook) = registry_and_triage();
        let d = tempfile::tempdir().unwrap();
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/rootfs-miner"
        );
        let host = LocalHost::image(Path::new(root)).unwrap();
        let c = orchestrate::collect_host(
            &host,
            &collectors,
            &playbook,
            &Custody::default(),
            d.path(),
            crate::progress::for_stderr(true).as_ref(),
        )
        .unwrap();
        let b = &c.bundle.path;
        let s = check_given(b, "esxi-web01", 30).unwrap();
        assert_eq!(s.sha256, c.bundle.sha256);
        assert_eq!(s.bundle, b.file_name().unwrap().to_str().unwrap());
        let e = check_given(b, "db02", 30).unwrap_err().to_string();
        assert!(
            e.contains("a bundle of \"esxi-web01\", not of \"db02\""),
            "{e}"
        );
        let e = check_given(b, "esxi-web01", 0).unwrap_err().to_string();
        assert!(e.contains("more than --snapshot-max-age 0"), "{e}");
        // One byte changed: refused.
        let mut bytes = std::fs::read(b).unwrap();
        let n = bytes.len() / 2;
        bytes[n] ^= 1;
        std::fs::write(b, bytes).unwrap();
        let e = check_given(b, "esxi-web01", 30).unwrap_err().to_string();
        assert!(e.contains("does not verify"), "{e}");
    }

    #[test]
    fn a_fresh_local_snapshot_is_collected_and_verified() {
        let (collectors, playbook) = registry_and_triage();
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("case");
        let c = Collection {
            collectors: &collectors,
            playbook: &playbook,
            custody: &Custody::default(),
            out: &out,
            quiet: true,
        };
        let s = ensure(None, DEFAULT_MAX_AGE_MINS, "ignored", &Reach::Local, &c).unwrap();
        let path = out.join(&s.bundle);
        let v = reader::verify(&path, &Limits::default());
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.sha256.as_deref(), Some(s.sha256.as_str()));
        let host = v.manifest.unwrap().host.hostname;
        // The same bundle is accepted as --snapshot of that host.
        assert_eq!(check_given(&path, &host, 30).unwrap(), s);
    }
}
