//! Containment over SSH against the lab: the SSH actuator (`dossier_remote::actuate`) runs
//! containment's file operations as root, as a non-root login through `sudo -n`, and refuses a
//! non-root login without sudo before it changes anything.
//!
//! The actuator is used in this process: a thread joins the lab's client network namespace
//! (`setns`, which moves only the calling thread) and makes its connections there.

use dossier_contain::ops::{self, Kind};
use dossier_contain::{Actuator, Peer};
use dossier_remote::actuate::{ActuateError, SshActuator};
use dossier_remote::ssh::{SshAuth, SshSettings, SshTarget};
use dossier_tests::lab::{CLIENT_ADDR, LAB_USER, Lab, Scenario};
use std::path::Path;
use std::process::Output;

/// Runs `f` on a thread inside the network namespace `netns` (`/run/netns/NAME`).
fn in_netns<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = Path::new("/run/netns").join(netns);
    std::thread::scope(|s| {
        s.spawn(|| {
            let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .unwrap()
    })
}

fn connect(lab: &Lab, host: usize, user: &str) -> Result<SshActuator, ActuateError> {
    let h = &lab.hosts()[host];
    let target = SshTarget {
        spec: h.name.clone(),
        host: h.addr.to_string(),
        port: h.port,
        user: user.into(),
    };
    let auth = SshAuth {
        identities: vec![lab.client_key().to_path_buf()],
        ..Default::default()
    };
    let settings = SshSettings {
        known_hosts: lab.known_hosts().to_path_buf(),
        connect_timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    SshActuator::connect(&target, &auth, &settings)
}

/// The file operations every action uses, in a folder of the test's on the host.
fn exercise(a: &mut SshActuator, dir: &str) {
    let a: &mut dyn Actuator = a;
    ops::mkdir_private(a, dir).unwrap();
    let m = ops::lstat(a, dir).unwrap().unwrap();
    assert_eq!((m.kind, m.mode, m.uid), (Kind::Directory, 0o700, 0));
    let f = format!("{dir}/it's a \"file\"; $(id)");
    ops::write_new(a, &f, b"abc", 0o640).unwrap();
    assert!(ops::write_new(a, &f, b"x", 0o600).is_err(), "replaced");
    let m = ops::lstat(a, &f).unwrap().unwrap();
    assert_eq!(
        (m.kind, m.mode, m.uid, m.size),
        (Kind::Regular, 0o640, 0, 3)
    );
    assert_eq!(
        ops::sha256(a, &f).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(ops::read(a, &f, 100).unwrap(), b"abc");
    let g = format!("{dir}/moved");
    ops::rename_noreplace(a, &f, &g).unwrap();
    assert!(ops::lstat(a, &f).unwrap().is_none());
    ops::write_new(a, &f, b"other", 0o600).unwrap();
    assert!(ops::rename_noreplace(a, &f, &g).is_err(), "replaced {g}");
    assert_eq!(ops::read(a, &g, 100).unwrap(), b"abc");
    // Large standard input and exit status come back as they are.
    let big = vec![b'x'; 3 << 20];
    let o = a
        .run(&["/usr/bin/wc", "-c"], &big, ops::OP_TIMEOUT)
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        (3 << 20).to_string()
    );
    let o = a
        .run(
            &["/bin/sh", "-c", "echo out; echo err >&2; exit 7"],
            b"",
            ops::OP_TIMEOUT,
        )
        .unwrap();
    assert_eq!((o.status, o.stdout.as_slice()), (Some(7), &b"out\n"[..]));
    assert_eq!(o.stderr, b"err\n");
    let o = a.run(&["/usr/bin/env"], b"", ops::OP_TIMEOUT).unwrap();
    let env = String::from_utf8_lossy(&o.stdout);
    assert!(
        env.contains("LC_ALL=C") && !env.contains("SSH_CONNECTION"),
        "{env}"
    );
    ops::run_ok(a, "cleanup", dir, &["/bin/rm", "-rf", "--", dir], b"").unwrap();
}

#[test]
fn ssh_actuator_runs_as_root_and_through_sudo_and_refuses_without() {
    let _g = dossier_tests::lab::serial();
    if !Path::new("/usr/bin/sudo").is_file() {
        dossier_tests::skip_or_fail("sudo is not installed (the lab's sudo user needs it)");
        return;
    }
    let Some(lab) = Lab::start_or_skip(&[Scenario::NonRoot, Scenario::Persist]) else {
        return;
    };
    in_netns(lab.netns(), || {
        // Root login.
        let mut a = connect(&lab, 1, "root").expect("root login");
        assert!(!a.uses_sudo());
        assert_eq!(a.host(), lab.hosts()[1].name);
        let peer = a.session_peer().unwrap();
        assert_eq!(
            peer,
            Peer {
                addr: CLIENT_ADDR.to_string(),
                port: lab.hosts()[1].port
            }
        );
        exercise(&mut a, "/tmp/dossier-actuate-root");
        // A second, independent connection works too (isolation's confirmation).
        let b = a.reconnect().expect("reconnect");
        b.close();
        a.close();

        // A non-root login with password-less sudo.
        let mut a = connect(&lab, 0, LAB_USER).expect("sudo login");
        assert!(a.uses_sudo());
        assert_eq!(a.host(), lab.hosts()[0].name);
        assert_eq!(a.session_peer().unwrap().addr, CLIENT_ADDR.to_string());
        exercise(&mut a, "/tmp/dossier-actuate-sudo");
        a.close();

        // A non-root login whose sudo allows only sftp-server: refused with the reason.
        let e = connect(&lab, 1, LAB_USER).expect_err("no sudo");
        let msg = e.to_string();
        assert!(matches!(e, ActuateError::NotRoot { .. }), "{msg}");
        assert!(msg.contains("sudo -n") && msg.contains(LAB_USER), "{msg}");
    });
}

/// `dossier ARGS` for `target` in the lab namespace with the lab's key and known_hosts only.
pub(crate) fn dossier_ssh(
    lab: &Lab,
    home: &Path,
    command: &str,
    target: &str,
    args: &[&str],
) -> Output {
    let o = lab
        .command(dossier_tests::dossier_bin())
        .arg(command)
        .arg(target)
        .args(args)
        .arg("-i")
        .arg(lab.client_key())
        .arg("--known-hosts")
        .arg(lab.known_hosts())
        .args(["--ssh-config", "/dev/null", "--connect-timeout", "5"])
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run dossier");
    eprintln!(
        "--- dossier {command} {target} {args:?}: {}\n{}\n{}",
        o.status,
        dossier_tests::stdout(&o),
        dossier_tests::stderr(&o)
    );
    o
}

/// Plants a file on host `i`, quarantines it with `dossier contain --apply` over SSH as
/// `user`, and restores it: back byte for byte with owner, mode and modification time.
fn quarantine_and_restore(lab: &Lab, i: usize, user: &str, extra: &[&str]) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let h = &lab.hosts()[i];
    // The host's /tmp is a filesystem of its own (tmpfs): on its overlay root, files and
    // folders report different devices, and quarantine moves only within one device.
    let rel = "tmp/planted-by-test";
    let path = format!("/{rel}");
    let file = h.root.join(rel);
    let data: Vec<u8> = (0..70_000u32).map(|n| (n * 7 % 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    std::os::unix::fs::chown(&file, Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o4750)).unwrap();
    let before = std::fs::symlink_metadata(&file).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let target = format!("{user}@{}", h.addr);
    let action = format!("quarantine:{path}");
    let mut args = vec!["--action", action.as_str(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    // The plan changes nothing.
    let o = dossier_ssh(lab, tmp.path(), "contain", &target, &args);
    assert!(o.status.success());
    assert!(dossier_tests::stdout(&o).contains(&path));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        data,
        "changed without --apply"
    );
    args.push("--apply");
    let o = dossier_ssh(lab, tmp.path(), "contain", &target, &args);
    assert!(o.status.success());
    let text = dossier_tests::stdout(&o);
    assert!(text.contains("snapshot "), "{text}");
    assert!(
        std::fs::symlink_metadata(&file).is_err(),
        "{path} still there"
    );
    // The snapshot bundle is in the case directory.
    let bundles = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "zip"))
        .count();
    assert_eq!(bundles, 1);
    let o = dossier_ssh(lab, tmp.path(), "actions", &target, extra);
    assert!(o.status.success());
    assert!(dossier_tests::stdout(&o).contains(&path));
    let mut rargs = vec!["--all", "--out", out.to_str().unwrap()];
    rargs.extend_from_slice(extra);
    let o = dossier_ssh(lab, tmp.path(), "restore", &target, &rargs);
    assert!(o.status.success());
    assert_eq!(std::fs::read(&file).unwrap(), data);
    let after = std::fs::symlink_metadata(&file).unwrap();
    assert_eq!(
        (
            after.uid(),
            after.gid(),
            after.mode(),
            after.mtime(),
            after.mtime_nsec()
        ),
        (
            before.uid(),
            before.gid(),
            before.mode(),
            before.mtime(),
            before.mtime_nsec()
        )
    );
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn contain_quarantines_over_ssh_as_root_and_through_sudo_and_restore_puts_it_back() {
    let _g = dossier_tests::lab::serial();
    if !Path::new("/usr/bin/sudo").is_file() {
        dossier_tests::skip_or_fail("sudo is not installed (the lab's sudo user needs it)");
        return;
    }
    let Some(lab) = Lab::start_or_skip(&[Scenario::NonRoot, Scenario::Clean]) else {
        return;
    };
    quarantine_and_restore(&lab, 1, "root", &[]);
    // An isolation of an SSH target keeps the session dossier reaches it by (as the target
    // sees it), not the session dossier itself may run in. The plan only.
    let tmp = tempfile::tempdir().unwrap();
    let target = format!("root@{}", lab.hosts()[1].addr);
    let o = dossier_ssh(
        &lab,
        tmp.path(),
        "contain",
        &target,
        &["--action", "isolate"],
    );
    assert!(o.status.success());
    let plan = dossier_tests::stdout(&o);
    let keep = format!("but loopback and {CLIENT_ADDR} to port 22;");
    assert!(plan.contains(&keep), "{keep} not in:\n{plan}");
    quarantine_and_restore(&lab, 0, LAB_USER, &["--sudo"]);
}

/// The seed's miner host, swept and analyzed, then `contain HOST --from findings.json` over
/// SSH: the plan names the running miner (suspend, its start time read on the host), its unit,
/// its crontab lines and every flagged unpackaged executable, and changes nothing; `--runtime` plans the
/// unit and the process only.
#[test]
fn contain_from_a_sweeps_findings_plans_the_miner_and_changes_nothing() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Miner]) else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let target = format!("root@{}", h.addr);
    let o = lab.sweep(
        tmp.path(),
        &out,
        lab.known_hosts(),
        &[target.as_str(), "-i", lab.client_key().to_str().unwrap()],
    );
    assert!(o.status.code().is_some_and(|c| c <= 1), "sweep failed");
    let findings = out.join("analysis/findings.json");
    let report = std::fs::read_to_string(out.join(format!("analysis/{}/report.md", h.name)))
        .expect("host report");
    assert!(
        report.contains(&format!(
            "`dossier contain {target}:22 --from ../findings.json`"
        )),
        "{report}"
    );
    let bin = std::fs::read(h.root.join("var/log/log")).unwrap();
    let args = ["--from", findings.to_str().unwrap()];
    let o = dossier_ssh(&lab, tmp.path(), "contain", &target, &args);
    assert!(o.status.success());
    let plan = dossier_tests::stdout(&o);
    for want in [
        "suspend",
        "python.service",
        "@reboot /var/log/log",
        "/etc/cron.d/python",
        "quarantine /var/log/log",
        "nothing was changed",
    ] {
        assert!(plan.contains(want), "{want:?} not in the plan:\n{plan}");
    }
    // Every flagged executable that no package verifies is planned for quarantine.
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&findings).unwrap()).unwrap();
    let host = &doc["hosts"][0];
    for f in host["findings"].as_array().unwrap() {
        let subject = f["subject"].as_str().unwrap();
        let unpackaged = host["executables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == subject && !e["packaged"].as_bool().unwrap_or(false));
        if unpackaged {
            assert!(
                plan.contains(&format!("quarantine {subject} ")),
                "{subject} not planned:\n{plan}"
            );
        }
    }
    let o = dossier_ssh(
        &lab,
        tmp.path(),
        "contain",
        &target,
        &["--from", findings.to_str().unwrap(), "--runtime"],
    );
    assert!(o.status.success());
    let plan = dossier_tests::stdout(&o);
    assert!(
        plan.contains("python.service") && plan.contains("suspend"),
        "{plan}"
    );
    assert!(!plan.contains("quarantine /"), "{plan}");
    assert!(plan.contains("--runtime changes nothing on disk"), "{plan}");
    // Nothing changed: the binary is there, the miner still runs.
    assert_eq!(std::fs::read(h.root.join("var/log/log")).unwrap(), bin);
    let miner = *h.pids.last().unwrap();
    assert!(
        Path::new(&format!("/proc/{miner}")).exists(),
        "the miner is gone"
    );
}

