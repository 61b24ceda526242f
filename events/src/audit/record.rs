//! One audit record (one line of `audit.log`): its header (`node=`, `type=`,
//! `msg=audit(SECONDS.MILLIS:SERIAL):`) and its `key=value` fields, in three parts: the
//! record's own fields, the fields inside a user-space record's `msg='...'`, and the
//! "enriched" fields auditd appends after a 0x1d byte (`UID="root" SYSCALL=execve`).
//!
//! The line is kept as bytes and the fields as ranges into it; a record is parsed into the
//! buffers of a spent one ([`Record::parse_into`]), so that a long log costs no allocation
//! per record once the first events are read. Values are raw; [`decode`] undoes auditd's
//! encoding of untrusted strings (hex when the value is unquoted).

use crate::Skip;
pub(crate) use crate::lines::hex;
use std::borrow::Cow;
use std::ops::Range;

/// Which part of the line a field is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The record's own fields.
    Outer,
    /// Inside a user-space record's `msg='...'`.
    Inner,
    /// After the 0x1d separator: auditd's translations.
    Enriched,
}

#[derive(Clone, Debug)]
struct Field {
    key: Range<usize>,
    val: Range<usize>,
    quoted: bool,
    part: Part,
}

/// The event a record belongs to: node, time and serial.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct EventId {
    // The serial first: the derived equality compares it before the node's text.
    pub serial: u64,
    pub secs: i64,
    pub millis: u32,
    pub node: Option<String>,
}

/// A parsed record.
#[derive(Clone, Debug, Default)]
pub(crate) struct Record {
    /// Its line number.
    pub line: u64,
    raw: Vec<u8>,
    rtype: Range<usize>,
    pub id: EventId,
    /// The fields of the three parts, in this order: outer, enriched, inner.
    fields: Vec<Field>,
    /// Where the outer and the enriched fields end in `fields`.
    ends: [usize; 2],
}

/// auditd's group separator before the enriched fields.
const GS: u8 = 0x1d;

/// Fields whose value auditd hex-encodes (unquoted) when it holds a space, a quote or a
/// control byte.
fn encoded(key: &[u8]) -> bool {
    matches!(
        key,
        b"acct"
            | b"comm"
            | b"exe"
            | b"name"
            | b"cwd"
            | b"proctitle"
            | b"path"
            | b"cmd"
            | b"key"
            | b"data"
            | b"old"
            | b"new"
            | b"grp"
            | b"new_group"
            | b"id_name"
    ) || is_arg(key)
}

/// `aN` or `aN[M]`: an EXECVE argument or a piece of one (not `aN_len`).
fn is_arg(key: &[u8]) -> bool {
    let Some(rest) = key.strip_prefix(b"a") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    match &rest[digits..] {
        [] => true,
        [b'[', idx @ .., b']'] => !idx.is_empty() && idx.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// The bytes a value stands for: quoted text as is, an unquoted hex string decoded when the
/// field is one auditd encodes (`exe=2F746D702F612062`), anything else as is.
pub(crate) fn decode<'v>(key: &[u8], val: &'v [u8], quoted: bool) -> Cow<'v, [u8]> {
    if !quoted
        && encoded(key)
        && let Some(bytes) = unhex(val)
    {
        return Cow::Owned(bytes);
    }
    Cow::Borrowed(val)
}

