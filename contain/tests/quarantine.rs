//! Quarantine round trips on files the tests make (as root): content, owner, mode with
//! setuid, times with nanoseconds, `user.*` and `security.capability` attributes and the
//! immutable flag all come back; a changed file is refused; restore refuses an occupied
//! path; the same plan applied twice moves the file once; a file on another filesystem is
//! quarantined on that filesystem.

#![allow(clippy::too_many_lines)]

#[path = "../../tests/src/skip.rs"]
mod skip;

use dossier_contain::engine::{self, Context, Hooks, Outcome, Plan, Selection};
use dossier_contain::quarantine::{FileState, Moved, Quarantine};
use dossier_contain::record::Record;
use dossier_contain::{Action, ActionError, Actuator, LocalActuator, Places, Step};
use sha2::{Digest, Sha256};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    skip::skip_or_fail("needs root (chown, chattr, security.* attributes)");
    false
}

fn sha(p: &Path) -> String {
    Sha256::digest(std::fs::read(p).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .status()
        .is_ok_and(|s| s.success())
}

fn getfattr(p: &Path) -> String {
    let o = Command::new("/usr/bin/getfattr")
        .args(["-d", "-m", "-", "-h", "-e", "hex", "--absolute-names"])
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn have(program: &str, package: &str) -> bool {
    if Path::new(program).exists() {
        return true;
    }
    skip::skip_or_fail(&format!("{program} missing (install {package})"));
    false
}

/// The metadata restore must bring back.
fn facts(p: &Path) -> (u32, u32, u32, i64, i64, i64, i64, u64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (
        m.uid(),
        m.gid(),
        m.permissions().mode() & 0o7777,
        m.atime(),
        m.atime_nsec(),
        m.mtime(),
        m.mtime_nsec(),
        m.size(),
    )
}

/// A file owned by 1234:2345, mode 4750, with set times and attributes, and its SHA-256
/// (taken before the times are set: reading it may update its access time).
fn plant(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let f = dir.join(name);
    std::fs::write(&f, b"#!/bin/sh\necho miner\n").unwrap();
    let hash = sha(&f);
    let s = f.to_str().unwrap();
    assert!(run(&["/bin/chown", "1234:2345", s]));
    assert!(run(&["/bin/chmod", "4750", s]));
    assert!(run(&[
        "/usr/bin/setfattr",
        "-n",
        "user.origin",
        "-v",
        "dropper",
        s
    ]));
    if let Some(setcap) = ["/usr/sbin/setcap", "/sbin/setcap"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    {
        assert!(run(&[setcap, "cap_net_raw+ep", s]));
    } else {
        skip::skip_or_fail("setcap missing (install libcap2-bin): security.capability not tested");
    }
    assert!(run(&[
        "/usr/bin/touch",
        "-h",
        "-a",
        "-d",
        "@1600000000.123456789",
        s
    ]));
    assert!(run(&[
        "/usr/bin/touch",
        "-h",
        "-m",
        "-d",
        "@1500000000.987654321",
        s
    ]));
    (f, hash)
}

struct NoLedger;

impl Hooks for NoLedger {
    fn recorded(&mut self, _rec: &Record) -> Result<(), String> {
        Ok(())
    }
    fn confirm(&mut self, _a: &dyn Action, _r: &Record) -> Result<(), ActionError> {
        Err(ActionError::Failed("no confirmation in this test".into()))
    }
}

#[test]
fn quarantine_and_restore_bring_back_content_owner_mode_times_xattrs_and_flags() {
    if !root() || !have("/usr/bin/getfattr", "attr") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let places = Places::new(state.to_str().unwrap());
    let (f, hash) = plant(d.path(), "miner");
    let immutable = run(&["/usr/bin/chattr", "+i", f.to_str().unwrap()]);
    if !immutable {
        skip::skip_or_fail("chattr +i does not work on the temp dir's filesystem");
    }
    let facts_before = facts(&f);
    let xattrs_before = getfattr(&f);
    assert!(
        xattrs_before.contains("user.origin=0x64726f70706572"),
        "{xattrs_before}"
    );

    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let q = Quarantine::new(f.to_str().unwrap().into(), hash.clone(), places.clone());
    let before = q.check(a).unwrap();
    let b: FileState = serde_json::from_value(before.clone()).unwrap();
    assert_eq!((b.uid, b.gid, b.mode.as_str()), (1234, 2345, "4750"));
    assert_eq!(b.mtime, (1_500_000_000, 987_654_321));
    assert_eq!(b.atime, (1_600_000_000, 123_456_789));
    let x = b.xattrs.as_ref().unwrap();
    assert_eq!(x["user.origin"], "64726f70706572");
    if xattrs_before.contains("security.capability") {
        assert!(x.contains_key("security.capability"));
    }
    assert_eq!(
        b.flags.as_deref().is_some_and(|f| f.contains('i')),
        immutable
    );

    let id = dossier_contain::record::new_id();
    let after = q.apply(a, &id, &before).unwrap();
    let m: Moved = serde_json::from_value(after.clone()).unwrap();
    assert!(!f.exists());
    let qpath = Path::new(&m.quarantined);
    assert!(
        qpath.starts_with(state.join("quarantine").join(&id)),
        "{qpath:?}"
    );
    let qm = std::fs::symlink_metadata(qpath).unwrap();
    assert_eq!(qm.permissions().mode() & 0o7777, 0);
    assert_eq!(qm.ino(), b.ino, "moved, not copied");
    let folder = std::fs::metadata(qpath.parent().unwrap()).unwrap();
    assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    assert_eq!(m.flags_cleared, if immutable { "i" } else { "" });

    // Something at the original path: restore refuses and overwrites nothing.
    std::fs::write(&f, b"decoy").unwrap();
    let e = q.undo(a, &id, &before, &after).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(r) if r.contains("occupied")),
        "{e}"
    );
    assert_eq!(std::fs::read(&f).unwrap(), b"decoy");
    assert!(qpath.exists());
    std::fs::remove_file(&f).unwrap();

    q.undo(a, &id, &before, &after).unwrap();
    assert_eq!(facts(&f), facts_before);
    assert_eq!(getfattr(&f), xattrs_before);
    assert_eq!(sha(&f), hash);
    if immutable {
        let o = Command::new("/usr/bin/lsattr")
            .arg("-d")
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .unwrap()
                .contains('i')
        );
        assert!(run(&["/usr/bin/chattr", "-i", f.to_str().unwrap()]));
    }
    assert!(
        !qpath.parent().unwrap().exists(),
        "the empty quarantine folder is left"
    );
}

