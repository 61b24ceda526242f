//! Suspend, resume and kill of real process trees this test starts, through the
//! `LocalActuator`: SIGSTOP of the tree where the process has no cgroup of its own, the
//! cgroup v2 freeze and the cgroup v1 freezer in cgroups the test makes (and removes), PID
//! reuse refused with nothing changed, kill with the exe and memory maps hashed first.
//! Only processes this test started are ended, by PID (and reaped: the test process is
//! their subreaper).

use dossier_contain::action::{Action, ActionError, Places, Step};
use dossier_contain::actuator::{Actuator, LocalActuator};
use dossier_contain::process::procfs::{self, Proc};
use dossier_contain::process::{Kill, Method, Suspend};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../tests/src/skip.rs"]
mod skip;

/// A process tree this test started: `sh` (its command name set to something that looks
/// like more stat fields) with two `sleep` children. Dropping it kills those PIDs (when
/// still the same processes) and reaps the shell.
struct Tree {
    child: Child,
    root: Proc,
    procs: Vec<Proc>,
    cgroup: Option<String>,
}

const TREE: &str = "read go; printf 'a) T 1 (b' > /proc/$$/comm; \
                    /bin/sleep 1000 & /bin/sleep 1000 & wait";

fn local() -> LocalActuator {
    LocalActuator::new()
}

