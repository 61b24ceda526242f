//! Containment faults over SSH against the lab (issue 16's "Faults and bad input"): a PID
//! reused between the plan and its step, a file changed between the plan and its step, a
//! second `--apply` of the same actions, a restore whose original path is occupied, and the
//! `dossier` client killed in the middle of an apply.
//!
//! `dossier contain --apply` makes its plan on the host when it runs (it prints it), then
//! collects and verifies the snapshot bundle, then carries the plan out; each step's action
//! checks the host again just before its change. A change made on the host while the client
//! is stopped (SIGSTOP, once the plan is printed) is a change between the plan and the apply.
//! (A non-root login without sudo is refused before any change: `contain::ssh_actuator_*`.)

use dossier_tests::lab::{Lab, LabHost, Scenario};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// `dossier COMMAND root@HOST ARGS` in the lab namespace with the lab's key and known_hosts
/// only, no configuration of the tester's, stdin closed.
fn dossier(lab: &Lab, home: &Path, command: &str, host: usize, args: &[&str]) -> Command {
    let mut c = lab.command(dossier_tests::dossier_bin());
    c.arg(command)
        .arg(format!("root@{}", lab.hosts()[host].addr))
        .args(args)
        .arg("-i")
        .arg(lab.client_key())
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .args(["--ssh-config", "/dev/null", "--connect-timeout", "5"])
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("DOSSIER_PLUGIN_PATH")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null());
    c
}

/// Runs `c`: exit code and standard output (both outputs logged).
fn run(mut c: Command) -> (Option<i32>, String) {
    let o = c.output().expect("run dossier");
    let out = dossier_tests::stdout(&o);
    eprintln!(
        "--- {c:?}: {}\n{out}\n{}",
        o.status,
        dossier_tests::stderr(&o)
    );
    (o.status.code(), out)
}

/// A `dossier` run in progress: its standard output read line by line.
struct Running {
    child: Child,
    out: BufReader<ChildStdout>,
    text: String,
}

impl Running {
    /// Starts `c` (`ip netns exec` execs `dossier` itself: the child's PID is dossier's).
    fn start(mut c: Command) -> Running {
        let mut child = c.stdout(Stdio::piped()).spawn().expect("spawn dossier");
        let out = BufReader::new(child.stdout.take().unwrap());
        Running {
            child,
            out,
            text: String::new(),
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap())
    }

    /// Reads lines until one satisfies `f` (panics at the end of the output).
    fn until(&mut self, f: impl Fn(&str) -> bool) {
        loop {
            let mut line = String::new();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "dossier ended before the line wanted:\n{}",
                self.text
            );
            self.text.push_str(&line);
            if f(&line) {
                return;
            }
        }
    }

    /// Waits for the end: exit code and the whole standard output.
    fn finish(mut self) -> (Option<i32>, String) {
        self.out.read_to_string(&mut self.text).unwrap();
        let status = self.child.wait().unwrap();
        eprintln!("--- dossier: {status}\n{}", self.text);
        (status.code(), self.text)
    }
}

/// `data` planted at `/tmp/NAME` on the host (the host's `/tmp` is one filesystem of its own,
/// so quarantine moves within it); the path on the host.
fn plant(h: &LabHost, name: &str, data: &[u8]) -> String {
    std::fs::write(h.root.join("tmp").join(name), data).unwrap();
    format!("/tmp/{name}")
}

