//! The merged `sweep.json`: the `dossier-sweep` summary of the whole fleet, built from the
//! folders' summaries and the verified bundles, plus what the merge took and left out.
//!
//! - `targets`: each kept bundle's target as its shard recorded it (its `bundle` now the
//!   path as merged), or, for a bundle no summary lists, a target made from its manifest
//!   (`collected`); a target whose bundle did not verify, as `not_verified`; targets no
//!   folder collected (no verified bundle of that target label anywhere), once per label (the
//!   latest attempt). Superseded bundles are not targets but listed in `superseded`.
//! - `networks`: per network and port, the addresses each shard probed and those that
//!   answered, added up (shards probe disjoint shares of a network).
//! - `started` is the earliest start, `finished` the latest finish when every folder's sweep
//!   finished; `jobs` adds up the shards' `-j`.
//!
//! Everything is sorted, so the same folders in any order give the same bytes.

use super::inventory::{Folder, Inventory, NotVerified, Verified};
use crate::shard::ShardRecord;
use crate::sweep::{NetworkResult, SUMMARY_FORMAT, SUMMARY_VERSION, SweepSummary, TargetResult};
use dossier_plugin_api::Timestamp;
use dossier_reporters::fleet::Superseded;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// `sweep.json` of a merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedSummary {
    #[serde(flatten)]
    pub sweep: SweepSummary,
    /// The folders merged, sorted.
    pub merged_from: Vec<FolderRecord>,
    pub superseded: Vec<Superseded>,
    pub not_verified: Vec<NotVerified>,
}

/// One folder merged, as its `sweep.json` described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderRecord {
    pub dir: String,
    /// Absent for a plain folder of bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    pub targets: usize,
    pub bundles: usize,
}

/// The playbook the merge analyzed with: name and SHA-256.
pub type PlaybookId<'a> = (&'a str, &'a str);

/// Builds the merged summary of `folders` (sorted by the caller) and their verified bundles.
/// `None` when there is nothing at all to summarize (no summary and no verified bundle).
pub fn merged(
    folders: &[(Folder, usize)],
    inv: &Inventory,
    (playbook, playbook_sha256): PlaybookId<'_>,
) -> Option<MergedSummary> {
    let kept: BTreeMap<&PathBuf, &Verified> = inv.kept.iter().map(|k| (&k.path, k)).collect();
    let failed: BTreeMap<String, &NotVerified> = inv
        .not_verified
        .iter()
        .map(|n| (n.bundle.clone(), n))
        .collect();
    let mut targets = Vec::new();
    let mut listed: BTreeSet<&PathBuf> = BTreeSet::new();
    let mut missing: BTreeMap<String, TargetResult> = BTreeMap::new();
    let mut networks: BTreeMap<(String, u16), (usize, usize)> = BTreeMap::new();
    for (f, _) in folders {
        let Some(s) = &f.summary else { continue };
        for n in &s.networks {
            let e = networks.entry((n.network.clone(), n.port)).or_default();
            e.0 += n.probed;
            e.1 += n.answered;
        }
        for t in &s.targets {
            match &t.bundle {
                Some(b) => {
                    let path = f.dir.join(b);
                    let shown = crate::store::shown(&path);
                    if let Some((p, _)) = kept.get_key_value(&path) {
                        if listed.insert(p) {
                            targets.push(TargetResult {
                                bundle: Some(shown),
                                ..t.clone()
                            });
                        }
                    } else if let Some(n) = failed.get(&shown) {
                        targets.push(TargetResult {
                            outcome: "not_verified".into(),
                            reason: Some(n.reason.clone()),
                            bundle: Some(shown),
                            ..t.clone()
                        });
                    }
                }
                None if !inv.collected_labels.contains(&t.label) => {
                    let latest = missing.entry(t.label.clone()).or_insert_with(|| t.clone());
                    if attempt(t) > attempt(latest) {
                        *latest = t.clone();
                    }
                }
                None => {}
            }
        }
    }
    for k in inv.kept.iter().filter(|k| !listed.contains(&k.path)) {
        targets.push(from_manifest(k));
    }
    targets.extend(missing.into_values());
    targets.sort_by(|a, b| (&a.label, &a.target, &a.bundle).cmp(&(&b.label, &b.target, &b.bundle)));
    let summaries: Vec<&SweepSummary> = folders
        .iter()
        .filter_map(|(f, _)| f.summary.as_ref())
        .collect();
    let started = summaries
        .iter()
        .map(|s| s.started)
        .chain(inv.kept.iter().map(|k| k.started))
        .chain(inv.superseded.iter().map(|s| s.collected))
        .min()?;
    let finished = if summaries.is_empty() {
        None
    } else {
        summaries
            .iter()
            .map(|s| s.finished)
            .collect::<Option<Vec<_>>>()
            .and_then(|f| f.into_iter().max())
    };
    Some(MergedSummary {
        sweep: SweepSummary {
            format: SUMMARY_FORMAT.into(),
            format_version: SUMMARY_VERSION,
            started,
            finished,
            playbook: playbook.into(),
            playbook_sha256: playbook_sha256.into(),
            jobs: summaries.iter().map(|s| s.jobs).sum(),
            networks: networks
                .into_iter()
                .map(|((network, port), (probed, answered))| NetworkResult {
                    network,
                    port,
                    probed,
                    answered,
                })
                .collect(),
            targets,
            shard: None,
        },
        merged_from: folders.iter().map(|(f, n)| folder_record(f, *n)).collect(),
        superseded: inv.superseded.clone(),
        not_verified: inv.not_verified.clone(),
    })
}

