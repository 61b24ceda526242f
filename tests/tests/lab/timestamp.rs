//! `dossier sweep --tsa URL` against the SSH lab: the swept bundle gets its RFC 3161 token
//! from a local TSA (listening inside the lab's network namespace, where the sweep runs),
//! recorded in the custody ledger, that `verify --tsa-cert` accepts offline.

use dossier_tests::lab::{Lab, Scenario};
use dossier_tests::tsa::{Answer, start_tsa_in};
use dossier_tests::{dossier, stderr, stdout};

#[test]
fn sweep_tsa_timestamps_every_bundle() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean]) else {
        return;
    };
    let Some(tsa) = start_tsa_in(Answer::Token, Some(lab.netns())) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let target = format!("root@{}", lab.hosts()[0].addr);
    let key = lab.client_key().to_str().unwrap().to_string();
    let o = lab.sweep(
        tmp.path(),
        &out,
        lab.known_hosts(),
        &[&target, "-i", &key, "--no-analyze", "--tsa", &tsa.url],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let bundles: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    assert_eq!(bundles.len(), 1);
    let b = &bundles[0];
    assert!(std::path::PathBuf::from(format!("{}.tsr", b.display())).is_file());
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    assert!(ledger.contains("\"action\":\"timestamped\""), "{ledger}");
    let o = dossier(
        tmp.path(),
        &[
            "verify",
            "--tsa-cert",
            &tsa.file("ca.pem"),
            b.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("timestamped by O=dossier e2e, CN=dossier e2e TSA at 20"),
        "{}",
        stdout(&o)
    );
}
