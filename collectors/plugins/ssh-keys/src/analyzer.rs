//! The `ssh-keys` analyzer: what is odd about the authorized keys of a host, and of a fleet.
//!
//! Host rules (each finding points at the key's record line and the raw copy of its file):
//! - `ssh-key-root`: a key that logs in as root;
//! - `ssh-key-system-account`: a key on a service account (uid 1-999 or 65534), which no
//!   person should log in as;
//! - `ssh-key-forced-command`: a key with `command=`, which runs that command at every login
//!   (used by backups, and by backdoors that re-install themselves);
//! - `ssh-key-source-restriction`: a key with `from=` (a pinned source address is worth
//!   checking against the known administration networks).
//!
//! Fleet rule `ssh-key-fleet-outlier`: among the hosts whose keys were collected (at least
//! two), a key present on some but at most half of them. Administrators' keys are usually
//! deployed everywhere; an attacker's key is on the hosts the attacker reached.

use crate::NAME;
use crate::collector::KeyRecord;
use dossier_plugin_api::analysis::{Evidence, Finding, Ioc, Severity};
use dossier_plugin_api::analyzer::{
    AnalysisInput, AnalyzeError, Analyzer, AnalyzerInfo, FleetEvidence, FleetFacts, FleetFinding,
    HostFindings, MemberReader, RuleDescriptor, RuleScope,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The analyzer (see the module documentation).
#[derive(Debug, Default)]
pub struct SshKeysAnalyzer;

const MITRE: &str = "T1098.004";

fn rule(
    id: &str,
    title: &str,
    severity: Severity,
    weight: u32,
    scope: RuleScope,
    doc: &str,
) -> RuleDescriptor {
    RuleDescriptor {
        id: id.into(),
        title: title.into(),
        mitre: vec![MITRE.into()],
        severity,
        weight,
        needs: vec![NAME.into()],
        scope,
        doc: doc.into(),
    }
}

/// One key of one host, as kept for the fleet phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct SeenKey {
    fingerprint: String,
    key_type: String,
    comment: String,
    users: Vec<String>,
    evidence: Evidence,
}

fn label(k: &KeyRecord) -> String {
    let fp = k.fingerprint.as_deref().unwrap_or("(undecodable key)");
    if k.comment.is_empty() {
        format!("{} {fp}", k.key_type)
    } else {
        format!("{} {fp} ({})", k.key_type, k.comment)
    }
}

