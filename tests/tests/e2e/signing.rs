//! Bundle signatures: `dossier keygen`, `collect --sign`, `verify --pubkey` and
//! `--require-signature`, and the stock `minisign -V` accepting what dossier signed.

use dossier_tests::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASS: &str = "correct horse battery staple";

/// `dossier ARGS` in `cwd` with the signing passphrase in the environment.
fn signing(cwd: &Path, args: &[&str]) -> Output {
    dossier_with_passphrase(cwd, PASS, args)
}

/// A key pair in `dir/keys`, and a signed bundle of the clean fixture in `dir/out`.
pub(crate) fn signed_bundle(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let o = signing(dir, &["keygen", "--out", "keys"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let (sk, pk) = (dir.join("keys/dossier.key"), dir.join("keys/dossier.pub"));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sk), 0o600);
    assert_eq!(mode(&pk), 0o644);
    let root = fixture("rootfs-clean");
    let o = signing(
        dir,
        &[
            "collect",
            "--quiet",
            "--no-analyze",
            "--out",
            "out",
            "--root",
            root.to_str().unwrap(),
            "--sign",
            sk.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let b = dir.join(stdout(&o).lines().last().unwrap());
    assert!(b.is_file(), "{}", b.display());
    (sk, pk, b)
}

fn verify_with(dir: &Path, pk: &Path, b: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify", "--no-ledger", "--pubkey", pk.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(b.to_str().unwrap());
    dossier(dir, &args)
}

fn sig_of(b: &Path) -> PathBuf {
    PathBuf::from(format!("{}.minisig", b.display()))
}

fn flip(path: &Path, at: usize) {
    let mut data = std::fs::read(path).unwrap();
    data[at] ^= 0x01;
    std::fs::write(path, data).unwrap();
}

#[test]
fn a_signed_bundle_verifies_and_any_flipped_byte_is_named() {
    let d = tempfile::tempdir().unwrap();
    let (_, pk, b) = signed_bundle(d.path());
    let sig = sig_of(&b);
    assert!(sig.is_file());
    let ledger = std::fs::read_to_string(d.path().join("out/custody.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "signed");
    let key_id = last["detail"].as_str().unwrap()[4..20].to_string();
    assert_eq!(manifest(&b)["collection"]["signer_key_id"], key_id.as_str());

    let o = verify_with(d.path(), &pk, &b, &["--require-signature"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("signed by key {key_id}")),
        "{}",
        stdout(&o)
    );
    let name = b.file_name().unwrap().to_str().unwrap();
    assert!(stdout(&o).contains(&format!("file:{name} sha256:")));

    // A byte of the signature (its base64 signature line).
    let saved_sig = std::fs::read(&sig).unwrap();
    let text = String::from_utf8(saved_sig.clone()).unwrap();
    let line2 = text.find('\n').unwrap() + 10;
    flip(&sig, line2);
    let o = verify_with(d.path(), &pk, &b, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("signature:"), "{}", stdout(&o));
    std::fs::write(&sig, &saved_sig).unwrap();

    // A byte of the bundle, with the sidecar forged to match: only the signature catches it.
    let saved = std::fs::read(&b).unwrap();
    flip(&b, saved.len() / 2);
    let sidecar = format!("{}.sha256", b.display());
    std::fs::write(&sidecar, format!("{}  {name}\n", sha256_file(&b))).unwrap();
    let o = verify_with(d.path(), &pk, &b, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("signature: signature") && stdout(&o).contains("does not verify"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn verify_pubkey_catches_a_truncated_or_edited_ledger_tail() {
    let d = tempfile::tempdir().unwrap();
    let (_, pk, b) = signed_bundle(d.path());
    let ledger = d.path().join("out/custody.jsonl");
    assert!(d.path().join("out/custody.jsonl.minisig").is_file());
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--pubkey", pk.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(b.to_str().unwrap());
        dossier(d.path(), &args)
    };
    // Intact: OK, and the `verified` line it appends (unsigned) does not break the next check.
    for since in 0..2 {
        let o = verify(&[]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        assert!(
            stdout(&o).contains(&format!("2 line(s), {since} appended since")),
            "{}",
            stdout(&o)
        );
    }
    let full = std::fs::read_to_string(&ledger).unwrap();
    let lines: Vec<&str> = full.lines().collect();
    assert_eq!(lines.len(), 4, "created, signed, verified, verified");

    // The tail cut back to before the `signed` entry: the chain alone still holds.
    std::fs::write(&ledger, format!("{}\n", lines[0])).unwrap();
    let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "without --pubkey: unchanged, {}",
        stdout(&o)
    );
    let o = verify(&["--no-ledger"]);
    assert!(
        o.status.success(),
        "--no-ledger does not look at the ledger"
    );
    std::fs::write(&ledger, format!("{}\n", lines[0])).unwrap();
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("truncated"), "{}", stdout(&o));

    // The signed tail line edited (nothing chains after it, so the chain holds).
    let edited = lines[1].replacen("\"signed\"", "\"signee\"", 1);
    assert_ne!(edited, lines[1]);
    std::fs::write(&ledger, format!("{}\n{edited}\n", lines[0])).unwrap();
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("edited"), "{}", stdout(&o));

    // The head signature deleted.
    std::fs::write(&ledger, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    std::fs::remove_file(d.path().join("out/custody.jsonl.minisig")).unwrap();
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("custody.jsonl.minisig: missing"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn stock_minisign_accepts_a_dossier_signature() {
    if !have("minisign") {
        skip_or_fail("no minisign on PATH (package minisign): the stock check is not run");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (_, pk, b) = signed_bundle(d.path());
    let o = Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(&pk)
        .arg("-m")
        .arg(&b)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("sha256:"), "{}", stdout(&o));
}

#[test]
fn require_signature_fails_an_unsigned_bundle_and_plain_verify_is_unchanged() {
    let d = tempfile::tempdir().unwrap();
    let o = signing(d.path(), &["keygen", "--out", "keys"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pk = d.path().join("keys/dossier.pub");
    let root = fixture("rootfs-clean");
    let b = collect(
        d.path(),
        &d.path().join("out"),
        &["--no-analyze", "--root", root.to_str().unwrap()],
    );
    assert!(!sig_of(&b).exists());
    assert!(manifest(&b)["collection"].get("signer_key_id").is_none());
    let o = verify_with(d.path(), &pk, &b, &["--require-signature"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("signature: signature"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("missing"), "{}", stdout(&o));
    let o = dossier(d.path(), &["verify", "--no-ledger", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(!stdout(&o).contains("signed"));
}

#[test]
fn keygen_never_overwrites_and_an_exposed_secret_key_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let o = signing(d.path(), &["keygen", "--out", "keys"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sk = d.path().join("keys/dossier.key");
    let before = std::fs::read(&sk).unwrap();
    let o = signing(d.path(), &["keygen", "--out", "keys"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&sk).unwrap(), before);
    std::fs::set_permissions(&sk, std::fs::Permissions::from_mode(0o644)).unwrap();
    let root = fixture("rootfs-clean");
    let o = signing(
        d.path(),
        &[
            "collect",
            "--no-analyze",
            "--out",
            "out",
            "--root",
            root.to_str().unwrap(),
            "--sign",
            sk.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("readable by group or others"),
        "{}",
        stderr(&o)
    );
    assert!(
        !d.path().join("out").exists(),
        "nothing collected with a refused key"
    );
}

#[test]
fn a_signed_bundle_without_its_ledger_or_ledger_head_fails_naming_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    let (_, pk, b) = signed_bundle(d.path());
    let out = d.path().join("out");
    let (ledger, head) = (out.join("custody.jsonl"), out.join("custody.jsonl.minisig"));
    let (ledger_bytes, head_bytes) = (
        std::fs::read(&ledger).unwrap(),
        std::fs::read(&head).unwrap(),
    );
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--pubkey", pk.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(b.to_str().unwrap());
        dossier(d.path(), &args)
    };
    for (gone, named) in [
        (vec![&ledger], vec!["custody.jsonl: missing"]),
        (vec![&head], vec!["custody.jsonl.minisig: missing"]),
        (
            vec![&ledger, &head],
            vec!["custody.jsonl: missing", "custody.jsonl.minisig: missing"],
        ),
    ] {
        std::fs::write(&ledger, &ledger_bytes).unwrap();
        std::fs::write(&head, &head_bytes).unwrap();
        for p in &gone {
            std::fs::remove_file(p).unwrap();
        }
        let o = verify(&[]);
        assert_eq!(o.status.code(), Some(1), "{gone:?}: {}", stdout(&o));
        assert!(stdout(&o).starts_with("FAILED"), "{}", stdout(&o));
        for n in named {
            assert!(stdout(&o).contains(n), "{n}: {}", stdout(&o));
        }
        assert!(
            stdout(&o).contains("the bundle is signed"),
            "{}",
            stdout(&o)
        );
        // A bundle copied without its case directory is checked with --no-ledger.
        let o = verify(&["--no-ledger"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
    // Without --pubkey, as before: a note, not a failure; and a note that it is signed.
    std::fs::remove_file(&ledger).ok();
    let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stderr(&o).contains("no custody ledger"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("was signed (key ") && stderr(&o).contains("only with --pubkey"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_unsigned_ledger_tail_is_hash_chained_but_its_last_line_is_covered_by_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (_, pk, b) = signed_bundle(d.path());
    let ledger = d.path().join("out/custody.jsonl");
    let verify = || {
        dossier(
            d.path(),
            &[
                "verify",
                "--no-ledger",
                "--pubkey",
                pk.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
        )
    };
    let verify_ledger = || {
        dossier(
            d.path(),
            &[
                "verify",
                "--pubkey",
                pk.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
        )
    };
    for _ in 0..2 {
        assert!(verify_ledger().status.success());
    }
    assert!(verify().status.success());
    let full = std::fs::read_to_string(&ledger).unwrap();
    let lines: Vec<&str> = full.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "created, signed (signed head), verified, verified"
    );
    // An unsigned line with one after it: the chain breaks at the next line.
    let edited = lines[2].replacen("members checked", "members checkeD", 1);
    assert_ne!(edited, lines[2]);
    std::fs::write(
        &ledger,
        format!("{}\n{}\n{edited}\n{}\n", lines[0], lines[1], lines[3]),
    )
    .unwrap();
    let o = verify_ledger();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("line 4") && stdout(&o).contains("prev"),
        "{}",
        stdout(&o)
    );
    // The last line: nothing signs it and nothing chains after it, so an edit of it is not
    // detected (README, Signing: what the unsigned tail does not prove).
    let edited = lines[3].replacen("members checked", "members checkeD", 1);
    std::fs::write(
        &ledger,
        format!("{}\n{}\n{}\n{edited}\n", lines[0], lines[1], lines[2]),
    )
    .unwrap();
    let o = verify_ledger();
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("2 line(s), 2 appended since"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_trusted_keys_file_names_the_signer_and_is_refused_when_others_may_write_it() {
    let d = tempfile::tempdir().unwrap();
    let (_, pk, b) = signed_bundle(d.path());
    let other = d.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let o = signing(&other, &["keygen", "--out", "keys"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key_line = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let list = d.path().join("trusted-keys");
    std::fs::write(
        &list,
        format!(
            "# who may sign evidence of case 42\nuntrusted comment: Bob (night shift)\n{}\n\nuntrusted comment: Alice (lab laptop)\n{}\n",
            key_line(&other.join("keys/dossier.pub")),
            key_line(&pk)
        ),
    )
    .unwrap();
    std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec!["verify", "--trusted-keys", list.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.push(b.to_str().unwrap());
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        dossier(d.path(), &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&["--require-signature"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("(Alice (lab laptop)): dossier bundle file:"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("custody ledger head signed by key"),
        "{}",
        stdout(&o)
    );
    for mode in [0o664, 0o666] {
        std::fs::set_permissions(&list, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = run(&[]);
        assert_eq!(o.status.code(), Some(2), "{mode:o}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("group or others may write it"),
            "{}",
            stderr(&o)
        );
    }
    // Only Bob's key trusted: Alice's signature is refused.
    std::fs::write(
        &list,
        format!(
            "untrusted comment: Bob\n{}\n",
            key_line(&other.join("keys/dossier.pub"))
        ),
    )
    .unwrap();
    std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(&["--no-ledger"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("not among the trusted keys"),
        "{}",
        stdout(&o)
    );
    // --require-signature needs keys.
    let o = dossier(
        d.path(),
        &["verify", "--require-signature", b.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--pubkey or --trusted-keys"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn analyze_with_a_pubkey_refuses_a_bundle_whose_signature_fails() {
    let d = tempfile::tempdir().unwrap();
    let (_, pk, b) = signed_bundle(d.path());
    let analyze = |extra: &[&str], out: &str| {
        let mut args = vec!["analyze", "--out", out];
        args.extend_from_slice(extra);
        args.push(b.to_str().unwrap());
        dossier(d.path(), &args)
    };
    let o = analyze(&["--pubkey", pk.to_str().unwrap()], "r1");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(d.path().join("r1/fleet-report.md").is_file());
    // The signature's base64 line changed: the bundle itself is intact, only the signature
    // check can refuse it.
    let sig = sig_of(&b);
    let text = std::fs::read_to_string(&sig).unwrap();
    flip(&sig, text.find('\n').unwrap() + 30);
    let o = analyze(&["--pubkey", pk.to_str().unwrap()], "r2");
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("NOT ANALYZED") && stdout(&o).contains("signature:"),
        "{}",
        stdout(&o)
    );
    assert!(!d.path().join("r2/fleet-report.md").exists());
    let o = analyze(&[], "r3");
    assert!(
        o.status.success(),
        "without keys, as before: {}",
        stdout(&o)
    );
}

#[test]
fn the_signature_must_cover_the_bytes_the_bundle_check_read() {
    // What a file swapped between verify's two reads (bundle check, then signature) looks
    // like: a good signature over bytes whose signed SHA-256 is not the one verified.
    let d = tempfile::tempdir().unwrap();
    let (sk, pk, b) = signed_bundle(d.path());
    std::fs::remove_file(sig_of(&b)).unwrap();
    let key = dossier_bundle::signature::SigningKey::load(&sk, PASS).unwrap();
    key.sign_bundle(&b, &"0".repeat(64)).unwrap();
    let o = verify_with(d.path(), &pk, &b, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("the file changed while it was verified"),
        "{}",
        stdout(&o)
    );
}
