//! Imported telemetry: events that happened on a host, as an endpoint sensor or the host's own
//! audit logs recorded them, parsed into one normalized [`Event`] whatever the source.
//!
//! Each source format has its own module with a streaming parser ([`audit`]: Linux
//! `audit.log`; [`journal`]: `journalctl -o json`; [`defender`]: Microsoft Defender for
//! Endpoint advanced-hunting exports, CSV or JSON). [`parse`] takes any of them, gzip-compressed
//! or not, tells the format from the first bytes unless it is given, and hands every event to a
//! sink. A record a parser cannot read becomes a [`ParseIssue`] (file, record, why): never a
//! silent skip, never the end of the file.
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

pub use event::{Event, Format, Origin, ParseIssue, Peer, Process, Source};

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

/// Counts of one parse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub events: u64,
    pub issues: u64,
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
    let mut counts = Counts::default();
    let mut counted = |r: Result<Event, ParseIssue>| {
        match &r {
            Ok(_) => counts.events += 1,
            Err(_) => counts.issues += 1,
        }
        out(r);
    };
    match format {
        Format::Audit => audit::parse(file, &mut reader, options, &mut counted),
        Format::Journal => journal::parse(file, &mut reader, options, &mut counted),
        Format::DefenderCsv | Format::DefenderJson => {
            defender::parse(file, &mut reader, format, options, &mut counted)
        }
    }?;
    Ok((format, counts))
}
