//! Unit tests on a temporary root. systemd is not PID 1 where these run, so `systemctl` is a
//! small test script (`places.systemctl`): `mask` and `unmask` (also `--runtime`) it hands to
//! the real systemctl run offline with `--root` (which makes and removes the same links as on
//! a live host, and refuses to mask a unit whose file is in `/etc/systemd/system`); `stop`,
//! `start` and `show` it simulates, keeping the active state in a file and deriving the load
//! state from the links and files of the temporary root the way systemd does (a `/dev/null`
//! link in `/run/systemd/transient` or `/etc/systemd/system` masks it; one in
//! `/run/systemd/system` masks it unless a unit file ranks above it). What is tested is
//! dossier's side: which commands in which order, the files, links and quarantine, and that
//! runtime neutralization leaves `/etc`, `/usr`, `/var` and `/opt` untouched. Not tested here:
//! a live systemd manager (stop, start, daemon-reload, show).

use super::*;
use crate::actuator::LocalActuator;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

const UNIT: &str = "miner.service";

struct Lab {
    _d: tempfile::TempDir,
    root: PathBuf,
    state: PathBuf,
    places: UnitPlaces,
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().into()
}

fn script(root: &Path, state: &Path, real: &str) -> String {
    format!(
        r#"#!/bin/sh
R='{root}'; S='{state}'; U='{UNIT}'
echo "$*" >> "$S/calls"
load() {{
  if [ -L "$R/run/systemd/transient/$U" ]; then echo masked
  elif [ "$(readlink "$R/etc/systemd/system/$U")" = /dev/null ]; then echo masked
  elif [ -L "$R/run/systemd/system/$U" ] && [ ! -e "$S/shadowed" ]; then echo masked
  elif [ -f "$R/etc/systemd/system/$U" ]; then echo loaded
  else echo not-found; fi
}}
last() {{ for x in "$@"; do l=$x; done; echo "$l"; }}
case "$1" in
show) [ "$(last "$@")" = "$U" ] || {{ echo LoadState=not-found; exit 0; }}
  cat "$S/show"; echo "LoadState=$(load)"; echo "ActiveState=$(cat "$S/active")";;
stop) echo inactive > "$S/active";;
start) [ "$(load)" = masked ] && {{ echo "Unit $U is masked." >&2; exit 1; }}
  echo active > "$S/active";;
daemon-reload) ;;
mask|unmask) exec '{real}' --root="$R" "$@";;
*) echo "unknown: $*" >&2; exit 2;;
esac
"#,
        root = s(root),
        state = s(state),
    )
}

/// The real `systemctl` (from the systemd package), run offline with `--root` by the test
/// script for `mask` and `unmask`.
fn real_systemctl() -> Option<&'static str> {
    SYSTEMCTL.iter().copied().find(|p| Path::new(p).is_file())
}

