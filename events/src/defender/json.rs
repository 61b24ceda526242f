//! The JSON forms of an advanced-hunting export, read as a stream:
//!
//! - the API response, `{"Schema":[{"Name":..,"Type":..}],"Results":[{row},..]}` (Defender
//!   for Endpoint `api/advancedqueries/run`; the Graph `runHuntingQuery` response has the same
//!   shape with `schema`/`results`, so key case is ignored);
//! - a plain array of row objects;
//! - JSON lines: one row object per line;
//! - row objects one after the other, each over several lines (what `jq '.Results[]'` prints).
//!
//! The response and the array are cut into rows by a [`Scanner`] that tracks strings and
//! nesting without parsing, and each row is parsed on its own: one row is in memory at a time,
//! at most [`MAX_LINE_BYTES`] (a longer one is skipped and reported), the same bound as a JSON
//! line. A row that is not an object, is not valid JSON inside, or does not normalize is a
//! [`ParseIssue`] and the next row is read; a break in the document's own structure (a
//! truncated file, a missing comma between rows) is one issue that ends the file, since nothing
//! after it can be placed.

use super::row::{self, Columns, Ctx, Header, Table};
use super::scan::{Fault, Scanner, Value};
use crate::{Error, Event, ParseIssue, Skip};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;
use std::io::{BufRead, Read};

/// The most one JSON line may hold; a longer one is skipped and reported.
pub(super) const MAX_LINE_BYTES: usize = 16 << 20;

type Out<'o> = &'o mut dyn FnMut(Result<Event, ParseIssue>);

/// One row object as read: its keys and its values as text (numbers and booleans as written,
/// objects and arrays as JSON, null as empty), in the object's order.
/// Keys and values are borrowed from the row's bytes where they have no escapes (most of
/// them): a row costs a few allocations, not two per column.
struct RawRow<'de> {
    keys: Vec<Cow<'de, str>>,
    values: Vec<Cow<'de, str>>,
}

/// A row, or what stood where a row should be (`a string`, `a number`...).
enum MaybeRow<'de> {
    Row(RawRow<'de>),
    Not(&'static str),
}

impl<'de> Deserialize<'de> for MaybeRow<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MaybeRowVisitor)
    }
}

struct MaybeRowVisitor;

impl<'de> Visitor<'de> for MaybeRowVisitor {
    type Value = MaybeRow<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeRow<'de>, A::Error> {
        let mut keys = Vec::with_capacity(64);
        let mut values = Vec::with_capacity(64);
        while let Some(Text(k)) = map.next_key::<Text<'de>>()? {
            let Text(v) = map.next_value()?;
            keys.push(k);
            values.push(v);
        }
        Ok(MaybeRow::Row(RawRow { keys, values }))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeRow<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeRow::Not("an array"))
    }
    fn visit_str<E>(self, _: &str) -> Result<MaybeRow<'de>, E> {
        Ok(MaybeRow::Not("a string"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<MaybeRow<'de>, E> {
        Ok(MaybeRow::Not("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<MaybeRow<'de>, E> {
        Ok(MaybeRow::Not("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<MaybeRow<'de>, E> {
        Ok(MaybeRow::Not("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<MaybeRow<'de>, E> {
        Ok(MaybeRow::Not("a number"))
    }
    fn visit_unit<E>(self) -> Result<MaybeRow<'de>, E> {
        Ok(MaybeRow::Not("null"))
    }
}

/// A value (or a key) as text, borrowed when it can be.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(
            serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
        )))
    }
    fn visit_unit<E>(self) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed("")))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
        let v = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
        let v = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Text(Cow::Owned(v.to_string())))
    }
}

/// One row against the header of its keys.
struct JsonRow<'a> {
    header: &'a Header,
    values: &'a [Cow<'a, str>],
}

impl Columns for JsonRow<'_> {
    fn index(&self, name: &str) -> Option<usize> {
        self.header.index(name)
    }
    fn len(&self) -> usize {
        self.header.len()
    }
    fn column(&self, i: usize) -> (&str, &str, bool) {
        let (name, first) = self.header.name(i);
        (name, self.values.get(i).map_or("", |v| v.as_ref()), first)
    }
}

