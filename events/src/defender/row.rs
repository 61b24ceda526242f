//! One advanced-hunting row to one [`Event`]: which table the row comes from (told by its
//! columns, else by its `ActionType`), and how the table's columns map onto the event.
//!
//! Columns the event has a place for (time, device, action, the acting and parent process,
//! script, account, peer, local end, file, hash) are taken; every other non-empty column goes
//! into `fields` under its own name, so nothing in the row is lost. A column is only taken
//! when its value fits (a `ProcessId` that is not a number stays in `fields`).

use super::time;
use crate::{Event, Format, Origin, ParseIssue, Peer, Process, Skip, Source};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Key of the note added to `fields` when the parser had to interpret something.
pub(crate) const NOTE: &str = "dossier.note";

/// Adds a note to an event (notes already there are kept, `; ` between).
pub(super) fn note(event: &mut Event, text: &str) {
    event
        .fields
        .entry(NOTE.to_string())
        .and_modify(|n| {
            n.push_str("; ");
            n.push_str(text);
        })
        .or_insert_with(|| text.to_string());
}

/// A row's columns, whatever the file format.
pub(super) trait Columns {
    /// Position of a column (the first of that name), if the row has it.
    fn index(&self, name: &str) -> Option<usize>;
    /// How many columns.
    fn len(&self) -> usize;
    /// Column `i`: its name, its value (empty when absent), and whether it is the first
    /// column of that name (a repeated name is read once).
    fn column(&self, i: usize) -> (&str, &str, bool);

    /// The value of a column; None when the column is absent or empty.
    fn get(&self, name: &str) -> Option<&str> {
        let v = self.column(self.index(name)?).1;
        (!v.is_empty()).then_some(v)
    }
    /// Whether the row has the column at all (even empty).
    fn has(&self, name: &str) -> bool {
        self.index(name).is_some()
    }
}

/// FNV-1a: column names are short and few, and SipHash showed in profiles of large imports.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Column names in order and where each is: a CSV header, or the keys of JSON rows (shared
/// by all the rows that have the same keys in the same order).
pub(super) struct Header {
    names: Vec<String>,
    index: HashMap<String, usize, BuildHasherDefault<Fnv>>,
    /// Whether column `i` is the first of its name (a repeated name is read once).
    first: Vec<bool>,
}

impl Header {
    pub fn new(names: Vec<String>) -> Self {
        let mut index =
            HashMap::with_capacity_and_hasher(names.len(), BuildHasherDefault::default());
        let mut first = Vec::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            first.push(!index.contains_key(n));
            index.entry(n.clone()).or_insert(i);
        }
        Header {
            names,
            index,
            first,
        }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Position of the first column of that name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Column `i`'s name and whether it is the first of that name.
    pub fn name(&self, i: usize) -> (&str, bool) {
        (&self.names[i], self.first[i])
    }
}