/// Every regular file under the host's `/tmp` with its content (quarantined ones included).
fn tmp_files(h: &LabHost) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(&e.path(), out);
            } else if t.is_file() {
                out.insert(e.path(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&h.root.join("tmp"), &mut out);
    out
}

/// How many files under the host's `/tmp` hold exactly `data`.
fn copies(h: &LabHost, data: &[u8]) -> usize {
    tmp_files(h)
        .values()
        .filter(|d| d.as_slice() == data)
        .count()
}

/// `dossier actions` of host `i`: the lines naming `what`, as (state, line).
fn records_of(lab: &Lab, home: &Path, i: usize, what: &str) -> Vec<(String, String)> {
    let (code, out) = run(dossier(lab, home, "actions", i, &[]));
    assert_eq!(code, Some(0));
    out.lines()
        .filter(|l| l.ends_with(what) || l.contains(&format!("{what} (")))
        .map(|l| {
            let state = l.split_whitespace().nth(1).unwrap_or_default().to_string();
            (state, l.to_string())
        })
        .collect()
}

/// `contain --action quarantine:PATH --apply --out OUT` on lab host 0: exit code and output.
fn quarantine_apply(lab: &Lab, home: &Path, path: &str, out: &Path) -> (Option<i32>, String) {
    let action = format!("quarantine:{path}");
    let args = [
        "--action",
        &action,
        "--apply",
        "--out",
        out.to_str().unwrap(),
    ];
    run(dossier(lab, home, "contain", 0, &args))
}

fn start_lab() -> Option<Lab> {
    Lab::start_or_skip(&[Scenario::Clean])
}

/// Runs `script` as root on host `i` over SSH; its standard output, trimmed.
fn on_host(lab: &Lab, i: usize, script: &str) -> String {
    let o = lab.ssh("root", i).arg(script).output().unwrap();
    assert!(
        o.status.success(),
        "{script}: {}",
        dossier_tests::stderr(&o)
    );
    dossier_tests::stdout(&o).trim().to_string()
}

/// The plan names PID P with its start time; while dossier is stopped after printing it, the
/// process is killed (and reaped by its parent: the host's init reaps nothing) and another
/// one started under the same PID (`ns_last_pid` of the host's PID namespace): the suspend
/// step is refused, nothing is frozen, exit 1.
#[test]
fn a_pid_reused_between_plan_and_apply_is_refused() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = start_lab() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let first = "setsid sh -c 'sleep 1000 & echo $$ $! >/tmp/victim; wait; exec sleep 1000' \
                 </dev/null >/dev/null 2>&1 & \
                 while [ ! -s /tmp/victim ]; do sleep 0.05; done; cat /tmp/victim";
    let pids = on_host(&lab, 0, first);
    let (waiter, pid) = pids.split_once(' ').unwrap();
    let pid: u32 = pid.parse().unwrap();
    let action = format!("suspend:{pid}");
    let args = [
        "--action",
        &action,
        "--apply",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut r = Running::start(dossier(&lab, tmp.path(), "contain", 0, &args));
    r.until(|l| l.starts_with("  1. "));
    kill(r.pid(), Signal::SIGSTOP).unwrap();
    let again = format!(
        "kill -9 {pid}; while [ -e /proc/{pid} ]; do sleep 0.05; done; \
         echo {} > /proc/sys/kernel/ns_last_pid; \
         setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!",
        pid - 1
    );
    let reused: u32 = on_host(&lab, 0, &again).parse().unwrap();
    kill(r.pid(), Signal::SIGCONT).unwrap();
    let (code, text) = r.finish();
    assert_eq!(reused, pid, "the PID was not reused");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("snapshot "), "{text}");
    assert!(
        text.contains("FAILED") && text.contains("PID reused or exe changed"),
        "{text}"
    );
    assert!(text.contains("the plan says"), "{text}");
    // The new process is not frozen; the record says failed.
    let state = on_host(&lab, 0, &format!("grep ^State: /proc/{pid}/status"));
    assert!(state.contains("S (sleeping)"), "{state}");
    let recs = records_of(&lab, tmp.path(), 0, "");
    let recs: Vec<_> = recs.iter().filter(|(_, l)| l.contains("suspend")).collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].0, "failed", "{recs:?}");
    on_host(&lab, 0, &format!("kill -9 {pid} {waiter}"));
}