/// The headers of the last few key lists seen and the tables they tell: rows of one export
/// have the same keys in the same order (a few lists when tables are mixed, as in a `union`),
/// so each index is built once.
#[derive(Default)]
struct Shapes {
    /// Most recently used last.
    recent: Vec<(Header, Option<Table>)>,
}

/// How many key lists [`Shapes`] keeps.
const SHAPES: usize = 8;

impl Shapes {
    /// Normalizes one decoded row.
    fn event(&mut self, ctx: &Ctx, row: MaybeRow, place: &str) -> Result<Event, ParseIssue> {
        let raw = match row {
            MaybeRow::Row(raw) => raw,
            MaybeRow::Not(what) => {
                return Err(ctx.issue(
                    place,
                    Skip::Malformed,
                    format!("{what}, where a row object should be"),
                ));
            }
        };
        let known = self.recent.iter().rposition(|(h, _)| {
            h.len() == raw.keys.len() && h.names().iter().zip(&raw.keys).all(|(a, b)| a == b)
        });
        let (header, by_columns) = match known {
            Some(i) => self.recent.remove(i),
            None => {
                if self.recent.len() == SHAPES {
                    self.recent.remove(0);
                }
                let h = Header::new(raw.keys.into_iter().map(Cow::into_owned).collect());
                let t = row::table_from_columns(&JsonRow {
                    header: &h,
                    values: &[],
                });
                (h, t)
            }
        };
        let r = JsonRow {
            header: &header,
            values: &raw.values,
        };
        let result = if r.has("Timestamp") {
            let table = row::table_of(&r, by_columns);
            row::normalize(ctx, &r, table, place)
        } else {
            Err(ctx.issue(place, Skip::BadTimestamp, "row has no Timestamp".into()))
        };
        self.recent.push((header, by_columns));
        result
    }
}

/// Parses and normalizes one row's bytes. JSON must be UTF-8; a row that is not (a Latin-1
/// export) is read as Latin-1 and noted rather than lost.
fn decode(ctx: &Ctx, shapes: &mut Shapes, bytes: &[u8], place: &str) -> Result<Event, ParseIssue> {
    match serde_json::from_slice::<MaybeRow>(bytes) {
        Ok(row) => shapes.event(ctx, row, place),
        Err(e) if std::str::from_utf8(bytes).is_err() => {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            let row = serde_json::from_str::<MaybeRow>(&text)
                .map_err(|_| ctx.issue(place, Skip::Malformed, format!("invalid JSON: {e}")))?;
            let mut event = shapes.event(ctx, row, place)?;
            row::note(&mut event, "the row was not UTF-8 and was read as Latin-1");
            Ok(event)
        }
        Err(e) => {
            let kind = if e.is_eof() {
                Skip::Truncated
            } else {
                Skip::Malformed
            };
            Err(ctx.issue(place, kind, format!("invalid JSON: {e}")))
        }
    }
}

/// How the JSON is laid out, from its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Response,
    Array,
    /// One row object per line.
    Lines,
    /// Row objects one after the other over several lines each (`jq '.Results[]'`).
    Stream,
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
            if matches!(key.as_str(), "schema" | "results" | "stats") {
                return Some(Shape::Response);
            }
            let first_line = s.split(|&b| b == b'\n').next().unwrap_or(s);
            match serde_json::from_slice::<IgnoredAny>(first_line) {
                Err(e) if e.is_eof() && first_line.len() < s.len() => Some(Shape::Stream),
                _ => Some(Shape::Lines),
            }
        }
        _ => None,
    }
}

