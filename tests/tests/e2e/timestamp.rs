//! Trusted time: `collect --tsa URL` against a local RFC 3161 TSA started by the test (the
//! stock `openssl ts -reply` behind a tiny HTTP listener on 127.0.0.1), the token stored as
//! `BUNDLE.tsr` and recorded in the ledger, `verify --tsa-cert` checking it offline, the stock
//! `openssl ts -verify` accepting it, and each failure named: another bundle, a changed bundle
//! with a forged sidecar, a flipped byte, another CA, a TSA that is down or answers garbage.

use dossier_tests::tsa::{Answer, start_tsa};
use dossier_tests::*;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `collect --tsa URL` of the clean fixture into `dir/out`: its output and bundle path.
fn collect_stamped(dir: &Path, url: &str) -> (Output, PathBuf) {
    let root = fixture("rootfs-clean");
    let o = dossier(
        dir,
        &[
            "collect",
            "--quiet",
            "--no-analyze",
            "--out",
            "out",
            "--root",
            root.to_str().unwrap(),
            "--tsa",
            url,
        ],
    );
    let b = dir.join(stdout(&o).lines().last().unwrap_or("?"));
    assert!(b.is_file(), "{}{}", stdout(&o), stderr(&o));
    (o, b)
}

fn tsr(b: &Path) -> PathBuf {
    PathBuf::from(format!("{}.tsr", b.display()))
}

fn last_entry(dir: &Path) -> serde_json::Value {
    let ledger = std::fs::read_to_string(dir.join("out/custody.jsonl")).unwrap();
    serde_json::from_str(ledger.lines().last().unwrap()).unwrap()
}

fn verify(dir: &Path, b: &Path, certs: &[&str]) -> Output {
    let mut args = vec!["verify", "--no-ledger"];
    for c in certs {
        args.extend(["--tsa-cert", c]);
    }
    args.push(b.to_str().unwrap());
    dossier(dir, &args)
}