/// The plan names the file with its hash; while dossier is stopped after printing it, the
/// file is changed: the quarantine step is refused, the file stays where it is, exit 1.
#[test]
fn a_file_changed_between_plan_and_apply_is_refused() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = start_lab() else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let path = plant(h, "changing", b"as planned\n");
    let action = format!("quarantine:{path}");
    let args = [
        "--action",
        &action,
        "--apply",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut r = Running::start(dossier(&lab, tmp.path(), "contain", 0, &args));
    r.until(|l| l.starts_with("  1. "));
    kill(r.pid(), Signal::SIGSTOP).unwrap();
    std::fs::write(h.root.join("tmp/changing"), b"changed meanwhile\n").unwrap();
    kill(r.pid(), Signal::SIGCONT).unwrap();
    let (code, text) = r.finish();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("snapshot "), "{text}");
    assert!(
        text.contains("FAILED") && text.contains(&format!("{path} changed since the plan")),
        "{text}"
    );
    assert_eq!(
        std::fs::read(h.root.join("tmp/changing")).unwrap(),
        b"changed meanwhile\n"
    );
    assert_eq!(copies(h, b"changed meanwhile\n"), 1);
    let recs = records_of(&lab, tmp.path(), 0, &format!("quarantine {path}"));
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].0, "failed", "{recs:?}");
}

/// A second `--apply` of the same action: "already applied" with the first record's id, no
/// second record, the file quarantined once.
#[test]
fn a_second_apply_over_ssh_changes_nothing_more() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = start_lab() else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let data = b"quarantine me once\n";
    let path = plant(h, "twice", data);
    let (code, first) = quarantine_apply(&lab, tmp.path(), &path, &out);
    assert_eq!(code, Some(0), "{first}");
    let id = first
        .lines()
        .find_map(|l| l.trim().strip_prefix("1. applied"))
        .unwrap_or_else(|| panic!("no applied step in:\n{first}"))
        .trim()
        .to_string();
    assert!(!h.root.join("tmp/twice").exists());
    let (code, second) = quarantine_apply(&lab, tmp.path(), &path, &out);
    assert_eq!(code, Some(0), "{second}");
    assert!(
        second.contains(&format!("[in place: action {id}, applied]")),
        "{second}"
    );
    assert!(
        second
            .lines()
            .any(|l| l.contains("already applied") && l.ends_with(&id)),
        "{second}"
    );
    let recs = records_of(&lab, tmp.path(), 0, &format!("quarantine {path}"));
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].0, "applied");
    assert!(recs[0].1.starts_with(&id), "{recs:?}");
    assert!(!h.root.join("tmp/twice").exists());
    assert_eq!(copies(h, data), 1);
}

/// Quarantined, then another file put at the original path: `restore --all` refuses, says
/// why, overwrites nothing (the new file and the quarantined one both as they were), exit 1.
#[test]
fn restore_refuses_an_occupied_original_path() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = start_lab() else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let data = b"the quarantined one\n";
    let path = plant(h, "occupied", data);
    let (code, text) = quarantine_apply(&lab, tmp.path(), &path, &out);
    assert_eq!(code, Some(0), "{text}");
    let other = b"a newcomer\n";
    plant(h, "occupied", other);
    let before = tmp_files(h);
    let (code, text) = run(dossier(
        &lab,
        tmp.path(),
        "restore",
        0,
        &["--all", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAILED")
            && text.contains(&format!("{path} is occupied now"))
            && text.contains("nothing overwritten"),
        "{text}"
    );
    assert_eq!(tmp_files(h), before, "a file changed");
    assert_eq!(std::fs::read(h.root.join("tmp/occupied")).unwrap(), other);
    assert_eq!(copies(h, data), 1);
    let recs = records_of(&lab, tmp.path(), 0, &format!("quarantine {path}"));
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].0, "restore_failed", "{recs:?}");
}