/// Parses a JSON export of any of the three shapes.
pub(super) fn parse(
    ctx: &Ctx,
    input: &mut dyn BufRead,
    records: &mut u64,
    out: Out,
) -> Result<(), Error> {
    let head = input.fill_buf().map_err(|source| Error::Read {
        file: ctx.file.to_string(),
        source,
    })?;
    match shape(head) {
        Some(Shape::Lines) => lines(ctx, input, records, out),
        Some(s) => document(ctx, input, &s, records, out),
        None if head.trim_ascii().is_empty() => Err(ctx.format_error("empty: no rows".into())),
        None => Err(ctx
            .format_error("not JSON: neither an object, an array nor one object per line".into())),
    }
}

/// The response object or the array, cut into rows by the [`Scanner`].
fn document(
    ctx: &Ctx,
    input: &mut dyn BufRead,
    shape: &Shape,
    records: &mut u64,
    out: Out,
) -> Result<(), Error> {
    let mut doc = Document {
        ctx,
        out,
        sc: Scanner::new(input),
        buf: Vec::new(),
        n: 0,
        shapes: Shapes::default(),
    };
    let result = match shape {
        Shape::Response => doc.response(),
        Shape::Stream => doc.stream().map(|()| true),
        _ => doc.rows().map(|()| true),
    }
    .and_then(|saw_results| match doc.sc.peek()? {
        None => Ok(saw_results),
        Some(b) => Err(doc.sc.syntax(format!(
            "'{}' after the end of the document",
            char::from(b).escape_default()
        ))),
    });
    *records += doc.n;
    if matches!(result, Err(Fault::Eof { .. } | Fault::Syntax { .. })) {
        // The row cut short (or the rest that cannot be cut into rows) is one record skipped.
        *records += 1;
    }
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(ctx.format_error(
            "a JSON object without Results: not an advanced-hunting response".into(),
        )),
        Err(Fault::Io(source)) => Err(Error::Read {
            file: ctx.file.to_string(),
            source,
        }),
        Err(Fault::Format(reason)) => Err(ctx.format_error(reason)),
        Err(Fault::Eof { line }) => {
            let why = format!("the JSON ends early after {} rows (truncated?)", doc.n);
            (doc.out)(Err(ctx.issue(
                &format!("line {line}"),
                Skip::Truncated,
                why,
            )));
            Ok(())
        }
        Err(Fault::Syntax { line, what }) => {
            let why = format!(
                "invalid JSON after {} rows: {what}; the rest is not read",
                doc.n
            );
            (doc.out)(Err(ctx.issue(
                &format!("line {line}"),
                Skip::Malformed,
                why,
            )));
            Ok(())
        }
    }
}

/// A document being read.
struct Document<'c, 'o, 'i> {
    ctx: &'c Ctx<'c>,
    out: Out<'o>,
    sc: Scanner<'i>,
    buf: Vec<u8>,
    /// Rows read.
    n: u64,
    shapes: Shapes,
}

