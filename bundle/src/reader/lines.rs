//! [`Bundle::member_lines`]: a member read line by line without holding it whole, for readers
//! that turn each line into something else at once (the timeline's rows of a records member
//! of imported events that may be gigabytes).

use super::error::MemberError;
use super::open::Bundle;
use super::source::{HashingReader, Source};
use crate::manifest::MemberEntry;
use std::io::{BufRead, BufReader, Read};

impl Bundle {
    /// Streams member `name` line by line, calling `each(line number, line)` (1-based, the
    /// line without its `\n`; blank lines included) in order. A line longer than `max_line`
    /// bytes stops the read with [`MemberError::LineTooLong`].
    ///
    /// Content kept from verification is given from memory; otherwise the member is inflated
    /// again (or for the first time, when its check was deferred: see
    /// [`Bundle::open_streaming`]) and its size and SHA-256 are checked at the end: when they
    /// differ from the manifest (the file changed since it was verified, or was never
    /// verified) the error comes after the lines were given, so the caller must discard what
    /// it made of them.
    pub fn member_lines(
        &mut self,
        name: &str,
        max_line: usize,
        each: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<(), MemberError> {
        self.member_lines_while(name, max_line, &mut |n, line| {
            each(n, line);
            true
        })
    }

    /// [`Bundle::member_lines`], where `each` returns whether to go on: when it returns
    /// false the read stops there, without an error and without checking the member (one
    /// whose check was deferred stays [`Bundle::deferred`], to be checked by a later read to
    /// its end or by [`Bundle::verify_deferred`]).
    pub fn member_lines_while(
        &mut self,
        name: &str,
        max_line: usize,
        each: &mut dyn FnMut(usize, &[u8]) -> bool,
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
                if !each(i + 1, line) {
                    break;
                }
            }
            return Ok(());
        }
        let read = read_error(name);
        let deferred = self.deferred.iter().any(|d| d == name);
        let mut r = BufReader::with_capacity(1 << 16, self.hashed_member(name, entry.size)?);
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
                if deferred {
                    // Not checked yet: the rest is hashed, so that a member that differs
                    // from the manifest says so rather than that a line is too long.
                    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| read(&e))?;
                    content_check(name, &entry, r.into_inner().finish())?;
                    self.deferred.retain(|d| d != name);
                }
                return Err(too_long(lineno));
            }
            if !each(lineno, &line) {
                return Ok(());
            }
            if !ended {
                break;
            }
        }
        content_check(name, &entry, r.into_inner().finish())?;
        self.deferred.retain(|d| d != name);
        Ok(())
    }

    /// Inflates member `name` into `out`, hashing it, and checks it against the manifest;
    /// then it is no longer deferred.
    pub(super) fn check_streamed(
        &mut self,
        name: &str,
        mut out: impl std::io::Write,
    ) -> Result<(), MemberError> {
        let entry = self
            .member(name)
            .ok_or_else(|| MemberError::NotListed {
                name: name.to_string(),
            })?
            .clone();
        let read = read_error(name);
        let mut r = self.hashed_member(name, entry.size)?;
        std::io::copy(&mut r, &mut out).map_err(|e| read(&e))?;
        content_check(name, &entry, r.finish())?;
        self.deferred.retain(|d| d != name);
        Ok(())
    }
}

/// Whether what was read of a member (SHA-256, length) is what the manifest lists.
impl Bundle {
    /// Member `name` of the archive, inflated as it is read, at most one byte more than the
    /// `size` its manifest entry gives (so that a longer member shows), hashed on the way.
    pub(super) fn hashed_member(
        &mut self,
        name: &str,
        size: u64,
    ) -> Result<HashingReader<std::io::Take<zip::read::ZipFile<'_, Source>>>, MemberError> {
        let &i = self.index.get(name).ok_or_else(|| MemberError::Missing {
            name: name.to_string(),
        })?;
        let f = self.zip.by_index(i).map_err(|e| read_error(name)(&e))?;
        Ok(HashingReader::new(f.take(size + 1)))
    }
}

/// What a failed read of member `name` is: [`MemberError::Read`] with the cause's text.
pub(super) fn read_error(name: &str) -> impl Fn(&dyn std::fmt::Display) -> MemberError + '_ {
    move |e| MemberError::Read {
        name: name.to_string(),
        message: e.to_string(),
    }
}

