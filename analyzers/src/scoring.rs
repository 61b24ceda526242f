//! Scoring: behaviour findings count, context findings boost, one observation counts once.
//!
//! - A behaviour rule with at least one *counted* finding adds its weight once.
//! - Behaviour findings of different rules reporting the same *fact* (`Finding::fact`, such as
//!   `fileless-exe:pid:812`) count once, under the rule with the highest weight (the first in
//!   report order on a tie); the others get `counted_under` and explain.
//! - A context finding never scores on its own. When it is on the same subject as a counted
//!   behaviour finding (they share a subject key: canonical path, unit, SHA-256, PID or account
//!   taken from the subject and the IOCs), its rule's weight is added once per host (a boost),
//!   on the first hit it is linked to.
//! - The score is capped at 100; the verdict follows the playbook's thresholds.
//!
//! [`rescore`] recomputes all of it from `findings` and `context` alone, so a caller that
//! removes findings (site allowlist, baseline) gets a consistent analysis back.

use crate::config::AnalysisConfig;
use crate::context::canonical;
use dossier_plugin_api::analysis::{Class, Finding, HostAnalysis, Ioc, RuleHit};
use std::collections::{BTreeMap, BTreeSet};

/// The subject keys of a finding: what "the same subject" means for boosts.
pub fn subject_keys(f: &Finding) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let norm = |s: &str| {
        if s.starts_with('/') {
            canonical(s)
        } else {
            s.to_string()
        }
    };
    keys.insert(norm(&f.subject));
    for i in &f.iocs {
        match i {
            Ioc::Path(p) => {
                keys.insert(norm(p));
            }
            Ioc::Sha256(s) => {
                keys.insert(format!("sha256 {s}"));
            }
            Ioc::Pid(p) => {
                keys.insert(format!("pid {p}"));
            }
            Ioc::Unit(u) | Ioc::Account(u) => {
                keys.insert(u.clone());
            }
            // Ports, addresses, command and configuration lines are shared by unrelated
            // things (every sshd listens on 22): not subjects.
            Ioc::Port(_) | Ioc::Address(_) | Ioc::CronCommand(_) | Ioc::ConfigLine(_) => {}
        }
    }
    keys
}

/// Rules in order of first appearance, with their first finding (title, MITRE, severity,
/// weight).
fn rules_in_order(fs: &[Finding]) -> Vec<&Finding> {
    let mut seen = BTreeSet::new();
    fs.iter().filter(|f| seen.insert(f.rule.as_str())).collect()
}

