//! `dossier export ecs|stix` (issue 18) on the archived miner bundle and on its report
//! directory:
//!
//! - ECS: every document of the NDJSON conforms to the published ECS field definitions
//!   (`tests/data/ecs/`, ECS 9.4.0: each field exists with its type, arrays where ECS
//!   normalizes to arrays, allowed values of `event.kind`/`category`/`type`), one document per
//!   finding (behaviour findings and context linked to them) with the finding's rule, ATT&CK
//!   technique and tactic, host and file; the bundle and its report directory give the same
//!   bytes, in any order, to a file or to stdout.
//! - STIX: the bundle parses with the reference `stix2` library (`allow_custom=False`) and
//!   every pattern passes `stix2-patterns`' validator (`tests/data/stix/validate.py`, run with
//!   `DOSSIER_STIX_PYTHON` or `python3`; CI installs both libraries, elsewhere the check is
//!   skipped with a notice when they are missing), for the miner's IOCs and for addresses,
//!   ports, accounts, MAC addresses and quoted command lines planted in a findings.json; the
//!   validator itself rejects a tampered bundle.
//! - Imported events: the alerts of a report directory's `events.json` (one planted in the
//!   shape `analyze` writes) are ECS documents that conform, and STIX indicators that validate.
//! - A bundle collected now from the miner fixture root: its STIX validates, and the custody
//!   ledger beside it records the export with its SHA-256.
//! - Refusals: a damaged bundle or a folder without findings.json is not exported (exit 1,
//!   the others are), nothing is written when no input is left, `--out DIR` is an error (2).

use dossier_tests::ecs_schema::Schema;
use dossier_tests::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The archived miner bundle (with its sidecar) copied into `dir`.
fn miner_bundle(dir: &Path) -> PathBuf {
    for f in ["esxi-web01-snapshot.zip", "esxi-web01-snapshot.zip.sha256"] {
        std::fs::copy(fixture("bundles").join(f), dir.join(f)).unwrap();
    }
    dir.join("esxi-web01-snapshot.zip")
}

