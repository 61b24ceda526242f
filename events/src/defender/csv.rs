//! The CSV form of an advanced-hunting export: a streaming RFC 4180 record reader (quoted
//! fields with doubled quotes, commas and line breaks inside; CRLF or LF), the header, and the
//! rows handed to the normalizer one at a time.
//!
//! Written here rather than taken from the `csv` crate because the import must bound what one
//! record may hold (a quote that is never closed would otherwise swallow the rest of a
//! multi-gigabyte file into one record) and must say where each record starts and ends, which
//! is all this format needs. Memory is one record at a time, at most [`MAX_RECORD_BYTES`].

use super::row::{self, Columns, Ctx, Table};
use crate::{Error, Event, ParseIssue};
use std::collections::HashMap;
use std::io::{self, BufRead};

/// The most one record may hold; a longer one is skipped whole and reported.
pub(super) const MAX_RECORD_BYTES: usize = 16 << 20;

/// One CSV record as read.
#[derive(Debug, Default)]
pub(super) struct Record {
    pub fields: Vec<String>,
    /// Line of the file where the record starts, and where it ends (quoted line breaks).
    pub first_line: u64,
    pub last_line: u64,
    /// Why the record cannot be trusted (truncated, over the limit, stray quote), if so.
    pub problem: Option<String>,
    /// A field was not UTF-8 and was read as Latin-1.
    pub latin1: bool,
}

impl Record {
    /// `line N`, or `lines N-M` for a record with line breaks inside.
    pub fn place(&self) -> String {
        if self.last_line > self.first_line {
            format!("lines {}-{}", self.first_line, self.last_line)
        } else {
            format!("line {}", self.first_line)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: either the closing one or the first of a doubled pair.
    QuoteSeen,
}

/// Reads records from a `BufRead`, one at a time.
pub(super) struct Reader<'a> {
    input: &'a mut dyn BufRead,
    line: u64,
    done: bool,
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a mut dyn BufRead) -> Self {
        Reader {
            input,
            line: 1,
            done: false,
        }
    }

    /// The next record, or None at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        if self.done {
            return Ok(None);
        }
        let mut rec = Record {
            first_line: self.line,
            ..Record::default()
        };
        let mut field = Vec::new();
        let mut size = 0usize;
        let mut st = St::FieldStart;
        let mut any = false;
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                self.done = true;
                if !any {
                    return Ok(None);
                }
                if st == St::Quoted {
                    rec.problem.get_or_insert_with(|| {
                        "the file ends inside a quoted field (truncated?)".into()
                    });
                }
                end_field(&mut rec, &mut field, size);
                rec.last_line = self.line;
                return Ok(Some(rec));
            }
            let mut used = 0;
            let mut ended = false;
            for &b in buf {
                used += 1;
                any = true;
                let push = match (st, b) {
                    (St::FieldStart, b'"') => {
                        st = St::Quoted;
                        false
                    }
                    (St::Quoted, b'"') => {
                        st = St::QuoteSeen;
                        false
                    }
                    (St::QuoteSeen, b'"') => {
                        st = St::Quoted;
                        true
                    }
                    (St::Quoted, b'\n') => {
                        self.line += 1;
                        true
                    }
                    (St::Quoted, _) => true,
                    (_, b',') => {
                        end_field(&mut rec, &mut field, size);
                        st = St::FieldStart;
                        false
                    }
                    (_, b'\n') => {
                        rec.last_line = self.line;
                        self.line += 1;
                        ended = true;
                        false
                    }
                    (_, b'\r') => false,
                    (St::QuoteSeen, _) => {
                        rec.problem.get_or_insert_with(|| {
                            "a quoted field goes on after its closing quote".into()
                        });
                        st = St::Unquoted;
                        true
                    }
                    (St::FieldStart | St::Unquoted, _) => {
                        st = St::Unquoted;
                        true
                    }
                };
                if push {
                    size += 1;
                    if size <= MAX_RECORD_BYTES {
                        field.push(b);
                    } else if size == MAX_RECORD_BYTES + 1 {
                        rec.problem = Some(format!(
                            "record over {} MiB, skipped",
                            MAX_RECORD_BYTES >> 20
                        ));
                    }
                }
                if ended {
                    break;
                }
            }
            self.input.consume(used);
            if ended {
                end_field(&mut rec, &mut field, size);
                return Ok(Some(rec));
            }
        }
    }
}

/// Ends the field being read: UTF-8, or Latin-1 when it is not (nothing lost, and flagged).
fn end_field(rec: &mut Record, field: &mut Vec<u8>, size: usize) {
    if size > MAX_RECORD_BYTES {
        field.clear();
        return;
    }
    let bytes = std::mem::take(field);
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            rec.latin1 = true;
            e.into_bytes().iter().map(|&b| char::from(b)).collect()
        }
    };
    rec.fields.push(text);
}

/// The header: column names (a ` [UTC]`-style suffix dropped) and where each is.
pub(super) struct Header {
    pub names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    pub fn new(fields: &[String]) -> Self {
        let names: Vec<String> = fields.iter().map(|f| column_name(f)).collect();
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
        }
        Header { names, index }
    }
}

/// A header cell as a column name: trimmed, without a BOM or a trailing ` [...]` unit.
pub(super) fn column_name(cell: &str) -> String {
    let c = cell.trim_start_matches('\u{feff}').trim();
    let c = match c.rfind(" [") {
        Some(i) if c.ends_with(']') => c[..i].trim_end(),
        _ => c,
    };
    c.to_string()
}

