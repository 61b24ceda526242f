//! `dossier merge` end to end, without SSH: three "sweep folders" made of bundles collected
//! with `--root` from fixture roots (two with a hand-written `sweep.json` as shards 0/2 and
//! 1/2 would write it, one a plain folder of bundles, as Ansible fetches them). A host
//! collected in two folders is analyzed once, from its newest bundle, the older one listed
//! as superseded; a target one shard could not collect but the other did is not "not
//! collected"; one no folder collected is carried over; and merging the folders in another
//! order gives byte-identical output. `sweep --shard` itself is checked on loopback targets
//! with nothing listening (each shard tries only its own; the lab's `shard::` sweeps real
//! hosts).

use dossier_tests::cases::{FAMILIES, planted_root};
use dossier_tests::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Collects `root` into `out` (no analysis); returns the bundle and its manifest.
fn take(cwd: &Path, root: &Path, out: &Path) -> (PathBuf, Value) {
    let b = collect(
        cwd,
        out,
        &["--no-analyze", "--root", root.to_str().unwrap()],
    );
    let m = manifest(&b);
    (b, m)
}

/// A `sweep.json` target entry for a bundle (as `dossier sweep` writes one).
fn collected(bundle: &Path, m: &Value) -> Value {
    json!({
        "target": m["target"]["label"], "label": m["target"]["label"],
        "outcome": "collected", "started": m["collection"]["started"], "duration_ms": 5,
        "hostname": m["host"]["hostname"],
        "bundle": bundle.file_name().unwrap().to_str().unwrap(),
        "sha256": sha256_file(bundle),
    })
}

/// A target that could not be collected.
fn missed(label: &Value, outcome: &str, started: &str) -> Value {
    json!({
        "target": label, "label": label, "outcome": outcome, "reason": format!("{outcome} in this test"),
        "started": started, "duration_ms": 10000,
    })
}

/// Writes a shard's `sweep.json` into `dir`.
fn sweep_json(dir: &Path, index: u32, started: &str, targets: Vec<Value>) {
    let n = targets.len();
    let s = json!({
        "format": "dossier-sweep", "format_version": 1,
        "started": started, "finished": "2030-01-01T00:00:00Z",
        "playbook": "triage", "playbook_sha256": playbook_sha256(dir),
        "jobs": 8, "networks": [{"network": "10.9.0.0/28", "port": 22, "probed": 7, "answered": 1}],
        "targets": targets,
        "shard": {"index": index, "count": 2, "kept": n, "of": 9},
    });
    std::fs::write(
        dir.join("sweep.json"),
        serde_json::to_string_pretty(&s).unwrap(),
    )
    .unwrap();
}