/// `dossier analyze BUNDLE --out DIR`: the report directory.
fn report_dir(cwd: &Path, bundle: &Path) -> PathBuf {
    let rep = cwd.join("rep");
    let o = dossier(
        cwd,
        &[
            "analyze",
            bundle.to_str().unwrap(),
            "--out",
            rep.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    rep
}

/// Runs `dossier export ARGS...`; asserts the exit code.
fn export(cwd: &Path, args: &[&str], code: i32) -> std::process::Output {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    let o = dossier(cwd, &all);
    assert_eq!(
        o.status.code(),
        Some(code),
        "dossier {all:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

fn field<'a>(doc: &'a Value, name: &str) -> &'a Value {
    name.split('.')
        .try_fold(doc, |v, p| v.get(p))
        .unwrap_or(&Value::Null)
}

#[test]
fn ecs_documents_of_a_bundle_and_its_report_conform_to_ecs() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner_bundle(d.path());
    let rep = report_dir(d.path(), &bundle);
    let o = export(d.path(), &["ecs", bundle.to_str().unwrap()], 0);
    let text = stdout(&o);
    assert!(
        stderr(&o).contains("export: standard output (12 ECS 9.4.0 document(s), sha256 "),
        "{}",
        stderr(&o)
    );
    // One document per behaviour finding and per context finding linked to one.
    let findings: Value =
        serde_json::from_slice(&std::fs::read(rep.join("findings.json")).unwrap()).unwrap();
    let host = &findings["hosts"][0];
    let linked = host["context"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("linked_to").is_some())
        .count();
    let expected = host["findings"].as_array().unwrap().len() + linked;
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), expected);
    let schema = Schema::load(&repo_root());
    for doc in &docs {
        assert_eq!(schema.check(doc), Vec::<String>::new(), "{doc:#}");
        assert_eq!(field(doc, "ecs.version"), schema.ecs_version.as_str());
        assert_eq!(field(doc, "event.kind"), "alert");
        assert_eq!(field(doc, "host.name"), "esxi-web01");
        assert_eq!(field(doc, "threat.framework"), "MITRE ATT&CK");
    }
    // The miner binary's finding: file, hash, technique and tactic.
    let miner = docs
        .iter()
        .find(|d| field(d, "rule.id") == "miner-strings" && field(d, "file.path") == "/var/log/log")
        .expect("the miner-strings finding on /var/log/log");
    assert_eq!(
        field(miner, "file.hash.sha256"),
        "10325a0a699b12bc5979044dd6425a6ee644d25bb658473f15567d83ac852b3c"
    );
    assert_eq!(field(miner, "threat.technique.id"), &json!(["T1496"]));
    assert_eq!(
        field(miner, "threat.technique.name"),
        &json!(["Resource Hijacking"])
    );
    assert_eq!(field(miner, "threat.tactic.id"), &json!(["TA0040"]));
    assert_eq!(field(miner, "threat.tactic.name"), &json!(["Impact"]));
    assert_eq!(field(miner, "event.severity"), 73);
    assert_eq!(field(miner, "@timestamp"), "2026-11-23T01:40:44.330Z");
    let cron = docs
        .iter()
        .find(|d| field(d, "rule.id") == "root-cron-reboot")
        .unwrap();
    assert_eq!(
        field(cron, "threat.technique.subtechnique.id"),
        &json!(["T1053.003"])
    );
    assert_eq!(
        field(cron, "process.command_line"),
        "/var/log/log >/dev/null 2>&1"
    );
    // The report directory gives the same bytes, to a file; inputs in any order.
    let out = d.path().join("findings.ndjson");
    let o = export(
        d.path(),
        &["ecs", rep.to_str().unwrap(), "--out", out.to_str().unwrap()],
        0,
    );
    assert!(stdout(&o).contains("(report): 1 host(s)"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    let o = export(
        d.path(),
        &["ecs", rep.to_str().unwrap(), bundle.to_str().unwrap()],
        0,
    );
    assert_eq!(stdout(&o), text, "the same analysis twice is exported once");
}

/// The Python that has `stix2` and `stix2-patterns` (`None`: skipped outside CI).
fn stix_python() -> Option<String> {
    let python = std::env::var("DOSSIER_STIX_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import stix2, stix2patterns"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        skip_or_fail(&format!(
            "{python} cannot import stix2 and stix2patterns (pip install stix2 stix2-patterns, \
             or set DOSSIER_STIX_PYTHON; .ci/run makes a virtual environment with both)"
        ));
        None
    }
}

/// Runs the reference validators on a bundle file: its summary, or the errors.
fn validate(python: &str, file: &Path) -> Result<Value, String> {
    let o = Command::new(python)
        .arg(repo_root().join("tests/data/stix/validate.py"))
        .arg(file)
        .output()
        .expect("run python");
    if o.status.success() {
        Ok(serde_json::from_slice(&o.stdout).expect("summary JSON"))
    } else {
        Err(format!("{}{}", stdout(&o), stderr(&o)))
    }
}

#[test]
fn stix_bundle_of_the_miner_validates_with_the_reference_library() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner_bundle(d.path());
    let out = d.path().join("iocs.stix.json");
    let o = export(
        d.path(),
        &[
            "stix",
            bundle.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        0,
    );
    assert!(
        stdout(&o).contains("STIX 2.1 bundle, 7 indicator(s)"),
        "{}",
        stdout(&o)
    );
    let b: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let patterns: Vec<&str> = b["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "indicator")
        .map(|o| o["pattern"].as_str().unwrap())
        .collect();
    for p in [
        "[file:hashes.'SHA-256' = '10325a0a699b12bc5979044dd6425a6ee644d25bb658473f15567d83ac852b3c']",
        "[file:name = 'log' AND file:parent_directory_ref.path = '/var/log']",
        "[process:command_line = '/var/log/log >/dev/null 2>&1']",
    ] {
        assert!(patterns.contains(&p), "{p} not in {patterns:#?}");
    }
    // No packaged, verified executable is an indicator (/bin/kill runs ssh.service's ExecReload).
    assert!(
        !patterns.iter().any(|p| p.contains("'kill'")),
        "{patterns:#?}"
    );
    let ind = b["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"] == "indicator")
        .unwrap();
    assert_eq!(ind["valid_from"], "2026-11-23T01:40:44.318Z");
    // The same bundle gives the same STIX (deterministic ids), to stdout too.
    let o = export(d.path(), &["stix", bundle.to_str().unwrap()], 0);
    assert_eq!(o.stdout, std::fs::read(&out).unwrap());
    let Some(python) = stix_python() else {
        return;
    };
    let summary = validate(&python, &out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["types"]["indicator"], 7, "{summary}");
    assert_eq!(summary["types"]["identity"], 1, "{summary}");
    // The validators are not vacuous: a custom property and a broken pattern are caught.
    let mut bad = b.clone();
    bad["objects"][0]["x_dossier"] = json!("custom");
    let bad_file = d.path().join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    assert!(validate(&python, &bad_file).is_err());
    let mut bad = b.clone();
    let i = bad["objects"]
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o["type"] == "indicator")
        .unwrap();
    bad["objects"][i]["pattern"] = json!("[file:name = 'unterminated]");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    assert!(validate(&python, &bad_file).is_err());
}

/// A finding of `rule` with these IOCs, for planting in a findings.json.
fn planted(rule: &str, mitre: &str, iocs: Value) -> Value {
    json!({"rule": rule, "title": format!("planted {rule}"), "mitre": [mitre],
        "severity": "high", "weight": 30, "explanation": format!("planted {rule}"),
        "subject": rule, "evidence": [], "iocs": iocs})
}

