//! [`Bundle::member_lines`]: a member read line by line without holding it whole, for readers
//! that turn each line into something else at once (the timeline's rows of a records member
//! of imported events that may be gigabytes).

use super::error::MemberError;
use super::open::Bundle;
use super::source::HashingReader;
use std::io::{BufRead, BufReader, Read};

impl Bundle {
    /// Streams member `name` line by line, calling `each(line number, line)` (1-based, the
    /// line without its `\n`; blank lines included) in order. A line longer than `max_line`
    /// bytes stops the read with [`MemberError::LineTooLong`].
    ///
    /// Content kept from verification is given from memory; otherwise the member is inflated
    /// again and its size and SHA-256 are re-checked at the end: when they differ from the
    /// manifest (the file changed since it was verified) the error comes after the lines were
    /// given, so the caller must discard what it made of them.
    pub fn member_lines(
        &mut self,
        name: &str,
        max_line: usize,
        each: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<(), MemberError> {
        let entry = self
            .member(name)
            .ok_or_else(|| MemberError::NotListed {
                name: name.to_string(),
            })?
            .clone();
        let too_long = |line| MemberError::LineTooLong {
            name: name.to_string(),
            line,
            max: max_line,
        };
        if let Some(data) = self.kept.get(name) {
            let body = data.strip_suffix(b"\n").unwrap_or(data);
            if body.is_empty() {
                return Ok(());
            }
            for (i, line) in body.split(|b| *b == b'\n').enumerate() {
                if line.len() > max_line {
                    return Err(too_long(i + 1));
                }
                each(i + 1, line);
            }
            return Ok(());
        }
        let read = |e: &dyn std::fmt::Display| MemberError::Read {
            name: name.to_string(),
            message: e.to_string(),
        };
        let &i = self.index.get(name).ok_or_else(|| MemberError::Missing {
            name: name.to_string(),
        })?;
        let f = self.zip.by_index(i).map_err(|e| read(&e))?;
        let mut r = BufReader::with_capacity(1 << 16, HashingReader::new(f.take(entry.size + 1)));
        let mut line = Vec::new();
        let mut lineno = 0usize;
        loop {
            line.clear();
            // At most one byte more than a line may have, then the check.
            let cap = (max_line as u64).saturating_add(2);
            let n = (&mut r)
                .take(cap)
                .read_until(b'\n', &mut line)
                .map_err(|e| read(&e))?;
            if n == 0 {
                break;
            }
            lineno += 1;
            let ended = line.last() == Some(&b'\n');
            if ended {
                line.pop();
            }
            if line.len() > max_line {
                return Err(too_long(lineno));
            }
            each(lineno, &line);
            if !ended {
                break;
            }
        }
        let (sha, total) = r.into_inner().finish();
        if total != entry.size || sha != entry.sha256 {
            return Err(MemberError::Content {
                name: name.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::reader::{Bundle, Limits, MemberError};
    use std::path::{Path, PathBuf};

    fn fixture_bundle() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/bundles/esxi-web01-snapshot.zip")
    }

    fn lines_of(b: &mut Bundle, name: &str, max: usize) -> Result<Vec<String>, MemberError> {
        let mut out = Vec::new();
        b.member_lines(name, max, &mut |n, l| {
            out.push(format!("{n}:{}", String::from_utf8_lossy(l)));
        })?;
        Ok(out)
    }

    #[test]
    fn lines_kept_and_streamed_are_the_member_split_at_newlines() {
        let (mut kept, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        let (mut streamed, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        streamed.kept.clear();
        for name in [
            "records/cron.jsonl",
            "raw/etc/crontab",
            "records/proc.jsonl",
        ] {
            let whole = kept.read_member(name, u64::MAX).unwrap();
            let text = String::from_utf8_lossy(&whole);
            let want: Vec<String> = text
                .strip_suffix('\n')
                .unwrap_or(&text)
                .split('\n')
                .enumerate()
                .filter(|_| !whole.is_empty())
                .map(|(i, l)| format!("{}:{l}", i + 1))
                .collect();
            assert_eq!(lines_of(&mut kept, name, 1 << 20).unwrap(), want, "{name}");
            assert_eq!(
                lines_of(&mut streamed, name, 1 << 20).unwrap(),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn a_line_over_the_limit_is_an_error_naming_it() {
        let (mut b, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        b.kept.clear();
        let e = lines_of(&mut b, "records/cron.jsonl", 20).unwrap_err();
        assert!(
            matches!(
                e,
                MemberError::LineTooLong {
                    line: 1,
                    max: 20,
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(
            lines_of(&mut b, "records/none.jsonl", 20),
            Err(MemberError::NotListed { .. })
        ));
    }
}