/// The newest transition of every action record on host `h` (`/var/lib/dossier/actions`).
pub(crate) fn records(h: &dossier_tests::lab::LabHost) -> Vec<serde_json::Value> {
    let dir = h.root.join("var/lib/dossier/actions");
    let mut newest: std::collections::BTreeMap<String, (u64, serde_json::Value)> =
        std::collections::BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        let id = r["id"].as_str().unwrap().to_string();
        let seq = r["seq"].as_u64().unwrap();
        if newest.get(&id).is_none_or(|(s, _)| *s < seq) {
            newest.insert(id, (seq, r));
        }
    }
    newest.into_values().map(|(_, r)| r).collect()
}

/// Whether host `from` opens a TCP connection to host `to`'s SSH port (run on `from` over the
/// lab's SSH, which isolation keeps).
fn reaches(lab: &Lab, from: usize, to: usize) -> bool {
    let t = &lab.hosts()[to];
    let o = lab
        .ssh("root", from)
        .arg(format!(
            "timeout 5 /bin/bash -c 'exec 3<>/dev/tcp/{}/{}' && echo reached",
            t.addr, t.port
        ))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ssh");
    assert!(
        o.status.code().is_some_and(|c| c != 255),
        "ssh to {} failed: {}",
        lab.hosts()[from].name,
        dossier_tests::stderr(&o)
    );
    dossier_tests::stdout(&o).contains("reached")
}