#[test]
fn every_ioc_kind_gives_a_valid_pattern_and_ecs_document() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner_bundle(d.path());
    let rep = report_dir(d.path(), &bundle);
    let path = rep.join("findings.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let findings = doc["hosts"][0]["findings"].as_array_mut().unwrap();
    findings.push(planted(
        "reverse-shell",
        "T1059.004",
        json!([{"type": "pid", "value": 812}, {"type": "address", "value": "203.0.113.45"},
               {"type": "port", "value": 4444}, {"type": "path", "value": "/tmp/.x/syncd"}]),
    ));
    findings.push(planted(
        "login-after-brute-force",
        "T1110",
        json!([{"type": "address", "value": "2001:db8::7"},
               {"type": "account", "value": "deploy"}]),
    ));
    findings.push(planted(
        "promiscuous-interface",
        "T1040",
        json!([{"type": "address", "value": "52:54:00:AB:cd:01"},
               {"type": "cron_command", "value": "sh -c 'echo \\x41' # it's"},
               {"type": "config_line", "value": "ALL ALL=(ALL) NOPASSWD: ALL"}]),
    ));
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    // ECS: the planted findings conform too.
    let o = export(d.path(), &["ecs", rep.to_str().unwrap()], 0);
    let schema = Schema::load(&repo_root());
    let docs: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for doc in &docs {
        assert_eq!(schema.check(doc), Vec::<String>::new(), "{doc:#}");
    }
    let shell = docs
        .iter()
        .find(|d| field(d, "rule.id") == "reverse-shell")
        .unwrap();
    assert_eq!(field(shell, "process.pid"), 812);
    assert_eq!(field(shell, "destination.port"), 4444);
    assert_eq!(field(shell, "related.ip"), &json!(["203.0.113.45"]));
    // STIX: every kind of pattern passes the reference validators.
    let out = d.path().join("planted.json");
    export(
        d.path(),
        &[
            "stix",
            rep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        0,
    );
    let text = std::fs::read_to_string(&out).unwrap();
    for p in [
        "[ipv4-addr:value = '203.0.113.45']",
        "[ipv6-addr:value = '2001:db8::7']",
        "[network-traffic:dst_port = 4444]",
        "[user-account:account_login = 'deploy']",
        "[mac-addr:value = '52:54:00:ab:cd:01']",
        r"[process:command_line = 'sh -c \'echo \\x41\' # it\'s']",
    ] {
        assert!(
            text.contains(&format!("\"pattern\": {}", json!(p))),
            "{p} not in {text}"
        );
    }
    let Some(python) = stix_python() else {
        return;
    };
    let summary = validate(&python, &out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["types"]["indicator"], 14, "{summary}");
}

#[test]
fn refused_inputs_are_named_and_the_rest_exported() {
    let d = tempfile::tempdir().unwrap();
    let bundle = miner_bundle(d.path());
    // A damaged copy: one byte of the zip changed.
    let damaged = d.path().join("damaged.zip");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = d.path().join("out.ndjson");
    let o = export(
        d.path(),
        &[
            "ecs",
            bundle.to_str().unwrap(),
            damaged.to_str().unwrap(),
            empty.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        1,
    );
    let said = stdout(&o);
    assert!(
        said.contains("NOT EXPORTED  ") && said.contains("damaged.zip: "),
        "{said}"
    );
    assert!(
        said.contains("empty/findings.json: no such file: give a bundle or a report directory"),
        "{said}"
    );
    assert!(said.contains("EXPORTED      ") && said.contains("esxi-web01-snapshot.zip (bundle)"));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 12);
    // Nothing left: nothing written.
    let none = d.path().join("none.ndjson");
    let o = export(
        d.path(),
        &[
            "stix",
            empty.to_str().unwrap(),
            "--out",
            none.to_str().unwrap(),
        ],
        1,
    );
    assert!(stdout(&o).contains("export: not written (no input left)"));
    assert!(!none.exists());
    // A findings.json of another schema is named for what it is.
    std::fs::write(
        empty.join("findings.json"),
        r#"{"schema": "dossier-baseline", "version": 1}"#,
    )
    .unwrap();
    let o = export(d.path(), &["ecs", empty.to_str().unwrap()], 1);
    assert!(
        stderr(&o).contains("schema \"dossier-baseline\", not \"dossier-findings\""),
        "{}",
        stderr(&o)
    );
    // --out naming a directory cannot run.
    let o = export(
        d.path(),
        &[
            "ecs",
            bundle.to_str().unwrap(),
            "--out",
            empty.to_str().unwrap(),
        ],
        2,
    );
    assert!(stderr(&o).contains("a directory; name the file to write"));
}

#[test]
fn alerts_of_imported_events_are_exported_from_the_report_directory() {
    let d = tempfile::tempdir().unwrap();
    let imports = d.path().join("imports");
    let o = dossier(
        d.path(),
        &[
            "import",
            repo_root()
                .join("events/tests/data/audit.log")
                .to_str()
                .unwrap(),
            "--host",
            "web1",
            "--out",
            imports.to_str().unwrap(),
            "-q",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let bundle = stdout(&o).lines().last().unwrap().to_string();
    // The import bundle itself has no triage records: refused, with what to do.
    let o = export(d.path(), &["ecs", &bundle], 1);
    assert!(
        stderr(&o).contains(
            "an import bundle (imported events, no triage records): run `dossier analyze`"
        ),
        "{}",
        stderr(&o)
    );
    let rep = report_dir(d.path(), Path::new(&bundle));
    // The events report as analyze wrote it, with one alert planted in its shape (the rules
    // that raise alerts are tested with the analyzers), listing its indicators.
    let path = rep.join("events.json");
    let mut report: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(report["schema"], "dossier-events-report");
    // The sample's own alerts (whatever the rules make of it) are replaced by the planted one,
    // so that the documents below are known.
    report["alerts"].as_array_mut().unwrap().clear();
    report["alerts"].as_array_mut().unwrap().push(json!({
        "id": "ALERT-001", "rule": "event-reverse-shell", "title": "Reverse shell",
        "severity": "CRITICAL", "category": "Command and Control",
        "techniques": [{"id": "T1059.004", "name": "Command and Scripting Interpreter: Unix Shell"}],
        "description": "bash -i to 203.0.113.45:4444", "risk": "remote control", "related": [],
        "evidence": {"time": "2026-11-20T02:11:00Z", "device": "web1", "action_type": "EXECVE",
            "source": "audit", "fields": [["exe", "/usr/bin/bash"]],
            "origins": ["web1.zip: records/events.jsonl, line 7"], "events": 1},
        "indicators": [{"type": "address", "value": "203.0.113.45"}, {"type": "port", "value": 4444},
            {"type": "sha256", "value": "b904a02bfbae3d692f6f2bd4a64170aff4fd7b7e7b92fed5293af10f6218e794"}]
    }));
    std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    let o = export(d.path(), &["ecs", rep.to_str().unwrap()], 0);
    assert!(
        stderr(&o).contains("0 host(s), 0 finding(s), 1 alert(s) of imported events"),
        "{}",
        stderr(&o)
    );
    let docs: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 1);
    let schema = Schema::load(&repo_root());
    assert_eq!(
        schema.check(&docs[0]),
        Vec::<String>::new(),
        "{:#}",
        docs[0]
    );
    assert_eq!(field(&docs[0], "event.dataset"), "dossier.event_alert");
    assert_eq!(field(&docs[0], "host.name"), "web1");
    assert_eq!(field(&docs[0], "@timestamp"), "2026-11-20T02:11:00.000Z");
    assert_eq!(field(&docs[0], "destination.port"), 4444);
    // events.json named directly gives the same; the STIX bundle holds its indicators.
    let o = export(d.path(), &["ecs", path.to_str().unwrap()], 0);
    assert_eq!(stdout(&o).lines().count(), 1);
    let out = d.path().join("events.stix.json");
    export(
        d.path(),
        &[
            "stix",
            rep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        0,
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("[ipv4-addr:value = '203.0.113.45']"),
        "{text}"
    );
    assert!(
        text.contains("\"valid_from\": \"2026-11-20T02:11:00.000Z\""),
        "{text}"
    );
    let Some(python) = stix_python() else {
        return;
    };
    let summary = validate(&python, &out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["types"]["indicator"], 3, "{summary}");
}

#[test]
fn a_fresh_collection_is_exported_and_its_custody_ledger_records_it() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let root = fixture("rootfs-miner");
    let bundle = collect(
        d.path(),
        &out,
        &["--root", root.to_str().unwrap(), "--no-analyze"],
    );
    let file = d.path().join("miner.stix.json");
    let o = export(
        d.path(),
        &[
            "stix",
            bundle.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        0,
    );
    let sha = sha256_file(&file);
    assert!(
        stdout(&o).contains(&format!("sha256 {sha}")),
        "{}",
        stdout(&o)
    );
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    let last: Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "exported", "{ledger}");
    let detail = last["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "the STIX export {} (SHA-256 {sha})",
            file.display()
        )),
        "{detail}"
    );
    let b: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let patterns: Vec<&str> = b["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["pattern"].as_str())
        .collect();
    assert!(
        patterns.contains(&"[file:name = 'log' AND file:parent_directory_ref.path = '/var/log']"),
        "{patterns:#?}"
    );
    let Some(python) = stix_python() else {
        return;
    };
    validate(&python, &file).unwrap_or_else(|e| panic!("{e}"));
}
