//! A lab sweep into object storage and a merge from it: three lab hosts (one compromised)
//! swept whole into a local folder once, then in two shards (`--shard 0/2`, `--shard 1/2`)
//! each into its own prefix of a bucket on a local moto server (reached from the lab's
//! namespace through a relay), and the two prefixes merged: each shard's bundles, sidecars,
//! custody ledger and sweep.json are in the bucket (no hidden upload left; `--json` names
//! the summary and reports by URL), the merge from
//! the bucket judges every host as the unsharded local sweep does, and a shard retried into
//! the same prefix is refused before any host is contacted.

use dossier_tests::lab::{Lab, Scenario};
use dossier_tests::s3::{Moto, env_for, relay_from_netns};
use dossier_tests::{dossier_cmd, stderr, stdout};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Per host of a `findings.json`: verdict, score and the sorted (rule, subject) of its
/// findings.
fn judged(findings: &Value) -> BTreeMap<String, (Value, Value, Vec<String>)> {
    findings["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let mut f: Vec<String> = h["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| format!("{} {}", f["rule"], f["subject"]))
                .collect();
            f.sort();
            (
                h["hostname"].as_str().unwrap().to_string(),
                (h["verdict"].clone(), h["score"].clone(), f),
            )
        })
        .collect()
}

#[test]
fn shards_swept_into_a_bucket_merge_as_one_sweep() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Miner, Scenario::Clean]) else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("evidence");
    let relay = relay_from_netns(lab.netns(), moto.port);
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let key = lab.client_key().display().to_string();
    let sweep = |out: &str, extra: &[&str]| -> Output {
        let mut c = lab.sweep_command(cwd);
        env_for(&mut c, &format!("http://127.0.0.1:{relay}"));
        c.env("TMPDIR", cwd)
            .args(["-i", &key])
            .args(lab.hosts().iter().map(|h| h.addr.to_string()))
            .args(extra)
            .arg("--out")
            .arg(out)
            .arg("--known-hosts")
            .arg(lab.known_hosts())
            .args(["--ssh-config", "/dev/null", "--connect-timeout", "3"]);
        c.output().expect("run dossier sweep")
    };
    let whole = cwd.join("whole");
    let o = sweep(whole.to_str().unwrap(), &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = sweep(
        "s3://evidence/IR-42/shard-0",
        &["--shard", "0/2", "--no-analyze"],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("sweep summary: s3://evidence/IR-42/shard-0/sweep.json"),
        "{}",
        stdout(&o)
    );
    // Shard 1 analyzes too, and says so in JSON: every path is a URL in the bucket.
    let o = sweep("s3://evidence/IR-42/shard-1", &["--shard", "1/2", "--json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["summary"], "s3://evidence/IR-42/shard-1/sweep.json");
    assert_eq!(
        doc["analysis"]["fleet_report"],
        "s3://evidence/IR-42/shard-1/analysis/fleet-report.md"
    );
    for h in doc["analysis"]["hosts"].as_array().unwrap() {
        let r = h["report"].as_str().unwrap();
        assert!(
            r.starts_with("s3://evidence/IR-42/shard-1/analysis/"),
            "{r}"
        );
    }
    let keys = moto.keys("evidence");
    let bundles: Vec<&String> = keys.iter().filter(|k| k.ends_with(".zip")).collect();
    assert_eq!(bundles.len(), 3, "{keys:?}");
    for b in &bundles {
        assert!(keys.contains(&format!("{b}.sha256")), "{keys:?}");
    }
    assert!(
        keys.contains(&"IR-42/shard-1/analysis/findings.json".to_string()),
        "{keys:?}"
    );
    for k in 0..2 {
        for name in ["sweep.json", "custody.jsonl"] {
            let key = format!("IR-42/shard-{k}/{name}");
            assert!(keys.contains(&key), "{key} not in {keys:?}");
        }
    }
    assert!(
        !keys.iter().any(|k| k.contains(".dossier-incoming")),
        "{keys:?}"
    );
    assert_eq!(moto.open_uploads("evidence"), 0);

    // A shard retried into its prefix is refused before any host is contacted.
    let again = sweep("s3://evidence/IR-42/shard-0", &["--shard", "0/2"]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("holds custody.jsonl of an earlier run"),
        "{}",
        stderr(&again)
    );
    assert!(!stderr(&again).contains("connecting"), "{}", stderr(&again));
    assert_eq!(moto.keys("evidence"), keys);

    let mut m = dossier_cmd(cwd);
    env_for(&mut m, &moto.endpoint());
    let m = m
        .env("TMPDIR", cwd)
        .args([
            "merge",
            "s3://evidence/IR-42/shard-1",
            "s3://evidence/IR-42/shard-0",
            "--out",
            "merged",
        ])
        .output()
        .unwrap();
    assert!(m.status.success(), "{}{}", stdout(&m), stderr(&m));
    let merged = judged(&json(&cwd.join("merged/analysis/findings.json")));
    let one = judged(&json(&whole.join("analysis/findings.json")));
    assert_eq!(merged, one);
    assert_eq!(merged.len(), 3);
    // The merged sweep.json names the prefixes and bundles by URL (the same bytes whatever
    // staging folder they were read from).
    let ms = json(&cwd.join("merged/sweep.json"));
    let dirs: Vec<&str> = ms["merged_from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["dir"].as_str().unwrap())
        .collect();
    assert_eq!(
        dirs,
        ["s3://evidence/IR-42/shard-0", "s3://evidence/IR-42/shard-1"]
    );
    for t in ms["targets"].as_array().unwrap() {
        let b = t["bundle"].as_str().unwrap();
        assert!(b.starts_with("s3://evidence/IR-42/shard-"), "{b}");
    }
    assert!(
        merged.values().any(|(v, ..)| v == "Malicious likely"),
        "{merged:?}"
    );
}
