//! One journal entry as read from its JSON line, keeping only the fields the parser uses
//! ([`KEYS`]); the others are checked to be JSON and dropped without being copied. A value
//! is a string, an array of byte numbers (a binary value), an array of values (a field
//! repeated in the entry: the first is kept), a number, or null (a value journalctl left out
//! as too large: absent).

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The fields kept.
pub(super) const KEYS: [&str; 17] = [
    "__CURSOR",
    "__REALTIME_TIMESTAMP",
    "_SOURCE_REALTIME_TIMESTAMP",
    "MESSAGE",
    "MESSAGE_ID",
    "SYSLOG_IDENTIFIER",
    "_SYSTEMD_UNIT",
    "UNIT",
    "USER_UNIT",
    "PRIORITY",
    "_TRANSPORT",
    "_HOSTNAME",
    "_PID",
    "_COMM",
    "_EXE",
    "_CMDLINE",
    "_UID",
];

/// A value as read.
#[derive(Debug, PartialEq, Eq)]
enum Val<'a> {
    Text(Cow<'a, str>),
    Bytes(Vec<u8>),
    Number(u64),
    Absent,
}

impl Val<'_> {
    fn bytes(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Val::Text(t) => Some(Cow::Borrowed(t.as_bytes())),
            Val::Bytes(b) => Some(Cow::Borrowed(b)),
            Val::Number(n) => Some(Cow::Owned(n.to_string().into_bytes())),
            Val::Absent => None,
        }
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a journal field value (string, byte array, array of values or null)")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Val<'de>, E> {
        Ok(Val::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Val<'de>, E> {
        Ok(Val::Text(Cow::Owned(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val<'de>, E> {
        Ok(Val::Number(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val<'de>, E> {
        Ok(u64::try_from(v).map_or(Val::Absent, Val::Number))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Val<'de>, E> {
        Ok(Val::Absent)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Val<'de>, E> {
        Ok(Val::Absent)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Val<'de>, E> {
        Ok(Val::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Val<'de>, E> {
        Ok(Val::Absent)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Val::Absent)
    }

    /// Byte numbers make a binary value; otherwise the first of the values.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'de>, A::Error> {
        let mut bytes = Vec::new();
        let mut first = None;
        while let Some(v) = seq.next_element_seed(ValSeed)? {
            match v {
                Val::Number(n) if first.is_none() && n <= 255 => bytes.push(n as u8),
                v if first.is_none() && bytes.is_empty() => first = Some(v),
                _ => {}
            }
        }
        Ok(first.unwrap_or(Val::Bytes(bytes)))
    }
}

struct ValSeed;

impl<'de> de::DeserializeSeed<'de> for ValSeed {
    type Value = Val<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Val<'de>, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

/// A key, borrowed when the JSON has no escapes in it.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The kept fields of one entry.
#[derive(Debug)]
pub(super) struct Entry<'a> {
    vals: [Val<'a>; KEYS.len()],
}

impl<'de> de::Deserialize<'de> for Entry<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a journal entry (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry<'de>, A::Error> {
                let mut e = Entry {
                    vals: std::array::from_fn(|_| Val::Absent),
                };
                while let Some(Key(k)) = map.next_key::<Key>()? {
                    match KEYS.iter().position(|x| *x == k) {
                        Some(i) => e.vals[i] = map.next_value_seed(ValSeed)?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(e)
            }
        }
        d.deserialize_map(V)
    }
}

impl Entry<'_> {
    fn val(&self, key: &str) -> &Val<'_> {
        match KEYS.iter().position(|k| *k == key) {
            Some(i) => &self.vals[i],
            None => &Val::Absent,
        }
    }

    /// A kept field's bytes, None when absent or null.
    pub(super) fn bytes(&self, key: &str) -> Option<Cow<'_, [u8]>> {
        self.val(key).bytes()
    }

    /// A kept field as text (lossy), None when absent, null or empty.
    pub(super) fn text(&self, key: &str) -> Option<String> {
        let b = self.bytes(key)?;
        (!b.is_empty()).then(|| String::from_utf8_lossy(&b).into_owned())
    }

    /// A kept field as a number.
    pub(super) fn num<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        match self.val(key) {
            Val::Text(t) => t.trim().parse().ok(),
            Val::Number(n) => n.to_string().parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_every_kind() {
        let line = br#"{"MESSAGE":[104,105,255],"_PID":"42","_UID":1000,"_COMM":null,"SYSLOG_IDENTIFIER":["a","b"],"UNIT":[[120],[121]],"OTHER":{"x":[1,{"y":2}]},"_EXE":"/usr/bin/\u00e9","PRIORITY":[],"_HOSTNAME":"h"}"#;
        let e: Entry = serde_json::from_slice(line).unwrap();
        assert_eq!(e.bytes("MESSAGE").unwrap().as_ref(), b"hi\xff");
        assert_eq!(e.num::<u32>("_PID"), Some(42));
        assert_eq!(e.num::<u32>("_UID"), Some(1000));
        assert_eq!(e.text("_COMM"), None);
        assert_eq!(e.text("SYSLOG_IDENTIFIER").as_deref(), Some("a"));
        assert_eq!(e.text("UNIT").as_deref(), Some("x"));
        assert_eq!(e.text("_EXE").as_deref(), Some("/usr/bin/\u{e9}"));
        assert_eq!(e.text("PRIORITY"), None);
        assert_eq!(e.text("OTHER"), None);
        assert_eq!(e.text("_HOSTNAME").as_deref(), Some("h"));
    }

    #[test]
    fn what_is_not_an_object_or_not_json_is_an_error() {
        for bad in [
            &b"[1,2]"[..],
            b"\"x\"",
            b"{\"MESSAGE\":",
            b"{\"a\":tru}",
            b"{1:2}",
        ] {
            assert!(serde_json::from_slice::<Entry>(bad).is_err(), "{bad:?}");
        }
    }
}
