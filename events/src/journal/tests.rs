//! Tests of the journal parser on a realistic `journalctl -o json` export
//! (tests/data/journal.json: sshd failures then a logon, sudo (one refused), su, an account
//! created and put in sudo, a unit started, a kernel line, a binary message with a repeated
//! field) and on broken input.

use super::*;
use crate::Format;

const SAMPLE: &[u8] = include_bytes!("../../tests/data/journal.json");

fn run(data: &[u8]) -> (Vec<Event>, Vec<ParseIssue>) {
    let mut events = Vec::new();
    let mut issues = Vec::new();
    let mut input = data;
    parse(
        "journal.json",
        &mut input,
        &Options::default(),
        &mut |r| match r {
            Ok(e) => events.push(e),
            Err(i) => issues.push(i),
        },
    )
    .unwrap();
    (events, issues)
}

#[test]
fn the_sample_sniffs_as_journal() {
    assert!(sniff(SAMPLE));
    assert!(sniff(b"\n  {\"__CURSOR\":\"s=1\",\"MESSAGE\":\"x\"}"));
    assert!(!sniff(b"{\"Timestamp\":\"2024-01-01\"}"));
    assert!(!sniff(b"type=SYSCALL msg=audit(1.0:1): x=1"));
    assert!(!sniff(b""));
    assert_eq!(crate::detect(SAMPLE), Some(Format::Journal));
}

#[test]
fn every_entry_is_an_event_with_time_host_process_and_origin() {
    let (events, issues) = run(SAMPLE);
    assert!(issues.is_empty(), "{issues:#?}");
    assert_eq!(events.len(), 13);
    let e = &events[0];
    assert_eq!(e.time, "2024-08-21T04:26:40.001123Z");
    assert_eq!(e.host, "web01");
    assert_eq!(e.source.format, Format::Journal);
    assert_eq!(e.source.table.as_deref(), Some("sshd"));
    assert!(
        e.origin.record.starts_with("line 1, cursor s=8d1e9f2c"),
        "{}",
        e.origin.record
    );
    assert_eq!(e.origin.file, "journal.json");
    let p = e.process.as_ref().unwrap();
    assert_eq!(p.pid, Some(3990));
    assert_eq!(p.name.as_deref(), Some("sshd"));
    assert_eq!(p.exe.as_deref(), Some("/usr/sbin/sshd"));
    assert_eq!(p.command_line.as_deref(), Some("sshd: admin [priv]"));
    assert_eq!(p.user.as_deref(), Some("uid=0"));
    assert_eq!(e.fields["_SYSTEMD_UNIT"], "ssh.service");
    assert_eq!(e.fields["PRIORITY"], "6");
    assert_eq!(e.fields["_TRANSPORT"], "syslog");
    assert_eq!(e.fields["SYSLOG_IDENTIFIER"], "sshd");
    assert_eq!(
        e.script.as_deref(),
        Some("Invalid user admin from 198.51.100.23 port 40022")
    );
}

#[test]
fn sshd_failures_then_a_logon() {
    let (events, _) = run(SAMPLE);
    let actions: Vec<&str> = events[..4].iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "logon_failed",
            "logon_failed",
            "logon_failed",
            "logon_success"
        ]
    );
    let e = &events[0];
    assert_eq!(e.user.as_deref(), Some("admin"));
    assert_eq!(e.fields["invalid_user"], "yes");
    let e = &events[1];
    assert_eq!(e.user.as_deref(), Some("admin"));
    assert_eq!(e.fields["auth_method"], "password");
    assert_eq!(e.outcome.as_deref(), Some("failure"));
    let peer = e.peer.as_ref().unwrap();
    assert_eq!(peer.addr.as_deref(), Some("198.51.100.23"));
    assert_eq!(peer.port, Some(40022));
    assert_eq!(events[2].user.as_deref(), Some("root"));
    assert!(!events[2].fields.contains_key("invalid_user"));
    let e = &events[3];
    assert_eq!(e.user.as_deref(), Some("alice"));
    assert_eq!(e.outcome.as_deref(), Some("success"));
    assert_eq!(e.fields["auth_method"], "publickey");
    assert_eq!(e.peer.as_ref().unwrap().port, Some(52144));
    assert_eq!(events[4].action, "log");
    assert_eq!(events[4].user, None);
}

