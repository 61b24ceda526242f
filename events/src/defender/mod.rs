//! Microsoft Defender for Endpoint advanced-hunting exports: the tables `DeviceEvents`
//! (including the `ScriptContent` events whose script text is in `AdditionalFields`),
//! `DeviceProcessEvents`, `DeviceNetworkEvents`, `DeviceFileEvents`, `DeviceLogonEvents`,
//! `AlertInfo` and `AlertEvidence`, and the device state tables `DeviceInfo` and
//! `DeviceNetworkInfo` (rows without `ActionType`: the table name stands for it), as CSV with
//! a header row (`csv`; `,`, or `;` and tab as a spreadsheet saves it) or as JSON (`json`:
//! the API response `{"Schema":[..],"Results":[..]}`, a plain array of rows, one row per line,
//! or rows one after the other).
//!
//! Every form is read as a stream, one record at a time and at most 16 MiB each (a longer
//! record is skipped and reported). The table of a row is told by a table-name column, by the
//! row's `ActionType` where it belongs to one table, else by the columns (`row`); every row
//! becomes one [`Event`](crate::Event) with the table as its source, the row's `Timestamp` in
//! RFC 3339 UTC (`time`), and every non-empty column the event has no place for kept in
//! `fields` under its own name. A row that cannot be read (wrong number of fields, bad
//! timestamp, `AdditionalFields` that is not JSON, a broken JSON row) is a
//! [`ParseIssue`](crate::ParseIssue) and the file goes on; a file whose header or schema has no
//! `Timestamp` is an [`Error::Format`].

mod csv;
mod json;
mod row;
mod scan;
mod time;

pub(crate) use row::NOTE;
pub use row::Table;

use crate::{Error, Format, Options, Sink};
use std::io::BufRead;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Whether `head` (the first bytes of a file) is an advanced-hunting export: JSON naming
/// `Timestamp` and a device or alert column, or CSV whose header has them.
pub fn sniff(head: &[u8]) -> Option<Format> {
    let head = head.strip_prefix(BOM).unwrap_or(head).trim_ascii_start();
    match head.first()? {
        b'{' | b'[' => {
            let has = |key: &str| {
                let quoted = format!("\"{key}\"");
                head.windows(quoted.len()).any(|w| w == quoted.as_bytes())
            };
            (has("Timestamp") && ["DeviceName", "DeviceId", "AlertId"].iter().any(|k| has(k)))
                .then_some(Format::DefenderJson)
        }
        _ => csv::header_columns(head).map(|_| Format::DefenderCsv),
    }
}

/// Parses an export (`format` is [`Format::DefenderCsv`] or [`Format::DefenderJson`]); every
/// row goes to `out` as an event or an issue.
pub fn parse(
    file: &str,
    input: &mut dyn BufRead,
    format: Format,
    options: &Options,
    out: Sink,
) -> Result<(), Error> {
    read(file, input, format, options, &mut 0, out)
}

/// [`parse`], counting the records (CSV data rows, JSON row objects) read into `records`.
pub(crate) fn read(
    file: &str,
    input: &mut dyn BufRead,
    format: Format,
    options: &Options,
    records: &mut u64,
    out: Sink,
) -> Result<(), Error> {
    let ctx = row::Ctx {
        file,
        format,
        host: options.host.as_deref(),
    };
    let head = input.fill_buf().map_err(|source| Error::Read {
        file: file.to_string(),
        source,
    })?;
    if head.starts_with(BOM) {
        input.consume(BOM.len());
    }
    match format {
        Format::DefenderCsv => csv::parse(&ctx, input, records, out),
        Format::DefenderJson => json::parse(&ctx, input, records, out),
        other => Err(ctx.format_error(format!("{} is not a Defender format", other.name()))),
    }
}

#[cfg(test)]
mod tests;