/// `dossier contain --apply` of many quarantines killed (SIGKILL, the client this test
/// started) once the fourth record is on the host: every step has an `applied` record with its
/// file in quarantine, or an `applying` one, or none with its file in place, and no file is
/// lost or doubled; running the same actions again skips the applied ones (an `applying` one
/// is refused until restored); `restore --all` puts every file back.
#[test]
fn a_client_killed_mid_apply_leaves_records_to_continue_and_restore_from() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = start_lab() else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let files: Vec<(String, Vec<u8>)> = (0..40)
        .map(|n| {
            let data = format!("file {n} of the interrupted run\n").into_bytes();
            (plant(h, &format!("cut-{n:02}"), &data), data)
        })
        .collect();
    let actions: Vec<String> = files
        .iter()
        .map(|(p, _)| format!("quarantine:{p}"))
        .collect();
    let mut args: Vec<&str> = Vec::new();
    for a in &actions {
        args.extend(["--action", a.as_str()]);
    }
    args.extend(["--apply", "--out", out.to_str().unwrap()]);
    let records = h.root.join("var/lib/dossier/actions");
    let mut r = Running::start(dossier(&lab, tmp.path(), "contain", 0, &args));
    r.until(|l| l.starts_with("snapshot "));
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", r.pid())).unwrap();
    assert_eq!(comm.trim(), "dossier");
    let start = std::time::Instant::now();
    // Four records begun (`<id>.1.json`): a step begins once the one before it ended, so
    // three are applied, or failed.
    let begun = || {
        std::fs::read_dir(&records).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".1.json"))
                .count()
        })
    };
    while begun() < 4 {
        assert!(start.elapsed().as_secs() < 60, "no record written");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    kill(r.pid(), Signal::SIGKILL).unwrap();
    let (code, _) = r.finish();
    assert_eq!(code, None, "dossier was not killed");
    // Whatever the host was doing for the dropped session ends.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut applied = BTreeMap::new();
    let mut applying = 0;
    for (path, data) in &files {
        let recs = records_of(&lab, tmp.path(), 0, &format!("quarantine {path}"));
        assert!(recs.len() <= 1, "{recs:?}");
        assert_eq!(copies(h, data), 1, "{path} lost or doubled");
        let here = std::fs::read(h.root.join(&path[1..])).ok();
        match recs.first().map(|(s, l)| (s.as_str(), l)) {
            None => assert_eq!(here.as_ref(), Some(data), "{path} changed without a record"),
            Some(("applied", l)) => {
                assert!(here.is_none(), "{path} applied but in place");
                applied.insert(
                    path.clone(),
                    l.split_whitespace().next().unwrap().to_string(),
                );
            }
            Some(("applying", _)) => applying += 1,
            Some(other) => panic!("{path}: {other:?}"),
        }
    }
    let recorded = applied.len() + applying;
    assert!(applied.len() >= 3, "{applied:?}");
    assert!(
        recorded >= 1 && recorded < files.len(),
        "not cut mid-apply: {recorded} records"
    );
    // The same actions again: the applied steps are skipped, the others applied.
    let (code, text) = run(dossier(&lab, tmp.path(), "contain", 0, &args));
    assert_eq!(code, Some(if applying == 0 { 0 } else { 1 }), "{text}");
    for id in applied.values() {
        assert!(
            text.lines()
                .any(|l| l.contains("already applied") && l.ends_with(id.as_str())),
            "{id} not skipped:\n{text}"
        );
    }
    if applying > 0 {
        assert!(
            text.contains("was interrupted or failed while it was applied"),
            "{text}"
        );
    }
    for (path, data) in &files {
        assert_eq!(copies(h, data), 1, "{path} lost or doubled");
    }
    // Everything back.
    let (code, text) = run(dossier(
        &lab,
        tmp.path(),
        "restore",
        0,
        &["--all", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(code, Some(0), "{text}");
    for (path, data) in &files {
        assert_eq!(
            std::fs::read(h.root.join(&path[1..])).ok().as_ref(),
            Some(data),
            "{path} not restored"
        );
        assert_eq!(copies(h, data), 1, "{path} doubled");
    }
}