/// Recomputes classes, fact counting, boosts, hits, score and verdict of `a` from its
/// `findings` (behaviour) and `context` lists.
pub fn rescore(a: &mut HostAnalysis, cfg: &AnalysisConfig) {
    for f in &mut a.findings {
        f.class = Class::Behaviour;
        f.counted_under = None;
        f.boosted_by.clear();
    }
    for f in &mut a.context {
        f.class = Class::Context;
        f.counted_under = None;
        f.linked_to.clear();
    }
    let order: Vec<String> = rules_in_order(&a.findings)
        .iter()
        .map(|f| f.rule.clone())
        .collect();
    let rank = |rule: &str| order.iter().position(|r| r == rule).unwrap_or(usize::MAX);
    // One observation, one score: the strongest rule reporting a fact counts it.
    let mut by_fact: BTreeMap<&str, (u32, usize, String)> = BTreeMap::new();
    for f in &a.findings {
        let Some(fact) = &f.fact else { continue };
        let cand = (f.weight, rank(&f.rule), f.rule.clone());
        let e = by_fact.entry(fact.as_str()).or_insert(cand.clone());
        if cand.0 > e.0 || cand.0 == e.0 && cand.1 < e.1 {
            *e = cand;
        }
    }
    let winners: BTreeMap<String, String> = by_fact
        .into_iter()
        .map(|(k, (_, _, r))| (k.to_string(), r))
        .collect();
    for f in &mut a.findings {
        if let Some(w) = f.fact.as_ref().and_then(|k| winners.get(k)) {
            if *w != f.rule {
                f.counted_under = Some(w.clone());
            }
        }
    }
    // Links between context and counted behaviour on the same subject.
    let bkeys: Vec<BTreeSet<String>> = a.findings.iter().map(subject_keys).collect();
    let ckeys: Vec<BTreeSet<String>> = a.context.iter().map(subject_keys).collect();
    for (ci, c) in a.context.iter_mut().enumerate() {
        let mut linked: Vec<String> = a
            .findings
            .iter()
            .zip(&bkeys)
            .filter(|(b, k)| b.counted_under.is_none() && !k.is_disjoint(&ckeys[ci]))
            .map(|(b, _)| b.rule.clone())
            .collect();
        linked.sort_by_key(|r| rank(r));
        linked.dedup();
        c.linked_to = linked;
    }
    for (bi, b) in a.findings.iter_mut().enumerate() {
        let mut by: Vec<String> = a
            .context
            .iter()
            .zip(&ckeys)
            .filter(|(_, k)| !k.is_disjoint(&bkeys[bi]))
            .map(|(c, _)| c.rule.clone())
            .collect();
        by.dedup();
        by.sort();
        by.dedup();
        b.boosted_by = by;
    }
    // Hits of behaviour rules, in order.
    let mut hits: Vec<RuleHit> = rules_in_order(&a.findings)
        .into_iter()
        .map(|first| {
            let mine: Vec<&Finding> = a.findings.iter().filter(|f| f.rule == first.rule).collect();
            let counted_under = if mine.iter().any(|f| f.counted_under.is_none()) {
                None
            } else {
                mine[0].counted_under.clone()
            };
            RuleHit {
                rule: first.rule.clone(),
                title: first.title.clone(),
                mitre: first.mitre.clone(),
                severity: first.severity,
                weight: first.weight,
                findings: mine.len(),
                counted_under,
                boost: 0,
                boosted_by: vec![],
            }
        })
        .collect();
    // Each linked context rule adds its weight once, on the first hit it is linked to.
    for c in rules_in_order(&a.context) {
        let linked: BTreeSet<&str> = a
            .context
            .iter()
            .filter(|f| f.rule == c.rule)
            .flat_map(|f| f.linked_to.iter().map(String::as_str))
            .collect();
        if let Some(h) = hits.iter_mut().find(|h| linked.contains(h.rule.as_str())) {
            h.boost += c.weight;
            h.boosted_by.push(c.rule.clone());
        }
    }
    a.score = hits.iter().map(RuleHit::points).sum::<u32>().min(100);
    a.verdict = cfg.thresholds.verdict(a.score).into();
    a.hits = hits;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{input, proc};
    use serde_json::json;

    fn f(rule: &str, weight: u32, subject: &str, iocs: Vec<Ioc>) -> Finding {
        let mut f = Finding::new(subject, format!("{rule} on {subject}"), vec![], iocs);
        f.rule = rule.into();
        f.title = rule.into();
        f.weight = weight;
        f
    }

    #[test]
    fn one_observation_counts_once_under_the_strongest_rule() {
        let procs = vec![(
            1,
            proc(
                812,
                "3",
                &["/proc/self/fd/3"],
                "/memfd:payload",
                json!({"exe_deleted": true}),
            ),
        )];
        let records = [("proc".to_string(), procs)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let cfg = AnalysisConfig::default();
        let mut a = crate::engine::analyze(&mut inp, &cfg);
        let hit = |a: &HostAnalysis, r: &str| a.hits.iter().find(|h| h.rule == r).cloned();
        assert_eq!(hit(&a, "exec-unusual-path").unwrap().counted_under, None);
        assert_eq!(
            hit(&a, "deleted-exe-running")
                .unwrap()
                .counted_under
                .as_deref(),
            Some("exec-unusual-path")
        );
        let d = a
            .findings
            .iter()
            .find(|f| f.rule == "deleted-exe-running")
            .unwrap();
        assert_eq!(d.fact.as_deref(), Some("fileless-exe:pid:812"));
        assert_eq!(d.counted_under.as_deref(), Some("exec-unusual-path"));
        // 30, not 30 + 25: a development machine's one fileless process is not Malicious likely.
        assert_eq!((a.score, a.verdict.as_str()), (30, "Suspicious"));
        // Removing the stronger finding (a site allowlist) and rescoring counts the other.
        a.findings.retain(|f| f.rule != "exec-unusual-path");
        rescore(&mut a, &cfg);
        assert_eq!(a.score, 25);
        assert_eq!(a.hits[0].counted_under, None);
    }

    #[test]
    fn context_boosts_behaviour_on_the_same_subject_only() {
        let cfg = AnalysisConfig::default();
        let mut a = crate::engine::analyze(
            &mut input(BTreeMap::new(), &mut |_: &str, _: u64| {
                Err("none".to_string())
            }),
            &cfg,
        );
        let ctx = |rule: &str, w: u32, subject: &str| {
            let mut c = f(rule, w, subject, vec![Ioc::Path(subject.into())]);
            c.class = Class::Context;
            c
        };
        // Context alone never scores.
        a.context = vec![
            ctx("exec-unowned", 15, "/usr/local/bin/backup"),
            ctx("unit-local-unowned", 5, "heartbeat.service"),
        ];
        rescore(&mut a, &cfg);
        assert_eq!((a.score, a.hits.len()), (0, 0));
        assert!(a.context.iter().all(|c| c.linked_to.is_empty()));
        assert!(a.iocs().is_empty(), "lone context gives no IOC");
        // Behaviour on /bin/x (== /usr/bin/x) links the context on /usr/bin/x: +15 once.
        a.context.push(ctx("exec-unowned", 15, "/usr/bin/x"));
        a.context.push(ctx("exec-unowned", 15, "/usr/bin/y"));
        a.findings = vec![
            f(
                "exec-unusual-path",
                30,
                "/bin/x",
                vec![Ioc::Path("/bin/x".into())],
            ),
            f(
                "miner-strings",
                10,
                "/bin/y",
                vec![Ioc::Path("/bin/y".into())],
            ),
        ];
        rescore(&mut a, &cfg);
        assert_eq!(a.score, 30 + 15 + 10);
        assert_eq!(a.hits[0].boost, 15);
        assert_eq!(a.hits[0].boosted_by, ["exec-unowned"]);
        assert_eq!(a.hits[1].boost, 0, "a context rule boosts once per host");
        assert_eq!(a.findings[0].boosted_by, ["exec-unowned"]);
        assert_eq!(a.context[2].linked_to, ["exec-unusual-path"]);
        assert!(a.context[0].linked_to.is_empty());
        let iocs = a.iocs();
        assert!(iocs.contains(&Ioc::Path("/usr/bin/x".into())));
        assert!(!iocs.contains(&Ioc::Path("/usr/local/bin/backup".into())));
        assert_eq!(a.verdict, "Suspicious");
    }
}
