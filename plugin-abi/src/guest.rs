//! The plugin side of the ABI: what [`crate::export_plugin!`] expands to. A plugin written
//! against the safe traits ([`Collector`], [`Analyzer`], [`Reporter`]) needs no `unsafe` of its
//! own: the generic entry points here catch every panic, (de)serialize the JSON, and give a
//! collector a [`Host`] and an [`EvidenceSink`] that call back into dossier.

use crate::wire::{
    CollectInput, Copied, DocumentOut, ExecArg, ExecResult, HandleArg, LogArg, Opened, PathArg,
    ReadMeta, WireDirEntry,
};
use crate::{
    Buf, HostCallbacks, METHOD_ANALYZE, METHOD_COLLECT, METHOD_FLEET, METHOD_INFO,
    METHOD_REPORT_FINISH, METHOD_REPORT_HOST, METHOD_VALIDATE_CONFIG, OP_COPY_RAW, OP_EXEC,
    OP_FILE_CLOSE, OP_FILE_META, OP_FILE_READ, OP_HASH_FILE, OP_INFO, OP_ISSUE, OP_LOG, OP_LSTAT,
    OP_OPEN, OP_READ, OP_READ_DIR, OP_READ_LINK, OP_READ_MEMBER, OP_RECORD, OP_STAT, OP_STORE_RAW,
    STATUS_BAD_INPUT, STATUS_ERROR, STATUS_OK, STATUS_PANIC, WireError, panic_message,
};
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::analyzer::{AnalysisInput, Analyzer, FleetFacts, MemberReader};
use dossier_plugin_api::collect::{
    CollectContext, CollectError, Collector, CopyError, EvidenceSink, Issue, MemberRef, RawCopy,
    RawSource,
};
use dossier_plugin_api::encoding::{path_to_text, text_to_bytes, text_to_path};
use dossier_plugin_api::host::{
    DirEntry, ExecLimits, ExecOutput, FileHash, FileMeta, FileReader, Host, HostError,
    HostErrorKind, HostInfo, ReadOutcome,
};
use dossier_plugin_api::reporter::{FleetInput, Reporter};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::ffi::{OsString, c_void};
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A failed call: status code and error.
pub type CallFailure = (i32, WireError);

