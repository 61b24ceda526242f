//! The records of one audit event, normalized into an [`Event`].
//!
//! - SYSCALL: action = syscall name; `success=` → outcome; pid, ppid, `comm` (name), `exe`,
//!   uid (the process's account) into the process; the event's user is the login account
//!   (`auid`) when set, else the uid; `exit`, `syscall`, `arch`, `uid`, `auid`, `euid`,
//!   `ses`, `tty`, `key` into fields. Accounts are auditd's translated names when the log is
//!   enriched, else `uid=N`.
//! - EXECVE: `argc` and `a0..aN` (quoted text, or hex; long arguments split as `aN_len` and
//!   `aN[i]`, possibly over several records) joined by spaces into the command line; when an
//!   argument is not UTF-8 the command line is converted lossily and `fields["argv_hex"]`
//!   keeps the exact bytes (hex of the joined arguments).
//! - PROCTITLE (hex, NUL-separated): the command line when there is no EXECVE
//!   (`fields["proctitle_hex"]` when not UTF-8).
//! - CWD → `fields["cwd"]`; PATH → the event's file (the first PATH whose `nametype` is
//!   NORMAL, CREATE or DELETE, else the first with a name), with `nametype`, `inode`, `mode`.
//! - SOCKADDR (`saddr=` hex) → the peer (AF_INET, AF_INET6) — the local side for `bind` —
//!   with `fields["sockaddr_family"]`, and `fields["sockaddr_path"]` for AF_UNIX.
//! - Any other leading record (user-space messages: `USER_LOGIN`, `USER_AUTH`, `USER_CMD`,
//!   `ADD_USER`, `SERVICE_START`...): action = its type; the fields inside `msg='...'` into
//!   fields (decoded); the event's user is `acct=` (or `id=`), else the login account; `addr=`
//!   → peer; `res=success|failed` → outcome; `exe=` and `pid=` → the process, `cmd=` (USER_CMD)
//!   its command line.

