//! Evidence in object storage (README "Object storage"), against a local S3-compatible
//! server (`moto`, started and stopped by PID on a free loopback port; skipped outside CI when
//! it is not installed, a failure under CI):
//!
//! - `collect --root FIXTURE --out s3://bucket/prefix` puts the bundle, its sidecar, the custody
//!   ledger and the analysis in the bucket, no staging object and no open upload left; the
//!   bundle in the bucket is the one collected (its SHA-256 in the sidecar); `verify` and
//!   `analyze` read the prefix and a bundle's URL (named by URL in the output), a byte
//!   changed in the bucket fails verification, and the analysis from the bucket is the
//!   analysis written at collection.
//! - Create-only: a second run at the same prefix is refused before collecting; an object
//!   already at a name the run writes is never overwritten (its bytes unchanged), the run
//!   fails (exit 2) and keeps its output locally, named in the error.
//! - Refused credentials and a missing bucket: one line, exit 2, before anything is collected,
//!   the secret key never printed.
//! - A server that dies in the middle of the bundle's upload (a proxy in front of moto cut
//!   after part of the bundle has gone through): exit 2, one line, the bundle kept locally
//!   and whole (it verifies), and no object under the bundle's name in the bucket.
//! - A bundle of about 45 MB (an incompressible login record file) goes up in several parts
//!   and comes back in several ranges: the object is the bundle the sidecar names, and it
//!   verifies from the bucket.
//! - Endpoint and profile checks that need no server: plain http to a non-loopback endpoint
//!   is refused, and so is an AWS_PROFILE the credentials file does not have.