/// One instance of a plugin kind, as the generic entry points drive it.
pub trait GuestInstance: Send + Sync {
    /// Runs `method` with JSON `input`.
    fn call(
        &self,
        method: u32,
        input: &[u8],
        host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure>;
}

/// What [`crate::export_plugin!`] implements for a plugin: makes an instance of a kind.
pub trait MakeInstances {
    /// An instance of `kind` configured with `config`; `None` when the plugin has no such kind.
    fn make(
        kind: u32,
        config: &serde_json::Value,
    ) -> Option<Result<Box<dyn GuestInstance>, String>>;
}

/// `kind` (used by the macro to build the kind bit set from the types it was given).
pub const fn kind_of<T: ?Sized>(kind: u32) -> u32 {
    kind
}

fn bad_input(message: impl Into<String>) -> CallFailure {
    (STATUS_BAD_INPUT, WireError::new("bad_input", message))
}

fn parse<T: DeserializeOwned>(input: &[u8]) -> Result<T, CallFailure> {
    serde_json::from_slice(input).map_err(|e| bad_input(format!("input is not valid: {e}")))
}

fn json(v: &impl Serialize) -> Result<Vec<u8>, CallFailure> {
    serde_json::to_vec(v).map_err(|e| {
        (
            STATUS_ERROR,
            WireError::new("other", format!("output not serializable: {e}")),
        )
    })
}

fn failed(kind: &str, message: impl Into<String>) -> CallFailure {
    (STATUS_ERROR, WireError::new(kind, message))
}

fn unknown_method(method: u32) -> CallFailure {
    bad_input(format!("unknown method {method}"))
}

/// A collector behind the ABI.
pub struct CollectorGuest<C>(pub C);

impl<C: Collector> GuestInstance for CollectorGuest<C> {
    fn call(
        &self,
        method: u32,
        input: &[u8],
        host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure> {
        match method {
            METHOD_INFO => json(&self.0.info()),
            METHOD_VALIDATE_CONFIG => {
                let config: serde_json::Value = parse(input)?;
                self.0
                    .validate_config(&config)
                    .map_err(|e| failed("config", e))?;
                Ok(b"null".to_vec())
            }
            METHOD_COLLECT => {
                let input: CollectInput = parse(input)?;
                let cb = host.ok_or_else(|| bad_input("collect needs host callbacks"))?;
                let remote = RemoteHost::connect(cb).map_err(|e| {
                    (
                        STATUS_ERROR,
                        WireError {
                            kind: "host_lost".into(),
                            message: e.to_string(),
                            host: Some(e),
                        },
                    )
                })?;
                let mut sink = RemoteSink { cb: Cb(cb) };
                let mut cache = HashMap::new();
                let name = self.0.info().name;
                let mut ctx = CollectContext::new(
                    &name,
                    &remote,
                    &mut sink,
                    &input.config,
                    &input.prior,
                    &mut cache,
                );
                match self.0.collect(&mut ctx) {
                    Ok(()) => Ok(b"null".to_vec()),
                    Err(CollectError::Config(m)) => Err(failed("config", m)),
                    Err(CollectError::Sink(m)) => Err(failed("sink", m)),
                    Err(CollectError::Other(m)) => Err(failed("other", m)),
                    Err(CollectError::HostLost(e)) => Err((
                        STATUS_ERROR,
                        WireError {
                            kind: "host_lost".into(),
                            message: e.to_string(),
                            host: Some(e),
                        },
                    )),
                }
            }
            m => Err(unknown_method(m)),
        }
    }
}

/// An analyzer behind the ABI.
pub struct AnalyzerGuest<A>(pub A);

impl<A: Analyzer> GuestInstance for AnalyzerGuest<A> {
    fn call(
        &self,
        method: u32,
        input: &[u8],
        host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure> {
        match method {
            METHOD_INFO => json(&self.0.info()),
            METHOD_ANALYZE => {
                let input: AnalysisInput = parse(input)?;
                let cb = host.ok_or_else(|| bad_input("analyze needs member callbacks"))?;
                let mut members = RemoteMembers { cb: Cb(cb) };
                let out = self
                    .0
                    .analyze(&input, &mut members)
                    .map_err(|e| failed("other", e.0))?;
                json(&out)
            }
            METHOD_FLEET => {
                let hosts: Vec<FleetFacts> = parse(input)?;
                let out = self.0.fleet(&hosts).map_err(|e| failed("other", e.0))?;
                json(&out)
            }
            m => Err(unknown_method(m)),
        }
    }
}

/// A reporter behind the ABI (its methods take `&mut self`: calls are serialized).
pub struct ReporterGuest<R>(pub Mutex<R>);

impl<R: Reporter + Default> ReporterGuest<R> {
    /// A reporter made with `Default` and configured with `config`.
    pub fn configured(config: &serde_json::Value) -> Result<Self, String> {
        let mut r = R::default();
        r.configure(config).map_err(|e| e.0)?;
        Ok(ReporterGuest(Mutex::new(r)))
    }
}

impl<R: Reporter> GuestInstance for ReporterGuest<R> {
    fn call(
        &self,
        method: u32,
        input: &[u8],
        _host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, CallFailure> {
        let mut r = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match method {
            METHOD_INFO => json(&r.info()),
            METHOD_REPORT_HOST => {
                let a: HostAnalysis = parse(input)?;
                let document = r.host(&a).map_err(|e| failed("other", e.0))?;
                json(&DocumentOut { document })
            }
            METHOD_REPORT_FINISH => {
                let f: FleetInput = parse(input)?;
                let document = r.finish(&f).map_err(|e| failed("other", e.0))?;
                json(&DocumentOut { document })
            }
            m => Err(unknown_method(m)),
        }
    }
}

/// Writes `bytes` into `*out` (when `out` is not null).
///
/// # Safety
/// `out` must be null or valid for writes.
unsafe fn put(out: *mut Buf, bytes: Vec<u8>) {
    if !out.is_null() {
        // SAFETY: checked non-null; the caller guarantees validity.
        unsafe { out.write(Buf::from_vec(bytes)) };
    }
}

/// Runs `f`, turning a panic into [`STATUS_PANIC`] and an error into its status, with the
/// output in `*out`.
///
/// # Safety
/// `out` must be null or valid for writes.
unsafe fn guarded(out: *mut Buf, f: impl FnOnce() -> Result<Vec<u8>, CallFailure>) -> i32 {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(bytes)) => (STATUS_OK, bytes),
        Ok(Err((status, e))) => (status, e.to_json()),
        Err(p) => (
            STATUS_PANIC,
            WireError::new(
                "panic",
                format!("plugin panicked: {}", panic_message(p.as_ref())),
            )
            .to_json(),
        ),
    };
    // Dropping a panic payload or serializing cannot unwind further here in practice; guard
    // the write anyway so nothing ever crosses the boundary.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: per this function's contract.
        unsafe { put(out, bytes) }
    }));
    status
}