/// How recent an attempt at a target is, for choosing one of several (then by outcome and
/// reason, so the choice does not depend on order).
fn attempt(t: &TargetResult) -> (Timestamp, &str, Option<&str>, &str) {
    (t.started, &t.outcome, t.reason.as_deref(), &t.target)
}

/// The target of a bundle no summary lists (a plain folder of bundles).
fn from_manifest(k: &Verified) -> TargetResult {
    TargetResult {
        duration_ms: k.duration_ms,
        hostname: Some(k.hostname.clone()),
        bundle: Some(crate::store::shown(&k.path)),
        sha256: Some(k.sha256.clone()),
        ..TargetResult::new(&k.label, &k.label, None, "collected", None, k.started)
    }
}

/// The record of one folder merged (`bundles`: how many it held).
fn folder_record(f: &Folder, bundles: usize) -> FolderRecord {
    let s = f.summary.as_ref();
    FolderRecord {
        dir: crate::store::shown(&f.dir),
        started: s.map(|s| s.started),
        finished: s.and_then(|s| s.finished),
        shard: s.and_then(|s| s.shard.clone()),
        targets: s.map_or(0, |s| s.targets.len()),
        bundles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_unix(secs, 0).unwrap()
    }

    fn target(label: &str, outcome: &str, secs: i64, bundle: Option<&str>) -> TargetResult {
        TargetResult {
            bundle: bundle.map(String::from),
            ..TargetResult::new(label, label, None, outcome, None, ts(secs))
        }
    }

    fn folder(dir: &str, index: u32, targets: Vec<TargetResult>) -> (Folder, usize) {
        let bundles = targets.iter().filter(|t| t.bundle.is_some()).count();
        (
            Folder {
                dir: PathBuf::from(dir),
                summary: Some(SweepSummary {
                    format: SUMMARY_FORMAT.into(),
                    format_version: 1,
                    started: ts(100 + i64::from(index)),
                    finished: Some(ts(500 - i64::from(index))),
                    playbook: "triage".into(),
                    playbook_sha256: "ab".into(),
                    jobs: 8,
                    networks: vec![NetworkResult {
                        network: "10.0.0.0/30".into(),
                        port: 22,
                        probed: 2,
                        answered: 1,
                    }],
                    targets,
                    shard: Some(ShardRecord {
                        index,
                        count: 2,
                        kept: 3,
                        of: 6,
                    }),
                }),
            },
            bundles,
        )
    }

    #[test]
    fn targets_networks_and_times_are_merged() {
        let folders = vec![
            folder(
                "s0",
                0,
                vec![
                    target("ssh:a", "collected", 110, Some("a.zip")),
                    target("ssh:b", "unreachable", 120, None),
                    target("ssh:c", "timed_out", 130, None),
                ],
            ),
            folder(
                "s1",
                1,
                vec![
                    // b collected by the other shard (a retry): not "not collected" any more.
                    target("ssh:b", "collected", 300, Some("b.zip")),
                    // c failed twice: the latest attempt stays.
                    target("ssh:c", "auth_failed", 310, None),
                ],
            ),
        ];
        let v = |path: &str, label: &str| Verified {
            path: PathBuf::from(path),
            sha256: "00".into(),
            hostname: label.into(),
            machine_id: None,
            label: label.into(),
            started: ts(110),
            duration_ms: 5,
        };
        let inv = Inventory {
            kept: vec![v("s0/a.zip", "ssh:a"), v("s1/b.zip", "ssh:b")],
            collected_labels: ["ssh:a".to_string(), "ssh:b".to_string()].into(),
            ..Inventory::default()
        };
        let m = merged(&folders, &inv, ("triage", "ab")).unwrap();
        let got: Vec<_> = m
            .sweep
            .targets
            .iter()
            .map(|t| (t.label.as_str(), t.outcome.as_str(), t.bundle.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("ssh:a", "collected", Some("s0/a.zip")),
                ("ssh:b", "collected", Some("s1/b.zip")),
                ("ssh:c", "auth_failed", None)
            ]
        );
        assert_eq!(
            (m.sweep.started, m.sweep.finished),
            (ts(100), Some(ts(500)))
        );
        assert_eq!(m.sweep.jobs, 16);
        assert_eq!(
            (m.sweep.networks[0].probed, m.sweep.networks[0].answered),
            (4, 2)
        );
        assert_eq!(m.merged_from[1].shard.as_ref().unwrap().index, 1);
        // Read back as a plain sweep summary, it is one.
        let text = serde_json::to_string(&m).unwrap();
        let back: SweepSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m.sweep);
        assert!(merged(&[], &Inventory::default(), ("triage", "ab")).is_none());
    }
}