#[test]
fn a_timestamped_bundle_verifies_offline_and_with_stock_openssl() {
    let Some(tsa) = start_tsa(Answer::Token) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (o, b) = collect_stamped(d.path(), &tsa.url);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let token = tsr(&b);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let entry = last_entry(d.path());
    assert_eq!(entry["action"], "timestamped");
    assert_eq!(entry["sha256"], sha256_file(&b).as_str());
    let detail = entry["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("TSA O=dossier e2e, CN=dossier e2e TSA, genTime 20"),
        "{detail}"
    );
    let gen_time = detail
        .split("genTime ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();

    for certs in [["ca.pem"], ["tsa.pem"]] {
        let certs: Vec<String> = certs.iter().map(|c| tsa.file(c)).collect();
        let certs: Vec<&str> = certs.iter().map(String::as_str).collect();
        let o = verify(d.path(), &b, &certs);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let want = format!("timestamped by O=dossier e2e, CN=dossier e2e TSA at {gen_time}");
        assert!(stdout(&o).contains(&want), "{}", stdout(&o));
    }
    let o = verify(d.path(), &b, &[]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("present, not checked (no --tsa-cert)"),
        "{}",
        stdout(&o)
    );

    let o = verify(d.path(), &b, &[&tsa.file("other.pem")]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("timestamp: timestamp token")
            && stdout(&o).contains("the signature does not verify with the given TSA certificates"),
        "{}",
        stdout(&o)
    );

    // A third party, with the stock tool.
    let o = Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(&b)
        .arg("-in")
        .arg(&token)
        .args(["-CAfile", &tsa.file("ca.pem")])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("Verification: OK"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn another_bundles_token_a_changed_bundle_or_a_flipped_byte_fails() {
    let Some(tsa) = start_tsa(Answer::Token) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (_, a) = collect_stamped(d.path(), &tsa.url);
    let (_, b) = collect_stamped(d.path(), &tsa.url);
    assert_ne!(a, b);
    let ca = tsa.file("ca.pem");
    for x in [&a, &b] {
        let o = verify(d.path(), x, &[&ca]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
    let good = std::fs::read(tsr(&b)).unwrap();

    // The token of bundle a beside bundle b.
    std::fs::copy(tsr(&a), tsr(&b)).unwrap();
    let o = verify(d.path(), &b, &[&ca]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("FAILED"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("the token is of another bundle, or the bundle changed"),
        "{}",
        stdout(&o)
    );

    // One byte of the token's TSTInfo or signature changed.
    for at in [good.len() / 4, good.len() - 10] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(tsr(&b), &bad).unwrap();
        let o = verify(d.path(), &b, &[&ca]);
        assert_eq!(o.status.code(), Some(1), "byte {at}: {}", stdout(&o));
        assert!(stdout(&o).contains("        timestamp: "), "{}", stdout(&o));
    }
    std::fs::write(tsr(&b), &good).unwrap();

    // The bundle changed, its sidecar forged to match: only the token can tell.
    let mut data = std::fs::read(&b).unwrap();
    let n = data.len();
    data[n - 3] ^= 0x01; // the end record's comment length: the members stay intact
    std::fs::write(&b, &data).unwrap();
    let name = b.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        format!("{}.sha256", b.display()),
        format!("{}  {name}\n", sha256_file(&b)),
    )
    .unwrap();
    let o = verify(d.path(), &b, &[&ca]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("timestamp: timestamp token")
            && stdout(&o).contains("the bundle file hashes to"),
        "{}",
        stdout(&o)
    );

    // A missing token fails when TSA certificates are given.
    std::fs::remove_file(tsr(&a)).unwrap();
    let o = verify(d.path(), &a, &[&ca]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(".tsr: missing"), "{}", stdout(&o));
}

#[test]
fn a_tsa_that_is_down_or_answers_garbage_leaves_the_bundle_a_warning_and_a_ledger_entry() {
    let Some(garbage) = start_tsa(Answer::Garbage) else {
        return;
    };
    let down = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/tsa", l.local_addr().unwrap())
    };
    for (url, why) in [
        (&down, "cannot connect"),
        (&garbage.url, "not an RFC 3161 timestamp"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let (o, b) = collect_stamped(d.path(), url);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("not timestamped"))
            .collect();
        assert_eq!(warnings.len(), 1, "{err}");
        assert!(
            warnings[0].starts_with(
                "dossier: warning: the bundle is complete and kept, but not timestamped: TSA http://127.0.0.1:"
            ) && warnings[0].contains(why),
            "{err}"
        );
        assert!(!tsr(&b).exists());
        let entry = last_entry(d.path());
        assert_eq!(entry["action"], "timestamp_failed");
        assert!(entry["detail"].as_str().unwrap().contains(why), "{entry}");
        // The bundle is still evidence: it verifies, and its ledger is intact.
        let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
}

#[test]
fn only_http_tsa_urls_are_taken() {
    let d = tempfile::tempdir().unwrap();
    let root = fixture("rootfs-clean");
    let o = dossier(
        d.path(),
        &[
            "collect",
            "--quiet",
            "--out",
            "out",
            "--root",
            root.to_str().unwrap(),
            "--tsa",
            "https://tsa.example/",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("only http:// TSA URLs"),
        "{}",
        stderr(&o)
    );
    assert!(
        !d.path().join("out").exists(),
        "refused before anything is written"
    );
}

#[test]
fn a_signed_and_timestamped_bundle_has_its_timestamp_entry_under_the_signed_ledger_head() {
    let Some(tsa) = start_tsa(Answer::Token) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let with_pass =
        |args: &[&str]| dossier_with_passphrase(d.path(), "timestamp test passphrase", args);
    let o = with_pass(&["keygen", "--out", "keys"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let root = fixture("rootfs-clean");
    let o = with_pass(&[
        "collect",
        "--no-analyze",
        "--out",
        "out",
        "--root",
        root.to_str().unwrap(),
        "--sign",
        "keys/dossier.key",
        "--tsa",
        &tsa.url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("dossier: timestamped by O=dossier e2e, CN=dossier e2e TSA at 20"),
        "{}",
        stderr(&o)
    );
    let b = d.path().join(stdout(&o).lines().last().unwrap());
    let ledger = std::fs::read_to_string(d.path().join("out/custody.jsonl")).unwrap();
    let actions: Vec<String> = ledger
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].to_string())
        .collect();
    assert_eq!(actions, ["\"created\"", "\"signed\"", "\"timestamped\""]);
    let o = dossier(
        d.path(),
        &[
            "verify",
            "--pubkey",
            "keys/dossier.pub",
            "--tsa-cert",
            &tsa.file("ca.pem"),
            b.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("3 line(s), 0 appended since"), "{out}");
    assert!(
        out.contains("timestamped by O=dossier e2e, CN=dossier e2e TSA at 20"),
        "{out}"
    );
}
