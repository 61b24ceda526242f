//! Cuts a JSON document (an API response or an array of rows) into its values without
//! parsing them: strings, escapes and nesting are tracked byte by byte, so that each row can
//! be handed whole to `serde_json::from_slice`. One value is held at a time, at most a given
//! number of bytes (a longer one is skipped, still scanned to its end); a row that is not valid
//! JSON inside is one issue and the next row is read, as long as its brackets and quotes
//! balance.

use std::io::{self, BufRead};

/// Why scanning stopped.
#[derive(Debug)]
pub(super) enum Fault {
    Io(io::Error),
    /// The input ended inside the document.
    Eof {
        line: u64,
    },
    /// A byte that cannot stand there.
    Syntax {
        line: u64,
        what: String,
    },
    /// The document is well formed but no advanced-hunting export (the whole file fails).
    Format(String),
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Self {
        Fault::Io(e)
    }
}

/// A value as read.
pub(super) enum Value {
    /// Its bytes, whole.
    Kept,
    /// Longer than the limit: scanned to its end, not kept.
    TooLong,
}

/// Reads a JSON document from a `BufRead`, counting lines.
pub(super) struct Scanner<'a> {
    input: &'a mut dyn BufRead,
    line: u64,
}

impl<'a> Scanner<'a> {
    pub fn new(input: &'a mut dyn BufRead) -> Self {
        Scanner { input, line: 1 }
    }

    /// The line the scanner is at.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next byte that is not white space, not consumed; None at the end of the input.
    pub fn peek(&mut self) -> Result<Option<u8>, Fault> {
        loop {
            let chunk = self.input.fill_buf()?;
            let Some(&first) = chunk.first() else {
                return Ok(None);
            };
            if !first.is_ascii_whitespace() {
                return Ok(Some(first));
            }
            let n = chunk
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(chunk.len());
            self.line += chunk[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            self.input.consume(n);
        }
    }

    /// Consumes the next non-white byte, which must be `want`.
    pub fn expect(&mut self, want: u8, context: &str) -> Result<(), Fault> {
        match self.peek()? {
            Some(b) if b == want => {
                self.input.consume(1);
                Ok(())
            }
            Some(b) => Err(self.syntax(format!(
                "expected '{}' {context}, found '{}'",
                char::from(want),
                char::from(b).escape_default()
            ))),
            None => Err(Fault::Eof { line: self.line }),
        }
    }

    /// Consumes one byte (after a `peek`).
    pub fn bump(&mut self) {
        self.input.consume(1);
    }

    pub fn syntax(&self, what: String) -> Fault {
        Fault::Syntax {
            line: self.line,
            what,
        }
    }

    /// Reads the next value into `buf` (cleared first) if it is at most `limit` bytes.
    pub fn value(&mut self, buf: &mut Vec<u8>, limit: usize) -> Result<Value, Fault> {
        buf.clear();
        match self.peek()? {
            None => return Err(Fault::Eof { line: self.line }),
            Some(b @ (b',' | b']' | b'}' | b':')) => {
                return Err(self.syntax(format!("expected a value, found '{}'", char::from(b))));
            }
            Some(_) => {}
        }
        let mut st = State::default();
        let mut over = false;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                // A bare scalar may end the input; anything open may not.
                if st.depth == 0 && !st.in_str && !buf.is_empty() {
                    return Ok(if over { Value::TooLong } else { Value::Kept });
                }
                return Err(Fault::Eof { line: self.line });
            }
            let (n, done) = st.scan(chunk, &mut self.line);
            if !over && buf.len() + n <= limit {
                buf.extend_from_slice(&chunk[..n]);
            } else if !over {
                over = true;
                buf.clear();
                buf.push(b'-'); // not empty: the value has started
            }
            self.input.consume(n);
            if done {
                return Ok(if over { Value::TooLong } else { Value::Kept });
            }
        }
    }
}

/// Where the scan is inside a value.
#[derive(Default)]
struct State {
    depth: u32,
    in_str: bool,
    escaped: bool,
    /// A bare scalar (number, `true`...) has started.
    scalar: bool,
}

impl State {
    /// Scans `chunk`: (bytes that belong to the value, whether the value ended). Inside a
    /// string only quotes and backslashes are looked at (a raw line break there is invalid
    /// JSON and is not counted as a line).
    fn scan(&mut self, chunk: &[u8], line: &mut u64) -> (usize, bool) {
        let mut i = 0;
        while i < chunk.len() {
            if self.in_str {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                let Some(p) = chunk[i..].iter().position(|&c| c == b'"' || c == b'\\') else {
                    return (chunk.len(), false);
                };
                i += p;
                if chunk[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_str = false;
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                i += 1;
                continue;
            }
            let c = chunk[i];
            match c {
                b'"' => self.in_str = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                b'}' | b']' | b',' | b':' if self.depth == 0 => return (i, true),
                // Not consumed: the next peek counts the line break.
                c if c.is_ascii_whitespace() && self.depth == 0 && self.scalar => return (i, true),
                b'\n' => *line += 1,
                _ if self.depth == 0 => self.scalar = true,
                _ => {}
            }
            i += 1;
        }
        (chunk.len(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &[u8], limit: usize) -> Vec<Result<String, String>> {
        let mut input = text;
        let mut sc = Scanner::new(&mut input);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            match sc.peek().unwrap() {
                None => return out,
                Some(b',') => sc.bump(),
                Some(_) => match sc.value(&mut buf, limit) {
                    Ok(Value::Kept) => out.push(Ok(String::from_utf8(buf.clone()).unwrap())),
                    Ok(Value::TooLong) => out.push(Err("too long".into())),
                    Err(e) => {
                        out.push(Err(format!("{e:?}")));
                        return out;
                    }
                },
            }
        }
    }

    #[test]
    fn values_end_where_json_says() {
        let v = values(
            b"{\"a\":\"}\\\"{\",\"b\":[1,{\"c\":2}]} ,\n\"s\\\\\" , 12 ,true,[\"]\"]",
            1000,
        );
        let want = [
            "{\"a\":\"}\\\"{\",\"b\":[1,{\"c\":2}]}",
            "\"s\\\\\"",
            "12",
            "true",
            "[\"]\"]",
        ];
        let got: Vec<String> = v.into_iter().map(Result::unwrap).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn long_values_are_skipped_to_their_end() {
        let v = values(b"{\"a\":\"0123456789\"},{\"b\":1}", 10);
        assert_eq!(v[0], Err("too long".into()));
        assert_eq!(v[1], Ok("{\"b\":1}".into()));
    }

    #[test]
    fn an_open_value_at_the_end_is_eof_with_its_line() {
        let v = values(b"{\"a\":\n\"b", 100);
        assert_eq!(v, [Err("Eof { line: 2 }".into())]);
        let v = values(b",]", 100);
        assert!(v[0].as_ref().unwrap_err().contains("expected a value"));
    }

    #[test]
    fn lines_are_counted_once() {
        let mut input: &[u8] = b"\n 1\n,\n[\"x\",\n\"y\"]\n";
        let mut sc = Scanner::new(&mut input);
        let mut buf = Vec::new();
        sc.value(&mut buf, 100).unwrap();
        assert_eq!(sc.line(), 2);
        sc.expect(b',', "between values").unwrap();
        assert_eq!(sc.line(), 3);
        sc.value(&mut buf, 100).unwrap();
        assert_eq!(sc.line(), 5);
        assert_eq!(sc.peek().unwrap(), None);
        assert_eq!(sc.line(), 6);
    }
}