/// The advanced-hunting tables this parser knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    DeviceEvents,
    DeviceProcessEvents,
    DeviceNetworkEvents,
    DeviceFileEvents,
    DeviceLogonEvents,
    AlertInfo,
    AlertEvidence,
    DeviceInfo,
    DeviceNetworkInfo,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::DeviceEvents,
        Table::DeviceProcessEvents,
        Table::DeviceNetworkEvents,
        Table::DeviceFileEvents,
        Table::DeviceLogonEvents,
        Table::AlertInfo,
        Table::AlertEvidence,
        Table::DeviceInfo,
        Table::DeviceNetworkInfo,
    ];

    /// The table's name in the advanced-hunting schema.
    pub fn name(self) -> &'static str {
        match self {
            Table::DeviceEvents => "DeviceEvents",
            Table::DeviceProcessEvents => "DeviceProcessEvents",
            Table::DeviceNetworkEvents => "DeviceNetworkEvents",
            Table::DeviceFileEvents => "DeviceFileEvents",
            Table::DeviceLogonEvents => "DeviceLogonEvents",
            Table::AlertInfo => "AlertInfo",
            Table::AlertEvidence => "AlertEvidence",
            Table::DeviceInfo => "DeviceInfo",
            Table::DeviceNetworkInfo => "DeviceNetworkInfo",
        }
    }

    fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The table a set of columns belongs to, when the columns alone tell (columns only one of the
/// known tables has); None when the rows must tell by their `ActionType`.
pub(super) fn table_from_columns(c: &dyn Columns) -> Option<Table> {
    let any = |names: &[&str]| names.iter().any(|n| c.has(n));
    if c.has("AlertId") {
        return Some(
            if any(&["EntityType", "EvidenceRole", "EvidenceDirection"]) {
                Table::AlertEvidence
            } else {
                Table::AlertInfo
            },
        );
    }
    if c.has("LogonType") {
        return Some(Table::DeviceLogonEvents);
    }
    if any(&[
        "OSPlatform",
        "MachineGroup",
        "LoggedOnUsers",
        "OnboardingStatus",
    ]) {
        return Some(Table::DeviceInfo);
    }
    if any(&["NetworkAdapterName", "MacAddress", "IPAddresses"]) {
        return Some(Table::DeviceNetworkInfo);
    }
    // DeviceLogonEvents has RemoteIPType too, but no local end.
    if c.has("LocalIPType") || (c.has("RemoteIPType") && any(&["LocalIP", "LocalPort"])) {
        return Some(Table::DeviceNetworkEvents);
    }
    if any(&[
        "PreviousFileName",
        "PreviousFolderPath",
        "FileOriginReferrerUrl",
        "ShareName",
        "RequestProtocol",
        "SensitivityLabel",
    ]) {
        return Some(Table::DeviceFileEvents);
    }
    if any(&[
        "ProcessIntegrityLevel",
        "ProcessVersionInfoCompanyName",
        "ProcessVersionInfoOriginalFileName",
        "InitiatingProcessSignerType",
    ]) {
        return Some(Table::DeviceProcessEvents);
    }
    if any(&["RegistryKey", "RegistryValueName"]) {
        return Some(Table::DeviceEvents);
    }
    None
}

/// The table of a Device* row by its `ActionType`, when the action belongs to one table.
fn table_from_action(action: &str) -> Option<Table> {
    match action {
        "ProcessCreated" => Some(Table::DeviceProcessEvents),
        "FileCreated" | "FileModified" | "FileDeleted" | "FileRenamed" => {
            Some(Table::DeviceFileEvents)
        }
        "LogonSuccess" | "LogonFailed" | "LogonAttempted" => Some(Table::DeviceLogonEvents),
        "InboundConnectionAccepted" | "ListeningConnectionCreated" => {
            Some(Table::DeviceNetworkEvents)
        }
        a if a.starts_with("Connection") => Some(Table::DeviceNetworkEvents),
        _ => None,
    }
}

/// The table of one row: a `TableName`/`Type` column naming it (a `union withsource=`
/// query); the alert tables by their columns; else the row's `ActionType` where it belongs to
/// one table (so that the rows of a union of tables, which share all the columns, each get
/// theirs); else the columns; else the shape of a projection without `ActionType`;
/// DeviceEvents when nothing tells.
pub(super) fn table_of(c: &dyn Columns, by_columns: Option<Table>) -> Table {
    if let Some(t) = ["TableName", "Type", "SourceTable"]
        .iter()
        .find_map(|col| c.get(col).and_then(Table::from_name))
    {
        return t;
    }
    if let Some(t @ (Table::AlertInfo | Table::AlertEvidence)) = by_columns {
        return t;
    }
    if let Some(t) = c.get("ActionType").and_then(table_from_action) {
        return t;
    }
    if let Some(t) = by_columns {
        return t;
    }
    if !c.has("ActionType") {
        let all = |names: &[&str]| names.iter().all(|n| c.has(n));
        if all(&["ProcessCommandLine", "ProcessId", "FileName"]) {
            return Table::DeviceProcessEvents;
        }
        if all(&["RemoteIP", "RemotePort", "LocalIP"]) {
            return Table::DeviceNetworkEvents;
        }
        if all(&["FolderPath", "FileName", "SHA256"]) {
            return Table::DeviceFileEvents;
        }
    }
    Table::DeviceEvents
}

/// What every row of one file shares.
pub(super) struct Ctx<'a> {
    pub file: &'a str,
    pub format: Format,
    /// Host for rows that name no device (AlertInfo), from `dossier import --host`.
    pub host: Option<&'a str>,
}

