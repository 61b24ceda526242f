//! The [`Host`] a plugin collector reads through: every operation is a callback into dossier.

use super::callbacks::{Cb, host_error, path_arg};
use crate::wire::{ExecArg, ExecResult, HandleArg, Opened, ReadMeta, WireDirEntry};
use crate::{
    HostCallbacks, OP_EXEC, OP_FILE_CLOSE, OP_FILE_META, OP_FILE_READ, OP_HASH_FILE, OP_INFO,
    OP_LSTAT, OP_OPEN, OP_READ, OP_READ_DIR, OP_READ_LINK, OP_STAT,
};
use dossier_plugin_api::encoding::{text_to_bytes, text_to_path};
use dossier_plugin_api::host::{
    DirEntry, ExecLimits, ExecOutput, FileHash, FileMeta, FileReader, Host, HostError, HostInfo,
    ReadOutcome,
};
use serde::de::DeserializeOwned;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The [`Host`] a plugin collector sees: every operation is a callback into dossier, which
/// runs it on its own transport (local, `--root` image or SSH).
pub struct RemoteHost<'a> {
    cb: Cb<'a>,
    info: HostInfo,
}

impl<'a> RemoteHost<'a> {
    pub(super) fn connect(cb: &'a HostCallbacks) -> Result<RemoteHost<'a>, HostError> {
        let cb = Cb(cb);
        let (info, _) = cb
            .op_json::<HostInfo>(OP_INFO, &serde_json::Value::Null, &[])
            .map_err(|e| host_error(e, None))?;
        Ok(RemoteHost { cb, info })
    }

    fn path_op<T: DeserializeOwned>(&self, op: u32, path: &Path) -> Result<T, HostError> {
        self.cb
            .op_json(op, &path_arg(path, None), &[])
            .map(|(v, _)| v)
            .map_err(|e| host_error(e, Some(path)))
    }
}

/// Chunk asked of dossier when streaming an open file.
const CHUNK: usize = 256 << 10;

struct RemoteFile<'h> {
    cb: Cb<'h>,
    handle: u64,
    meta: FileMeta,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl Read for RemoteFile<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() && !self.eof {
            let arg = HandleArg {
                handle: self.handle,
                len: out.len().max(CHUNK),
            };
            let (_, data) = self
                .cb
                .op(OP_FILE_READ, &arg, &[])
                .map_err(|e| std::io::Error::other(e.message))?;
            self.eof = data.is_empty();
            self.buf = data;
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl FileReader for RemoteFile<'_> {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }

    fn meta_now(&mut self) -> Result<FileMeta, HostError> {
        let arg = HandleArg {
            handle: self.handle,
            len: 0,
        };
        self.cb
            .op_json(OP_FILE_META, &arg, &[])
            .map(|(m, _)| m)
            .map_err(|e| host_error(e, None))
    }
}

impl Drop for RemoteFile<'_> {
    fn drop(&mut self) {
        let arg = HandleArg {
            handle: self.handle,
            len: 0,
        };
        let _ = self.cb.op(OP_FILE_CLOSE, &arg, &[]);
    }
}

impl Host for RemoteHost<'_> {
    fn info(&self) -> HostInfo {
        self.info.clone()
    }

    fn lstat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.path_op(OP_LSTAT, path)
    }

    fn stat(&self, path: &Path) -> Result<FileMeta, HostError> {
        self.path_op(OP_STAT, path)
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, HostError> {
        let t: String = self.path_op(OP_READ_LINK, path)?;
        Ok(text_to_path(&t))
    }

    fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, HostError> {
        let v: Vec<WireDirEntry> = self.path_op(OP_READ_DIR, path)?;
        Ok(v.into_iter()
            .map(|e| DirEntry {
                name: OsString::from_vec(text_to_bytes(&e.name)),
                kind: e.kind,
                mode: None,
            })
            .collect())
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader + '_>, HostError> {
        let o: Opened = self.path_op(OP_OPEN, path)?;
        Ok(Box::new(RemoteFile {
            cb: self.cb,
            handle: o.handle,
            meta: o.meta,
            buf: Vec::new(),
            pos: 0,
            eof: false,
        }))
    }

    fn exec(&self, argv: &[&str], limits: &ExecLimits) -> Result<ExecOutput, HostError> {
        let arg = ExecArg {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            max_output: limits.max_output,
            timeout_ms: limits.timeout.as_millis() as u64,
        };
        let (r, stdout) = self
            .cb
            .op_json::<ExecResult>(OP_EXEC, &arg, &[])
            .map_err(|e| host_error(e, None))?;
        Ok(ExecOutput {
            status: r.status,
            stdout,
            stderr: text_to_bytes(&r.stderr),
            truncated: r.truncated,
            timed_out: r.timed_out,
        })
    }

    fn read(&self, path: &Path, limit: u64) -> Result<ReadOutcome, HostError> {
        let (m, data) = self
            .cb
            .op_json::<ReadMeta>(OP_READ, &path_arg(path, Some(limit)), &[])
            .map_err(|e| host_error(e, Some(path)))?;
        Ok(ReadOutcome {
            data,
            truncated: m.truncated,
            meta: m.meta,
            changed_during_read: m.changed_during_read,
            meta_after: m.meta_after,
        })
    }

    fn hash_file(&self, path: &Path, limit: u64) -> Result<FileHash, HostError> {
        self.cb
            .op_json(OP_HASH_FILE, &path_arg(path, Some(limit)), &[])
            .map(|(h, _)| h)
            .map_err(|e| host_error(e, Some(path)))
    }
}
