//! Hostile input through the crate's [`parse`], one file per format: each bad record is a
//! counted issue of its [`Skip`] class with its line, the good records around it are events,
//! non-UTF-8 text is counted as lossy, and a 100 MB line is skipped without being held.

use super::*;
use std::io::Read;

/// Parses `input` as `format`: the counts, the events and the issues.
fn run(input: impl Read, format: Format) -> (Counts, Vec<Event>, Vec<ParseIssue>) {
    let mut events = Vec::new();
    let mut issues = Vec::new();
    let (got, counts) = parse(
        "hostile",
        input,
        Some(format),
        &Options::default(),
        &mut |r| match r {
            Ok(e) => events.push(e),
            Err(i) => issues.push(i),
        },
    )
    .unwrap();
    assert_eq!(got, format);
    assert_eq!(counts.events, events.len() as u64);
    assert_eq!(counts.issues, issues.len() as u64);
    (counts, events, issues)
}

/// `head`, then a line of 100 MB of `x` (never in memory here: a repeating reader), then
/// `tail`.
fn with_huge_line<'a>(head: &'a [u8], tail: &'a [u8]) -> impl Read + 'a {
    head.chain(std::io::repeat(b'x').take(100 << 20))
        .chain(&b"\n"[..])
        .chain(tail)
}

/// The (record, class) of each issue.
fn classes(issues: &[ParseIssue]) -> Vec<(&str, Skip)> {
    issues.iter().map(|i| (i.record.as_str(), i.kind)).collect()
}

#[test]
fn hostile_audit_log() {
    let head = b"type=SYSCALL msg=audit(1763604600.100:500): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=0 uid=0 comm=\"curl\" exe=\"/usr/bin/curl\"\n\
type=EXECVE msg=audit(1763604600.100:500): argc=2 a0=\"curl\" a1=6869FF\n\
type=EOE msg=audit(1763604600.100:500): \n\
this is no audit record\n\
type=USER_LOGIN msg=audit(1763604601.000): pid=1 uid=0 msg='op=login acct=\"a\" res=success'\n\
type=USER_LOGIN msg=audit(-86400.000:501): pid=1 uid=0 msg='op=login acct=\"b\" res=success'\n\
type=USER_LOGIN msg=audit(253370764800.000:502): pid=1 uid=0 msg='op=login acct=\"c\" res=success'\n";
    let tail = b"type=USER_LOGIN msg=audit(1763604602.000:503): pid=1 uid=0 msg='op=login acct=\"d\" res=success'\n\
type=USER_LOGIN msg=audit(1763604603.000:504): pid=1 uid=0 msg='op=login acct=\"e\" res=succ";
    let (counts, events, issues) = run(with_huge_line(head, tail), Format::Audit);
    assert_eq!(
        classes(&issues),
        [
            ("line 4", Skip::Malformed),
            ("line 5", Skip::MissingSerial),
            ("line 6, serial 501", Skip::AbsurdTimestamp),
            ("line 7, serial 502", Skip::AbsurdTimestamp),
            ("line 8", Skip::TooLong),
            ("line 10", Skip::Malformed),
        ],
        "{issues:#?}"
    );
    assert!(
        issues[2].reason.contains("year 1969"),
        "{}",
        issues[2].reason
    );
    assert!(
        issues[3].reason.contains("year 9999"),
        "{}",
        issues[3].reason
    );
    assert!(issues[4].reason.contains("104857600 bytes"));
    // Two events: the execve (its non-UTF-8 argument lossy, kept in hex) and d's login.
    assert_eq!(events.len(), 2);
    assert!(events[0].lossy() && events[0].fields["argv_hex"].ends_with("6869ff"));
    assert_eq!(events[1].user.as_deref(), Some("d"));
    // Ten non-blank lines read; the execve's three are one event.
    assert_eq!(
        counts,
        Counts {
            records: 10,
            events: 2,
            issues: 6,
            lossy: 1
        }
    );
}

