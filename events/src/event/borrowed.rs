//! [`Event`] (the crate's `EventRef`): an event (the crate's [`OwnedEvent`]) read from its JSON
//! line without copying its text. Every string
//! borrows from the line when it has no escape (a [`Text`] is then a slice of the line) and
//! is unescaped into its own buffer only when it has one; `fields` is a small vector of
//! pairs rather than a map. The event rules read every imported event once, so this is what
//! `dossier analyze` reads `records/events.jsonl` into.
//!
//! It reads exactly what [`OwnedEvent`] reads (the same field names, the same required fields,
//! unknown fields ignored, the same errors for a line that is not an event), and
//! [`Event::from`] borrows an [`OwnedEvent`] already in memory. The serialized format is
//! [`OwnedEvent`]'s; this view is never written.

// The borrowed types have the owned ones' names (the crate re-exports them as `EventRef`,
// `ProcessRef`...), so that serde's errors name the same structs.
use super::{
    Event as OwnedEvent, Format, Origin as OwnedOrigin, Peer as OwnedPeer, Process as OwnedProcess,
    Source as OwnedSource,
};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A string of an event: borrowed from the line it was read from, or owned when it had to
/// be unescaped. Derefs to `str`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    /// The text as a `&str` (as long as the view lives).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text borrowed from `s`.
    pub fn borrowed(s: &'a str) -> Text<'a> {
        Text(Cow::Borrowed(s))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            // As `String` says it, so that errors read as those of `OwnedEvent`.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                // As `String` does: UTF-8 bytes are a string, others an error.
                match std::str::from_utf8(v) {
                    Ok(s) => Ok(Text(Cow::Owned(s.to_string()))),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(v), &self)),
                }
            }
        }
        d.deserialize_string(V)
    }
}

/// `OwnedSource`, borrowed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Source<'a> {
    pub format: Format,
    #[serde(default, borrow)]
    pub table: Option<Text<'a>>,
}

/// `OwnedProcess`, borrowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Process<'a> {
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub ppid: Option<u32>,
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub exe: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub command_line: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub sha256: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub user: Option<Text<'a>>,
}

/// `OwnedPeer`, borrowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Peer<'a> {
    #[serde(default, borrow)]
    pub addr: Option<Text<'a>>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default, borrow)]
    pub protocol: Option<Text<'a>>,
}

/// `OwnedOrigin`, borrowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Origin<'a> {
    #[serde(borrow)]
    pub file: Text<'a>,
    #[serde(borrow)]
    pub record: Text<'a>,
}

impl Origin<'_> {
    /// The owned [`OwnedOrigin`].
    pub fn to_origin(&self) -> OwnedOrigin {
        OwnedOrigin {
            file: self.file.to_string(),
            record: self.record.to_string(),
        }
    }
}

/// An event's other fields (`OwnedEvent::fields`), in the order of the line (a serialized
/// `BTreeMap`: sorted by key). A key given twice is the last one's, as a map reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields<'a>(pub Vec<(Text<'a>, Text<'a>)>);

impl Fields<'_> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k.as_str() == key)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            // As `BTreeMap` says it.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(0).min(32));
                while let Some(kv) = m.next_entry::<Text<'de>, Text<'de>>()? {
                    out.push(kv);
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// An [`OwnedEvent`], borrowed from its JSON line (or from an [`OwnedEvent`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Event<'a> {
    #[serde(borrow)]
    pub time: Text<'a>,
    #[serde(borrow)]
    pub host: Text<'a>,
    #[serde(borrow)]
    pub source: Source<'a>,
    #[serde(borrow)]
    pub action: Text<'a>,
    #[serde(default, borrow)]
    pub process: Option<Process<'a>>,
    #[serde(default, borrow)]
    pub parent: Option<Process<'a>>,
    #[serde(default, borrow)]
    pub script: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub user: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub peer: Option<Peer<'a>>,
    #[serde(default, borrow)]
    pub local: Option<Peer<'a>>,
    #[serde(default, borrow)]
    pub file: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub file_sha256: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub outcome: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub fields: Fields<'a>,
    #[serde(borrow)]
    pub origin: Origin<'a>,
}

fn text(s: &str) -> Text<'_> {
    Text(Cow::Borrowed(s))
}

fn opt(s: &Option<String>) -> Option<Text<'_>> {
    s.as_deref().map(text)
}

impl<'a> From<&'a OwnedProcess> for Process<'a> {
    fn from(p: &'a OwnedProcess) -> Self {
        Process {
            pid: p.pid,
            ppid: p.ppid,
            name: opt(&p.name),
            exe: opt(&p.exe),
            command_line: opt(&p.command_line),
            sha256: opt(&p.sha256),
            user: opt(&p.user),
        }
    }
}

impl<'a> From<&'a OwnedPeer> for Peer<'a> {
    fn from(p: &'a OwnedPeer) -> Self {
        Peer {
            addr: opt(&p.addr),
            port: p.port,
            protocol: opt(&p.protocol),
        }
    }
}