use dossier_tests::s3::{CutProxy, Moto, env_for};
use dossier_tests::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `dossier ARGS` in `dir` (also its TMPDIR, so a kept staging folder stays in the test's
/// folder) against `endpoint`.
fn run(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    let mut c = dossier_cmd(dir);
    env_for(&mut c, endpoint);
    c.env("TMPDIR", dir)
        .args(args)
        .output()
        .expect("run dossier")
}

/// The one line of an error run, checked: exit 2, one line, the secret never shown.
fn one_error_line(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{}{err}", stdout(o));
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("dossier: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(!err.contains("dossier-test-secret"), "{err}");
    lines[0].to_string()
}

/// The staging folder an error kept (`... kept in DIR: ...`).
fn kept_dir(line: &str) -> PathBuf {
    let after = line
        .split("kept in ")
        .nth(1)
        .expect("the kept folder named");
    PathBuf::from(after.split(':').next().unwrap().trim())
}

fn miner() -> String {
    fixture("rootfs-miner").to_str().unwrap().to_string()
}

#[test]
fn collect_verify_analyze_through_the_bucket() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("evidence");
    let d = tempfile::tempdir().unwrap();
    let ep = moto.endpoint();
    let root = miner();
    let o = run(
        d.path(),
        &ep,
        &[
            "collect",
            "--quiet",
            "--root",
            &root,
            "--out",
            "s3://evidence/case/host1",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let url = stdout(&o).trim().to_string();
    let name = url
        .strip_prefix("s3://evidence/case/host1/")
        .expect("the bundle's URL printed");
    assert!(name.ends_with(".zip"), "{url}");
    let keys = moto.keys("evidence");
    for k in [
        format!("case/host1/{name}"),
        format!("case/host1/{name}.sha256"),
        "case/host1/custody.jsonl".into(),
        "case/host1/analysis/findings.json".into(),
        "case/host1/analysis/fleet-report.md".into(),
    ] {
        assert!(keys.contains(&k), "{k} not in {keys:?}");
    }
    assert!(
        !keys.iter().any(|k| k.contains(".dossier-incoming")),
        "{keys:?}"
    );
    assert_eq!(moto.open_uploads("evidence"), 0);
    // The bytes in the bucket are the bundle the sidecar names.
    let bytes = moto.get("evidence", &format!("case/host1/{name}"));
    let copy = d.path().join("copy.zip");
    std::fs::write(&copy, &bytes).unwrap();
    let sidecar =
        String::from_utf8(moto.get("evidence", &format!("case/host1/{name}.sha256"))).unwrap();
    assert!(sidecar.starts_with(&sha256_file(&copy)), "{sidecar}");
    // No staging folder is left once everything is in the bucket.
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("dossier-s3-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    for input in ["s3://evidence/case/host1".to_string(), url.clone()] {
        let v = run(d.path(), &ep, &["verify", &input]);
        assert!(v.status.success(), "{input}: {}{}", stdout(&v), stderr(&v));
        let out = stdout(&v);
        // The bundle is named by its URL, not by the staging folder it was read from.
        assert!(
            out.starts_with(&format!("OK      s3://evidence/case/host1/{name}  sha256 ")),
            "{out}"
        );
    }
    // The downloaded bytes are what is verified: one byte changed in the bucket fails.
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    for (key, body) in [
        (format!("/evidence/case/tampered/{name}"), bad),
        (
            format!("/evidence/case/tampered/{name}.sha256"),
            sidecar.clone().into_bytes(),
        ),
    ] {
        assert_eq!(moto.request("PUT", &key, &body).0, 200);
    }
    let v = run(d.path(), &ep, &["verify", "s3://evidence/case/tampered"]);
    assert_eq!(v.status.code(), Some(1), "{}{}", stdout(&v), stderr(&v));
    assert!(
        stdout(&v).starts_with(&format!("FAILED  s3://evidence/case/tampered/{name}")),
        "{}",
        stdout(&v)
    );
    let a = run(
        d.path(),
        &ep,
        &["analyze", "s3://evidence/case/host1", "--out", "report"],
    );
    assert!(a.status.success(), "{}{}", stdout(&a), stderr(&a));
    assert!(stdout(&a).contains("Malicious"), "{}", stdout(&a));
    let here = std::fs::read(d.path().join("report/findings.json")).unwrap();
    let there = moto.get("evidence", "case/host1/analysis/findings.json");
    assert_eq!(
        here, there,
        "the same analysis from the bucket as at collection"
    );

    // Create-only: the same prefix again is refused before anything is collected.
    let before = moto.keys("evidence");
    let again = run(
        d.path(),
        &ep,
        &[
            "collect",
            "--root",
            &root,
            "--out",
            "s3://evidence/case/host1",
        ],
    );
    let line = one_error_line(&again);
    assert!(
        line.contains("holds custody.jsonl of an earlier run"),
        "{line}"
    );
    assert!(!stderr(&again).contains("collecting"), "{}", stderr(&again));
    assert_eq!(moto.keys("evidence"), before);
}

#[test]
fn an_object_in_the_way_is_never_overwritten() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("evidence");
    let d = tempfile::tempdir().unwrap();
    let planted = b"an earlier analysis, not to be replaced".to_vec();
    let (status, body) = moto.request(
        "PUT",
        "/evidence/case/host2/analysis/findings.json",
        &planted,
    );
    assert_eq!(status, 200, "{body}");
    let o = run(
        d.path(),
        &moto.endpoint(),
        &[
            "collect",
            "--quiet",
            "--root",
            &miner(),
            "--out",
            "s3://evidence/case/host2",
        ],
    );
    let line = one_error_line(&o);
    assert!(
        line.contains("s3://evidence/case/host2/analysis/findings.json: already exists"),
        "{line}"
    );
    assert_eq!(
        moto.get("evidence", "case/host2/analysis/findings.json"),
        planted
    );
    // The output is kept locally (the bundle is already in the bucket, whole).
    let kept = kept_dir(&line);
    assert!(kept.join("analysis/findings.json").is_file(), "{line}");
    let keys = moto.keys("evidence");
    assert!(keys.iter().any(|k| k.ends_with(".zip")), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.contains(".dossier-incoming")),
        "{keys:?}"
    );
}

#[test]
fn refused_credentials_and_a_missing_bucket_stop_before_collecting() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("evidence");
    let d = tempfile::tempdir().unwrap();
    let ep = moto.endpoint();
    let root = miner();
    let o = run(
        d.path(),
        &ep,
        &[
            "collect",
            "--root",
            &root,
            "--out",
            "s3://no-such-bucket/case",
        ],
    );
    let line = one_error_line(&o);
    assert!(
        line.contains("the bucket no-such-bucket does not exist"),
        "{line}"
    );
    assert!(!stderr(&o).contains("collecting"), "{}", stderr(&o));
    let v = run(d.path(), &ep, &["verify", "s3://no-such-bucket/case"]);
    assert!(one_error_line(&v).contains("does not exist"));

    moto.require_auth();
    for args in [
        vec![
            "collect",
            "--root",
            root.as_str(),
            "--out",
            "s3://evidence/case",
        ],
        vec!["verify", "s3://evidence/case"],
    ] {
        let o = run(d.path(), &ep, &args);
        let line = one_error_line(&o);
        assert!(line.contains("the credentials were refused"), "{line}");
        assert!(line.contains("InvalidAccessKeyId"), "{line}");
        assert!(!stderr(&o).contains("collecting"), "{}", stderr(&o));
    }
}