/// The `create` entry point of a plugin.
///
/// # Safety
/// Called by dossier through the vtable: `config` points to `config_len` bytes, `instance`
/// and `out` are valid for writes.
pub unsafe extern "C" fn create<M: MakeInstances>(
    kind: u32,
    config: *const u8,
    config_len: usize,
    instance: *mut *mut c_void,
    out: *mut Buf,
) -> i32 {
    // SAFETY: `out` per the contract.
    unsafe {
        guarded(out, || {
            if instance.is_null() || (config.is_null() && config_len > 0) {
                return Err(bad_input("null pointer"));
            }
            let bytes = if config.is_null() {
                &[][..]
            } else {
                // SAFETY: per the contract.
                std::slice::from_raw_parts(config, config_len)
            };
            let config: serde_json::Value = if bytes.is_empty() {
                serde_json::Value::Object(Default::default())
            } else {
                parse(bytes)?
            };
            let made = M::make(kind, &config)
                .ok_or_else(|| bad_input(format!("this plugin provides no kind {kind}")))?
                .map_err(|e| failed("config", e))?;
            let boxed: Box<Box<dyn GuestInstance>> = Box::new(made);
            // SAFETY: checked non-null; valid per the contract.
            instance.write(Box::into_raw(boxed).cast::<c_void>());
            Ok(Vec::new())
        })
    }
}

/// The `call` entry point.
///
/// # Safety
/// `instance` comes from [`create`] of this library and was not destroyed; `input` points to
/// `input_len` bytes; `host` is null or valid for the call; `out` is valid for writes.
pub unsafe extern "C" fn call(
    instance: *mut c_void,
    method: u32,
    input: *const u8,
    input_len: usize,
    host: *const HostCallbacks,
    out: *mut Buf,
) -> i32 {
    // SAFETY: `out` per the contract.
    unsafe {
        guarded(out, || {
            if instance.is_null() || (input.is_null() && input_len > 0) {
                return Err(bad_input("null pointer"));
            }
            // SAFETY: made by `create` (a `Box<Box<dyn GuestInstance>>`), alive per contract.
            let inst = &*instance.cast::<Box<dyn GuestInstance>>();
            let bytes = if input.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(input, input_len)
            };
            // SAFETY: null or valid for the call, per contract.
            let host = host.as_ref();
            if let Some(h) = host {
                if h.struct_size < std::mem::size_of::<HostCallbacks>() {
                    return Err(bad_input("host callbacks too old for this plugin"));
                }
            }
            inst.call(method, bytes, host)
        })
    }
}

/// The `free_buf` entry point: frees a buffer this library allocated.
///
/// # Safety
/// `buf` was returned by this library and is freed once.
pub unsafe extern "C" fn free_buf(buf: Buf) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: per the contract.
        drop(unsafe { buf.into_vec() });
    }));
}

/// The `destroy` entry point: drops an instance (a panicking destructor is reported).
///
/// # Safety
/// `instance` comes from [`create`] of this library and is destroyed once; `out` is null or
/// valid for writes.
pub unsafe extern "C" fn destroy(instance: *mut c_void, out: *mut Buf) -> i32 {
    // SAFETY: `out` per the contract.
    unsafe {
        guarded(out, || {
            if !instance.is_null() {
                // SAFETY: made by `create`, destroyed once per contract.
                drop(Box::from_raw(instance.cast::<Box<dyn GuestInstance>>()));
            }
            Ok(Vec::new())
        })
    }
}

/// The host callbacks of one call. Dossier serializes the operations behind a lock and keeps
/// the context alive for the whole call, so sharing it between the plugin's threads during the
/// call is sound.
#[derive(Clone, Copy)]
struct Cb<'a>(&'a HostCallbacks);