impl Ctx<'_> {
    pub fn issue(&self, record: &str, kind: Skip, reason: String) -> ParseIssue {
        ParseIssue {
            file: self.file.to_string(),
            record: record.to_string(),
            kind,
            reason,
        }
    }

    pub fn format_error(&self, reason: String) -> crate::Error {
        crate::Error::Format {
            file: self.file.to_string(),
            reason,
        }
    }
}

/// Reads a row's columns and remembers which ones went into the event.
struct Mapper<'r> {
    row: &'r dyn Columns,
    /// By column position.
    taken: Vec<bool>,
}

impl<'r> Mapper<'r> {
    /// Marks a column as gone into the event.
    fn mark(&mut self, name: &str) {
        if let Some(i) = self.row.index(name) {
            self.taken[i] = true;
        }
    }

    fn take(&mut self, name: &'static str) -> Option<&'r str> {
        let i = self.row.index(name)?;
        let v = self.row.column(i).1;
        if v.is_empty() {
            return None;
        }
        self.taken[i] = true;
        Some(v)
    }

    fn take_owned(&mut self, name: &'static str) -> Option<String> {
        self.take(name).map(str::to_string)
    }

    /// Takes a column only if it parses.
    fn take_parsed<T: std::str::FromStr>(&mut self, name: &'static str) -> Option<T> {
        let v = self.row.get(name)?.trim().parse().ok()?;
        self.mark(name);
        Some(v)
    }

    /// A path from a folder column and a file-name column: the folder when it already ends in
    /// the file name (the sensor often puts the full path in `FolderPath`), else the two
    /// joined with the folder's own separator.
    fn path(&mut self, folder: &'static str, name: &'static str) -> Option<String> {
        let n = self.row.get(name);
        let f = self.row.get(folder);
        match (f, n) {
            (Some(f), Some(n)) => {
                self.mark(folder);
                self.mark(name);
                let trimmed = f.trim_end_matches(['/', '\\']);
                let ends_with_name = trimmed
                    .strip_suffix(n)
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with(['/', '\\']));
                if ends_with_name {
                    Some(trimmed.to_string())
                } else {
                    let sep = if f.contains('\\') && !f.contains('/') {
                        '\\'
                    } else {
                        '/'
                    };
                    Some(format!("{trimmed}{sep}{n}"))
                }
            }
            (Some(f), None) => {
                self.mark(folder);
                Some(f.to_string())
            }
            (None, Some(n)) => {
                self.mark(name);
                Some(n.to_string())
            }
            (None, None) => None,
        }
    }
}

