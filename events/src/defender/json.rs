//! The JSON forms of an advanced-hunting export, read as a stream:
//!
//! - the API response, `{"Schema":[{"Name":..,"Type":..}],"Results":[{row},..]}` (Defender
//!   for Endpoint `api/advancedqueries/run`; the Graph `runHuntingQuery` response has the same
//!   shape with `schema`/`results`, so key case is ignored);
//! - a plain array of row objects;
//! - JSON lines: one row object per line.
//!
//! The response and the array go through serde_json's streaming deserializer with a visitor
//! over the rows: one row is in memory at a time (the API itself caps a response at 124 MB).
//! A JSON line is read with a bound of [`MAX_LINE_BYTES`]. A row that is not an object, or does
//! not normalize, is a [`ParseIssue`]; a syntax error in the response or the array (a truncated
//! file) is one issue that ends the file, since nothing after it can be trusted.

use super::row::{self, Columns, Ctx};
use crate::{Error, Event, ParseIssue};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::{BufRead, BufReader, Read};

/// The most one JSON line may hold; a longer one is skipped and reported.
pub(super) const MAX_LINE_BYTES: usize = 16 << 20;

type Out<'o> = &'o mut dyn FnMut(Result<Event, ParseIssue>);

/// One row object, values as text (numbers and booleans as written, objects and arrays as
/// JSON, null as empty), sorted by column name.
struct JsonRow(Vec<(String, String)>);

impl JsonRow {
    fn new(map: serde_json::Map<String, serde_json::Value>) -> Self {
        let mut v: Vec<(String, String)> = map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        JsonRow(v)
    }
}

impl Columns for JsonRow {
    fn index(&self, name: &str) -> Option<usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn column(&self, i: usize) -> (&str, &str, bool) {
        let (k, v) = &self.0[i];
        (k, v, true)
    }
}

/// Normalizes one decoded row value.
fn row_event(ctx: &Ctx, value: serde_json::Value, place: &str) -> Result<Event, ParseIssue> {
    let serde_json::Value::Object(map) = value else {
        return Err(ctx.issue(place, "not a JSON object (a row is one)".into()));
    };
    let r = JsonRow::new(map);
    if !r.has("Timestamp") {
        return Err(ctx.issue(place, "row has no Timestamp".into()));
    }
    let table = row::table_of(&r, row::table_from_columns(&r));
    row::normalize(ctx, &r, table, place)
}

/// How the JSON is laid out, from its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Response,
    Array,
    Lines,
}

/// Tells the shape from the head of the (BOM-less) input.
pub(super) fn shape(head: &[u8]) -> Option<Shape> {
    let s = head.trim_ascii_start();
    match s.first()? {
        b'[' => Some(Shape::Array),
        b'{' => {
            let after = s[1..].trim_ascii_start().strip_prefix(b"\"")?;
            let end = after.iter().position(|&b| b == b'"')?;
            let key = String::from_utf8_lossy(&after[..end]).to_ascii_lowercase();
            Some(if matches!(key.as_str(), "schema" | "results" | "stats") {
                Shape::Response
            } else {
                Shape::Lines
            })
        }
        _ => None,
    }
}

/// Parses a JSON export of any of the three shapes.
pub(super) fn parse(ctx: &Ctx, input: &mut dyn BufRead, out: Out) -> Result<(), Error> {
    let head = input.fill_buf().map_err(|source| Error::Read {
        file: ctx.file.to_string(),
        source,
    })?;
    match shape(head) {
        Some(Shape::Lines) => lines(ctx, input, out),
        Some(s) => document(ctx, input, &s, out),
        None if head.trim_ascii().is_empty() => Err(ctx.format_error("empty: no rows".into())),
        None => Err(ctx
            .format_error("not JSON: neither an object, an array nor one object per line".into())),
    }
}