// SAFETY: see the type's documentation: the context is locked on dossier's side.
unsafe impl Send for Cb<'_> {}
// SAFETY: as above.
unsafe impl Sync for Cb<'_> {}

impl Cb<'_> {
    /// Runs a host operation; returns its JSON output and raw bytes.
    fn op(
        &self,
        op: u32,
        input: &impl Serialize,
        data: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), WireError> {
        let input = serde_json::to_vec(input)
            .map_err(|e| WireError::new("bad_input", format!("input not serializable: {e}")))?;
        let mut out = Buf::EMPTY;
        let mut out_data = Buf::EMPTY;
        let cb = self.0;
        // SAFETY: dossier keeps the callbacks valid during the call; the buffers are ours to
        // read and are handed back to dossier's `free_buf` once copied.
        let (status, json, bytes) = unsafe {
            let status = (cb.call)(
                cb.ctx,
                op,
                input.as_ptr(),
                input.len(),
                data.as_ptr(),
                data.len(),
                &mut out,
                &mut out_data,
            );
            let json = out.bytes().to_vec();
            let bytes = out_data.bytes().to_vec();
            (cb.free_buf)(out);
            (cb.free_buf)(out_data);
            (status, json, bytes)
        };
        if status == STATUS_OK {
            Ok((json, bytes))
        } else {
            Err(WireError::from_json(&json))
        }
    }

    fn op_json<T: DeserializeOwned>(
        &self,
        op: u32,
        input: &impl Serialize,
        data: &[u8],
    ) -> Result<(T, Vec<u8>), WireError> {
        let (json, bytes) = self.op(op, input, data)?;
        let v = serde_json::from_slice(&json)
            .map_err(|e| WireError::new("other", format!("unreadable answer from dossier: {e}")))?;
        Ok((v, bytes))
    }
}

fn host_error(e: WireError, path: Option<&Path>) -> HostError {
    e.host.unwrap_or_else(|| match path {
        Some(p) => HostError::new(HostErrorKind::Other, p, e.message),
        None => HostError::general(HostErrorKind::Other, e.message),
    })
}

fn path_arg(path: &Path, limit: Option<u64>) -> PathArg {
    PathArg {
        path: path_to_text(path),
        limit,
    }
}

/// The [`Host`] a plugin collector sees: every operation is a callback into dossier, which
/// runs it on its own transport (local, `--root` image or SSH).
pub struct RemoteHost<'a> {
    cb: Cb<'a>,
    info: HostInfo,
}

impl<'a> RemoteHost<'a> {
    fn connect(cb: &'a HostCallbacks) -> Result<RemoteHost<'a>, HostError> {
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

/// The [`MemberReader`] a plugin analyzer reads the bundle through.
struct RemoteMembers<'a> {
    cb: Cb<'a>,
}

impl MemberReader for RemoteMembers<'_> {
    fn read_member(&mut self, name: &str, cap: u64) -> Result<Vec<u8>, String> {
        let arg = PathArg {
            path: name.to_string(),
            limit: Some(cap),
        };
        self.cb
            .op(OP_READ_MEMBER, &arg, &[])
            .map(|(_, data)| data)
            .map_err(|e| e.message)
    }
}

/// The [`EvidenceSink`] a plugin collector writes through: dossier's bundle writer.
struct RemoteSink<'a> {
    cb: Cb<'a>,
}

impl EvidenceSink for RemoteSink<'_> {
    fn store_raw(&mut self, source: &RawSource, data: &[u8]) -> Result<MemberRef, String> {
        self.cb
            .op_json(OP_STORE_RAW, source, data)
            .map(|(m, _)| m)
            .map_err(|e| e.message)
    }

    fn copy_raw(
        &mut self,
        _host: &dyn Host,
        path: &Path,
        limit: u64,
    ) -> Result<RawCopy, CopyError> {
        match self
            .cb
            .op_json::<Copied>(OP_COPY_RAW, &path_arg(path, Some(limit)), &[])
        {
            Ok((c, _)) => Ok(RawCopy {
                member: c.member,
                source: c.source,
            }),
            Err(e) if e.kind == "host" => Err(CopyError::Host(host_error(e, Some(path)))),
            Err(e) => Err(CopyError::Sink(e.message)),
        }
    }

    fn record(&mut self, _collector: &str, record: serde_json::Value) -> Result<(), String> {
        self.cb
            .op(OP_RECORD, &record, &[])
            .map(|_| ())
            .map_err(|e| e.message)
    }

    fn issue(&mut self, _collector: &str, issue: Issue) {
        let _ = self.cb.op(OP_ISSUE, &issue, &[]);
    }

    fn log(&mut self, _collector: &str, message: &str) {
        let arg = LogArg {
            message: message.to_string(),
        };
        let _ = self.cb.op(OP_LOG, &arg, &[]);
    }
}

