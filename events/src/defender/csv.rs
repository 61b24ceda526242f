//! The CSV form of an advanced-hunting export: a streaming RFC 4180 record reader (quoted
//! fields with doubled quotes, commas and line breaks inside; CRLF or LF), the header, and the
//! rows handed to the normalizer one at a time.
//!
//! Written here rather than taken from the `csv` crate because the import must bound what one
//! record may hold (a quote that is never closed would otherwise swallow the rest of a
//! multi-gigabyte file into one record) and must say where each record starts and ends, which
//! is all this format needs. Memory is one record at a time, at most [`MAX_RECORD_BYTES`].

use super::row::{self, Columns, Ctx, Header, Table};
use crate::{Error, Event, ParseIssue, Skip};
use std::io::{self, BufRead};

/// The most one record may hold; a longer one is skipped whole and reported.
pub(super) const MAX_RECORD_BYTES: usize = 16 << 20;

/// One CSV record as read: the fields' text end to end in one buffer, and where each ends.
#[derive(Debug, Default)]
pub(super) struct Record {
    text: String,
    ends: Vec<usize>,
    /// Line of the file where the record starts, and where it ends (quoted line breaks).
    pub first_line: u64,
    pub last_line: u64,
    /// Why the record cannot be trusted (truncated, over the limit, stray quote), if so.
    pub problem: Option<(Skip, String)>,
    /// A field was not UTF-8 and was read as Latin-1.
    pub latin1: bool,
}

impl Record {
    /// How many fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`.
    pub fn field(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    /// Every field.
    pub fn fields(&self) -> Vec<&str> {
        (0..self.len()).filter_map(|i| self.field(i)).collect()
    }

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

/// A record being read.
struct Building {
    rec: Record,
    bytes: Vec<u8>,
    st: St,
    delim: u8,
    /// Over [`MAX_RECORD_BYTES`]: nothing more is kept.
    over: bool,
}

impl Building {
    fn append(&mut self, run: &[u8]) {
        if self.over {
            return;
        }
        if self.bytes.len() + run.len() > MAX_RECORD_BYTES {
            self.over = true;
            self.rec.problem = Some((
                Skip::TooLong,
                format!("record over {} MiB, skipped", MAX_RECORD_BYTES >> 20),
            ));
            self.bytes = Vec::new();
            return;
        }
        self.bytes.extend_from_slice(run);
    }

    fn end_field(&mut self) {
        self.rec.ends.push(self.bytes.len());
        self.st = St::FieldStart;
    }

    fn stray(&mut self) {
        self.rec.problem.get_or_insert_with(|| {
            (
                Skip::Malformed,
                "a quoted field goes on after its closing quote".into(),
            )
        });
    }

    /// The record, its text UTF-8, or Latin-1 field by field where it is not.
    fn finish(mut self) -> Record {
        if self.over {
            self.rec.ends = vec![0];
            return self.rec;
        }
        self.rec.text = match String::from_utf8(self.bytes) {
            Ok(s) => s,
            Err(e) => {
                let bytes = e.into_bytes();
                let mut text = String::with_capacity(bytes.len() + bytes.len() / 4);
                let mut start = 0;
                for end in &mut self.rec.ends {
                    let field = &bytes[start..*end];
                    match std::str::from_utf8(field) {
                        Ok(s) => text.push_str(s),
                        Err(_) => text.extend(field.iter().map(|&b| char::from(b))),
                    }
                    start = *end;
                    *end = text.len();
                }
                self.rec.latin1 = true;
                text
            }
        };
        self.rec
    }
}

/// Reads records from a `BufRead`, one at a time.
pub(super) struct Reader<'a> {
    input: &'a mut dyn BufRead,
    line: u64,
    done: bool,
    delim: u8,
}

impl<'a> Reader<'a> {
    /// A reader of fields separated by `delim` (`,`; `;` or tab from spreadsheets).
    pub fn new(input: &'a mut dyn BufRead, delim: u8) -> Self {
        Reader {
            input,
            line: 1,
            done: false,
            delim,
        }
    }

    /// The next record, or None at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        if self.done {
            return Ok(None);
        }
        let mut b = Building {
            rec: Record {
                first_line: self.line,
                ..Record::default()
            },
            bytes: Vec::new(),
            st: St::FieldStart,
            delim: self.delim,
            over: false,
        };
        let mut any = false;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                self.done = true;
                if !any {
                    return Ok(None);
                }
                if b.st == St::Quoted {
                    b.rec.problem.get_or_insert_with(|| {
                        (
                            Skip::Truncated,
                            "the file ends inside a quoted field (truncated?)".into(),
                        )
                    });
                }
                b.end_field();
                b.rec.last_line = self.line;
                return Ok(Some(b.finish()));
            }
            any = true;
            let (used, ended) = scan(&mut b, chunk, &mut self.line);
            self.input.consume(used);
            if ended {
                return Ok(Some(b.finish()));
            }
        }
    }
}