/// One data row against its header.
struct CsvRow<'a> {
    header: &'a Header,
    values: &'a [String],
}

impl Columns for CsvRow<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let i = *self.header.index.get(name)?;
        self.values
            .get(i)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    fn has(&self, name: &str) -> bool {
        self.header.index.contains_key(name)
    }
    fn each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (i, n) in self.header.names.iter().enumerate() {
            if self.header.index.get(n) == Some(&i) {
                f(n, self.values.get(i).map_or("", String::as_str));
            }
        }
    }
}

/// Parses a CSV export: the first record is the header, each further record one row.
pub(super) fn parse(
    ctx: &Ctx,
    input: &mut dyn BufRead,
    out: &mut dyn FnMut(Result<Event, ParseIssue>),
) -> Result<(), Error> {
    let read_err = |source| Error::Read {
        file: ctx.file.to_string(),
        source,
    };
    let mut reader = Reader::new(input);
    let head = loop {
        match reader.next_record().map_err(read_err)? {
            None => {
                return Err(ctx.format_error("empty: no header row".into()));
            }
            Some(r) if r.fields.iter().all(|f| f.trim().is_empty()) => continue,
            Some(r) => break r,
        }
    };
    if let Some(p) = &head.problem {
        return Err(ctx.format_error(format!("header ({}): {p}", head.place())));
    }
    let header = Header::new(&head.fields);
    if !header.index.contains_key("Timestamp") {
        let mut cols = header.names.join(", ");
        if cols.len() > 200 {
            let cut = (0..=200)
                .rev()
                .find(|&i| cols.is_char_boundary(i))
                .unwrap_or(0);
            cols.truncate(cut);
            cols.push_str("...");
        }
        return Err(ctx.format_error(format!(
            "the header row has no Timestamp column, so this is no advanced-hunting export (columns: {cols})"
        )));
    }
    let by_columns = row::table_from_columns(&CsvRow {
        header: &header,
        values: &[],
    });
    while let Some(rec) = reader.next_record().map_err(read_err)? {
        if rec.fields.len() == 1 && rec.fields[0].is_empty() && rec.problem.is_none() {
            continue;
        }
        out(csv_row(ctx, &header, by_columns, &rec));
    }
    Ok(())
}

fn csv_row(
    ctx: &Ctx,
    header: &Header,
    by_columns: Option<Table>,
    rec: &Record,
) -> Result<Event, ParseIssue> {
    let place = rec.place();
    if let Some(p) = &rec.problem {
        return Err(ctx.issue(&place, p.clone()));
    }
    if rec.fields.len() != header.names.len() {
        return Err(ctx.issue(
            &place,
            format!(
                "{} fields where the header has {} columns",
                rec.fields.len(),
                header.names.len()
            ),
        ));
    }
    let r = CsvRow {
        header,
        values: &rec.fields,
    };
    let table = row::table_of(&r, by_columns);
    let mut event = row::normalize(ctx, &r, table, &place)?;
    if rec.latin1 {
        event.fields.insert(
            row::NOTE.into(),
            "some fields were not UTF-8 and were read as Latin-1".into(),
        );
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8]) -> Vec<Record> {
        let mut input = text;
        let mut r = Reader::new(&mut input);
        let mut v = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            v.push(rec);
        }
        v
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let v = records(b"a,b,c\r\n1,\"x, \"\"y\"\"\nz\r\nw\",3\n\"\",,\"end\"");
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].fields, ["a", "b", "c"]);
        assert_eq!(v[1].fields, ["1", "x, \"y\"\nz\r\nw", "3"]);
        assert_eq!((v[1].first_line, v[1].last_line), (2, 4));
        assert_eq!(v[1].place(), "lines 2-4");
        assert_eq!(v[2].fields, ["", "", "end"]);
        assert_eq!(v[2].place(), "line 5");
        assert!(v.iter().all(|r| r.problem.is_none()));
    }

    #[test]
    fn an_unclosed_quote_is_a_truncated_record() {
        let v = records(b"a,b\n1,\"never closed\nmore");
        assert_eq!(v.len(), 2);
        assert!(v[1].problem.as_deref().unwrap().contains("truncated"));
    }

    #[test]
    fn a_stray_character_after_a_closing_quote_is_flagged() {
        let v = records(b"\"a\"b,c\n");
        assert!(v[0].problem.as_deref().unwrap().contains("closing quote"));
    }

    #[test]
    fn latin1_fields_are_kept_and_flagged() {
        let v = records(b"caf\xe9,ok\n");
        assert_eq!(v[0].fields, ["caf\u{e9}", "ok"]);
        assert!(v[0].latin1);
    }

    #[test]
    fn an_oversized_record_is_skipped_whole_and_the_next_one_read() {
        let mut text = b"\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        text.extend_from_slice(b"\n,still the same field\"\nnext,row\n");
        let v = records(&text);
        assert_eq!(v.len(), 2);
        assert!(v[0].problem.as_deref().unwrap().contains("MiB"));
        assert!(v[0].fields.iter().all(String::is_empty));
        assert_eq!(v[1].fields, ["next", "row"]);
    }

    #[test]
    fn header_names_lose_units_and_bom() {
        assert_eq!(column_name("\u{feff}Timestamp [UTC]"), "Timestamp");
        assert_eq!(column_name(" DeviceName "), "DeviceName");
        assert_eq!(column_name("odd [x"), "odd [x");
    }
}
