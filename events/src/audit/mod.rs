//! Linux audit logs (`audit.log` as auditd writes it, raw or "enriched"), streamed into
//! events.
//!
//! A line is a record: `[node=NAME ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): key=value...`;
//! the enriched format (`log_format = ENRICHED`) adds, after a 0x1d byte, auditd's
//! translations (`UID="root" AUID="alice" SYSCALL=execve ARCH=x86_64`), which are preferred
//! to the numbers when present. The records of one event share node, time and serial; they
//! are adjacent or nearly so, so the parser keeps a small window of open events and flushes
//! one when its `EOE` record comes, when it is a single user-space record (`USER_*`,
//! `CRED_*`, `ADD_USER`...), when no record of it came in the last [`STALE_LINES`] lines or a
//! record of the same node [`STALE_SERIALS`] serials later comes (a record of it arriving
//! after that starts a new, partial event), when
//! more than [`WINDOW`] events or [`MAX_OPEN_BYTES`] are open (the oldest), and at the end of
//! the file. Memory is bounded whatever the size of the file: a line longer than [`MAX_LINE`],
//! and a record that would take its event past [`MAX_EVENT_BYTES`], are reported and skipped.
//!
//! The normalized event (module `normalize`): the time of `msg=audit(...)` (RFC 3339, UTC,
//! milliseconds); the host from `node=`, else [`Options::host`], else `unknown`; the action is
//! the syscall's name for a SYSCALL event (`execve`, `connect`, `openat`...: auditd's
//! translation, else the x86_64/aarch64 tables of module `syscalls`, else `syscall_N`) and the
//! leading record's type otherwise (`USER_LOGIN`, `USER_AUTH`, `ADD_USER`...); `source.table`
//! is the leading record type (`SYSCALL` when the event has one). The origin is
//! `lines A-B, serial N` (or `line A, serial N`).
//!
//! A line that is not a record (no `type=`, no `msg=audit(...)` header, an unterminated
//! quote: [`Skip::Malformed`]; a serial missing: [`Skip::MissingSerial`], since the record
//! cannot be joined to its event) and an event whose time cannot be represented or is absurd
//! (a negative epoch, a year past [`crate::YEARS`]: [`Skip::AbsurdTimestamp`]) become
//! [`ParseIssue`]s with the line number; the parse goes on.

mod normalize;
mod record;
mod syscalls;

use crate::lines::{Line, Lines};
use crate::{Error, Event, Options, ParseIssue, Sink, Skip};
use record::{EventId, Record};
use std::collections::VecDeque;
use std::io::BufRead;

/// At most this many events are open at once; past it the oldest is flushed.
pub const WINDOW: usize = 64;
/// An open event that got no record in this many lines is complete.
pub const STALE_LINES: u64 = 256;
/// An open event is complete once a record of the same node comes whose serial is this much
/// later.
pub const STALE_SERIALS: u64 = 256;
/// Longest record line kept (auditd splits long arguments over records of about 8 KiB).
pub const MAX_LINE: usize = 1 << 20;
/// Most bytes of records one event may hold (an execve's arguments are at most a few MiB);
/// a record past it is reported and skipped.
pub const MAX_EVENT_BYTES: usize = 8 << 20;
/// Most bytes of records all open events may hold; past it the oldest is flushed.
pub const MAX_OPEN_BYTES: usize = 32 << 20;

/// Whether `head` starts like an audit log: one of its first [`SNIFF_LINES`] non-empty lines
/// (a rotated log may start with the end of a cut line) is
/// `[node=NAME ]type=TYPE msg=audit(DIGITS...`.
pub fn sniff(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(SNIFF_LINES)
        .any(looks_like_record)
}

/// How many lines [`sniff`] looks at.
pub const SNIFF_LINES: usize = 3;

fn looks_like_record(line: &[u8]) -> bool {
    let mut rest = line;
    if let Some(r) = rest.strip_prefix(b"node=") {
        let Some(sp) = r.iter().position(|&b| b == b' ') else {
            return false;
        };
        rest = &r[sp + 1..];
    }
    let Some(r) = rest.strip_prefix(b"type=") else {
        return false;
    };
    let name = r
        .iter()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"_[]".contains(b))
        .count();
    name > 0
        && r[name..]
            .strip_prefix(b" msg=audit(")
            .is_some_and(|t| t.first().is_some_and(u8::is_ascii_digit))
}

/// An event being assembled.
struct Open {
    /// Its records, in file order: never empty (the first names the event: [`Open::id`]).
    records: Vec<Record>,
    last: u64,
    bytes: usize,
}

impl Open {
    fn id(&self) -> &EventId {
        &self.records[0].id
    }
}

/// Spent records kept for reuse at most, and the largest kept (bytes of buffers): a record
/// parsed into a spent one costs no allocation.
const SPARE_RECORDS: usize = 256;
const SPARE_RECORD_BYTES: usize = 64 << 10;

/// Record types that are a whole event on their own (user-space messages).
fn standalone(rtype: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "USER_", "CRED_", "ADD_", "DEL_", "GRP_", "SERVICE_", "SYSTEM_", "DAEMON_", "ACCT_",
        "ROLE_",
    ];
    PREFIXES.iter().any(|p| rtype.starts_with(p))
        || matches!(rtype, "LOGIN" | "CHUSER_ID" | "CHGRP_ID")
}