#[test]
fn a_file_changed_since_the_plan_is_refused_and_not_moved() {
    if !root() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("bin");
    std::fs::write(&f, b"planned").unwrap();
    let planned = sha(&f);
    std::fs::write(&f, b"changed").unwrap();
    let places = Places::new(d.path().join("state").to_str().unwrap());
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let q = Quarantine::new(f.to_str().unwrap().into(), planned, places);
    let e = q.check(a).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(r) if r.contains("changed since the plan")),
        "{e}"
    );
    std::fs::remove_file(&f).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &f).unwrap();
    let e = q.check(a).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(r) if r.contains("not a regular file")),
        "{e}"
    );
}

#[test]
fn the_same_plan_applied_twice_moves_the_file_once_and_restore_all_puts_it_back() {
    if !root() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("payload");
    std::fs::write(&f, b"x".repeat(5000)).unwrap();
    let hash = sha(&f);
    let before = facts(&f);
    let places = Places::new(d.path().join("state").to_str().unwrap());
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let plan = Plan {
        host: a.host().into(),
        steps: vec![Step::Quarantine {
            path: f.to_str().unwrap().into(),
            sha256: hash,
        }],
    };
    let ctx = Context {
        places: places.clone(),
        examiner: "t".into(),
        snapshot: None,
        runtime: false,
    };
    let first = engine::apply(&plan, a, &ctx, &mut NoLedger).unwrap();
    let Outcome::Done { id } = &first[0] else {
        panic!("{first:?}")
    };
    assert!(!f.exists());
    let second = engine::apply(&plan, a, &ctx, &mut NoLedger).unwrap();
    assert_eq!(second[0], Outcome::AlreadyDone { id: id.clone() });
    let r = engine::restore(a, &places, &Selection::All, "t", &mut NoLedger).unwrap();
    assert_eq!(r, vec![(id.clone(), Outcome::Done { id: id.clone() })]);
    assert_eq!(facts(&f), before);
    assert_eq!(std::fs::read(&f).unwrap(), b"x".repeat(5000));
}

