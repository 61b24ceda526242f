//! Bounded line reading for the line-oriented formats (audit, journal): one line at a time,
//! as bytes (a line need not be UTF-8), with a cap on what is kept of a line, so that memory
//! stays flat whatever the file holds: a line over the cap is reported by its length and
//! skipped, never buffered whole. And [`hex`], the form in which a value that is not UTF-8
//! is kept exactly.

use std::io::{self, BufRead};

/// One line as read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// The line's bytes, without the `\n` (nor a `\r` before it).
    Text(&'a [u8]),
    /// A line longer than the cap: its length in bytes; its bytes are gone.
    TooLong(u64),
}

/// Lines of a reader, numbered from 1.
pub(crate) struct Lines<'r> {
    input: &'r mut dyn BufRead,
    buf: Vec<u8>,
    number: u64,
    max: usize,
}

impl<'r> Lines<'r> {
    /// Lines of `input`, keeping at most `max` bytes of a line.
    pub(crate) fn new(input: &'r mut dyn BufRead, max: usize) -> Self {
        Lines {
            input,
            buf: Vec::new(),
            number: 0,
            max,
        }
    }

    /// The next line and its number, or None at the end.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let mut len: u64 = 0;
        let mut any = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = self.max.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            len += take as u64;
            self.input.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if len > self.max as u64 {
            return Ok(Some((self.number, Line::TooLong(len))));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.number, Line::Text(&self.buf))))
    }
}

/// Bytes to lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[usize::from(b >> 4)] as char);
        s.push(D[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8], max: usize) -> Vec<(u64, Result<Vec<u8>, u64>)> {
        let mut r = data;
        let mut lines = Lines::new(&mut r, max);
        let mut out = Vec::new();
        while let Some((n, l)) = lines.next_line().unwrap() {
            out.push((
                n,
                match l {
                    Line::Text(t) => Ok(t.to_vec()),
                    Line::TooLong(n) => Err(n),
                },
            ));
        }
        out
    }

    #[test]
    fn lines_are_numbered_and_the_last_needs_no_newline() {
        let got = all(b"a\r\n\nbc\nlast", 10);
        assert_eq!(
            got,
            vec![
                (1, Ok(b"a".to_vec())),
                (2, Ok(Vec::new())),
                (3, Ok(b"bc".to_vec())),
                (4, Ok(b"last".to_vec())),
            ]
        );
        assert!(all(b"", 10).is_empty());
    }

    #[test]
    fn a_line_over_the_cap_is_reported_by_length_and_the_next_is_read() {
        let mut data = vec![b'x'; 100];
        data.extend_from_slice(b"\nok\n");
        // A reader with a tiny buffer so that the long line spans many fills.
        let mut r = std::io::BufReader::with_capacity(7, &data[..]);
        let mut lines = Lines::new(&mut r, 10);
        assert_eq!(lines.next_line().unwrap(), Some((1, Line::TooLong(100))));
        assert_eq!(lines.next_line().unwrap(), Some((2, Line::Text(b"ok"))));
        assert_eq!(lines.next_line().unwrap(), None);
    }
}
