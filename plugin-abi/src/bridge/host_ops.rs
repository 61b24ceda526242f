//! The host and evidence operations a plugin collector calls back for during `collect`,
//! served over the orchestrator's own [`Host`] and [`EvidenceSink`].

use super::callbacks::{Answer, MAX_CHUNK, MAX_OPEN, MAX_PLUGIN_READ, answer, arg};
use crate::wire::{
    Copied, ExecArg, ExecResult, HandleArg, LogArg, Opened, PathArg, ReadMeta, WireDirEntry,
};
use crate::{
    OP_COPY_RAW, OP_EXEC, OP_FILE_CLOSE, OP_FILE_META, OP_FILE_READ, OP_HASH_FILE, OP_INFO,
    OP_ISSUE, OP_LOG, OP_LSTAT, OP_OPEN, OP_READ, OP_READ_DIR, OP_READ_LINK, OP_RECORD, OP_STAT,
    OP_STORE_RAW, WireError,
};
use dossier_plugin_api::collect::{CopyError, EvidenceSink, Issue, RawSource};
use dossier_plugin_api::encoding::{bytes_to_text, path_to_text, text_to_path};
use dossier_plugin_api::host::{ExecLimits, FileReader, Host, HostError, HostErrorKind};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// What the callbacks of one `collect` call work on.
pub(super) struct CallbackState<'s> {
    host: &'s dyn Host,
    sink: &'s mut dyn EvidenceSink,
    collector: String,
    files: HashMap<u64, Box<dyn FileReader + 's>>,
    next: u64,
    /// The connection to the host was lost during the call.
    lost: Option<HostError>,
}

impl<'s> CallbackState<'s> {
    /// The state of one `collect` call of `collector`.
    pub(super) fn new(
        host: &'s dyn Host,
        sink: &'s mut dyn EvidenceSink,
        collector: String,
    ) -> CallbackState<'s> {
        CallbackState {
            host,
            sink,
            collector,
            files: HashMap::new(),
            next: 1,
            lost: None,
        }
    }

    /// The host error that ended the connection during the call, if one did.
    pub(super) fn into_lost(self) -> Option<HostError> {
        self.lost
    }
}

