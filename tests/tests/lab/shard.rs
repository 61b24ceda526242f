//! `sweep --shard` over SSH and `merge`: four lab hosts (one compromised) swept whole once,
//! then in two shards (`--shard 0/2`, `--shard 1/2`) merged. The shards are disjoint, cover
//! every host, contact only their own hosts, and the merge judges every host as the
//! unsharded sweep does.

use dossier_tests::lab::{Lab, Scenario};
use dossier_tests::{dossier, stderr, stdout};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// How a host was judged: verdict, score and the (rule, subject) of each finding, sorted.
type Judged = (Value, Value, Vec<(Value, Value)>);

/// Per host of a `findings.json`, how it was judged.
fn judged(findings: &Value) -> BTreeMap<String, Judged> {
    findings["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let mut f: Vec<(Value, Value)> = h["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f["rule"].clone(), f["subject"].clone()))
                .collect();
            f.sort_by_key(|(r, s)| (r.to_string(), s.to_string()));
            (
                h["hostname"].as_str().unwrap().to_string(),
                (h["verdict"].clone(), h["score"].clone(), f),
            )
        })
        .collect()
}

#[test]
fn two_shards_merged_judge_the_fleet_as_one_sweep() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[
        Scenario::Clean,
        Scenario::Miner,
        Scenario::Clean,
        Scenario::Clean,
    ]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let key = lab.client_key().display().to_string();
    let mut args = vec!["-i".to_string(), key];
    args.extend(lab.hosts().iter().map(|h| h.addr.to_string()));
    let run = |out: &str, extra: &[&str]| {
        let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
        argv.extend_from_slice(extra);
        let o = lab.sweep(cwd, &cwd.join(out), lab.known_hosts(), &argv);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        o
    };
    run("whole", &[]);
    let o0 = run("s0", &["--shard", "0/2", "--no-analyze"]);
    run("s1", &["--shard", "1/2", "--no-analyze"]);
    let (s0, s1) = (
        json(&cwd.join("s0/sweep.json")),
        json(&cwd.join("s1/sweep.json")),
    );
    let labels = |s: &Value| -> Vec<String> {
        s["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["label"].as_str().unwrap().to_string())
            .collect()
    };
    let (l0, l1) = (labels(&s0), labels(&s1));
    let mut all: Vec<String> = l0.iter().chain(&l1).cloned().collect();
    all.sort();
    let whole = labels(&json(&cwd.join("whole/sweep.json")));
    assert_eq!(all, whole, "shards overlap or leave a host out");
    assert_eq!(s0["shard"]["of"], 4);
    assert_eq!(s0["shard"]["kept"], l0.len());
    assert_eq!(s1["shard"]["kept"], l1.len());
    assert!(
        stdout(&o0).contains(&format!("shard 0/2: {} of 4 target(s)", l0.len())),
        "{}",
        stdout(&o0)
    );
    // Hosts outside a shard are never contacted: no line of the shard's output names them.
    for other in &l1 {
        assert!(
            !stderr(&o0).contains(other.as_str()),
            "{other} contacted by shard 0"
        );
    }

    let m = dossier(cwd, &["merge", "s1", "s0", "--out", "merged"]);
    assert!(m.status.success(), "{}{}", stdout(&m), stderr(&m));
    let merged = judged(&json(&cwd.join("merged/analysis/findings.json")));
    let one = judged(&json(&cwd.join("whole/analysis/findings.json")));
    assert_eq!(merged, one);
    assert_eq!(merged.len(), 4);
    assert!(
        merged.values().any(|(v, ..)| v == "Malicious likely"),
        "{merged:?}"
    );
    let ms = json(&cwd.join("merged/sweep.json"));
    assert_eq!(labels(&ms), whole);
    assert_eq!(ms["superseded"], serde_json::json!([]));
}
