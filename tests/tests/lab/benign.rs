//! The benign half of the precision corpus over real SSH: a lab host with the local
//! administration of a real fleet and live services ([`Scenario::Benign`]: an in-house Python
//! web service on 0.0.0.0:8080 under its own user, a developer's dev server on
//! 127.0.0.1:3000, a source-built database listening on 5432, a heartbeat unit, a backup
//! timer, an `ansible` account with password-less sudo) is swept by the real `dossier sweep`
//! binary. The bundle must show the three services listening under their own users, and the
//! host must be judged Unclear/Benign.
//!
//! Without root the lab cannot run and the test prints `skipped: <test>: <reason>` (it fails under
//! `CI`, where the lab must run).

use dossier_tests::lab::benign as b;
use dossier_tests::lab::{Lab, Scenario};
use dossier_tests::records;
use serde_json::Value;

/// "score N verdict: rule(weight) ..." of a host, for messages and the report.
fn summary(h: &Value) -> String {
    let hits: Vec<String> = h["hits"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| format!("{}({})", x["rule"].as_str().unwrap_or("?"), x["weight"]))
                .collect()
        })
        .unwrap_or_default();
    format!("score {} {}: {}", h["score"], h["verdict"], hits.join(" "))
}

#[test]
fn benign_lab_host_with_live_services_is_not_flagged() {
    let _serial = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Benign]) else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let key = lab.client_key().to_str().unwrap().to_string();
    let target = format!("root@{}", h.addr);
    let o = lab.sweep(
        tmp.path(),
        &out,
        lab.known_hosts(),
        &[
            "-i",
            &key,
            &target,
            "--case",
            "LAB-BENIGN",
            "--examiner",
            "ci",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");

    let sj: Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    let t = &sj["targets"][0];
    assert_eq!(t["outcome"], "collected", "{t}");
    let bundle = out.join(t["bundle"].as_str().unwrap());

    // The scenario is what it claims: the three services listen, each as its own user.
    let sockets = records(&bundle, "sockets");
    for (port, addr, uid, process) in [
        (b::APP_PORT, "0.0.0.0", b::APP_USER.1, "python3"),
        (b::DEV_PORT, "127.0.0.1", b::DEV_USER.1, "python3"),
        (b::DB_PORT, "0.0.0.0", b::DB_USER.1, "postgres"),
    ] {
        let found = sockets.iter().any(|s| {
            s["listening"] == true
                && s["local_port"] == port
                && s["local_addr"] == addr
                && s["uid"] == uid
                && s["processes"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|x| x == process))
        });
        assert!(
            found,
            "no {process} listening on {addr}:{port} as uid {uid}: {sockets:?}"
        );
    }

    let json: Value =
        serde_json::from_slice(&std::fs::read(out.join("analysis/findings.json")).unwrap())
            .unwrap();
    let host = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["hostname"] == h.name.as_str())
        .unwrap_or_else(|| panic!("{} not analyzed: {json}", h.name));
    eprintln!("{}: {}", h.name, summary(host));
    for (list, what) in [("findings", "behaviour"), ("context", "context")] {
        for f in host[list].as_array().into_iter().flatten() {
            eprintln!(
                "  {what}: {} on {}: {}",
                f["rule"].as_str().unwrap_or("?"),
                f["subject"].as_str().unwrap_or("?"),
                f["explanation"].as_str().unwrap_or_default()
            );
        }
    }
    assert_eq!(host["verdict"], "Unclear/Benign", "{}", summary(host));
}
