//! `Host`: the read-only view of one machine that every collector is written against.
//!
//! Semantics shared by all transports (local, `--root` image, SSH):
//! - Paths are absolute paths *on the target*. For an image they are resolved inside the image
//!   root, and no symlink may lead out of it.
//! - [`Host::lstat`] and [`Host::read_link`] do not follow a final symlink; [`Host::stat`],
//!   [`Host::read_dir`] and [`Host::open`] do.
//! - [`Host::open`] opens regular files only. FIFOs, sockets and device files are refused with
//!   [`HostErrorKind::NotRegular`] *without being opened* (opening a FIFO can hang, opening a
//!   device can have side effects).
//! - Nothing is ever written, and the only programs run are the few fixed, absolute-path system
//!   tools a collector asks for through [`Host::exec`], where the transport allows it.

use crate::encoding::{hex, path_to_text};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which transport a host is reached through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    /// The machine dossier runs on.
    Local,
    /// A mounted disk image or directory tree (`--root DIR`): dead-box, no `/proc`.
    Image,
    /// A remote machine over SSH.
    Ssh,
}

/// What a transport says about the host it reaches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Transport kind.
    pub kind: HostKind,
    /// Human label: `local`, `image:/mnt/evidence`, `ssh:root@10.0.0.5:22`.
    pub label: String,
    /// Whether the system is running (has a live `/proc`).
    pub live: bool,
    /// Whether [`Host::exec`] may be used.
    pub can_exec: bool,
    /// PIDs of the collection itself on this host (the `dossier` process of a local live
    /// collection): collectors record them marked as such, and rules do not judge them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own_pids: Vec<u32>,
}

/// Type of a file system object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

impl FileKind {
    /// From the `S_IFMT` bits of a Unix mode.
    pub fn from_mode(mode: u32) -> FileKind {
        match mode & 0o170000 {
            0o100000 => FileKind::File,
            0o040000 => FileKind::Dir,
            0o120000 => FileKind::Symlink,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            0o020000 => FileKind::CharDevice,
            0o060000 => FileKind::BlockDevice,
            _ => FileKind::Unknown,
        }
    }

    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::File => "regular file",
            FileKind::Dir => "directory",
            FileKind::Symlink => "symlink",
            FileKind::Fifo => "FIFO",
            FileKind::Socket => "socket",
            FileKind::CharDevice => "character device",
            FileKind::BlockDevice => "block device",
            FileKind::Unknown => "unknown file type",
        }
    }
}

/// Metadata of a file at one moment. Fields a transport cannot supply are `None`
/// (SFTP, for instance, has no inode or ctime).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    pub kind: FileKind,
    /// Permission bits, including setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nlink: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atime: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
}

impl FileMeta {
    /// Whether any execute bit is set.
    pub fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }

    /// The identity of the file (device, inode) when the transport knows it.
    pub fn identity(&self) -> Option<(u64, u64)> {
        Some((self.dev?, self.inode?))
    }

    /// Whether the content may have changed between `self` (earlier) and `later`: size,
    /// mtime or ctime differ.
    pub fn changed_since(&self, later: &FileMeta) -> bool {
        self.size != later.size || self.mtime != later.mtime || self.ctime != later.ctime
    }
}

/// One directory entry. `kind` is the type without following symlinks, when the transport
/// gives it cheaply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: OsString,
    pub kind: Option<FileKind>,
    /// Permission bits (`mode & 0o7777`, setuid and setgid included) when the transport gives
    /// them with the listing (SFTP does), so that a walk need not stat every entry.
    pub mode: Option<u32>,
}

/// Classes of failure a collector may react to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostErrorKind {
    NotFound,
    PermissionDenied,
    /// Not a regular file (FIFO, socket, device, directory): refused without opening.
    NotRegular,
    NotADirectory,
    /// A symlink or `..` tried to leave the image root.
    EscapesRoot,
    /// Too many levels of symbolic links.
    Loop,
    /// The transport cannot do this (e.g. `exec` on an image).
    Unsupported,
    Timeout,
    /// The connection to the host was lost.
    Disconnected,
    /// The file is larger than the cap the caller gave.
    TooLarge,
    Other,
}