#[test]
fn sudo_su_and_account_changes() {
    let (events, _) = run(SAMPLE);
    let e = &events[5];
    assert_eq!(e.action, "sudo");
    assert_eq!(e.user.as_deref(), Some("alice"));
    assert_eq!(e.outcome.as_deref(), Some("success"));
    assert_eq!(e.fields["target_user"], "root");
    assert_eq!(e.fields["tty"], "pts/1");
    assert_eq!(e.fields["pwd"], "/home/alice");
    assert_eq!(
        e.process.as_ref().unwrap().command_line.as_deref(),
        Some("/usr/bin/cat /etc/shadow")
    );
    let e = &events[6];
    assert_eq!(e.action, "sudo");
    assert_eq!(e.user.as_deref(), Some("bob"));
    assert_eq!(e.outcome.as_deref(), Some("failure"));
    assert_eq!(e.fields["reason"], "3 incorrect password attempts");
    let e = &events[7];
    assert_eq!(e.action, "su");
    assert_eq!(e.user.as_deref(), Some("alice"));
    assert_eq!(e.fields["target_user"], "root");
    assert_eq!(e.fields["tty"], "pts/1");
    let e = &events[8];
    assert_eq!(e.action, "account_change");
    assert_eq!(e.user.as_deref(), Some("svc-backup"));
    assert!(e.fields["change"].starts_with("new user: name=svc-backup"));
    let e = &events[9];
    assert_eq!(e.action, "account_change");
    assert_eq!(e.user.as_deref(), Some("svc-backup"));
}

#[test]
fn a_unit_started_a_kernel_line_and_a_binary_message() {
    let (events, _) = run(SAMPLE);
    let e = &events[10];
    assert_eq!(e.action, "unit_started");
    assert_eq!(e.fields["unit"], "backup-sync.service");
    assert_eq!(e.process.as_ref().unwrap().pid, Some(1));
    let e = &events[11];
    assert_eq!(e.action, "log");
    assert_eq!(e.source.table.as_deref(), Some("kernel"));
    assert_eq!(e.process.as_ref().unwrap().pid, Some(0));
    let e = &events[12];
    assert_eq!(e.action, "log");
    // A repeated field: the first value.
    assert_eq!(e.source.table.as_deref(), Some("backup-sync"));
    let msg = e.script.as_deref().unwrap();
    assert!(
        msg.starts_with("upload failed: \u{1b}[31mE\u{fffd}\u{0} timeout"),
        "{msg:?}"
    );
    assert_eq!(
        e.fields["message_hex"],
        crate::lines::hex(b"upload failed: \x1b[31mE\xff\x00 timeout")
    );
}

#[test]
fn messages_are_recognized_only_from_their_program_and_in_their_variants() {
    let line = |ident: &str, msg: &str, extra: &str| {
        format!(
            "{{\"__REALTIME_TIMESTAMP\":\"1724214400000000\",\"SYSLOG_IDENTIFIER\":\"{ident}\",\"MESSAGE\":\"{msg}\"{extra}}}\n"
        )
    };
    let mut data = String::new();
    data += &line(
        "logger",
        "Accepted password for root from 203.0.113.9 port 1 ssh2",
        "",
    );
    data += &line(
        "sshd-session",
        "Accepted keyboard-interactive/pam for bob from 2001:db8::5 port 2201 ssh2",
        "",
    );
    data += &line("sshd", "Invalid user test from 203.0.113.9", "");
    data += &line(
        "sshd",
        "Connection closed by authenticating user root 203.0.113.9 port 5 [preauth]",
        "",
    );
    data += &line("su", "FAILED SU (to root) bob on pts/3", "");
    data += &line(
        "sudo",
        "alice : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh -c id ; whoami",
        "",
    );
    data += &line(
        "sudo",
        "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1001)",
        "",
    );
    data += &line(
        "systemd",
        "Started Session 7 of User alice.",
        ",\"USER_UNIT\":\"session-7.scope\"",
    );
    data += &line(
        "systemd",
        "Started cron.service - Regular background program processing daemon.",
        "",
    );
    data += &line("systemd", "Starting cron.service...", "");
    data += &line(
        "passwd",
        "pam_unix(passwd:chauthtok): password changed for alice",
        "",
    );
    let (events, issues) = run(data.as_bytes());
    assert!(issues.is_empty(), "{issues:#?}");
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "log",
            "logon_success",
            "logon_failed",
            "log",
            "su",
            "sudo",
            "log",
            "unit_started",
            "unit_started",
            "log",
            "account_change"
        ]
    );
    assert_eq!(events[1].user.as_deref(), Some("bob"));
    assert_eq!(
        events[1].peer.as_ref().unwrap().addr.as_deref(),
        Some("2001:db8::5")
    );
    assert_eq!(events[1].fields["auth_method"], "keyboard-interactive/pam");
    assert_eq!(events[2].peer.as_ref().unwrap().port, None);
    assert_eq!(events[4].outcome.as_deref(), Some("failure"));
    assert_eq!(
        events[5].process.as_ref().unwrap().command_line.as_deref(),
        Some("/bin/sh -c id ; whoami")
    );
    assert_eq!(events[7].fields["unit"], "session-7.scope");
    assert_eq!(events[8].fields["unit"], "cron.service");
    assert_eq!(events[10].user.as_deref(), Some("alice"));
    assert!(events.iter().all(|e| e.host == "unknown"));
    assert!(events.iter().all(|e| e.origin.record.starts_with("line ")));
}

