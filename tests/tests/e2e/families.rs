//! Each persistence family of issue 7 on its own: a copy of `rootfs-clean` carrying only that
//! family's planted files from `rootfs-persist2` (and, for the hook types persist2 does not
//! plant, files written here the same way), collected with the real binary and analyzed with
//! the triage playbook. A host compromised through only one family must reach at least
//! Suspicious (score >= 30), with the family's rules and MITRE ids; each planted case is also
//! collected alone and must reach Suspicious too.
//!
//! The families and their cases are in [`dossier_tests::cases`] (the malicious corpus of
//! `tests/tests/e2e/corpus.rs` uses them too). The dpkg database stays the clean one's, so a
//! packaged file the intruder modified must verify as `mismatch` and an added one as
//! `not_owned`.
//!
//! Not applicable to a `--root` image, and so not here: the network family (promiscuous
//! interface, duplicate MAC) and loaded or hidden kernel modules need a live /sys and /proc;
//! an image reports those rules as not evaluated (checked in analysis.rs).

use dossier_tests::cases::{FAMILIES, Plant, planted_root};
use dossier_tests::*;
use std::path::{Path, PathBuf};

/// A copy of the clean root named `host` carrying `plants`, collected without analysis.
fn collect_with(dir: &Path, host: &str, plants: &[&Plant]) -> PathBuf {
    let root = planted_root(dir, host, plants.iter().copied());
    collect(
        dir,
        &dir.join("bundles"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    )
}

fn host<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("{name} not analyzed"))
}

/// "score N, rule(weight) ..." of a host, for messages and the report to the lead.
fn summary(h: &serde_json::Value) -> String {
    let hits: Vec<String> = h["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{}({})", x["rule"].as_str().unwrap(), x["weight"]))
        .collect();
    let context: Vec<String> = h["context"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| format!("{}(context)", x["rule"].as_str().unwrap()))
        .collect();
    format!(
        "score {} {}: {} {}",
        h["score"],
        h["verdict"],
        hits.join(" "),
        context.join(" ")
    )
}

/// Checks that a host reached at least Suspicious, and that every expected finding is there
/// with its MITRE id. A subject ending in ':' matches any line of that file.
fn check(h: &serde_json::Value, what: &str, expect: &[(&str, &str, &str)]) -> Result<(), String> {
    let score = h["score"].as_u64().unwrap();
    let verdict = h["verdict"].as_str().unwrap();
    let reached = matches!(verdict, "Suspicious" | "Malicious likely");
    assert_eq!(reached, score >= 30, "{what}: {}", summary(h));
    if !reached {
        return Err(format!("{what} alone is not Suspicious: {}", summary(h)));
    }
    for (rule, mitre, subject) in expect {
        // A context rule (provenance) makes no hit of its own: its findings are in `context`.
        let context = h["context"].as_array().into_iter().flatten();
        let hit = h["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == *rule)
            .or_else(|| context.clone().find(|x| x["rule"] == *rule))
            .ok_or_else(|| format!("{what}: {rule} did not fire: {}", summary(h)))?;
        if !hit["mitre"].as_array().unwrap().iter().any(|m| m == mitre) {
            return Err(format!("{what}: {rule} lacks {mitre}: {hit}"));
        }
        let found = h["findings"]
            .as_array()
            .unwrap()
            .iter()
            .chain(context)
            .any(|f| {
                let s = f["subject"].as_str().unwrap_or_default();
                f["rule"] == *rule
                    && if let Some(file) = subject.strip_suffix(':') {
                        s.strip_prefix(file)
                            .and_then(|l| l.strip_prefix(':'))
                            .is_some_and(|l| l.parse::<u32>().is_ok())
                    } else {
                        s == *subject
                    }
            });
        if !found {
            return Err(format!("{what}: no {rule} finding on {subject}: {h}"));
        }
    }
    Ok(())
}

#[test]
fn each_persistence_family_alone_reaches_suspicious() {
    let d = tempfile::tempdir().unwrap();
    // Collect every case alone, every family (all its cases) alone, and the clean copy.
    // Bundles by host name.
    let mut bundles = std::collections::BTreeMap::new();
    bundles.insert(
        "f-clean".to_string(),
        collect_with(d.path(), "f-clean", &[]),
    );
    for fam in FAMILIES {
        for case in fam.cases {
            let plants: Vec<&Plant> = case.plants.iter().collect();
            let host = format!("c-{}-{}", fam.name, case.name);
            let bundle = collect_with(d.path(), &host, &plants);
            bundles.insert(host, bundle);
        }
        let plants: Vec<&Plant> = fam.cases.iter().flat_map(|c| c.plants.iter()).collect();
        let host = format!("f-{}", fam.name);
        let bundle = collect_with(d.path(), &host, &plants);
        bundles.insert(host, bundle);
    }
    let out = d.path().join("rep");
    let mut args = vec!["analyze", "--out", out.to_str().unwrap()];
    args.extend(bundles.values().map(|b| b.to_str().unwrap()));
    let o = dossier(d.path(), &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();

    // The harness guard: the clean copy, renamed and collected the same way, stays clean and
    // none of the families' rules fires on it.
    let clean = host(&json, "f-clean");
    assert_eq!(clean["verdict"], "Unclear/Benign", "{}", summary(clean));
    for fam in FAMILIES {
        for case in fam.cases {
            for (rule, _, _) in case.expect {
                assert!(
                    !clean["findings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .chain(clean["context"].as_array().into_iter().flatten())
                        .any(|f| f["rule"] == *rule),
                    "{rule} fired on the clean copy: {}",
                    summary(clean)
                );
            }
        }
    }

    let mut failures = Vec::new();
    for fam in FAMILIES {
        let mut all_expect = Vec::new();
        for case in fam.cases {
            let name = format!("c-{}-{}", fam.name, case.name);
            let h = host(&json, &name);
            eprintln!("{name}: {}", summary(h));
            if let Err(e) = check(h, &name, case.expect) {
                failures.push(e);
            }
            // Packaged files the intruder changed verify as mismatch, added ones as unowned.
            let verify = of_kind(&bundles[&name], "packages", "package_verify");
            for (path, status) in case.verify {
                let got = verify
                    .iter()
                    .find(|v| v["path"] == *path)
                    .map(|v| v["status"].clone());
                if got.as_ref().and_then(|s| s.as_str()) != Some(status) {
                    failures.push(format!("{name}: {path} verified as {got:?}, not {status}"));
                }
            }
            all_expect.extend_from_slice(case.expect);
        }
        let name = format!("f-{}", fam.name);
        let h = host(&json, &name);
        eprintln!("{name}: {}", summary(h));
        if let Err(e) = check(h, &name, &all_expect) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
