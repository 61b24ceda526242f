//! [`Event::write_json`]: an event as its JSON line, written straight into a byte buffer.
//!
//! The bytes are exactly those of `serde_json::to_writer(&event)` (the derived `Serialize` of
//! [`Event`]: the fields in declaration order, the absent optional ones and empty `fields`
//! left out, `fields` in key order, strings escaped as serde_json's compact formatter escapes
//! them); the tests hold the two to each other. `dossier import` writes every imported event
//! through it: it is the hot path of an import, and a direct writer avoids serde's
//! per-value calls.

use super::{Event, Format, Origin, Peer, Process, Source};

/// What a byte becomes inside a JSON string, as serde_json writes it: 0 for itself, else the
/// letter of its short escape (`\n`), or `u` for `\u00XX`.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// `s` as a JSON string (quotes included).
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let e = ESCAPE[usize::from(b)];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if e == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        } else {
            out.push(b'\\');
            out.push(e);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// An unsigned number in decimal.
fn number(out: &mut Vec<u8>, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Writes the members of one object, each but the first after a comma.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// The key of the next member (a plain ASCII name: nothing to escape), with its colon.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn text(&mut self, key: &str, value: &str) {
        string(self.key(key), value);
    }

    fn opt_text(&mut self, key: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.text(key, v);
        }
    }

    fn opt_number(&mut self, key: &str, value: Option<u32>) {
        if let Some(v) = value {
            number(self.key(key), v);
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn format_name(f: Format) -> &'static str {
    // serde's `rename_all = "snake_case"` of the variant names.
    match f {
        Format::DefenderCsv => "defender_csv",
        Format::DefenderJson => "defender_json",
        Format::Audit => "audit",
        Format::Journal => "journal",
    }
}

fn source(out: &mut Vec<u8>, s: &Source) {
    let mut o = Object::open(out);
    o.text("format", format_name(s.format));
    o.opt_text("table", &s.table);
    o.close();
}

fn process(out: &mut Vec<u8>, p: &Process) {
    let mut o = Object::open(out);
    o.opt_number("pid", p.pid);
    o.opt_number("ppid", p.ppid);
    o.opt_text("name", &p.name);
    o.opt_text("exe", &p.exe);
    o.opt_text("command_line", &p.command_line);
    o.opt_text("sha256", &p.sha256);
    o.opt_text("user", &p.user);
    o.close();
}

fn peer(out: &mut Vec<u8>, p: &Peer) {
    let mut o = Object::open(out);
    o.opt_text("addr", &p.addr);
    o.opt_number("port", p.port.map(u32::from));
    o.opt_text("protocol", &p.protocol);
    o.close();
}

fn origin(out: &mut Vec<u8>, r: &Origin) {
    let mut o = Object::open(out);
    o.text("file", &r.file);
    o.text("record", &r.record);
    o.close();
}

impl Event {
    /// Appends the event's JSON (one line, no newline) to `out`: the very bytes of
    /// `serde_json::to_writer(out, self)`, faster.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = Object::open(out);
        o.text("time", &self.time);
        o.text("host", &self.host);
        source(o.key("source"), &self.source);
        o.text("action", &self.action);
        if let Some(p) = &self.process {
            process(o.key("process"), p);
        }
        if let Some(p) = &self.parent {
            process(o.key("parent"), p);
        }
        o.opt_text("script", &self.script);
        o.opt_text("user", &self.user);
        if let Some(p) = &self.peer {
            peer(o.key("peer"), p);
        }
        if let Some(p) = &self.local {
            peer(o.key("local"), p);
        }
        o.opt_text("file", &self.file);
        o.opt_text("file_sha256", &self.file_sha256);
        o.opt_text("outcome", &self.outcome);
        if !self.fields.is_empty() {
            let out = o.key("fields");
            out.push(b'{');
            for (i, (k, v)) in self.fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, k);
                out.push(b':');
                string(out, v);
            }
            out.push(b'}');
        }
        origin(o.key("origin"), &self.origin);
        o.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn same(e: &Event) {
        let mut got = Vec::new();
        e.write_json(&mut got);
        let want = serde_json::to_vec(e).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
        assert_eq!(got, want);
    }

    fn bare(format: Format) -> Event {
        Event {
            time: String::new(),
            host: String::new(),
            source: Source {
                format,
                table: None,
            },
            action: String::new(),
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
            origin: Origin::default(),
        }
    }

    #[test]
    fn every_byte_is_escaped_as_serde_json_escapes_it() {
        let all: String = (0u32..0x800).filter_map(char::from_u32).collect();
        let mut e = bare(Format::Audit);
        e.script = Some(all.clone());
        e.fields.insert(all.clone(), all);
        e.fields
            .insert("\u{7f}\u{ff}é\u{2028}\u{1F600}".into(), "\"\\/".into());
        e.fields.insert(String::new(), String::new());
        same(&e);
        let mut s = String::new();
        string(&mut Vec::new(), "");
        for c in [
            '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1f}', '"', '\\',
        ] {
            s.push(c);
            let mut got = Vec::new();
            string(&mut got, &s);
            assert_eq!(got, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn every_event_of_the_sample_files_is_written_as_serde_writes_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in [
            root.join("tests/data"),
            root.join("tests/data/defender"),
            root.join("../tests/data/events-story"),
        ] {
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                if f.is_file() {
                    files.push(f);
                }
            }
        }
        let mut n = 0;
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let _ = crate::parse(
                "sample",
                &data[..],
                None,
                &crate::Options::default(),
                &mut |r| {
                    if let Ok(e) = r {
                        same(&e);
                        n += 1;
                    }
                },
            );
        }
        assert!(
            files.len() >= 15 && n > 100,
            "{} files, {n} events",
            files.len()
        );
    }

    #[test]
    fn absent_and_present_parts_are_written_as_serde_writes_them() {
        for format in Format::ALL {
            same(&bare(format));
        }
        let full = Process {
            pid: Some(0),
            ppid: Some(u32::MAX),
            name: Some("bash".into()),
            exe: Some("/bin/bash".into()),
            command_line: Some("bash -c \"x\"\ty".into()),
            sha256: Some("ab".into()),
            user: Some("root".into()),
        };
        let mut e = Event {
            time: "2025-08-21T04:18:55.123Z".into(),
            host: "web1".into(),
            source: Source {
                format: Format::DefenderJson,
                table: Some("DeviceEvents".into()),
            },
            action: "ProcessCreated".into(),
            process: Some(full.clone()),
            parent: Some(Process::default()),
            script: Some("line1\r\nline2".into()),
            user: Some("alice".into()),
            peer: Some(Peer {
                addr: Some("203.0.113.45".into()),
                port: Some(u16::MAX),
                protocol: Some("tcp".into()),
            }),
            local: Some(Peer::default()),
            file: Some("/tmp/a b".into()),
            file_sha256: Some("cd".into()),
            outcome: Some("success".into()),
            fields: BTreeMap::from([("z".into(), "1".into()), ("a".into(), "2".into())]),
            origin: Origin {
                file: "raw/x".into(),
                record: "line 1".into(),
            },
        };
        same(&e);
        for n in [1, 9, 10, 99, 100, 12345, 4_294_967_295] {
            e.process.as_mut().unwrap().pid = Some(n);
            e.peer.as_mut().unwrap().port = u16::try_from(n).ok();
            same(&e);
        }
        e.parent = Some(Process {
            ppid: Some(7),
            ..Process::default()
        });
        e.process = None;
        e.peer = None;
        e.local = Some(Peer {
            port: Some(0),
            ..Peer::default()
        });
        same(&e);
    }
}