#[test]
fn a_server_dying_mid_upload_leaves_no_bundle_that_looks_complete() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("evidence");
    let d = tempfile::tempdir().unwrap();
    // The listing before collection is well under 16 KiB; the bundle is about 45 KB.
    let proxy = CutProxy::start(moto.port, 16 * 1024);
    let o = run(
        d.path(),
        &format!("http://127.0.0.1:{}", proxy.port),
        &[
            "collect",
            "--quiet",
            "--no-analyze",
            "--root",
            &miner(),
            "--out",
            "s3://evidence/case/host3",
        ],
    );
    assert!(
        proxy.cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy was not cut"
    );
    let line = one_error_line(&o);
    assert!(line.contains("could not be reached"), "{line}");
    let kept = kept_dir(&line);
    let bundle = std::fs::read_dir(&kept)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .expect("the bundle kept locally");
    let v = dossier(d.path(), &["verify", bundle.to_str().unwrap()]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    let name = bundle.file_name().unwrap().to_string_lossy().into_owned();
    let keys = moto.keys("evidence");
    assert!(
        !keys
            .iter()
            .any(|k| k.ends_with(".zip") || k.ends_with(&name)),
        "an incomplete bundle looks complete: {keys:?}"
    );
}

#[test]
fn plain_http_to_a_network_endpoint_and_an_unknown_profile_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let root = miner();
    let o = run(
        d.path(),
        "http://192.0.2.1:9000",
        &["collect", "--root", &root, "--out", "s3://evidence/case"],
    );
    let line = one_error_line(&o);
    assert!(
        line.contains("AWS_ENDPOINT_URL http://192.0.2.1:9000: plain http only to a loopback"),
        "{line}"
    );
    let creds = d.path().join("credentials");
    std::fs::write(
        &creds,
        "[default]\naws_access_key_id = A\naws_secret_access_key = dossier-test-secret\n",
    )
    .unwrap();
    let mut c = dossier_cmd(d.path());
    env_for(&mut c, "http://127.0.0.1:9");
    let o = c
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_PROFILE", "case-7")
        .env("TMPDIR", d.path())
        .args(["verify", "s3://evidence/case"])
        .output()
        .unwrap();
    let line = one_error_line(&o);
    assert!(line.contains("no keys for profile case-7"), "{line}");
}

#[test]
fn a_bundle_of_several_parts_round_trips() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("evidence");
    let d = tempfile::tempdir().unwrap();
    // A login record file of 20 MB that does not compress (xorshift bytes): the bundle holds
    // it, so it is uploaded in several 8 MiB parts and downloaded in several ranges.
    let root = fixture_copy("rootfs-clean", &d.path().join("root"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..20_000_000 / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    std::fs::write(root.join("var/log/wtmp"), &noise).unwrap();
    let ep = moto.endpoint();
    let o = run(
        d.path(),
        &ep,
        &[
            "collect",
            "--quiet",
            "--no-analyze",
            "--root",
            root.to_str().unwrap(),
            "--out",
            "s3://evidence/big",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let url = stdout(&o).trim().to_string();
    let key = url.strip_prefix("s3://evidence/").unwrap();
    let bytes = moto.get("evidence", key);
    assert!(bytes.len() > 2 * (8 << 20), "{} bytes", bytes.len());
    let copy = d.path().join("copy.zip");
    std::fs::write(&copy, &bytes).unwrap();
    let sidecar = String::from_utf8(moto.get("evidence", &format!("{key}.sha256"))).unwrap();
    assert!(sidecar.starts_with(&sha256_file(&copy)), "{sidecar}");
    assert_eq!(moto.open_uploads("evidence"), 0);
    let v = run(d.path(), &ep, &["verify", &url]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
}
