//! Advanced-hunting timestamps to RFC 3339 UTC.
//!
//! The API gives ISO 8601 in UTC with up to seven fractional digits
//! (`2020-02-05T01:10:26.2648757Z`); exports that went through a spreadsheet or a portal view
//! may carry an offset, no zone at all (`2025-11-07 06:40:09.381`), or the US display form
//! (`11/7/2025, 6:40:09.381 AM`). Every form becomes `YYYY-MM-DDTHH:MM:SS[.f]Z` with the
//! fractional digits exactly as given (none added, none dropped). A time without a zone is
//! taken as UTC (advanced hunting stores UTC) and said so, so that the caller keeps the text
//! as given.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::{Skip, YEARS};

/// A parsed timestamp.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Parsed {
    /// RFC 3339, UTC, `Z`, the source's fractional digits.
    pub rfc3339: String,
    /// The text named no zone (or offset): UTC was assumed.
    pub zone_assumed: bool,
}

/// Parses one timestamp; the error is its class ([`Skip::BadTimestamp`], or
/// [`Skip::AbsurdTimestamp`] outside [`YEARS`]) and a one-line reason.
pub(super) fn parse(text: &str) -> Result<Parsed, (Skip, String)> {
    let t = text.trim();
    let parsed = if t.as_bytes().get(4) == Some(&b'-') {
        iso(t)
    } else if t.contains(['/', '.']) {
        display(t)
    } else {
        None
    };
    let (dt, frac, offset_min, zone_assumed) = parsed.ok_or_else(|| {
        (
            Skip::BadTimestamp,
            format!("timestamp {t:?} is not a date and time this parser knows"),
        )
    })?;
    let utc = dt - Duration::minutes(i64::from(offset_min));
    let year = chrono::Datelike::year(&utc);
    if !YEARS.contains(&year) {
        return Err((
            Skip::AbsurdTimestamp,
            format!(
                "timestamp {t:?} is out of range (year {year}, outside {}..={}): absurd, skipped",
                YEARS.start(),
                YEARS.end()
            ),
        ));
    }
    if !zone_assumed && offset_min == 0 && canonical(t) {
        return Ok(Parsed {
            rfc3339: t.to_string(),
            zone_assumed,
        });
    }
    let mut rfc3339 = utc.format("%Y-%m-%dT%H:%M:%S").to_string();
    if !frac.is_empty() {
        rfc3339.push('.');
        rfc3339.push_str(frac);
    }
    rfc3339.push('Z');
    Ok(Parsed {
        rfc3339,
        zone_assumed,
    })
}

/// Whether a valid UTC time is already written as this parser writes it
/// (`YYYY-MM-DDTHH:MM:SS[.f]Z`): then it is kept as it is.
fn canonical(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 20
        && b[10] == b'T'
        && b.last() == Some(&b'Z')
        && match b[19] {
            b'Z' => b.len() == 20,
            b'.' => b.len() > 21 && b[20..b.len() - 1].iter().all(u8::is_ascii_digit),
            _ => false,
        }
}

/// Splits `digits` off the front of `s`: (number, rest), at most `max` digits, at least one.
fn num(s: &str, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// `HH:MM[:SS[.fffffffff]]` → (time without the fraction, fraction digits, rest).
fn clock(s: &str) -> Option<(u32, u32, u32, &str, &str)> {
    let (h, s) = num(s, 2)?;
    let (m, s) = num(s.strip_prefix(':')?, 2)?;
    let (sec, s) = match s.strip_prefix(':') {
        Some(rest) => num(rest, 2)?,
        None => (0, s),
    };
    let (frac, s) = match s.strip_prefix(['.', ',']) {
        Some(rest) => {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            (&rest[..n], &rest[n..])
        }
        None => ("", s),
    };
    Some((h, m, sec, frac, s))
}

fn datetime(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, frac: &str) -> Option<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
    let nanos = if frac.is_empty() {
        0
    } else {
        let mut padded = frac.to_string();
        while padded.len() < 9 {
            padded.push('0');
        }
        padded.parse().ok()?
    };
    let time = NaiveTime::from_hms_nano_opt(h, mi, s, nanos)?;
    Some(NaiveDateTime::new(date, time))
}

type Pieces<'a> = (NaiveDateTime, &'a str, i32, bool);

/// `YYYY-MM-DD[T ]HH:MM:SS[.f][Z|±HH:MM|±HHMM]`.
fn iso(t: &str) -> Option<Pieces<'_>> {
    let (y, s) = num(t, 4)?;
    let (mo, s) = num(s.strip_prefix('-')?, 2)?;
    let (d, s) = num(s.strip_prefix('-')?, 2)?;
    let s = s.strip_prefix(['T', 't', ' '])?;
    let (h, mi, sec, frac, rest) = clock(s)?;
    let dt = datetime(y, mo, d, h, mi, sec, frac)?;
    let rest = rest.trim_start();
    let (offset, assumed) = match rest {
        "" => (0, true),
        "Z" | "z" | "UTC" | "GMT" => (0, false),
        _ => (offset(rest)?, false),
    };
    Some((dt, frac, offset, assumed))
}

