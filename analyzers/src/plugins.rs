//! Findings of analyzer plugins folded into a host's analysis, with the same rules as the
//! built-in engine: the playbook's overrides of weight, severity and on/off apply by rule id;
//! a rule whose collectors did not run (or failed) is *not evaluated*, never clean; findings are scored
//! with the built-in ones ([`crate::scoring`]: behaviour unless the plugin marks a finding as
//! context; one hit per rule counts); a plugin that fails leaves its rules not evaluated and
//! the failure in the report; a rule evaluated although a collector it needs missed something
//! is listed as evaluated on partial data. Fleet-level findings get their titles, MITRE ids and severities
//! from the rule descriptors in the same way.

use crate::completeness::HealthMessages;
use crate::config::AnalysisConfig;
use crate::gating::{Available, Gate, RuleNeeds, gate};
use crate::scoring::rescore;
use dossier_plugin_api::CollectorStatus;
use dossier_plugin_api::analysis::{
    Class, CollectorGap, Finding, HostAnalysis, Message, NotEvaluated, PartialEvaluation,
    PluginUse, Severity,
};
use dossier_plugin_api::analyzer::{
    AnalyzerInfo, FleetFinding, HostFindings, RuleDescriptor, RuleScope,
};
use std::collections::{BTreeMap, HashSet};

/// A host rule of the plugin that passed the gate: its descriptor, effective weight and
/// severity, and what it was evaluated without, if it was evaluated on partial data.
type Evaluable<'i> = (&'i RuleDescriptor, u32, Severity, Option<PartialEvaluation>);

/// Gates the plugin's host rules as the engine gates built-in ones: disabled rules are left
/// out, rules missing their collectors go to `a.not_evaluated`, the rest are returned by id.
fn gate_host_rules<'i>(
    a: &mut HostAnalysis,
    info: &'i AnalyzerInfo,
    collectors: &BTreeMap<String, (CollectorStatus, String)>,
    incomplete: &BTreeMap<String, String>,
    messages: &BTreeMap<String, HealthMessages>,
    cfg: &AnalysisConfig,
) -> BTreeMap<&'i str, Evaluable<'i>> {
    // Plugins declare collectors only; record kinds and package ownership are theirs to check.
    let kinds = HashSet::new();
    let avail = Available {
        collectors,
        kinds: &kinds,
        has_package_db: true,
        incomplete,
        messages,
    };
    let mut evaluable = BTreeMap::new();
    for r in info.rules.iter().filter(|r| r.scope == RuleScope::Host) {
        let needs = RuleNeeds {
            id: &r.id,
            title: &r.title,
            weight: r.weight,
            severity: r.severity,
            collectors: r.needs.iter().map(String::as_str).collect(),
            kinds: &[],
            packages: false,
        };
        match gate(&needs, cfg, &avail) {
            Gate::Disabled => {}
            Gate::NotEvaluated(n) => a.not_evaluated.push(n),
            Gate::Evaluate {
                weight,
                severity,
                partial,
            } => {
                evaluable.insert(r.id.as_str(), (r, weight, severity, partial));
            }
        }
    }
    evaluable
}

/// A plugin that failed: its rules that would have run are not evaluated, and the failure is
/// a gap of the report.
fn plugin_failed(
    a: &mut HostAnalysis,
    info: &AnalyzerInfo,
    evaluable: &BTreeMap<&str, Evaluable<'_>>,
    e: String,
) {
    for (r, _, _, _) in evaluable.values() {
        a.not_evaluated.push(NotEvaluated {
            rule: r.id.clone(),
            title: r.title.clone(),
            reason: format!("analyzer plugin `{}` failed: {e}", info.name),
            reason_message: Some(
                Message::new("coverage.not_evaluated.plugin_failed")
                    .text("name", &info.name)
                    .text("error", &e),
            ),
        });
    }
    a.gaps.push(CollectorGap {
        collector: format!("analyzer plugin {}", info.name),
        status: CollectorStatus::Failed,
        detail: e,
        detail_message: None,
    });
}

