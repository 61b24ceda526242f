//! Bundles encrypted to recipients (issue 15): the writer streams the zip through the age
//! encryptor, so no plaintext reaches the output directory; anyone can check the encrypted
//! file against its sidecar, and an identity decrypts it as a stream for the full check.

mod common;
use common::a_manifest;

use age::secrecy::ExposeSecret;
use dossier_bundle::crypt::{Identities, Recipients};
use dossier_bundle::reader::{
    Bundle, Encryption, Limits, OpenError, sidecar_path, verify, verify_with,
};
use dossier_bundle::writer::BundleWriter;
use dossier_plugin_api::collect::{EvidenceSink, RawSource};
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Text that must never appear in the output directory in the clear.
const MARKER: &[u8] = b"PLAINTEXT-MARKER-4f1c9e";

fn keys(dir: &Path) -> (Recipients, Identities, PathBuf) {
    let id = age::x25519::Identity::generate();
    let p = dir.join("id.txt");
    dossier_bundle::fsio::write_synced(
        &p,
        format!("{}\n", id.to_string().expose_secret()).as_bytes(),
    )
    .unwrap();
    let r = Recipients::parse(&[id.to_public().to_string()]).unwrap();
    (r, Identities::load(std::slice::from_ref(&p)).unwrap(), p)
}

/// Every byte of every file in `dir` (the partial bundle, spools, sidecars).
fn contains_marker(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .unwrap()
                .windows(MARKER.len())
                .any(|w| w == MARKER)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Files this process holds open in `dir` other than the partial bundle (an unnamed
/// temporary file there shows as `DIR/#123 (deleted)`).
fn open_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.starts_with(dir) && !t.to_string_lossy().ends_with(".partial"))
        .map(|t| t.display().to_string())
        .collect()
}

/// Incompressible bytes (stored, not deflated) with [`MARKER`] every 4 KiB.
fn marked_random(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32;
    let mut v: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    for at in (0..len - MARKER.len()).step_by(4096) {
        v[at..at + MARKER.len()].copy_from_slice(MARKER);
    }
    v
}

/// An encrypted bundle with records and raw members (one small, one streamed in full) whose
/// content carries [`MARKER`] uncompressed.
fn write_encrypted(out: &Path, r: &Recipients) -> dossier_bundle::writer::FinishedBundle {
    write_encrypted_with(out, r, 3 << 20)
}

/// [`write_encrypted`] with a large member of `big` bytes.
fn write_encrypted_with(
    out: &Path,
    r: &Recipients,
    big: usize,
) -> dossier_bundle::writer::FinishedBundle {
    let mut w = BundleWriter::create_encrypted(out, "t", r).unwrap();
    w.begin_collector("accounts");
    for i in 0..2000 {
        let rec =
            serde_json::json!({"user": format!("u{i}"), "note": String::from_utf8_lossy(MARKER)});
        w.record("accounts", rec).unwrap();
    }
    // While the collector runs its records are spooled: in memory, not in the directory.
    assert_eq!(
        open_in(out),
        Vec::<String>::new(),
        "a spool file in the output directory"
    );
    assert_eq!(
        contains_marker(out),
        Vec::<String>::new(),
        "plaintext in the output directory"
    );
    let src = |p: &str| RawSource {
        path: p.into(),
        meta: None,
        meta_after: None,
        truncated: false,
        changed_during_read: false,
    };
    w.store_raw(&src("/etc/small"), &marked_random(100_000))
        .unwrap();
    w.store_raw(&src("/etc/big"), &marked_random(big)).unwrap();
    w.end_collector("accounts").unwrap();
    assert_eq!(
        contains_marker(out),
        Vec::<String>::new(),
        "plaintext in the output directory"
    );
    w.finish(a_manifest(), "t").unwrap()
}

