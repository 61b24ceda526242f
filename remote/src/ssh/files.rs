//! Files read over SFTP: metadata from SFTP attributes (no inode, ctime or nlink), and open
//! files read ahead through our SFTP client ([`ReadAhead`]), counting the bytes read.

use super::host_errors::client_error;
use crate::sftp_client::reader::ReadAhead;
use crate::sftp_client::{Attrs, SftpClient, SftpError};
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::host::{FileKind, FileMeta, FileReader, HostError};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// `FileMeta` from SFTP v3 attributes.
pub fn meta_from_attrs(a: &Attrs) -> FileMeta {
    let perm = a.perm.unwrap_or(0);
    let ts = |s: Option<u32>| s.and_then(|s| Timestamp::from_unix(i64::from(s), 0));
    FileMeta {
        kind: FileKind::from_mode(perm),
        mode: perm & 0o7777,
        uid: a.uid.unwrap_or(u32::MAX),
        gid: a.gid.unwrap_or(u32::MAX),
        size: a.size.unwrap_or(0),
        nlink: None,
        mtime: ts(a.mtime),
        ctime: None,
        atime: ts(a.atime),
        dev: None,
        inode: None,
    }
}

pub(super) fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

/// The SFTP client of a host, shared by the host and its open files.
pub(super) type Client = Arc<Mutex<SftpClient<ssh2::Channel>>>;

pub(super) fn lock(c: &Client) -> MutexGuard<'_, SftpClient<ssh2::Channel>> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file open through the SFTP client.
pub(super) struct SftpFile {
    pub(super) client: Client,
    /// `None` once closed.
    pub(super) reader: Option<ReadAhead>,
    pub(super) meta: FileMeta,
    pub(super) counter: Arc<AtomicU64>,
}

/// An SFTP error as an I/O error of `Read`, keeping what collectors tell apart.
fn io_of(e: SftpError) -> std::io::Error {
    let kind = match &e {
        SftpError::Io(io) => io.kind(),
        SftpError::Status { code: 3, .. } => std::io::ErrorKind::PermissionDenied,
        SftpError::Status { .. } => std::io::ErrorKind::Other,
        SftpError::Protocol(_) => std::io::ErrorKind::ConnectionAborted,
    };
    std::io::Error::new(kind, e.to_string())
}

impl Read for SftpFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(r) = self.reader.as_mut() else {
            return Ok(0);
        };
        let n = r.read(&mut lock(&self.client), buf).map_err(io_of)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl FileReader for SftpFile {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        let Some(r) = self.reader.as_mut() else {
            return Err(HostError::new(
                dossier_plugin_api::host::HostErrorKind::Other,
                Path::new("(open file)"),
                "fstat: file closed",
            ));
        };
        r.fstat_after(&mut lock(&self.client))
            .map(|a| meta_from_attrs(&a))
            .map_err(|e| client_error(e, Path::new("(open file)"), "fstat"))
    }
}

impl Drop for SftpFile {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.close(&mut lock(&self.client));
        }
    }
}
