//! Bundles encrypted to recipients (issue 15): `collect --encrypt-to --sign` writes only
//! `BUNDLE.zip.age` (no plaintext in the output directory), anyone checks its sidecar,
//! signature and ledger without the key, `--identity` decrypts it as a stream for `verify`
//! and `analyze` (the same report as the plaintext bundle), the stock `age` decrypts it to a
//! zip `unzip -t` accepts, and a changed byte, a cut file or a wrong key fail with a reason.

use dossier_tests::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASS: &str = "correct horse battery staple";

/// `dossier ARGS` in `cwd` with the signing passphrase in the environment.
fn run(cwd: &Path, args: &[&str]) -> Output {
    dossier_with_passphrase(cwd, PASS, args)
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
}

/// An age identity file made by the stock `age-keygen` in `dir` (mode 0600), and its
/// recipient; `None` (skipped, or failed under CI) without `age-keygen`.
fn age_key(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    if !have("age-keygen") || !have("age") {
        skip_or_fail("no age/age-keygen on PATH (package age): encryption tests not run");
        return None;
    }
    let id = dir.join(name);
    let o = Command::new("age-keygen")
        .arg("-o")
        .arg(&id)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = Command::new("age-keygen")
        .arg("-y")
        .arg(&id)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    Some((id, stdout(&o).trim().to_string()))
}

/// What `collect --encrypt-to --sign` made in `dir/out`.
pub(crate) struct Sealed {
    pub(crate) bundle: PathBuf,
    pub(crate) identity: PathBuf,
    pub(crate) pubkey: PathBuf,
}