/// A root with systemd "running", the unit enabled and active, an alias, a timer that
/// triggers it, a shared drop-in and links that are not the unit's.
fn lab(real: &str) -> Lab {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let state = d.path().join("state");
    let etc = root.join("etc/systemd/system");
    for p in [
        root.join("run/systemd/system"),
        root.join("run/systemd/transient"),
        etc.join("miner.service.d"),
        etc.join("multi-user.target.wants"),
        etc.join("timers.target.wants"),
        root.join("usr/lib/systemd/system/service.d"),
        root.join("var/lib/x"),
        root.join("opt/.x"),
        state.clone(),
    ] {
        std::fs::create_dir_all(p).unwrap();
    }
    symlink("usr/lib", root.join("lib")).unwrap();
    let frag = etc.join(UNIT);
    std::fs::write(
        &frag,
        "[Service]\nExecStart=/opt/.x/kworker\n[Install]\nWantedBy=multi-user.target\nAlias=kw.service\n",
    )
    .unwrap();
    std::fs::write(etc.join("miner.timer"), "[Timer]\nOnBootSec=1\n").unwrap();
    std::fs::write(
        etc.join("miner.service.d/override.conf"),
        "[Service]\nNice=19\n",
    )
    .unwrap();
    let shared = root.join("usr/lib/systemd/system/service.d/10-shared.conf");
    std::fs::write(&shared, "[Service]\nTimeoutStopSec=5\n").unwrap();
    std::fs::write(root.join("opt/.x/kworker"), b"\x7fELF miner").unwrap();
    std::fs::write(root.join("var/lib/x/config.json"), b"{}").unwrap();
    symlink(&frag, etc.join("multi-user.target.wants").join(UNIT)).unwrap();
    symlink(&frag, etc.join("kw.service")).unwrap();
    symlink(
        "/etc/systemd/system/miner.timer",
        etc.join("timers.target.wants/miner.timer"),
    )
    .unwrap();
    symlink(
        "/lib/systemd/system/ssh.service",
        etc.join("multi-user.target.wants/ssh.service"),
    )
    .unwrap();
    let show = format!(
        "FragmentPath={}\nDropInPaths={} {}\nUnitFileState=enabled\nTriggers=\nTriggeredBy=miner.timer\n",
        s(&frag),
        s(&etc.join("miner.service.d/override.conf")),
        s(&shared)
    );
    std::fs::write(state.join("show"), show).unwrap();
    std::fs::write(state.join("active"), "active\n").unwrap();
    // Written by a child process, so no thread of this test binary holds it open for
    // writing when it is executed (ETXTBSY).
    let sc = d.path().join("systemctl");
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    ops::run_ok(
        a,
        "write",
        "systemctl",
        &[
            "/bin/sh",
            "-c",
            "cat > \"$1\" && chmod 755 \"$1\"",
            "sh",
            &s(&sc),
        ],
        script(&root, &state, real).as_bytes(),
    )
    .unwrap();
    let places = UnitPlaces {
        root: s(&root),
        systemctl: Some(s(&sc)),
        quarantine: s(&d.path().join("quarantine")),
    };
    Lab {
        _d: d,
        root,
        state,
        places,
    }
}

impl Lab {
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.join("calls"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("show "))
            .map(String::from)
            .collect()
    }
    fn etc(&self, rel: &str) -> PathBuf {
        self.root.join("etc/systemd/system").join(rel)
    }
}

/// `lstat` facts of every entry under `dirs` (not reading any file): files with mode, owner,
/// size and both times; links with their target.
fn metas(root: &Path, dirs: &[&str]) -> BTreeMap<String, String> {
    fn walk(p: &Path, out: &mut BTreeMap<String, String>) {
        let m = std::fs::symlink_metadata(p).unwrap();
        let v = if m.file_type().is_symlink() {
            format!("-> {}", std::fs::read_link(p).unwrap().display())
        } else if m.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), out);
            }
            return;
        } else {
            format!(
                "{:o} {}:{} {} a{}.{} m{}.{}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.size(),
                m.atime(),
                m.atime_nsec(),
                m.mtime(),
                m.mtime_nsec()
            )
        };
        out.insert(s(p), v);
    }
    let mut out = BTreeMap::new();
    for d in dirs {
        walk(&root.join(d), &mut out);
    }
    out
}

/// SHA-256 of every regular file under `dirs`.
fn hashes(root: &Path, dirs: &[&str]) -> BTreeMap<String, String> {
    metas(root, dirs)
        .into_keys()
        .filter(|p| std::fs::symlink_metadata(p).unwrap().is_file())
        .map(|p| {
            let h = keep::sha256_of(&std::fs::read(&p).unwrap());
            (p, h)
        })
        .collect()
}

/// The real systemctl when the test can run (root, systemctl there).
fn ready() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        crate::skip::skip_or_fail("needs root (root-only quarantine folder)");
        return None;
    }
    let real = real_systemctl();
    if real.is_none() {
        crate::skip::skip_or_fail(
            "needs systemctl (Debian package systemd) for mask/unmask --root",
        );
    }
    real
}