use super::record::{Part, Record, hex};
use super::syscalls::{SockAddr, arch_name, sockaddr, syscall_name};
use crate::{Event, Format, Origin, ParseIssue, Peer, Process, Skip, Source};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The normalized event of `records` (one event's records, in file order; not empty), whose
/// last line (its EOE, when it had one) is `last`.
pub(crate) fn event(
    file: &str,
    records: &[Record],
    last: u64,
    host: Option<&str>,
) -> Result<Event, ParseIssue> {
    let first = &records[0];
    let record = {
        let (a, b) = records
            .iter()
            .fold((u64::MAX, last), |(a, b), r| (a.min(r.line), b.max(r.line)));
        let serial = first.id.serial;
        if a == b {
            format!("line {a}, serial {serial}")
        } else {
            format!("lines {a}-{b}, serial {serial}")
        }
    };
    let issue = |reason: String| ParseIssue {
        file: file.to_string(),
        record: record.clone(),
        kind: Skip::AbsurdTimestamp,
        reason,
    };
    let nanos = first
        .id
        .millis
        .checked_mul(1_000_000)
        .filter(|n| *n < 1_000_000_000);
    let stamp = || format!("time {}.{:03}", first.id.secs, first.id.millis);
    let time = nanos
        .and_then(|n| chrono::DateTime::from_timestamp(first.id.secs, n))
        .ok_or_else(|| issue(format!("{} out of range", stamp())))?;
    if let Some(why) = crate::absurd_year(chrono::Datelike::year(&time)) {
        return Err(issue(format!("{}: {why}", stamp())));
    }
    let time = rfc3339_millis(&time.naive_utc());
    let syscall = records.iter().find(|r| r.rtype_is("SYSCALL"));
    let lead = syscall.unwrap_or(first);
    let mut ev = Event {
        time,
        host: first
            .id
            .node
            .clone()
            .or_else(|| host.map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
        source: Source {
            format: Format::Audit,
            table: Some(lead.rtype().to_string()),
        },
        action: lead.rtype().to_string(),
        process: None,
        parent: None,
        script: None,
        user: None,
        peer: None,
        local: None,
        file: None,
        file_sha256: None,
        outcome: None,
        fields: BTreeMap::new(),
        origin: Origin {
            file: file.to_string(),
            record,
        },
    };
    match syscall {
        Some(s) => apply_syscall(&mut ev, s),
        None => apply_message(&mut ev, lead),
    }
    apply_execve(&mut ev, records);
    for r in records {
        if r.rtype_is("CWD") {
            if let Some(cwd) = kept(r, Part::Outer, "cwd", &mut ev.fields) {
                ev.fields.insert("cwd".into(), cwd);
            }
        } else if r.rtype_is("SOCKADDR") {
            apply_sockaddr(&mut ev, r);
        }
    }
    apply_path(&mut ev, records);
    Ok(ev)
}

/// `time` as RFC 3339 in UTC with milliseconds (`2025-08-21T04:18:55.123Z`), as chrono's
/// `to_rfc3339_opts(SecondsFormat::Millis, true)` writes it, for a year of four digits (any
/// year of [`crate::YEARS`]).
fn rfc3339_millis(time: &chrono::NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    fn two(s: &mut String, n: u32) {
        s.push(char::from(b'0' + (n / 10 % 10) as u8));
        s.push(char::from(b'0' + (n % 10) as u8));
    }
    let mut s = String::with_capacity(24);
    let year = time.year();
    debug_assert!((1000..=9999).contains(&year));
    let year = year.unsigned_abs();
    two(&mut s, year / 100);
    two(&mut s, year % 100);
    s.push('-');
    two(&mut s, time.month());
    s.push('-');
    two(&mut s, time.day());
    s.push('T');
    two(&mut s, time.hour());
    s.push(':');
    two(&mut s, time.minute());
    s.push(':');
    two(&mut s, time.second());
    s.push('.');
    let millis = time.nanosecond() / 1_000_000;
    s.push(char::from(b'0' + (millis / 100) as u8));
    two(&mut s, millis % 100);
    s.push('Z');
    s
}

/// An account: auditd's translation (`enriched`) unless `unset`, else `uid=N` unless N is
/// the unset id (4294967295 or -1).
fn account(r: &Record, part: Part, key: &str, enriched: &str) -> Option<String> {
    if let Some(name) = r.text(Part::Enriched, enriched) {
        return (name != "unset").then_some(name);
    }
    let (v, _) = r.raw(part, key)?;
    let v = std::str::from_utf8(v).ok()?;
    match v {
        "4294967295" | "-1" => None,
        n if n.parse::<u32>().is_ok() => Some(format!("uid={n}")),
        _ => None,
    }
}

/// A decoded value as text; when it is not UTF-8, the text is lossy and the exact bytes go
/// to `fields["<key>_hex"]`.
fn kept(
    r: &Record,
    part: Part,
    key: &str,
    fields: &mut BTreeMap<String, String>,
) -> Option<String> {
    let mut lossy = |b: &[u8]| {
        fields.insert(format!("{key}_hex"), hex(b));
        String::from_utf8_lossy(b).into_owned()
    };
    Some(match r.bytes(part, key)? {
        Cow::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(t) => t.to_string(),
            Err(_) => lossy(b),
        },
        Cow::Owned(v) => String::from_utf8(v).unwrap_or_else(|e| lossy(e.as_bytes())),
    })
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

fn num_u32(r: &Record, part: Part, key: &str) -> Option<u32> {
    r.num(part, key).and_then(|n| u32::try_from(n).ok())
}

fn apply_syscall(ev: &mut Event, s: &Record) {
    let arch = s.text(Part::Enriched, "ARCH").or_else(|| {
        s.text(Part::Outer, "arch")
            .map(|a| arch_name(&a).map_or(a, str::to_string))
    });
    let number = s.num(Part::Outer, "syscall");
    let name = s
        .text(Part::Enriched, "SYSCALL")
        .or_else(|| Some(syscall_name(arch.as_deref()?, number?)?.to_string()))
        .or_else(|| {
            s.text(Part::Outer, "syscall")
                .map(|n| format!("syscall_{n}"))
        });
    if let Some(name) = name {
        ev.action = name;
    }
    ev.outcome = match s.raw(Part::Outer, "success").map(|(v, _)| v) {
        Some(b"yes") => Some("success".into()),
        Some(b"no") => Some("failure".into()),
        _ => None,
    };
    let uid = account(s, Part::Outer, "uid", "UID");
    let auid = account(s, Part::Outer, "auid", "AUID");
    let euid = account(s, Part::Outer, "euid", "EUID");
    ev.user = auid.clone().or_else(|| uid.clone());
    let exe = kept(s, Part::Outer, "exe", &mut ev.fields);
    let comm = kept(s, Part::Outer, "comm", &mut ev.fields);
    ev.process = Some(Process {
        pid: num_u32(s, Part::Outer, "pid"),
        ppid: num_u32(s, Part::Outer, "ppid"),
        name: comm.or_else(|| exe.as_deref().map(basename)),
        exe,
        user: uid.clone(),
        ..Process::default()
    });
    let f = &mut ev.fields;
    for (k, v) in [("arch", arch), ("uid", uid), ("auid", auid), ("euid", euid)] {
        if let Some(v) = v {
            f.insert(k.into(), v);
        }
    }
    for k in ["syscall", "exit", "ses", "tty"] {
        if let Some(v) = s.text(Part::Outer, k) {
            f.insert(k.into(), v);
        }
    }
    if let Some(key) = s.text(Part::Outer, "key") {
        // Several keys are separated by 0x01.
        f.insert("key".into(), key.replace('\u{1}', ","));
    }
}

fn apply_message(ev: &mut Event, r: &Record) {
    for (k, v, quoted) in r.fields(Part::Inner) {
        let key = String::from_utf8_lossy(k).into_owned();
        if matches!(v, b"?" | b"" | b"(null)") && !quoted {
            continue;
        }
        let v = super::record::decode(k, v, quoted);
        ev.fields
            .insert(key, String::from_utf8_lossy(&v).into_owned());
    }
    let uid = account(r, Part::Outer, "uid", "UID");
    let auid = account(r, Part::Outer, "auid", "AUID");
    for (k, v) in [("uid", &uid), ("auid", &auid)] {
        if let Some(v) = v {
            ev.fields.insert(k.into(), v.clone());
        }
    }
    if let Some(ses) = r.text(Part::Outer, "ses").filter(|s| s != "4294967295") {
        ev.fields.insert("ses".into(), ses);
    }
    ev.user = r
        .text(Part::Inner, "acct")
        .or_else(|| account(r, Part::Inner, "id", "ID"))
        .or_else(|| auid.clone())
        .or_else(|| uid.clone());
    ev.outcome = match r.raw(Part::Inner, "res").map(|(v, _)| v) {
        Some(b"success") => Some("success".into()),
        Some(b"failed" | b"failure") => Some("failure".into()),
        _ => None,
    };
    if let Some(addr) = r.text(Part::Inner, "addr") {
        ev.peer = Some(Peer {
            addr: Some(addr),
            ..Peer::default()
        });
    }
    let exe = kept(r, Part::Inner, "exe", &mut ev.fields)
        .or_else(|| kept(r, Part::Outer, "exe", &mut ev.fields));
    let name = r
        .text(Part::Inner, "comm")
        .or_else(|| r.text(Part::Outer, "comm"))
        .or_else(|| exe.as_deref().map(basename));
    let pid = num_u32(r, Part::Outer, "pid");
    let command_line = r.text(Part::Inner, "cmd");
    if pid.is_some() || exe.is_some() || name.is_some() || command_line.is_some() {
        ev.process = Some(Process {
            pid,
            name,
            exe,
            command_line,
            user: uid,
            ..Process::default()
        });
    }
}

/// Joins arguments into a command line, keeping the hex under `hex_key` when not UTF-8.
fn set_command_line(ev: &mut Event, bytes: Vec<u8>, hex_key: &str) {
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let bytes = e.into_bytes();
            ev.fields.insert(hex_key.into(), hex(&bytes));
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    ev.process.get_or_insert_with(Process::default).command_line = Some(text);
}

fn apply_execve(ev: &mut Event, records: &[Record]) {
    let mut args: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut argc = None;
    let mut any = false;
    for r in records.iter().filter(|r| r.rtype_is("EXECVE")) {
        any = true;
        for (k, v, quoted) in r.fields(Part::Outer) {
            if k == b"argc" {
                argc = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok());
                continue;
            }
            let Some(rest) = k.strip_prefix(b"a") else {
                continue;
            };
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let Some(n) = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse::<u32>().ok())
            else {
                continue;
            };
            let slot = args.entry(n).or_default();
            match &rest[digits..] {
                [] => *slot = super::record::decode(k, v, quoted).into_owned(),
                [b'[', .., b']'] => slot.extend_from_slice(&super::record::decode(k, v, quoted)),
                _ => {} // aN_len: the pieces follow.
            }
        }
    }
    if let Some(argc) = argc {
        ev.fields.insert("argc".into(), argc.to_string());
    }
    if any && !args.is_empty() {
        let joined = args.into_values().collect::<Vec<_>>().join(&b' ');
        set_command_line(ev, joined, "argv_hex");
        return;
    }
    let title = records
        .iter()
        .find(|r| r.rtype_is("PROCTITLE"))
        .and_then(|r| r.bytes(Part::Outer, "proctitle"))
        .map(Cow::into_owned);
    if let Some(mut t) = title {
        while t.last() == Some(&0) {
            t.pop();
        }
        for b in &mut t {
            if *b == 0 {
                *b = b' ';
            }
        }
        set_command_line(ev, t, "proctitle_hex");
    }
}

