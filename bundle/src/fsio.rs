//! Safe output files: every file dossier writes (bundles and their sidecars, reports, the
//! custody ledger, sweep summaries, baselines) is created through here, mode 0600 and opened
//! with `O_NOFOLLOW`, so a symbolic link planted under an output name (`report.partial`,
//! `custody.jsonl`, ...) is refused instead of followed, and non-blocking, so a FIFO planted
//! there is refused (after an `fstat`: only regular files are written or read) instead of
//! hanging the run. Also: unpredictable temporary names created exclusively, output
//! directories (created 0700; an existing one is checked for owner and mode), the file-safe
//! form of a host name, and the fsyncs that make renames durable.

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
    /// An existing output directory that someone else could write into or swap.
    #[error("refusing output directory {path}: {why}")]
    UnsafeOutDir { path: PathBuf, why: String },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `O_NOFOLLOW`: refuse to open through a symbolic link in the last path component.
/// `O_NONBLOCK`: a FIFO (or device) planted under the name cannot make the open hang; what
/// was opened is then checked by [`regular_only`] before a byte is read or written.
fn nofollow() -> i32 {
    (nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK).bits()
}

/// What kind of file `meta` describes, for an error message.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The file opened by `opened` (with [`nofollow`]) when it is a regular file, in blocking
/// mode again; otherwise a one-line error saying what is there instead.
fn regular_only(opened: std::io::Result<File>) -> std::io::Result<File> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let refused = |what: &str| {
        std::io::Error::other(format!(
            "{what}, not a regular file: refused (neither read nor written)"
        ))
    };
    let file = opened.map_err(|e| match e.raw_os_error() {
        Some(nix::libc::ELOOP) => refused("a symbolic link"),
        // Write-only and non-blocking: a FIFO nobody reads (or a device without one).
        Some(nix::libc::ENXIO) => refused("a FIFO or device"),
        _ => e,
    })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(refused(kind_of(&meta)));
    }
    let flags = fcntl(&file, FcntlArg::F_GETFL).map_err(std::io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
    fcntl(&file, FcntlArg::F_SETFL(flags)).map_err(std::io::Error::from)?;
    Ok(file)
}

/// Opens `path` for writing, created (mode 0600) when missing and truncated when present,
/// never through a symbolic link and only when it is a regular file (a FIFO is refused, not
/// waited on). The one way to create an output file whose name may exist (a `*.partial`
/// file renamed into place once complete).
pub fn create_private(path: &Path) -> std::io::Result<File> {
    regular_only(
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(path),
    )
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

/// Creates a new file (mode 0600, exclusively: nothing with that name may exist, a link
/// included) in `dir` under an unpredictable name `<prefix><32 random hex digits><suffix>`,
/// so that nobody can plant a file, link or FIFO under it beforehand. Returns it and its path.
pub fn create_unique_private(
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> std::io::Result<(File, PathBuf)> {
    let mut last = None;
    for _ in 0..16 {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(std::io::Error::other)?;
        let path = dir.join(format!(
            "{prefix}{}{suffix}",
            dossier_plugin_api::encoding::hex(&random)
        ));
        match create_new_private(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free name")))
}

/// Opens `path` for reading and appending, created (mode 0600) when missing, never through a
/// symbolic link and only when it is a regular file (the custody ledger).
pub fn append_private(path: &Path) -> std::io::Result<File> {
    regular_only(
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(path),
    )
}

/// Opens `path` for reading, never through a symbolic link and only when it is a regular file
/// (a FIFO is refused, not waited on): for files dossier reads from its own output directories
/// (the custody ledger). A missing file is an error of kind `NotFound`.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    regular_only(
        OpenOptions::new()
            .read(true)
            .custom_flags(nofollow())
            .open(path),
    )
}

/// Opens an input file named by the user (a bundle, its sidecar) for reading, following
/// symbolic links, and only when what was opened is a regular file: opened non-blocking and
/// checked with `fstat`, so a path swapped for a FIFO after any earlier check cannot hang.
pub fn open_input(path: &Path) -> std::io::Result<File> {
    regular_only(
        OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(path),
    )
}

/// Writes `data` to a new file (0600, see [`create_private`]) and fsyncs it.
pub fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = create_private(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Writes `data` to a new file in `dir` under an unpredictable name (see
/// [`create_unique_private`]), fsyncs it and returns its path.
pub fn write_unique_synced(
    dir: &Path,
    prefix: &str,
    suffix: &str,
    data: &[u8],
) -> std::io::Result<PathBuf> {
    let (mut f, path) = create_unique_private(dir, prefix, suffix)?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(path)
}

/// Fsyncs a directory so renames in it are durable (best effort).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Creates `dir` (and parents) with mode 0700 when missing. An existing `dir` is used only
/// when it is a directory owned by the running user or root that neither group nor others
/// may write (and, when it is a symbolic link, the link is owned by one of them too):
/// otherwise someone else could plant or swap files in it.
pub fn ensure_out_dir(dir: &Path) -> Result<(), FsError> {
    match std::fs::symlink_metadata(dir) {
        Ok(_) => return check_out_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(FsError::OutDir {
                path: dir.to_path_buf(),
                source,
            });
        }
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

/// Why an existing output directory is refused (see [`ensure_out_dir`]).
fn check_out_dir(dir: &Path) -> Result<(), FsError> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_dir = |why: String| FsError::UnsafeOutDir {
        path: dir.to_path_buf(),
        why,
    };
    let me = nix::unistd::geteuid().as_raw();
    let trusted = |uid: u32| uid == me || uid == 0;
    let owner = |what: &str, uid: u32| {
        unsafe_dir(format!(
            "{what} is owned by uid {uid}, not by the user running dossier (uid {me}) or root"
        ))
    };
    let link = std::fs::symlink_metadata(dir).map_err(|source| FsError::OutDir {
        path: dir.to_path_buf(),
        source,
    })?;
    if link.file_type().is_symlink() && !trusted(link.uid()) {
        return Err(owner("the symbolic link", link.uid()));
    }
    let meta = std::fs::metadata(dir).map_err(|source| FsError::OutDir {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(unsafe_dir(format!("{}, not a directory", kind_of(&meta))));
    }
    if !trusted(meta.uid()) {
        return Err(owner("it", meta.uid()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "group or others may write to it (mode {mode:04o}); use a directory only you can write"
        )));
    }
    Ok(())
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
