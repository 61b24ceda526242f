//! The seed's containment sequence (000: suspend, resume, strict runtime neutralize, permanent
//! neutralize, restore) replayed end to end over SSH on a lab host that runs **systemd as PID
//! 1** ([`Scenario::SystemdMiner`]): the miner is a real enabled unit that systemd started.

use super::contain::{dossier_ssh, file_facts, on_host};
use dossier_tests::lab::{LAB_USER, Lab, MINER_PORT, Scenario};
use std::path::{Path, PathBuf};

/// One host's sweeps and containment commands, with their case folder.
struct Case<'a> {
    lab: &'a Lab,
    home: &'a Path,
    target: String,
    key: String,
    out: PathBuf,
}

impl Case<'_> {
    /// Sweeps the host as root into `home/NAME`: its findings.json.
    fn sweep(&self, name: &str) -> PathBuf {
        let out = self.home.join(name);
        let root = format!("root@{}", self.target.rsplit('@').next().unwrap());
        let o = self.lab.sweep(
            self.home,
            &out,
            self.lab.known_hosts(),
            &[&root, "-i", &self.key],
        );
        assert!(o.status.code().is_some_and(|c| c <= 1), "sweep failed");
        out.join("analysis/findings.json")
    }

    /// `dossier COMMAND TARGET ARGS --out CASE`; its exit code and output.
    fn run(&self, command: &str, args: &[&str]) -> (Option<i32>, String) {
        let mut all = args.to_vec();
        all.extend(["--out", self.out.to_str().unwrap()]);
        let o = dossier_ssh(self.lab, self.home, command, &self.target, &all);
        let text = format!(
            "{}\n{}",
            dossier_tests::stdout(&o),
            dossier_tests::stderr(&o)
        );
        (o.status.code(), text)
    }

    /// A shell command on the host over the lab's SSH; its standard output, trimmed.
    fn sh(&self, cmd: &str) -> String {
        on_host(self.lab, 0, cmd).1.trim().to_string()
    }
}

/// The findings of a host in a findings.json, as `rule subject` lines.
fn finding_lines(path: &Path) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["hosts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["rule"], f["subject"]))
        .collect()
}