/// A failure of one host operation, with the path it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct HostError {
    pub kind: HostErrorKind,
    /// Record text of the path (see [`crate::encoding`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub message: String,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl HostError {
    /// An error about `path`.
    pub fn new(kind: HostErrorKind, path: &Path, message: impl Into<String>) -> Self {
        HostError {
            kind,
            path: Some(path_to_text(path)),
            message: message.into(),
        }
    }

    /// An error not tied to one path.
    pub fn general(kind: HostErrorKind, message: impl Into<String>) -> Self {
        HostError {
            kind,
            path: None,
            message: message.into(),
        }
    }

    /// The operation is not available on this transport.
    pub fn unsupported(what: &str) -> Self {
        HostError::general(
            HostErrorKind::Unsupported,
            format!("{what}: not supported by this host"),
        )
    }

    /// `true` for "not found".
    pub fn is_not_found(&self) -> bool {
        self.kind == HostErrorKind::NotFound
    }
}

/// Limits for [`Host::exec`].
#[derive(Clone, Debug)]
pub struct ExecLimits {
    /// Bytes kept of stdout (the rest is discarded and `truncated` set).
    pub max_output: u64,
    pub timeout: Duration,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            max_output: 16 << 20,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Result of a command run on the host.
#[derive(Clone, Debug, Default)]
pub struct ExecOutput {
    /// Exit status; `None` when killed by a signal or timed out.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: bool,
    pub timed_out: bool,
}

/// An open regular file on the host.
pub trait FileReader: Read + Send {
    /// Metadata taken right after opening (of the opened file itself, not the path).
    fn meta(&self) -> &FileMeta;
    /// Metadata now; compared with [`FileReader::meta`] it tells whether the file changed while
    /// it was read.
    fn meta_now(&mut self) -> Result<FileMeta, HostError>;
}

/// Bytes read from a file, with what is needed to judge them.
#[derive(Clone, Debug)]
pub struct ReadOutcome {
    pub data: Vec<u8>,
    /// The file had more bytes than the limit.
    pub truncated: bool,
    /// Metadata at open.
    pub meta: FileMeta,
    /// Size, mtime or ctime changed while reading.
    pub changed_during_read: bool,
    /// Metadata after reading, when it differs from `meta`.
    pub meta_after: Option<FileMeta>,
}

impl ReadOutcome {
    /// The outcome of reading `data` from a file opened with metadata `meta`; `after` is its
    /// metadata once read (when available), which tells whether it changed meanwhile.
    pub fn new(data: Vec<u8>, truncated: bool, meta: FileMeta, after: Option<FileMeta>) -> Self {
        let changed = after.as_ref().is_some_and(|a| meta.changed_since(a));
        ReadOutcome {
            data,
            truncated,
            meta,
            changed_during_read: changed,
            meta_after: after.filter(|_| changed),
        }
    }
}

/// The program of an `exec` argv: it must be there and be an absolute path (no `PATH`
/// lookup on the target).
pub fn exec_program<'a>(argv: &[&'a str]) -> Result<&'a str, HostError> {
    let prog = argv
        .first()
        .ok_or_else(|| HostError::general(HostErrorKind::Other, "exec: empty argv"))?;
    if !prog.starts_with('/') {
        return Err(HostError::general(
            HostErrorKind::Other,
            format!("exec: {prog}: program must be an absolute path"),
        ));
    }
    Ok(prog)
}

/// SHA-256 of a file's content as read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub sha256: String,
    /// Bytes hashed.
    pub bytes: u64,
    /// The file was longer than the limit: the hash covers only the first `bytes`.
    pub truncated: bool,
}

/// The read-only view of one machine. See the module documentation for path semantics.
pub trait Host: Send + Sync {
    /// Transport and capabilities.
    fn info(&self) -> HostInfo;

    /// Metadata, not following a final symlink.
    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError>;

    /// Metadata, following symlinks.
    fn stat(&self, path: &Path) -> Result<FileMeta, HostError>;

    /// [`Host::lstat`] of each of `paths`, in their order. A transport with round trips asks
    /// for them together (over SSH, one batch of requests); a decorator forwards the batch.
    fn lstat_many(&self, paths: &[PathBuf]) -> Vec<Result<FileMeta, HostError>> {
        paths.iter().map(|p| self.lstat(p)).collect()
    }

    /// Target of a symlink, as stored (not resolved).
    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError>;

