//! [`verify`]: every check of a bundle in one pass over one open file.

use super::archive::check_archive;
use super::central::central_directory_names;
use super::deadline::Deadline;
use super::kept::Kept;
use super::limits::Limits;
use super::outcome::{Encryption, Verification};
use super::sidecar::check_sidecar;
use super::source::{At, IN_MEMORY_MAX, Shared, Source, hash_reader, open_regular};
use crate::crypt::{Identities, is_age};
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use zip::ZipArchive;

/// Verifies a bundle (see the module documentation). An encrypted bundle is checked as a
/// file only ([`Encryption::NotDecrypted`]).
pub fn verify(path: &Path, limits: &Limits) -> Verification {
    verify_keeping(path, limits, &Identities::none(), None).0
}

/// [`verify`], decrypting an encrypted bundle with one of `identities` (as a stream, never
/// to disk) to check its contents too.
pub fn verify_with(path: &Path, limits: &Limits, identities: &Identities) -> Verification {
    verify_keeping(path, limits, identities, None).0
}

/// [`verify`], also giving the zip archive it read (on the file it hashed) and, with `keep`,
/// the verified content of the members worth keeping for analysis ([`Kept`]).
pub(super) fn verify_keeping(
    path: &Path,
    limits: &Limits,
    identities: &Identities,
    keep: Option<&mut Kept>,
) -> (Verification, Option<ZipArchive<Source>>) {
    let start = std::time::Instant::now();
    let mut v = Verification {
        path: path.to_path_buf(),
        sha256: None,
        size: 0,
        members_checked: 0,
        manifest: None,
        problems: Vec::new(),
        encryption: Encryption::None,
    };
    // One open file for every pass: the path cannot be swapped between hashing and checking.
    let (file, mut size) = match open_regular(path) {
        Ok(x) => x,
        Err(e) => {
            v.problem("bundle", e);
            return (v, None);
        }
    };
    v.size = size;
    let handle = |f: &File| f.try_clone().map_err(|e| format!("cannot reopen: {e}"));
    // A bundle that is small enough (and only when keeping content for analysis) is read
    // once into memory: the bytes hashed are the bytes checked and analyzed, with no further
    // reads or seeks on the file.
    let mut bytes: Option<Shared> = None;
    let source = if keep.is_some() && size <= IN_MEMORY_MAX {
        let mut data = Vec::with_capacity(size as usize);
        match handle(&file).and_then(|f| {
            f.take(IN_MEMORY_MAX + 1)
                .read_to_end(&mut data)
                .map_err(|e| format!("read failed: {e}"))
        }) {
            Ok(_) => {
                v.sha256 = Some(hex(&Sha256::digest(&data)));
                // What was read is what is checked, even if the file changed size meanwhile.
                size = data.len() as u64;
                v.size = size;
                let shared = Shared(data.into());
                bytes = Some(shared.clone());
                Ok(Source::Memory(std::io::Cursor::new(shared)))
            }
            Err(e) => Err(e),
        }
    } else {
        match handle(&file).and_then(|f| {
            hash_reader(BufReader::with_capacity(1 << 20, f))
                .map_err(|e| format!("read failed: {e}"))
        }) {
            Ok((sha, _)) => v.sha256 = Some(sha),
            Err(e) => v.problem("bundle", e),
        }
        handle(&file).map(|f| Source::File(BufReader::new(f)))
    };
    check_sidecar(&mut v, path);
    let head = head_of(bytes.as_ref(), &file);
    if is_age(&head) {
        let Some((src, cd, plain)) = decrypted(&mut v, identities, bytes.as_ref(), &file) else {
            return (v, None);
        };
        return check_zip(v, Ok(src), (cd, plain), limits, keep, (start, size));
    }
    // A second reader of the same bytes, for deferred members checked on a thread of their
    // own (see [`Kept`]).
    let mut keep = keep;
    if let Some(k) = keep.as_deref_mut() {
        k.reopen = match &bytes {
            Some(b) => Some(Source::Memory(std::io::Cursor::new(b.clone()))),
            None => file.try_clone().ok().map(|f| Source::At(At::new(f))),
        };
    }
    match bytes {
        Some(b) => check_zip(
            v,
            source,
            (Cd::Memory(b), size),
            limits,
            keep,
            (start, size),
        ),
        None => check_zip(
            v,
            source,
            (Cd::File(file), size),
            limits,
            keep,
            (start, size),
        ),
    }
}

