//! The rows of one verified bundle: the times its records carry (each record kind in
//! [`super::records`], imported events in [`super::events`]) and the file times the manifest
//! keeps for every verbatim copy, each row with the bundle's host, file name and SHA-256 and
//! the member the fact was read from.
//!
//! A file whose times a record gives (a unit's fragment, a cron file with its entries, an
//! authorized-keys file) is not given again from the manifest: the record's rows say what the
//! file is. Metadata of `/proc` and `/sys` files (their times are when the kernel made the
//! inode, not anything that happened on the host) and of imported source files (`imported/*`:
//! times of the examiner's copy) is left out.

use super::ctx::{BundleRows, Ctx, Origin};
use super::row::{Row, file_times};
use crate::extsort::Sorter;
use dossier_bundle::manifest::MemberEntry;
use dossier_bundle::reader::{Bundle, MemberError};

/// Longest line of a records member turned into rows.
const MAX_LINE: usize = 16 << 20;
/// The records member of imported events.
pub(crate) const EVENTS_MEMBER: &str = "records/events.jsonl";

/// Why a bundle's rows could not all be made.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error(transparent)]
    Member(#[from] MemberError),
    #[error("sorting the timeline: {0}")]
    Sort(#[from] std::io::Error),
}

/// Sorts every row of the verified bundle `b` (named `name`) into `sorter`.
pub(crate) fn bundle_rows(
    b: &mut Bundle,
    name: &str,
    sorter: &mut Sorter,
) -> Result<BundleRows, RowsError> {
    let members = b.manifest.members.clone();
    let raw = members
        .iter()
        .filter_map(|m| {
            let s = m.source.as_ref().filter(|_| m.kind == "raw")?;
            Some((
                s.path.clone(),
                (m.name.clone(), m.sha256.clone(), s.meta.clone()),
            ))
        })
        .collect();
    let mut ctx = Ctx::new(sorter, [&b.manifest.host.hostname, name, &b.sha256], raw);
    collection_rows(&mut ctx, b);
    for m in members.iter().filter(|m| m.kind == "records") {
        records_member(&mut ctx, b, m)?;
    }
    for m in &members {
        raw_rows(&mut ctx, m);
    }
    ctx.finish().map_err(RowsError::from)
}

/// The rows of one records member, line by line.
fn records_member(ctx: &mut Ctx<'_>, b: &mut Bundle, m: &MemberEntry) -> Result<(), MemberError> {
    let collector = m
        .collector
        .clone()
        .or_else(|| {
            m.name
                .strip_prefix("records/")
                .and_then(|n| n.strip_suffix(".jsonl"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    let events = m.name == EVENTS_MEMBER;
    b.member_lines(&m.name, MAX_LINE, &mut |line, text| {
        if text.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let o = Origin {
            member: &m.name,
            member_sha256: &m.sha256,
            collector: &collector,
            line,
        };
        if events {
            super::events::event_line(ctx, &o, text);
        } else {
            super::records::record_line(ctx, &o, text);
        }
    })
}

/// When the collection ran (from the manifest).
fn collection_rows(ctx: &mut Ctx<'_>, b: &Bundle) {
    let m = &b.manifest;
    let who = format!(
        "dossier {} (playbook {}{}{})",
        m.tool.version,
        m.playbook.name,
        m.case_id
            .as_deref()
            .map(|c| format!(", case {c}"))
            .unwrap_or_default(),
        m.examiner
            .as_deref()
            .map(|e| format!(", examiner {e}"))
            .unwrap_or_default()
    );
    for (t, desc, what) in [
        (m.collection.started, "Collection start time", "started"),
        (m.collection.finished, "Collection end time", "finished"),
    ] {
        let mut row = Row::new(
            t,
            desc,
            format!("collection of {} {what}: {who}", m.host.hostname),
        );
        row.set("member", "manifest.json")
            .set("source", "dossier")
            .set("target", m.target.label.as_str())
            .set("bundle_id", m.bundle_id.as_str());
        ctx.emit(None, row);
    }
}

/// The file times of a verbatim copy, unless a record gave them or they say nothing of the
/// host (see the module documentation).
fn raw_rows(ctx: &mut Ctx<'_>, m: &MemberEntry) {
    let Some(src) = m.source.as_ref().filter(|_| m.kind == "raw") else {
        return;
    };
    let Some(meta) = &src.meta else { return };
    let path = src.path.as_str();
    if ["/proc/", "/sys/"].iter().any(|p| path.starts_with(p)) || m.name.starts_with("imported/") {
        return;
    }
    let package = dpkg_package(path);
    let message = match &package {
        Some(p) => format!(
            "{path}: dpkg database file of package {p} (written when the package was installed or upgraded)"
        ),
        None => format!("{path} (copied into the bundle)"),
    };
    for (desc, t) in file_times(meta) {
        let Some(t) = t else { continue };
        if ctx.covered(path, desc) {
            continue;
        }
        let mut row = Row::new(t, desc, message.as_str());
        row.set("path", path)
            .set_meta(meta)
            .set("member", "manifest.json")
            .set("raw_member", m.name.as_str())
            .set("raw_sha256", m.sha256.as_str())
            .set_opt("source", m.collector.as_deref())
            .set_opt("package", package.as_deref());
        if src.changed_during_read {
            row.set("changed_during_read", true);
        }
        ctx.emit(None, row);
    }
}

/// The package a dpkg `info/` file belongs to (`/var/lib/dpkg/info/cron.md5sums`: `cron`).
fn dpkg_package(path: &str) -> Option<String> {
    let file = path.strip_prefix("/var/lib/dpkg/info/")?;
    let (base, ext) = file.rsplit_once('.')?;
    if ![
        "list",
        "md5sums",
        "conffiles",
        "postinst",
        "preinst",
        "prerm",
        "postrm",
    ]
    .contains(&ext)
    {
        return None;
    }
    Some(base.split(':').next().unwrap_or(base).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_bundle::reader::Limits;
    use dossier_plugin_api::Timestamp;
    use std::collections::HashSet;
    use std::path::Path;

    /// The rows of the archived miner snapshot, parsed.
    fn snapshot_rows() -> (BundleRows, Vec<serde_json::Value>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/bundles/esxi-web01-snapshot.zip");
        let (mut b, _) = Bundle::open(&path, &Limits::default()).unwrap();
        let d = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(d.path(), 1 << 20);
        let counts = bundle_rows(&mut b, "snap.zip", &mut sorter).unwrap();
        let mut out = Vec::new();
        sorter.finish(&mut out).unwrap();
        let rows = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (counts, rows)
    }

    #[test]
    fn a_file_a_record_describes_is_given_once_with_what_it_is() {
        let (counts, rows) = snapshot_rows();
        assert_eq!(counts.rows as usize, rows.len());
        assert_eq!(counts.skipped, 0, "{:?}", counts.skipped_why);
        let of = |path: &str| -> Vec<&serde_json::Value> {
            rows.iter().filter(|r| r["path"] == path).collect()
        };
        // The cron file: rows of its entry only, from the cron records.
        let cron = of("/etc/cron.d/python");
        assert!(!cron.is_empty());
        assert!(cron.iter().all(|r| r["member"] == "records/cron.jsonl"
            && r["raw_member"] == "raw/etc/cron.d/python"
            && r["message"].as_str().unwrap().starts_with("cron entry ")));
        // The unit: named, with its command.
        let unit = of("/etc/systemd/system/python.service");
        assert!(unit.iter().any(|r| r["unit"] == "python.service"
            && r["timestamp_desc"] == "Modification time"
            && r["exec_start"] == "/var/log/log"));
        // A copy no record describes: from the manifest.
        let log = of("/var/log/log");
        assert!(log.iter().any(|r| r["member"] == "manifest.json"
            && r["raw_member"] == "raw/var/log/log"
            && r["timestamp_desc"] == "Modification time"));
        // No time of a file a record gave comes again from the manifest.
        let from_records: HashSet<(String, String)> = rows
            .iter()
            .filter(|r| r["path"].is_string() && r["member"] != "manifest.json")
            .map(|r| (r["path"].to_string(), r["timestamp_desc"].to_string()))
            .collect();
        assert!(from_records.len() > 20);
        for r in rows.iter().filter(|r| r["member"] == "manifest.json") {
            let key = (r["path"].to_string(), r["timestamp_desc"].to_string());
            assert!(!from_records.contains(&key), "twice: {r}");
        }
    }

    #[test]
    fn a_time_iso_8601_cannot_write_is_counted_not_written() {
        let d = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(d.path(), 1 << 20);
        let mut ctx = Ctx::new(&mut sorter, ["h", "b.zip", "00"], Default::default());
        let far = Timestamp::from_unix(253_402_300_800, 0).unwrap();
        ctx.emit(None, Row::new(far, "Event time", "year 10000"));
        let ok = Timestamp::from_unix(253_402_300_799, 0).unwrap();
        ctx.emit(None, Row::new(ok, "Event time", "year 9999"));
        let counts = ctx.finish().unwrap();
        assert_eq!((counts.rows, counts.skipped), (1, 1));
        assert!(
            counts.skipped_why[0].contains("outside the years"),
            "{:?}",
            counts.skipped_why
        );
    }

    #[test]
    fn dpkg_info_files_name_their_package() {
        assert_eq!(
            dpkg_package("/var/lib/dpkg/info/coreutils:amd64.list").as_deref(),
            Some("coreutils")
        );
        assert_eq!(
            dpkg_package("/var/lib/dpkg/info/cron.md5sums").as_deref(),
            Some("cron")
        );
        assert_eq!(dpkg_package("/var/lib/dpkg/status"), None);
        assert_eq!(dpkg_package("/var/lib/dpkg/info/format"), None);
    }
}