#[test]
fn hostile_journal_export() {
    let head = b"{\"__REALTIME_TIMESTAMP\":\"1763604600000000\",\"_HOSTNAME\":\"web1\",\"MESSAGE\":[104,105,255]}\n\
{\"__REALTIME_TIMESTAMP\":\"-5000000\",\"_HOSTNAME\":\"web1\",\"MESSAGE\":\"before 1970\"}\n\
{\"_HOSTNAME\":\"web1\",\"MESSAGE\":\"no time\"}\n";
    let tail = b"{\"__REALTIME_TIMESTAMP\":\"1763604601000000\",\"_HOSTNAME\":\"web1\",\"MESSAGE\":\"ok\"}\n\
{\"__REALTIME_TIMESTAMP\":\"1763604602000000\",\"_HOSTNAME\":\"web1\",\"MESS";
    let (counts, events, issues) = run(with_huge_line(head, tail), Format::Journal);
    assert_eq!(
        classes(&issues),
        [
            ("line 2", Skip::AbsurdTimestamp),
            ("line 3", Skip::BadTimestamp),
            ("line 4", Skip::TooLong),
            ("line 6", Skip::Truncated),
        ],
        "{issues:#?}"
    );
    assert_eq!(events.len(), 2);
    assert!(events[0].lossy());
    assert_eq!(
        counts,
        Counts {
            records: 6,
            events: 2,
            issues: 4,
            lossy: 1
        }
    );
}

#[test]
fn hostile_defender_csv() {
    // An unknown column is kept in the event's fields; a short row, an absurd and an unreadable
    // time, a Latin-1 row, and a quoted field the file ends in.
    let data = b"Timestamp,DeviceName,ActionType,FolderPath,NotADefenderColumn\n\
2026-11-20T02:10:00Z,db1,ProcessCreated,/tmp,extra\n\
2026-11-20T02:10:01Z,db1,ProcessCreated\n\
0000-01-01T00:00:00Z,db1,ProcessCreated,/tmp,x\n\
9999-12-31T23:59:59Z,db1,ProcessCreated,/tmp,x\n\
yesterday,db1,ProcessCreated,/tmp,x\n\
2026-11-20T02:10:02Z,db1,ProcessCreated,/tmp/caf\xe9,x\n\
2026-11-20T02:10:03Z,db1,ProcessCreated,\"/tmp/never closed";
    let (counts, events, issues) = run(&data[..], Format::DefenderCsv);
    assert_eq!(
        classes(&issues),
        [
            ("line 3", Skip::FieldCount),
            ("line 4", Skip::AbsurdTimestamp),
            ("line 5", Skip::AbsurdTimestamp),
            ("line 6", Skip::BadTimestamp),
            ("line 8", Skip::Truncated),
        ],
        "{issues:#?}"
    );
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].fields["NotADefenderColumn"], "extra");
    assert!(!events[0].lossy() && events[1].lossy());
    assert_eq!(
        counts,
        Counts {
            records: 7,
            events: 2,
            issues: 5,
            lossy: 1
        }
    );
}

#[test]
fn hostile_defender_json_lines() {
    let head = b"{\"Timestamp\":\"2026-11-20T02:10:00Z\",\"DeviceName\":\"db1\",\"ActionType\":\"ConnectionSuccess\",\"RemoteIP\":\"203.0.113.45\"}\n\
{\"Timestamp\":\"2026-11-20T02:10:01Z\",\"DeviceName\":\"db1\",\"AdditionalFields\":\"{not json\"}\n";
    let tail = b"{\"Timestamp\":\"2026-11-20T02:10:02Z\",\"DeviceName\":\"db1\",\"ActionType\":\"ConnectionSuccess\"}\n\
{\"Timestamp\":\"2026-11-20T02:10:03Z\",\"Devi";
    let (counts, events, issues) = run(with_huge_line(head, tail), Format::DefenderJson);
    assert_eq!(
        classes(&issues),
        [
            ("line 2", Skip::BadField),
            ("line 3", Skip::TooLong),
            ("line 5", Skip::Truncated),
        ],
        "{issues:#?}"
    );
    assert_eq!(events.len(), 2);
    assert_eq!(counts.records, 5);
}

#[test]
fn skip_classes_are_named_as_serialized() {
    for k in Skip::ALL {
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::Value::from(k.name())
        );
    }
}
