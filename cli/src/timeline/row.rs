//! One timeline row and its JSON line in Timesketch's import format: `datetime` (ISO 8601,
//! UTC, microseconds), `timestamp` (microseconds since the Unix epoch), `timestamp_desc`
//! (what the time means), `message`, then the attributes in name order.
//!
//! Rows are kept and sorted as text: each line is prefixed with a fixed-width sort key of its
//! time in nanoseconds ([`crate::extsort::KEY_LEN`] hex digits), so that comparing keyed lines as bytes orders
//! them by time, then by the line itself (a total order that does not depend on the order the
//! rows were made in).

use dossier_plugin_api::Timestamp;
use dossier_plugin_api::host::FileMeta;
use serde_json::Value;
use std::collections::BTreeMap;

/// The attribute names Timesketch gives a meaning of its own: never used for attributes. Its
/// JSONL import (`read_and_validate_jsonl` in `timesketch/lib/utils.py`) takes `message`,
/// `datetime`, `timestamp_desc` and `timestamp` as the event's, parses `tag` into a list of
/// tags and drops `_id`, `_type`, `_index`, `_source` and `__ts_timeline_id`; its index maps
/// `timesketch_label` as nested objects (`data/generic.mappings`). Its importer client
/// (`timesketch_importer`, `_fix_dict`) drops every key that begins with `_`: such names are
/// prefixed too.
const RESERVED: &[&str] = &[
    "message",
    "datetime",
    "timestamp",
    "timestamp_desc",
    "tag",
    "timesketch_label",
    "_id",
    "_type",
    "_index",
    "_source",
    "__ts_timeline_id",
];

/// One row of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub(crate) time: Timestamp,
    /// What the time means (`Modification time`, `Process start time`, `Event time`...).
    pub(crate) desc: &'static str,
    pub(crate) message: String,
    pub(crate) attrs: BTreeMap<String, Value>,
}

impl Row {
    pub(crate) fn new(time: Timestamp, desc: &'static str, message: impl Into<String>) -> Row {
        Row {
            time,
            desc,
            message: message.into(),
            attrs: BTreeMap::new(),
        }
    }

    /// Sets an attribute (a reserved name, or one beginning with `_`, gets an `attr_` prefix).
    pub(crate) fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Row {
        let name = if RESERVED.contains(&name) || name.starts_with('_') {
            format!("attr_{name}")
        } else {
            name.to_string()
        };
        self.attrs.insert(name, value.into());
        self
    }

    /// Sets an attribute when there is a value.
    pub(crate) fn set_opt<V: Into<Value>>(&mut self, name: &str, value: Option<V>) -> &mut Row {
        if let Some(v) = value {
            self.set(name, v);
        }
        self
    }

    /// The attributes of a file's metadata (`file_kind`, `mode`, `uid`, `gid`, `size`,
    /// `inode`).
    pub(crate) fn set_meta(&mut self, meta: &FileMeta) -> &mut Row {
        self.set("file_kind", meta.kind.name())
            .set("mode", format!("{:04o}", meta.mode))
            .set("uid", meta.uid)
            .set("gid", meta.gid)
            .set("size", meta.size)
            .set_opt("inode", meta.inode)
    }

    /// The row as a keyed line: the sort key, then the JSON object (no newline).
    pub(crate) fn keyed_line(&self) -> String {
        let dt = self.time.datetime();
        let secs = dt.timestamp();
        let nanos = dt.timestamp_subsec_nanos();
        let micros = secs
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(nanos / 1000));
        // Offset so that negative times sort before positive ones as unsigned hex.
        let key = crate::extsort::time_key(secs, nanos);
        let mut s = String::with_capacity(256);
        s.push_str(&key);
        s.push_str("{\"datetime\":");
        s.push_str(&json_str(
            &dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        ));
        s.push_str(",\"timestamp\":");
        s.push_str(&micros.to_string());
        s.push_str(",\"timestamp_desc\":");
        s.push_str(&json_str(self.desc));
        s.push_str(",\"message\":");
        s.push_str(&json_str(&self.message));
        for (k, v) in &self.attrs {
            s.push(',');
            s.push_str(&json_str(k));
            s.push(':');
            s.push_str(&v.to_string());
        }
        s.push('}');
        s
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    Value::from(s).to_string()
}

/// Shortens text for a message to at most `max` characters (`…` marks the cut).
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// The three times of a file's metadata with what each means (birth time is not in
/// [`FileMeta`]: no row for it).
pub(crate) fn file_times(meta: &FileMeta) -> [(&'static str, Option<Timestamp>); 3] {
    [
        ("Modification time", meta.mtime),
        ("Status change time", meta.ctime),
        ("Access time", meta.atime),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extsort::KEY_LEN;

    #[test]
    fn a_row_is_timesketch_jsonl_with_its_required_fields_first() {
        let t = Timestamp::from_unix(1_762_303_600, 123_456_789).unwrap();
        let mut r = Row::new(t, "Modification time", "file \"x\"\nchanged");
        r.set("path", "/var/log/log")
            .set("size", 333u64)
            .set("tag", "x");
        let keyed = r.keyed_line();
        let line = &keyed[KEY_LEN..];
        assert!(
            line.starts_with(
                "{\"datetime\":\"2025-11-05T00:46:40.123456+00:00\",\"timestamp\":1762303600123456,\"timestamp_desc\":\"Modification time\",\"message\":\"file \\\"x\\\"\\nchanged\""
            ),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["path"], "/var/log/log");
        assert_eq!(v["attr_tag"], "x");
        assert!(v.get("tag").is_none());
        let mut r = Row::new(t, "Event time", "m");
        r.set("_id", "a")
            .set("timesketch_label", "b")
            .set("_SYSTEMD_UNIT", "c");
        let v: serde_json::Value = serde_json::from_str(&r.keyed_line()[KEY_LEN..]).unwrap();
        assert_eq!(
            (
                &v["attr__id"],
                &v["attr_timesketch_label"],
                &v["attr__SYSTEMD_UNIT"]
            ),
            (&"a".into(), &"b".into(), &"c".into())
        );
        assert!(v.get("_id").is_none() && v.get("timesketch_label").is_none());
        assert!(!line.contains('\n'));
    }

    #[test]
    fn keyed_lines_sort_as_bytes_in_time_order_before_and_after_1970() {
        let at =
            |s, n| Row::new(Timestamp::from_unix(s, n).unwrap(), "Event time", "m").keyed_line();
        let mut lines = [
            at(1_700_000_000, 5),
            at(-10, 0),
            at(1_700_000_000, 0),
            at(0, 0),
            at(99, 999_999_999),
            at(100, 0),
        ];
        lines.sort();
        let times: Vec<i64> = lines
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(&l[KEY_LEN..]).unwrap();
                v["timestamp"].as_i64().unwrap()
            })
            .collect();
        assert_eq!(
            times,
            vec![
                -10_000_000,
                0,
                99_999_999,
                100_000_000,
                1_700_000_000_000_000,
                1_700_000_000_000_000
            ]
        );
        // Same microsecond, nanoseconds still order them.
        assert!(lines[4] < lines[5] && lines[5].contains("1700000000000000"));
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("ééééé", 2), "éé…");
    }
}
