//! One gate for every rule, built-in or from an analyzer plugin: is it enabled (playbook), can
//! it be evaluated on this bundle (the collectors it needs ran, the record kinds it needs are
//! there, package ownership is known when it needs it) and, if so, with which weight and
//! severity, and is it evaluated on partial data (a collector it reads missed something).

use crate::completeness::{HealthMessages, partial_reason};
use crate::config::AnalysisConfig;
use dossier_plugin_api::CollectorStatus;
use dossier_plugin_api::analysis::{Message, NotEvaluated, PartialEvaluation, Severity};
use std::collections::{BTreeMap, HashSet};

/// What a rule needs, as the gate sees it.
pub struct RuleNeeds<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// Default weight and severity (the playbook may override them).
    pub weight: u32,
    pub severity: Severity,
    /// Collectors whose records the rule reads.
    pub collectors: Vec<&'a str>,
    /// `(collector, kind)` pairs of which at least one record must be present.
    pub kinds: &'a [(&'a str, &'a str)],
    /// Needs package ownership (a package database in the bundle).
    pub packages: bool,
}

/// What a bundle offers the rules.
pub struct Available<'a> {
    /// Collector name → (status, detail).
    pub collectors: &'a BTreeMap<String, (CollectorStatus, String)>,
    /// `(collector, kind)` pairs with at least one record.
    pub kinds: &'a HashSet<(String, String)>,
    pub has_package_db: bool,
    /// Collector name → why its data is incomplete.
    pub incomplete: &'a BTreeMap<String, String>,
    /// Collector name → its detail and reason as catalogue messages.
    pub messages: &'a BTreeMap<String, HealthMessages>,
}

/// The gate's decision for one rule.
#[derive(Debug, PartialEq)]
pub enum Gate {
    /// Switched off by the playbook: not run, not listed.
    Disabled,
    /// Cannot be evaluated on this bundle: listed, never taken as clean.
    NotEvaluated(NotEvaluated),
    /// Run it with this weight and severity; `partial` when a collector it reads missed
    /// something.
    Evaluate {
        weight: u32,
        severity: Severity,
        partial: Option<PartialEvaluation>,
    },
}

/// Why a rule needing `needs` cannot be evaluated on a bundle whose collectors fared as
/// `collectors` (name → (status, detail)), if it cannot.
pub fn missing<'a>(
    needs: impl IntoIterator<Item = &'a str>,
    collectors: &BTreeMap<String, (CollectorStatus, String)>,
) -> Option<String> {
    missing_why(needs, collectors, &BTreeMap::new()).map(|(text, _)| text)
}

/// [`missing`] with its catalogue message (the detail's from `messages` when known).
pub fn missing_why<'a>(
    needs: impl IntoIterator<Item = &'a str>,
    collectors: &BTreeMap<String, (CollectorStatus, String)>,
    messages: &BTreeMap<String, HealthMessages>,
) -> Option<(String, Message)> {
    for n in needs {
        match collectors.get(n) {
            None => {
                return Some((
                    format!("collector `{n}` did not run for this bundle"),
                    Message::new("coverage.not_evaluated.not_run").text("collector", n),
                ));
            }
            Some((status, detail)) if status.gave_nothing() => {
                let mut m = Message::new("coverage.not_evaluated.gave_nothing")
                    .text("collector", n)
                    .msg(
                        "status",
                        Message::new(format!("status.{}", status_key(*status))),
                    );
                let d = match messages.get(n).and_then(|m| m.detail.clone()) {
                    Some(d) => d.into(),
                    None => detail.as_str().into(),
                };
                m.args.insert("detail".into(), d);
                return Some((format!("collector `{n}` {}: {detail}", status.words()), m));
            }
            _ => {}
        }
    }
    None
}

/// The catalogue key of a collector status (`status.<key>` in `report.toml`).
pub fn status_key(s: CollectorStatus) -> &'static str {
    match s {
        CollectorStatus::Ok => "ok",
        CollectorStatus::Partial => "partial",
        CollectorStatus::NotAvailable => "not_available",
        CollectorStatus::Failed => "failed",
    }
}

