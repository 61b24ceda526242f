//! Verification of one referenced file against the package database: its owner, the digest
//! the package expects and the digest it has (MD5 or SHA-256 and always SHA-256, in one read),
//! and a copy of a suspect file for offline analysis. What the earlier collectors of the host
//! already read of the same file (`proc` hashes every process's executable, `privileged`
//! every setuid file) is taken from the host's [`DigestCache`], not read again.

use crate::shared::filedigest::{DigestCache, FileId, copy_once, digests};
use crate::shared::pkgdb::{Md5Cache, PackageDb};
use crate::util::{Copied, canonicalize, ptext};
use dossier_plugin_api::CollectContext;
use dossier_plugin_api::host::{FileKind, FileMeta};
use dossier_plugin_api::records::{PackageVerify, SourceRef};
use std::path::Path;

/// Copies a suspect file (following a symlinked command to its target) when it is a regular
/// file within the cap; larger files keep only their hash, noted as an issue.
pub(super) fn copy_suspect(
    ctx: &mut CollectContext<'_>,
    v: &PackageVerify,
    cap: u64,
) -> Option<SourceRef> {
    let path = dossier_plugin_api::encoding::text_to_path(&v.path);
    let real = canonicalize(ctx.host(), &path).unwrap_or(path);
    copy_file(ctx, &real, cap).map(|c| c.source)
}

/// Copies `real` (no symlink left in it) when it is a regular file within the cap, once per
/// host (see [`copy_once`]).
fn copy_file(ctx: &mut CollectContext<'_>, real: &Path, cap: u64) -> Option<Copied> {
    let meta = ctx.host().stat(real).ok()?;
    if meta.kind != FileKind::File {
        return None;
    }
    let cache = DigestCache::of(ctx);
    copy_once(ctx, Some(&cache), real, &meta, cap)
}

/// How [`file`] verifies.
pub(super) struct Caps {
    /// Files larger than this are not hashed for verification.
    pub(super) verify: u64,
    /// Copy cap for a file no package owns (`None`: not copied here).
    pub(super) copy_unowned: Option<u64>,
    /// A directory or link of a package list under full verification is skipped.
    pub(super) full: bool,
}

/// Verifies `path` (referenced by `refs`); `None` for a directory or link of a package list
/// under full verification. A file no package owns is copied (`caps.copy_unowned`) and
/// hashed in the same read.
pub(super) fn file(
    ctx: &mut CollectContext<'_>,
    db: &PackageDb,
    path: &str,
    refs: Vec<String>,
    caps: &Caps,
    md5_cache: &mut Md5Cache,
) -> Option<PackageVerify> {
    let (cap, full) = (caps.verify, caps.full);
    let mut v = PackageVerify {
        path: path.to_string(),
        referenced_by: refs,
        ..Default::default()
    };
    let host = ctx.host();
    let p = dossier_plugin_api::encoding::text_to_path(path);
    let meta = match host.lstat(&p) {
        Ok(m) => m,
        Err(e) if e.is_not_found() => {
            v.status = "missing".into();
            v.package = db.owners_of(path).into_iter().next();
            return Some(v);
        }
        Err(e) => {
            v.status = "unreadable".into();
            v.detail = Some(e.to_string());
            return Some(v);
        }
    };
    if full && meta.kind != FileKind::File {
        return None; // directories and links in a package's file list have no digest
    }
    // Follow a symlinked command to the file it runs; package digests are for that file.
    let (check_path, via) = if meta.kind == FileKind::Symlink {
        match canonicalize(host, &p) {
            Some(real) => (
                ptext(&real),
                Some(format!("via symlink to {}", ptext(&real))),
            ),
            None => {
                v.status = "missing".into();
                v.detail = Some("dangling symlink".into());
                return Some(v);
            }
        }
    } else {
        (path.to_string(), None)
    };
    let owners = db.owners_of(&check_path);
    v.package = owners
        .first()
        .cloned()
        .or_else(|| db.owners_of(path).into_iter().next());
    v.detail = via;
    // The file checked, as the digest cache knows it: its metadata, by `lstat` (a symlink's
    // target has none left in its path).
    let checked = if meta.kind == FileKind::Symlink {
        ctx.host()
            .lstat(&dossier_plugin_api::encoding::text_to_path(&check_path))
            .ok()
    } else {
        Some(meta)
    };
    if owners.is_empty() {
        v.status = "not_owned".into();
        let real = dossier_plugin_api::encoding::text_to_path(&check_path);
        if let Some(copy_cap) = caps.copy_unowned {
            // The copy is named by the path with every link resolved (a directory on the
            // way may be one: `/bin` on a merged-/usr system).
            let canon = canonicalize(ctx.host(), &real).unwrap_or_else(|| real.clone());
            if let Some(c) = copy_file(ctx, &canon, copy_cap) {
                // One read for the copy and the hash: the copy's SHA-256 is what hashing
                // the file up to the verification cap gives when the copy is whole and fits.
                if c.whole.is_some_and(|size| size <= cap) {
                    v.sha256 = c.source.sha256.clone();
                }
                v.copy = Some(c.source);
            }
        }
        if v.sha256.is_none() {
            let id = checked.and_then(|m| FileId::new(&check_path, &m));
            let cache = DigestCache::of(ctx);
            if let Ok(h) = digests(ctx.host(), &cache, id.as_ref(), &real, cap, false) {
                v.sha256 = Some(h.sha256);
            }
        }
        return Some(v);
    }
    let expected = db.expected_digest(ctx, &check_path, &owners, md5_cache);
    let Some((algo, digest, source)) = expected else {
        v.status = "no_digest".into();
        return Some(v);
    };
    v.algorithm = Some(algo.clone());
    v.expected = Some(digest.clone());
    v.digest_source = source;
    match hash_two(ctx, &check_path, checked.as_ref(), &algo, cap) {
        Ok((actual, sha)) => {
            v.status = if actual.eq_ignore_ascii_case(&digest) {
                "ok"
            } else {
                "mismatch"
            }
            .into();
            v.actual = Some(actual);
            v.sha256 = Some(sha);
        }
        Err(e) => {
            v.status = "unreadable".into();
            v.detail = Some(e);
        }
    }
    Some(v)
}

/// Hashes a file with the package digest algorithm and SHA-256 in one read (or takes both
/// from the host's digest cache when an earlier collector read the same file).
fn hash_two(
    ctx: &mut CollectContext<'_>,
    path: &str,
    meta: Option<&FileMeta>,
    algo: &str,
    cap: u64,
) -> Result<(String, String), String> {
    let too_large = |size: u64| format!("larger than the verification cap ({size} > {cap} bytes)");
    if let Some(m) = meta.filter(|m| m.size > cap) {
        return Err(too_large(m.size));
    }
    if algo != "md5" && algo != "sha256" {
        return Err(format!("digest algorithm {algo} not supported"));
    }
    let md5 = algo == "md5";
    let id = meta.and_then(|m| FileId::new(path, m));
    let cache = DigestCache::of(ctx);
    let real = dossier_plugin_api::encoding::text_to_path(path);
    let h = digests(ctx.host(), &cache, id.as_ref(), &real, cap, md5).map_err(|e| e.to_string())?;
    if h.truncated {
        return Err(too_large(h.bytes));
    }
    let actual = match h.md5 {
        Some(m) if md5 => m,
        _ => h.sha256.clone(),
    };
    Ok((actual, h.sha256))
}