/// Normalizes one row of `table`; `place` is `line N` or `row N`.
pub(super) fn normalize(
    ctx: &Ctx,
    row: &dyn Columns,
    table: Table,
    place: &str,
) -> Result<Event, ParseIssue> {
    let record = match row.get("ReportId") {
        Some(id) => format!("{place}, ReportId {id}"),
        None => place.to_string(),
    };
    let mut m = Mapper {
        row,
        taken: vec![false; row.len()],
    };
    let raw_time = m
        .take("Timestamp")
        .ok_or_else(|| ctx.issue(&record, Skip::BadTimestamp, "no Timestamp".into()))?;
    let t = time::parse(raw_time).map_err(|(kind, e)| ctx.issue(&record, kind, e))?;
    let (script, extra) =
        additional_fields(&mut m).map_err(|e| ctx.issue(&record, Skip::BadField, e))?;
    let host = match m.take_owned("DeviceName") {
        Some(h) => h,
        None => ctx.host.unwrap_or_default().to_string(),
    };
    let action = match table {
        Table::AlertInfo => "alert".to_string(),
        Table::AlertEvidence => "alert_evidence".to_string(),
        _ => m
            .take_owned("ActionType")
            .unwrap_or_else(|| table.name().to_string()),
    };
    let mut event = Event {
        time: t.rfc3339,
        host,
        source: Source {
            format: ctx.format,
            table: Some(table.name().to_string()),
        },
        action,
        process: None,
        parent: None,
        script,
        user: None,
        peer: None,
        local: None,
        file: None,
        file_sha256: None,
        outcome: None,
        fields: BTreeMap::new(),
        origin: Origin {
            file: ctx.file.to_string(),
            record,
        },
    };
    match table {
        Table::DeviceProcessEvents => {
            event.process = created_process(&mut m);
            event.parent = initiating_process(&mut m);
            event.user = [&event.process, &event.parent]
                .into_iter()
                .find_map(|p| p.as_ref().and_then(|p| p.user.clone()));
        }
        Table::AlertInfo | Table::DeviceNetworkInfo => {}
        Table::DeviceInfo => event.user = single_logged_on_user(row),
        Table::AlertEvidence => evidence(&mut m, &mut event),
        _ => {
            event.process = initiating_process(&mut m);
            event.parent = parent_process(&mut m);
            event.user = m
                .take_owned("AccountName")
                .or_else(|| event.process.as_ref().and_then(|p| p.user.clone()));
            if matches!(table, Table::DeviceFileEvents | Table::DeviceEvents) {
                event.file = m.path("FolderPath", "FileName");
                event.file_sha256 = m.take("SHA256").map(str::to_ascii_lowercase);
            }
        }
    }
    network(&mut m, table, &mut event);
    event.outcome = outcome(&event.action);
    if let Some(extra) = extra {
        event.fields.insert("AdditionalFields".into(), extra);
    }
    if t.zone_assumed {
        note(
            &mut event,
            "Timestamp names no time zone: read as UTC (advanced hunting stores UTC)",
        );
    }
    for (i, taken) in m.taken.iter().enumerate() {
        let (k, v, first) = row.column(i);
        let keep_anyway = k == "Timestamp" && t.zone_assumed;
        if first && !v.is_empty() && (keep_anyway || !taken) && k != "AdditionalFields" {
            event.fields.insert(k.to_string(), v.to_string());
        }
    }
    Ok(event)
}

/// `AdditionalFields`: the script text (`ScriptContent`) out, the rest kept as JSON text. A
/// value that looks like JSON and is not is an error; plain text is kept as it is.
fn additional_fields(m: &mut Mapper) -> Result<(Option<String>, Option<String>), String> {
    let Some(raw) = m.take("AdditionalFields") else {
        return Ok((None, None));
    };
    let t = raw.trim_start();
    if !t.starts_with(['{', '[']) {
        return Ok((None, Some(raw.to_string())));
    }
    let value: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| format!("AdditionalFields is not valid JSON: {e}"))?;
    let serde_json::Value::Object(mut map) = value else {
        return Ok((None, Some(raw.to_string())));
    };
    let script = match map.remove("ScriptContent") {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    if script.is_none() {
        return Ok((None, Some(raw.to_string())));
    }
    let rest = (!map.is_empty()).then(|| serde_json::Value::Object(map).to_string());
    Ok((script, rest))
}

/// The process a DeviceProcessEvents row records the creation of.
fn created_process(m: &mut Mapper) -> Option<Process> {
    let p = Process {
        pid: m.take_parsed("ProcessId"),
        ppid: m
            .row
            .get("InitiatingProcessId")
            .and_then(|v| v.trim().parse().ok()),
        name: m.row.get("FileName").map(str::to_string),
        exe: m.path("FolderPath", "FileName"),
        command_line: m.take_owned("ProcessCommandLine"),
        sha256: m.take("SHA256").map(str::to_ascii_lowercase),
        user: m.take_owned("AccountName"),
    };
    (p != Process::default()).then_some(p)
}

