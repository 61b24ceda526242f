//! [`Bundle::records`]: the records of one collector, one JSON value per line, loaded within
//! the bundle's record budget.

use super::error::MemberError;
use super::open::Bundle;
use std::io::{BufRead, BufReader};

/// Records with their 1-based line numbers in the records member.
pub type NumberedRecords = Vec<(usize, serde_json::Value)>;

/// Longest line of a records member loaded for analysis (one record).
const MAX_RECORD_LINE: usize = 16 << 20;

/// Records parsed so far, lines that are not JSON, and the JSON values counted.
#[derive(Default)]
struct Parsed {
    out: NumberedRecords,
    bad: Vec<String>,
    values: u64,
}

impl Parsed {
    /// Parses one complete line (`lineno`, 1-based) unless it is blank.
    fn line(&mut self, name: &str, lineno: usize, line: &[u8]) {
        if !line.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice(line) {
                Ok(v) => self.out.push((lineno, v)),
                Err(e) => self.bad.push(format!("{name} line {lineno}: {e}")),
            }
        }
    }

    /// Counts the values of `chunk` (part of line `lineno`), failing past `values_left`.
    fn count(
        &mut self,
        name: &str,
        lineno: usize,
        chunk: &[u8],
        values_left: u64,
    ) -> Result<(), MemberError> {
        self.values += json_values_bound(chunk);
        if self.values > values_left {
            return Err(MemberError::RecordValues {
                name: name.to_string(),
                left: values_left,
                line: lineno,
            });
        }
        Ok(())
    }
}

fn line_too_long(name: &str, line: usize) -> MemberError {
    MemberError::LineTooLong {
        name: name.to_string(),
        line,
        max: MAX_RECORD_LINE,
    }
}

impl Bundle {
    /// Records of one collector (`records/<name>.jsonl`), one JSON value per line. Lines that
    /// are not JSON are returned as errors with their line numbers.
    ///
    /// The member is streamed line by line and its SHA-256 re-checked at the end; what is
    /// loaded counts against the bundle's record budget
    /// ([`Limits::max_record_bytes`](super::Limits::max_record_bytes),
    /// [`Limits::max_record_values`](super::Limits::max_record_values)): a member that would
    /// exceed it is not loaded at all, and the error names it and the limit.
    pub fn records(
        &mut self,
        collector: &str,
        cap: u64,
    ) -> Result<(NumberedRecords, Vec<String>), MemberError> {
        let name = format!("records/{collector}.jsonl");
        let Some(entry) = self.member(&name).cloned() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let (bytes_left, values_left) = self.record_budget;
        let cap = cap.min(bytes_left);
        if entry.size > cap {
            return Err(MemberError::RecordBytes {
                name,
                size: entry.size,
                cap,
            });
        }
        // Kept from verification: already checked against the manifest, parsed in place.
        let (p, total) = match self.kept.remove(&name) {
            Some(data) => (parse_kept(&name, &data, values_left)?, data.len() as u64),
            None => self.parse_streamed(&name, &entry, values_left)?,
        };
        self.record_budget = (bytes_left - total, values_left - p.values);
        Ok((p.out, p.bad))
    }

    /// Streams a records member from the archive and re-checks its size and hash at the end.
    fn parse_streamed(
        &mut self,
        name: &str,
        entry: &crate::manifest::MemberEntry,
        values_left: u64,
    ) -> Result<(Parsed, u64), MemberError> {
        let read = super::lines::read_error(name);
        let mut r = BufReader::with_capacity(1 << 16, self.hashed_member(name, entry.size)?);
        let mut p = Parsed::default();
        let mut line = Vec::new();
        let mut lineno = 0usize;
        loop {
            // One line, counted as it is read: neither a huge line nor a line of a million
            // tiny values is ever held whole.
            let buf = r.fill_buf().map_err(|e| read(&e))?;
            let eof = buf.is_empty();
            let (chunk, end) = match buf.iter().position(|b| *b == b'\n') {
                Some(p) => (&buf[..=p], true),
                None => (buf, eof),
            };
            p.count(name, lineno + 1, chunk, values_left)?;
            if line.len() + chunk.len() > MAX_RECORD_LINE {
                return Err(line_too_long(name, lineno + 1));
            }
            line.extend_from_slice(chunk);
            let used = chunk.len();
            r.consume(used);
            if !end {
                continue;
            }
            if eof && line.is_empty() {
                break;
            }
            lineno += 1;
            p.line(name, lineno, &line);
            line.clear();
            if eof {
                break;
            }
        }
        let (sha, total) = r.into_inner().finish();
        if total != entry.size || sha != entry.sha256 {
            return Err(MemberError::Content {
                name: name.to_string(),
            });
        }
        Ok((p, total))
    }
}

/// Parses a records member kept from verification (already checked against the manifest).
fn parse_kept(name: &str, data: &[u8], values_left: u64) -> Result<Parsed, MemberError> {
    let mut p = Parsed::default();
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        let lineno = i + 1;
        p.count(name, lineno, line, values_left)?;
        if line.len() + 1 > MAX_RECORD_LINE {
            return Err(line_too_long(name, lineno));
        }
        p.line(name, lineno, line);
    }
    Ok(p)
}

/// An upper bound of the number of JSON values in one line of JSON text: one, plus one per
/// `,` `:` `[` `{` (outside strings too: an over-count is harmless).
fn json_values_bound(line: &[u8]) -> u64 {
    1 + line
        .iter()
        .filter(|b| matches!(b, b',' | b':' | b'[' | b'{'))
        .count() as u64
}