impl Analyzer for SshKeysAnalyzer {
    fn info(&self) -> AnalyzerInfo {
        AnalyzerInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Authorized SSH keys: root and service accounts, forced commands, source restrictions, fleet outliers".into(),
            reads: vec![NAME.into()],
            rules: vec![
                rule(
                    "ssh-key-root",
                    "Authorized SSH key for root",
                    Severity::Low,
                    5,
                    RuleScope::Host,
                    "An authorized_keys entry lets a key log in as root. FP: hosts administered by root key login (common on appliances and in labs); compare the fingerprints with the administrators' keys.",
                ),
                rule(
                    "ssh-key-system-account",
                    "Authorized SSH key on a service account",
                    Severity::High,
                    20,
                    RuleScope::Host,
                    "A service account (uid 1-999 or 65534: www-data, daemon, nobody...) has an authorized key: attackers add keys to accounts nobody watches. FP: deployment or backup accounts created as system users.",
                ),
                rule(
                    "ssh-key-forced-command",
                    "SSH key with a forced command (command=)",
                    Severity::Medium,
                    15,
                    RuleScope::Host,
                    "An authorized key carries command=\"...\": every login with it runs that command, which can re-install a backdoor or open a tunnel. FP: backup (rsync/borg) and git hosting keys restricted to one command.",
                ),
                rule(
                    "ssh-key-source-restriction",
                    "SSH key restricted to source addresses (from=)",
                    Severity::Low,
                    5,
                    RuleScope::Host,
                    "An authorized key carries from=\"...\": check that the addresses are the administration networks. FP: hardening that pins keys to bastion hosts.",
                ),
                rule(
                    "ssh-key-fleet-outlier",
                    "SSH key present on only part of the fleet",
                    Severity::Medium,
                    0,
                    RuleScope::Fleet,
                    "Among the hosts whose keys were collected (two or more), a key is authorized on some but at most half of them: administrators' keys are usually deployed everywhere, an intruder's key on the hosts it reached. FP: per-team or per-host keys; small fleets.",
                ),
            ],
        }
    }

    fn analyze(
        &self,
        input: &AnalysisInput,
        _members: &mut dyn MemberReader,
    ) -> Result<HostFindings, AnalyzeError> {
        let mut findings = Vec::new();
        let mut seen: BTreeMap<String, SeenKey> = BTreeMap::new();
        for r in input.of_kind(NAME, "authorized_key") {
            let mut v = r.record.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("kind");
            }
            let k: KeyRecord = serde_json::from_value(v)
                .map_err(|e| AnalyzeError(format!("records/{NAME}.jsonl line {}: {e}", r.line)))?;
            let what = format!("{} line {}: {}", k.file, k.line, label(&k));
            let mut evidence = vec![input.record_evidence(NAME, r.line, &what)];
            if let (Some(m), Some(sha)) = (&k.source.member, &k.source.sha256) {
                evidence.push(Evidence {
                    member: m.clone(),
                    sha256: sha.clone(),
                    line: Some(k.line),
                    what: format!("{} as collected", k.file),
                    what_message: None,
                });
            }
            let subject = format!("{}: {}", k.user, label(&k));
            let mut find = |rule: &str, explanation: String| {
                findings.push(Finding {
                    rule: rule.into(),
                    title: String::new(),
                    mitre: vec![],
                    severity: Severity::Info,
                    weight: 0,
                    explanation,
                    subject: subject.clone(),
                    evidence: evidence.clone(),
                    iocs: vec![Ioc::Path(k.file.clone())],
                    ..Finding::new("", "", vec![], vec![])
                });
            };
            if k.uid == 0 {
                find(
                    "ssh-key-root",
                    format!("{} lets {} log in as {} (uid 0)", k.file, label(&k), k.user),
                );
            } else if k.system_account {
                find(
                    "ssh-key-system-account",
                    format!(
                        "{} lets {} log in as service account {} (uid {})",
                        k.file,
                        label(&k),
                        k.user,
                        k.uid
                    ),
                );
            }
            if let Some(cmd) = &k.command {
                find(
                    "ssh-key-forced-command",
                    format!(
                        "{} of {} forces the command \"{cmd}\" at every login",
                        label(&k),
                        k.user
                    ),
                );
            }
            if let Some(from) = &k.from {
                find(
                    "ssh-key-source-restriction",
                    format!("{} of {} is accepted only from {from}", label(&k), k.user),
                );
            }
            if let Some(fp) = &k.fingerprint {
                let e = seen.entry(fp.clone()).or_insert_with(|| SeenKey {
                    fingerprint: fp.clone(),
                    key_type: k.key_type.clone(),
                    comment: k.comment.clone(),
                    users: Vec::new(),
                    evidence: evidence[0].clone(),
                });
                if !e.users.contains(&k.user) {
                    e.users.push(k.user.clone());
                }
            }
        }
        let facts: Vec<SeenKey> = seen.into_values().collect();
        Ok(HostFindings {
            findings,
            not_evaluated: vec![],
            fleet_facts: Some(
                serde_json::to_value(facts).map_err(|e| AnalyzeError(e.to_string()))?,
            ),
        })
    }

    fn fleet(&self, hosts: &[FleetFacts]) -> Result<Vec<FleetFinding>, AnalyzeError> {
        let n = hosts.len();
        if n < 2 {
            return Ok(Vec::new());
        }
        let mut by_key: BTreeMap<String, Vec<(&FleetFacts, SeenKey)>> = BTreeMap::new();
        for h in hosts {
            let keys: Vec<SeenKey> = serde_json::from_value(h.facts.clone())
                .map_err(|e| AnalyzeError(format!("fleet facts of {}: {e}", h.hostname)))?;
            for k in keys {
                by_key
                    .entry(k.fingerprint.clone())
                    .or_default()
                    .push((h, k));
            }
        }
        let mut out = Vec::new();
        for (fp, on) in by_key {
            if on.len() * 2 > n {
                continue;
            }
            let first = &on[0].1;
            let what = if first.comment.is_empty() {
                format!("{} {fp}", first.key_type)
            } else {
                format!("{} {fp} ({})", first.key_type, first.comment)
            };
            let hosts_on: Vec<String> = on.iter().map(|(h, _)| h.hostname.clone()).collect();
            let accounts: Vec<String> = on
                .iter()
                .map(|(h, k)| format!("{} on {}", k.users.join(","), h.hostname))
                .collect();
            out.push(FleetFinding {
                rule: "ssh-key-fleet-outlier".into(),
                title: String::new(),
                mitre: vec![],
                severity: Severity::Info,
                subject: what.clone(),
                explanation: format!(
                    "key {what} is authorized on {} of the {n} hosts whose keys were collected ({}): a key present on only part of the fleet was not deployed with the others",
                    on.len(),
                    accounts.join("; ")
                ),
                hosts: hosts_on,
                evidence: on
                    .iter()
                    .map(|(h, k)| FleetEvidence {
                        hostname: h.hostname.clone(),
                        bundle: h.bundle.clone(),
                        evidence: k.evidence.clone(),
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_plugin_api::analyzer::NumberedRecord;

    /// Analysis without bundle members (this analyzer reads records only).
    trait AnalyzeRecords {
        fn analyze_records(&self, input: &AnalysisInput) -> Result<HostFindings, AnalyzeError>;
    }

    impl AnalyzeRecords for SshKeysAnalyzer {
        fn analyze_records(&self, input: &AnalysisInput) -> Result<HostFindings, AnalyzeError> {
            self.analyze(input, &mut BTreeMap::<String, Vec<u8>>::new())
        }
    }

    fn key(user: &str, uid: u32, fp: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({
            "kind": "authorized_key", "user": user, "uid": uid,
            "system_account": (1..1000).contains(&uid), "file": format!("/home/{user}/.ssh/authorized_keys"),
            "line": 1, "key_type": "ssh-ed25519", "fingerprint": fp, "comment": "c",
            "source": {"path": "/x", "member": "raw/x", "sha256": "ab"}
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    fn input(host: &str, keys: Vec<serde_json::Value>) -> AnalysisInput {
        AnalysisInput {
            hostname: host.into(),
            bundle: format!("{host}.zip"),
            bundle_sha256: String::new(),
            target: "local".into(),
            live: false,
            collectors: Default::default(),
            records: [(
                NAME.to_string(),
                keys.into_iter()
                    .enumerate()
                    .map(|(i, record)| NumberedRecord {
                        line: i + 1,
                        record,
                    })
                    .collect(),
            )]
            .into_iter()
            .collect(),
            members: [(format!("records/{NAME}.jsonl"), "cd".repeat(32))]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn host_rules() {
        let a = SshKeysAnalyzer;
        let out = a
            .analyze_records(&input(
                "h",
                vec![
                    key(
                        "root",
                        0,
                        "SHA256:a",
                        serde_json::json!({"command": "/tmp/x"}),
                    ),
                    key(
                        "www-data",
                        33,
                        "SHA256:b",
                        serde_json::json!({"from": "10.0.0.1"}),
                    ),
                    key("alice", 1000, "SHA256:c", serde_json::json!({})),
                ],
            ))
            .unwrap();
        let rules: Vec<&str> = out.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "ssh-key-root",
                "ssh-key-forced-command",
                "ssh-key-system-account",
                "ssh-key-source-restriction"
            ]
        );
        assert_eq!(out.findings[1].evidence[0].sha256, "cd".repeat(32));
        assert_eq!(out.findings[1].evidence[1].member, "raw/x");
        assert!(out.findings[1].explanation.contains("command \"/tmp/x\""));
        assert_eq!(out.fleet_facts.unwrap().as_array().unwrap().len(), 3);
    }

    #[test]
    fn fleet_outliers_are_keys_on_at_most_half_the_hosts() {
        let a = SshKeysAnalyzer;
        let facts = |h: &str, fps: &[&str]| FleetFacts {
            hostname: h.into(),
            bundle: format!("{h}.zip"),
            facts: a
                .analyze_records(&input(
                    h,
                    fps.iter()
                        .map(|fp| key("root", 0, fp, serde_json::json!({})))
                        .collect(),
                ))
                .unwrap()
                .fleet_facts
                .unwrap(),
        };
        let hosts = [
            facts("a", &["SHA256:admin"]),
            facts("b", &["SHA256:admin", "SHA256:evil"]),
            facts("c", &["SHA256:admin"]),
        ];
        let found = a.fleet(&hosts).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].hosts, ["b"]);
        assert!(found[0].subject.contains("SHA256:evil"));
        assert!(found[0].explanation.contains("1 of the 3 hosts"));
        assert_eq!(found[0].evidence[0].bundle, "b.zip");
        assert!(a.fleet(&hosts[..1]).unwrap().is_empty());
    }
}
