//! Imported telemetry: events that happened on a host, as an endpoint sensor or the host's own
//! audit logs recorded them, parsed into one normalized [`Event`] whatever the source.
//!
//! Each source format has its own module with a streaming parser ([`audit`]: Linux
//! `audit.log`; [`journal`]: `journalctl -o json`; [`defender`]: Microsoft Defender for
//! Endpoint advanced-hunting exports, CSV or JSON). [`parse`] takes any of them, gzip-compressed
//! or not, tells the format from the first bytes unless it is given, and hands every event to a
//! sink. A record a parser cannot read becomes a [`ParseIssue`] (file, record, a [`Skip`]
//! class, why): never a silent skip, never the end of the file. [`Counts`] says how many
//! source records were read (lines of an audit log or a journal export, CSV data rows, JSON
//! row objects), how many events came of them and how many were skipped.
//!
//! Bad input, by design: memory is bounded whatever the file holds (every line and record is
//! read with a cap, a longer one is skipped by its length, never buffered whole); bytes that
//! are not UTF-8 are read lossily and kept exactly beside (see [`Event::lossy`], counted); a
//! time that cannot be real (outside [`YEARS`]: year 0 or 9999, a negative epoch) is skipped
//! with [`Skip::AbsurdTimestamp`] rather than kept with a flag, since a timeline or a
//! correlation window would place it nowhere sensible; a file that is not of its format at
//! all (no header, no `Timestamp` column) is an [`Error`].
//!
//! This crate does no I/O beyond the reader it is given and knows nothing of bundles:
//! `dossier import` (in `cli`) stores the source files and the events in an import bundle, and
//! the analyzers' event rules read the events back.

#![forbid(unsafe_code)]

pub mod audit;
pub mod defender;
pub mod event;
pub mod journal;
mod lines;

pub use event::{
    Event, EventRef, Fields, Format, Origin, OriginRef, ParseIssue, Peer, PeerRef, Process,
    ProcessRef, Skip, Source, SourceRef, Text,
};

use std::io::{BufRead, BufReader, Read};

/// How many bytes of a file [`detect`] looks at.
pub const SNIFF_LEN: usize = 64 * 1024;

/// What a parser calls once per record: an event, or why the record could not be read.
pub type Sink<'a> = &'a mut dyn FnMut(Result<Event, ParseIssue>);

/// What the caller knows that the file may not say.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Host name for events whose record names none (an audit log without `node=`).
    pub host: Option<String>,
}

/// Years an event's time may fall in; a time outside is absurd ([`Skip::AbsurdTimestamp`]).
pub const YEARS: std::ops::RangeInclusive<i32> = 1990..=2200;

/// The reason a time in `year` is absurd, or None when it is within [`YEARS`].
pub(crate) fn absurd_year(year: i32) -> Option<String> {
    (!YEARS.contains(&year)).then(|| {
        format!(
            "year {year}, outside {}..={}: absurd, skipped",
            YEARS.start(),
            YEARS.end()
        )
    })
}

/// Counts of one parse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Source records read: non-blank lines of an audit log (the records of a joined event
    /// each count) or of a journal export, CSV data rows, JSON row objects (or lines).
    pub records: u64,
    /// Events normalized.
    pub events: u64,
    /// Records (or joined audit events) skipped, each a [`ParseIssue`].
    pub issues: u64,
    /// Events with text that was not UTF-8, read lossily ([`Event::lossy`]).
    pub lossy: u64,
}

/// Why a file could not be parsed at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{file}: not a format dossier imports (Defender CSV or JSON export, audit.log, journalctl -o json); name it with --format"
    )]
    Unknown { file: String },
    #[error("{file}: reading failed: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {reason}")]
    Format { file: String, reason: String },
}

/// The format of a file from its first bytes (already decompressed), or None.
pub fn detect(head: &[u8]) -> Option<Format> {
    if let Some(f) = defender::sniff(head) {
        return Some(f);
    }
    if journal::sniff(head) {
        return Some(Format::Journal);
    }
    if audit::sniff(head) {
        return Some(Format::Audit);
    }
    None
}

/// Whether `head` starts like a gzip stream.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Parses `input` (named `file` in issues and origins), gunzipping it when it is gzip, as
/// `format` or as [`detect`] finds; every event and issue goes to `out`.
pub fn parse(
    file: &str,
    input: impl Read,
    format: Option<Format>,
    options: &Options,
    out: Sink,
) -> Result<(Format, Counts), Error> {
    let mut counts = Counts::default();
    let format = parse_counting(file, input, format, options, &mut counts, out)?;
    Ok((format, counts))
}

/// [`parse`], counting into `counts` as it goes, so that the counts of a parse that ends in
/// an error (a cut gzip stream) are known too.
pub fn parse_counting(
    file: &str,
    input: impl Read,
    format: Option<Format>,
    options: &Options,
    counts: &mut Counts,
    out: Sink,
) -> Result<Format, Error> {
    let read_err = |source| Error::Read {
        file: file.to_string(),
        source,
    };
    let mut raw = BufReader::with_capacity(SNIFF_LEN, input);
    let gz = is_gzip(raw.fill_buf().map_err(read_err)?);
    let mut reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::with_capacity(
            SNIFF_LEN,
            flate2::bufread::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    let format = match format {
        Some(f) => f,
        None => {
            let head = reader.fill_buf().map_err(read_err)?;
            detect(head).ok_or_else(|| Error::Unknown {
                file: file.to_string(),
            })?
        }
    };
    let mut records = 0;
    let (mut events, mut issues, mut lossy) = (0, 0, 0);
    let mut counted = |r: Result<Event, ParseIssue>| {
        match &r {
            Ok(e) => {
                events += 1;
                lossy += u64::from(e.lossy());
            }
            Err(_) => issues += 1,
        }
        out(r);
    };
    let r = match format {
        Format::Audit => audit::read(file, &mut reader, options, &mut records, &mut counted),
        Format::Journal => journal::read(file, &mut reader, options, &mut records, &mut counted),
        Format::DefenderCsv | Format::DefenderJson => defender::read(
            file,
            &mut reader,
            format,
            options,
            &mut records,
            &mut counted,
        ),
    };
    counts.records += records;
    counts.events += events;
    counts.issues += issues;
    counts.lossy += lossy;
    r.map(|()| format)
}

#[cfg(test)]
mod tests;
