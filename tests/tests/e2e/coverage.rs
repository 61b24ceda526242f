//! Item 3 of issue 13: intrusion techniques dossier did not see, each planted alone on a copy
//! of `rootfs-clean`, collected with the real binary (`--root`) and analyzed with the triage
//! playbook. Each case must reach at least Suspicious with its rule and ATT&CK id, and the
//! benign counterpart of every technique, all together on one host, must stay Unclear/Benign
//! with none of the behaviour rules firing. A live reverse shell (bash on a loopback TCP
//! connection this test owns) is collected from this machine and must be found.
//!
//! The cases and the twin are in [`dossier_tests::cases`] (`COVERAGE`, `COVERAGE_BENIGN`): the
//! corpus of `tests/tests/e2e/corpus.rs` counts them too. The live shell is only here.

use dossier_tests::cases::{
    COVERAGE, COVERAGE_BENIGN, COVERAGE_BENIGN_HOST, Plant, coverage_host, planted_root,
};
use dossier_tests::*;
use std::path::{Path, PathBuf};

/// A copy of the clean root named `host` carrying `plants`, collected without analysis.
fn collect_with(dir: &Path, host: &str, plants: &[Plant]) -> PathBuf {
    let root = planted_root(dir, host, plants);
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

fn summary(h: &serde_json::Value) -> String {
    let hits: Vec<String> = h["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{}({})", x["rule"].as_str().unwrap(), x["weight"]))
        .collect();
    format!("score {} {}: {}", h["score"], h["verdict"], hits.join(" "))
}

fn finding_on(h: &serde_json::Value, rule: &str, subject: &str) -> bool {
    h["findings"].as_array().unwrap().iter().any(|f| {
        let s = f["subject"].as_str().unwrap_or_default();
        f["rule"] == rule
            && match subject.strip_suffix(':') {
                Some(file) => s
                    .strip_prefix(file)
                    .and_then(|l| l.strip_prefix(':'))
                    .is_some_and(|l| l.parse::<u32>().is_ok()),
                None => s == subject,
            }
    })
}

/// The behaviour rules of item 3 (their context companions may fire on benign hosts).
const BEHAVIOUR: &[&str] = &[
    "user-persistence-malicious",
    "sshd-authorized-keys-location",
    "sshd-forced-command",
    "sshd-empty-passwords",
    "sshd-root-password-login",
    "setuid-unowned",
    "file-capability-dangerous",
    "privileged-file-modified",
    "reverse-shell-stdio",
    "unit-ld-preload",
    "history-disabled",
    "history-file-nulled",
    "login-logs-cleared",
];

/// Every rule of item 3, context ones included.
const ITEM3: &[&str] = &[
    "user-persistence-malicious",
    "user-persistence-entry",
    "sshd-authorized-keys-location",
    "sshd-forced-command",
    "sshd-empty-passwords",
    "sshd-root-password-login",
    "sshd-keys-context",
    "setuid-unowned",
    "file-capability-dangerous",
    "privileged-file-modified",
    "privileged-file-context",
    "reverse-shell-stdio",
    "unit-ld-preload",
    "unit-ld-preload-context",
    "history-disabled",
    "history-file-nulled",
    "login-logs-cleared",
];