fn apply_path(ev: &mut Event, records: &[Record]) {
    let paths = || records.iter().filter(|r| r.rtype_is("PATH"));
    // `nametype` is never hex-encoded: its text is its raw value (a placeholder is none of
    // these).
    fn nametype(r: &Record) -> Option<&[u8]> {
        r.raw(Part::Outer, "nametype").map(|(v, _)| v)
    }
    let chosen = paths()
        .find(|r| {
            matches!(nametype(r), Some(b"NORMAL" | b"CREATE" | b"DELETE"))
                && r.has(Part::Outer, "name")
        })
        .or_else(|| paths().find(|r| r.has(Part::Outer, "name")));
    let Some(p) = chosen else { return };
    ev.file = kept(p, Part::Outer, "name", &mut ev.fields);
    for k in ["nametype", "inode", "mode"] {
        if let Some(v) = p.text(Part::Outer, k) {
            ev.fields.insert(format!("path_{k}"), v);
        }
    }
}

fn apply_sockaddr(ev: &mut Event, r: &Record) {
    let Some(sa) = r
        .raw(Part::Outer, "saddr")
        .and_then(|(v, _)| super::record::unhex(v))
        .and_then(|b| sockaddr(&b))
    else {
        return;
    };
    ev.fields.insert("sockaddr_family".into(), sa.family());
    match sa {
        SockAddr::Inet { addr, port } => {
            let peer = Peer {
                addr: Some(addr),
                port: Some(port),
                protocol: None,
            };
            if ev.action == "bind" {
                ev.local = Some(peer);
            } else {
                ev.peer = Some(peer);
            }
        }
        SockAddr::Unix(path) => {
            ev.fields.insert("sockaddr_path".into(), path);
        }
        SockAddr::Other(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_is_written_as_chrono_writes_it() {
        let secs = [
            631_152_000,   // 1990-01-01
            951_782_400,   // 2000-02-29
            1_700_000_000, // 2023-11-14T22:13:20
            1_763_596_800,
            7_258_118_399, // 2199-12-31T23:59:59
        ];
        for s in secs {
            for millis in [0u32, 1, 9, 10, 99, 100, 123, 999] {
                let t = chrono::DateTime::from_timestamp(s, millis * 1_000_000).unwrap();
                assert_eq!(
                    rfc3339_millis(&t.naive_utc()),
                    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                );
            }
        }
    }
}