/// Hex to bytes, or None when `s` is not an even-length hex string.
pub(crate) fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() % 2 != 0 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Splits `raw[range]` into `key=value` fields of `part`. A word without `=` is skipped.
fn tokenize(
    raw: &[u8],
    range: Range<usize>,
    part: Part,
    out: &mut Vec<Field>,
) -> Result<(), String> {
    let end = range.end;
    // The part as its own slice, so that each scan is one bounded loop.
    let line = &raw[..end];
    let mut i = range.start;
    loop {
        match line[i..].iter().position(|&b| b != b' ') {
            Some(n) => i += n,
            None => return Ok(()),
        }
        let ks = i;
        match line[i..].iter().position(|&b| b == b'=' || b == b' ') {
            Some(n) => i += n,
            None => return Ok(()),
        }
        if line[i] == b' ' {
            continue;
        }
        let key = ks..i;
        i += 1;
        if let Some(&q @ (b'"' | b'\'')) = line.get(i) {
            let vs = i + 1;
            let Some(len) = memchr::memchr(q, &line[vs..]) else {
                return Err(format!(
                    "unterminated quote in {}=",
                    String::from_utf8_lossy(&raw[key])
                ));
            };
            out.push(Field {
                key,
                val: vs..vs + len,
                quoted: true,
                part,
            });
            i = vs + len + 1;
        } else {
            let vs = i;
            i = memchr::memchr(b' ', &line[vs..]).map_or(end, |n| vs + n);
            out.push(Field {
                key,
                val: vs..i,
                quoted: false,
                part,
            });
        }
    }
}

/// `audit(1700000000.123:456):` → (seconds, milliseconds, serial); why not, classed.
fn header_time(v: &[u8]) -> Result<(i64, u32, u64), (Skip, String)> {
    let bad = || format!("bad msg=audit(...) header {:?}", String::from_utf8_lossy(v));
    let inner = v
        .strip_prefix(b"audit(")
        .and_then(|r| r.split(|&b| b == b')').next())
        .ok_or_else(|| (Skip::Malformed, bad()))?;
    let inner = std::str::from_utf8(inner).map_err(|_| (Skip::Malformed, bad()))?;
    let (time, serial) = inner.split_once(':').ok_or_else(|| {
        (
            Skip::MissingSerial,
            format!("no serial in msg=audit({inner}): cannot be joined to its event"),
        )
    })?;
    let bad_time = || (Skip::BadTimestamp, bad());
    let (secs, frac) = time.split_once('.').unwrap_or((time, "0"));
    let secs: i64 = secs.parse().map_err(|_| bad_time())?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_time());
    }
    // Milliseconds: auditd writes three digits; scale whatever is there (the first three
    // digits, padded with zeros; all of them are ASCII digits, checked above).
    let millis = frac
        .bytes()
        .chain(*b"000")
        .take(3)
        .fold(0u32, |m, d| m * 10 + u32::from(d - b'0'));
    let serial: u64 = serial.parse().map_err(|_| {
        (
            Skip::MissingSerial,
            format!("bad serial in msg=audit({inner}): cannot be joined to its event"),
        )
    })?;
    Ok((secs, millis, serial))
}

impl Record {
    /// Parses one line (without its newline), numbered `line`.
    #[cfg(test)]
    pub(crate) fn parse(line: u64, bytes: &[u8]) -> Result<Record, (Skip, String)> {
        let mut r = Record::default();
        r.parse_into(line, bytes)?;
        Ok(r)
    }