fn content_check(
    name: &str,
    entry: &MemberEntry,
    (sha, total): (String, u64),
) -> Result<(), MemberError> {
    if total != entry.size || sha != entry.sha256 {
        return Err(MemberError::Content {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::reader::kept::Kept;
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

    /// A copy of the fixture whose `records/cron.jsonl` has one flipped byte of compressed
    /// content (and a sidecar that matches the copy).
    fn tampered(dir: &Path) -> PathBuf {
        use dossier_plugin_api::encoding::hex;
        use sha2::{Digest, Sha256};
        let mut data = std::fs::read(fixture_bundle()).unwrap();
        let name = b"records/cron.jsonl";
        let header = data
            .windows(4)
            .enumerate()
            .find(|(i, w)| *w == b"PK\x03\x04" && data[i + 30..].starts_with(name))
            .map(|(i, _)| i)
            .unwrap();
        let le16 = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
        let content = header + 30 + le16(header + 26) + le16(header + 28);
        data[content + 10] ^= 0x55;
        let p = dir.join("b.zip");
        std::fs::write(&p, &data).unwrap();
        let sidecar = format!("{}  b.zip\n", hex(&Sha256::digest(&data)));
        std::fs::write(crate::reader::sidecar_path(&p), sidecar).unwrap();
        p
    }

    /// Opens `path` deferring `records/cron.jsonl` whatever its size.
    fn open_deferring(path: &Path) -> Result<Bundle, crate::reader::OpenError> {
        let limits = Limits::default();
        let mut kept = Kept::new(&limits).streaming(&["records/cron.jsonl"]);
        kept.defer_above = 0;
        Bundle::open_kept(path, &limits, &crate::crypt::Identities::none(), kept).map(|x| x.0)
    }

    #[test]
    fn a_deferred_member_is_checked_as_it_is_streamed() {
        let cron = "records/cron.jsonl".to_string();
        let mut b = open_deferring(&fixture_bundle()).unwrap();
        assert!(b.deferred().contains(&cron));
        assert!(!b.kept.contains_key("records/cron.jsonl"));
        let (mut whole, _) = Bundle::open(&fixture_bundle(), &Limits::default()).unwrap();
        assert_eq!(
            lines_of(&mut b, "records/cron.jsonl", 1 << 20).unwrap(),
            lines_of(&mut whole, "records/cron.jsonl", 1 << 20).unwrap()
        );
        assert!(!b.deferred().contains(&cron));
        b.verify_deferred().unwrap();
        assert!(b.deferred().is_empty());
        // The others checked on a thread of their own.
        let mut b = open_deferring(&fixture_bundle()).unwrap();
        let n = b.deferred().len();
        assert!(n > 1, "{:?}", b.deferred());
        let apart = b.spawn_deferred("records/cron.jsonl").unwrap();
        assert_eq!(b.deferred(), std::slice::from_ref(&cron));
        apart.join().unwrap().unwrap();

        // Tampered: verification passes (the check is deferred), the read fails at its end,
        // even when a line is too long first, and so does verify_deferred.
        let d = tempfile::tempdir().unwrap();
        let p = tampered(d.path());
        assert!(Bundle::open(&p, &Limits::default()).is_err());
        let mut b = open_deferring(&p).unwrap();
        assert!(matches!(
            lines_of(&mut b, "records/cron.jsonl", 1 << 20),
            Err(MemberError::Content { .. } | MemberError::Read { .. })
        ));
        let mut b = open_deferring(&p).unwrap();
        assert!(matches!(
            lines_of(&mut b, "records/cron.jsonl", 1),
            Err(MemberError::Content { .. } | MemberError::Read { .. })
        ));
        let mut b = open_deferring(&p).unwrap();
        assert!(b.verify_deferred().is_err());
        assert!(b.deferred().contains(&cron));
        let mut b = open_deferring(&p).unwrap();
        let apart = b.spawn_deferred("records/proc.jsonl").unwrap();
        assert!(matches!(
            apart.join().unwrap(),
            Err(MemberError::Content { .. } | MemberError::Read { .. })
        ));
    }

    #[test]
    fn a_read_stopped_early_leaves_a_deferred_member_unchecked() {
        let cron = "records/cron.jsonl".to_string();
        let mut b = open_deferring(&fixture_bundle()).unwrap();
        let mut seen = Vec::new();
        b.member_lines_while(&cron, 1 << 20, &mut |n, _| {
            seen.push(n);
            n < 2
        })
        .unwrap();
        assert_eq!(seen, [1, 2]);
        assert!(b.deferred().contains(&cron));
        let all = lines_of(&mut b, &cron, 1 << 20).unwrap();
        assert!(all.len() > 2);
        assert!(!b.deferred().contains(&cron));
        // Tampered: stopping early says nothing; the check comes with a read to the end.
        let d = tempfile::tempdir().unwrap();
        let mut b = open_deferring(&tampered(d.path())).unwrap();
        let _ = b.member_lines_while(&cron, 1 << 20, &mut |_, _| false);
        assert!(b.deferred().contains(&cron));
        assert!(b.verify_deferred().is_err());
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
