//! `dossier merge DIR... --out DIR`: one fleet analysis of many sweep output folders (the
//! shards of a `--shard K/N` sweep, a retry, folders of bundles fetched by Ansible).
//!
//! Every bundle the folders hold is verified and checked against the custody ledger beside it
//! (`inventory`); of each host only the newest verified bundle is analyzed, the others are
//! *superseded* and listed in the fleet report and the merged `sweep.json`. The analysis is
//! the one of `dossier analyze` ([`crate::analyze::analyze_merged`]) into `OUT/analysis/`
//! (fleet report, findings JSON, host reports), with the targets no folder collected carried
//! over; `OUT/sweep.json` is the merged summary (`summary`).
//!
//! Folders are sorted before anything is read and every list is sorted, so the same folders
//! given in any order give byte-identical output. Nothing is written into the folders merged
//! except what any analysis writes: a line per analysis in the custody ledger beside each
//! bundle.

mod inventory;
mod summary;

pub use inventory::{Folder, FolderError, Inventory, NotVerified};
pub use summary::{FolderRecord, MergedSummary};

use crate::args::MergeArgs;
use crate::playbook::{self, Playbook};
use crate::plugins::Registry;
use crate::sweep::SUMMARY_NAME;
use crate::text::sanitize;
use anyhow::{Context, bail};
use dossier_analyzers::baseline::BaselineIndex;
use dossier_bundle::crypt::Identities;
use dossier_bundle::fsio::{ensure_out_dir, sync_dir, write_synced};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `dossier merge`, validated: the folders read (sorted), the playbook chosen.
pub struct MergePlan {
    pub folders: Vec<Folder>,
    pub out: PathBuf,
    pub playbook: Playbook,
    pub registry: Registry,
    pub baseline: Option<BaselineIndex>,
    /// Decrypt encrypted bundles (`--identity`).
    pub identities: Identities,
}

/// Reads the folders (each once; not the output folder) and chooses the playbook: `--playbook`,
/// else the one every sweep recorded, which must load with the SHA-256 they recorded.
pub fn plan(a: MergeArgs, registry: Registry) -> anyhow::Result<MergePlan> {
    let mut folders = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    let out_real = a.out.canonicalize().ok();
    for dir in &a.dirs {
        let real = dir
            .canonicalize()
            .with_context(|| format!("{}: not a folder", dir.display()))?;
        if out_real.as_ref() == Some(&real) {
            bail!(
                "--out {}: one of the folders merged (its sweep.json would be replaced)",
                a.out.display()
            );
        }
        if let Some(first) = seen.insert(real, dir.clone()) {
            bail!(
                "{} and {}: the same folder given twice",
                first.display(),
                dir.display()
            );
        }
        folders.push(Folder::read(dir)?);
    }
    folders.sort_by(|x, y| x.dir.cmp(&y.dir));
    let playbook = choose_playbook(a.playbook.as_deref(), &folders, &registry)?.with_lang(a.lang);
    registry.set_limits(&playbook.plugin_limits);
    let baseline = a
        .baseline
        .as_deref()
        .map(crate::baseline::load)
        .transpose()?;
    Ok(MergePlan {
        folders,
        out: a.out,
        playbook,
        registry,
        baseline,
        identities: Identities::load(&a.identities)?,
    })
}

