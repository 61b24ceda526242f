//! The systemd journal as `journalctl -o json` exports it (one JSON object per line),
//! streamed into events.
//!
//! A field's value is a string, an array of byte numbers (a value that is not valid UTF-8 or
//! holds control bytes), an array of values (a field repeated in one entry: the first is
//! used), or null (a value journalctl left out as too large); only the fields used are kept
//! (module `entry`). Per entry:
//!
//! - time: `__REALTIME_TIMESTAMP` (microseconds since the epoch; `_SOURCE_REALTIME_TIMESTAMP`
//!   when it is missing) as RFC 3339 UTC with microseconds;
//! - host: `_HOSTNAME`, else [`Options::host`], else `unknown`;
//! - source table: `SYSLOG_IDENTIFIER`, else `_COMM`;
//! - process: `_PID`, `_COMM` (name), `_EXE`, `_CMDLINE`, and `_UID` as `uid=N` (the
//!   process's user; the event's user is set only for the messages below, as the account they
//!   name);
//! - script: `MESSAGE` (decoded when a byte array; then `fields["message_hex"]` keeps the
//!   exact bytes when they are not UTF-8);
//! - fields: `SYSLOG_IDENTIFIER`, `_SYSTEMD_UNIT`, `UNIT`, `USER_UNIT`, `PRIORITY`,
//!   `_TRANSPORT`, and what the message says (below);
//! - origin: `line N, cursor C`.
//!
//! The action, from what the message says (module `classify`):
//!
//! | action | message |
//! |---|---|
//! | `logon_success` | sshd `Accepted METHOD for USER from ADDR port P`: user, peer, outcome success, `fields["auth_method"]` |
//! | `logon_failed` | sshd `Failed METHOD for [invalid user ]USER from ADDR port P`, `Invalid user USER from ADDR [port P]`: user, peer, outcome failure, `auth_method`, `invalid_user` |
//! | `sudo` | sudo `USER : TTY=... ; PWD=... ; USER=TARGET ; COMMAND=...`: the command as the process's command line, `target_user`, `tty`, `pwd`; a reason before `TTY` (`3 incorrect password attempts`, `user NOT in sudoers`) makes the outcome failure, in `fields["reason"]` |
//! | `su` | su `(to TARGET) USER on TTY` (`FAILED SU (to ...) ...`: failure): user, `target_user`, `tty` |
//! | `account_change` | useradd, usermod, userdel, groupadd, groupmod, groupdel, gpasswd, chage; passwd and chpasswd `password changed for USER`: user (the account changed), `fields["change"]` the message |
//! | `unit_started` | systemd `Started ...` (or its catalog `MESSAGE_ID`): `fields["unit"]` from `UNIT`/`USER_UNIT` or the message |
//! | `log` | anything else; the message is kept |
//!
//! A line that is not a JSON object (garbage: [`Skip::Malformed`]; a truncated last line:
//! [`Skip::Truncated`]), an entry without a time ([`Skip::BadTimestamp`]) or with an absurd
//! one (outside [`crate::YEARS`]: [`Skip::AbsurdTimestamp`]) becomes a [`ParseIssue`] with its
//! line number; the parse goes on.

mod classify;
mod entry;

use crate::lines::{Line, Lines};
use crate::{Error, Event, Format, Options, Origin, ParseIssue, Process, Sink, Skip, Source};
use entry::Entry;
use std::collections::BTreeMap;
use std::io::BufRead;

/// Longest entry line kept.
pub const MAX_LINE: usize = 4 << 20;

/// Whether `head` starts like `journalctl -o json`: its first non-empty line is a JSON
/// object naming `__REALTIME_TIMESTAMP` or `__CURSOR`.
pub fn sniff(head: &[u8]) -> bool {
    let Some(line) = head
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
    else {
        return false;
    };
    let line = line.trim_ascii_start();
    let has = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
    line.starts_with(b"{") && (has(b"\"__REALTIME_TIMESTAMP\"") || has(b"\"__CURSOR\""))
}