impl<'a> From<&'a OwnedSource> for Source<'a> {
    fn from(s: &'a OwnedSource) -> Self {
        Source {
            format: s.format,
            table: opt(&s.table),
        }
    }
}

impl<'a> From<&'a OwnedEvent> for Event<'a> {
    fn from(e: &'a OwnedEvent) -> Self {
        Event {
            time: text(&e.time),
            host: text(&e.host),
            source: (&e.source).into(),
            action: text(&e.action),
            process: e.process.as_ref().map(Into::into),
            parent: e.parent.as_ref().map(Into::into),
            script: opt(&e.script),
            user: opt(&e.user),
            peer: e.peer.as_ref().map(Into::into),
            local: e.local.as_ref().map(Into::into),
            file: opt(&e.file),
            file_sha256: opt(&e.file_sha256),
            outcome: opt(&e.outcome),
            fields: Fields(e.fields.iter().map(|(k, v)| (text(k), text(v))).collect()),
            origin: Origin {
                file: text(&e.origin.file),
                record: text(&e.origin.record),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn event() -> OwnedEvent {
        OwnedEvent {
            time: "2026-11-20T02:10:00.123Z".into(),
            host: "web1".into(),
            source: OwnedSource {
                format: Format::Audit,
                table: Some("SYSCALL".into()),
            },
            action: "execve".into(),
            process: Some(OwnedProcess {
                pid: Some(4242),
                ppid: Some(1),
                name: Some("bash".into()),
                exe: Some("/usr/bin/bash".into()),
                command_line: Some("bash -c \"echo \\\"hi\\\" | tee /tmp/x\"\ttab é".into()),
                sha256: None,
                user: Some("root".into()),
            }),
            parent: None,
            script: None,
            user: Some("uid=0".into()),
            peer: Some(OwnedPeer {
                addr: Some("203.0.113.45".into()),
                port: Some(4444),
                protocol: None,
            }),
            local: None,
            file: Some("/tmp/x".into()),
            file_sha256: None,
            outcome: Some("success".into()),
            fields: BTreeMap::from([
                ("cwd".to_string(), "/root".to_string()),
                ("key".to_string(), "a\"b".to_string()),
            ]),
            origin: OwnedOrigin {
                file: "raw/audit.log".into(),
                record: "lines 1-3, serial 7".into(),
            },
        }
    }

    #[test]
    fn a_line_reads_as_the_event_borrowed_where_it_has_no_escape() {
        let e = event();
        let line = serde_json::to_string(&e).unwrap();
        let r: Event<'_> = serde_json::from_str(&line).unwrap();
        assert_eq!(r, Event::from(&e));
        assert!(matches!(r.host.0, Cow::Borrowed(_)));
        let cmd = &r.process.as_ref().unwrap().command_line.as_ref().unwrap().0;
        assert!(matches!(cmd, Cow::Owned(_)), "unescaped: {cmd}");
        assert_eq!(r.fields.get("cwd"), Some("/root"));
        assert_eq!(r.fields.get("key"), Some("a\"b"));
        assert!(r.fields.contains_key("key") && !r.fields.contains_key("tty"));
        assert_eq!(r.origin.to_origin(), e.origin);
        // Unknown fields are ignored; a key given twice is the last one's.
        let r: Event<'_> = serde_json::from_str(
            r#"{"time":"t","host":"h","source":{"format":"journal"},"action":"a","new":[1],
                "fields":{"k":"1","k":"2"},"origin":{"file":"f","record":"r"}}"#,
        )
        .unwrap();
        assert_eq!(r.fields.get("k"), Some("2"));
    }

    #[test]
    fn what_is_not_an_event_is_refused_with_the_same_error() {
        for bad in [
            r#"{"time":"t","source":{"format":"journal"},"action":"a","origin":{"file":"f","record":"r"}}"#,
            r#"{"time":1,"host":"h","source":{"format":"journal"},"action":"a","origin":{"file":"f","record":"r"}}"#,
            r#"{"time":"t","host":"h","source":{"format":"nope"},"action":"a","origin":{"file":"f","record":"r"}}"#,
            r#"{"time":"t","host":"h","source":{"format":"journal"},"action":"a","process":{"pid":-1},"origin":{"file":"f","record":"r"}}"#,
            r#"{"time":"t","host":"h","source":{"format":"journal"},"action":"a","fields":[],"origin":{"file":"f","record":"r"}}"#,
            r#"{"time":"t","host":"h","source":{"format":"journal"},"action":"a","fields":{"a":1},"origin":{"file":"f","record":"r"}}"#,
            r#"{"time":"t","host":"h""#,
            "[]",
            r#"[1]"#,
            r#"{"time":"t","host":"h","source":[],"action":"a","origin":{"file":"f","record":"r"}}"#,
        ] {
            let want = serde_json::from_str::<OwnedEvent>(bad)
                .unwrap_err()
                .to_string();
            let got = serde_json::from_str::<Event<'_>>(bad)
                .unwrap_err()
                .to_string();
            assert_eq!(got, want, "{bad}");
        }
    }
}