/// What systemd says of python.service: `ActiveState UnitFileState MainPID`.
fn unit_state(c: &Case) -> String {
    c.sh("systemctl show -P ActiveState python.service; systemctl is-enabled python.service; systemctl show -P MainPID python.service")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `frozen 0|1` of python.service's cgroup (v2), as the host's kernel says.
fn frozen(c: &Case) -> String {
    c.sh("grep frozen /sys/fs/cgroup/unified/system.slice/python.service/cgroup.events")
}

/// Files the seed's incident planted, and the unit's enablement link, as they are on the host.
const SCENE: [&str; 6] = [
    "etc/systemd/system/python.service",
    "var/spool/cron/crontabs/root",
    "etc/cron.d/python",
    "var/log/log",
    "usr/bin/log",
    "usr/log",
];
const LINK: &str = "etc/systemd/system/multi-user.target.wants/python.service";

#[test]
fn seed_sequence_suspend_resume_runtime_permanent_and_restore_on_a_systemd_host() {
    let _g = dossier_tests::lab::serial();
    let Some(lab) = Lab::start_or_skip(&[Scenario::SystemdMiner]) else {
        return;
    };
    let h = &lab.hosts()[0];
    let tmp = tempfile::tempdir().unwrap();
    let c = Case {
        lab: &lab,
        home: tmp.path(),
        target: format!("root@{}", h.addr),
        key: lab.client_key().to_str().unwrap().to_string(),
        out: tmp.path().join("case"),
    };
    let facts = || -> Vec<_> { SCENE.iter().map(|p| file_facts(&h.root.join(p))).collect() };
    let link = || std::fs::read_link(h.root.join(LINK)).ok();
    let before = facts();
    let link_before = link();
    assert!(link_before.is_some());
    let state0 = unit_state(&c);
    assert!(state0.starts_with("active enabled "), "{state0}");
    let pid0 = state0.rsplit(' ').next().unwrap().to_string();

    // 1. Suspend only (the seed's --suspend): frozen through the unit's own cgroup (v2).
    let findings = c.sweep("sweep1");
    let (code, text) = c.run(
        "contain",
        &["--action", &format!("suspend:{pid0}"), "--apply"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cgroup v2"), "{text}");
    assert_eq!(frozen(&c), "frozen 1");
    assert!(
        unit_state(&c).starts_with("active "),
        "still the unit's process"
    );

    // 2. Resume (the seed's --resume): the same process runs again.
    let (code, text) = c.run("restore", &["--all"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(frozen(&c), "frozen 0");
    assert_eq!(unit_state(&c), state0);

    // 3. Strict neutralize (--runtime): stopped and masked under /run only; nothing on disk
    // changed.
    let (code, text) = c.run(
        "contain",
        &["--from", findings.to_str().unwrap(), "--runtime", "--apply"],
    );
    assert_eq!(code, Some(0), "{text}");
    let s = unit_state(&c);
    assert!(s.starts_with("inactive masked-runtime"), "{s}");
    assert_eq!(
        c.sh("readlink /run/systemd/system/python.service"),
        "/dev/null"
    );
    assert!(
        !c.sh(&format!("ss -Hltn sport = :{MINER_PORT}"))
            .contains("LISTEN"),
        "the miner still listens"
    );
    assert_eq!(facts(), before, "--runtime changed a file on disk");
    assert_eq!(link(), link_before);

    // Undo: unmasked and started again.
    let (code, text) = c.run("restore", &["--all"]);
    assert_eq!(code, Some(0), "{text}");
    let s = unit_state(&c);
    assert!(s.starts_with("active enabled "), "{s}");
    assert_ne!(s, state0, "the same main PID after a stop and a start?");

    // 4. Permanent neutralize (the seed's --neutralize), from a fresh sweep (new PID), by a
    // responder who logs in as themself and acts through `sudo -n`.
    let findings = c.sweep("sweep2");
    let c = Case {
        target: format!("{LAB_USER}@{}", h.addr),
        ..c
    };
    let (code, text) = c.run(
        "contain",
        &["--from", findings.to_str().unwrap(), "--apply"],
    );
    assert_eq!(code, Some(0), "{text}");
    let s = unit_state(&c);
    assert!(s.starts_with("inactive masked"), "{s}");
    assert!(link().is_none(), "enablement link still there");
    for gone in ["etc/systemd/system/python.service", "var/log/log"] {
        assert!(
            std::fs::symlink_metadata(h.root.join(gone)).is_err_and(|_| true)
                || std::fs::read_link(h.root.join(gone)).is_ok_and(|t| t == Path::new("/dev/null")),
            "/{gone} still there"
        );
    }
    for cron in ["var/spool/cron/crontabs/root", "etc/cron.d/python"] {
        let t = std::fs::read_to_string(h.root.join(cron)).unwrap();
        assert!(
            !t.lines()
                .any(|l| !l.starts_with('#') && l.contains("/var/log/log")),
            "{cron} still runs the miner:\n{t}"
        );
    }
    // A new sweep: the unit, its cron lines and the binary are no longer findings.
    let after = finding_lines(&c.sweep("sweep3"));
    eprintln!("--- findings after the permanent neutralize: {after:#?}");
    for gone in ["python.service", "cron", "/var/log/log"] {
        assert!(
            !after.iter().any(|f| f.contains(gone)),
            "{gone} still flagged: {after:#?}"
        );
    }

    // 5. Restore (through sudo too): every file back byte for byte with its metadata, the
    // unit enabled and running again.
    let (code, text) = c.run("restore", &["--all"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(facts(), before, "not restored as it was");
    assert_eq!(link(), link_before);
    let s = unit_state(&c);
    assert!(s.starts_with("active enabled "), "{s}");
    assert!(
        c.sh(&format!("ss -Hltn sport = :{MINER_PORT}"))
            .contains("LISTEN"),
        "the miner does not listen again"
    );
}
