//! `dossier sweep --sign KEY` against the SSH lab: every bundle of the sweep gets its
//! `BUNDLE.minisig`, recorded in the custody ledger, that `verify --pubkey` and the stock
//! `minisign -V` accept.

use dossier_tests::lab::{Lab, Scenario};
use dossier_tests::{dossier, dossier_bin, have, skip_or_fail, stderr, stdout};

const PASS: &str = "lab signing passphrase";

#[test]
fn sweep_sign_signs_every_bundle() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(dossier_bin())
        .args(["keygen", "--out", "keys"])
        .current_dir(tmp.path())
        .env("DOSSIER_SIGN_PASSPHRASE", PASS)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (sk, pk) = (
        tmp.path().join("keys/dossier.key"),
        tmp.path().join("keys/dossier.pub"),
    );
    let out = tmp.path().join("out");
    let target = format!("root@{}", lab.hosts()[0].addr);
    let o = lab
        .sweep_command(tmp.path())
        .arg(&target)
        .arg("-i")
        .arg(lab.client_key())
        .arg("--out")
        .arg(&out)
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .args([
            "--ssh-config",
            "/dev/null",
            "--connect-timeout",
            "3",
            "--no-analyze",
        ])
        .arg("--sign")
        .arg(&sk)
        .env("DOSSIER_SIGN_PASSPHRASE", PASS)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let bundles: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    assert_eq!(bundles.len(), 1);
    let b = &bundles[0];
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    assert!(ledger.contains("\"action\":\"signed\""), "{ledger}");
    let o = dossier(
        tmp.path(),
        &[
            "verify",
            "--require-signature",
            "--pubkey",
            pk.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("signed by key"), "{}", stdout(&o));
    if !have("minisign") {
        skip_or_fail("no minisign on PATH (package minisign): the stock check is not run");
        return;
    }
    let o = std::process::Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(&pk)
        .arg("-m")
        .arg(b)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}
