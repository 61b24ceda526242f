//! The normalized event: what happened, when (the event's own time, UTC), on which host,
//! according to which source, with the process, user, network peer, file and script text
//! involved, and where in the source file it came from.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod borrowed;
mod json;
pub use borrowed::{
    Event as EventRef, Fields, Origin as OriginRef, Peer as PeerRef, Process as ProcessRef,
    Source as SourceRef, Text,
};

/// The source formats dossier imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Microsoft Defender for Endpoint advanced hunting, CSV export (portal "Export").
    DefenderCsv,
    /// Microsoft Defender for Endpoint advanced hunting, JSON (API `Results` array, or one
    /// object per line).
    DefenderJson,
    /// Linux audit log (`audit.log`, plain or gzip-compressed).
    Audit,
    /// systemd journal, `journalctl -o json` (one JSON object per line).
    Journal,
}

impl Format {
    /// The name used on the command line (`--format`) and in records.
    pub fn name(self) -> &'static str {
        match self {
            Format::DefenderCsv => "defender-csv",
            Format::DefenderJson => "defender-json",
            Format::Audit => "audit",
            Format::Journal => "journal",
        }
    }

    /// Every format, in `--format` order.
    pub const ALL: [Format; 4] = [
        Format::DefenderCsv,
        Format::DefenderJson,
        Format::Audit,
        Format::Journal,
    ];
}

/// Which source an event came from: the format, and for Defender the table
/// (`DeviceEvents`, `DeviceProcessEvents`, ...; `AlertInfo`/`AlertEvidence`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    pub format: Format,
    /// Defender table name; for audit the record type that led (`SYSCALL`, `USER_LOGIN`);
    /// for the journal the `SYSLOG_IDENTIFIER` or `_COMM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// A process taking part in an event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// File name of the executable (`bash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Full path of the executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Command line, arguments joined by single spaces as the source gives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// SHA-256 of the executable, lower-case hex, when the source has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Account the process ran as (name, or `uid=N` when only the number is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A network endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `tcp`, `udp`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// Where an event came from in its source file, so a reader can find the original.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The source file's name as it was imported (its member name in the import bundle).
    pub file: String,
    /// The record in that file: `line N` (or `lines N-M` for a joined audit event), and the
    /// source's own id when it has one (audit serial `msg=audit(T:SERIAL)`, journal
    /// `__CURSOR`, Defender `ReportId`).
    pub record: String,
}

/// One event, normalized. Every field but `time`, `host`, `source`, `action` and `origin` is
/// optional: sources say different things.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened, by the source's clock: RFC 3339, UTC, with the source's precision
    /// (`2025-08-21T04:18:55.123Z`).
    pub time: String,
    /// The device as the source names it (Defender `DeviceName`, audit `node=` or the name
    /// given to `dossier import --host`, journal `_HOSTNAME`), as given (case kept).
    pub host: String,
    pub source: Source,
    /// What happened, in the source's words: Defender `ActionType` (`ScriptContent`,
    /// `ProcessCreated`, `ConnectionSuccess`, `LogonFailed`), audit record type of the event
    /// (`EXECVE`, `USER_LOGIN`, `USER_AUTH`, ...) or syscall name, journal `MESSAGE` kind.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Process>,
    /// Script text (Defender `ScriptContent` in `AdditionalFields`), or a journal message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The account acting or logging on (name; `uid=N` when only the number is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The remote side of a connection or logon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    /// The local side of a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Peer>,
    /// A file the event is about (path as the source gives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// SHA-256 of that file, when the source has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_sha256: Option<String>,
    /// `success` or `failure`, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Other fields worth keeping (source names as keys: `InitiatingProcessAccountName`,
    /// `key`, `_SYSTEMD_UNIT`...), values as text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    pub origin: Origin,
}

/// A record a parser could not read: the file goes on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseIssue {
    /// The source file's name.
    pub file: String,
    /// `line N` (or the record id).
    pub record: String,
    /// The class of reason, for counting.
    #[serde(default)]
    pub kind: Skip,
    /// Why, one line.
    pub reason: String,
}

impl Event {
    /// Whether some of the event's text was not UTF-8 in the source and was read lossily:
    /// the exact bytes are then kept in a `*_hex` field (audit `argv_hex`, `proctitle_hex`,
    /// `<key>_hex`; journal `message_hex`), or the Defender note says the row was read as
    /// Latin-1.
    pub fn lossy(&self) -> bool {
        self.fields.iter().any(|(k, v)| {
            k.ends_with("_hex") || k == crate::defender::NOTE && v.contains("Latin-1")
        })
    }
}

/// Why a record was skipped, in classes that `dossier import` counts and reports (the
/// [`ParseIssue`]'s reason says the rest).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// Not a record of the format: garbage, broken JSON, no `type=`, a stray or unterminated
    /// quote, a value where a row object should be.
    #[default]
    Malformed,
    /// The file ends inside the record (a cut file: a quoted CSV field, a JSON value, a last
    /// line that is half an object).
    Truncated,
    /// A line or record longer than the parser keeps; it is skipped without being held.
    TooLong,
    /// An audit record whose `msg=audit(TIME:SERIAL)` has no (or no numeric) serial: it
    /// cannot be joined to its event.
    MissingSerial,
    /// No time, or a time that cannot be read.
    BadTimestamp,
    /// A time that reads but cannot be real: outside [`crate::YEARS`] (year 0 or 9999, a
    /// negative epoch). Skipped, not kept with a flag: a timeline or a correlation window
    /// would place it nowhere sensible.
    AbsurdTimestamp,
    /// A CSV row whose number of fields is not the header's (a wrong or shifted column).
    FieldCount,
    /// A field the format defines as structured is not (`AdditionalFields` that is not JSON).
    BadField,
    /// An audit event over [`crate::audit::MAX_EVENT_BYTES`] of records: the record that
    /// would take it past is skipped.
    EventTooBig,
}

impl Skip {
    /// Every class, in report order.
    pub const ALL: [Skip; 9] = [
        Skip::Malformed,
        Skip::Truncated,
        Skip::TooLong,
        Skip::MissingSerial,
        Skip::BadTimestamp,
        Skip::AbsurdTimestamp,
        Skip::FieldCount,
        Skip::BadField,
        Skip::EventTooBig,
    ];

    /// Its name in records (snake case, as serialized).
    pub fn name(self) -> &'static str {
        match self {
            Skip::Malformed => "malformed",
            Skip::Truncated => "truncated",
            Skip::TooLong => "too_long",
            Skip::MissingSerial => "missing_serial",
            Skip::BadTimestamp => "bad_timestamp",
            Skip::AbsurdTimestamp => "absurd_timestamp",
            Skip::FieldCount => "field_count",
            Skip::BadField => "bad_field",
            Skip::EventTooBig => "event_too_big",
        }
    }
}
