//! The checks of a bundle's zip archive: its entries (names, links, sizes, compression), the
//! manifest in it, and every member against the manifest.

use super::deadline::Deadline;
use super::kept::Kept;
use super::limits::Limits;
use super::outcome::Verification;
use super::parse::parse_manifest;
use super::source::hash_reader;
use crate::manifest::{MANIFEST_NAME, Manifest, MemberEntry};
use crate::names::unsafe_name;
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use zip::ZipArchive;

/// Deflate cannot expand more than about 1032:1; a larger declared ratio is a lie.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// An entry of the zip's central directory, as declared.
struct EntryInfo {
    index: usize,
    name: String,
    size: u64,
    compressed: u64,
    method: zip::CompressionMethod,
}

/// Checks the archive's entries, its manifest and every member against the manifest, adding
/// what is wrong to `v` and setting `v.manifest` when the manifest could be read; with `keep`,
/// keeps the verified content of the members worth keeping ([`Kept`]).
pub(super) fn check_archive<R: Read + std::io::Seek>(
    v: &mut Verification,
    zip: &mut ZipArchive<R>,
    limits: &Limits,
    keep: Option<&mut Kept>,
    deadline: Deadline,
) {
    if zip.len() > limits.max_entries {
        v.problem(
            "bundle",
            format!(
                "{} entries, more than the limit of {}; not checked",
                zip.len(),
                limits.max_entries
            ),
        );
        return;
    }
    if zip.has_duplicate_names() {
        v.problem("bundle", "duplicate member names in the zip's central directory (tools may show different content under one name)");
    }
    let (entries, seen) = list_entries(v, zip);
    let Some(manifest) = read_manifest(v, zip, &entries, limits, deadline) else {
        return;
    };
    let mut keep = keep;
    if let Some(k) = keep.as_deref_mut() {
        k.for_manifest(&manifest);
    }
    let members = Members {
        manifest: &manifest,
        entries: &entries,
        seen: &seen,
    };
    check_members(v, zip, &members, limits, keep, deadline);
    v.manifest = Some(manifest);
}

/// The entries of the archive that can be checked (safe names, no links or directories), and
/// how many times each name appears.
fn list_entries<R: Read + std::io::Seek>(
    v: &mut Verification,
    zip: &mut ZipArchive<R>,
) -> (Vec<EntryInfo>, HashMap<String, usize>) {
    let mut entries: Vec<EntryInfo> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for i in 0..zip.len() {
        let f = match zip.by_index_raw(i) {
            Ok(f) => f,
            Err(e) => {
                v.problem(format!("entry #{i}"), format!("unreadable zip entry: {e}"));
                continue;
            }
        };
        let name = match f.name() {
            Ok(n) => n.to_string(),
            Err(e) => {
                v.problem(
                    format!("entry #{i}"),
                    format!("unreadable member name: {e}"),
                );
                continue;
            }
        };
        if let Some(why) = unsafe_name(&name) {
            v.problem(
                format!("entry `{}`", name.escape_debug()),
                format!("unsafe member name ({why})"),
            );
            continue;
        }
        if f.is_symlink() {
            v.problem(&name, "symbolic-link entry (dossier never writes links)");
            continue;
        }
        if f.is_dir() {
            v.problem(&name, "directory entry (dossier never writes directories)");
            continue;
        }
        *seen.entry(name.clone()).or_default() += 1;
        entries.push(EntryInfo {
            index: i,
            name,
            size: f.size(),
            compressed: f.compressed_size(),
            method: f.compression(),
        });
    }
    for (name, n) in &seen {
        if *n > 1 {
            v.problem(
                name,
                format!("appears {n} times in the zip (duplicate member names)"),
            );
        }
    }
    (entries, seen)
}

/// The manifest member read (within [`Limits::max_manifest`]) and parsed.
fn read_manifest<R: Read + std::io::Seek>(
    v: &mut Verification,
    zip: &mut ZipArchive<R>,
    entries: &[EntryInfo],
    limits: &Limits,
    deadline: Deadline,
) -> Option<Manifest> {
    let Some(man_entry) = entries.iter().find(|e| e.name == MANIFEST_NAME) else {
        v.problem("manifest", format!("no {MANIFEST_NAME} in the bundle"));
        return None;
    };
    if man_entry.size > limits.max_manifest {
        v.problem(
            "manifest",
            format!(
                "declares {} bytes, more than the limit of {}",
                man_entry.size, limits.max_manifest
            ),
        );
        return None;
    }
    let body = match read_capped(zip, man_entry.index, limits.max_manifest, deadline) {
        Ok(b) => b,
        Err(e) => {
            v.problem("manifest", format!("cannot be read: {e}"));
            return None;
        }
    };
    match parse_manifest(&body) {
        Ok(m) => Some(m),
        Err(e) => {
            v.problem("manifest", e);
            None
        }
    }
}

/// What [`check_members`] checks against each other: the manifest and the archive's entries
/// (with how many times each name appears).
struct Members<'a> {
    manifest: &'a Manifest,
    entries: &'a [EntryInfo],
    seen: &'a HashMap<String, usize>,
}