/// The process that initiated the event (`InitiatingProcess*`).
fn initiating_process(m: &mut Mapper) -> Option<Process> {
    let p = Process {
        pid: m.take_parsed("InitiatingProcessId"),
        ppid: m.take_parsed("InitiatingProcessParentId"),
        name: m.row.get("InitiatingProcessFileName").map(str::to_string),
        exe: m.path("InitiatingProcessFolderPath", "InitiatingProcessFileName"),
        command_line: m.take_owned("InitiatingProcessCommandLine"),
        sha256: m
            .take("InitiatingProcessSHA256")
            .map(str::to_ascii_lowercase),
        user: m.take_owned("InitiatingProcessAccountName"),
    };
    (p != Process::default()).then_some(p)
}

/// The initiating process's parent (`InitiatingProcessParent*`); the file-name column, which
/// may be a name or a full path, also stays in `fields`.
fn parent_process(m: &mut Mapper) -> Option<Process> {
    let raw = m.row.get("InitiatingProcessParentFileName");
    let (name, exe) = match raw {
        Some(r) if r.contains(['/', '\\']) => (
            r.rsplit(['/', '\\']).next().map(str::to_string),
            Some(r.to_string()),
        ),
        Some(r) => (Some(r.to_string()), None),
        None => (None, None),
    };
    let p = Process {
        pid: m
            .row
            .get("InitiatingProcessParentId")
            .and_then(|v| v.trim().parse().ok()),
        name,
        exe,
        ..Process::default()
    };
    (p != Process::default()).then_some(p)
}

/// DeviceInfo's `LoggedOnUsers` (a JSON array of `{"UserName":..}`) when it names exactly one
/// user; the column itself stays in `fields`.
fn single_logged_on_user(row: &dyn Columns) -> Option<String> {
    let users: Vec<serde_json::Value> = serde_json::from_str(row.get("LoggedOnUsers")?).ok()?;
    match &users[..] {
        [one] => one.get("UserName")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// AlertEvidence: the entity the row names (file, process, address, account).
fn evidence(m: &mut Mapper, event: &mut Event) {
    event.user = m.take_owned("AccountName");
    if m.row.get("EntityType") == Some("Process") {
        event.process = Some(Process {
            name: m.row.get("FileName").map(str::to_string),
            exe: m.path("FolderPath", "FileName"),
            command_line: m.take_owned("ProcessCommandLine"),
            sha256: m.take("SHA256").map(str::to_ascii_lowercase),
            ..Process::default()
        });
    } else {
        event.file = m.path("FolderPath", "FileName");
        event.file_sha256 = m.take("SHA256").map(str::to_ascii_lowercase);
    }
}

/// Remote and local ends. `Protocol` is the transport (`Tcp`) in network tables but the
/// authentication package (`Kerberos`, `NTLM`) in DeviceLogonEvents: only the first is taken.
fn network(m: &mut Mapper, table: Table, event: &mut Event) {
    let protocol = if table == Table::DeviceLogonEvents {
        None
    } else {
        m.row.get("Protocol").map(|p| {
            let lower = p.to_ascii_lowercase();
            match lower
                .strip_suffix("v4")
                .or_else(|| lower.strip_suffix("v6"))
            {
                Some(base) => base.to_string(),
                None => {
                    m.mark("Protocol");
                    lower
                }
            }
        })
    };
    let peer = Peer {
        addr: m.take_owned("RemoteIP"),
        port: m.take_parsed("RemotePort"),
        protocol: protocol.clone(),
    };
    if peer.addr.is_some() || peer.port.is_some() {
        event.peer = Some(peer);
    }
    let local = Peer {
        addr: m.take_owned("LocalIP"),
        port: m.take_parsed("LocalPort"),
        protocol,
    };
    if local.addr.is_some() || local.port.is_some() {
        event.local = Some(local);
    }
}

/// `success` or `failure` for the action types that say so.
fn outcome(action: &str) -> Option<String> {
    match action {
        "LogonSuccess" | "ConnectionSuccess" => Some("success".into()),
        "LogonFailed" | "ConnectionFailed" => Some("failure".into()),
        _ => None,
    }
}