/// A tmpfs the test mounts (and unmounts, even when it fails).
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("/bin/umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_file_on_another_filesystem_is_quarantined_on_that_filesystem() {
    if !root() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    if !run(&[
        "/bin/mount",
        "-t",
        "tmpfs",
        "-o",
        "size=4m",
        "dossier-test",
        mnt.to_str().unwrap(),
    ]) {
        skip::skip_or_fail("cannot mount a tmpfs (needs CAP_SYS_ADMIN)");
        return;
    }
    let _m = Mount(mnt.clone());
    let f = mnt.join("dropped");
    std::fs::write(&f, b"other fs").unwrap();
    let places = Places::new(d.path().join("state").to_str().unwrap());
    std::fs::create_dir(d.path().join("state")).unwrap();
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let q = Quarantine::new(f.to_str().unwrap().into(), sha(&f), places);
    let before = q.check(a).unwrap();
    assert_eq!(before["mount_point"], mnt.to_str().unwrap());
    let after = q
        .apply(a, "20261202T000000.000000Z-00000000", &before)
        .unwrap();
    let m: Moved = serde_json::from_value(after.clone()).unwrap();
    assert!(
        Path::new(&m.quarantined).starts_with(mnt.join(".dossier-quarantine")),
        "{}",
        m.quarantined
    );
    let qdir = std::fs::metadata(mnt.join(".dossier-quarantine")).unwrap();
    assert_eq!(qdir.permissions().mode() & 0o777, 0o700);
    q.undo(a, "20261202T000000.000000Z-00000000", &before, &after)
        .unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"other fs");
}

/// This machine, as if `getfattr` were not installed.
struct NoGetfattr(LocalActuator);

impl Actuator for NoGetfattr {
    fn host(&self) -> &str {
        self.0.host()
    }
    fn is_local(&self) -> bool {
        true
    }
    fn run(
        &mut self,
        argv: &[&str],
        stdin: &[u8],
        timeout: std::time::Duration,
    ) -> Result<dossier_contain::Output, dossier_contain::ActError> {
        if argv.iter().any(|a| a.ends_with("/getfattr")) {
            return Ok(dossier_contain::Output {
                status: Some(1),
                stdout: Vec::new(),
                stderr: b"stat: cannot statx: No such file or directory\n".to_vec(),
            });
        }
        self.0.run(argv, stdin, timeout)
    }
}

#[test]
fn without_getfattr_the_record_says_so_and_the_attributes_survive_the_move() {
    if !root() || !have("/usr/bin/getfattr", "attr") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("x");
    std::fs::write(&f, b"data").unwrap();
    assert!(run(&[
        "/usr/bin/setfattr",
        "-n",
        "user.keep",
        "-v",
        "me",
        f.to_str().unwrap()
    ]));
    let xattrs = getfattr(&f);
    let places = Places::new(d.path().join("state").to_str().unwrap());
    let a: &mut dyn Actuator = &mut NoGetfattr(LocalActuator::new());
    let q = Quarantine::new(f.to_str().unwrap().into(), sha(&f), places);
    let before = q.check(a).unwrap();
    assert!(before["xattrs"].is_null());
    assert!(
        before["xattrs_note"]
            .as_str()
            .unwrap()
            .contains("no getfattr")
    );
    let id = dossier_contain::record::new_id();
    let after = q.apply(a, &id, &before).unwrap();
    q.undo(a, &id, &before, &after).unwrap();
    assert_eq!(getfattr(&f), xattrs);
}