/// Starts the tree; when `cgroup` is given (a folder with `cgroup.procs`), the shell is
/// moved into it before it starts its children.
fn start(cgroup: Option<&str>) -> Tree {
    // The `sleep`s are reparented to this test process (not to PID 1) when their shell dies,
    // so that it reaps them.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let child = Command::new("/bin/sh")
        .args(["-c", TREE])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let a = &mut local();
    let root = procfs::stat_of(a, pid).unwrap().unwrap();
    let mut tree = Tree {
        root: root.clone(),
        procs: vec![root],
        child,
        cgroup: cgroup.map(str::to_string),
    };
    if let Some(dir) = cgroup {
        std::fs::write(format!("{dir}/cgroup.procs"), pid.to_string()).unwrap();
    }
    tree.child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = procfs::scan(a).unwrap();
        let t = procfs::tree_of(&all, pid, tree.root.start_time).unwrap();
        if t.len() == 3 && t[0].comm == "a) T 1 (b" {
            tree.root = t[0].clone();
            tree.procs = t;
            return tree;
        }
        assert!(Instant::now() < deadline, "the tree never formed: {t:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Tree {
    fn now(&self) -> Vec<Proc> {
        let a = &mut local();
        self.procs
            .iter()
            .map(|p| procfs::stat_of(a, p.pid).unwrap().unwrap())
            .collect()
    }

    fn states(&self) -> String {
        self.now().iter().map(|p| p.state).collect()
    }

    fn suspend(&self) -> Suspend {
        Suspend::new(self.root.pid, self.root.start_time, None)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let a = &mut local();
        if let Some(dir) = &self.cgroup {
            // Thaw first: a task in a frozen v1 cgroup does not die until thawed.
            let _ = std::fs::write(format!("{dir}/cgroup.freeze"), "0");
            let _ = std::fs::write(format!("{dir}/freezer.state"), "THAWED");
        }
        for p in &self.procs {
            if procfs::stat_of(a, p.pid)
                .ok()
                .flatten()
                .is_some_and(|q| q.start_time == p.start_time)
            {
                let pid = nix::unistd::Pid::from_raw(p.pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
        let _ = self.child.wait();
        for p in self.procs.iter().skip(1) {
            let pid = nix::unistd::Pid::from_raw(p.pid as i32);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// Waits until every process of the tree is gone or a zombie.
fn gone(tree: &Tree) -> bool {
    let a = &mut local();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let left = tree.procs.iter().filter(|p| {
            procfs::stat_of(a, p.pid)
                .unwrap()
                .is_some_and(|q| q.start_time == p.start_time && !q.dead())
        });
        if left.count() == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn sigstop_suspends_the_whole_tree_and_resume_undoes_it() {
    let tree = start(None);
    let a: &mut dyn Actuator = &mut local();
    let s = tree.suspend();
    assert!(s.describe().contains("SIGSTOP"), "{}", s.describe());
    let before = s.check(a).unwrap();
    assert_eq!(before["start_time"], tree.root.start_time);
    assert_eq!(before["comm"], "a) T 1 (b");
    assert_eq!(before["descendants"].as_array().unwrap().len(), 2);
    assert!(before["exe"].as_str().unwrap().starts_with('/'));
    assert_eq!(before["exe_sha256"].as_str().unwrap().len(), 64);
    let after = s.apply(a, "a1", &before).unwrap();
    assert_eq!(after["method"], "sigstop", "{after}");
    assert_eq!(after["processes"].as_array().unwrap().len(), 3);
    assert_eq!(tree.states(), "TTT");
    s.undo(a, "a1", &before, &after).unwrap();
    assert!(!tree.states().contains('T'), "{}", tree.states());
}

/// Passes every command to a `LocalActuator` and keeps its argv (as an SSH actuator would
/// send it).
struct Recording(LocalActuator, Vec<Vec<String>>);

impl Actuator for Recording {
    fn host(&self) -> &str {
        self.0.host()
    }

    fn is_local(&self) -> bool {
        false
    }

    fn run(
        &mut self,
        argv: &[&str],
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<dossier_contain::Output, dossier_contain::ActError> {
        self.1.push(argv.iter().map(|s| s.to_string()).collect());
        self.0.run(argv, stdin, timeout)
    }
}

#[test]
fn every_command_is_an_absolute_argv_and_no_script_holds_target_data() {
    let tree = start(None);
    let mut rec = Recording(local(), Vec::new());
    let s = tree.suspend();
    let before = s.check(&mut rec).unwrap();
    let after = s.apply(&mut rec, "r", &before).unwrap();
    s.undo(&mut rec, "r", &before, &after).unwrap();
    assert!(!tree.states().contains('T'));
    let pid = tree.root.pid.to_string();
    for argv in &rec.1 {
        assert!(argv[0].starts_with('/'), "{argv:?}");
        if argv[0] == "/bin/sh" {
            assert_eq!(argv[1], "-c", "{argv:?}");
            assert!(!argv[2].contains(&pid), "target data in a script: {argv:?}");
        }
    }
    let signals: Vec<&Vec<String>> = rec.1.iter().filter(|v| v[0].ends_with("/kill")).collect();
    assert_eq!(signals.len(), 2, "{signals:?}");
    assert_eq!(&signals[0][1..3], ["-STOP", "--"]);
    assert_eq!(signals[0][3], pid, "parent first: {signals:?}");
    assert_eq!(&signals[1][1..3], ["-CONT", "--"]);
}

#[test]
fn a_reused_pid_or_another_exe_is_refused_and_nothing_changes() {
    let tree = start(None);
    let a: &mut dyn Actuator = &mut local();
    let wrong = Suspend::new(tree.root.pid, tree.root.start_time + 1, None);
    let e = wrong.check(a).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("PID reused or exe changed")),
        "{e}"
    );
    let e = wrong.apply(a, "a2", &serde_json::Value::Null).unwrap_err();
    assert!(matches!(e, ActionError::Refused(_)), "{e}");
    let other_exe = Suspend::new(tree.root.pid, tree.root.start_time, Some("00".repeat(32)));
    let e = other_exe
        .apply(a, "a2", &serde_json::Value::Null)
        .unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("SHA-256")),
        "{e}"
    );
    let exe = procfs::sha256_of(a, &format!("/proc/{}/exe", tree.root.pid)).unwrap();
    let right = Suspend::new(
        tree.root.pid,
        tree.root.start_time,
        Some(exe.to_uppercase()),
    );
    right.check(a).unwrap();
    assert!(!tree.states().contains('T'), "changed: {}", tree.states());
    let kill = Kill::new(tree.root.pid, tree.root.start_time, None);
    let e = kill.check(a).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("not suspended")),
        "{e}"
    );
    assert!(!tree.states().contains('T'));
}

#[test]
fn kill_hashes_exe_and_maps_first_and_cannot_be_undone() {
    let tree = start(None);
    let a: &mut dyn Actuator = &mut local();
    let exe = procfs::exe_path(a, tree.root.pid).unwrap().unwrap();
    let exe_sha = procfs::sha256_of(a, &format!("/proc/{}/exe", tree.root.pid)).unwrap();
    let step = Step::Suspend {
        pid: tree.root.pid,
        start_time: tree.root.start_time,
        exe_sha256: Some(exe_sha.clone()),
    };
    let s = step.action(&Places::new(Places::DEFAULT));
    let s_before = s.check(a).unwrap();
    let s_after = s.apply(a, "s", &s_before).unwrap();
    let step = Step::Kill {
        pid: tree.root.pid,
        start_time: tree.root.start_time,
        exe_sha256: Some(exe_sha.clone()),
    };
    let k = step.action(&Places::new(Places::DEFAULT));
    assert!(
        k.describe().contains("cannot be undone"),
        "{}",
        k.describe()
    );
    // The evidence is in the state before (the `applying` record, written before the kill).
    let before = k.check(a).unwrap();
    assert!(!gone(&tree), "the check killed: {}", tree.states());
    let first = &before["processes"][0];
    assert_eq!(first["pid"], tree.root.pid);
    assert_eq!(first["exe_sha256"], exe_sha.as_str());
    assert_eq!(first["exe"], exe.as_str());
    let maps = first["maps"].as_str().unwrap();
    assert!(maps.contains(&exe), "{first}");
    let maps_sha = procfs::sha256_of(a, &format!("/proc/{}/maps", tree.root.pid)).unwrap();
    assert_eq!(first["maps_sha256"], maps_sha.as_str());
    assert_eq!(before["processes"].as_array().unwrap().len(), 3);
    assert!(before["processes"][1]["maps"].is_null());
    assert_eq!(
        before["processes"][1]["maps_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let after = k.apply(a, "k", &before).unwrap();
    assert!(gone(&tree), "still running: {}", tree.states());
    // Hashed again just before the kill: the frozen tree had not changed.
    for i in 0..3 {
        assert_eq!(
            after["processes"][i]["maps_sha256"],
            before["processes"][i]["maps_sha256"]
        );
    }
    assert!(after["processes"][0]["maps"].is_null());
    assert_eq!(after["killed"].as_array().unwrap().len(), 3);
    let e = k.undo(a, "k", &before, &after).unwrap_err();
    let hashed_at = before["hashed_at"].as_str().unwrap();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("cannot be brought back") && m.contains(hashed_at)),
        "{e}"
    );
    // Restoring the suspend afterwards (restore --all) has nothing left to resume.
    s.undo(a, "s", &s_before, &s_after).unwrap();
}

#[test]
fn a_zombie_is_refused_with_the_reason_and_nothing_is_sent() {
    // A child that has exited and that this test has not reaped yet: state Z.
    let mut child = Command::new("/bin/true").spawn().unwrap();
    let pid = child.id();
    let a: &mut dyn Actuator = &mut local();
    let deadline = Instant::now() + Duration::from_secs(10);
    let zombie = loop {
        let p = procfs::stat_of(a, pid).unwrap().unwrap();
        if p.state == 'Z' {
            break p;
        }
        assert!(Instant::now() < deadline, "never a zombie: {p:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    let s = Suspend::new(pid, zombie.start_time, None);
    let e = s.check(a).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m)
            if *m == format!("PID {pid} is a zombie (exited, not reaped): nothing to freeze")),
        "{e}"
    );
    // Applied anyway (a plan made while it ran): refused before any signal.
    let e = s.apply(a, "z", &serde_json::Value::Null).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.contains("is a zombie")),
        "{e}"
    );
    let k = Kill::new(pid, zombie.start_time, None);
    let e = k.check(a).unwrap_err();
    assert!(
        matches!(&e, ActionError::Refused(m) if m.ends_with("nothing to kill")),
        "{e}"
    );
    assert_eq!(procfs::stat_of(a, pid).unwrap().unwrap().state, 'Z');
    assert!(child.try_wait().unwrap().unwrap().success());
}