/// Folds one analyzer plugin's result into `a` and recomputes score and verdict. `used` is
/// recorded in `a.plugins`. `incomplete` names the collectors whose data is incomplete and why
/// (see [`crate::completeness`]). Returns the host's fleet facts, if the analyzer gave any.
#[allow(clippy::too_many_arguments)] // the collectors' state in three maps, as the engine has it
pub fn merge(
    a: &mut HostAnalysis,
    info: &AnalyzerInfo,
    used: PluginUse,
    result: Result<HostFindings, String>,
    collectors: &BTreeMap<String, (CollectorStatus, String)>,
    incomplete: &BTreeMap<String, String>,
    messages: &BTreeMap<String, HealthMessages>,
    cfg: &AnalysisConfig,
) -> Option<serde_json::Value> {
    a.plugins.push(used);
    let mut evaluable = gate_host_rules(a, info, collectors, incomplete, messages, cfg);
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            plugin_failed(a, info, &evaluable, e);
            return None;
        }
    };
    let mut by_rule: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for f in out.findings {
        if evaluable.contains_key(f.rule.as_str()) {
            by_rule.entry(f.rule.clone()).or_default().push(f);
        } else if !info.rules.iter().any(|r| r.id == f.rule) {
            a.record_errors.push(format!(
                "analyzer plugin `{}` returned a finding of unknown rule `{}`",
                info.name, f.rule
            ));
        }
    }
    for n in out.not_evaluated {
        if let Some((r, _, _, _)) = evaluable.remove(n.rule.as_str()) {
            by_rule.remove(&r.id);
            a.not_evaluated.push(NotEvaluated {
                rule: r.id.clone(),
                title: r.title.clone(),
                reason: n.reason,
                reason_message: n.reason_message,
            });
        }
    }
    // Rules in the plugin's own order, as the built-in engine keeps catalog order.
    for r in &info.rules {
        if let Some((_, _, _, Some(partial))) = evaluable.get_mut(r.id.as_str()) {
            a.partial.push(partial.clone());
        }
    }
    for r in &info.rules {
        let (Some(mut found), Some((weight, severity))) = (
            by_rule.remove(&r.id),
            evaluable.get(r.id.as_str()).map(|(_, w, s, _)| (w, s)),
        ) else {
            continue;
        };
        found.sort_by(|x, y| {
            x.subject
                .cmp(&y.subject)
                .then(x.explanation.cmp(&y.explanation))
        });
        found.dedup_by(|x, y| x.subject == y.subject && x.explanation == y.explanation);
        for mut f in found {
            f.title = r.title.clone();
            f.mitre = r.mitre.clone();
            f.severity = *severity;
            f.weight = *weight;
            match f.class {
                Class::Behaviour => a.findings.push(f),
                Class::Context => a.context.push(f),
            }
        }
    }
    rescore(a, cfg);
    out.fleet_facts
}