    /// Parses one line (without its newline), numbered `line`, into this record, whose
    /// buffers are reused (what it held before is gone, whether the line parses or not).
    pub(crate) fn parse_into(&mut self, line: u64, bytes: &[u8]) -> Result<(), (Skip, String)> {
        let malformed = |e: String| (Skip::Malformed, e);
        self.line = line;
        self.raw.clear();
        self.raw.extend_from_slice(bytes);
        self.fields.clear();
        self.ends = [0, 0];
        let raw = &self.raw;
        let fields = &mut self.fields;
        let gs = memchr::memchr(GS, raw);
        let outer_end = gs.unwrap_or(raw.len());
        tokenize(raw, 0..outer_end, Part::Outer, fields).map_err(malformed)?;
        let outer_fields = fields.len();
        if let Some(g) = gs {
            // The enriched part is auditd's own text; a flaw there loses only translations.
            let _ = tokenize(raw, g + 1..raw.len(), Part::Enriched, fields);
        }
        let enriched_fields = fields.len();
        let mut node = None;
        let mut rtype = None;
        let mut header = None;
        let mut inner = None;
        for f in fields.iter() {
            match &raw[f.key.clone()] {
                b"node" if node.is_none() && rtype.is_none() => node = Some(f.val.clone()),
                b"type" if rtype.is_none() => rtype = Some(f.val.clone()),
                b"msg" if header.is_none() && !f.quoted => header = Some(f.val.clone()),
                b"msg" if f.quoted && f.part == Part::Outer => inner = Some(f.val.clone()),
                _ => {}
            }
        }
        let rtype = rtype.ok_or_else(|| malformed("no type= field: not an audit record".into()))?;
        if rtype.is_empty() {
            return Err(malformed("empty type=".into()));
        }
        let header = header.ok_or_else(|| malformed("no msg=audit(...) header".into()))?;
        let (secs, millis, serial) = header_time(&raw[header])?;
        if let Some(r) = inner {
            tokenize(raw, r, Part::Inner, fields).map_err(malformed)?;
        }
        self.ends = [outer_fields, enriched_fields];
        self.rtype = rtype;
        self.id.secs = secs;
        self.id.millis = millis;
        self.id.serial = serial;
        match node {
            Some(n) => {
                let text = String::from_utf8_lossy(&self.raw[n]);
                match &mut self.id.node {
                    Some(s) => {
                        s.clear();
                        s.push_str(&text);
                    }
                    None => self.id.node = Some(text.into_owned()),
                }
            }
            None => self.id.node = None,
        }
        Ok(())
    }

    /// Bytes the record holds (its line).
    pub(crate) fn size(&self) -> usize {
        self.raw.len()
    }

    /// Bytes the record's buffers take, kept or not.
    pub(crate) fn capacity(&self) -> usize {
        self.raw.capacity() + self.fields.capacity() * std::mem::size_of::<Field>()
    }

    /// The record type (`SYSCALL`, `EXECVE`, `USER_LOGIN`...).
    pub(crate) fn rtype(&self) -> &str {
        std::str::from_utf8(&self.raw[self.rtype.clone()]).unwrap_or("?")
    }

    /// Whether the record type is `t` (a type name, never `?`): [`Record::rtype`] `== t`,
    /// without reading the type as text.
    pub(crate) fn rtype_is(&self, t: &str) -> bool {
        &self.raw[self.rtype.clone()] == t.as_bytes()
    }

    /// The raw value of `key` in `part`, and whether it was quoted.
    pub(crate) fn raw(&self, part: Part, key: &str) -> Option<(&[u8], bool)> {
        let key = key.as_bytes();
        // Keys are short: compared byte by byte in place, not by a call to memcmp.
        self.part(part)
            .iter()
            .find(|f| {
                f.key.len() == key.len()
                    && self.raw[f.key.clone()].iter().zip(key).all(|(a, b)| a == b)
            })
            .map(|f| (&self.raw[f.val.clone()], f.quoted))
    }

    /// The fields of `part`.
    fn part(&self, part: Part) -> &[Field] {
        let [outer, enriched] = self.ends;
        match part {
            Part::Outer => &self.fields[..outer],
            Part::Enriched => &self.fields[outer..enriched],
            Part::Inner => &self.fields[enriched..],
        }
    }

    /// Whether `key` in `part` has a value that is not a placeholder: [`Record::bytes`] is
    /// Some.
    pub(crate) fn has(&self, part: Part, key: &str) -> bool {
        self.raw(part, key)
            .is_some_and(|(v, quoted)| quoted || !placeholder(v))
    }

    /// The decoded value of `key` in `part` as text (lossy), None when absent or a
    /// placeholder (`?`, `(null)`, `(none)`, empty).
    pub(crate) fn text(&self, part: Part, key: &str) -> Option<String> {
        Some(match self.bytes(part, key)? {
            Cow::Borrowed(b) => String::from_utf8_lossy(b).into_owned(),
            Cow::Owned(v) => String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        })
    }