/// The event of one entry.
fn event(file: &str, line: u64, entry: &Entry, options: &Options) -> Result<Event, ParseIssue> {
    let cursor = entry.text("__CURSOR");
    let record = match &cursor {
        Some(c) => format!("line {line}, cursor {c}"),
        None => format!("line {line}"),
    };
    let issue = |kind: Skip, reason: &str| ParseIssue {
        file: file.to_string(),
        record: record.clone(),
        kind,
        reason: reason.to_string(),
    };
    let micros: i64 = entry
        .num("__REALTIME_TIMESTAMP")
        .or_else(|| entry.num("_SOURCE_REALTIME_TIMESTAMP"))
        .ok_or_else(|| {
            issue(
                Skip::BadTimestamp,
                "no __REALTIME_TIMESTAMP (or not a number)",
            )
        })?;
    let time = chrono::DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| issue(Skip::AbsurdTimestamp, "__REALTIME_TIMESTAMP out of range"))?;
    if let Some(why) = crate::absurd_year(chrono::Datelike::year(&time)) {
        return Err(issue(
            Skip::AbsurdTimestamp,
            &format!("__REALTIME_TIMESTAMP {micros}: {why}"),
        ));
    }
    let time = time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut fields = BTreeMap::new();
    let message = entry
        .bytes("MESSAGE")
        .map(|b| match String::from_utf8(b.into_owned()) {
            Ok(s) => s,
            Err(e) => {
                let b = e.into_bytes();
                fields.insert("message_hex".to_string(), crate::lines::hex(&b));
                String::from_utf8_lossy(&b).into_owned()
            }
        });
    for k in [
        "SYSLOG_IDENTIFIER",
        "_SYSTEMD_UNIT",
        "UNIT",
        "USER_UNIT",
        "PRIORITY",
        "_TRANSPORT",
    ] {
        if let Some(v) = entry.text(k) {
            fields.insert(k.to_string(), v);
        }
    }
    let identifier = entry
        .text("SYSLOG_IDENTIFIER")
        .or_else(|| entry.text("_COMM"));
    let process = Process {
        pid: entry.num("_PID"),
        name: entry.text("_COMM"),
        exe: entry.text("_EXE"),
        command_line: entry.text("_CMDLINE"),
        user: entry.num::<u32>("_UID").map(|u| format!("uid={u}")),
        ..Process::default()
    };
    let mut ev = Event {
        time,
        host: entry
            .text("_HOSTNAME")
            .or_else(|| options.host.clone())
            .unwrap_or_else(|| "unknown".into()),
        source: Source {
            format: Format::Journal,
            table: identifier.clone(),
        },
        action: "log".into(),
        process: (process != Process::default()).then_some(process),
        parent: None,
        script: None,
        user: None,
        peer: None,
        local: None,
        file: None,
        file_sha256: None,
        outcome: None,
        fields,
        origin: Origin {
            file: file.to_string(),
            record,
        },
    };
    if let Some(m) = &message {
        classify::apply(&mut ev, identifier.as_deref().unwrap_or(""), m, |k| {
            entry.text(k)
        });
    }
    ev.script = message;
    Ok(ev)
}

/// Parses a `journalctl -o json` export from `input` (named `file`), sending every event and
/// issue to `out`.
pub fn parse(
    file: &str,
    input: &mut dyn BufRead,
    options: &Options,
    out: Sink,
) -> Result<(), Error> {
    read(file, input, options, &mut 0, out)
}

/// [`parse`], counting the records (non-blank lines) read into `records`.
pub(crate) fn read(
    file: &str,
    input: &mut dyn BufRead,
    options: &Options,
    records: &mut u64,
    out: Sink,
) -> Result<(), Error> {
    let mut lines = Lines::new(input, MAX_LINE);
    let issue = |line: u64, kind: Skip, reason: String| ParseIssue {
        file: file.to_string(),
        record: format!("line {line}"),
        kind,
        reason,
    };
    while let Some((n, line)) = lines.next_line().map_err(|source| Error::Read {
        file: file.to_string(),
        source,
    })? {
        let text = match line {
            Line::TooLong(len) => {
                *records += 1;
                out(Err(issue(
                    n,
                    Skip::TooLong,
                    format!("line of {len} bytes, over {MAX_LINE}: skipped"),
                )));
                continue;
            }
            Line::Text(t) if t.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Text(t) => t,
        };
        *records += 1;
        match serde_json::from_slice::<Entry>(text) {
            Ok(entry) => out(event(file, n, &entry, options)),
            Err(e) => {
                let kind = if e.is_eof() {
                    Skip::Truncated
                } else {
                    Skip::Malformed
                };
                out(Err(issue(
                    n,
                    kind,
                    format!("not a journal JSON object: {e}"),
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