/// The SHA-256 of the default playbook, as the bundles in `dir` record it.
fn playbook_sha256(dir: &Path) -> String {
    let b = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    manifest(&b)["playbook"]["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every file under `dir`, relative, with its bytes, sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn merge_resolves_duplicates_carries_gaps_and_ignores_order() {
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    let roots = cwd.join("roots");
    std::fs::create_dir(&roots).unwrap();
    let web1 = planted_root(&roots, "web1", FAMILIES[0].cases[0].plants);
    let db1 = planted_root(&roots, "db1", []);
    let late = planted_root(&roots, "late1", []);
    let app1 = planted_root(&roots, "app1", []);
    let (s0, s1, s2) = (cwd.join("s0"), cwd.join("s1"), cwd.join("s2"));
    let (web1_old, m_web1_old) = take(cwd, &web1, &s0);
    let (db1_b, m_db1) = take(cwd, &db1, &s0);
    let (web1_new, m_web1_new) = take(cwd, &web1, &s1);
    let (late_b, m_late) = take(cwd, &late, &s1);
    take(cwd, &app1, &s2);
    assert!(
        m_web1_new["collection"]["started"].as_str() > m_web1_old["collection"]["started"].as_str()
    );
    let gone = json!("ssh:root@gone.example:22");
    // Shard 0 timed out on late1 (shard 1 collected it) and could not reach gone.example.
    sweep_json(
        &s0,
        0,
        "2026-12-01T10:00:00Z",
        vec![
            collected(&web1_old, &m_web1_old),
            collected(&db1_b, &m_db1),
            missed(
                &m_late["target"]["label"],
                "timed_out",
                "2026-12-01T10:00:01Z",
            ),
            missed(&gone, "unreachable", "2026-12-01T10:00:02Z"),
        ],
    );
    sweep_json(
        &s1,
        1,
        "2026-12-01T09:00:00Z",
        vec![
            collected(&web1_new, &m_web1_new),
            collected(&late_b, &m_late),
            missed(&gone, "auth_failed", "2026-12-01T09:00:02Z"),
        ],
    );

    let o = dossier(cwd, &["merge", "s0", "s1", "s2", "--out", "m1"]);
    // gone.example was collected by no folder: exit 1, as a sweep with a gap.
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "SUPERSEDED        s0/{}",
            web1_old.file_name().unwrap().to_str().unwrap()
        )) && out.contains("NOT COLLECTED     ssh:root@gone.example:22: unreachable")
            && out.contains(
                "4 host(s) analyzed, 1 superseded, 0 not verified, 1 target(s) not collected"
            ),
        "{out}"
    );

    let s: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("m1/sweep.json")).unwrap()).unwrap();
    let targets = s["targets"].as_array().unwrap();
    let by_host = |h: &str| {
        targets
            .iter()
            .find(|t| t["hostname"] == h)
            .unwrap_or_else(|| panic!("{h} not in {s:#}"))
    };
    let name = |p: &Path, dir: &str| format!("{dir}/{}", p.file_name().unwrap().to_str().unwrap());
    assert_eq!(by_host("web1")["bundle"], name(&web1_new, "s1"));
    assert_eq!(by_host("late1")["outcome"], "collected");
    assert_eq!(by_host("app1")["outcome"], "collected");
    assert!(
        by_host("app1")["bundle"]
            .as_str()
            .unwrap()
            .starts_with("s2/")
    );
    // One entry per target: web1 once, gone.example once (the latest attempt, shard 0's).
    assert_eq!(targets.len(), 5, "{s:#}");
    let gone_t: Vec<&Value> = targets.iter().filter(|t| t["label"] == gone).collect();
    assert_eq!(gone_t.len(), 1);
    assert_eq!(gone_t[0]["outcome"], "unreachable");
    assert_eq!(s["superseded"][0]["bundle"], name(&web1_old, "s0"));
    assert_eq!(s["superseded"][0]["by"], name(&web1_new, "s1"));
    assert_eq!(s["superseded"].as_array().unwrap().len(), 1);
    assert_eq!(s["not_verified"], json!([]));
    assert_eq!(s["networks"][0]["probed"], 14);
    assert_eq!(s["jobs"], 16);
    assert_eq!(s["started"], "2026-12-01T09:00:00Z");
    let from: Vec<&Value> = s["merged_from"].as_array().unwrap().iter().collect();
    assert_eq!(
        from.iter()
            .map(|f| f["dir"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["s0", "s1", "s2"]
    );
    assert_eq!(from[1]["shard"]["index"], 1);
    assert!(from[2].get("shard").is_none());

    let fleet = std::fs::read_to_string(cwd.join("m1/analysis/fleet-report.md")).unwrap();
    assert!(
        fleet.contains("**Superseded** (1: older bundles")
            && fleet.contains(&format!("- `{}` (`", name(&web1_old, "s0")))
            && fleet.contains(&format!("superseded by `{}`", name(&web1_new, "s1")))
            && fleet.contains("- `ssh:root@gone.example:22`: unreachable"),
        "{fleet}"
    );
    let findings: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("m1/analysis/findings.json")).unwrap())
            .unwrap();
    let hosts: Vec<&str> = findings["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["app1", "db1", "late1", "web1"]);
    let web1_json = &findings["hosts"][3];
    assert_eq!(web1_json["bundle_sha256"], sha256_file(&web1_new));
    assert!(
        web1_json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == FAMILIES[0].cases[0].expect[0].0),
        "{web1_json:#}"
    );
    assert_eq!(findings["not_collected"].as_array().unwrap().len(), 1);

    // The same folders in another order: the same bytes.
    let o2 = dossier(cwd, &["merge", "s2", "s1", "s0", "--out", "m2"]);
    assert_eq!(o2.status.code(), Some(1), "{}", stderr(&o2));
    let (t1, t2) = (tree(&cwd.join("m1")), tree(&cwd.join("m2")));
    assert_eq!(
        t1.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        t2.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((n, a), (_, b)) in t1.iter().zip(&t2) {
        assert!(a == b, "{n} differs between the two orders");
    }
}

