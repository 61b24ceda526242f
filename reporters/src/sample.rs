//! Hand-made analyses for the reporters' unit tests.

use dossier_plugin_api::Timestamp;
use dossier_plugin_api::analysis::{
    Evidence, ExecutableSeen, Finding, HostAnalysis, Ioc, PartialEvaluation, RuleHit, Severity,
};

/// One finding of `rule` with its evidence and IOCs.
fn finding(rule: &str, severity: Severity, subject: &str, iocs: Vec<Ioc>) -> Finding {
    Finding {
        rule: rule.into(),
        title: format!("Title of {rule}"),
        mitre: vec!["T1000".into()],
        severity,
        weight: 10,
        explanation: format!("{subject} matched {rule} | with a pipe\nand a newline"),
        subject: subject.into(),
        evidence: vec![Evidence {
            member: "records/cron.jsonl".into(),
            sha256: "ab".repeat(32),
            line: Some(3),
            what: format!("entry {subject}"),
            what_message: None,
        }],
        iocs,
        ..Finding::new("", "", vec![], vec![])
    }
}

/// A host named `hostname` (bundle `bundle`) with one hit of each given severity.
pub fn host(hostname: &str, bundle: &str, severities: &[Severity]) -> HostAnalysis {
    let mut hits = Vec::new();
    let mut findings = Vec::new();
    for (i, &sev) in severities.iter().enumerate() {
        let rule = format!("rule-{}-{i}", sev.label().to_lowercase());
        findings.push(finding(
            &rule,
            sev,
            "/tmp/x",
            vec![
                Ioc::Path("/tmp/x".into()),
                Ioc::Pid(42),
                Ioc::Sha256("cd".repeat(32)),
                Ioc::Unit(format!("{hostname}.service")),
            ],
        ));
        hits.push(RuleHit {
            rule: rule.clone(),
            title: format!("Title of {rule}"),
            mitre: vec!["T1000".into()],
            severity: sev,
            weight: 10,
            findings: 1,
            counted_under: None,
            boost: 0,
            boosted_by: vec![],
        });
    }
    let score = (10 * severities.len() as u32).min(100);
    HostAnalysis {
        hostname: hostname.into(),
        bundle: bundle.into(),
        bundle_sha256: "ef".repeat(32),
        case_id: Some("case \"7\"".into()),
        target: "local".into(),
        collected_started: Timestamp::from_unix(1_795_000_000, 0).unwrap(),
        collected_finished: Timestamp::from_unix(1_795_000_009, 500_000_000).unwrap(),
        playbook: "triage".into(),
        playbook_sha256: "01".repeat(32),
        tool: "dossier 0.1.0".into(),
        os: None,
        kernel: Some("6.1.0".into()),
        score,
        verdict: if score >= 60 {
            "Malicious likely"
        } else if score >= 30 {
            "Suspicious"
        } else {
            "Unclear/Benign"
        }
        .into(),
        hits,
        findings,
        context: vec![],
        partial: vec![],
        not_evaluated: vec![],
        executables: vec![ExecutableSeen {
            path: "/tmp/x".into(),
            sha256: Some("cd".repeat(32)),
            referenced_by: vec!["process 42".into()],
            referenced_by_messages: vec![],
            member: None,
            packaged: false,
        }],
        listeners: vec![],
        gaps: vec![],
        record_errors: vec!["records/proc.jsonl line 9: bad".into()],
        plugins: vec![],
        policy: Default::default(),
    }
}

/// `rule` evaluated with `/etc/shadow` unreadable.
pub fn partial(rule: &str) -> PartialEvaluation {
    PartialEvaluation {
        rule: rule.into(),
        title: format!("Title of {rule}"),
        collectors: vec!["accounts".into()],
        missing: "accounts: 1 permission denied: /etc/shadow".into(),
        missing_message: None,
    }
}
