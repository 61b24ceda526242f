//! Safe output files: every file dossier writes (bundles and their sidecars, reports, the
//! custody ledger, sweep summaries, baselines) is created through here, mode 0600 and opened
//! with `O_NOFOLLOW`, so a symbolic link planted under an output name (`report.partial`,
//! `custody.jsonl`, ...) is refused instead of followed. Also: output directories (0700), the
//! file-safe form of a host name, and the fsyncs that make renames durable.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Errors creating output directories and files.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot create output directory {path}: {source}")]
    OutDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `O_NOFOLLOW`: refuse to open through a symbolic link in the last path component.
fn nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
}

/// Opens `path` for writing, created (mode 0600) when missing and truncated when present,
/// never through a symbolic link. The one way to create an output file whose name may exist
/// (a `*.partial` file renamed into place once complete).
pub fn create_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
}

/// Creates `path` (mode 0600), failing when anything, a link included, has that name.
pub fn create_new_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
}

/// Opens `path` for reading and appending, created (mode 0600) when missing, never through a
/// symbolic link (the custody ledger).
pub fn append_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
}

/// Writes `data` to a new file (0600, see [`create_private`]) and fsyncs it.
pub fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = create_private(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Fsyncs a directory so renames in it are durable (best effort).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Creates `dir` (and parents) with mode 0700 when missing.
pub fn ensure_out_dir(dir: &Path) -> Result<(), FsError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| FsError::OutDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Turns a host name into a safe file-name part.
pub fn file_safe(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "unknown-host".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_safe_names() {
        assert_eq!(file_safe("../x y"), "_x_y");
        assert_eq!(file_safe(""), "unknown-host");
    }

    #[test]
    fn output_files_are_never_opened_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = d.path().join("report.partial");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(create_private(&link).is_err());
        assert!(write_synced(&link, b"x").is_err());
        assert!(create_new_private(&link).is_err());
        assert!(append_private(&link).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");

        let plain = d.path().join("plain");
        write_synced(&plain, b"one").unwrap();
        write_synced(&plain, b"two").unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), b"two");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plain).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