/// A signing key, an age key and a signed bundle of the clean fixture encrypted to it.
pub(crate) fn sealed(dir: &Path) -> Option<Sealed> {
    let (identity, recipient) = age_key(dir, "id.txt")?;
    ok(&run(dir, &["keygen", "--out", "keys"]));
    let root = fixture("rootfs-clean");
    let o = run(
        dir,
        &[
            "collect",
            "--quiet",
            "--out",
            "out",
            "--root",
            root.to_str().unwrap(),
            "--sign",
            "keys/dossier.key",
            "--encrypt-to",
            &recipient,
        ],
    );
    ok(&o);
    assert!(
        stderr(&o).contains("encrypted bundles are not analyzed here"),
        "{}",
        stderr(&o)
    );
    let bundle = dir.join(stdout(&o).lines().last().unwrap());
    Some(Sealed {
        bundle,
        identity,
        pubkey: dir.join("keys/dossier.pub"),
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn collect_encrypt_to_writes_only_the_encrypted_bundle_and_custody_holds_without_the_key() {
    let d = tempfile::tempdir().unwrap();
    let Some(x) = sealed(d.path()) else { return };
    let name = x.bundle.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.ends_with(".zip.age"), "{name}");
    let mut files: Vec<String> = std::fs::read_dir(d.path().join("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // No `.zip`, no partial or temporary file, no analysis folder: nothing in the clear.
    let expected = [
        name.clone(),
        format!("{name}.minisig"),
        format!("{name}.sha256"),
        "custody.jsonl".to_string(),
        "custody.jsonl.minisig".to_string(),
    ];
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(files, expected);
    let data = std::fs::read(&x.bundle).unwrap();
    assert!(data.starts_with(b"age-encryption.org/v1\n"));
    // The sidecar and the ledger are over the encrypted file.
    let sha = sha256_file(&x.bundle);
    let sidecar = std::fs::read_to_string(format!("{}.sha256", x.bundle.display())).unwrap();
    assert_eq!(sidecar, format!("{sha}  {name}\n"));
    let ledger = std::fs::read_to_string(d.path().join("out/custody.jsonl")).unwrap();
    assert!(ledger.lines().next().unwrap().contains(&sha), "{ledger}");

    // A third party with the public key only: file, signature and ledger, contents not.
    let o = run(
        d.path(),
        &[
            "verify",
            "--pubkey",
            s(&x.pubkey),
            "--require-signature",
            s(&x.bundle),
        ],
    );
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("OK ") && out.contains("(encrypted, contents not checked: no --identity)"),
        "{out}"
    );
    assert!(out.contains("signed by key"), "{out}");
    // The stock minisign agrees on the encrypted file.
    if have("minisign") {
        let o = Command::new("minisign")
            .args(["-V", "-p", s(&x.pubkey), "-m", s(&x.bundle)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    } else {
        skip_or_fail("no minisign on PATH (package minisign): the stock check is not run");
    }

    // With the identity: decrypted as a stream, every member checked.
    let o = run(
        d.path(),
        &[
            "verify",
            "--pubkey",
            s(&x.pubkey),
            "--identity",
            s(&x.identity),
            s(&x.bundle),
        ],
    );
    ok(&o);
    assert!(
        stdout(&o).contains("members (encrypted, decrypted)"),
        "{}",
        stdout(&o)
    );
    let ledger = std::fs::read_to_string(d.path().join("out/custody.jsonl")).unwrap();
    assert!(
        ledger.contains("encrypted: the file checked, not its contents"),
        "{ledger}"
    );
    assert!(ledger.contains("members checked"), "{ledger}");
}

#[test]
fn the_stock_age_decrypts_it_and_analyze_identity_reports_as_on_the_plain_bundle() {
    let d = tempfile::tempdir().unwrap();
    let Some(x) = sealed(d.path()) else { return };
    // Copies without the ledger, side by side: the encrypted one and its stock decryption.
    let (enc, plain) = (d.path().join("enc"), d.path().join("plain"));
    std::fs::create_dir(&enc).unwrap();
    std::fs::create_dir(&plain).unwrap();
    let name = x.bundle.file_name().unwrap().to_str().unwrap().to_string();
    let zip_name = name.strip_suffix(".age").unwrap().to_string();
    std::fs::copy(&x.bundle, enc.join(&name)).unwrap();
    std::fs::copy(
        format!("{}.sha256", x.bundle.display()),
        enc.join(format!("{name}.sha256")),
    )
    .unwrap();
    let z = plain.join(&zip_name);
    let o = Command::new("age")
        .args(["-d", "-i", s(&x.identity), "-o", s(&z), s(&x.bundle)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    if have("unzip") {
        let o = Command::new("unzip").arg("-tq").arg(&z).output().unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    } else {
        skip_or_fail("no unzip on PATH (package unzip): the stock zip check is not run");
    }
    let plain_sha = sha256_file(&z);
    std::fs::write(
        plain.join(format!("{zip_name}.sha256")),
        format!("{plain_sha}  {zip_name}\n"),
    )
    .unwrap();
    assert_eq!(manifest(&z)["host"]["hostname"], "clean-web01");

    let o = run(d.path(), &["analyze", "--out", "rep-plain", s(&z)]);
    ok(&o);
    let o = run(
        d.path(),
        &[
            "analyze",
            "--identity",
            s(&x.identity),
            "--out",
            "rep-enc",
            s(&enc.join(&name)),
        ],
    );
    ok(&o);
    let enc_sha = sha256_file(&x.bundle);
    let read = |dir: &str, f: &str| std::fs::read_to_string(d.path().join(dir).join(f)).unwrap();
    // The same reports but for the bundle's file name and SHA-256 (in full and shortened).
    let normal = |t: String| {
        t.replace(&name, &zip_name)
            .replace(&enc_sha, &plain_sha)
            .replace(&enc_sha[..16], &plain_sha[..16])
    };
    for f in ["clean-web01/report.md", "findings.json", "fleet-report.md"] {
        assert_eq!(normal(read("rep-enc", f)), read("rep-plain", f), "{f}");
    }
}

#[test]
fn a_wrong_key_a_changed_byte_and_no_identity_fail_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let Some(x) = sealed(d.path()) else { return };
    let (wrong, _) = age_key(d.path(), "other.txt").unwrap();
    let b = s(&x.bundle);

    let o = run(
        d.path(),
        &["verify", "--no-ledger", "--identity", s(&wrong), b],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("encryption: none of the --identity keys can decrypt it"),
        "{}",
        stdout(&o)
    );

    // `analyze` without an identity: one line for that bundle, the plain one still analyzed.
    let plain = collect(
        d.path(),
        &d.path().join("plain"),
        &["--no-analyze", "--root", s(&fixture("rootfs-clean"))],
    );
    let o = run(d.path(), &["analyze", "--out", "rep", b, s(&plain)]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let refused: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("NOT ANALYZED"))
        .collect();
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0].contains("encrypted bundle, and no --identity"),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("clean-web01 ")), "{out}");

    // One byte changed: the file check names it without the key.
    let saved = std::fs::read(&x.bundle).unwrap();
    let mut changed = saved.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x01;
    std::fs::write(&x.bundle, &changed).unwrap();
    let o = run(
        d.path(),
        &["verify", "--no-ledger", "--pubkey", s(&x.pubkey), b],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("FAILED") && out.contains("bundle: SHA-256 of the bundle file"),
        "{out}"
    );
    assert!(out.contains("signature:"), "{out}");
    // ... and with the sidecar forged to match, the decryption names it.
    std::fs::write(
        format!("{b}.sha256"),
        format!(
            "{}  {}\n",
            sha256_file(&x.bundle),
            x.bundle.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    let o = run(
        d.path(),
        &["verify", "--no-ledger", "--identity", s(&x.identity), b],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("FAILED"), "{}", stdout(&o));
    // Cut short, sidecar forged: the truncation is named.
    std::fs::write(&x.bundle, &saved[..saved.len() - 1000]).unwrap();
    std::fs::write(
        format!("{b}.sha256"),
        format!(
            "{}  {}\n",
            sha256_file(&x.bundle),
            x.bundle.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    let o = run(
        d.path(),
        &["verify", "--no-ledger", "--identity", s(&x.identity), b],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("encryption: the encrypted content is truncated or corrupt"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_ssh_public_key_is_a_recipient_and_its_private_key_the_identity() {
    let d = tempfile::tempdir().unwrap();
    if !have("ssh-keygen") || !have("age") {
        skip_or_fail("no ssh-keygen or age on PATH (packages openssh-client, age): not run");
        return;
    }
    let key = d.path().join("id_ed25519");
    let o = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "examiner@lab",
            "-f",
            s(&key),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let public = std::fs::read_to_string(d.path().join("id_ed25519.pub")).unwrap();
    // A recipients file too: the same key with a comment line.
    let file = d.path().join("recipients.txt");
    std::fs::write(&file, format!("# the examiner\n{public}")).unwrap();
    for recipient in [public.trim(), s(&file)] {
        let o = run(
            d.path(),
            &[
                "collect",
                "--quiet",
                "--no-analyze",
                "--out",
                "out",
                "--root",
                s(&fixture("rootfs-clean")),
                "--encrypt-to",
                recipient,
            ],
        );
        ok(&o);
        let b = d.path().join(stdout(&o).lines().last().unwrap());
        let o = run(d.path(), &["verify", "--identity", s(&key), s(&b)]);
        ok(&o);
        assert!(
            stdout(&o).contains("(encrypted, decrypted)"),
            "{}",
            stdout(&o)
        );
        let o = Command::new("age")
            .args(["-d", "-i", s(&key), "-o", "/dev/null", s(&b)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // A key that is no recipient at all is refused before anything is collected.
    let o = run(
        d.path(),
        &[
            "collect",
            "--out",
            "out2",
            "--encrypt-to",
            "age1nope",
            "--root",
            s(&fixture("rootfs-clean")),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--encrypt-to age1nope"),
        "{}",
        stderr(&o)
    );
    assert!(!d.path().join("out2").exists());
}
