//! Site policy and fleet context applied to a host's analysis after its rules ran (to its
//! behaviour findings and its context findings alike): the
//! playbook's allowlist (`[[analysis.allow]]`), a known-good baseline (`--baseline`) and fleet
//! stacking's `common_share`. Each moves findings out of the score into a list of
//! [`HostAnalysis::policy`] (shown in every report, never dropped) and the host is rescored
//! with [`rescore`].
//!
//! Allowlist matching, for a finding (and the rule of the entry, when it names one): the paths
//! a finding refers to are its subject (when a path; the file of a `FILE:LINE` subject) and its
//! path IOCs; the hashes are its
//! SHA-256 IOCs and the hashes the host's inventory records for those paths. An entry with a
//! `path` matches a finding referring to that path (`/bin/x` is `/usr/bin/x`); one with a
//! `sha256` matches a finding referring to that hash; one with both matches when the path's
//! hashes on the host are exactly that one. An entry with both whose path is on the host with
//! another hash is reported (*allowlisted hash no longer matches*) and matches nothing.

use crate::baseline::BaselineIndex;
use crate::config::AnalysisConfig;
pub use crate::config::{AllowEntry, StackingConfig};
use crate::context::canonical;
use crate::inventory::hashes_of;
use dossier_plugin_api::analysis::{Evidence, Finding, HostAnalysis, Ioc};
use dossier_plugin_api::policy::{AllowChanged, Allowed, Common, Seen};
use std::collections::BTreeMap;

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks `[analysis.stacking]` and `[[analysis.allow]]`; the message names the key
/// (`allow[2].reason`). `rule_known` says whether a rule id exists.
pub fn validate(cfg: &AnalysisConfig, rule_known: &dyn Fn(&str) -> bool) -> Result<(), String> {
    if let Some(s) = cfg.stacking.common_share {
        if !(s.is_finite() && s > 0.0 && s <= 1.0) {
            return Err(format!(
                "stacking.common_share: must be a share of hosts above 0 and at most 1, not {s}"
            ));
        }
    }
    for (i, e) in cfg.allow.iter().enumerate() {
        let at = format!("allow[{}]", i + 1);
        if e.path.is_none() && e.sha256.is_none() {
            return Err(format!("{at}: needs a path or a sha256 (or both)"));
        }
        if let Some(p) = &e.path {
            if !p.starts_with('/') || p.contains('\0') {
                return Err(format!("{at}.path: must be an absolute path, not {p:?}"));
            }
        }
        if let Some(s) = &e.sha256 {
            if !is_sha256(s) {
                return Err(format!(
                    "{at}.sha256: must be 64 lower-case hex digits, not {s:?}"
                ));
            }
        }
        match &e.reason {
            Some(r) if !r.trim().is_empty() => {}
            _ => {
                return Err(format!(
                    "{at}.reason: a reason is required (why the site allows it)"
                ));
            }
        }
        if let Some(r) = &e.rule {
            if !rule_known(r) {
                return Err(format!("{at}.rule: unknown rule {r} (see `dossier rules`)"));
            }
        }
    }
    Ok(())
}