/// Runs a shell command on host `i` over the lab's SSH; its standard output.
pub(crate) fn on_host(lab: &Lab, i: usize, cmd: &str) -> (bool, String) {
    let o = lab
        .ssh("root", i)
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ssh");
    (o.status.success(), dossier_tests::stdout(&o))
}

/// `contain root@HOST --action isolate --apply` through the CLI: the host no longer reaches
/// another lab host, the responder still gets in over SSH, the isolation was confirmed over a
/// fresh connection (its rollback sleeper ended, the confirmation file written, the table still
/// there); `restore --all` removes the table and the host reaches the other again.
#[test]
fn contain_isolates_a_host_over_ssh_keeps_the_responder_and_restore_reconnects_it() {
    let _g = dossier_tests::lab::serial();
    if !Path::new("/usr/sbin/nft").is_file() {
        dossier_tests::skip_or_fail("nft is not installed (isolation needs nftables)");
        return;
    }
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean, Scenario::Clean]) else {
        return;
    };
    let h = &lab.hosts()[0];
    assert!(reaches(&lab, 0, 1), "the lab hosts do not reach each other");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let target = format!("root@{}", h.addr);
    let args = [
        "--action",
        "isolate",
        "--rollback-secs",
        "600",
        "--apply",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = dossier_ssh(&lab, tmp.path(), "contain", &target, &args);
    assert!(o.status.success(), "isolate --apply failed");
    assert!(dossier_tests::stdout(&o).contains("snapshot "));
    assert!(
        dossier_tests::stdout(&o).contains("removed after 600 s unless confirmed"),
        "{}",
        dossier_tests::stdout(&o)
    );
    // Isolated: no connection out, but the responder's SSH still gets in.
    assert!(
        !reaches(&lab, 0, 1),
        "{} still reaches {}",
        h.name,
        lab.hosts()[1].name
    );
    let (ok, tables) = on_host(&lab, 0, "/usr/sbin/nft list tables");
    assert!(ok && tables.contains("inet dossier_isolate"), "{tables}");
    let o = dossier_ssh(&lab, tmp.path(), "actions", &target, &[]);
    assert!(o.status.success(), "actions failed on the isolated host");
    assert!(dossier_tests::stdout(&o).contains("isolate"));
    // Confirmed over a fresh connection: the rollback sleeper (there is no systemd as PID 1
    // on a lab host) is gone and its confirmation file written, so the table stays after the
    // rollback delay (`--rollback-secs 600`, in the record: not waited for here).
    let recs = records(h);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["state"]["name"], "applied", "{r}");
    assert_eq!(r["step"]["rollback_secs"], 600, "{r}");
    let timer = &r["after"]["timer"];
    assert_eq!(timer["kind"], "sleeper", "{r}");
    let pid = timer["pid"].as_u64().unwrap();
    let file = timer["confirm_file"].as_str().unwrap();
    assert!(
        h.root.join(file.trim_start_matches('/')).is_file(),
        "{file} not written"
    );
    // Gone, or a zombie (the host's PID 1, the lab's init script, does not reap orphans).
    let (_, stat) = on_host(&lab, 0, &format!("cat /proc/{pid}/stat 2>/dev/null"));
    let state = stat
        .rsplit_once(')')
        .map(|(_, r)| r.trim_start().chars().next());
    assert!(
        matches!(state, None | Some(Some('Z' | 'X'))),
        "rollback sleeper {pid} still runs after the confirmation: {stat}"
    );
    // Restore: the table goes, the host reaches the other again.
    let o = dossier_ssh(
        &lab,
        tmp.path(),
        "restore",
        &target,
        &["--all", "--out", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "restore failed");
    let (ok, tables) = on_host(&lab, 0, "/usr/sbin/nft list tables");
    assert!(ok && !tables.contains("dossier_isolate"), "{tables}");
    assert!(
        reaches(&lab, 0, 1),
        "{} still cut off after restore",
        h.name
    );
    assert_eq!(records(h)[0]["state"]["name"], "restored");
}

