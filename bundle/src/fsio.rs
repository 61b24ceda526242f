//! Safe output files: every file dossier writes (bundles and their sidecars, reports, the
//! custody ledger, sweep summaries, baselines) is created through here, mode 0600 and opened
//! with `O_NOFOLLOW`, so a symbolic link planted under an output name (`report.partial`,
//! `custody.jsonl`, ...) is refused instead of followed, and checked before it is opened
//! (through an `O_PATH` descriptor), so a FIFO or device planted there is refused without
//! being opened: the run neither hangs nor makes a device act. Also: unpredictable temporary names created exclusively, output
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
fn nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
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
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// How [`open_checked`] opens a file once it is known to be a regular one.
#[derive(Clone, Copy)]
enum Access {
    Read,
    /// Write, truncated.
    Truncate,
    /// Read and append.
    Append,
}

/// Opens the regular file at `path` for `access` without opening anything else: the name is
/// first resolved into an `O_PATH` descriptor (no I/O open: a FIFO, socket or device under the
/// name is neither opened nor waited on, and with `follow` false a symbolic link is held as
/// the link itself), its type is checked on that descriptor, and only a regular file is then
/// opened, through it (`/proc/self/fd/N`: the kernel reopens that very inode, no path is
/// resolved again, so nothing swapped in between is reached). A missing file is an error of
/// kind `NotFound`.
fn open_checked(path: &Path, follow: bool, access: Access) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let mut flags = nix::fcntl::OFlag::O_PATH.bits();
    if !follow {
        flags |= nofollow();
    }
    let pinned = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let meta = pinned.metadata()?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(format!(
            "{}, not a regular file: refused (neither opened, read nor written)",
            kind_of(&meta)
        )));
    }
    let mut options = OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::Truncate => options.write(true).truncate(true),
        Access::Append => options.read(true).append(true),
    };
    options
        .open(format!("/proc/self/fd/{}", pinned.as_raw_fd()))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => std::io::Error::other(
                "cannot reopen through /proc/self/fd (is /proc mounted?); not opened",
            ),
            _ => e,
        })
}

/// [`open_checked`] for writing, creating the file (mode 0600, exclusively: a name taken in
/// between is checked again) when it is missing.
fn open_or_create(path: &Path, access: Access) -> std::io::Result<File> {
    for _ in 0..8 {
        match open_checked(path, false, access) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            r => return r,
        }
        let mut options = OpenOptions::new();
        match access {
            Access::Append => options.read(true).append(true),
            Access::Read | Access::Truncate => options.write(true),
        };
        match options
            .create_new(true)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(path)
        {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            r => return r,
        }
    }
    Err(std::io::Error::other(
        "its name keeps appearing and disappearing: refused",
    ))
}

/// Opens `path` for writing, created (mode 0600) when missing and truncated when present,
/// never through a symbolic link and only when it is a regular file (a FIFO or device is
/// refused without being opened, see [`open_checked`]). The one way to create an output
/// file whose name may exist (a `*.partial` file renamed into place once complete).
pub fn create_private(path: &Path) -> std::io::Result<File> {
    open_or_create(path, Access::Truncate)
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
    open_or_create(path, Access::Append)
}

/// Opens `path` for reading, never through a symbolic link and only when it is a regular file
/// (anything else is refused without being opened): for files dossier reads from its own
/// output directories (the custody ledger). A missing file is an error of kind `NotFound`.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    open_checked(path, false, Access::Read)
}

/// Opens an input file named by the user (a bundle, its sidecar, a key) for reading,
/// following symbolic links, and only when it is a regular file: what the name leads to is
/// checked before it is opened (see [`open_checked`]), so a FIFO or device is never opened,
/// not even one swapped in after an earlier check.
pub fn open_input(path: &Path) -> std::io::Result<File> {
    open_checked(path, true, Access::Read)
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

    /// A thread blocked opening the FIFO at `path` for `write` (or reading): its open returns
    /// as soon as anyone opens the other end, so the receiver says whether someone did.
    fn partner(
        path: &Path,
        write: bool,
    ) -> (std::sync::mpsc::Receiver<()>, std::thread::JoinHandle<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        let t = std::thread::spawn(move || {
            let f = OpenOptions::new().write(write).read(!write).open(&path);
            let _ = tx.send(());
            drop(f);
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        (rx, t)
    }

    /// Opens the other end of a FIFO, non-blocking (to release a [`partner`]).
    fn release(path: &Path, write: bool) -> File {
        OpenOptions::new()
            .write(write)
            .read(!write)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(path)
            .unwrap()
    }

    #[test]
    fn a_fifo_or_device_under_a_name_is_refused_without_being_opened() {
        use std::time::Duration;
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("b.zip");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // Readers: a writer is waiting for one.
        let (opened, t) = partner(&fifo, true);
        let readers: [fn(&Path) -> std::io::Result<File>; 2] = [open_input, open_regular];
        for open in readers {
            let e = open(&fifo).unwrap_err().to_string();
            assert!(e.contains("a FIFO, not a regular file: refused"), "{e}");
        }
        assert!(
            opened.recv_timeout(Duration::from_millis(300)).is_err(),
            "the FIFO was opened for reading"
        );
        let r = release(&fifo, false);
        opened.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
        drop(r);
        // Writers: a reader is waiting for one.
        let (opened, t) = partner(&fifo, false);
        let writers: [fn(&Path) -> std::io::Result<File>; 2] = [create_private, append_private];
        for open in writers {
            let e = open(&fifo).unwrap_err().to_string();
            assert!(e.contains("a FIFO"), "{e}");
        }
        assert!(write_synced(&fifo, b"x").is_err());
        assert!(
            opened.recv_timeout(Duration::from_millis(300)).is_err(),
            "the FIFO was opened for writing"
        );
        let w = release(&fifo, true);
        opened.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
        drop(w);

        // A device node (as root: mknod needs CAP_MKNOD), through a link too.
        let dev = d.path().join("null.zip");
        let made = nix::sys::stat::mknod(
            &dev,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
            nix::sys::stat::makedev(1, 3),
        );
        if made.is_ok() {
            let link = d.path().join("link.zip");
            std::os::unix::fs::symlink(&dev, &link).unwrap();
            for e in [
                open_input(&dev).unwrap_err(),
                open_input(&link).unwrap_err(),
                create_private(&dev).unwrap_err(),
            ] {
                assert!(e.to_string().contains("a character device"), "{e}");
            }
        }
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