#[test]
fn an_interrupted_apply_is_restored_from_its_applying_record() {
    if !root() {
        return;
    }
    use dossier_contain::record::{State, new_id};
    use dossier_contain::store::Store;
    let d = tempfile::tempdir().unwrap();
    let places = Places::new(d.path().join("state").to_str().unwrap());
    let store = Store::new(&places);
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    for moved in [true, false] {
        let f = d.path().join(format!("f-{moved}"));
        std::fs::write(&f, b"payload").unwrap();
        let hash = sha(&f);
        let before_facts = facts(&f);
        let step = Step::Quarantine {
            path: f.to_str().unwrap().into(),
            sha256: hash.clone(),
        };
        let q = Quarantine::new(f.to_str().unwrap().into(), hash, places.clone());
        // What the engine does up to the change; the run then "loses its connection"
        // after the move (or before it), so no `applied` record is written.
        let mut rec = Record::new(new_id(), a.host(), "p", step.clone(), "t", None);
        rec.before = q.check(a).unwrap();
        rec.enter(State::Applying);
        store.write(a, &mut rec).unwrap();
        if moved {
            q.apply(a, &rec.id, &rec.before).unwrap();
            assert!(!f.exists());
        }
        // The same plan again does not apply it twice.
        let plan = Plan {
            host: a.host().into(),
            steps: vec![step],
        };
        let ctx = Context {
            places: places.clone(),
            examiner: "t".into(),
            snapshot: None,
            runtime: false,
        };
        let out = engine::apply(&plan, a, &ctx, &mut NoLedger).unwrap();
        assert!(
            matches!(&out[0], Outcome::Failed { reason, .. } if reason.contains("interrupted")),
            "{out:?}"
        );
        let r = engine::restore(
            a,
            &places,
            &Selection::Ids(vec![rec.id.clone()]),
            "t",
            &mut NoLedger,
        )
        .unwrap();
        assert_eq!(
            r[0].1,
            Outcome::Done { id: rec.id.clone() },
            "moved: {moved}"
        );
        assert_eq!(facts(&f), before_facts);
        assert_eq!(std::fs::read(&f).unwrap(), b"payload");
    }
}

#[test]
fn a_restore_interrupted_after_the_move_back_is_finished_by_the_next_one() {
    if !root() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("tool");
    std::fs::write(&f, b"abc").unwrap();
    let hash = sha(&f);
    assert!(run(&["/bin/chmod", "2755", f.to_str().unwrap()]));
    let before_facts = facts(&f);
    let places = Places::new(d.path().join("state").to_str().unwrap());
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let q = Quarantine::new(f.to_str().unwrap().into(), hash, places);
    let before = q.check(a).unwrap();
    let id = dossier_contain::record::new_id();
    let after = q.apply(a, &id, &before).unwrap();
    let m: Moved = serde_json::from_value(after.clone()).unwrap();
    // The first restore moved it back and stopped there (mode still 000).
    std::fs::rename(&m.quarantined, &f).unwrap();
    assert_eq!(facts(&f).2, 0);
    q.undo(a, &id, &before, &after).unwrap();
    assert_eq!(facts(&f), before_facts);
    // A different file at the path is not taken for it.
    std::fs::remove_file(&f).unwrap();
    std::fs::write(&f, b"xyz").unwrap();
    let e = q.undo(a, &id, &before, &after).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(r) if r.contains("not the recorded file")),
        "{e}"
    );
}