/// The canonical paths a finding refers to: its subject (when a path) and its path IOCs.
fn paths_of(f: &Finding) -> Vec<String> {
    let mut v: Vec<String> = f
        .iocs
        .iter()
        .filter_map(|i| match i {
            Ioc::Path(p) => Some(canonical(p)),
            _ => None,
        })
        .collect();
    if f.subject.starts_with('/') {
        v.push(canonical(&f.subject));
        // `FILE:LINE` (a crontab line, a sudoers rule): the file.
        if let Some((file, line)) = f.subject.rsplit_once(':') {
            if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) {
                v.push(canonical(file));
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

fn sha_iocs(f: &Finding) -> Vec<&str> {
    f.iocs
        .iter()
        .filter_map(|i| match i {
            Ioc::Sha256(h) => Some(h.as_str()),
            _ => None,
        })
        .collect()
}

fn matches(e: &AllowEntry, f: &Finding, inv: &[Seen]) -> bool {
    if e.rule.as_ref().is_some_and(|r| *r != f.rule) {
        return false;
    }
    let paths = paths_of(f);
    match (&e.path, &e.sha256) {
        (Some(p), None) => paths.contains(&canonical(p)),
        (None, Some(s)) => {
            sha_iocs(f).contains(&s.as_str())
                || paths
                    .iter()
                    .any(|p| hashes_of(inv, p).contains(&s.as_str()))
        }
        (Some(p), Some(s)) => {
            let p = canonical(p);
            if !paths.contains(&p) {
                return false;
            }
            let mut seen = hashes_of(inv, &p);
            if seen.is_empty() && paths.len() == 1 {
                seen = sha_iocs(f);
            }
            !seen.is_empty() && seen.iter().all(|h| h == s)
        }
        (None, None) => false,
    }
}

/// Applies the allowlist of `cfg` to `a`: matching findings move to `a.policy.allowed`, and
/// entries with path and hash whose path has another hash on the host are added to
/// `a.policy.allow_changed` (with the evidence of where that hash was read; `members` gives
/// member SHA-256 values). Returns whether a finding moved (the caller rescores).
pub fn apply_allow(
    a: &mut HostAnalysis,
    inv: &[Seen],
    cfg: &AnalysisConfig,
    members: &BTreeMap<String, String>,
) -> bool {
    if cfg.allow.is_empty() {
        return false;
    }
    let mut moved = false;
    for list in [&mut a.findings, &mut a.context] {
        let mut kept = Vec::with_capacity(list.len());
        for f in std::mem::take(list) {
            match cfg.allow.iter().find(|e| matches(e, &f, inv)) {
                Some(e) => {
                    moved = true;
                    a.policy.allowed.push(Allowed {
                        reason: e.reason.clone().unwrap_or_default(),
                        entry: e.label(),
                        finding: f,
                    });
                }
                None => kept.push(f),
            }
        }
        *list = kept;
    }
    for e in &cfg.allow {
        let (Some(p), Some(s)) = (&e.path, &e.sha256) else {
            continue;
        };
        let c = canonical(p);
        for item in inv.iter().filter(|i| {
            i.item.sha256.as_ref().is_some_and(|h| h != s)
                && i.file().is_some_and(|f| canonical(f) == c)
        }) {
            let seen = item.item.sha256.clone().unwrap_or_default();
            if a.policy
                .allow_changed
                .iter()
                .any(|x| x.path == *p && x.seen_sha256 == seen)
            {
                continue;
            }
            a.policy.allow_changed.push(AllowChanged {
                path: p.clone(),
                allowed_sha256: s.clone(),
                seen_sha256: seen,
                reason: e.reason.clone().unwrap_or_default(),
                evidence: vec![Evidence {
                    sha256: members.get(&item.member).cloned().unwrap_or_default(),
                    member: item.member.clone(),
                    line: item.line,
                    what: format!("{} {}", item.item.kind, item.item.key),
                    what_message: None,
                }],
            });
        }
    }
    moved
}

/// Whether a finding's subject matches the baseline exactly: everything it refers to that the
/// host's inventory holds (its subject, path, unit, cron command, account and SHA-256 IOCs) is
/// a baseline item with the same identity (same path and hash, same unit content), at least
/// one thing resolves, and every path and SHA-256 IOC resolves.
fn known(f: &Finding, inv: &[Seen], base: &BaselineIndex) -> bool {
    let mut resolved = false;
    let mut check = |items: Vec<&Seen>, required: bool| -> bool {
        if items.is_empty() {
            return !required;
        }
        resolved = true;
        items.iter().all(|s| base.knows(&s.item))
    };
    let by_path = |p: &str| -> Vec<&Seen> {
        let c = canonical(p);
        inv.iter()
            .filter(|s| s.file().is_some_and(|f| canonical(f) == c))
            .collect()
    };
    if f.subject.starts_with('/') && !check(by_path(&f.subject), false) {
        return false;
    }
    let unit_subject: Vec<&Seen> = inv
        .iter()
        .filter(|s| s.item.kind == "unit" && s.item.key == f.subject)
        .collect();
    if !check(unit_subject, false) {
        return false;
    }
    for i in &f.iocs {
        let ok = match i {
            Ioc::Path(p) => check(by_path(p), true),
            Ioc::Sha256(h) => check(
                inv.iter()
                    .filter(|s| s.item.sha256.as_deref() == Some(h.as_str()))
                    .collect(),
                true,
            ),
            Ioc::Unit(u) => check(
                inv.iter()
                    .filter(|s| s.item.kind == "unit" && s.item.key == *u)
                    .collect(),
                false,
            ),
            Ioc::CronCommand(c) => check(
                inv.iter()
                    .filter(|s| s.item.kind == "cron" && s.item.key.ends_with(&format!(": {c}")))
                    .collect(),
                false,
            ),
            Ioc::Account(n) => check(
                inv.iter()
                    .filter(|s| s.item.kind == "account" && s.item.key == *n)
                    .collect(),
                false,
            ),
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    resolved
}

/// Compares `a` with a baseline: adds *Changed since baseline* (`a.policy.baseline`) and moves
/// findings whose subject matches the baseline exactly to `a.policy.known`. Returns whether a
/// finding moved (the caller rescores).
pub fn apply_baseline(a: &mut HostAnalysis, inv: &[Seen], base: &BaselineIndex) -> bool {
    a.policy.baseline = Some(base.diff(&a.hostname, inv));
    let mut moved = false;
    for list in [&mut a.findings, &mut a.context] {
        let mut kept = Vec::with_capacity(list.len());
        for f in std::mem::take(list) {
            if known(&f, inv, base) {
                moved = true;
                a.policy.known.push(f);
            } else {
                kept.push(f);
            }
        }
        *list = kept;
    }
    moved
}

/// Leaves out of the score the findings on more than `share` of `of` hosts (`hosts_with`
/// gives how many hosts have a finding). Returns whether a finding moved (the caller
/// rescores).
pub fn apply_common(
    a: &mut HostAnalysis,
    share: f64,
    of: u32,
    hosts_with: &dyn Fn(&Finding) -> u32,
) -> bool {
    let mut moved = false;
    for list in [&mut a.findings, &mut a.context] {
        let mut kept = Vec::with_capacity(list.len());
        for f in std::mem::take(list) {
            let n = hosts_with(&f);
            if of > 1 && f64::from(n) > share * f64::from(of) {
                moved = true;
                a.policy.common.push(Common {
                    finding: f,
                    hosts: n,
                    of,
                });
            } else {
                kept.push(f);
            }
        }
        *list = kept;
    }
    moved
}

/// Recomputes rule hits, score and verdict from the findings and context findings left: the
/// scoring model's [`crate::scoring::rescore`].
pub use crate::scoring::rescore;

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::analysis::Severity;
    use dossier_plugin_api::policy::Item;

    fn finding(rule: &str, subject: &str, iocs: Vec<Ioc>) -> Finding {
        let mut f = Finding::new(subject, format!("{subject} fired {rule}"), vec![], iocs);
        f.rule = rule.into();
        f.title = rule.into();
        f.severity = Severity::Medium;
        f.weight = 20;
        f
    }

    fn host(findings: Vec<Finding>) -> HostAnalysis {
        let mut a = crate::inventory::tests_support::empty();
        a.findings = findings;
        rescore(&mut a, &AnalysisConfig::default());
        a
    }

    fn exe(path: &str, sha: &str) -> Seen {
        Seen {
            item: Item {
                kind: "executable".into(),
                key: path.into(),
                sha256: Some(sha.into()),
                detail: String::new(),
            },
            member: "records/packages.jsonl".into(),
            line: Some(3),
            path: None,
        }
    }

    fn cfg(allow: Vec<AllowEntry>) -> AnalysisConfig {
        AnalysisConfig {
            allow,
            ..AnalysisConfig::default()
        }
    }

    fn entry(path: Option<&str>, sha: Option<&str>, rule: Option<&str>) -> AllowEntry {
        AllowEntry {
            path: path.map(str::to_string),
            sha256: sha.map(str::to_string),
            reason: Some("backup script".into()),
            rule: rule.map(str::to_string),
        }
    }

    #[test]
    fn entries_are_validated_naming_the_key() {
        let known = |r: &str| r == "a";
        let bad = [
            (
                entry(None, None, None),
                "allow[1]: needs a path or a sha256",
            ),
            (entry(Some("rel"), None, None), "allow[1].path"),
            (entry(None, Some("ABC"), None), "allow[1].sha256"),
            (entry(Some("/x"), None, Some("zz")), "allow[1].rule"),
            (
                AllowEntry {
                    reason: Some("  ".into()),
                    ..entry(Some("/x"), None, None)
                },
                "allow[1].reason",
            ),
        ];
        for (e, want) in bad {
            let err = validate(&cfg(vec![e]), &known).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
        assert!(validate(&cfg(vec![entry(Some("/x"), None, Some("a"))]), &known).is_ok());
        let mut c = cfg(vec![]);
        c.stacking.common_share = Some(1.5);
        assert!(
            validate(&c, &known)
                .unwrap_err()
                .starts_with("stacking.common_share")
        );
    }

    #[test]
    fn allowed_findings_move_with_their_reason_and_the_host_is_rescored() {
        let sha = "ab".repeat(32);
        let inv = vec![exe("/usr/local/bin/backup", &sha)];
        let f1 = finding("a", "/usr/local/bin/backup", vec![]);
        let f2 = finding("b", "/tmp/x", vec![Ioc::Path("/tmp/x".into())]);
        for e in [
            entry(Some("/usr/local/bin/backup"), None, None),
            entry(None, Some(&sha), None),
            entry(Some("/usr/local/bin/backup"), Some(&sha), Some("a")),
        ] {
            let mut a = host(vec![f1.clone(), f2.clone()]);
            let c = cfg(vec![e]);
            assert!(apply_allow(&mut a, &inv, &c, &BTreeMap::new()));
            rescore(&mut a, &c);
            assert_eq!(a.findings, vec![f2.clone()]);
            assert_eq!(a.policy.allowed[0].reason, "backup script");
            assert_eq!((a.score, a.verdict.as_str()), (20, "Unclear/Benign"));
            assert!(a.policy.allow_changed.is_empty());
        }
        // Another rule, or another hash: not allowed; the changed hash is reported.
        let other = "cd".repeat(32);
        let mut a = host(vec![f1.clone()]);
        let c = cfg(vec![entry(
            Some("/usr/local/bin/backup"),
            Some(&other),
            None,
        )]);
        assert!(!apply_allow(&mut a, &inv, &c, &BTreeMap::new()));
        assert_eq!(a.policy.allow_changed.len(), 1);
        assert_eq!(a.policy.allow_changed[0].seen_sha256, sha);
        assert_eq!(
            a.policy.allow_changed[0].evidence[0].member,
            "records/packages.jsonl"
        );
        let mut a = host(vec![f1]);
        let c = cfg(vec![entry(Some("/usr/local/bin/backup"), None, Some("b"))]);
        assert!(!apply_allow(&mut a, &inv, &c, &BTreeMap::new()));
        // A crontab line's file.
        let mut a = host(vec![finding("a", "/etc/cron.d/backup:3", vec![])]);
        let c = cfg(vec![entry(Some("/etc/cron.d/backup"), None, None)]);
        assert!(apply_allow(&mut a, &inv, &c, &BTreeMap::new()));
    }

    #[test]
    fn common_findings_leave_the_score() {
        let mut a = host(vec![finding("a", "/x", vec![]), finding("b", "/y", vec![])]);
        let moved = apply_common(&mut a, 0.8, 10, &|f: &Finding| {
            if f.rule == "a" { 9 } else { 8 }
        });
        assert!(moved);
        rescore(&mut a, &AnalysisConfig::default());
        assert_eq!(a.policy.common.len(), 1);
        assert_eq!((a.policy.common[0].hosts, a.policy.common[0].of), (9, 10));
        assert_eq!(a.score, 20);
        assert_eq!(a.hits.len(), 1);
    }
}
