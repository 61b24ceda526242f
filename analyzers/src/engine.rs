//! The rule engine: runs every enabled rule over one bundle's records, sorts their findings
//! into behaviour and context, and scores the host ([`crate::scoring`]: behaviour rules count
//! once, one observation counts once, context only boosts behaviour on the same subject; capped
//! at 100) and gives the verdict.

use crate::context::Ctx;
use crate::gating::{Available, Gate, RuleNeeds, gate};
use crate::rules::{CATALOG, RuleInfo};
use dossier_plugin_api::CollectorStatus;
use dossier_plugin_api::analysis::{Class, CollectorGap, Finding, HostAnalysis, Severity};

pub use crate::config::{AnalysisConfig, RuleSettings};
pub use crate::input::{BundleInput, Header, MemberReader};
pub use crate::scoring::rescore;

/// Playbook settings that need the catalogue of built-in rules.
impl AnalysisConfig {
    /// Checks rule ids (built-in ones and `extra`, the rules of loaded analyzer plugins) and
    /// values; the message names the offending key.
    pub fn validate(&self, extra: &[String]) -> Result<(), String> {
        for id in self.rules.keys() {
            if !CATALOG.iter().any(|r| r.id == id) && !extra.contains(id) {
                return Err(format!("rules.{id}: unknown rule (see `dossier rules`)"));
            }
        }
        if self.thresholds.suspicious > self.thresholds.malicious {
            return Err("thresholds: suspicious must not exceed malicious".into());
        }
        if self.keywords.iter().any(String::is_empty) {
            return Err("keywords: empty keyword".into());
        }
        crate::policy::validate(self, &|r| {
            CATALOG.iter().any(|c| c.id == r) || extra.iter().any(|e| e == r)
        })
    }

    /// Effective weight, severity and enablement of a rule.
    pub fn effective(&self, r: &RuleInfo) -> (bool, u32, Severity) {
        self.effective_for(r.id, r.weight, r.severity)
    }
}

/// Questions about a rule that need the whole catalogue or the gate (kept here, above both, so
/// that the `RuleInfo` type does not depend on the catalogue built from it).
impl RuleInfo {
    /// The other built-in rules that report facts of a kind this rule reports too (one
    /// observation counts once, under the strongest of them).
    pub fn shares_with(&self) -> Vec<&'static str> {
        CATALOG
            .iter()
            .filter(|r| r.id != self.id && r.shares.iter().any(|k| self.shares.contains(k)))
            .map(|r| r.id)
            .collect()
    }

    /// What the rule needs, for the gate.
    pub fn needs(&self) -> RuleNeeds<'static> {
        RuleNeeds {
            id: self.id,
            title: self.title,
            weight: self.weight,
            severity: self.severity,
            collectors: self.needs.to_vec(),
            kinds: self.needs_kinds,
            packages: self.needs_packages,
        }
    }
}

/// The collectors that did not fully succeed, with their details.
fn gaps(input: &BundleInput<'_>) -> Vec<CollectorGap> {
    input
        .collectors
        .iter()
        .filter(|(_, (status, _))| *status != CollectorStatus::Ok)
        .map(|(c, (status, detail))| CollectorGap {
            collector: c.clone(),
            status: *status,
            detail: detail.clone(),
            detail_message: input.health.get(c).and_then(|h| h.detail.clone()),
        })
        .collect()
}

/// The analysis of `records` (every collector `ok`, no member readable) with the default
/// configuration: the tests' shorthand (here rather than in `testkit`, which `analyze` uses).
#[cfg(test)]
pub(crate) fn analyze_records(
    records: std::collections::BTreeMap<String, Vec<(usize, serde_json::Value)>>,
) -> HostAnalysis {
    let mut read = |_: &str, _: u64| Err("none".to_string());
    let mut inp = crate::testkit::input(records, &mut read);
    analyze(&mut inp, &AnalysisConfig::default())
}