#[test]
fn each_missed_technique_alone_reaches_suspicious_and_its_benign_twin_does_not() {
    let d = tempfile::tempdir().unwrap();
    let mut bundles = vec![
        collect_with(d.path(), "cov-clean", &[]),
        collect_with(d.path(), COVERAGE_BENIGN_HOST, COVERAGE_BENIGN),
    ];
    for case in COVERAGE {
        bundles.push(collect_with(d.path(), &coverage_host(case), case.plants));
    }
    let out = d.path().join("rep");
    let mut args = vec!["analyze", "--out", out.to_str().unwrap()];
    args.extend(bundles.iter().map(|b| b.to_str().unwrap()));
    let o = dossier(d.path(), &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("findings.json")).unwrap()).unwrap();

    let mut failures = Vec::new();
    let clean = host(&json, "cov-clean");
    assert_eq!(clean["verdict"], "Unclear/Benign", "{}", summary(clean));
    for name in ["cov-clean", COVERAGE_BENIGN_HOST] {
        let h = host(&json, name);
        // Item 3's rules add no behaviour and at most their small context weights, and the
        // host as a whole stays unflagged.
        eprintln!("{name}: {}", summary(h));
        if h["verdict"] != "Unclear/Benign" {
            failures.push(format!("{name} is flagged: {}", summary(h)));
        }
        let ours: u64 = h["hits"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| ITEM3.iter().any(|r| x["rule"] == *r))
            .map(|x| x["weight"].as_u64().unwrap_or(0))
            .sum();
        if ours > 15 {
            failures.push(format!("{name}: item 3 rules add {ours}: {}", summary(h)));
        }
        for f in h["findings"].as_array().unwrap() {
            if BEHAVIOUR.iter().any(|r| f["rule"] == *r) {
                failures.push(format!(
                    "{name}: behaviour finding {} on {}: {}",
                    f["rule"], f["subject"], f["explanation"]
                ));
            }
        }
    }
    // The benign host's privileged files and keys were collected: the rules saw them.
    let benign = &bundles[1];
    let privileged = of_kind(benign, "privileged", "privileged_file");
    let ping = privileged.iter().find(|p| p["path"] == "/usr/bin/ping");
    assert_eq!(
        ping.map(|p| p["capabilities"]["text"].clone()),
        Some(serde_json::json!("cap_net_raw=ep")),
        "{privileged:?}"
    );
    assert!(
        of_kind(benign, "sshd", "authorized_key")
            .iter()
            .any(|k| k["command"] == "/usr/bin/rrsync -ro /srv/backup")
    );

    for case in COVERAGE {
        let name = coverage_host(case);
        let h = host(&json, &name);
        eprintln!("{name}: {}", summary(h));
        if !matches!(
            h["verdict"].as_str(),
            Some("Suspicious" | "Malicious likely")
        ) {
            failures.push(format!("{name} alone is not Suspicious: {}", summary(h)));
            continue;
        }
        for (rule, mitre, subject) in case.expect {
            let Some(hit) = h["hits"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["rule"] == *rule)
            else {
                failures.push(format!("{name}: {rule} did not fire: {}", summary(h)));
                continue;
            };
            if !hit["mitre"].as_array().unwrap().iter().any(|m| m == mitre) {
                failures.push(format!("{name}: {rule} lacks {mitre}"));
            }
            if hit["weight"].as_u64().unwrap_or(0) < 30 {
                failures.push(format!("{name}: {rule} alone does not reach 30: {hit}"));
            }
            if !finding_on(h, rule, subject) {
                failures.push(format!(
                    "{name}: no {rule} finding on {subject}: {}",
                    h["findings"]
                ));
            }
        }
    }
    // The setuid copy of bash is copied into the bundle (packages copies unowned files).
    let setuid = bundles
        .iter()
        .find(|b| b.to_string_lossy().contains("cov-setuid-shell"))
        .unwrap();
    let v = of_kind(setuid, "packages", "package_verify");
    let bash = v
        .iter()
        .find(|v| v["path"] == "/var/tmp/.X11-unix/.s/bash")
        .unwrap();
    assert_eq!(bash["status"], "not_owned");
    assert!(bash["copy"]["member"].is_string(), "{bash}");
    let p = &of_kind(setuid, "privileged", "privileged_file")[0];
    assert_eq!(p["copy_of"], "/usr/bin/bash", "{p}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_live_reverse_shell_is_found_by_its_socket_stdio() {
    use std::os::fd::OwnedFd;
    use std::process::{Command, Stdio};
    if !Path::new("/usr/bin/bash").is_file() && !Path::new("/bin/bash").is_file() {
        dossier_tests::skip_or_fail("no /usr/bin/bash or /bin/bash (package bash)");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let fd = |s: &std::net::TcpStream| Stdio::from(OwnedFd::from(s.try_clone().unwrap()));
    let mut child = Command::new("bash")
        .arg("-i")
        .stdin(fd(&client))
        .stdout(fd(&client))
        .stderr(fd(&client))
        .env("PS1", "$ ")
        .spawn()
        .unwrap();
    drop(client);
    let pid = child.id();
    let d = tempfile::tempdir().unwrap();
    let result = std::panic::catch_unwind(|| {
        let b = collect(d.path(), &d.path().join("out"), &["--no-analyze"]);
        let me = of_kind(&b, "proc", "process")
            .into_iter()
            .find(|p| p["pid"] == pid)
            .unwrap_or_else(|| panic!("bash {pid} not collected"));
        let inode = me["stdio"][0].as_str().unwrap().to_string();
        assert!(inode.starts_with("socket:["), "{me}");
        let rep = d.path().join("rep");
        let o = dossier(
            d.path(),
            &[
                "analyze",
                "--out",
                rep.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(rep.join("findings.json")).unwrap()).unwrap();
        let h = &json["hosts"][0];
        let f = h["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "reverse-shell-stdio" && f["subject"] == format!("pid {pid}"))
            .unwrap_or_else(|| panic!("no reverse-shell-stdio on pid {pid}: {}", h["findings"]));
        assert!(
            f["explanation"].as_str().unwrap().contains("127.0.0.1:"),
            "{f}"
        );
        let hit = h["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == "reverse-shell-stdio")
            .unwrap();
        assert!(
            hit["mitre"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "T1059.004")
        );
    });
    // The shell this test started, by its PID, whatever happened above.
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