/// Fills in and filters an analyzer's fleet findings: only its enabled fleet rules, with
/// their titles, MITRE ids and (playbook) severities; sorted by rule and subject.
pub fn fleet_findings(
    info: &AnalyzerInfo,
    found: Vec<FleetFinding>,
    cfg: &AnalysisConfig,
) -> Vec<FleetFinding> {
    let mut out: Vec<FleetFinding> = found
        .into_iter()
        .filter_map(|mut f| {
            let r = info
                .rules
                .iter()
                .find(|r| r.id == f.rule && r.scope == RuleScope::Fleet)?;
            let (on, _, severity) = cfg.effective_for(&r.id, r.weight, r.severity);
            if !on {
                return None;
            }
            f.title = r.title.clone();
            f.mitre = r.mitre.clone();
            f.severity = severity;
            f.hosts.sort();
            f.hosts.dedup();
            Some(f)
        })
        .collect();
    out.sort_by(|x, y| (&x.rule, &x.subject).cmp(&(&y.rule, &y.subject)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::Timestamp;
    use dossier_plugin_api::analysis::Severity;

    fn rule(id: &str, scope: RuleScope, weight: u32) -> RuleDescriptor {
        RuleDescriptor {
            id: id.into(),
            title: format!("T {id}"),
            mitre: vec!["T1098.004".into()],
            severity: Severity::Medium,
            weight,
            needs: vec!["keys".into()],
            scope,
            doc: String::new(),
        }
    }

    fn info() -> AnalyzerInfo {
        AnalyzerInfo {
            name: "k".into(),
            version: "1.0.0".into(),
            description: String::new(),
            reads: vec!["keys".into()],
            rules: vec![
                rule("k-a", RuleScope::Host, 20),
                rule("k-b", RuleScope::Host, 15),
                rule("k-fleet", RuleScope::Fleet, 0),
            ],
        }
    }

    fn empty() -> HostAnalysis {
        let t = Timestamp::from_unix(1_790_000_000, 0).unwrap();
        HostAnalysis {
            hostname: "h".into(),
            bundle: "b".into(),
            bundle_sha256: String::new(),
            case_id: None,
            target: "local".into(),
            collected_started: t,
            collected_finished: t,
            playbook: "p".into(),
            playbook_sha256: String::new(),
            tool: "t".into(),
            os: None,
            kernel: None,
            score: 25,
            verdict: "Unclear/Benign".into(),
            hits: vec![],
            findings: vec![Finding {
                rule: "builtin".into(),
                title: "b".into(),
                severity: Severity::High,
                weight: 25,
                ..Finding::new("s", "built-in finding", vec![], vec![])
            }],
            context: vec![],
            not_evaluated: vec![],
            partial: vec![],
            executables: vec![],
            listeners: vec![],
            gaps: vec![],
            record_errors: vec![],
            plugins: vec![],
            policy: Default::default(),
        }
    }

    fn finding(rule: &str, subject: &str) -> Finding {
        Finding {
            rule: rule.into(),
            title: String::new(),
            mitre: vec![],
            severity: Severity::Info,
            weight: 0,
            explanation: "x".into(),
            subject: subject.into(),
            evidence: vec![],
            iocs: vec![],
            ..Finding::new("", "", vec![], vec![])
        }
    }

    fn used() -> PluginUse {
        PluginUse {
            kind: "analyzer".into(),
            name: "k".into(),
            version: "1.0.0".into(),
            path: "/p.so".into(),
            sha256: "s".into(),
        }
    }

    fn ran() -> BTreeMap<String, (CollectorStatus, String)> {
        [("keys".to_string(), (CollectorStatus::Ok, String::new()))]
            .into_iter()
            .collect()
    }

    #[test]
    fn findings_are_scored_with_playbook_overrides() {
        let mut a = empty();
        let mut cfg = AnalysisConfig::default();
        cfg.rules.insert(
            "k-b".into(),
            crate::RuleSettings {
                weight: Some(40),
                ..Default::default()
            },
        );
        let out = HostFindings {
            findings: vec![
                finding("k-b", "root"),
                finding("k-b", "root"),
                finding("k-a", "x"),
                finding("nope", "y"),
            ],
            not_evaluated: vec![],
            fleet_facts: Some(serde_json::json!([1])),
        };
        let facts = merge(
            &mut a,
            &info(),
            used(),
            Ok(out),
            &ran(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &cfg,
        );
        assert_eq!(facts, Some(serde_json::json!([1])));
        let hits: Vec<(&str, u32, usize)> = a
            .hits
            .iter()
            .map(|h| (h.rule.as_str(), h.weight, h.findings))
            .collect();
        assert_eq!(hits, [("builtin", 25, 1), ("k-a", 20, 1), ("k-b", 40, 1)]);
        assert_eq!((a.score, a.verdict.as_str()), (85, "Malicious likely"));
        assert_eq!(a.findings[2].title, "T k-b");
        assert_eq!(a.findings[2].mitre, ["T1098.004"]);
        assert!(a.record_errors[0].contains("unknown rule `nope`"));
        assert_eq!(a.plugins, [used()]);
    }

    #[test]
    fn missing_data_and_failures_are_not_evaluated() {
        let mut a = empty();
        let cfg = AnalysisConfig::default();
        merge(
            &mut a,
            &info(),
            used(),
            Ok(HostFindings::default()),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &cfg,
        );
        assert_eq!(a.not_evaluated.len(), 2);
        assert!(a.not_evaluated[0].reason.contains("`keys` did not run"));
        assert_eq!(a.score, 25);

        let mut a = empty();
        merge(
            &mut a,
            &info(),
            used(),
            Err("boom".into()),
            &ran(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &cfg,
        );
        assert_eq!(a.not_evaluated.len(), 2);
        assert!(a.not_evaluated[1].reason.contains("`k` failed: boom"));
        assert_eq!(a.gaps[0].status, CollectorStatus::Failed);
    }

    #[test]
    fn plugin_rules_on_incomplete_collectors_are_partial() {
        let mut a = empty();
        let cfg = AnalysisConfig::default();
        let incomplete: BTreeMap<String, String> = [(
            "keys".to_string(),
            "1 permission denied: /root/.ssh".to_string(),
        )]
        .into_iter()
        .collect();
        let out = HostFindings {
            findings: vec![finding("k-a", "x")],
            not_evaluated: vec![NotEvaluated {
                rule: "k-b".into(),
                title: String::new(),
                reason: "no data".into(),
                reason_message: None,
            }],
            fleet_facts: None,
        };
        merge(
            &mut a,
            &info(),
            used(),
            Ok(out),
            &ran(),
            &incomplete,
            &BTreeMap::new(),
            &cfg,
        );
        // k-a ran (and fired) on partial data; k-b was not evaluated; the fleet rule is not a
        // host rule.
        assert_eq!(a.partial.len(), 1, "{:?}", a.partial);
        assert_eq!(a.partial[0].rule, "k-a");
        assert_eq!(a.partial[0].collectors, ["keys"]);
        assert_eq!(
            a.partial[0].missing,
            "keys: 1 permission denied: /root/.ssh"
        );

        let mut a = empty();
        merge(
            &mut a,
            &info(),
            used(),
            Ok(HostFindings::default()),
            &ran(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &cfg,
        );
        assert!(a.partial.is_empty());
    }

    #[test]
    fn fleet_findings_take_descriptor_fields_and_overrides() {
        let f = FleetFinding {
            rule: "k-fleet".into(),
            title: String::new(),
            mitre: vec![],
            severity: Severity::Info,
            subject: "SHA256:x".into(),
            explanation: "e".into(),
            hosts: vec!["b".into(), "a".into(), "a".into()],
            evidence: vec![],
        };
        let mut cfg = AnalysisConfig::default();
        let got = fleet_findings(&info(), vec![f.clone(), finding_fleet("k-a")], &cfg);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].severity, Severity::Medium);
        assert_eq!(got[0].hosts, ["a", "b"]);
        cfg.rules.insert(
            "k-fleet".into(),
            crate::RuleSettings {
                enabled: Some(false),
                ..Default::default()
            },
        );
        assert!(fleet_findings(&info(), vec![f], &cfg).is_empty());
    }

    fn finding_fleet(rule: &str) -> FleetFinding {
        FleetFinding {
            rule: rule.into(),
            title: String::new(),
            mitre: vec![],
            severity: Severity::Info,
            subject: "s".into(),
            explanation: "e".into(),
            hosts: vec![],
            evidence: vec![],
        }
    }
}