/// Reads `chunk` into the record until it ends: (bytes used, whether the record ended). Runs
/// of plain bytes are copied whole; only quotes, commas and line ends are looked at one by one.
fn scan(b: &mut Building, chunk: &[u8], line: &mut u64) -> (usize, bool) {
    let mut i = 0;
    while i < chunk.len() {
        match b.st {
            St::Quoted => {
                let rest = &chunk[i..];
                let n = rest
                    .iter()
                    .position(|&c| c == b'"' || c == b'\n')
                    .unwrap_or(rest.len());
                b.append(&rest[..n]);
                i += n;
                if let Some(&c) = chunk.get(i) {
                    if c == b'"' {
                        b.st = St::QuoteSeen;
                    } else {
                        *line += 1;
                        b.append(b"\n");
                    }
                    i += 1;
                }
            }
            St::QuoteSeen => {
                let c = chunk[i];
                i += 1;
                match c {
                    b'"' => {
                        b.append(b"\"");
                        b.st = St::Quoted;
                    }
                    b'\n' => return (i, end_record(b, line)),
                    b'\r' => {}
                    c if c == b.delim => b.end_field(),
                    _ => {
                        b.stray();
                        b.append(&[c]);
                        b.st = St::Unquoted;
                    }
                }
            }
            St::FieldStart if chunk[i] == b'"' => {
                b.st = St::Quoted;
                i += 1;
            }
            St::FieldStart | St::Unquoted => {
                let rest = &chunk[i..];
                let n = rest
                    .iter()
                    .position(|&c| c == b.delim || c == b'\n' || c == b'\r')
                    .unwrap_or(rest.len());
                if n > 0 {
                    b.append(&rest[..n]);
                    b.st = St::Unquoted;
                }
                i += n;
                if let Some(&c) = chunk.get(i) {
                    i += 1;
                    if c == b'\n' {
                        return (i, end_record(b, line));
                    } else if c == b.delim {
                        b.end_field();
                    }
                }
            }
        }
    }
    (i, false)
}

/// Ends the record at a line break.
fn end_record(b: &mut Building, line: &mut u64) -> bool {
    b.end_field();
    b.rec.last_line = *line;
    *line += 1;
    true
}

/// The separator and the column names of a header line at the start of `head`: the first of
/// `,`, `;` and tab that splits it into a Timestamp column and a device or alert column
/// (a spreadsheet saves CSV with `;` where `,` is the decimal mark, and copies rows with tabs).
pub(super) fn header_columns(head: &[u8]) -> Option<(u8, Vec<String>)> {
    let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..end]);
    [b',', b';', b'\t'].into_iter().find_map(|d| {
        let cols: Vec<String> = line
            .split(char::from(d))
            .map(|c| column_name(c.trim().trim_matches('"')))
            .collect();
        let has = |k: &str| cols.iter().any(|c| c == k);
        (has("Timestamp") && (has("DeviceName") || has("AlertId"))).then_some((d, cols))
    })
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

/// One data row against its header (no record: the header alone, for table detection).
struct CsvRow<'a> {
    header: &'a Header,
    rec: Option<&'a Record>,
}

impl Columns for CsvRow<'_> {
    fn index(&self, name: &str) -> Option<usize> {
        self.header.index(name)
    }
    fn len(&self) -> usize {
        self.header.len()
    }
    fn column(&self, i: usize) -> (&str, &str, bool) {
        let value = self.rec.and_then(|r| r.field(i)).unwrap_or("");
        let (name, first) = self.header.name(i);
        (name, value, first)
    }
}

