//! `dossier verify` against damaged and hostile bundles: each names the problem and fails.

use dossier_tests::forge::{sha256_hex as sha, write_with_sidecar};
use dossier_tests::*;
use sha2::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};

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

fn verify_fails(dir: &Path, bundle: &Path, needle: &str) -> String {
    let o = dossier(dir, &["verify", "--no-ledger", bundle.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(needle), "expected `{needle}` in:\n{out}");
    out
}

/// Rebuilds the bundle at `src` member by member (see [`forge::rewrite`]).
fn rewrite(
    src: &Path,
    edit: impl FnMut(&str, Vec<u8>) -> Option<(String, Vec<u8>)>,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    forge::rewrite(&std::fs::read(src).unwrap(), edit, extra)
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

    let t = write_with_sidecar(dir, "truncated.zip", &data[..data.len() / 2]);
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
    let p = write_with_sidecar(dir, "member.zip", &forged);
    verify_fails(d.path(), &p, "raw/etc/crontab: SHA-256 differs");
}

#[test]
fn unlisted_missing_and_duplicate_members_fail() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let p = write_with_sidecar(
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

    let p = write_with_sidecar(
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
    let p = write_with_sidecar(dir, "dup.zip", &dup);
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
    let p = write_with_sidecar(
        dir,
        "traversal.zip",
        &rewrite(
            &b,
            |n, d| Some((n.to_string(), d)),
            &[("../../escape", b"x")],
        ),
    );
    verify_fails(d.path(), &p, "unsafe member name");
    let p = write_with_sidecar(
        dir,
        "abs.zip",
        &rewrite(&b, |n, d| Some((n.to_string(), d)), &[("/etc/evil", b"x")]),
    );
    verify_fails(d.path(), &p, "absolute path");

    let p = write_with_sidecar(
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

    let p = write_with_sidecar(
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

/// Outcome of one `dossier` run measured from outside: exit code, output and peak RSS.
struct Measured {
    code: Option<i32>,
    out: String,
    rss_mib: f64,
}

/// Runs `dossier ARGS` in `cwd` and takes its peak RSS from `wait4` (a loose sanity bound on
/// memory, not a benchmark).
#[allow(clippy::zombie_processes)] // reaped by wait4, not through std
fn measured(cwd: &Path, args: &[&str]) -> Measured {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // A child's peak RSS starts from this process's peak (fork copies the high-water mark and
    // exec keeps it): reset ours first ("5" resets VmHWM, Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let mut child = Command::new(dossier_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("DOSSIER_PLUGIN_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 fills it and reaps our own child, which
    // `child` (never waited on through std) does not touch again.
    let mut ru: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4");
    let code = nix::libc::WIFEXITED(status).then(|| nix::libc::WEXITSTATUS(status));
    let out = t_out.join().unwrap() + &t_err.join().unwrap();
    Measured {
        code,
        out,
        rss_mib: ru.ru_maxrss as f64 / 1024.0,
    }
}

/// Every file under `dir`, relative.
fn tree(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut std::collections::BTreeSet<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(base).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// `verify` and `analyze` of a hostile bundle: both fail naming `needle`, within a loose memory
/// bound, and `analyze` writes nothing outside its output directory.
fn hostile(case: &str, dir: &Path, bundle: &Path, needle: &str) {
    let before = tree(dir);
    let v = measured(dir, &["verify", "--no-ledger", bundle.to_str().unwrap()]);
    assert_eq!(v.code, Some(1), "{case}: verify: {}", v.out);
    assert!(
        v.out.contains(needle),
        "{case}: `{needle}` not in:\n{}",
        v.out
    );
    let rep = dir.join(format!("report-{case}"));
    let a = measured(
        dir,
        &[
            "analyze",
            bundle.to_str().unwrap(),
            "--out",
            rep.to_str().unwrap(),
        ],
    );
    assert_eq!(a.code, Some(1), "{case}: analyze: {}", a.out);
    assert!(
        a.out.contains(needle),
        "{case}: `{needle}` not in:\n{}",
        a.out
    );
    for (what, m) in [("verify", &v), ("analyze", &a)] {
        assert!(
            m.rss_mib < 300.0,
            "{case}: {what} peak RSS {:.0} MiB",
            m.rss_mib
        );
    }
    let rep_rel = rep.strip_prefix(dir).unwrap();
    let new: Vec<_> = tree(dir)
        .into_iter()
        .filter(|p| !before.contains(p) && !p.starts_with(rep_rel))
        .collect();
    assert!(
        new.is_empty(),
        "{case}: written outside the output dir: {new:?}"
    );
    eprintln!(
        "| {case} | {} | verify {:.0} MiB, analyze {:.0} MiB |",
        v.out
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .trim(),
        v.rss_mib,
        a.rss_mib
    );
}

fn member_names(bundle: &Path) -> Vec<String> {
    let z = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    (0..z.len())
        .map(|i| z.name_for_index(i).unwrap().unwrap().to_string())
        .collect()
}

#[test]
fn a_flipped_byte_in_each_member_and_in_the_manifest_is_caught() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let names = member_names(&b);
    let mut flipped = 0;
    for (i, name) in names.iter().enumerate() {
        if name == "manifest.json" {
            continue;
        }
        let mut empty = false;
        let forged = rewrite(
            &b,
            |n, mut data| {
                if n == name {
                    match data.len() {
                        0 => empty = true,
                        len => data[len / 2] ^= 0x01,
                    }
                }
                Some((n.to_string(), data))
            },
            &[],
        );
        if empty {
            continue;
        }
        let p = write_with_sidecar(dir, &format!("flip{i}.zip"), &forged);
        verify_fails(d.path(), &p, &format!("{name}: SHA-256 differs"));
        flipped += 1;
        if name.starts_with("records/") || flipped == 1 {
            hostile(
                &format!("flip-{i}"),
                d.path(),
                &p,
                &format!("{name}: SHA-256 differs"),
            );
        }
        std::fs::remove_file(&p).unwrap();
    }
    assert!(flipped >= 10, "only {flipped} members");

    // The manifest: a forger who rewrites the manifest and the sidecar is caught by the
    // custody ledger (the manifest has no hash of its own to break).
    let original = std::fs::read(&b).unwrap();
    let side = PathBuf::from(format!("{}.sha256", b.display()));
    let original_side = std::fs::read(&side).unwrap();
    let len = member(&b, "manifest.json").len();
    for at in [10, len / 4, len / 2, 3 * len / 4, len - 2] {
        let forged = rewrite(
            &b,
            |n, mut data| {
                if n == "manifest.json" {
                    data[at] ^= 0x01;
                }
                Some((n.to_string(), data))
            },
            &[],
        );
        let name = b.file_name().unwrap().to_str().unwrap();
        write_with_sidecar(dir, name, &forged);
        let o = dossier(d.path(), &["verify", b.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "manifest byte {at}: {}",
            stdout(&o)
        );
        assert!(
            stdout(&o).contains("custody ledger") || stdout(&o).contains("manifest"),
            "manifest byte {at}: {}",
            stdout(&o)
        );
        std::fs::write(&b, &original).unwrap();
        std::fs::write(&side, &original_side).unwrap();
    }
    eprintln!(
        "flipped a byte in each of {flipped} non-empty members and at 5 places of the manifest"
    );
}

#[test]
fn symlink_entries_are_refused() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let mut data = rewrite(&b, |n, d| Some((n.to_string(), d)), &[]);
    // Append a symlink entry by rebuilding with the writer's symlink support.
    let mut w =
        zip::ZipWriter::new_append(std::io::Cursor::new(std::mem::take(&mut data))).unwrap();
    w.add_symlink(
        "raw/etc/shadow-link",
        "/etc/shadow",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    let data = w.finish().unwrap().into_inner();
    let p = write_with_sidecar(dir, "symlink.zip", &data);
    hostile("symlink-entry", d.path(), &p, "symbolic-link entry");
}

/// Patches the uncompressed size of `name` in its local header and central directory entry.
fn patch_size(zip: &mut [u8], name: &str, size: u32) {
    let n = name.as_bytes();
    let mut patched = 0;
    for i in 30..zip.len() - n.len() {
        if &zip[i..i + n.len()] != n {
            continue;
        }
        if zip[i - 30..i - 26] == [0x50, 0x4b, 0x03, 0x04] {
            zip[i - 8..i - 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        } else if i >= 46 && zip[i - 46..i - 42] == [0x50, 0x4b, 0x01, 0x02] {
            zip[i - 22..i - 18].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "{name}");
}

/// A copy of `src` where member `name` holds `size` zero bytes (deflated: ~1000:1) and the
/// manifest lists it with `listed_size` and `listed_sha`.
fn zero_bomb(src: &Path, name: &str, size: u64, listed_size: u64, listed_sha: &str) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .large_file(size >= u32::MAX as u64);
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let n = f.name().unwrap().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        if n == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            let members = m["members"].as_array_mut().unwrap();
            members.retain(|e| e["name"] != name);
            members.push(serde_json::json!({
                "name": name, "size": listed_size, "sha256": listed_sha, "kind": "raw"
            }));
            data = serde_json::to_vec(&m).unwrap();
        }
        if n == name {
            continue;
        }
        w.start_file(n, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&data).unwrap();
    }
    w.start_file(name, opts).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..k]).unwrap();
        left -= k as u64;
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn zip_bombs_are_refused_in_bounded_time_and_memory() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let bomb = "raw/etc/bomb";
    let zeros = |n: u64| {
        let mut h = sha2::Sha256::new();
        let chunk = vec![0u8; 1 << 20];
        let mut left = n;
        while left > 0 {
            let k = left.min(chunk.len() as u64) as usize;
            h.update(&chunk[..k]);
            left -= k as u64;
        }
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };

    // High ratio, listed with its true size but not its true hash: streamed through the hash
    // (never held in memory) and named.
    let big = 512u64 << 20;
    let data = zero_bomb(&b, bomb, big, big, &"0".repeat(64));
    assert!(data.len() < 2 << 20, "{} bytes", data.len());
    let p = write_with_sidecar(dir, "ratio.zip", &data);
    hostile(
        "high-ratio member (512 MiB from <1 MiB)",
        d.path(),
        &p,
        &format!("{bomb}: SHA-256 differs"),
    );

    // The same bomb where the manifest lists a small file: refused without decompressing.
    let data = zero_bomb(&b, bomb, big, 1000, &zeros(1000));
    let p = write_with_sidecar(dir, "mismatch.zip", &data);
    hostile(
        "high-ratio member, manifest says 1000 bytes",
        d.path(),
        &p,
        &format!("{bomb}: zip declares {big} bytes, the manifest says 1000"),
    );

    // Huge declared size (4 GiB - 16 from ~1 KiB): a ratio deflate cannot produce.
    let huge = u32::MAX - 15;
    let mut data = zero_bomb(&b, bomb, 1 << 20, huge as u64, &zeros(huge as u64));
    patch_size(&mut data, bomb, huge);
    let p = write_with_sidecar(dir, "declared.zip", &data);
    hostile(
        "huge declared size",
        d.path(),
        &p,
        "a ratio deflate cannot produce (zip bomb?)",
    );

    // Declared small, inflates to 512 MiB: only the declared bytes (+1) are ever read.
    let mut data = zero_bomb(&b, bomb, big, 4096, &zeros(4096));
    patch_size(&mut data, bomb, 4096);
    let p = write_with_sidecar(dir, "lying.zip", &data);
    hostile("stream longer than declared", d.path(), &p, bomb);

    // A 200 MB manifest (a JSON array of zeros in an extra field, ~200 KB compressed).
    let mut man = br#"{"format":"dossier-bundle","format_version":1,"pad":["#.to_vec();
    while man.len() < 200_000_000 {
        man.extend_from_slice(b"0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,");
    }
    man.extend_from_slice(b"0]}");
    let data = rewrite(
        &b,
        |n, d| {
            Some((
                n.to_string(),
                if n == "manifest.json" { man.clone() } else { d },
            ))
        },
        &[],
    );
    let p = write_with_sidecar(dir, "manifest-bomb.zip", &data);
    drop((man, data)); // a child's peak RSS counts this process's resident memory at fork
    hostile("200 MB manifest", d.path(), &p, "manifest: declares 200000");

    // Records members listed consistently (they verify) that analysis must not load whole:
    // one 200 MiB line, and 64 MiB of 1 MiB lines of `[0,0,...]` (~32 million values).
    let one_line = {
        let mut l = b"[".to_vec();
        while l.len() < 200 << 20 {
            l.extend_from_slice(b"0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,");
        }
        l.extend_from_slice(b"0]\n");
        l
    };
    let many_lines = {
        let mut l = Vec::new();
        for _ in 0..64 {
            l.push(b'[');
            l.extend(b"0,".iter().cycle().take((1 << 20) - 4));
            l.extend_from_slice(b"0]\n");
        }
        l
    };
    let mut bodies = vec![
        ("64 MiB of [0,0,...] lines", many_lines),
        ("one 200 MiB line", one_line),
    ];
    while let Some((case, body)) = bodies.pop() {
        let sha_body = sha(&body);
        let data = rewrite(
            &b,
            |n, d| {
                if n == "records/facts.jsonl" {
                    Some((n.to_string(), body.clone()))
                } else if n == "manifest.json" {
                    let mut m: serde_json::Value = serde_json::from_slice(&d).unwrap();
                    for e in m["members"].as_array_mut().unwrap() {
                        if e["name"] == "records/facts.jsonl" {
                            e["size"] = body.len().into();
                            e["sha256"] = sha_body.clone().into();
                        }
                    }
                    Some((n.to_string(), serde_json::to_vec(&m).unwrap()))
                } else {
                    Some((n.to_string(), d))
                }
            },
            &[],
        );
        // Copied without its custody ledger, so that analysis gets as far as the records.
        let loose = d.path().join("loose");
        std::fs::create_dir_all(&loose).unwrap();
        let p = write_with_sidecar(&loose, "records-bomb.zip", &data);
        drop((data, body));
        let rep = d.path().join(format!("report-{}", case.len()));
        let a = measured(
            d.path(),
            &[
                "analyze",
                p.to_str().unwrap(),
                "--out",
                rep.to_str().unwrap(),
            ],
        );
        assert!(
            a.rss_mib < 300.0,
            "{case}: analyze peak RSS {:.0} MiB",
            a.rss_mib
        );
        let report = std::fs::read_to_string(rep.join("clean-web01/report.md")).unwrap_or_default();
        let line = report
            .lines()
            .find(|l| l.contains("records/facts.jsonl") && l.contains("(limit)"))
            .unwrap_or_else(|| {
                panic!(
                    "{case}: the report names the member and the limit: {}\n{report}",
                    a.out
                )
            })
            .to_string();
        eprintln!(
            "| records bomb: {case} | analyzed without it; report: {} | analyze {:.0} MiB |",
            line.trim(),
            a.rss_mib
        );
    }
}

/// Runs `dossier ARGS` in `cwd`, killed when it has not finished within `secs` (then `None`).
fn finishes_within(cwd: &Path, args: &[&str], secs: u64) -> Option<std::process::Output> {
    use std::process::Stdio;
    let mut child = dossier_cmd(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(secs) {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Issue 15, hole 2: a custody ledger planted as a FIFO (by an unprivileged user who can
/// write the evidence folder) used to hang `verify` and `analyze`; a missing one was skipped
/// without a word.
#[test]
fn a_fifo_ledger_is_refused_without_hanging_and_a_missing_one_is_said() {
    let (d, b) = bundle();
    let dir = b.parent().unwrap();
    let ledger = dir.join("custody.jsonl");
    std::fs::remove_file(&ledger).unwrap();
    nix::unistd::mkfifo(&ledger, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(&ledger, Some(65534), Some(65534)).unwrap();
    }
    let bs = b.to_str().unwrap();
    let o = finishes_within(d.path(), &["verify", bs], 30).expect("verify hangs on a FIFO ledger");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    // One clear line for the ledger; the bundle itself was still checked (nothing else wrong).
    let problems: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(problems.len(), 1, "{out}");
    assert!(
        problems[0].contains("custody ledger")
            && problems[0].contains("a FIFO, not a regular file: refused"),
        "{out}"
    );
    let rep = d.path().join("rep");
    let o = finishes_within(
        d.path(),
        &["analyze", bs, "--out", rep.to_str().unwrap()],
        60,
    )
    .expect("analyze hangs on a FIFO ledger");
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        std::fs::read_to_string(rep.join("fleet-report.md"))
            .unwrap()
            .contains("a FIFO, not a regular file"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );

    // No ledger at all: the bundle verifies (exit 0 as before) and `verify` says so.
    std::fs::remove_file(&ledger).unwrap();
    let o = dossier(d.path(), &["verify", bs]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("OK "), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!("no custody ledger beside {bs}")),
        "{}",
        stderr(&o)
    );
    assert!(!ledger.exists(), "verify made a ledger");
}

/// Issue 15, hole 2: an existing output directory someone else owns, or others may write,
/// is refused with a clear error instead of written into.
#[test]
fn an_output_directory_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let root = fixture("rootfs-clean");
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let args = |out: &Path| {
        [
            "collect",
            "--quiet",
            "--no-analyze",
            "--out",
            out.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ]
        .map(str::to_string)
    };
    let run = |out: &Path| {
        let a = args(out);
        dossier(d.path(), &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&out);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!(
            "refusing output directory {}: group or others may write to it (mode 0777)",
            out.display()
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "wrote into it");
    if nix::unistd::geteuid().is_root() {
        // Made by an unprivileged user, for root to write evidence into.
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
        let o = run(&out);
        assert!(!o.status.success(), "{}", stdout(&o));
        assert!(
            stderr(&o).contains("is owned by uid 65534"),
            "{}",
            stderr(&o)
        );
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "wrote into it");
    } else {
        dossier_tests::skip_or_fail("needs root (chown to nobody): a folder of others not checked");
    }
    // Ours and private: used as before.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&out, Some(nix::unistd::geteuid().as_raw()), None).unwrap();
    let o = run(&out);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// A baseline or playbook named by the user that is a FIFO is refused at once with one line
/// (the baseline was opened before its type was checked, so `analyze --baseline FIFO` hung).
#[test]
fn a_fifo_baseline_or_playbook_is_refused_without_hanging() {
    let (d, b) = bundle();
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (bs, fs) = (b.to_str().unwrap(), fifo.to_str().unwrap());
    let rep = d.path().join("rep");
    for (what, args) in [
        (
            "baseline",
            vec![
                "analyze",
                bs,
                "--out",
                rep.to_str().unwrap(),
                "--baseline",
                fs,
            ],
        ),
        (
            "playbook",
            vec![
                "analyze",
                bs,
                "--out",
                rep.to_str().unwrap(),
                "--playbook",
                fs,
            ],
        ),
    ] {
        let o = finishes_within(d.path(), &args, 30)
            .unwrap_or_else(|| panic!("analyze hangs on a FIFO {what}"));
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
        assert!(
            err.contains(fs) && err.contains("regular file"),
            "{what}: {err}"
        );
    }
}