/// `±HH:MM` or `±HHMM` → minutes east of UTC.
fn offset(s: &str) -> Option<i32> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let s = &s[1..];
    let (h, m) = match s.split_once(':') {
        Some((h, m)) => (h, m),
        None if s.len() == 4 && s.is_ascii() => s.split_at(2),
        None => return None,
    };
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m))
}

/// A spreadsheet's display form: `M/D/YYYY[,] h:mm[:ss[.fff]][ AM|PM]` (US order; day first
/// when the first number cannot be a month) or `D.M.YYYY[,] HH:mm[:ss[.fff]]` (day first).
/// Always zone-assumed.
fn display(t: &str) -> Option<Pieces<'_>> {
    let (a, s) = num(t, 2)?;
    let sep = s.chars().next().filter(|c| matches!(c, '/' | '.'))?;
    let (b, s) = num(s.strip_prefix(sep)?, 2)?;
    let (y, s) = num(s.strip_prefix(sep)?, 4)?;
    if y < 1000 {
        return None;
    }
    let (mo, d) = if sep == '.' || a > 12 { (b, a) } else { (a, b) };
    let s = s.strip_prefix(',').unwrap_or(s).trim_start();
    let (mut h, mi, sec, frac, rest) = clock(s)?;
    match rest.trim().to_ascii_uppercase().as_str() {
        "" => {}
        "AM" if (1..=12).contains(&h) => h %= 12,
        "PM" if (1..=12).contains(&h) => h = h % 12 + 12,
        _ => return None,
    }
    Some((datetime(y, mo, d, h, mi, sec, frac)?, frac, 0, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, bool) {
        let p = parse(s).unwrap();
        (p.rfc3339, p.zone_assumed)
    }

    #[test]
    fn api_form_keeps_its_digits() {
        assert_eq!(
            ok("2020-02-05T01:10:26.2648757Z"),
            ("2020-02-05T01:10:26.2648757Z".into(), false)
        );
        assert_eq!(
            ok("2025-11-07T06:40:09.38102Z"),
            ("2025-11-07T06:40:09.38102Z".into(), false)
        );
        assert_eq!(
            ok("2025-11-07T06:40:09Z"),
            ("2025-11-07T06:40:09Z".into(), false)
        );
    }

    #[test]
    fn offsets_become_utc() {
        assert_eq!(
            ok("2025-11-07T08:40:09.381+02:00"),
            ("2025-11-07T06:40:09.381Z".into(), false)
        );
        assert_eq!(
            ok("2025-11-06T23:10:00-0730"),
            ("2025-11-07T06:40:00Z".into(), false)
        );
    }

    #[test]
    fn no_zone_is_utc_assumed() {
        assert_eq!(
            ok("2025-11-07 06:40:09.381"),
            ("2025-11-07T06:40:09.381Z".into(), true)
        );
        assert_eq!(
            ok("11/7/2025, 6:40:09.381 AM"),
            ("2025-11-07T06:40:09.381Z".into(), true)
        );
        assert_eq!(
            ok("11/7/2025 12:05:01 AM"),
            ("2025-11-07T00:05:01Z".into(), true)
        );
        assert_eq!(
            ok("11/7/2025 12:05 PM"),
            ("2025-11-07T12:05:00Z".into(), true)
        );
        assert_eq!(
            ok("21/8/2025 16:18:55"),
            ("2025-08-21T16:18:55Z".into(), true)
        );
    }

    #[test]
    fn bad_and_absurd_times_are_refused() {
        for bad in [
            "",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-11-07T25:00:00Z",
            "2025-11-07T06:40:09.1234567890Z",
            "2025-11-07T06:40:09+5",
            "2025-11-07T06:40:09+1\u{e9}2",
            "2025-11-07T06:40:09+\u{e9}:1",
            "2025-11-07T06:40:09Q",
            "11/7/2025 13:00 PM",
            "11/7/25 1:00 PM",
            "11/7.2025 1:00",
            "1.5",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let (kind, why) = parse("1601-01-01T00:00:00Z").unwrap_err();
        assert!(why.contains("out of range"), "{why}");
        assert_eq!(kind, Skip::AbsurdTimestamp);
        assert_eq!(
            parse("9999-12-31T23:59:59Z").unwrap_err().0,
            Skip::AbsurdTimestamp
        );
        assert_eq!(parse("yesterday").unwrap_err().0, Skip::BadTimestamp);
    }

    #[test]
    fn any_text_is_a_time_or_a_reason_never_a_panic() {
        const PIECES: [&str; 20] = [
            "2025", "-", "11", "07", "T", "06", ":", "40", ".", "381", "Z", "+", "/", ",", " ",
            "AM", "PM", "\u{e9}", "\u{20ac}", "\u{feff}",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut text = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 12) as usize;
            let mut y = x;
            for _ in 0..len {
                text.push_str(PIECES[(y % PIECES.len() as u64) as usize]);
                y /= PIECES.len() as u64;
                if y == 0 {
                    y = x.rotate_left(17);
                }
            }
            if let Ok(p) = parse(&text) {
                assert!(p.rfc3339.ends_with('Z'), "{text:?} -> {}", p.rfc3339);
                assert_eq!(&p.rfc3339[10..11], "T");
            }
        }
    }
}