/// The playbook to analyze with (see [`plan`]).
fn choose_playbook(
    spec: Option<&str>,
    folders: &[Folder],
    registry: &Registry,
) -> anyhow::Result<Playbook> {
    let recorded: std::collections::BTreeSet<(&str, &str)> = folders
        .iter()
        .filter_map(|f| f.summary.as_ref())
        .map(|s| (s.playbook.as_str(), s.playbook_sha256.as_str()))
        .collect();
    if let Some(spec) = spec {
        let p = playbook::load(Some(spec), registry)?;
        if recorded.iter().any(|(_, sha)| *sha != p.sha256) {
            eprintln!(
                "dossier: note: the sweeps recorded another playbook than --playbook {} (sha256 {})",
                sanitize(spec),
                p.sha256
            );
        }
        return Ok(p);
    }
    let mut recorded = recorded.into_iter();
    match (recorded.next(), recorded.next()) {
        (None, _) => Ok(playbook::load(None, registry)?),
        (Some((name, sha)), None) => {
            let p = playbook::load(Some(name), registry).with_context(|| {
                format!("the sweeps' playbook {name:?}; give it with --playbook")
            })?;
            if p.sha256 != sha {
                bail!(
                    "the sweeps used playbook {name:?} with sha256 {sha}, which now loads as {}: give the playbook file they used with --playbook",
                    p.sha256
                );
            }
            Ok(p)
        }
        (Some(a), Some(b)) => bail!(
            "the folders were swept with different playbooks ({} {}, {} {}, ...): merge the sweeps of one playbook, or choose one with --playbook",
            a.0,
            a.1,
            b.0,
            b.1
        ),
    }
}

/// Runs the merge: 0 when every bundle verified and was analyzed and every target was
/// collected; 1 when some bundle did not verify or was not analyzed, or some target was not
/// collected by any folder.
pub fn run(p: MergePlan) -> anyhow::Result<ExitCode> {
    let mut bundles = Vec::new();
    let mut folders = Vec::new();
    for f in p.folders {
        let b = f.bundles()?;
        bundles.extend(b.iter().cloned());
        folders.push((f, b.len()));
    }
    let inv = inventory::verify_all(&bundles, &p.identities);
    let Some(merged) = summary::merged(&folders, &inv, (&p.playbook.name, &p.playbook.sha256))
    else {
        for n in &inv.not_verified {
            eprintln!("dossier: not verified: {}", sanitize(&n.reason));
        }
        bail!("nothing to merge: no sweep.json and no bundle that verifies in the folders given");
    };
    let not_collected = merged.sweep.not_collected();
    // Bundles that did not verify go to the analysis too: it lists them as not analyzed.
    let mut analyzed: Vec<PathBuf> = inv.kept.iter().map(|k| k.path.clone()).collect();
    analyzed.extend(inv.not_verified.iter().map(|n| PathBuf::from(&n.bundle)));
    analyzed.sort();
    ensure_out_dir(&p.out)?;
    let r = crate::analyze::analyze_merged(
        &analyzed,
        &p.playbook,
        &p.registry,
        &p.out.join("analysis"),
        (&not_collected, &inv.superseded),
        p.baseline.as_ref(),
        &p.identities,
    )?;
    let summary_path = p.out.join(SUMMARY_NAME);
    write_summary(&summary_path, &merged)?;
    for h in &r.hosts {
        println!(
            "{:<17} {:<34} score {:>3}, {} findings: {}",
            h.verdict,
            sanitize(&h.hostname),
            h.score,
            h.findings,
            h.report.display()
        );
    }
    for s in &inv.superseded {
        println!("SUPERSEDED        {} (by {})", s.bundle, s.by);
    }
    for u in &r.unanalyzed {
        println!("NOT ANALYZED      {}: {}", u.subject, sanitize(&u.reason));
    }
    for t in &not_collected {
        println!("NOT COLLECTED     {}: {}", sanitize(&t.target), t.outcome);
    }
    println!(
        "merged {} folder(s), {} bundle(s): {} host(s) analyzed, {} superseded, {} not verified, {} target(s) not collected",
        folders.len(),
        bundles.len(),
        r.hosts.len(),
        inv.superseded.len(),
        inv.not_verified.len(),
        not_collected.len()
    );
    println!("fleet report: {}", r.fleet_report.display());
    println!("findings:     {}", r.findings_json.display());
    println!("sweep summary: {}", summary_path.display());
    let clean = r.unanalyzed.is_empty() && inv.not_verified.is_empty() && not_collected.is_empty();
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes the merged `sweep.json` (pretty, newline-terminated) under a temporary name, then
/// renames it into place.
fn write_summary(path: &Path, s: &MergedSummary) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(s)?;
    text.push('\n');
    let tmp = path.with_extension("json.partial");
    write_synced(&tmp, text.as_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}