#[test]
fn merge_refuses_its_own_input_as_output_and_lists_a_bundle_that_does_not_verify() {
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    let roots = cwd.join("roots");
    std::fs::create_dir(&roots).unwrap();
    let good = planted_root(&roots, "web2", []);
    take(cwd, &good, &cwd.join("s0"));
    let bad = planted_root(&roots, "web3", []);
    let (b, _) = take(cwd, &bad, &cwd.join("s0"));
    let o = dossier(cwd, &["merge", "s0", "--out", "s0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("one of the folders merged"),
        "{}",
        stderr(&o)
    );
    let o = dossier(cwd, &["merge", "s0", "./s0", "--out", "m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the same folder given twice"),
        "{}",
        stderr(&o)
    );
    // A bundle changed after collection: not verified, listed, not analyzed; exit 1.
    let mut bytes = std::fs::read(&b).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&b, bytes).unwrap();
    let o = dossier(cwd, &["merge", "s0", "--out", "m"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "NOT ANALYZED      {}",
            b.file_name().unwrap().to_str().unwrap()
        )) && stdout(&o).contains("1 host(s) analyzed, 0 superseded, 1 not verified"),
        "{}",
        stdout(&o)
    );
    let s: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("m/sweep.json")).unwrap()).unwrap();
    assert_eq!(s["not_verified"].as_array().unwrap().len(), 1, "{s:#}");
}

/// `sweep --shard` without SSH: two loopback targets with nothing listening, one in each
/// shard of 2 (`127.0.0.1:2` in shard 0, `127.0.0.1:1` in shard 1, by SHA-256 of
/// `host:port`). Each shard tries only its own target and records the other nowhere; a K
/// that is not below N is refused before anything runs.
#[test]
fn sweep_shard_contacts_only_its_targets_and_refuses_a_one_based_k() {
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    let run = |shard: &str, out: &str| {
        dossier_cmd(cwd)
            .env("HOME", cwd)
            .env_remove("SSH_AUTH_SOCK")
            .args([
                "sweep",
                "127.0.0.1:1",
                "127.0.0.1:2",
                "--ssh-config",
                "/dev/null",
                "--known-hosts",
                "kh",
                "--connect-timeout",
                "2",
                "--no-analyze",
                "--quiet",
                "--shard",
                shard,
                "--out",
                out,
            ])
            .output()
            .unwrap()
    };
    for (k, mine) in [(0, "127.0.0.1:2"), (1, "127.0.0.1:1")] {
        let out = format!("s{k}");
        let o = run(&format!("{k}/2"), &out);
        // The one target of the shard is unreachable: exit 1, as any sweep with a gap.
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
        assert!(
            stdout(&o).contains(&format!("shard {k}/2: 1 of 2 target(s)")),
            "{}",
            stdout(&o)
        );
        let s: Value =
            serde_json::from_slice(&std::fs::read(cwd.join(&out).join("sweep.json")).unwrap())
                .unwrap();
        let targets: Vec<&str> = s["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["target"].as_str().unwrap())
            .collect();
        assert_eq!(targets, [mine], "{s:#}");
        assert_eq!(s["targets"][0]["outcome"], "unreachable");
        assert_eq!(
            s["shard"],
            json!({"index": k, "count": 2, "kept": 1, "of": 2})
        );
    }
    // The two shards merged: both targets, not collected.
    let o = dossier(cwd, &["merge", "s1", "s0", "--out", "m"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(
            "0 host(s) analyzed, 0 superseded, 0 not verified, 2 target(s) not collected"
        ),
        "{}",
        stdout(&o)
    );
    let o = run("2/2", "bad");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("K counts from 0") && stderr(&o).contains("--array=0-1"),
        "{}",
        stderr(&o)
    );
    assert!(!cwd.join("bad").exists());
}

/// A folder of an encrypted bundle (`--encrypt-to`): merged with `--identity` it is decrypted
/// as it is read and analyzed; without, it does not verify, and with nothing else to merge
/// the merge stops (exit 2) saying why.
#[test]
fn merge_decrypts_encrypted_bundles_with_an_identity() {
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    let Some(x) = crate::encrypt::sealed(cwd) else {
        return;
    };
    let o = dossier(cwd, &["merge", "out", "--out", "plain"]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("no --identity given to decrypt it")
            && stderr(&o).contains("nothing to merge"),
        "{}",
        stderr(&o)
    );
    let id = x.identity.to_str().unwrap();
    let o = dossier(cwd, &["merge", "out", "--out", "m", "--identity", id]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let s: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("m/sweep.json")).unwrap()).unwrap();
    let bundle = format!("out/{}", x.bundle.file_name().unwrap().to_str().unwrap());
    assert_eq!(s["targets"][0]["bundle"], bundle.as_str(), "{s:#}");
    assert!(cwd.join("m/analysis/fleet-report.md").is_file());
}