/// Where a writable cgroup hierarchy of `fs` type is mounted, among `places`.
fn hierarchy(places: &[&'static str], fs: &str) -> Option<&'static str> {
    places.iter().copied().find(|p| {
        let o = Command::new("/usr/bin/stat")
            .args(["-f", "-c", "%T", "--", p])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim() == fs
    })
}

/// A cgroup this test makes (removed on drop, once empty).
struct Cgroup(String);

impl Cgroup {
    fn make(root: &str, name: &str) -> Option<Cgroup> {
        let dir = format!("{root}/dossier-test-{name}-{}", std::process::id());
        std::fs::create_dir(&dir).ok().map(|()| Cgroup(dir))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::remove_dir(&self.0).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Suspend (cgroup method expected), resume, suspend again, kill: in cgroup `dir`.
fn freeze_thaw_kill(dir: &str, method: Method, frozen: impl Fn() -> bool) {
    let tree = start(Some(dir));
    let a: &mut dyn Actuator = &mut local();
    let s = tree.suspend();
    let before = s.check(a).unwrap();
    assert_eq!(before["own_cgroup"]["dir"], dir, "{before}");
    let after = s.apply(a, "c1", &before).unwrap();
    let want = serde_json::to_value(method).unwrap();
    assert_eq!(after["method"], want, "{after}");
    assert_eq!(after["processes"].as_array().unwrap().len(), 3);
    assert!(frozen(), "{dir} not frozen");
    s.undo(a, "c1", &before, &after).unwrap();
    assert!(!frozen(), "{dir} still frozen");
    assert!(!tree.states().contains('T'));
    let after = s.apply(a, "c2", &before).unwrap();
    assert_eq!(after["method"], want);
    let k = Kill::new(tree.root.pid, tree.root.start_time, None);
    let kb = k.check(a).unwrap();
    let ka = k.apply(a, "k", &kb).unwrap();
    assert_eq!(ka["killed"].as_array().unwrap().len(), 3);
    assert!(gone(&tree), "still running: {}", tree.states());
}

/// A cgroup that holds the process but not its children is not its own: SIGSTOP.
fn shared_cgroup_falls_back_to_sigstop(dir: &str) {
    let tree = start(None);
    std::fs::write(format!("{dir}/cgroup.procs"), tree.root.pid.to_string()).unwrap();
    let a: &mut dyn Actuator = &mut local();
    let s = tree.suspend();
    let before = s.check(a).unwrap();
    assert!(before["own_cgroup"].is_null(), "{before}");
    let after = s.apply(a, "p", &before).unwrap();
    assert_eq!(after["method"], "sigstop", "{after}");
    assert_eq!(tree.states(), "TTT");
    s.undo(a, "p", &before, &after).unwrap();
    assert!(!tree.states().contains('T'));
}

#[test]
fn cgroup_freeze_of_a_process_with_a_cgroup_of_its_own() {
    let mut ran = Vec::new();
    let v2 = hierarchy(&["/sys/fs/cgroup", "/sys/fs/cgroup/unified"], "cgroup2fs");
    if let Some(cg) = v2.and_then(|r| Cgroup::make(r, "v2")) {
        let events = format!("{}/cgroup.events", cg.0);
        freeze_thaw_kill(&cg.0, Method::CgroupV2Freeze, || {
            std::fs::read_to_string(&events)
                .unwrap()
                .contains("frozen 1")
        });
        ran.push("cgroup v2");
        shared_cgroup_falls_back_to_sigstop(&cg.0);
    }
    let v1 = hierarchy(&["/sys/fs/cgroup/freezer"], "cgroupfs");
    if let Some(cg) = v1.and_then(|r| Cgroup::make(r, "v1")) {
        let state = format!("{}/freezer.state", cg.0);
        freeze_thaw_kill(&cg.0, Method::CgroupV1Freezer, || {
            std::fs::read_to_string(&state).unwrap().trim() == "FROZEN"
        });
        ran.push("cgroup v1 freezer");
    }
    eprintln!("cgroup freeze tested with: {ran:?}");
    if ran.is_empty() {
        skip::skip_or_fail(
            "no writable cgroup v2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified) and no \
             cgroup v1 freezer: run as root on a host (not in a container without cgroup access)",
        );
    }
}
