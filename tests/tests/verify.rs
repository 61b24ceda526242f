//! `dossier verify` against damaged and hostile bundles: each names the problem and fails.

use dossier_tests::*;
use sha2::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};

fn sha(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small real bundle (the clean fixture) in a fresh directory.
fn bundle() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = fixture("rootfs-clean");
    let b = collect(
        d.path(),
        &d.path().join("out"),
        &["--root", root.to_str().unwrap()],
    );
    (d, b)
}

/// Writes `data` as a bundle with a matching sidecar (a forger who also rewrites the .sha256).
fn forge(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    std::fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{}  {name}\n", sha(data)),
    )
    .unwrap();
    p
}

fn verify_fails(dir: &Path, bundle: &Path, needle: &str) -> String {
    let o = dossier(dir, &["verify", "--no-ledger", bundle.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(needle), "expected `{needle}` in:\n{out}");
    out
}

/// Rebuilds a bundle member by member, letting `edit` change names and contents.
fn rewrite(
    src: &Path,
    edit: impl Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        if let Some((n, d)) = edit(&name, data) {
            w.start_file(n, opts).unwrap();
            w.write_all(&d).unwrap();
        }
    }
    for (n, d) in extra {
        w.start_file(*n, opts).unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn missing_or_wrong_sidecar_and_truncation_fail() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let data = std::fs::read(&b).unwrap();

    let side = PathBuf::from(format!("{}.sha256", b.display()));
    let keep = std::fs::read(&side).unwrap();
    std::fs::remove_file(&side).unwrap();
    verify_fails(d.path(), &b, "cannot be checked");
    std::fs::write(&side, keep).unwrap();

    let t = forge(dir, "truncated.zip", &data[..data.len() / 2]);
    verify_fails(d.path(), &t, "not a readable zip archive");
}

#[test]
fn tampered_member_is_named_even_with_a_forged_sidecar() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let forged = rewrite(
        &b,
        |n, mut data| {
            if n == "raw/etc/crontab" {
                data[0] ^= 0x20; // same length, different content
            }
            Some((n.to_string(), data))
        },
        &[],
    );
    let p = forge(dir, "member.zip", &forged);
    verify_fails(d.path(), &p, "raw/etc/crontab: SHA-256 differs");
}

#[test]
fn unlisted_missing_and_duplicate_members_fail() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let p = forge(
        dir,
        "extra.zip",
        &rewrite(
            &b,
            |n, d| Some((n.to_string(), d)),
            &[("raw/etc/evil", b"x")],
        ),
    );
    verify_fails(
        d.path(),
        &p,
        "raw/etc/evil: in the zip but not listed in the manifest",
    );

    let p = forge(
        dir,
        "missing.zip",
        &rewrite(
            &b,
            |n, d| (n != "raw/etc/passwd").then(|| (n.to_string(), d)),
            &[],
        ),
    );
    verify_fails(
        d.path(),
        &p,
        "raw/etc/passwd: listed in the manifest but missing from the zip",
    );

    // zip writers refuse duplicate names: add `raw/etc/passwX` and patch its name in the local
    // header and the central directory.
    let mut dup = rewrite(
        &b,
        |n, d| Some((n.to_string(), d)),
        &[("raw/etc/passwX", b"evil:x:0:0::/:/bin/sh\n")],
    );
    let needle = b"raw/etc/passwX";
    let mut patched = 0;
    for i in 0..dup.len() - needle.len() {
        if &dup[i..i + needle.len()] == needle {
            dup[i + needle.len() - 1] = b'd';
            patched += 1;
        }
    }
    assert_eq!(patched, 2);
    let p = forge(dir, "dup.zip", &dup);
    verify_fails(
        d.path(),
        &p,
        "raw/etc/passwd: appears 2 times in the zip's central directory",
    );
}

#[test]
fn unsafe_names_and_foreign_manifests_fail() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let p = forge(
        dir,
        "traversal.zip",
        &rewrite(
            &b,
            |n, d| Some((n.to_string(), d)),
            &[("../../escape", b"x")],
        ),
    );
    verify_fails(d.path(), &p, "unsafe member name");
    let p = forge(
        dir,
        "abs.zip",
        &rewrite(&b, |n, d| Some((n.to_string(), d)), &[("/etc/evil", b"x")]),
    );
    verify_fails(d.path(), &p, "absolute path");

    let p = forge(
        dir,
        "version.zip",
        &rewrite(
            &b,
            |n, d| {
                if n == "manifest.json" {
                    let s = String::from_utf8(d).unwrap().replacen(
                        "\"format_version\": 1",
                        "\"format_version\": 7",
                        1,
                    );
                    Some((n.to_string(), s.into_bytes()))
                } else {
                    Some((n.to_string(), d))
                }
            },
            &[],
        ),
    );
    verify_fails(d.path(), &p, "format version 7");

    let p = forge(
        dir,
        "nomanifest.zip",
        &rewrite(
            &b,
            |n, d| (n != "manifest.json").then(|| (n.to_string(), d)),
            &[],
        ),
    );
    verify_fails(d.path(), &p, "no manifest.json");
    // Nothing was extracted anywhere.
    assert!(!d.path().join("escape").exists() && !Path::new("/etc/evil").exists());
}

#[test]
fn edited_ledger_fails_verification() {
    let (d, b) = bundle();
    let ledger = b.parent().unwrap().join("custody.jsonl");
    let text = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, text.replace("\"created\"", "\"createdX\"")).unwrap();
    let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("custody ledger"), "{}", stdout(&o));
}
