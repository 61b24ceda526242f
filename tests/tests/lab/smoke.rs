//! Smoke tests of the SSH lab (`dossier_tests::lab`) with the plain OpenSSH client, run
//! inside the lab's client network namespace: every scenario behaves as documented, the lab
//! has no way out, 30 hosts start in seconds, and nothing is left behind after a drop, also
//! when the test panics. Without root they print `skipped: <test>: <reason>` (they fail
//! under `CI`).

use dossier_tests::lab::{LAB_PASSWORD, LAB_USER, Lab, MINER_PORT, Scenario};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

fn output(c: &mut Command) -> Output {
    c.stdin(Stdio::null()).output().expect("run command")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `script` on a host as `user` over ssh; asserts success and returns its stdout.
fn ssh_ok(lab: &Lab, user: &str, host: usize, script: &str) -> String {
    let o = output(lab.ssh(user, host).arg(script));
    assert!(
        o.status.success(),
        "ssh {user}@{} {script:?}: {}\n{}",
        lab.hosts()[host].name,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Runs `script` on a host as `user` over ssh; asserts failure and returns its stderr.
fn ssh_fails(lab: &Lab, user: &str, host: usize, script: &str) -> String {
    let o = output(lab.ssh(user, host).arg(script));
    assert!(
        !o.status.success(),
        "ssh {user}@{} {script:?} should have failed: {}",
        lab.hosts()[host].name,
        text(&o.stdout)
    );
    text(&o.stderr)
}

fn index(lab: &Lab, s: Scenario) -> usize {
    lab.hosts()
        .iter()
        .position(|h| h.scenario == s)
        .expect("scenario present")
}

/// What a lab must have removed once dropped.
struct Traces {
    namespaces: String,
    dir: PathBuf,
    pids: Vec<u32>,
}

impl Traces {
    fn of(lab: &Lab) -> Traces {
        Traces {
            namespaces: lab.netns().to_string(),
            dir: lab.dir().to_path_buf(),
            pids: lab.hosts().iter().flat_map(|h| h.pids.clone()).collect(),
        }
    }

    fn assert_gone(&self) {
        let list = text(&output(Command::new("ip").args(["netns", "list"])).stdout);
        assert!(
            !list.contains(&self.namespaces),
            "network namespaces left: {list}"
        );
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = self.dir.to_str().unwrap();
        assert!(!mounts.contains(dir), "mounts left: {mounts}");
        assert!(!self.dir.exists(), "{} left", self.dir.display());
        for pid in &self.pids {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "process {pid} left"
            );
        }
        // No process anywhere still runs from the lab directory (the hosts' init scripts).
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            assert!(
                !text(&cmdline).contains(dir),
                "process {:?} left: {}",
                e.file_name(),
                text(&cmdline)
            );
        }
    }
}

#[test]
fn every_scenario_over_real_openssh() {
    let _serial = dossier_tests::lab::serial();
    let t0 = Instant::now();
    let Some(lab) = Lab::start_or_skip(&Scenario::ALL) else {
        return;
    };
    eprintln!(
        "lab: {} hosts (one per scenario) started in {:?}",
        lab.hosts().len(),
        t0.elapsed()
    );
    let traces = Traces::of(&lab);
    let (clean, miner, silent, unknown, nonroot) = (
        index(&lab, Scenario::Clean),
        index(&lab, Scenario::Miner),
        index(&lab, Scenario::Silent),
        index(&lab, Scenario::UnknownKey),
        index(&lab, Scenario::NonRoot),
    );
    let hosts = lab.hosts();
    for h in hosts {
        assert!(
            h.upper.join("etc/hostname").is_file(),
            "{}: {}",
            h.name,
            h.upper.display()
        );
        assert!(h.pids.len() >= 3, "{}: {:?}", h.name, h.pids);
    }
    assert_eq!(hosts[miner].pids.len(), 4, "unshare, init, sshd, miner");

    // The silent host: TCP connects, SSH never starts. Runs while the rest is checked.
    let silent_started = Instant::now();
    let silent_ssh = lab
        .ssh("root", silent)
        .arg("true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Clean: root logs in by key, the host is itself, and reading changes nothing on it.
    let before = lab.snapshot(clean);
    assert!(
        before.contains_key(Path::new("/etc/hostname")),
        "{before:?}"
    );
    assert_eq!(
        ssh_ok(&lab, "root", clean, "hostname").trim(),
        hosts[clean].name
    );
    let facts = ssh_ok(
        &lab,
        "root",
        clean,
        "cat /etc/hostname /etc/machine-id; id -u; ps -e -o pid=,comm=; ip -o -4 addr show dev eth0",
    );
    assert!(
        facts.starts_with(&format!("{}\n", hosts[clean].name)),
        "{facts}"
    );
    assert!(
        facts.contains(&format!(" {}/24 ", hosts[clean].addr)),
        "{facts}"
    );
    assert!(
        facts.lines().any(|l| l.trim() == "1 python3"),
        "own PID namespace, the lab's reaper as PID 1: {facts}"
    );
    assert!(facts.lines().any(|l| l.ends_with(" sshd")), "{facts}");
    assert!(
        facts.lines().count() < 15,
        "only its own processes: {facts}"
    );

    // sftp works.
    let local = tempfile::tempdir().unwrap();
    let got = local.path().join("hostname");
    let mut sftp = lab
        .sftp("root", clean)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        sftp.stdin.take().unwrap(),
        "get /etc/hostname {}\nls -l /etc/ssh",
        got.display()
    )
    .unwrap();
    let o = sftp.wait_with_output().unwrap();
    assert!(o.status.success(), "sftp: {}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        format!("{}\n", hosts[clean].name)
    );
    assert!(text(&o.stdout).contains("ssh_host_ed25519_key"));
    assert_eq!(
        lab.snapshot(clean),
        before,
        "ssh and sftp reads changed the host"
    );

    // Miner: the planted persistence, and /var/log/log running and listening.
    let m = ssh_ok(
        &lab,
        "root",
        miner,
        "ss -Hltnp; ls -l /proc/[0-9]*/exe 2>/dev/null; \
         cat /etc/systemd/system/multi-user.target.wants/python.service /var/spool/cron/crontabs/root /etc/cron.d/python; \
         grep -a -c -e stratum+tcp:// -e xmrig -e --donate-level /var/log/log /usr/bin/log /usr/log",
    );
    assert!(
        m.lines()
            .any(|l| l.contains(&format!("0.0.0.0:{MINER_PORT}")) && l.contains("\"log\"")),
        "{m}"
    );
    assert!(m.contains("-> /var/log/log"), "{m}");
    assert!(m.contains("ExecStart=/var/log/log"), "{m}");
    assert!(m.contains("@reboot /var/log/log"), "{m}");
    assert!(m.contains("root /var/log/log"), "{m}");
    for p in ["/var/log/log:", "/usr/bin/log:", "/usr/log:"] {
        assert!(m.contains(p), "{m}");
    }
    let snap = lab.snapshot(miner);
    assert!(snap.contains_key(Path::new("/var/log/log")));
    assert!(
        snap[Path::new("/etc/systemd/system/multi-user.target.wants/python.service")]
            .2
            .starts_with("-> ")
    );

    // UnknownKey: refused for its host key; its key is indeed not in known_hosts.
    let e = ssh_fails(&lab, "root", unknown, "true");
    assert!(e.contains("Host key verification failed"), "{e}");
    let known = std::fs::read_to_string(lab.known_hosts()).unwrap();
    assert!(!known.contains(&lab.host_key(unknown).unwrap()), "{known}");
    assert!(known.contains(&lab.host_key(clean).unwrap()), "{known}");

    // NonRoot: root refused, analyst by key and by password.
    let e = ssh_fails(&lab, "root", nonroot, "true");
    assert!(e.contains("Permission denied"), "{e}");
    let who = ssh_ok(&lab, LAB_USER, nonroot, "id -un; id -u; echo $HOME");
    assert_eq!(who, format!("{LAB_USER}\n1000\n/home/{LAB_USER}\n"));
    if Path::new("/usr/bin/sudo").is_file() {
        assert_eq!(ssh_ok(&lab, LAB_USER, nonroot, "sudo -n id -un"), "root\n");
    }
    let askpass = local.path().join("askpass");
    std::fs::write(&askpass, format!("#!/bin/sh\necho '{LAB_PASSWORD}'\n")).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let h = &hosts[nonroot];
    let o = output(
        lab.command("ssh")
            .args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=yes"])
            .arg(format!(
                "-oUserKnownHostsFile={}",
                lab.known_hosts().display()
            ))
            .args([
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "NumberOfPasswordPrompts=1",
            ])
            .arg(format!("{LAB_USER}@{}", h.addr))
            .arg("id -un")
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force"),
    );
    assert!(o.status.success(), "password login: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{LAB_USER}\n"));

    // Silent: timed out during the banner exchange (ConnectTimeout=5).
    let o = silent_ssh.wait_with_output().unwrap();
    let e = text(&o.stderr);
    assert!(!o.status.success());
    assert!(e.contains("timed out"), "{e}");
    assert!(e.contains("banner"), "TCP connected, SSH never spoke: {e}");
    eprintln!(
        "lab: silent host gave up after {:?}",
        silent_started.elapsed()
    );

    // The lab has no way out: no default route, 1.1.1.1 unreachable by the routing table
    // alone (nothing is sent), and no interface but loopback, the bridge and its veths.
    for family in ["-4", "-6"] {
        let routes = text(&output(lab.command("ip").args([family, "route", "show"])).stdout);
        assert!(!routes.contains("default"), "{routes}");
    }
    let routes = text(&output(lab.command("ip").args(["route", "show"])).stdout);
    assert_eq!(
        routes.trim(),
        "198.18.0.0/24 dev br0 proto kernel scope link src 198.18.0.1"
    );
    let o = output(lab.command("ip").args(["route", "get", "1.1.1.1"]));
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("unreachable"),
        "{}",
        text(&o.stderr)
    );
    let links = text(&output(lab.command("ip").args(["-o", "link", "show"])).stdout);
    for l in links.lines() {
        let name = l.split(": ").nth(1).unwrap().split('@').next().unwrap();
        assert!(
            name == "lo" || name == "br0" || name.starts_with("vh"),
            "{links}"
        );
    }

    // Writes are seen by a snapshot.
    ssh_ok(&lab, "root", clean, "echo x > /tmp/x; touch /etc/motd");
    let after = lab.snapshot(clean);
    assert!(after.contains_key(Path::new("/tmp/x")), "{after:?}");
    assert!(after.contains_key(Path::new("/etc/motd")), "{after:?}");

    // A new host key: the old known_hosts now refuses the host.
    let old = lab.host_key(clean).unwrap();
    let t = Instant::now();
    lab.rotate_host_key(clean).unwrap();
    eprintln!("lab: host key rotated in {:?}", t.elapsed());
    assert_ne!(lab.host_key(clean).unwrap(), old);
    let e = ssh_fails(&lab, "root", clean, "true");
    assert!(e.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{e}");
    let sshd = lab.hosts()[clean].pids[2];
    assert!(
        Path::new(&format!("/proc/{sshd}")).exists(),
        "same sshd, re-executed"
    );

    let t = Instant::now();
    drop(lab);
    eprintln!("lab: torn down in {:?}", t.elapsed());
    traces.assert_gone();
}