#[test]
fn permanent_quarantines_files_removes_links_masks_and_restores_exactly() {
    let Some(real) = ready() else {
        return;
    };
    let l = lab(real);
    let trees = ["etc", "usr", "opt", "var"];
    let step = NeutralizeUnit::with_places(UNIT, false, l.places.clone());
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    // The real systemctl will not mask it while its file is in /etc/systemd/system.
    let sc = l.places.systemctl.clone().unwrap();
    let o = a
        .run(&[&sc, "mask", "--", UNIT], b"", SYSTEMCTL_TIMEOUT)
        .unwrap();
    assert!(
        !o.success() && o.reason().contains("already exists"),
        "{}",
        o.reason()
    );
    std::fs::remove_file(l.state.join("calls")).unwrap();
    let hashes0 = hashes(&l.root, &trees);
    let metas0 = metas(&l.root, &trees);
    let before = step.check(a).unwrap();
    let b: Before = record(&before).unwrap();
    assert_eq!(b.fragment.as_ref().unwrap().path, s(&l.etc(UNIT)));
    assert_eq!(b.drop_ins.len(), 1);
    assert!(b.shared_drop_ins[0].ends_with("service.d/10-shared.conf"));
    let links: Vec<&str> = b.links.iter().map(|x| x.path.as_str()).collect();
    assert_eq!(
        links,
        [
            s(&l.etc("kw.service")),
            s(&l.etc("multi-user.target.wants/miner.service"))
        ]
    );
    assert_eq!(b.shown.triggered_by, ["miner.timer"]);

    let after = step.apply(a, "u-1", &before).unwrap();
    assert_eq!(
        l.calls(),
        [
            "stop -- miner.service",
            "daemon-reload",
            "mask -- miner.service"
        ]
    );
    assert_eq!(
        std::fs::read_link(l.etc(UNIT)).unwrap(),
        Path::new("/dev/null")
    );
    assert!(!l.etc("kw.service").exists() && !l.etc("miner.service.d/override.conf").exists());
    assert!(
        l.etc("multi-user.target.wants/ssh.service").is_symlink(),
        "not its link"
    );
    assert!(
        l.etc("timers.target.wants/miner.timer").is_symlink(),
        "the timer has its own step"
    );
    let q = Path::new(&l.places.quarantine).join("u-1");
    for f in ["unit-0-miner.service", "unit-1-override.conf"] {
        assert_eq!(
            std::fs::metadata(q.join(f)).unwrap().mode() & 0o7777,
            0,
            "{f}"
        );
    }
    assert_eq!(after["mask"], "etc");

    step.undo(a, "u-1", &before, &after).unwrap();
    assert_eq!(
        metas(&l.root, &trees),
        metas0,
        "not restored with its metadata"
    );
    assert_eq!(hashes(&l.root, &trees), hashes0);
    assert_eq!(
        l.calls()[3..],
        [
            "unmask -- miner.service",
            "daemon-reload",
            "start -- miner.service"
        ]
    );
    assert!(!q.exists(), "empty quarantine folder left");
}