struct Joiner<'a, 'o> {
    file: &'a str,
    options: &'a Options,
    open: VecDeque<Open>,
    /// Bytes of records in `open`.
    bytes: usize,
    out: Sink<'o>,
    /// Spent records and record lists, for reuse.
    spare: Vec<Record>,
    spare_lists: Vec<Vec<Record>>,
}

impl Joiner<'_, '_> {
    fn emit(&mut self, mut o: Open) {
        self.bytes -= o.bytes;
        let r: Result<Event, ParseIssue> =
            normalize::event(self.file, &o.records, o.last, self.options.host.as_deref());
        (self.out)(r);
        for rec in o.records.drain(..) {
            self.spend(rec);
        }
        if self.spare_lists.len() < WINDOW {
            self.spare_lists.push(o.records);
        }
    }

    /// A record for the next line: a spent one when there is one.
    fn fresh(&mut self) -> Record {
        self.spare.pop().unwrap_or_default()
    }

    /// Keeps a record no longer needed for reuse, unless enough are kept or it is big.
    fn spend(&mut self, rec: Record) {
        if self.spare.len() < SPARE_RECORDS && rec.capacity() <= SPARE_RECORD_BYTES {
            self.spare.push(rec);
        }
    }

    fn issue(&mut self, line: u64, kind: Skip, reason: String) {
        (self.out)(Err(ParseIssue {
            file: self.file.to_string(),
            record: format!("line {line}"),
            kind,
            reason,
        }));
    }

    /// Flushes the open events that `rec` shows to be complete: too many lines ago, or too
    /// many serials before it.
    fn flush_stale(&mut self, rec: &Record) {
        while let Some(i) = self.open.iter().position(|o| {
            o.last + STALE_LINES < rec.line
                || o.id().node == rec.id.node && rec.id.serial > o.id().serial + STALE_SERIALS
        }) {
            if let Some(o) = self.open.remove(i) {
                self.emit(o);
            }
        }
    }

    fn add(&mut self, rec: Record) {
        self.flush_stale(&rec);
        let line = rec.line;
        let rtype_ends = rec.rtype_is("EOE");
        let alone = standalone(rec.rtype());
        let at = match self.open.iter().rposition(|o| *o.id() == rec.id) {
            Some(i) => {
                let o = &mut self.open[i];
                o.last = line;
                if !rtype_ends {
                    if o.bytes + rec.size() > MAX_EVENT_BYTES {
                        let serial = o.id().serial;
                        self.spend(rec);
                        self.issue(
                            line,
                            Skip::EventTooBig,
                            format!(
                                "event of serial {serial} over {MAX_EVENT_BYTES} bytes of records: record skipped"
                            ),
                        );
                        return;
                    }
                    o.bytes += rec.size();
                    self.bytes += rec.size();
                    o.records.push(rec);
                } else {
                    self.spend(rec);
                }
                i
            }
            None => {
                if rtype_ends {
                    // An EOE whose records were flushed already (or never came): nothing to add.
                    self.spend(rec);
                    return;
                }
                self.bytes += rec.size();
                let mut records = self.spare_lists.pop().unwrap_or_default();
                let bytes = rec.size();
                records.push(rec);
                self.open.push_back(Open {
                    bytes,
                    records,
                    last: line,
                });
                self.open.len() - 1
            }
        };
        if rtype_ends || alone && self.open[at].records.len() == 1 {
            if let Some(o) = self.open.remove(at) {
                self.emit(o);
            }
        }
        while self.open.len() > WINDOW || self.bytes > MAX_OPEN_BYTES {
            if let Some(o) = self.open.pop_front() {
                self.emit(o);
            }
        }
    }

    fn finish(&mut self) {
        while let Some(o) = self.open.pop_front() {
            self.emit(o);
        }
    }
}

/// Parses an audit log from `input` (named `file`), sending every event and issue to `out`.
/// A read error (a cut gzip stream) ends the parse with [`Error::Read`] once the events open
/// at that point are sent.
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
    let mut joiner = Joiner {
        file,
        options,
        open: VecDeque::new(),
        bytes: 0,
        out,
        spare: Vec::new(),
        spare_lists: Vec::new(),
    };
    loop {
        let next = lines.next_line().map_err(|source| Error::Read {
            file: file.to_string(),
            source,
        });
        let next = match next {
            Ok(n) => n,
            Err(e) => {
                joiner.finish();
                return Err(e);
            }
        };
        let Some((n, line)) = next else { break };
        match line {
            Line::TooLong(len) => {
                *records += 1;
                joiner.issue(
                    n,
                    Skip::TooLong,
                    format!("line of {len} bytes, over {MAX_LINE}: skipped"),
                );
            }
            Line::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            Line::Text(t) => {
                *records += 1;
                let mut rec = joiner.fresh();
                match rec.parse_into(n, t) {
                    Ok(()) => joiner.add(rec),
                    Err((kind, reason)) => {
                        joiner.spend(rec);
                        joiner.issue(n, kind, reason);
                    }
                }
            }
        }
    }
    joiner.finish();
    Ok(())
}

#[cfg(test)]
mod tests;