#[test]
fn thirty_clean_hosts_start_in_parallel() {
    let _serial = dossier_tests::lab::serial();
    let t0 = Instant::now();
    let Some(lab) = Lab::start_or_skip(&[Scenario::Clean; 30]) else {
        return;
    };
    eprintln!("lab: 30 clean hosts started in {:?}", t0.elapsed());
    let traces = Traces::of(&lab);
    for i in [0, 29] {
        assert_eq!(
            ssh_ok(&lab, "root", i, "hostname").trim(),
            lab.hosts()[i].name
        );
    }
    let t = Instant::now();
    drop(lab);
    eprintln!("lab: 30 hosts torn down in {:?}", t.elapsed());
    traces.assert_gone();
}

#[test]
fn a_failing_test_leaves_nothing_behind() {
    let _serial = dossier_tests::lab::serial();
    // The lab starts outside the unwinding below, so that its own failure (under CI, a lab
    // that cannot run) fails this test instead of being taken for the planned panic.
    let Some(lab) = Lab::start_or_skip(&[Scenario::Miner, Scenario::Clean]) else {
        return;
    };
    let traces = Traces::of(&lab);
    const MID_WAY: &str = "a sweep test failing mid-way";
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _lab = lab;
        panic!("{MID_WAY}");
    }));
    let payload = r.expect_err("the planned panic");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some(MID_WAY),
        "only the planned panic unwinds here"
    );
    traces.assert_gone();
}