/// The response object or the array, streamed.
fn document(ctx: &Ctx, input: &mut dyn BufRead, shape: &Shape, out: Out) -> Result<(), Error> {
    let mut state = Rows {
        ctx,
        out,
        n: 0,
        saw_results: false,
        schema_has_timestamp: None,
    };
    // A BufReader of its own: serde_json reads byte by byte, which std makes fast only there.
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, input));
    let result = match shape {
        Shape::Response => serde::Deserializer::deserialize_map(&mut de, Response(&mut state)),
        _ => RowsSeed(&mut state).deserialize(&mut de),
    }
    .and_then(|()| de.end());
    if state.schema_has_timestamp == Some(false) {
        return Err(ctx.format_error(
            "the response's Schema has no Timestamp column, so this is no advanced-hunting export"
                .into(),
        ));
    }
    match result {
        Ok(()) if *shape == Shape::Response && !state.saw_results => Err(ctx.format_error(
            "a JSON object without Results: not an advanced-hunting response".into(),
        )),
        Ok(()) => Ok(()),
        Err(e) if e.is_io() => Err(Error::Read {
            file: ctx.file.to_string(),
            source: e.into(),
        }),
        Err(e) => {
            let place = format!("line {} column {}", e.line(), e.column());
            let why = if e.is_eof() {
                format!("the JSON ends early after {} rows (truncated?)", state.n)
            } else {
                format!("invalid JSON after {} rows: {e}", state.n)
            };
            (state.out)(Err(ctx.issue(&place, why)));
            Ok(())
        }
    }
}

/// Rows counted and handed on while the deserializer streams.
struct Rows<'c, 'o> {
    ctx: &'c Ctx<'c>,
    out: Out<'o>,
    n: u64,
    saw_results: bool,
    schema_has_timestamp: Option<bool>,
}

/// The response object: `Schema` checked, `Results` streamed, anything else skipped.
struct Response<'s, 'c, 'o>(&'s mut Rows<'c, 'o>);

impl<'de> Visitor<'de> for Response<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an advanced-hunting response object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.to_ascii_lowercase().as_str() {
                "results" => {
                    self.0.saw_results = true;
                    map.next_value_seed(RowsSeed(self.0))?;
                }
                "schema" => {
                    let cols: Vec<serde_json::Value> = map.next_value()?;
                    let has = cols.iter().any(|c| {
                        ["Name", "name"]
                            .iter()
                            .any(|k| c.get(k).and_then(|n| n.as_str()) == Some("Timestamp"))
                    });
                    self.0.schema_has_timestamp = Some(has);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A sequence of rows, each normalized and handed on as it is read.
struct RowsSeed<'s, 'c, 'o>(&'s mut Rows<'c, 'o>);

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<serde_json::Value>()? {
            self.0.n += 1;
            let place = format!("row {}", self.0.n);
            let r = row_event(self.0.ctx, value, &place);
            (self.0.out)(r);
        }
        Ok(())
    }
}

/// JSON lines: each non-blank line one row; a bad line is an issue and the next is read.
fn lines(ctx: &Ctx, input: &mut dyn BufRead, out: Out) -> Result<(), Error> {
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        n += 1;
        let read = (&mut *input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| Error::Read {
                file: ctx.file.to_string(),
                source,
            })?;
        if read == 0 {
            return Ok(());
        }
        let place = format!("line {n}");
        if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
            skip_line(input).map_err(|source| Error::Read {
                file: ctx.file.to_string(),
                source,
            })?;
            out(Err(ctx.issue(
                &place,
                format!("line over {} MiB, skipped", MAX_LINE_BYTES >> 20),
            )));
            continue;
        }
        let text = buf.trim_ascii();
        let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
        if text.is_empty() {
            continue;
        }
        let r = match serde_json::from_slice::<serde_json::Value>(text) {
            Ok(v) => row_event(ctx, v, &place),
            Err(e) => Err(ctx.issue(&place, format!("invalid JSON: {e}"))),
        };
        out(r);
    }
}

/// Consumes the rest of an overlong line.
fn skip_line(input: &mut dyn BufRead) -> std::io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                input.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(shape(b" [ {"), Some(Shape::Array));
        assert_eq!(shape(b"{\n  \"Schema\": ["), Some(Shape::Response));
        assert_eq!(shape(b"{\"results\": ["), Some(Shape::Response));
        assert_eq!(shape(b"{\"Timestamp\":\"2025"), Some(Shape::Lines));
        assert_eq!(shape(b"Timestamp,DeviceName"), None);
        assert_eq!(shape(b"{"), None);
    }
}