/// Field 3 of `/proc/PID/stat` (the state letter), as the test's PID namespace sees it.
pub(crate) fn proc_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.chars().next().unwrap()
}

/// SHA-256, owner, group, mode and modification time of a file.
pub(crate) fn file_facts(p: &Path) -> (Vec<u8>, u32, u32, u32, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    (
        std::fs::read(p).unwrap(),
        m.uid(),
        m.gid(),
        m.mode(),
        m.mtime(),
        m.mtime_nsec(),
    )
}

/// The miner host end to end without systemd as PID 1 (`contain_systemd` has the host with
/// it): sweep, `contain --from findings.json --apply` suspends the miner, comments out its cron
/// lines and quarantines its binary; the unit step is refused with the reason (exit 1) and the
/// others apply; `restore --all` brings everything back as it was.
#[test]
fn contain_from_findings_applies_to_the_miner_host_and_restore_puts_it_back() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Miner]) else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let target = format!("root@{}", h.addr);
    let key = lab.client_key().to_str().unwrap().to_string();
    let sweep = |dir: &str| {
        let out = tmp.path().join(dir);
        let o = lab.sweep(tmp.path(), &out, lab.known_hosts(), &[&target, "-i", &key]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "sweep failed");
        out.join("analysis/findings.json")
    };
    let findings = sweep("sweep1");
    let miner = *h.pids.last().unwrap();
    assert_ne!(proc_state(miner), 'T');
    let crons = ["var/spool/cron/crontabs/root", "etc/cron.d/python"];
    let bins = ["var/log/log", "usr/bin/log", "usr/log"];
    let before: Vec<_> = crons
        .iter()
        .chain(&bins)
        .map(|p| file_facts(&h.root.join(p)))
        .collect();
    let case = tmp.path().join("case");
    let o = dossier_ssh(
        &lab,
        tmp.path(),
        "contain",
        &target,
        &[
            "--from",
            findings.to_str().unwrap(),
            "--apply",
            "--out",
            case.to_str().unwrap(),
        ],
    );
    let text = format!(
        "{}\n{}",
        dossier_tests::stdout(&o),
        dossier_tests::stderr(&o)
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "a refused unit step is exit 1:\n{text}"
    );
    assert!(text.contains("systemd"), "{text}");
    // The unit step failed with the no-systemd reason (the systemd host of
    // `contain_systemd` neutralizes it); every other step applied: the suspend, both
    // crontabs and the quarantine of /var/log/log (on the host's overlayfs root, whose files
    // report their layer's device: the same overlay mount is the same filesystem).
    let recs = records(h);
    let mut seen = Vec::new();
    for r in &recs {
        let reason = r["state"]["reason"].as_str().unwrap_or_default();
        match r["step"]["action"].as_str().unwrap() {
            "neutralize_unit" | "neutralize-unit" => {
                assert_eq!(r["state"]["name"], "failed", "{r}");
                assert!(reason.contains("no systemd as PID 1"), "{reason}");
            }
            _ => assert_eq!(r["state"]["name"], "applied", "{r}"),
        }
        seen.push(r["step"]["action"].as_str().unwrap().to_string());
    }
    assert!(
        std::fs::symlink_metadata(h.root.join("var/log/log")).is_err(),
        "/var/log/log not quarantined"
    );
    seen.sort();
    assert_eq!(seen.len(), 5, "{seen:?}");
    // The miner is frozen, its cron lines commented out (the planned lines only).
    assert_eq!(proc_state(miner), 'T', "the miner is not stopped");
    for c in crons {
        let t = std::fs::read_to_string(h.root.join(c)).unwrap();
        let marked: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("# dossier-contained "))
            .collect();
        assert!(
            !marked.is_empty() && marked.iter().all(|l| l.contains("/var/log/log")),
            "{c}:\n{t}"
        );
        assert!(
            !t.lines()
                .any(|l| !l.starts_with('#') && l.contains("/var/log/log")),
            "{c} still runs the miner:\n{t}"
        );
    }
    // A new sweep of the host: the crontab lines are no longer findings. The frozen miner
    // still is (a stopped process is still a process running /var/log/log), and so is its
    // unit, which was not neutralized here.
    let cron_findings = |path: &Path| {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let all = doc["hosts"][0]["findings"].as_array().unwrap().clone();
        eprintln!(
            "--- findings of {}: {:?}",
            path.display(),
            all.iter()
                .map(|f| format!("{} {}", f["rule"], f["subject"]))
                .collect::<Vec<_>>()
        );
        all.iter()
            .filter(|f| {
                let t = f.to_string();
                t.contains("crontabs/root") || t.contains("cron.d/python")
            })
            .count()
    };
    assert!(
        cron_findings(&findings) > 0,
        "no crontab finding to neutralize"
    );
    let again = sweep("sweep2");
    assert_eq!(
        cron_findings(&again),
        0,
        "a neutralized crontab line still flagged"
    );
    // Restore: the miner runs again, every file is back as it was.
    let o = dossier_ssh(
        &lab,
        tmp.path(),
        "restore",
        &target,
        &["--all", "--out", case.to_str().unwrap()],
    );
    let text = dossier_tests::stdout(&o);
    assert_ne!(proc_state(miner), 'T', "the miner is still stopped");
    let after: Vec<_> = crons
        .iter()
        .chain(&bins)
        .map(|p| file_facts(&h.root.join(p)))
        .collect();
    for ((p, b), a) in crons.iter().chain(&bins).zip(&before).zip(&after) {
        assert!(b == a, "/{p} not restored as it was:\n{text}");
    }
    assert!(o.status.success(), "restore failed:\n{text}");
}