/// Every member against the manifest (listed, declared sizes, content size and SHA-256) and
/// every manifest entry against the zip (missing members), until the deadline.
fn check_members<R: Read + std::io::Seek>(
    v: &mut Verification,
    zip: &mut ZipArchive<R>,
    members: &Members<'_>,
    limits: &Limits,
    mut keep: Option<&mut Kept>,
    deadline: Deadline,
) {
    let Members {
        manifest,
        entries,
        seen,
    } = *members;
    let mut listed: BTreeMap<&str, &MemberEntry> = BTreeMap::new();
    for m in &manifest.members {
        if listed.insert(m.name.as_str(), m).is_some() {
            v.problem(&m.name, "listed more than once in the manifest");
        }
    }
    let mut budget = limits.max_total;
    let mut present = std::collections::HashSet::new();
    // Members left unchecked once the deadline passed; whether it did during verification.
    let (mut unchecked, mut timed_out) = (0usize, false);
    for e in entries {
        present.insert(e.name.as_str());
        if e.name == MANIFEST_NAME || seen.get(&e.name).copied().unwrap_or(0) > 1 {
            continue;
        }
        let Some(m) = listed.get(e.name.as_str()) else {
            v.problem(&e.name, "in the zip but not listed in the manifest");
            continue;
        };
        if let Some(why) = declared_size_problem(e, m.size) {
            v.problem(&e.name, why);
            continue;
        }
        if m.size > budget {
            v.problem(
                &e.name,
                format!(
                    "not checked: the bundle declares more than {} bytes in total",
                    limits.max_total
                ),
            );
            continue;
        }
        budget -= m.size;
        if keep
            .as_deref_mut()
            .is_some_and(|k| k.defers(&e.name, m.size))
        {
            continue;
        }
        if timed_out || deadline.passed() {
            (unchecked, timed_out) = (unchecked + 1, true);
            continue;
        }
        match hash_entry(zip, e, m, keep.as_deref_mut(), deadline) {
            Ok((_, n)) if n != m.size => v.problem(
                &e.name,
                format!("content is {n} bytes, the manifest says {}", m.size),
            ),
            Ok((sha, _)) if sha != m.sha256 => v.problem(
                &e.name,
                format!("SHA-256 differs: manifest {}, content {sha}", m.sha256),
            ),
            Ok(_) => v.members_checked += 1,
            Err(err) => {
                timed_out |= deadline.passed();
                v.problem(&e.name, format!("cannot be read: {err}"));
            }
        }
    }
    if timed_out {
        v.problem(
            "bundle",
            format!(
                "{}; {unchecked} more member(s) not checked",
                deadline.message()
            ),
        );
    }
    for m in &manifest.members {
        if !present.contains(m.name.as_str()) {
            v.problem(&m.name, "listed in the manifest but missing from the zip");
        }
    }
}

/// SHA-256 and length of a member's content (at most one byte more than the manifest says);
/// with `keep` and budget left, the content is read whole and kept when it matches.
fn hash_entry<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    e: &EntryInfo,
    m: &MemberEntry,
    keep: Option<&mut Kept>,
    deadline: Deadline,
) -> Result<(String, u64), String> {
    let Some(k) = keep else {
        return hash_member(zip, e.index, m.size, deadline);
    };
    if !k.take_budget(&e.name, m.size) {
        return hash_member(zip, e.index, m.size, deadline);
    }
    read_capped(zip, e.index, m.size.saturating_add(1), deadline).map(|data| {
        let sha = hex(&Sha256::digest(&data));
        let n = data.len() as u64;
        if n == m.size && sha == m.sha256 {
            k.members.insert(e.name.clone(), data);
        }
        (sha, n)
    })
}

/// Why an entry's declared sizes cannot be right for its manifest entry, if they cannot.
fn declared_size_problem(e: &EntryInfo, manifest_size: u64) -> Option<String> {
    match e.method {
        zip::CompressionMethod::Stored if e.compressed != e.size => Some(format!(
            "stored entry declares {} bytes but holds {}",
            e.size, e.compressed
        )),
        zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated => {
            if e.size > e.compressed.saturating_mul(MAX_DEFLATE_RATIO).max(1 << 16) {
                Some(format!(
                    "declares {} bytes from {} compressed bytes, a ratio deflate cannot produce (zip bomb?); not decompressed",
                    e.size, e.compressed
                ))
            } else if e.size != manifest_size {
                Some(format!(
                    "zip declares {} bytes, the manifest says {manifest_size}",
                    e.size
                ))
            } else {
                None
            }
        }
        other => Some(format!(
            "compression method {other:?}, which dossier never writes; not decompressed"
        )),
    }
}

/// A member's content, at most `cap` bytes, inflated until `deadline`.
pub(super) fn read_capped<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    cap: u64,
    deadline: Deadline,
) -> Result<Vec<u8>, String> {
    let f = zip.by_index(index).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    deadline
        .reader(f)
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > cap {
        return Err(format!("more than {cap} bytes"));
    }
    Ok(out)
}

/// Hashes at most `expected + 1` bytes of a member, inflated until `deadline`.
fn hash_member<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    expected: u64,
    deadline: Deadline,
) -> Result<(String, u64), String> {
    let f = zip.by_index(index).map_err(|e| e.to_string())?;
    hash_reader(deadline.reader(f).take(expected.saturating_add(1))).map_err(|e| e.to_string())
}