/// Where the central-directory check reads the zip from.
enum Cd {
    File(File),
    Memory(Shared),
    Age(Source),
}

/// The first bytes of the bundle (to tell an age file from a zip).
fn head_of(bytes: Option<&Shared>, file: &File) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    match bytes {
        Some(b) => b.0.iter().take(64).copied().collect(),
        None => {
            let mut head = vec![0u8; 64];
            let n = file.read_at(&mut head, 0).unwrap_or(0);
            head.truncate(n);
            head
        }
    }
}

/// An encrypted bundle opened with `identities`: the decrypted zip for the archive checks,
/// a second decrypting reader for the central-directory check, and the zip's length. `None`
/// (with what happened in `v`) when there is no identity, or it cannot be decrypted.
fn decrypted(
    v: &mut Verification,
    identities: &Identities,
    bytes: Option<&Shared>,
    file: &File,
) -> Option<(Source, Cd, u64)> {
    if identities.is_empty() {
        v.encryption = Encryption::NotDecrypted;
        return None;
    }
    v.encryption = Encryption::Decrypted;
    let inner = || -> Result<Source, String> {
        Ok(match bytes {
            Some(b) => Source::Memory(std::io::Cursor::new(b.clone())),
            None => Source::At(At::new(
                file.try_clone()
                    .map_err(|e| format!("cannot reopen: {e}"))?,
            )),
        })
    };
    let open = || -> Result<(Source, u64), String> {
        let (r, len) = crate::crypt::decrypt(inner()?, identities).map_err(|e| e.to_string())?;
        Ok((Source::Age(Box::new(r)), len))
    };
    match open().and_then(|(a, len)| Ok((a, open()?.0, len))) {
        Ok((a, b, len)) => Some((a, Cd::Age(b), len)),
        Err(e) => {
            v.problem("encryption", e);
            None
        }
    }
}

/// The zip checks of a bundle (plain, or decrypted): the archive, its members against the
/// manifest, and the central directory as listed (from `cd`, `len` bytes). `start` and
/// `file_size` set the deadline.
fn check_zip(
    mut v: Verification,
    source: Result<Source, String>,
    (cd, len): (Cd, u64),
    limits: &Limits,
    keep: Option<&mut Kept>,
    (start, file_size): (std::time::Instant, u64),
) -> (Verification, Option<ZipArchive<Source>>) {
    let zip = source.and_then(|src| {
        ZipArchive::new(src)
            .map_err(|e| format!("not a readable zip archive (truncated or corrupt): {e}"))
    });
    let mut zip = match zip {
        Ok(z) => z,
        Err(e) => {
            v.problem("bundle", e);
            return (v, None);
        }
    };
    let deadline = Deadline::of(limits, start, file_size);
    check_archive(&mut v, &mut zip, limits, keep, deadline);
    let cd = match cd {
        Cd::Memory(b) => central_directory_names(std::io::Cursor::new(b), len, limits.max_entries),
        Cd::File(f) => central_directory_names(f, len, limits.max_entries),
        Cd::Age(a) => central_directory_names(a, len, limits.max_entries),
    };
    match cd {
        Ok(Some(names)) => {
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for n in &names {
                *count.entry(n.as_str()).or_default() += 1;
            }
            for (n, c) in count.into_iter().filter(|(_, c)| *c > 1) {
                v.problem(n, format!("appears {c} times in the zip's central directory (duplicate member names: tools may show different content under one name)"));
            }
        }
        Ok(None) => {}
        Err(e) => v.problem("bundle", format!("central directory: {e}")),
    }
    (v, Some(zip))
}
