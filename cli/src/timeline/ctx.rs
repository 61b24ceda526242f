//! The state of one bundle's rows while they are made: the bundle's attributes every row
//! carries, the verbatim copies by host path, the files whose times a record already gave,
//! and the counts; and the helpers that turn a fact into rows (`emit`, `file_rows`).

use super::row::{Row, file_times};
use crate::extsort::Sorter;
use dossier_plugin_api::host::FileMeta;
use std::collections::{HashMap, HashSet};

/// Verbatim copies by host path: member name, its SHA-256, the file's metadata.
pub(crate) type RawCopies = HashMap<String, (String, String, Option<FileMeta>)>;

/// What one bundle gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleRows {
    pub rows: u64,
    /// Imported events among them.
    pub events: u64,
    /// Record lines that are not JSON, or not a record or event dossier reads (with why, the
    /// first few).
    pub skipped: u64,
    pub skipped_why: Vec<String>,
}

/// Where a row's fact was read: a line of a records member.
pub(crate) struct Origin<'a> {
    pub(crate) member: &'a str,
    pub(crate) member_sha256: &'a str,
    /// The collector that wrote the member.
    pub(crate) collector: &'a str,
    pub(crate) line: usize,
}

/// The state of one bundle's rows.
pub(crate) struct Ctx<'s> {
    sorter: &'s mut Sorter,
    host: String,
    bundle: String,
    sha256: String,
    /// Verbatim copies by host path: member name, its SHA-256, the file's metadata.
    raw: RawCopies,
    /// (path, time meaning) already given by a record.
    covered: HashSet<(String, &'static str)>,
    /// File metadata records gave, by path (for records that name a file without it).
    seen_meta: HashMap<String, FileMeta>,
    pub(crate) counts: BundleRows,
    error: Option<std::io::Error>,
}

impl<'s> Ctx<'s> {
    /// Nothing made yet for the bundle of `[host, bundle file name, bundle SHA-256]`.
    pub(crate) fn new(
        sorter: &'s mut Sorter,
        [host, bundle, sha256]: [&str; 3],
        raw: RawCopies,
    ) -> Ctx<'s> {
        Ctx {
            sorter,
            host: host.to_string(),
            bundle: bundle.to_string(),
            sha256: sha256.to_string(),
            raw,
            covered: HashSet::new(),
            seen_meta: HashMap::new(),
            counts: BundleRows::default(),
            error: None,
        }
    }

    /// The host of the bundle (its manifest's host name).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// Whether a record gave the time `desc` of the file at `path`.
    pub(crate) fn covered(&self, path: &str, desc: &'static str) -> bool {
        self.covered.contains(&(path.to_string(), desc))
    }

    /// What the bundle gave, or the first error sorting its rows.
    pub(crate) fn finish(mut self) -> Result<BundleRows, std::io::Error> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(self.counts),
        }
    }

    /// Adds the bundle's attributes and the origin's to `row` and sorts it in (`host` is the
    /// bundle's unless the row names its own: an imported event's host).
    /// A row whose year ISO 8601 cannot write in four digits is counted as skipped.
    pub(crate) fn emit(&mut self, o: Option<&Origin<'_>>, mut row: Row) {
        // 0000-01-01T00:00:00Z ..= 9999-12-31T23:59:59Z
        if !(-62_167_219_200..=253_402_300_799).contains(&row.time.unix_seconds()) {
            let at = o
                .map(|o| format!("{} line {}", o.member, o.line))
                .unwrap_or_else(|| "manifest.json".into());
            return self.skip(format!(
                "{at}: {} {} is outside the years ISO 8601 writes",
                row.desc, row.time
            ));
        }
        if !row.attrs.contains_key("host") {
            row.set("host", self.host.as_str());
        }
        row.set("bundle", self.bundle.as_str())
            .set("bundle_sha256", self.sha256.as_str());
        if let Some(o) = o {
            row.set("member", o.member)
                .set("member_sha256", o.member_sha256)
                .set("source", o.collector)
                .set("record_line", o.line as u64);
        }
        self.counts.rows += 1;
        if let Err(e) = self.sorter.push(row.keyed_line()) {
            self.error.get_or_insert(e);
        }
    }

    /// One row per time of `meta` for the file at `path`, each with `message`, the file's
    /// attributes, its verbatim copy when the bundle has one, and what `more` adds.
    pub(crate) fn file_rows(
        &mut self,
        o: &Origin<'_>,
        path: &str,
        meta: &FileMeta,
        message: &str,
        more: &dyn Fn(&mut Row),
    ) {
        self.seen_meta
            .entry(path.to_string())
            .or_insert_with(|| meta.clone());
        for (desc, t) in file_times(meta) {
            let Some(t) = t else { continue };
            let mut row = Row::new(t, desc, message);
            row.set("path", path).set_meta(meta);
            if let Some((m, sha, _)) = self.raw.get(path) {
                row.set("raw_member", m.as_str())
                    .set("raw_sha256", sha.as_str());
            }
            more(&mut row);
            self.covered.insert((path.to_string(), desc));
            self.emit(Some(o), row);
        }
    }

    /// The metadata of the file at `path`: from its verbatim copy, else from a record seen.
    pub(crate) fn meta_of(&self, path: &str) -> Option<FileMeta> {
        self.raw
            .get(path)
            .and_then(|(_, _, m)| m.clone())
            .or_else(|| self.seen_meta.get(path).cloned())
    }

    /// Counts a line not turned into rows (keeping the first few reasons).
    pub(crate) fn skip(&mut self, why: String) {
        self.counts.skipped += 1;
        if self.counts.skipped_why.len() < 5 {
            self.counts.skipped_why.push(why);
        }
    }
}
