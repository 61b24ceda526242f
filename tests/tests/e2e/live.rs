//! The real binary on this machine: collect, verify, then tamper and verify again.

use dossier_tests::*;
use std::path::Path;

fn flip(path: &Path, offset: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
}

#[test]
fn collect_this_machine_verify_then_a_flipped_byte_fails() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("dossier-out");
    let b = collect(d.path(), &out, &["--case", "CI"]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&b).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let sidecar = std::fs::read_to_string(format!("{}.sha256", b.display())).unwrap();
    assert!(
        sidecar.ends_with(&format!("  {}\n", b.file_name().unwrap().to_str().unwrap())),
        "{sidecar}"
    );
    assert!(!std::fs::read_dir(&out).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")
    }));

    // This is a live system: processes, sockets and facts were read from /proc.
    let m = manifest(&b);
    assert_eq!(m["target"]["live"], true);
    assert!(!of_kind(&b, "proc", "process").is_empty());
    let facts = &of_kind(&b, "facts", "host_facts")[0];
    assert!(facts["boot_id"].is_string() && facts["kernel_release"].is_string());
    let me = std::process::id();
    assert!(
        of_kind(&b, "proc", "process")
            .iter()
            .any(|p| p["pid"] == me),
        "this test's own process is listed"
    );

    if have("sha256sum") {
        let o = std::process::Command::new("sha256sum")
            .arg("-c")
            .arg(format!(
                "{}.sha256",
                b.file_name().unwrap().to_str().unwrap()
            ))
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "sha256sum -c: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    } else {
        skip_or_fail("no sha256sum on PATH (package coreutils): the sidecar is not cross-checked");
    }
    if have("unzip") {
        let o = std::process::Command::new("unzip")
            .arg("-tq")
            .arg(&b)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "unzip -t: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    } else {
        skip_or_fail("no unzip on PATH (package unzip): the zip is not cross-checked");
    }
    let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("OK "));

    // A flipped byte anywhere fails: at the start, in the middle, near the end (central
    // directory), each on a fresh copy.
    let len = std::fs::metadata(&b).unwrap().len();
    for offset in [0, 30, len / 2, len - 30, len - 1] {
        let copy = out.join("tampered.zip");
        std::fs::copy(&b, &copy).unwrap();
        std::fs::copy(
            format!("{}.sha256", b.display()),
            out.join("tampered.zip.sha256"),
        )
        .unwrap();
        flip(&copy, offset);
        let o = dossier(d.path(), &["verify", "--no-ledger", copy.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "flip at {offset}: {}", stdout(&o));
        assert!(stdout(&o).contains("FAILED"), "{}", stdout(&o));
    }

    // The ledger records the creation and the verification, chained.
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    let actions: Vec<String> = ledger
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(actions, ["created", "analyzed", "verified"]);
}