#[test]
fn permanent_refuses_changed_files_and_occupied_paths() {
    let Some(real) = ready() else {
        return;
    };
    let l = lab(real);
    let step = NeutralizeUnit::with_places(UNIT, false, l.places.clone());
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    let before = step.check(a).unwrap();
    std::fs::write(l.etc(UNIT), "[Service]\nExecStart=/opt/.x/other\n").unwrap();
    match step.apply(a, "u-2", &before) {
        Err(ActionError::Refused(m)) => assert!(m.contains("changed since the plan"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(l.calls().is_empty(), "something was done: {:?}", l.calls());
    let before = step.check(a).unwrap();
    let alias = l.etc("kw.service");
    std::fs::remove_file(&alias).unwrap();
    symlink("/etc/systemd/system/other.service", &alias).unwrap();
    match step.apply(a, "u-2b", &before) {
        Err(ActionError::Refused(m)) => assert!(m.contains("no longer points"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(l.calls().is_empty(), "something was done: {:?}", l.calls());
    std::fs::remove_file(&alias).unwrap();
    symlink(l.etc(UNIT), &alias).unwrap();

    let before = step.check(a).unwrap();
    let after = step.apply(a, "u-3", &before).unwrap();
    let wants = l.etc("multi-user.target.wants/miner.service");
    std::fs::write(&wants, "someone else's").unwrap();
    let calls = l.calls().len();
    match step.undo(a, "u-3", &before, &after) {
        Err(ActionError::Refused(m)) => assert!(m.contains(&s(&wants)), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(l.calls().len(), calls, "undo ran commands before refusing");
    assert_eq!(std::fs::read_to_string(&wants).unwrap(), "someone else's");
    assert!(l.etc(UNIT).is_symlink(), "mask removed");
    assert!(
        Path::new(&l.places.quarantine)
            .join("u-3/unit-0-miner.service")
            .exists()
    );
}

#[test]
fn runtime_stops_and_masks_under_run_only() {
    let Some(real) = ready() else {
        return;
    };
    for shadowed in [false, true] {
        let l = lab(real);
        if shadowed {
            std::fs::write(l.state.join("shadowed"), "").unwrap();
        }
        let trees = ["etc", "usr", "opt", "var"];
        let step = NeutralizeUnit::with_places(UNIT, true, l.places.clone());
        assert!(step.describe().contains("mask --runtime"));
        let a: &mut dyn Actuator = &mut LocalActuator::new();
        let hashes0 = hashes(&l.root, &trees);
        let metas0 = metas(&l.root, &trees);
        let before = step.check(a).unwrap();
        let after = step.apply(a, "r-1", &before).unwrap();
        assert_eq!(metas(&l.root, &trees), metas0, "the scene changed");
        let run = l.root.join("run/systemd/system").join(UNIT);
        assert_eq!(std::fs::read_link(&run).unwrap(), Path::new("/dev/null"));
        let transient = l.root.join("run/systemd/transient").join(UNIT);
        assert_eq!(transient.is_symlink(), shadowed);
        let mut want = vec!["stop -- miner.service", "mask --runtime -- miner.service"];
        if shadowed {
            want.push("daemon-reload");
            assert_eq!(after["mask"], "transient");
        } else {
            assert_eq!(after["mask"], "runtime");
        }
        assert_eq!(l.calls(), want);
        step.undo(a, "r-1", &before, &after).unwrap();
        assert!(!run.is_symlink() && !transient.is_symlink());
        assert_eq!(
            l.calls()[want.len()..],
            [
                "unmask --runtime -- miner.service",
                "daemon-reload",
                "start -- miner.service"
            ]
        );
        assert_eq!(metas(&l.root, &trees), metas0, "the scene changed");
        assert_eq!(hashes(&l.root, &trees), hashes0);
    }
}

#[test]
fn refused_without_systemd_as_pid_1_and_for_bad_or_unknown_units() {
    let d = tempfile::tempdir().unwrap();
    let places = UnitPlaces {
        root: s(d.path()),
        ..UnitPlaces::default()
    };
    let a: &mut dyn Actuator = &mut LocalActuator::new();
    match NeutralizeUnit::with_places(UNIT, true, places).check(a) {
        Err(ActionError::Unsupported(m)) => {
            assert!(
                m.contains("no systemd as PID 1") && m.contains("Suspend"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    for bad in ["../x.service", "x.mount", "a b.service", ".service"] {
        assert!(
            matches!(
                NeutralizeUnit::new(bad, false).check(a),
                Err(ActionError::Refused(_))
            ),
            "{bad}"
        );
    }
    let Some(real) = ready() else {
        return;
    };
    let l = lab(real);
    let other = NeutralizeUnit::with_places("other.service", false, l.places.clone());
    match other.check(a) {
        Err(ActionError::Refused(m)) => assert!(m.contains("not found"), "{m}"),
        r => panic!("{r:?}"),
    }
    let inst = NeutralizeUnit::with_places("getty@tty1.service", false, l.places.clone());
    match inst.check(a) {
        Err(ActionError::Refused(m)) => assert!(m.contains("instance of a template"), "{m}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn parses_show_output() {
    let s = parse_show(
        "LoadState=loaded\nFragmentPath=/etc/systemd/system/a.service\nDropInPaths=\n\
         ActiveState=active\nTriggeredBy=a.timer a.socket\nUnitFileState=enabled\n",
    );
    assert_eq!(s.triggered_by, ["a.timer", "a.socket"]);
    assert!(s.drop_in_paths.is_empty());
    assert_eq!(
        (s.load_state.as_str(), s.active_state.as_str()),
        ("loaded", "active")
    );
}