#[test]
fn an_encrypted_bundle_round_trips_without_plaintext_on_disk() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let (r, ids, _) = keys(d.path());
    let done = write_encrypted(&out, &r);
    assert!(
        done.path.to_string_lossy().ends_with("t.zip.age"),
        "{}",
        done.path.display()
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["t.zip.age", "t.zip.age.sha256"],
        "only the encrypted bundle and its sidecar"
    );
    assert!(contains_marker(&out).is_empty());
    let bytes = std::fs::read(&done.path).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    // The sidecar is over the encrypted file.
    assert_eq!(hex(&Sha256::digest(&bytes)), done.sha256);

    // Without an identity: the file checks, its contents are not checked.
    let v = verify(&done.path, &Limits::default());
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.encryption, Encryption::NotDecrypted);
    assert_eq!(v.members_checked, 0);
    assert!(matches!(
        Bundle::open(&done.path, &Limits::default()),
        Err(OpenError::Encrypted { .. })
    ));

    // With it: every member checked, records readable.
    let v = verify_with(&done.path, &Limits::default(), &ids);
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.encryption, Encryption::Decrypted);
    assert_eq!(v.members_checked, 4, "records, two raw copies and the log");
    let (mut b, _) = Bundle::open_with(&done.path, &Limits::default(), &ids).unwrap();
    assert_eq!(b.records("accounts", u64::MAX).unwrap().0.len(), 2000);
    let raw = b.read_member("raw/etc/big", u64::MAX).unwrap();
    assert!(raw.starts_with(MARKER));
}

#[test]
fn a_wrong_identity_a_changed_byte_and_a_cut_file_fail_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let (r, _, _) = keys(d.path());
    let other = tempfile::tempdir().unwrap();
    let (_, wrong, _) = keys(other.path());
    let done = write_encrypted(&out, &r);
    let v = verify_with(&done.path, &Limits::default(), &wrong);
    assert!(!v.ok());
    assert_eq!(v.problems[0].subject, "encryption");
    assert!(
        v.problems[0]
            .message
            .contains("none of the --identity keys"),
        "{:?}",
        v.problems
    );

    let ids = Identities::load(&[d.path().join("id.txt")]).unwrap();
    let bytes = std::fs::read(&done.path).unwrap();
    let forge = |data: &[u8]| {
        let p = out.join("f.zip.age");
        std::fs::write(&p, data).unwrap();
        std::fs::write(
            sidecar_path(&p),
            format!("{}  f.zip.age\n", hex(&Sha256::digest(data))),
        )
        .unwrap();
        p
    };
    // One byte of the payload changed, the sidecar forged to match: the decryption catches it.
    let mut changed = bytes.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x01;
    let v = verify_with(&forge(&changed), &Limits::default(), &ids);
    assert!(!v.ok());
    // Cut short: refused before any member is read, naming the truncation.
    let v = verify_with(
        &forge(&bytes[..bytes.len() - 100]),
        &Limits::default(),
        &ids,
    );
    assert!(!v.ok());
    assert!(
        v.problems
            .iter()
            .any(|p| p.subject == "encryption" && p.message.contains("truncated")),
        "{:?}",
        v.problems
    );
    // Without the sidecar forged, the file check alone catches the changed byte.
    let p = out.join("t.zip.age");
    std::fs::write(&p, &changed).unwrap();
    let v = verify(&p, &Limits::default());
    assert!(
        v.problems
            .iter()
            .any(|p| p.subject == "bundle" && p.message.contains("was modified")),
        "{:?}",
        v.problems
    );
}

#[test]
fn mutated_and_cut_encrypted_bundles_never_verify_and_never_panic() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let (r, ids, _) = keys(d.path());
    // Three 64 KiB chunks and a short last one.
    let done = write_encrypted_with(&out, &r, 200_000);
    let bytes = std::fs::read(&done.path).unwrap();
    let p = d.path().join("m.zip.age");
    let check = |data: &[u8], what: &str| {
        std::fs::write(&p, data).unwrap();
        let side = format!("{}  m.zip.age\n", hex(&Sha256::digest(data)));
        std::fs::write(sidecar_path(&p), side).unwrap();
        let v = verify_with(&p, &Limits::default(), &ids);
        assert!(!v.ok(), "{what} verified");
        assert!(
            Bundle::open_with(&p, &Limits::default(), &ids).is_err(),
            "{what} opened"
        );
        assert!(
            Bundle::open_with(&p, &Limits::default(), &ids).is_err(),
            "{what} opened"
        );
    };
    // Every region: header lines, the MAC, the nonce, the first, middle and last chunks.
    let step = (bytes.len() / 251).max(1);
    for at in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        let mut m = bytes.clone();
        m[at] ^= 0x20;
        check(&m, &format!("byte {at} flipped"));
        check(&bytes[..at], &format!("cut at {at}"));
    }
}