    /// The decoded bytes of `key` in `part`, None when absent or a placeholder.
    pub(crate) fn bytes(&self, part: Part, key: &str) -> Option<Cow<'_, [u8]>> {
        let (v, quoted) = self.raw(part, key)?;
        if !quoted && placeholder(v) {
            return None;
        }
        Some(decode(key.as_bytes(), v, quoted))
    }

    /// A number field of the record's own (or inner) part.
    pub(crate) fn num(&self, part: Part, key: &str) -> Option<u64> {
        let (v, _) = self.raw(part, key)?;
        std::str::from_utf8(v).ok()?.parse().ok()
    }

    /// Every field of `part` in order: key, raw value, quoted.
    pub(crate) fn fields(&self, part: Part) -> impl Iterator<Item = (&[u8], &[u8], bool)> {
        self.part(part)
            .iter()
            .map(|f| (&self.raw[f.key.clone()], &self.raw[f.val.clone()], f.quoted))
    }
}

/// An unquoted value that stands for none: empty, `?`, `(null)`, `(none)`.
fn placeholder(v: &[u8]) -> bool {
    matches!(v, b"" | b"?" | b"(null)" | b"(none)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syscall_record_with_node_and_enriched_fields() {
        let line = b"node=web01 type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 comm=\"curl\" exe=2F746D702F6120622F63 key=(null)\x1dARCH=x86_64 SYSCALL=execve UID=\"root\"";
        let r = Record::parse(7, line).unwrap();
        assert_eq!(r.rtype(), "SYSCALL");
        assert_eq!(
            r.id,
            EventId {
                node: Some("web01".into()),
                secs: 1_700_000_000,
                millis: 123,
                serial: 456
            }
        );
        assert_eq!(r.text(Part::Outer, "comm").as_deref(), Some("curl"));
        assert_eq!(r.text(Part::Outer, "exe").as_deref(), Some("/tmp/a b/c"));
        assert_eq!(r.text(Part::Outer, "key"), None);
        assert_eq!(r.num(Part::Outer, "syscall"), Some(59));
        assert_eq!(r.text(Part::Enriched, "SYSCALL").as_deref(), Some("execve"));
        assert_eq!(r.text(Part::Enriched, "UID").as_deref(), Some("root"));
        assert_eq!(r.text(Part::Outer, "UID"), None);
    }

    #[test]
    fn a_user_record_carries_its_inner_fields() {
        let line = b"type=USER_AUTH msg=audit(1700000100.5:9): pid=812 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=failed'";
        let r = Record::parse(1, line).unwrap();
        assert_eq!(r.id.millis, 500);
        assert_eq!(r.text(Part::Inner, "acct").as_deref(), Some("alice"));
        assert_eq!(r.text(Part::Inner, "res").as_deref(), Some("failed"));
        assert_eq!(r.text(Part::Inner, "grantors"), None);
        assert_eq!(r.num(Part::Outer, "pid"), Some(812));
    }

    #[test]
    fn malformed_records_say_why() {
        let e = |l: &[u8]| Record::parse(1, l).unwrap_err().1;
        assert!(e(b"hello world").contains("no type="));
        assert!(e(b"type=SYSCALL arch=c000003e").contains("no msg=audit"));
        assert!(e(b"type=SYSCALL msg=audit(1700000000.123): x=1").contains("no serial"));
        assert!(e(b"type=SYSCALL msg=audit(17x.1:2): x=1").contains("bad msg=audit"));
        assert!(e(b"type=SYSCALL msg=audit(1700000000.123:5): comm=\"cu").contains("unterminated"));
        let kind = |l: &[u8]| Record::parse(1, l).unwrap_err().0;
        assert_eq!(kind(b"hello world"), Skip::Malformed);
        assert_eq!(
            kind(b"type=SYSCALL msg=audit(1700000000.123): x=1"),
            Skip::MissingSerial
        );
        assert_eq!(
            kind(b"type=SYSCALL msg=audit(1700000000.123:): x=1"),
            Skip::MissingSerial
        );
        assert_eq!(
            kind(b"type=SYSCALL msg=audit(17x.1:2): x=1"),
            Skip::BadTimestamp
        );
    }

    #[test]
    fn a_record_parsed_into_a_spent_one_is_the_record_parsed_afresh() {
        let lines: [&[u8]; 6] = [
            b"node=web01 type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 comm=\"curl\" exe=2F746D702F6120622F63\x1dARCH=x86_64 UID=\"root\"",
            b"type=EXECVE msg=audit(1700000000.1:457): argc=2 a0=\"ls\" a1=2D6C",
            b"hello world",
            b"type=USER_AUTH msg=audit(1700000100.5:9): pid=812 msg='op=PAM:authentication acct=\"alice\" res=failed'",
            b"node=db type=SYSCALL msg=audit(1700000000.123): x=1",
            b"node=\xff\xfeb type=CWD msg=audit(1700000000.000123456:7): cwd=\"/\"",
        ];
        let mut reused = Record::default();
        for _ in 0..2 {
            for l in lines {
                let fresh = Record::parse(3, l);
                let again = reused.parse_into(3, l);
                match (fresh, again) {
                    (Ok(f), Ok(())) => {
                        assert_eq!(f.id, reused.id);
                        assert_eq!(f.rtype(), reused.rtype());
                        assert!(reused.rtype_is(f.rtype()));
                        let all = |r: &Record, p| {
                            r.fields(p)
                                .map(|(k, v, q)| (k.to_vec(), v.to_vec(), q))
                                .collect::<Vec<_>>()
                        };
                        for p in [Part::Outer, Part::Inner, Part::Enriched] {
                            assert_eq!(all(&f, p), all(&reused, p));
                            assert!(reused.part(p).iter().all(|x| x.part == p));
                        }
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    (a, b) => panic!("{a:?} vs {b:?}"),
                }
            }
        }
        let r = Record::parse(1, lines[5]).unwrap();
        assert_eq!(r.id.node.as_deref(), Some("\u{fffd}\u{fffd}b"));
        assert_eq!((r.id.millis, r.id.serial), (0, 7));
        assert_eq!(Record::parse(1, lines[1]).unwrap().id.millis, 100);
        assert!(!r.rtype_is("SYSCALL") && r.rtype_is("CWD"));
    }

    #[test]
    fn has_is_bytes_is_some() {
        let r = Record::parse(
            1,
            b"type=PATH msg=audit(1.000:1): name=(null) a=\"\" b= c=? d=\"?\" e=x nametype=NORMAL",
        )
        .unwrap();
        for k in ["name", "a", "b", "c", "d", "e", "f", "nametype"] {
            assert_eq!(
                r.has(Part::Outer, k),
                r.bytes(Part::Outer, k).is_some(),
                "{k}"
            );
        }
        assert!(r.has(Part::Outer, "d") && !r.has(Part::Outer, "c"));
    }

    #[test]
    fn hex_round_trips_and_rejects_non_hex() {
        assert_eq!(unhex(b"6162FF").unwrap(), vec![b'a', b'b', 0xff]);
        assert_eq!(hex(&[0x61, 0xff]), "61ff");
        assert_eq!(unhex(b"abc"), None);
        assert_eq!(unhex(b"zz"), None);
        assert_eq!(unhex(b""), None);
        // Only the fields auditd encodes are decoded.
        assert_eq!(&*decode(b"a1", b"2D73", false), b"-s");
        assert_eq!(&*decode(b"a1", b"2D73", true), b"2D73");
        assert_eq!(&*decode(b"pid", b"1234", false), b"1234");
        assert_eq!(&*decode(b"a1[0]", b"2D73", false), b"-s");
        assert_eq!(&*decode(b"a1_len", b"2000", false), b"2000");
        assert_eq!(&*decode(b"arch", b"c000003e", false), b"c000003e");
    }
}
