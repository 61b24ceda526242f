//! Files read over SFTP: metadata from SFTP attributes (no inode, ctime or nlink), and open
//! files through libssh2's SFTP subsystem or through our own client under sudo, both
//! counting the bytes read.

use super::host_errors::{client_error, sftp_error};
use crate::sftp_client::{Attrs, SftpClient, SftpError};
use dossier_plugin_api::Timestamp;
use dossier_plugin_api::host::{FileKind, FileMeta, FileReader, HostError};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// `FileMeta` from SFTP attributes (no inode, ctime or nlink over SFTP).
pub fn meta_from_sftp(st: &ssh2::FileStat) -> FileMeta {
    meta_from_attrs(&Attrs {
        size: st.size,
        uid: st.uid,
        gid: st.gid,
        perm: st.perm,
        atime: st.atime.map(|t| t.min(u32::MAX as u64) as u32),
        mtime: st.mtime.map(|t| t.min(u32::MAX as u64) as u32),
    })
}

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

/// A file open through the sudo SFTP client.
pub(super) struct SudoFile {
    pub(super) client: Arc<Mutex<SftpClient<ssh2::Channel>>>,
    pub(super) handle: Vec<u8>,
    pub(super) offset: u64,
    pub(super) meta: FileMeta,
    pub(super) counter: Arc<AtomicU64>,
    /// The host's count of SFTP requests: one per read call and per `fstat`.
    pub(super) trips: Arc<AtomicU64>,
}

impl Read for SudoFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(crate::sftp_client::READ_SIZE as usize) as u32;
        self.trips.fetch_add(1, Ordering::Relaxed);
        let data = {
            let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
            c.read(&self.handle, self.offset, want)
        }
        .map_err(|e| {
            let kind = match &e {
                SftpError::Io(io) => io.kind(),
                SftpError::Status { code: 3, .. } => std::io::ErrorKind::PermissionDenied,
                SftpError::Status { .. } => std::io::ErrorKind::Other,
                SftpError::Protocol(_) => std::io::ErrorKind::ConnectionAborted,
            };
            std::io::Error::new(kind, e.to_string())
        })?;
        buf[..data.len()].copy_from_slice(&data);
        self.offset += data.len() as u64;
        self.counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data.len())
    }
}

impl FileReader for SudoFile {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        self.trips.fetch_add(1, Ordering::Relaxed);
        let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
        c.fstat(&self.handle)
            .map(|a| meta_from_attrs(&a))
            .map_err(|e| client_error(e, Path::new("(open file)"), "fstat"))
    }
}

impl Drop for SudoFile {
    fn drop(&mut self) {
        let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let _ = c.close(&self.handle);
    }
}

pub(super) struct SshFile {
    pub(super) file: ssh2::File,
    pub(super) meta: FileMeta,
    pub(super) counter: Arc<AtomicU64>,
    /// The host's count of SFTP requests: one per read call and per `fstat`.
    pub(super) trips: Arc<AtomicU64>,
}

impl Read for SshFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.trips.fetch_add(1, Ordering::Relaxed);
        let n = self.file.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl FileReader for SshFile {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        self.trips.fetch_add(1, Ordering::Relaxed);
        self.file
            .stat()
            .map(|s| meta_from_sftp(&s))
            .map_err(|e| sftp_error(e, Path::new("(open file)"), "fstat"))
    }
}

/// Chunk handed to libssh2 per read: it splits a large read into pipelined SFTP requests.
pub(super) const READ_CHUNK: usize = 256 << 10;
