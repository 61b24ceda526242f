//! Moving a finished bundle into place: its sidecar first (written under an unpredictable
//! temporary name), then the bundle, each renamed without replacing anything, under the first
//! free `<stem>.zip`, `<stem>-2.zip`, ...

use super::BundleError;
use crate::fsio::{sync_dir, write_unique_synced};
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
use std::path::{Path, PathBuf};

/// Writes `<name>.sha256` for `sha256` and renames `partial` to `<name>` in `out_dir`, where
/// `<name>` is the first free one of `<file_stem>.<ext>`, `<file_stem>-2.<ext>`, ... (`ext`
/// is `zip`, or `zip.age` for an encrypted bundle)
pub(super) fn place(
    out_dir: &Path,
    partial: &Path,
    file_stem: &str,
    ext: &str,
    sha256: &str,
) -> Result<PathBuf, BundleError> {
    for n in 1..10_000u32 {
        let name = if n == 1 {
            format!("{file_stem}.{ext}")
        } else {
            format!("{file_stem}-{n}.{ext}")
        };
        let final_path = out_dir.join(&name);
        let sum_path = out_dir.join(format!("{name}.sha256"));
        if final_path.exists() || sum_path.exists() {
            continue;
        }
        // Under an unpredictable name, created exclusively: nothing planted beforehand (a
        // file someone else holds open, a link, a FIFO) can become the sidecar.
        let sum_tmp = write_unique_synced(
            out_dir,
            &format!(".{name}.sha256."),
            ".partial",
            format!("{sha256}  {name}\n").as_bytes(),
        )
        .map_err(|source| BundleError::Sidecar {
            path: out_dir.join(format!(".{name}.sha256.*.partial")),
            source,
        })?;
        match renameat2(
            AT_FDCWD,
            &sum_tmp,
            AT_FDCWD,
            &sum_path,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {}
            Err(nix::errno::Errno::EEXIST) => {
                let _ = std::fs::remove_file(&sum_tmp);
                continue;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&sum_tmp);
                return Err(BundleError::Rename {
                    path: sum_path,
                    source: e,
                });
            }
        }
        match renameat2(
            AT_FDCWD,
            partial,
            AT_FDCWD,
            &final_path,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {
                sync_dir(out_dir);
                return Ok(final_path);
            }
            Err(nix::errno::Errno::EEXIST) => {
                let _ = std::fs::remove_file(&sum_path);
                continue;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&sum_path);
                return Err(BundleError::Rename {
                    path: final_path,
                    source: e,
                });
            }
        }
    }
    Err(BundleError::NoFreeName {
        stem: file_stem.to_string(),
    })
}