    /// [`Host::read_link`] of each of `paths`, in their order. A transport with round trips
    /// asks for them together; a decorator forwards the batch.
    fn read_links(&self, paths: &[PathBuf]) -> Vec<Result<PathBuf, HostError>> {
        paths.iter().map(|p| self.read_link(p)).collect()
    }

    /// Entries of a directory, without `.` and `..`, in no particular order.
    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError>;

    /// [`Host::read_dir`] of each of `paths`, in their order. A transport with round trips
    /// lists them together (over SSH, one batch of requests for all); a decorator forwards
    /// the batch.
    fn read_dirs(&self, paths: &[PathBuf]) -> Vec<Result<Vec<DirEntry>, HostError>> {
        paths.iter().map(|p| self.read_dir(p)).collect()
    }

    /// Opens a regular file for reading; anything else is refused without being opened.
    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError>;

    /// Value of the extended attribute `name` of the file at `path`, not following a final
    /// symlink; `Ok(None)` when the file has no such attribute. Transports that cannot read
    /// extended attributes (SFTP has none) answer [`HostErrorKind::Unsupported`]: a caller
    /// records that as not collected, never as "no attribute".
    fn xattr(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        let _ = name;
        Err(HostError::new(
            HostErrorKind::Unsupported,
            path,
            "extended attributes: not supported by this host",
        ))
    }

    /// How many round trips the transport has made to the host so far (over SSH: times
    /// SFTP requests were sent and waited for; requests sent together count once), for
    /// measuring what collection costs; `None` for transports without round trips (the
    /// local machine, an image). A decorator forwards its inner host's count.
    fn round_trips(&self) -> Option<u64> {
        None
    }

    /// Runs a fixed system command (argv, no shell) when the transport allows it.
    fn exec(&self, argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        let _ = (argv, limits);
        Err(HostError::unsupported("exec"))
    }

    /// Reads at most `limit` bytes of a regular file.
    fn read(&self, path: &Path, limit: u64) -> Result<ReadOutcome, HostError> {
        let mut f = self.open(path)?;
        let meta = f.meta().clone();
        let mut data = Vec::with_capacity(meta.size.min(limit).min(1 << 20) as usize);
        let io = |e: std::io::Error| {
            HostError::new(HostErrorKind::Other, path, format!("read failed: {e}"))
        };
        f.by_ref().take(limit).read_to_end(&mut data).map_err(io)?;
        let mut probe = [0u8; 1];
        let truncated = data.len() as u64 == limit && f.read(&mut probe).map_err(io)? > 0;
        let after = f.meta_now().ok();
        Ok(ReadOutcome::new(data, truncated, meta, after))
    }

    /// [`Host::read`] of each of `paths` (at most `limit` bytes each), in their order. A
    /// transport with round trips reads them together (over SSH, their requests sent in
    /// batches); a decorator forwards the batch.
    fn read_many(&self, paths: &[PathBuf], limit: u64) -> Vec<Result<ReadOutcome, HostError>> {
        paths.iter().map(|p| self.read(p, limit)).collect()
    }

    /// SHA-256 of the first `limit` bytes of a regular file (the whole file when smaller).
    fn hash_file(&self, path: &Path, limit: u64) -> Result<FileHash, HostError> {
        let mut f = self.open(path)?;
        let mut h = Sha256::new();
        // A buffer fitted to the file: over SFTP every read of the buffer's size asks the
        // server for that much (and libssh2 for four times more), even for a small file.
        let fit = f
            .meta()
            .size
            .min(limit)
            .saturating_add(1)
            .clamp(4096, 256 << 10);
        let mut buf = vec![0u8; fit as usize];
        let mut total = 0u64;
        loop {
            let want = (limit - total).min(buf.len() as u64) as usize;
            if want == 0 {
                let truncated = f
                    .read(&mut buf[..1])
                    .map_err(|e| HostError::new(HostErrorKind::Other, path, e.to_string()))?
                    > 0;
                return Ok(FileHash {
                    sha256: hex(&h.finalize()),
                    bytes: total,
                    truncated,
                });
            }
            let n = f.read(&mut buf[..want]).map_err(|e| {
                HostError::new(HostErrorKind::Other, path, format!("read failed: {e}"))
            })?;
            if n == 0 {
                return Ok(FileHash {
                    sha256: hex(&h.finalize()),
                    bytes: total,
                    truncated: false,
                });
            }
            h.update(&buf[..n]);
            total += n as u64;
        }
    }
}