#[test]
fn garbage_a_truncated_last_line_and_entries_without_time_are_issues() {
    let mut data = Vec::new();
    data.extend_from_slice(b"not json at all\n");
    data.extend_from_slice(b"[1,2,3]\n");
    data.extend_from_slice(b"\xff\xfe{\n");
    data.extend_from_slice(b"{\"MESSAGE\":\"no time\",\"__CURSOR\":\"s=1;i=2\"}\n");
    data.extend_from_slice(
        b"{\"__REALTIME_TIMESTAMP\":\"99999999999999999999\",\"MESSAGE\":\"x\"}\n",
    );
    data.extend_from_slice(
        b"{\"__REALTIME_TIMESTAMP\":\"1724214400000000\",\"MESSAGE\":\"fine\",\"_PID\":null}\n",
    );
    data.extend_from_slice(b"{\"__REALTIME_TIMESTAMP\":\"1724214400000001\",\"MESS");
    let (events, issues) = run(&data);
    let at: Vec<&str> = issues.iter().map(|i| i.record.as_str()).collect();
    assert_eq!(
        at,
        [
            "line 1",
            "line 2",
            "line 3",
            "line 4, cursor s=1;i=2",
            "line 5",
            "line 7"
        ],
        "{issues:#?}"
    );
    assert!(issues[3].reason.contains("no __REALTIME_TIMESTAMP"));
    assert!(issues[5].reason.contains("not a journal JSON object"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].script.as_deref(), Some("fine"));
    assert_eq!(events[0].process, None);
}

#[test]
fn a_gzipped_export_goes_through_the_crate_parse() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(SAMPLE).unwrap();
    let gz = gz.finish().unwrap();
    let (format, counts) = crate::parse(
        "journal.json.gz",
        &gz[..],
        None,
        &Options {
            host: Some("not-used".into()),
        },
        &mut |r| assert_eq!(r.unwrap().host, "web01"),
    )
    .unwrap();
    assert_eq!(format, Format::Journal);
    assert_eq!(counts.events, 13);
    assert_eq!(counts.issues, 0);
}

#[test]
fn arbitrary_bytes_and_mangled_entries_never_panic() {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let pieces: Vec<&[u8]> = SAMPLE.split(|&b| b == b'\n').collect();
    for round in 0..2000 {
        let mut data = Vec::new();
        for _ in 0..(next() % 8) {
            let mut line = pieces[(next() % pieces.len() as u64) as usize].to_vec();
            match next() % 4 {
                0 if !line.is_empty() => line.truncate((next() % line.len() as u64) as usize),
                1 if !line.is_empty() => {
                    for _ in 0..3 {
                        let i = (next() % line.len() as u64) as usize;
                        line[i] = next() as u8;
                    }
                }
                2 => line.extend((0..next() % 64).map(|_| next() as u8)),
                _ => {}
            }
            data.extend_from_slice(&line);
            data.push(b'\n');
        }
        let mut input = &data[..];
        let r = parse("fuzz", &mut input, &Options::default(), &mut |_| {});
        assert!(r.is_ok(), "round {round}");
        let _ = sniff(&data);
    }
}
