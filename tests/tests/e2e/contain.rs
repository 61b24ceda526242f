//! `dossier contain`, `actions` and `restore` on this machine, as root, on a file tree the
//! test makes: the plan alone changes nothing; `--apply` (after a snapshot bundle)
//! quarantines the file and records it on the host and in the ledger; `restore --all` puts
//! it back byte for byte with its owner, mode, times (ns) and extended attributes; a
//! restore onto an occupied path is refused; a non-root `--apply` is refused.

use dossier_tests::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// Everything about the files under `dir` (names, content hashes, owner, mode, times,
/// extended attributes): equal maps mean an unchanged tree.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let x = Command::new("/usr/bin/getfattr")
            .args(["-d", "-m", "-", "-h", "-e", "hex", "--absolute-names"])
            .arg(&p)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let facts = format!(
            "{} {}:{} {:o} {}.{} {}.{} {} {x}",
            m.size(),
            m.uid(),
            m.gid(),
            m.mode(),
            m.atime(),
            m.atime_nsec(),
            m.mtime(),
            m.mtime_nsec(),
            if m.is_file() {
                sha256_file(&p)
            } else {
                String::new()
            },
        );
        out.insert(p.display().to_string(), facts);
    }
    out
}

fn run(argv: &[&str]) {
    let s = Command::new(argv[0]).args(&argv[1..]).status().unwrap();
    assert!(s.success(), "{argv:?}");
}

#[test]
fn contain_plans_applies_lists_and_restores_a_quarantine_on_this_machine() {
    if !nix::unistd::geteuid().is_root() {
        skip_or_fail("needs root (dossier contain --apply)");
        return;
    }
    if !Path::new("/usr/bin/getfattr").exists() {
        skip_or_fail("/usr/bin/getfattr missing (install attr)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cwd = d.path();
    let files = cwd.join("tree");
    std::fs::create_dir(&files).unwrap();
    let f = files.join("kworkerds");
    std::fs::write(&f, b"\x7fELF pretend miner\n").unwrap();
    std::fs::write(files.join("neighbour"), b"left alone").unwrap();
    let fs = f.to_str().unwrap();
    run(&["/bin/chown", "4321:4322", fs]);
    run(&["/bin/chmod", "4751", fs]);
    run(&[
        "/usr/bin/setfattr",
        "-n",
        "user.dropped_by",
        "-v",
        "curl",
        fs,
    ]);
    run(&[
        "/usr/bin/touch",
        "-h",
        "-m",
        "-d",
        "@1500000000.987654321",
        fs,
    ]);
    let out = cwd.join("case");
    let state = cwd.join("state");
    let state_s = state.to_str().unwrap();
    let out_s = out.to_str().unwrap();
    let snapshot = collect(cwd, &out, &["--no-analyze"]);
    let snap_s = snapshot.to_str().unwrap();
    let action = format!("quarantine:{fs}");
    let hash = sha256_file(&f);
    // Read once more so that the access times are after the last change of each file:
    // then reading it again (to hash it) does not move them (relatime), and they can be
    // compared exactly.
    tree(&files);
    let before = tree(&files);

    // The plan: every change exactly, nothing changed.
    let o = dossier(
        cwd,
        &[
            "contain",
            "--action",
            &action,
            "--state-dir",
            state_s,
            "--out",
            out_s,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("quarantine {fs} (sha256 {hash})")),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    assert_eq!(tree(&files), before);
    assert!(!state.exists());

    // Not root: refused before anything, one line, exit 2.
    {
        use std::os::unix::process::CommandExt;
        let o = Command::new(dossier_bin())
            .args([
                "contain",
                "--action",
                &action,
                "--apply",
                "--snapshot",
                snap_s,
            ])
            .args(["--state-dir", state_s, "--out", out_s])
            .current_dir("/")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains("must run as root"), "{e}");
        assert_eq!(tree(&files), before);
    }

    // A --snapshot that is not a verified bundle of this host: refused, nothing changed.
    // (Without --snapshot a fresh one is collected: the lab test `contain::` covers that.)
    let o = dossier(
        cwd,
        &[
            "contain",
            "--action",
            &action,
            "--apply",
            "--snapshot",
            "/nonexistent/bundle.zip",
            "--state-dir",
            state_s,
            "--out",
            out_s,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("does not verify") && stderr(&o).contains("nothing was changed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&files), before);

    let apply = [
        "contain",
        "--action",
        &action,
        "--apply",
        "--snapshot",
        snap_s,
        "--state-dir",
        state_s,
        "--out",
        out_s,
        "--examiner",
        "Ada",
    ];
    let o = dossier(cwd, &apply);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(!f.exists());
    assert!(files.join("neighbour").exists());
    let id = stdout(&o)
        .lines()
        .find_map(|l| l.trim().strip_prefix("1. applied"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("{}", stdout(&o)));

    // Applying the same plan again changes nothing more.
    let o = dossier(cwd, &apply);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("already applied {id}")),
        "{}",
        stdout(&o)
    );

    let o = dossier(cwd, &["actions", "--state-dir", state_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&id) && text.contains("applied") && text.contains(fs),
        "{text}"
    );
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(state.join("actions").join(format!("{id}.2.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["examiner"], "Ada");
    assert_eq!(rec["before"]["sha256"], hash.as_str());
    assert_eq!(rec["before"]["mode"], "4751");
    assert_eq!(rec["snapshot"]["sha256"], sha256_file(&snapshot).as_str());
    let ledger = std::fs::read_to_string(out.join("custody.jsonl")).unwrap();
    let applying = ledger.find("\"action_applying\"").unwrap();
    assert!(applying < ledger.find("\"action_applied\"").unwrap());

    // Something put at the original path: restore refuses and overwrites nothing.
    std::fs::write(&f, b"decoy").unwrap();
    let o = dossier(
        cwd,
        &["restore", "--all", "--state-dir", state_s, "--out", out_s],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("occupied"), "{}", stdout(&o));
    assert_eq!(std::fs::read(&f).unwrap(), b"decoy");
    std::fs::remove_file(&f).unwrap();

    let o = dossier(
        cwd,
        &[
            "restore",
            "--all",
            "--state-dir",
            state_s,
            "--out",
            out_s,
            "--examiner",
            "Bob",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("restored        {id}")),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        tree(&files),
        before,
        "restored byte for byte with its metadata"
    );
    let o = dossier(cwd, &["actions", "--state-dir", state_s]);
    let text = stdout(&o);
    assert!(
        text.contains("applied 20") && text.contains(" by Ada"),
        "{text}"
    );
    assert!(
        text.contains("restored 20") && text.contains(" by Bob"),
        "{text}"
    );

    // The case still verifies: the ledger's chain holds the action entries.
    let o = dossier(cwd, &["verify", snap_s]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}