/// Analyzes one bundle.
pub fn analyze(input: &mut BundleInput<'_>, cfg: &AnalysisConfig) -> HostAnalysis {
    let ctx = Ctx::new(input);
    let mut findings: Vec<Finding> = Vec::new();
    let mut context: Vec<Finding> = Vec::new();
    let mut not_evaluated = Vec::new();
    let mut partial = Vec::new();
    for rule in CATALOG {
        let avail = Available {
            collectors: &input.collectors,
            kinds: ctx.kinds(),
            has_package_db: ctx.has_package_db,
            incomplete: &input.incomplete,
            messages: &input.health,
        };
        let (weight, severity) = match gate(&rule.needs(), cfg, &avail) {
            Gate::Disabled => continue,
            Gate::NotEvaluated(n) => {
                not_evaluated.push(n);
                continue;
            }
            Gate::Evaluate {
                weight,
                severity,
                partial: p,
            } => {
                partial.extend(p);
                (weight, severity)
            }
        };
        let mut found = (rule.run)(&ctx, cfg, input);
        if found.is_empty() {
            continue;
        }
        found.sort_by(|a, b| {
            a.subject
                .cmp(&b.subject)
                .then(a.explanation.cmp(&b.explanation))
        });
        found.dedup_by(|a, b| a.subject == b.subject && a.explanation == b.explanation);
        for mut f in found {
            f.rule = rule.id.into();
            f.title = rule.title.into();
            f.mitre = rule.mitre.iter().map(|s| s.to_string()).collect();
            f.severity = severity;
            f.weight = weight;
            if rule.class == Class::Context {
                f.class = Class::Context;
            }
            match f.class {
                Class::Behaviour => findings.push(f),
                Class::Context => context.push(f),
            }
        }
    }
    // A process a responder suspended is still evidence: said, not hidden or discounted.
    crate::suspended::note(ctx.procs.iter().map(|p| &p.rec), &mut findings);
    crate::suspended::note(ctx.procs.iter().map(|p| &p.rec), &mut context);
    // Every analysis the tests run checks the findings' catalogue messages (issue 18).
    #[cfg(test)]
    for found in [&findings, &context] {
        if let Err(e) = crate::testkit::check_messages(found) {
            panic!("{e}");
        }
    }
    let gaps = gaps(input);
    let h = &input.header;
    let mut a = HostAnalysis {
        hostname: h.hostname.clone(),
        bundle: h.bundle.clone(),
        bundle_sha256: h.bundle_sha256.clone(),
        case_id: h.case_id.clone(),
        target: h.target.clone(),
        collected_started: h.started,
        collected_finished: h.finished,
        playbook: h.playbook.clone(),
        playbook_sha256: h.playbook_sha256.clone(),
        tool: h.tool.clone(),
        os: h.os.clone(),
        kernel: h.kernel.clone(),
        score: 0,
        verdict: String::new(),
        hits: vec![],
        findings,
        context,
        not_evaluated,
        partial,
        executables: ctx.executables(),
        listeners: ctx.listeners(),
        gaps,
        record_errors: input.record_errors.clone(),
        plugins: Vec::new(),
        policy: Default::default(),
    };
    rescore(&mut a, cfg);
    #[cfg(test)]
    if let Err(e) = crate::testkit::check_coverage_messages(&a) {
        panic!("{e}");
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completeness;
    use crate::testkit::{input, proc};

    use serde_json::json;

    #[test]
    fn live_process_and_socket_rules() {
        let procs = vec![
            (
                1,
                proc(
                    10,
                    "kworker/0:1",
                    &["[kworker/0:1]"],
                    "/tmp/.x/kw",
                    json!({}),
                ),
            ),
            (
                2,
                proc(
                    11,
                    "gone",
                    &["/opt/gone"],
                    "/opt/gone",
                    json!({"exe_deleted": true}),
                ),
            ),
            (
                3,
                proc(
                    12,
                    "app",
                    &["/usr/bin/app"],
                    "/usr/bin/app",
                    json!({"ld_preload": "/lib/libhide.so"}),
                ),
            ),
            (
                4,
                proc(
                    13,
                    "sshd",
                    &["sshd: alice [priv]"],
                    "/usr/sbin/sshd",
                    json!({}),
                ),
            ),
            (5, proc(14, "bash", &["-bash"], "/usr/bin/bash", json!({}))),
        ];
        let src = json!({"path": "/proc/net/tcp"});
        let sockets = vec![
            (
                1,
                json!({"kind": "socket", "protocol": "tcp", "local_addr": "0.0.0.0", "local_port": 4444, "remote_addr": "0.0.0.0", "remote_port": 0, "state": "LISTEN", "listening": true, "inode": 1, "uid": 0, "pids": [20], "processes": ["bash"], "source": src}),
            ),
            (
                2,
                json!({"kind": "socket", "protocol": "tcp", "local_addr": "10.0.0.5", "local_port": 50000, "remote_addr": "203.0.113.9", "remote_port": 3333, "state": "ESTABLISHED", "listening": false, "inode": 2, "uid": 0, "pids": [10], "processes": ["kworker/0:1"], "source": src}),
            ),
        ];
        let records = [
            ("proc".to_string(), procs),
            ("sockets".to_string(), sockets),
        ]
        .into_iter()
        .collect();
        let mut read = |_: &str, _: u64| Err("no members".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let fired: Vec<&str> = a.hits.iter().map(|h| h.rule.as_str()).collect();
        for r in [
            "process-masquerade",
            "deleted-exe-running",
            "ld-preload-process",
            "interpreter-listening",
            "suspicious-port",
            "exec-unusual-path",
        ] {
            assert!(fired.contains(&r), "{r} not in {fired:?}");
        }
        let masq: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.rule == "process-masquerade")
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(
            masq,
            ["pid 10"],
            "sshd titles and login shells are not masquerades"
        );
        // Packages never ran: ownership rules are not evaluated, not clean.
        assert!(a.not_evaluated.iter().any(|n| n.rule == "exec-unowned"));
        assert_eq!(a.verdict, "Malicious likely");
        assert_eq!(a.score, 100);
        let ev = &a
            .findings
            .iter()
            .find(|f| f.rule == "deleted-exe-running")
            .unwrap()
            .evidence[0];
        assert_eq!(
            (ev.member.as_str(), ev.line),
            ("records/proc.jsonl", Some(2))
        );
    }

    #[test]
    fn weights_and_thresholds_come_from_the_config() {
        let procs = vec![(
            1,
            proc(
                11,
                "gone",
                &["/opt/gone"],
                "/opt/gone",
                json!({"exe_deleted": true}),
            ),
        )];
        let records = [("proc".to_string(), procs)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let mut cfg = AnalysisConfig::default();
        cfg.rules.insert(
            "deleted-exe-running".into(),
            RuleSettings {
                weight: Some(35),
                ..Default::default()
            },
        );
        let a = analyze(&mut inp, &cfg);
        assert_eq!((a.score, a.verdict.as_str()), (35, "Suspicious"));
        cfg.rules.insert(
            "deleted-exe-running".into(),
            RuleSettings {
                enabled: Some(false),
                ..Default::default()
            },
        );
        let a = analyze(&mut inp, &cfg);
        assert_eq!((a.score, a.verdict.as_str()), (0, "Unclear/Benign"));
    }

    /// Analysis of one `accounts` record with the collector in this state.
    fn accounts_with(
        status: CollectorStatus,
        issues: &[dossier_plugin_api::collect::Issue],
    ) -> HostAnalysis {
        let recs = vec![(
            1,
            json!({"kind": "account", "name": "daemon", "uid": 1, "gid": 1, "home": "/", "shell": "/usr/sbin/nologin", "shell_listed": false, "password": "unknown", "line": 1, "source": {"path": "/etc/passwd"}}),
        )];
        let records = [("accounts".to_string(), recs)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let h = completeness::health(status, None, issues);
        inp.collectors.insert("accounts".into(), (status, h.detail));
        inp.health.insert("accounts".into(), h.messages);
        if let Some(why) = h.incomplete {
            inp.incomplete.insert("accounts".into(), why);
        }
        analyze(&mut inp, &AnalysisConfig::default())
    }

    #[test]
    fn rules_on_a_partial_collector_are_listed_as_partial() {
        use dossier_plugin_api::collect::{Issue, IssueKind};
        use dossier_plugin_api::host::HostErrorKind;
        let issue = |subject: &str, kind| Issue {
            subject: subject.into(),
            kind,
            message: "m".into(),
        };
        let denied = IssueKind::Error(HostErrorKind::PermissionDenied);
        let a = accounts_with(
            CollectorStatus::Partial,
            &[
                issue("/etc/shadow", denied),
                issue("/etc/sudoers.d/ops", denied),
                issue(
                    "/etc/sudoers.d/x",
                    IssueKind::Error(HostErrorKind::NotFound),
                ),
            ],
        );
        let partial: Vec<&str> = a.partial.iter().map(|p| p.rule.as_str()).collect();
        // Every evaluated rule reading `accounts`, in catalog order, and no other.
        let expected: Vec<&str> = CATALOG
            .iter()
            .filter(|r| r.needs.contains(&"accounts"))
            .filter(|r| !a.not_evaluated.iter().any(|n| n.rule == r.id))
            .map(|r| r.id)
            .collect();
        assert!(partial.contains(&"system-account-usable"), "{partial:?}");
        assert!(partial.contains(&"sudo-nopasswd-all"), "{partial:?}");
        assert_eq!(partial, expected);
        let p = &a.partial[0];
        assert_eq!(p.collectors, ["accounts"]);
        assert_eq!(
            p.missing,
            "accounts: 2 permission denied: /etc/shadow, /etc/sudoers.d/ops"
        );
        // The gap lists every issue, churn included, by kind.
        let gap = a.gaps.iter().find(|g| g.collector == "accounts").unwrap();
        assert_eq!(
            gap.detail,
            "1 not found: /etc/sudoers.d/x; 2 permission denied: /etc/shadow, /etc/sudoers.d/ops"
        );
        // The score still comes from hits only.
        assert_eq!(a.score, 0);
        assert_eq!(a.verdict, "Unclear/Benign");
    }

    #[test]
    fn rules_on_complete_data_or_mere_churn_are_not_partial() {
        use dossier_plugin_api::collect::{Issue, IssueKind};
        use dossier_plugin_api::host::HostErrorKind;
        let a = accounts_with(CollectorStatus::Ok, &[]);
        assert!(a.partial.is_empty(), "{:?}", a.partial);
        assert!(a.gaps.is_empty());
        // A file removed between listing and reading is churn: nothing left to see.
        let a = accounts_with(
            CollectorStatus::Partial,
            &[Issue {
                subject: "/etc/sudoers.d/tmp".into(),
                kind: IssueKind::Error(HostErrorKind::NotFound),
                message: "gone".into(),
            }],
        );
        assert!(a.partial.is_empty(), "{:?}", a.partial);
        assert_eq!(a.gaps.len(), 1);
        // Analyses without the field (older findings.json, spools) still read, as "none".
        let mut v = serde_json::to_value(&a).unwrap();
        assert!(v.get("partial").is_none());
        v.as_object_mut().unwrap().remove("partial");
        let back: HostAnalysis = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn the_collecting_process_is_not_judged() {
        let proc_rec = |pid: u32, own: bool| {
            let mut v = json!({"kind": "process", "pid": pid, "ppid": 1, "state": "S", "comm": "dossier", "argv": ["/tmp/.x/dossier", "collect"], "uid": 0, "euid": 0, "gid": 0, "egid": 0, "kernel_thread": false, "start_ticks": 1, "threads": 1, "exe": "/tmp/.x/dossier"});
            if own {
                v["collector_self"] = json!(true);
            }
            (pid as usize, v)
        };
        for (own, judged) in [(true, false), (false, true)] {
            let records = [("proc".to_string(), vec![proc_rec(4242, own)])]
                .into_iter()
                .collect();
            let a = analyze_records(records);
            let fired = a.findings.iter().any(|f| f.rule == "exec-unusual-path");
            assert_eq!(fired, judged, "collector_self {own}: {:?}", a.findings);
            assert_eq!(a.executables.is_empty(), own);
        }
    }
}
