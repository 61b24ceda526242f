//! dpkg's database: `status` (packages and conffile digests), `info/*.list` (file ownership)
//! and `diversions`.

use super::db::PackageDb;
use crate::util::{name_text, ptext};
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::encoding::{bytes_to_text, hex};
use dossier_plugin_api::records::{Diversion, PackageRecord, SourceRef};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Where dpkg keeps its database.
pub(super) const DPKG_DIR: &str = "/var/lib/dpkg";
/// Most bytes read of dpkg's `status`.
const STATUS_CAP: u64 = 256 << 20;
/// Most bytes read of one list, `md5sums` or the diversions file.
pub(super) const LIST_CAP: u64 = 64 << 20;

/// Reads dpkg's database (see [`PackageDb::load_fresh`] for `copy_lists`).
pub(super) fn load(ctx: &mut CollectContext<'_>, copy_lists: bool) -> PackageDb {
    let mut db = PackageDb {
        manager: Some("dpkg".into()),
        ..Default::default()
    };
    if !read_status(ctx, &mut db) {
        db.manager = None;
        db.unavailable = Some("dpkg status could not be read".into());
        return db;
    }
    read_lists(ctx, &mut db, copy_lists);
    read_diversions(ctx, &mut db);
    db
}

/// Packages and conffile digests from `status` (captured); false when it cannot be read.
fn read_status(ctx: &mut CollectContext<'_>, db: &mut PackageDb) -> bool {
    let status_path = Path::new(DPKG_DIR).join("status");
    let Some(c) = ctx.capture(&status_path, STATUS_CAP) else {
        return false;
    };
    let status_src = c.source_ref(&status_path);
    // One paragraph at a time: the maps of every package at once cost several times the text.
    for_each_paragraph(&c.data, |p| {
        let name = p.get("Package").cloned().unwrap_or_default();
        if name.is_empty() {
            return;
        }
        if let Some(cf) = p.get("Conffiles") {
            for line in cf.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() >= 2 && f[0].starts_with('/') && f[1].len() == 32 {
                    db.conffiles
                        .insert(f[0].to_string(), (name.clone(), f[1].to_string()));
                }
            }
        }
        db.packages.push(PackageRecord {
            manager: "dpkg".into(),
            name,
            version: p.get("Version").cloned().unwrap_or_default(),
            arch: p.get("Architecture").cloned(),
            status: p.get("Status").cloned(),
            source_package: p.get("Source").cloned(),
            install_time: None,
            source: status_src.clone(),
        });
    });
    true
}

/// File ownership from every `info/*.list`: captured into the bundle when `copy_lists`,
/// otherwise read and hashed only.
/// Lists read together (over SSH, one batch of requests for all).
const LIST_BATCH: usize = 64;

fn read_lists(ctx: &mut CollectContext<'_>, db: &mut PackageDb, copy_lists: bool) {
    let info = Path::new(DPKG_DIR).join("info");
    let entries = ctx.list_dir(&info).unwrap_or_default();
    let lists: Vec<(String, String, std::path::PathBuf)> = entries
        .into_iter()
        .filter_map(|e| {
            let fname = name_text(&e.name);
            let base = fname.strip_suffix(".list")?.to_string();
            let pkg = base.split(':').next().unwrap_or(&base).to_string();
            Some((pkg, base, info.join(&e.name)))
        })
        .collect();
    for batch in lists.chunks(LIST_BATCH) {
        // Read ahead together unless each is captured into the bundle.
        let mut read = if copy_lists {
            Vec::new()
        } else {
            let paths: Vec<_> = batch.iter().map(|(_, _, p)| p.clone()).collect();
            ctx.host().read_many(&paths, LIST_CAP)
        }
        .into_iter();
        for (pkg, base, path) in batch {
            let (data, source) = if copy_lists {
                match ctx.capture(path, LIST_CAP) {
                    Some(c) => {
                        let s = c.source_ref(path);
                        (c.data, s)
                    }
                    None => continue,
                }
            } else {
                match read.next() {
                    Some(Ok(r)) => {
                        let sha = hex(&Sha256::digest(&r.data));
                        (
                            r.data,
                            SourceRef {
                                path: ptext(path),
                                member: None,
                                sha256: Some(sha),
                            },
                        )
                    }
                    Some(Err(err)) => {
                        ctx.host_error(&err);
                        continue;
                    }
                    None => continue,
                }
            };
            let files = data
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(bytes_to_text);
            db.info_base.insert(pkg.clone(), base.clone());
            db.files.add("dpkg", pkg.clone(), files, source);
        }
    }
    db.files.finish();
}

fn read_diversions(ctx: &mut CollectContext<'_>, db: &mut PackageDb) {
    let div = Path::new(DPKG_DIR).join("diversions");
    if let Some(c) = ctx.capture(&div, LIST_CAP) {
        let src = c.source_ref(&div);
        let text = bytes_to_text(&c.data).replace("%0A", "\n");
        let lines: Vec<&str> = text.lines().collect();
        for t in lines.chunks(3) {
            if let [path, to, pkg] = t {
                db.diversions.push(Diversion {
                    path: path.to_string(),
                    diverted_to: to.to_string(),
                    package: pkg.to_string(),
                    source: src.clone(),
                });
            }
        }
    }
}

/// Parses dpkg's `status` (RFC 822-style paragraphs; continuation lines start with a blank).
/// Multi-line fields keep their continuation lines, without the leading blank.
pub fn parse_dpkg_status(data: &[u8]) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    for_each_paragraph(data, |p| out.push(p));
    out
}

/// [`parse_dpkg_status`], calling `each` with every paragraph in order instead of keeping them.
fn for_each_paragraph(data: &[u8], mut each: impl FnMut(BTreeMap<String, String>)) {
    let text = String::from_utf8_lossy(data);
    let mut cur: BTreeMap<String, String> = BTreeMap::new();
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                each(std::mem::take(&mut cur));
            }
            last_key = None;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last_key {
                let v = cur.entry(k.clone()).or_default();
                if !v.is_empty() {
                    v.push('\n');
                }
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.insert(k.trim().to_string(), v.trim().to_string());
            last_key = Some(k.trim().to_string());
        }
    }
    if !cur.is_empty() {
        each(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_paragraphs() {
        let p = parse_dpkg_status(
            b"Package: a\nVersion: 1\nDescription: x\n more\n\n\nPackage: b\nVersion: 2\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[0]["Description"], "x\nmore");
        assert_eq!(p[1]["Package"], "b");
    }
}