/// Parses a CSV export: the first record is the header, each further record one row.
pub(super) fn parse(
    ctx: &Ctx,
    input: &mut dyn BufRead,
    records: &mut u64,
    out: &mut dyn FnMut(Result<Event, ParseIssue>),
) -> Result<(), Error> {
    let read_err = |source| Error::Read {
        file: ctx.file.to_string(),
        source,
    };
    let head = input.fill_buf().map_err(read_err)?;
    let delim = header_columns(head).map_or(b',', |(d, _)| d);
    let mut reader = Reader::new(input, delim);
    let head = loop {
        match reader.next_record().map_err(read_err)? {
            None => {
                return Err(ctx.format_error("empty: no header row".into()));
            }
            Some(r) if r.fields().iter().all(|f| f.trim().is_empty()) => continue,
            Some(r) => break r,
        }
    };
    if let Some((_, p)) = &head.problem {
        return Err(ctx.format_error(format!("header ({}): {p}", head.place())));
    }
    let header = Header::new(head.fields().into_iter().map(column_name).collect());
    if header.index("Timestamp").is_none() {
        let mut cols = header.names().join(", ");
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
        rec: None,
    });
    while let Some(rec) = reader.next_record().map_err(read_err)? {
        if rec.len() == 1 && rec.field(0) == Some("") && rec.problem.is_none() {
            continue;
        }
        *records += 1;
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
    if let Some((kind, p)) = &rec.problem {
        return Err(ctx.issue(&place, *kind, p.clone()));
    }
    if rec.len() != header.len() {
        return Err(ctx.issue(
            &place,
            Skip::FieldCount,
            format!(
                "{} fields where the header has {} columns",
                rec.len(),
                header.len()
            ),
        ));
    }
    let r = CsvRow {
        header,
        rec: Some(rec),
    };
    let table = row::table_of(&r, by_columns);
    let mut event = row::normalize(ctx, &r, table, &place)?;
    if rec.latin1 {
        row::note(
            &mut event,
            "some fields were not UTF-8 and were read as Latin-1",
        );
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8]) -> Vec<Record> {
        let mut input = text;
        let mut r = Reader::new(&mut input, b',');
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
        assert_eq!(v[0].fields(), ["a", "b", "c"]);
        assert_eq!(v[1].fields(), ["1", "x, \"y\"\nz\r\nw", "3"]);
        assert_eq!((v[1].first_line, v[1].last_line), (2, 4));
        assert_eq!(v[1].place(), "lines 2-4");
        assert_eq!(v[2].fields(), ["", "", "end"]);
        assert_eq!(v[2].place(), "line 5");
        assert!(v.iter().all(|r| r.problem.is_none()));
    }

    #[test]
    fn an_unclosed_quote_is_a_truncated_record() {
        let v = records(b"a,b\n1,\"never closed\nmore");
        assert_eq!(v.len(), 2);
        assert!(v[1].problem.as_ref().unwrap().1.contains("truncated"));
    }

    #[test]
    fn a_stray_character_after_a_closing_quote_is_flagged() {
        let v = records(b"\"a\"b,c\n");
        assert!(v[0].problem.as_ref().unwrap().1.contains("closing quote"));
    }

    #[test]
    fn latin1_fields_are_kept_and_flagged() {
        let v = records(b"caf\xe9,ok\n");
        assert_eq!(v[0].fields(), ["caf\u{e9}", "ok"]);
        assert!(v[0].latin1);
    }

    #[test]
    fn an_oversized_record_is_skipped_whole_and_the_next_one_read() {
        let mut text = b"\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        text.extend_from_slice(b"\n,still the same field\"\nnext,row\n");
        let v = records(&text);
        assert_eq!(v.len(), 2);
        assert!(v[0].problem.as_ref().unwrap().1.contains("MiB"));
        assert_eq!(v[0].fields(), [""]);
        assert_eq!(v[1].fields(), ["next", "row"]);
    }

    #[test]
    fn utf8_and_latin1_fields_in_one_record() {
        let v = records(b"caf\xc3\xa9,caf\xe9,\"\xff\"\n");
        assert_eq!(v[0].fields(), ["caf\u{e9}", "caf\u{e9}", "\u{ff}"]);
        assert!(v[0].latin1);
    }

    #[test]
    fn chunk_boundaries_change_nothing() {
        let text: &[u8] = include_bytes!("../../tests/data/defender/device_process_events.csv");
        let whole: Vec<Vec<String>> = records(text)
            .iter()
            .map(|r| r.fields().iter().map(|f| f.to_string()).collect())
            .collect();
        for cap in [1, 2, 3, 7, 64] {
            let mut input = std::io::BufReader::with_capacity(cap, text);
            let mut r = Reader::new(&mut input, b',');
            let mut got = Vec::new();
            while let Some(rec) = r.next_record().unwrap() {
                assert!(rec.problem.is_none());
                got.push(
                    rec.fields()
                        .iter()
                        .map(|f| f.to_string())
                        .collect::<Vec<_>>(),
                );
            }
            assert_eq!(got, whole, "buffer of {cap} bytes");
        }
        assert_eq!(whole.len(), 5);
    }

    #[test]
    fn header_names_lose_units_and_bom() {
        assert_eq!(column_name("\u{feff}Timestamp [UTC]"), "Timestamp");
        assert_eq!(column_name(" DeviceName "), "DeviceName");
        assert_eq!(column_name("odd [x"), "odd [x");
    }
}