impl CallbackState<'_> {
    fn host_err(&mut self, e: HostError) -> WireError {
        if matches!(e.kind, HostErrorKind::Disconnected | HostErrorKind::Timeout)
            && self.lost.is_none()
        {
            self.lost = Some(e.clone());
        }
        WireError {
            kind: "host".into(),
            message: e.to_string(),
            host: Some(e),
        }
    }

    /// Runs one operation of a plugin collector.
    pub(super) fn serve(&mut self, op: u32, input: &[u8], data: &[u8]) -> Answer {
        match op {
            OP_INFO => answer(&self.host.info()),
            OP_LSTAT | OP_STAT | OP_READ_LINK | OP_READ_DIR => self.path_op(op, input),
            OP_OPEN => self.open(input),
            OP_READ => self.read(input),
            OP_HASH_FILE => {
                let a: PathArg = arg(input)?;
                let path = text_to_path(&a.path);
                match self.host.hash_file(&path, a.limit.unwrap_or(u64::MAX)) {
                    Ok(h) => answer(&h),
                    Err(e) => Err(self.host_err(e)),
                }
            }
            OP_EXEC => self.exec(input),
            OP_FILE_READ | OP_FILE_META | OP_FILE_CLOSE => self.file_op(op, input),
            OP_STORE_RAW | OP_COPY_RAW | OP_RECORD | OP_ISSUE | OP_LOG => {
                self.evidence_op(op, input, data)
            }
            other => Err(WireError::new(
                "bad_input",
                format!("unknown operation {other}"),
            )),
        }
    }

    /// `lstat`, `stat`, `read_link` and `read_dir` of one path.
    fn path_op(&mut self, op: u32, input: &[u8]) -> Answer {
        let a: PathArg = arg(input)?;
        let path = text_to_path(&a.path);
        let r = match op {
            OP_LSTAT => self.host.lstat(&path).map(|m| answer(&m)),
            OP_STAT => self.host.stat(&path).map(|m| answer(&m)),
            OP_READ_LINK => self
                .host
                .read_link(&path)
                .map(|t| answer(&path_to_text(&t))),
            _ => self.host.read_dir(&path).map(|v| {
                answer(
                    &v.into_iter()
                        .map(|e| WireDirEntry {
                            name: bytes_to_text(e.name.as_bytes()),
                            kind: e.kind,
                        })
                        .collect::<Vec<_>>(),
                )
            }),
        };
        r.unwrap_or_else(|e| Err(self.host_err(e)))
    }

    /// Opens a regular file for streaming; the plugin gets a handle.
    fn open(&mut self, input: &[u8]) -> Answer {
        let a: PathArg = arg(input)?;
        let path = text_to_path(&a.path);
        if self.files.len() >= MAX_OPEN {
            return Err(WireError::new(
                "other",
                format!("more than {MAX_OPEN} files open at once"),
            ));
        }
        let host = self.host;
        match host.open(&path) {
            Ok(f) => {
                let h = self.next;
                self.next += 1;
                let meta = f.meta().clone();
                self.files.insert(h, f);
                answer(&Opened { handle: h, meta })
            }
            Err(e) => Err(self.host_err(e)),
        }
    }

    /// Reads a file into memory (at most [`MAX_PLUGIN_READ`]); the bytes travel beside.
    fn read(&mut self, input: &[u8]) -> Answer {
        let a: PathArg = arg(input)?;
        let path = text_to_path(&a.path);
        let limit = a.limit.unwrap_or(MAX_PLUGIN_READ).min(MAX_PLUGIN_READ);
        match self.host.read(&path, limit) {
            Ok(r) => {
                let (json, _) = answer(&ReadMeta {
                    truncated: r.truncated,
                    meta: r.meta,
                    changed_during_read: r.changed_during_read,
                    meta_after: r.meta_after,
                })?;
                Ok((json, r.data))
            }
            Err(e) => Err(self.host_err(e)),
        }
    }

    /// Runs a fixed system command (absolute program path), logged in the bundle.
    fn exec(&mut self, input: &[u8]) -> Answer {
        let a: ExecArg = arg(input)?;
        if a.argv.first().is_none_or(|p| !p.starts_with('/')) {
            return Err(WireError::new(
                "bad_input",
                "exec needs an absolute program path as argv[0]",
            ));
        }
        let collector = self.collector.clone();
        self.sink
            .log(&collector, &format!("exec requested: {}", a.argv.join(" ")));
        let argv: Vec<&str> = a.argv.iter().map(String::as_str).collect();
        let limits = ExecLimits {
            max_output: a.max_output.min(MAX_PLUGIN_READ),
            timeout: Duration::from_millis(a.timeout_ms.min(600_000)),
        };
        match self.host.exec(&argv, &limits) {
            Ok(o) => {
                let (json, _) = answer(&ExecResult {
                    status: o.status,
                    stderr: bytes_to_text(&o.stderr),
                    truncated: o.truncated,
                    timed_out: o.timed_out,
                })?;
                Ok((json, o.stdout))
            }
            Err(e) => Err(self.host_err(e)),
        }
    }

    /// The operations on a file opened with [`OP_OPEN`]: read a chunk, metadata now, close.
    fn file_op(&mut self, op: u32, input: &[u8]) -> Answer {
        let a: HandleArg = arg(input)?;
        if op == OP_FILE_CLOSE {
            self.files.remove(&a.handle);
            return answer(&serde_json::Value::Null);
        }
        let f = self
            .files
            .get_mut(&a.handle)
            .ok_or_else(|| WireError::new("bad_input", "no such open file"))?;
        if op == OP_FILE_META {
            return match f.meta_now() {
                Ok(m) => answer(&m),
                Err(e) => Err(self.host_err(e)),
            };
        }
        let mut buf = Vec::with_capacity(a.len.min(MAX_CHUNK));
        match f
            .by_ref()
            .take(a.len.min(MAX_CHUNK) as u64)
            .read_to_end(&mut buf)
        {
            Ok(_) => Ok((b"null".to_vec(), buf)),
            Err(e) => Err(WireError::new("host", format!("read failed: {e}"))),
        }
    }

    /// What goes into the bundle: raw members, records, issues and log lines.
    fn evidence_op(&mut self, op: u32, input: &[u8], data: &[u8]) -> Answer {
        let collector = self.collector.clone();
        match op {
            OP_STORE_RAW => {
                let source: RawSource = arg(input)?;
                match self.sink.store_raw(&source, data) {
                    Ok(m) => answer(&m),
                    Err(e) => Err(WireError::new("sink", e)),
                }
            }
            OP_COPY_RAW => {
                let a: PathArg = arg(input)?;
                let path = text_to_path(&a.path);
                let host = self.host;
                match self.sink.copy_raw(host, &path, a.limit.unwrap_or(u64::MAX)) {
                    Ok(c) => answer(&Copied {
                        member: c.member,
                        source: c.source,
                    }),
                    Err(CopyError::Host(e)) => Err(self.host_err(e)),
                    Err(CopyError::Sink(e)) => Err(WireError::new("sink", e)),
                }
            }
            OP_RECORD => {
                let v: serde_json::Value = arg(input)?;
                if !v.get("kind").is_some_and(serde_json::Value::is_string) {
                    return Err(WireError::new(
                        "bad_input",
                        "a record must be a JSON object with a string `kind`",
                    ));
                }
                self.sink
                    .record(&collector, v)
                    .map_err(|e| WireError::new("sink", e))?;
                answer(&serde_json::Value::Null)
            }
            OP_ISSUE => {
                let issue: Issue = arg(input)?;
                self.sink.issue(&collector, issue);
                answer(&serde_json::Value::Null)
            }
            _ => {
                let a: LogArg = arg(input)?;
                self.sink.log(&collector, &a.message);
                answer(&serde_json::Value::Null)
            }
        }
    }
}
