//! Tests of the ECS documents, checked against the vendored ECS field definitions.

use super::*;
use crate::Analyses;
use dossier_plugin_api::analysis::{Evidence, ExecutableSeen, Finding, HostAnalysis};
use serde_json::json;

#[path = "../../../tests/src/ecs_schema.rs"]
mod ecs_schema;

fn finding(rule: &str, mitre: &[&str], sev: Severity, subject: &str, iocs: Vec<Ioc>) -> Finding {
    let mut f = Finding::new(
        subject,
        format!("{subject} does something ({rule})"),
        vec![Evidence {
            member: "records/proc.jsonl".into(),
            sha256: "ab".repeat(32),
            line: Some(3),
            what: format!("process {subject}"),
            what_message: None,
        }],
        iocs,
    );
    f.rule = rule.into();
    f.title = format!("Title of {rule}");
    f.mitre = mitre.iter().map(|m| m.to_string()).collect();
    f.severity = sev;
    f.weight = 10;
    f
}

const HASH: &str = "b904a02bfbae3d692f6f2bd4a64170aff4fd7b7e7b92fed5293af10f6218e794";

/// A host with a finding of every IOC shape: a process with a reverse shell (PID, path,
/// address, port), a cron entry (path, command, hash), a unit, a login (address, account), an
/// informational finding, and context linked and unlinked.
pub(crate) fn sample_host() -> HostAnalysis {
    let ts = |s| Timestamp::parse(s).unwrap();
    let shell = finding(
        "reverse-shell",
        &["T1059.004"],
        Severity::Critical,
        "pid 812",
        vec![
            Ioc::Pid(812),
            Ioc::Path("/tmp/.x/syncd".into()),
            Ioc::Address("203.0.113.45".into()),
            Ioc::Port(4444),
        ],
    );
    let cron = finding(
        "root-cron-reboot",
        &["T1053.003"],
        Severity::High,
        "/etc/cron.d/syncd:1",
        vec![
            Ioc::Path("/tmp/.x/syncd".into()),
            Ioc::CronCommand("/tmp/.x/syncd >/dev/null 2>&1".into()),
            Ioc::Sha256(HASH.into()),
        ],
    );
    let unit = finding(
        "unit-name-mismatch",
        &["T1036.004", "T1543.002"],
        Severity::Medium,
        "syncd.service",
        vec![
            Ioc::Unit("syncd.service".into()),
            Ioc::Path("/tmp/.x/syncd".into()),
        ],
    );
    let login = finding(
        "login-from-new-source",
        &["T1078"],
        Severity::Low,
        "deploy",
        vec![
            Ioc::Address("2001:db8::7".into()),
            Ioc::Account("deploy".into()),
        ],
    );
    let info = finding("uptime-short", &[], Severity::Info, "boot", vec![]);
    let mut linked = finding(
        "exec-unowned",
        &["T1105"],
        Severity::Medium,
        "/tmp/.x/syncd",
        vec![Ioc::Path("/tmp/.x/syncd".into())],
    )
    .context();
    linked.linked_to = vec!["reverse-shell".into()];
    let alone = finding(
        "exec-unowned",
        &["T1105"],
        Severity::Medium,
        "/opt/tool",
        vec![Ioc::Path("/opt/tool".into())],
    )
    .context();
    HostAnalysis {
        hostname: "web1".into(),
        bundle: "web1-20261120T021500Z.zip".into(),
        bundle_sha256: "cd".repeat(32),
        case_id: Some("IR-7".into()),
        target: "local".into(),
        collected_started: ts("2026-11-20T02:15:00Z"),
        collected_finished: ts("2026-11-20T02:15:09.5Z"),
        playbook: "triage".into(),
        playbook_sha256: "ef".repeat(32),
        tool: "dossier 0.1.0 (test)".into(),
        os: Some("Debian GNU/Linux 12 (bookworm)".into()),
        kernel: Some("6.1.0-27-amd64".into()),
        score: 100,
        verdict: "Malicious likely".into(),
        hits: vec![],
        findings: vec![shell, cron, unit, login, info],
        context: vec![linked, alone],
        not_evaluated: vec![],
        partial: vec![],
        executables: vec![ExecutableSeen {
            path: "/tmp/.x/syncd".into(),
            sha256: Some(HASH.into()),
            referenced_by: vec!["process 812".into()],
            referenced_by_messages: vec![],
            member: Some("raw/tmp/.x/syncd".into()),
            packaged: false,
        }],
        listeners: vec![],
        gaps: vec![],
        record_errors: vec![],
        plugins: vec![],
        policy: Default::default(),
    }
}

fn sample() -> Analyses {
    Analyses {
        hosts: vec![sample_host()],
        fleet: vec![FleetFinding {
            rule: "fleet-shared-key".into(),
            title: "One SSH key on many hosts".into(),
            mitre: vec!["T1098.004".into()],
            severity: Severity::High,
            subject: "SHA256:abc".into(),
            explanation: "the same authorized key on web1 and db1".into(),
            hosts: vec!["web1".into(), "db1".into()],
            evidence: vec![],
        }],
        events: vec![
            crate::events::parse(crate::events::tests::sample_report().to_string().as_bytes())
                .unwrap(),
        ],
    }
}

