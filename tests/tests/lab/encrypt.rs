//! `dossier sweep --encrypt-to RECIPIENT` against the SSH lab: the swept bundle is written
//! only as `BUNDLE.zip.age` (no plaintext bundle, no plaintext reports), its sidecar and
//! ledger entry are over the encrypted file, and `verify --identity` decrypts and checks it.

use dossier_tests::lab::{Lab, Scenario};
use dossier_tests::{dossier, dossier_bin, have, skip_or_fail, stderr, stdout};
use std::process::Stdio;

#[test]
fn sweep_encrypt_to_writes_only_encrypted_bundles() {
    let _g = dossier_tests::lab::serial();
    if !have("age-keygen") {
        skip_or_fail("no age-keygen on PATH (package age): sweep --encrypt-to not tested");
        return;
    }
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let id = tmp.path().join("examiner.key");
    let o = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&id)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(&id)
        .output()
        .unwrap();
    let recipient = stdout(&o).trim().to_string();
    let out = tmp.path().join("out");
    let target = format!("root@{}", lab.hosts()[0].addr);
    let o = lab
        .command(dossier_bin())
        .arg("sweep")
        .arg(&target)
        .arg("-i")
        .arg(lab.client_key())
        .arg("--out")
        .arg(&out)
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .args(["--ssh-config", "/dev/null", "--connect-timeout", "3"])
        .args(["--encrypt-to", &recipient])
        .env("HOME", tmp.path())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("DOSSIER_PLUGIN_PATH")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("encrypted bundles are not analyzed here"),
        "{}",
        stderr(&o)
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!out.join("analysis").exists(), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with(".zip")), "{names:?}");
    let bundles: Vec<_> = names.iter().filter(|n| n.ends_with(".zip.age")).collect();
    assert_eq!(bundles.len(), 1, "{names:?}");
    let b = out.join(bundles[0]);
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    assert!(ledger.contains(&dossier_tests::sha256_file(&b)), "{ledger}");
    let o = dossier(tmp.path(), &["verify", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("contents not checked"),
        "{}",
        stdout(&o)
    );
    let o = dossier(
        tmp.path(),
        &[
            "verify",
            "--identity",
            id.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("(encrypted, decrypted)"),
        "{}",
        stdout(&o)
    );
}