impl Document<'_, '_, '_> {
    /// The response object: `Schema` checked, `Results` read row by row, anything else
    /// skipped. Whether there were Results.
    fn response(&mut self) -> Result<bool, Fault> {
        self.sc.expect(b'{', "at the start of the response")?;
        let mut saw_results = false;
        if self.sc.peek()? == Some(b'}') {
            self.sc.bump();
            return Ok(false);
        }
        loop {
            let key = self.key()?;
            self.sc.expect(b':', "after a key")?;
            match key.to_ascii_lowercase().as_str() {
                "results" => {
                    saw_results = true;
                    self.rows()?;
                }
                "schema" => self.schema()?,
                _ => {
                    self.sc.value(&mut self.buf, 0)?;
                }
            }
            match self.sc.peek()? {
                Some(b',') => self.sc.bump(),
                Some(b'}') => {
                    self.sc.bump();
                    return Ok(saw_results);
                }
                Some(b) => {
                    return Err(self.sc.syntax(format!(
                        "expected ',' or '}}' in the response, found '{}'",
                        char::from(b).escape_default()
                    )));
                }
                None => {
                    return Err(Fault::Eof {
                        line: self.sc.line(),
                    });
                }
            }
        }
    }

    /// A key of the response object.
    fn key(&mut self) -> Result<String, Fault> {
        let kept = self.sc.value(&mut self.buf, 4096)?;
        match (kept, serde_json::from_slice::<String>(&self.buf)) {
            (Value::Kept, Ok(k)) => Ok(k),
            _ => Err(self.sc.syntax("expected a key in the response".into())),
        }
    }

    /// `Schema`: a Timestamp column must be in it.
    fn schema(&mut self) -> Result<(), Fault> {
        let kept = self.sc.value(&mut self.buf, MAX_LINE_BYTES)?;
        let cols: Vec<serde_json::Value> = match kept {
            Value::Kept => serde_json::from_slice(&self.buf).map_err(|e| {
                self.sc
                    .syntax(format!("Schema is not a list of columns: {e}"))
            })?,
            Value::TooLong => return Err(self.sc.syntax("Schema over 16 MiB".into())),
        };
        let has = cols.iter().any(|c| {
            ["Name", "name"]
                .iter()
                .any(|k| c.get(k).and_then(|n| n.as_str()) == Some("Timestamp"))
        });
        if has {
            Ok(())
        } else {
            Err(Fault::Format(
                "the response's Schema has no Timestamp column, so this is no advanced-hunting export"
                    .into(),
            ))
        }
    }

    /// Row objects one after the other, each placed by the line it starts on.
    fn stream(&mut self) -> Result<(), Fault> {
        while self.sc.peek()?.is_some() {
            let line = self.sc.line();
            let value = self.sc.value(&mut self.buf, MAX_LINE_BYTES)?;
            self.row(&value, &format!("line {line}"));
        }
        Ok(())
    }

    /// One row as scanned: normalized and handed on.
    fn row(&mut self, value: &Value, place: &str) {
        self.n += 1;
        let r = match value {
            Value::Kept => decode(self.ctx, &mut self.shapes, &self.buf, place),
            Value::TooLong => Err(self.ctx.issue(
                place,
                Skip::TooLong,
                format!("row over {} MiB, skipped", MAX_LINE_BYTES >> 20),
            )),
        };
        (self.out)(r);
    }

    /// An array of rows, each normalized and handed on as it is read.
    fn rows(&mut self) -> Result<(), Fault> {
        self.sc.expect(b'[', "at the start of the rows")?;
        if self.sc.peek()? == Some(b']') {
            self.sc.bump();
            return Ok(());
        }
        loop {
            let value = self.sc.value(&mut self.buf, MAX_LINE_BYTES)?;
            self.row(&value, &format!("row {}", self.n + 1));
            match self.sc.peek()? {
                Some(b',') => self.sc.bump(),
                Some(b']') => {
                    self.sc.bump();
                    return Ok(());
                }
                Some(b) => {
                    return Err(self.sc.syntax(format!(
                        "expected ',' or ']' between rows, found '{}'",
                        char::from(b).escape_default()
                    )));
                }
                None => {
                    return Err(Fault::Eof {
                        line: self.sc.line(),
                    });
                }
            }
        }
    }
}

/// JSON lines: each non-blank line one row; a bad line is an issue and the next is read.
fn lines(ctx: &Ctx, input: &mut dyn BufRead, records: &mut u64, out: Out) -> Result<(), Error> {
    let mut buf = Vec::new();
    let mut n = 0u64;
    let mut shapes = Shapes::default();
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
            *records += 1;
            out(Err(ctx.issue(
                &place,
                Skip::TooLong,
                format!("line over {} MiB, skipped", MAX_LINE_BYTES >> 20),
            )));
            continue;
        }
        let text = buf.trim_ascii();
        let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
        if text.is_empty() {
            continue;
        }
        *records += 1;
        out(decode(ctx, &mut shapes, text, &place));
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
        assert_eq!(
            shape(b"{\"Timestamp\":1}\n{\"Timestamp\":2}"),
            Some(Shape::Lines)
        );
        assert_eq!(shape(b"{\n  \"Timestamp\": 1\n}\n"), Some(Shape::Stream));
        assert_eq!(shape(b"Timestamp,DeviceName"), None);
        assert_eq!(shape(b"{"), None);
    }
}
