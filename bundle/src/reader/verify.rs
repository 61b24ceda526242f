//! [`verify`]: every check of a bundle in one pass over one open file.

use super::archive::check_archive;
use super::central::central_directory_names;
use super::deadline::Deadline;
use super::kept::Kept;
use super::limits::Limits;
use super::outcome::Verification;
use super::sidecar::check_sidecar;
use super::source::{IN_MEMORY_MAX, Shared, Source, hash_reader, open_regular};
use dossier_plugin_api::encoding::hex;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use zip::ZipArchive;

/// Verifies a bundle (see the module documentation).
pub fn verify(path: &Path, limits: &Limits) -> Verification {
    verify_keeping(path, limits, None).0
}

/// [`verify`], also giving the zip archive it read (on the file it hashed) and, with `keep`,
/// the verified content of the members worth keeping for analysis ([`Kept`]).
pub(super) fn verify_keeping(
    path: &Path,
    limits: &Limits,
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
    let deadline = Deadline::of(limits, start, size);
    check_archive(&mut v, &mut zip, limits, keep, deadline);
    let cd = match bytes {
        Some(b) => central_directory_names(std::io::Cursor::new(b), size, limits.max_entries),
        None => central_directory_names(file, size, limits.max_entries),
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