/// Decides whether and how a rule runs on a bundle.
pub fn gate(rule: &RuleNeeds<'_>, cfg: &AnalysisConfig, avail: &Available<'_>) -> Gate {
    let (on, weight, severity) = cfg.effective_for(rule.id, rule.weight, rule.severity);
    if !on {
        return Gate::Disabled;
    }
    let not_evaluated = |reason: String, m: Message| {
        Gate::NotEvaluated(NotEvaluated {
            rule: rule.id.into(),
            title: rule.title.into(),
            reason,
            reason_message: Some(m),
        })
    };
    if let Some((reason, m)) = missing_why(
        rule.collectors.iter().copied(),
        avail.collectors,
        avail.messages,
    ) {
        return not_evaluated(reason, m);
    }
    if let Some((c, k)) = rule
        .kinds
        .iter()
        .find(|(c, k)| !avail.kinds.contains(&(c.to_string(), k.to_string())))
    {
        return not_evaluated(
            format!("no `{k}` records from `{c}` in this bundle (offline image, or not readable)"),
            Message::new("coverage.not_evaluated.no_records")
                .text("kind", k)
                .text("collector", c),
        );
    }
    if rule.packages && !avail.has_package_db {
        return not_evaluated(
            "no package database in the bundle: package ownership unknown".into(),
            Message::new("coverage.not_evaluated.no_package_db"),
        );
    }
    let reads = rule
        .collectors
        .iter()
        .copied()
        .chain(rule.kinds.iter().map(|(c, _)| *c))
        .chain(rule.packages.then_some("packages"));
    let partial =
        partial_reason(reads, avail.incomplete, avail.messages).map(|(collectors, missing, m)| {
            PartialEvaluation {
                rule: rule.id.into(),
                title: rule.title.into(),
                collectors,
                missing,
                missing_message: Some(m),
            }
        });
    Gate::Evaluate {
        weight,
        severity,
        partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs<'a>(
        collectors: Vec<&'a str>,
        kinds: &'a [(&'a str, &'a str)],
        packages: bool,
    ) -> RuleNeeds<'a> {
        RuleNeeds {
            id: "r",
            title: "R",
            weight: 10,
            severity: Severity::Medium,
            collectors,
            kinds,
            packages,
        }
    }

    #[test]
    fn one_gate_for_every_rule() {
        let collectors: BTreeMap<String, (CollectorStatus, String)> = [
            ("proc".to_string(), (CollectorStatus::Ok, String::new())),
            (
                "kernel".to_string(),
                (CollectorStatus::Failed, "boom".to_string()),
            ),
        ]
        .into_iter()
        .collect();
        let kinds: HashSet<(String, String)> = [("proc".to_string(), "process".to_string())]
            .into_iter()
            .collect();
        let incomplete: BTreeMap<String, String> =
            [("proc".to_string(), "1 permission denied".to_string())]
                .into_iter()
                .collect();
        let avail = Available {
            collectors: &collectors,
            kinds: &kinds,
            has_package_db: false,
            incomplete: &incomplete,
            messages: &BTreeMap::new(),
        };
        let mut cfg = AnalysisConfig::default();
        assert!(matches!(
            gate(&needs(vec!["proc"], &[], false), &cfg, &avail),
            Gate::Evaluate {
                weight: 10,
                partial: Some(_),
                ..
            }
        ));
        for (n, why) in [
            (
                needs(vec!["kernel"], &[], false),
                "collector `kernel` failed: boom",
            ),
            (
                needs(vec!["cron"], &[], false),
                "collector `cron` did not run for this bundle",
            ),
            (
                needs(vec![], &[("proc", "socket")], false),
                "no `socket` records",
            ),
            (needs(vec![], &[], true), "no package database"),
        ] {
            match gate(&n, &cfg, &avail) {
                Gate::NotEvaluated(ne) => assert!(ne.reason.starts_with(why), "{}", ne.reason),
                g => panic!("{g:?}"),
            }
        }
        cfg.rules.insert(
            "r".into(),
            crate::RuleSettings {
                enabled: Some(false),
                ..Default::default()
            },
        );
        assert_eq!(
            gate(&needs(vec!["proc"], &[], false), &cfg, &avail),
            Gate::Disabled
        );
    }
}