/// Exports a plugin written against the safe traits through the C ABI.
///
/// ```text
/// dossier_plugin_abi::export_plugin! {
///     name: "ssh-keys",
///     version: env!("CARGO_PKG_VERSION"),
///     collector: SshKeysCollector,   // any of collector / analyzer / reporter, in this order
///     analyzer: SshKeysAnalyzer,
/// }
/// ```
///
/// Each type implements its trait and `Default`. The macro defines the static metadata and
/// vtable and the exported `dossier_plugin_info` symbol; build the crate as a `cdylib`.
/// `export_plugin!(custom_info; ...)` defines everything but the exported symbol, for a crate
/// that exports `dossier_plugin_info` itself (tests of the loader's refusals).
#[macro_export]
macro_rules! export_plugin {
    (custom_info; name: $name:expr, version: $version:expr
        $(, collector: $c:ty)? $(, analyzer: $a:ty)? $(, reporter: $r:ty)? $(,)?) => {
        #[doc(hidden)]
        pub struct DossierPluginKinds;

        impl $crate::guest::MakeInstances for DossierPluginKinds {
            fn make(
                kind: u32,
                config: &$crate::__private::serde_json::Value,
            ) -> Option<Result<Box<dyn $crate::guest::GuestInstance>, String>> {
                $(
                    if kind == $crate::KIND_COLLECTOR {
                        let c = <$c as ::core::default::Default>::default();
                        return Some(Ok(Box::new($crate::guest::CollectorGuest(c))));
                    }
                )?
                $(
                    if kind == $crate::KIND_ANALYZER {
                        let a = <$a as ::core::default::Default>::default();
                        return Some(Ok(Box::new($crate::guest::AnalyzerGuest(a))));
                    }
                )?
                $(
                    if kind == $crate::KIND_REPORTER {
                        return Some(
                            $crate::guest::ReporterGuest::<$r>::configured(config)
                                .map(|g| Box::new(g) as Box<dyn $crate::guest::GuestInstance>),
                        );
                    }
                )?
                let _ = (kind, config);
                None
            }
        }

        #[doc(hidden)]
        pub static DOSSIER_PLUGIN_VTABLE: $crate::PluginVTable = $crate::PluginVTable {
            struct_size: ::core::mem::size_of::<$crate::PluginVTable>(),
            create: $crate::guest::create::<DossierPluginKinds>,
            call: $crate::guest::call,
            free_buf: $crate::guest::free_buf,
            destroy: $crate::guest::destroy,
        };

        /// The plugin's static metadata.
        pub static DOSSIER_PLUGIN_INFO: $crate::PluginInfo = $crate::PluginInfo {
            abi_version: $crate::ABI_VERSION,
            kinds: 0
                $(| $crate::guest::kind_of::<$c>($crate::KIND_COLLECTOR))?
                $(| $crate::guest::kind_of::<$a>($crate::KIND_ANALYZER))?
                $(| $crate::guest::kind_of::<$r>($crate::KIND_REPORTER))?,
            api_version: $crate::StrRef::new($crate::__private::API_VERSION),
            target: $crate::StrRef::new($crate::TARGET),
            name: $crate::StrRef::new($name),
            version: $crate::StrRef::new($version),
            vtable: &DOSSIER_PLUGIN_VTABLE,
        };
    };
    (name: $name:expr, version: $version:expr
        $(, collector: $c:ty)? $(, analyzer: $a:ty)? $(, reporter: $r:ty)? $(,)?) => {
        $crate::export_plugin!(custom_info; name: $name, version: $version
            $(, collector: $c)? $(, analyzer: $a)? $(, reporter: $r)?);

        /// The plugin's entry point: its static metadata.
        #[unsafe(no_mangle)]
        pub extern "C" fn dossier_plugin_info() -> *const $crate::PluginInfo {
            &DOSSIER_PLUGIN_INFO
        }
    };
}