fn schema() -> ecs_schema::Schema {
    ecs_schema::Schema::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

#[test]
fn every_document_conforms_to_the_ecs_field_definitions() {
    let s = schema();
    assert_eq!(
        s.ecs_version, ECS_VERSION,
        "ecs.version is the vendored release"
    );
    assert_eq!(s.commit.len(), 40, "the vendored file names its ECS commit");
    let docs = documents(&sample());
    // 5 findings + 1 linked context + 1 fleet finding + 2 alerts of imported events; context
    // standing alone is no alert.
    assert_eq!(docs.len(), 9);
    for d in &docs {
        assert_eq!(s.check(d), Vec::<String>::new(), "{d:#}");
    }
}

#[test]
fn a_process_finding_maps_to_process_network_and_threat_fields() {
    let docs = documents(&sample());
    let d = &docs[0];
    let f = |n: &str| field(d, n).cloned().unwrap_or(Value::Null);
    assert_eq!(f("@timestamp"), "2026-11-20T02:15:09.500Z");
    assert_eq!(f("event.kind"), "alert");
    assert_eq!(
        f("event.category"),
        json!(["intrusion_detection", "process", "file", "network"])
    );
    assert_eq!(f("event.severity"), 99);
    assert_eq!(f("process.pid"), 812);
    assert_eq!(f("process.executable"), "/tmp/.x/syncd");
    assert_eq!(f("process.name"), "syncd");
    assert_eq!(f("process.hash.sha256"), HASH);
    assert_eq!(f("file"), Value::Null, "a process finding has no file.*");
    assert_eq!(f("destination.port"), 4444);
    assert_eq!(f("related.ip"), json!(["203.0.113.45"]));
    assert_eq!(f("host.name"), "web1");
    assert_eq!(f("host.os.kernel"), "6.1.0-27-amd64");
    assert_eq!(f("threat.framework"), "MITRE ATT&CK");
    assert_eq!(f("threat.technique.id"), json!(["T1059"]));
    assert_eq!(
        f("threat.technique.name"),
        json!(["Command and Scripting Interpreter"])
    );
    assert_eq!(f("threat.technique.subtechnique.id"), json!(["T1059.004"]));
    assert_eq!(
        f("threat.technique.subtechnique.name"),
        json!(["Unix Shell"])
    );
    assert_eq!(
        f("threat.technique.subtechnique.reference"),
        json!(["https://attack.mitre.org/techniques/T1059/004/"])
    );
    assert_eq!(f("threat.tactic.id"), json!(["TA0002"]));
    assert_eq!(f("threat.tactic.name"), json!(["Execution"]));
    assert_eq!(f("rule.id"), "reverse-shell");
    assert_eq!(f("labels.dossier_case"), "IR-7");
    // The finding itself, evidence included, is the original event.
    let original: Finding = serde_json::from_str(f("event.original").as_str().unwrap()).unwrap();
    assert_eq!(original, sample_host().findings[0]);
}

#[test]
fn file_cron_unit_login_and_context_fields() {
    let docs = documents(&sample());
    let f = |i: usize, n: &str| field(&docs[i], n).cloned().unwrap_or(Value::Null);
    assert_eq!(f(1, "file.path"), "/tmp/.x/syncd");
    assert_eq!(f(1, "file.name"), "syncd");
    assert_eq!(f(1, "file.directory"), "/tmp/.x");
    assert_eq!(f(1, "file.hash.sha256"), HASH);
    assert_eq!(
        f(1, "process.command_line"),
        "/tmp/.x/syncd >/dev/null 2>&1"
    );
    assert_eq!(f(1, "related.hash"), json!([HASH]));
    // Each value once, however often the finding names it.
    let mut twice = sample_host();
    twice.findings[1].iocs.push(Ioc::Sha256(HASH.into()));
    let one = Analyses {
        hosts: vec![twice],
        ..Analyses::default()
    };
    assert_eq!(
        field(&documents(&one)[1], "related.hash").unwrap(),
        &json!([HASH])
    );
    assert_eq!(
        f(1, "threat.tactic.id"),
        json!(["TA0002", "TA0003", "TA0004"])
    );
    // The unit: its file's hash from what the analysis saw of the executable.
    assert_eq!(f(2, "labels.dossier_unit"), "syncd.service");
    assert_eq!(f(2, "file.hash.sha256"), HASH);
    assert_eq!(f(2, "threat.technique.id"), json!(["T1036", "T1543"]));
    assert_eq!(f(3, "user.name"), "deploy");
    assert_eq!(f(3, "related.ip"), json!(["2001:db8::7"]));
    assert_eq!(
        f(3, "event.category"),
        json!(["intrusion_detection", "network", "iam"])
    );
    assert_eq!(f(4, "event.severity"), 1);
    assert_eq!(f(4, "threat"), Value::Null, "no technique, no threat.*");
    assert_eq!(f(5, "rule.category"), "context");
    assert_eq!(f(5, "tags"), json!(["dossier", "context"]));
    assert_eq!(f(6, "event.dataset"), "dossier.fleet_finding");
    assert_eq!(f(6, "related.hosts"), json!(["db1", "web1"]));
    assert_eq!(f(6, "@timestamp"), "2026-11-20T02:15:09.500Z");
}

#[test]
fn ndjson_is_one_line_per_document_and_deterministic() {
    let a = sample();
    let text = ndjson(&a);
    assert_eq!(text.lines().count(), 9);
    assert!(text.ends_with('\n'));
    assert_eq!(text, ndjson(&a.clone()));
    let ids: std::collections::BTreeSet<String> = documents(&a)
        .iter()
        .map(|d| field(d, "event.id").unwrap().as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 9, "event ids are distinct");
    assert!(ndjson(&Analyses::default()).is_empty());
}
