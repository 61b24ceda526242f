//! The C ABI between dossier and dynamically loaded plugins (see the README, "Plugins"). Only
//! plain C types cross it; every structured value is JSON bytes.
//!
//! This crate holds both sides of the boundary, and all the `unsafe` of the plugin system:
//! - [`bridge`], dossier's side: checks a loaded library's static metadata and wraps its
//!   instances in the safe traits of `dossier-plugin-api`, calling them through a
//!   [`bridge::Transport`] (opening the file is the loader's job, in `dossier-cli`);
//! - [`guest`] and [`export_plugin!`], the plugin's side: a plugin written against the safe
//!   traits exports itself with the macro and needs no `unsafe` of its own;
//! - [`wire`], the JSON shapes both sides exchange.
//!
//! A plugin crate depends on `dossier-plugin-api` (the contract it implements) and on this
//! crate (to export it).
//!
//! # Versions
//! [`ABI_VERSION`] is the version of this ABI: the layout of [`PluginInfo`], [`PluginVTable`]
//! and [`HostCallbacks`], the calling and memory conventions, the method and operation codes.
//! It is independent of this crate's version and of the plugin contract's version
//! (`dossier_plugin_api::API_VERSION`, which [`PluginInfo::api_version`] carries). Bump it
//! when a plugin built earlier could no longer be called safely (a changed layout or meaning);
//! adding an entry at the end of the vtable or of [`HostCallbacks`] (their sizes say which
//! entries exist) or a new method or operation code does not need a bump.
//!
//! dossier loads and calls a library only in a plugin host child process (`dossier-cli`,
//! `plugins/`), which carries the JSON of these calls to and from dossier unchanged; the
//! [`bridge::Transport`] trait is where the two meet. At load time
//! ([`bridge::PluginLib::check`], in that child) the loader checks, in this order and before
//! running any of the plugin's code beyond `dossier_plugin_info`: the ABI version (the first
//! field, read alone, must equal [`ABI_VERSION`]), the plugin API version (same major; for
//! 0.x, same minor as `dossier_plugin_api::API_VERSION`), the target triple ([`TARGET`]), the
//! names, the kinds and the vtable size.
//!
//! # Layout
//! A plugin library exports one symbol, `dossier_plugin_info`, an `extern "C" fn() -> *const
//! PluginInfo` returning static metadata. [`PluginInfo::abi_version`] is its first field in
//! every ABI version: the loader reads it before anything else and refuses a library whose
//! version differs from [`ABI_VERSION`], then checks the plugin API semver and the target
//! triple, and only then looks at the vtable. The vtable starts with its own size
//! ([`PluginVTable::struct_size`]): entries are only ever added at its end, and a caller never
//! uses an entry beyond the size the plugin reports.
//!
//! # Calls
//! `create(kind, config)` makes an instance of one of the kinds the plugin provides (collector,
//! analyzer, reporter); `call(instance, method, input, callbacks)` runs a method with JSON input
//! and returns JSON output; `destroy` drops the instance. The instance of a collector or an
//! analyzer may be called from several threads at once.
//!
//! # Memory
//! Whoever allocates a buffer frees it: output the plugin allocated is returned in a [`Buf`]
//! and handed back to the plugin's `free_buf`; output of a host callback is freed with the
//! `free_buf` of [`HostCallbacks`].
//!
//! # Errors and panics
//! Every exported function body runs inside `catch_unwind` (a panic that crosses `extern "C"`
//! aborts the process): a failure returns a non-zero status ([`STATUS_ERROR`],
//! [`STATUS_PANIC`], ...) with a JSON [`WireError`] in the output buffer. dossier does the same
//! in its callbacks.
//!
//! # Host access
//! A collector reaches the host only through [`HostCallbacks`]: one `call(ctx, op, ...)` entry
//! with an operation code ([`OP_LSTAT`], [`OP_READ`], ...), JSON input and optionally raw bytes
//! beside it (file content travels as raw bytes, not JSON). Raw evidence and records go through
//! the same callbacks into dossier's bundle writer, which hashes every member as it does for
//! built-in collectors.

pub mod bridge;
pub mod guest;
pub mod wire;

/// What [`export_plugin!`] expands to refers to, reachable from the plugin's crate.
#[doc(hidden)]
pub mod __private {
    pub use dossier_plugin_api::API_VERSION;
    pub use serde_json;
}

use std::ffi::c_void;

/// Version of this ABI (see "Versions" above): not the crate's version. A plugin whose
/// `abi_version` differs is refused.
pub const ABI_VERSION: u32 = 1;

/// Target triple this crate (and so a plugin built with it) was compiled for.
pub const TARGET: &str = env!("DOSSIER_PLUGIN_TARGET");

/// Name of the symbol every plugin library exports.
pub const INFO_SYMBOL: &[u8] = b"dossier_plugin_info";

/// The plugin provides a collector.
pub const KIND_COLLECTOR: u32 = 1;
/// The plugin provides an analyzer.
pub const KIND_ANALYZER: u32 = 2;
/// The plugin provides a reporter.
pub const KIND_REPORTER: u32 = 4;

/// Every kind, with its name.
pub const KINDS: [(u32, &str); 3] = [
    (KIND_COLLECTOR, "collector"),
    (KIND_ANALYZER, "analyzer"),
    (KIND_REPORTER, "reporter"),
];

/// Success.
pub const STATUS_OK: i32 = 0;
/// The call failed; the output holds a [`WireError`].
pub const STATUS_ERROR: i32 = 1;
/// The callee panicked (caught at the boundary); the output holds a [`WireError`].
pub const STATUS_PANIC: i32 = 2;
/// The input could not be understood (bad JSON, null pointer, unknown method or kind).
pub const STATUS_BAD_INPUT: i32 = 3;

/// Method: static description (`CollectorInfo`, `AnalyzerInfo` or `ReporterInfo`).
pub const METHOD_INFO: u32 = 1;
/// Collector: check a playbook section.
pub const METHOD_VALIDATE_CONFIG: u32 = 2;
/// Collector: collect through the host callbacks.
pub const METHOD_COLLECT: u32 = 3;
/// Analyzer: analyze one bundle's records.
pub const METHOD_ANALYZE: u32 = 4;
/// Analyzer: fleet-level findings.
pub const METHOD_FLEET: u32 = 5;
/// Reporter: one host.
pub const METHOD_REPORT_HOST: u32 = 6;
/// Reporter: the fleet document.
pub const METHOD_REPORT_FINISH: u32 = 7;

/// Host callback: transport and capabilities (`HostInfo`).
pub const OP_INFO: u32 = 1;
/// Host callback: `lstat`.
pub const OP_LSTAT: u32 = 2;
/// Host callback: `stat`.
pub const OP_STAT: u32 = 3;
/// Host callback: `read_link`.
pub const OP_READ_LINK: u32 = 4;
/// Host callback: `read_dir`.
pub const OP_READ_DIR: u32 = 5;
/// Host callback: read at most `limit` bytes of a regular file (content as raw bytes).
pub const OP_READ: u32 = 6;
/// Host callback: SHA-256 of a file.
pub const OP_HASH_FILE: u32 = 7;
/// Host callback: run a fixed system command, where the transport allows it.
pub const OP_EXEC: u32 = 8;
/// Host callback: open a regular file for streaming (returns a handle).
pub const OP_OPEN: u32 = 9;
/// Host callback: next bytes of an open file (empty at end of file).
pub const OP_FILE_READ: u32 = 10;
/// Host callback: metadata of an open file now.
pub const OP_FILE_META: u32 = 11;
/// Host callback: close an open file.
pub const OP_FILE_CLOSE: u32 = 12;
/// Evidence callback: store bytes already read as a raw member.
pub const OP_STORE_RAW: u32 = 13;
/// Evidence callback: stream a file from the host into the bundle.
pub const OP_COPY_RAW: u32 = 14;
/// Evidence callback: append a record.
pub const OP_RECORD: u32 = 15;
/// Evidence callback: record an issue.
pub const OP_ISSUE: u32 = 16;
/// Evidence callback: a log line.
pub const OP_LOG: u32 = 17;
/// Analysis callback: read a member of the bundle being analyzed (raw bytes beside).
pub const OP_READ_MEMBER: u32 = 18;

/// A static UTF-8 string: pointer and length (no terminating NUL).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StrRef {
    pub ptr: *const u8,
    pub len: usize,
}

impl StrRef {
    /// A reference to a static string.
    pub const fn new(s: &'static str) -> StrRef {
        StrRef {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The string, when it is valid UTF-8 and at most `max` bytes.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid for `'a`.
    pub unsafe fn to_str<'a>(&self, max: usize) -> Option<&'a str> {
        if self.ptr.is_null() || self.len > max {
            return None;
        }
        // SAFETY: the caller guarantees `ptr..ptr+len` is readable for 'a.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes).ok()
    }
}

/// Static metadata of a plugin library, returned by `dossier_plugin_info`.
#[repr(C)]
#[derive(Debug)]
pub struct PluginInfo {
    /// [`ABI_VERSION`] of the plugin-abi the plugin was built with. Always the first field.
    pub abi_version: u32,
    /// Kinds it provides: a bit set of [`KIND_COLLECTOR`], [`KIND_ANALYZER`],
    /// [`KIND_REPORTER`].
    pub kinds: u32,
    /// Semver of the plugin API it was built against (`dossier_plugin_api::API_VERSION`).
    pub api_version: StrRef,
    /// Target triple it was compiled for ([`TARGET`]).
    pub target: StrRef,
    /// Plugin name (`ssh-keys`): lower-case letters, digits and `-`.
    pub name: StrRef,
    /// Plugin version (semver).
    pub version: StrRef,
    pub vtable: *const PluginVTable,
}

// SAFETY: the metadata is immutable static data (string literals and a static vtable).
unsafe impl Sync for PluginInfo {}

/// A byte buffer handed across the boundary; freed by the side that allocated it.
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl Buf {
    /// No buffer.
    pub const EMPTY: Buf = Buf {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };

    /// Gives up a vector's allocation; it must come back through [`Buf::into_vec`] in the same
    /// library (its `free_buf`).
    pub fn from_vec(v: Vec<u8>) -> Buf {
        let mut v = std::mem::ManuallyDrop::new(v);
        Buf {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }

    /// Takes back a buffer made by [`Buf::from_vec`] in this library.
    ///
    /// # Safety
    /// `self` must come from [`Buf::from_vec`] of this same library and not have been freed.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: made by `from_vec` in this library (same allocator), per the contract.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }

    /// The bytes, without taking ownership.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes (or be null).
    pub unsafe fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Makes an instance of one kind. `config` is JSON (`{}` when there is none). On success
/// `*instance` is set; on failure `*out` holds a [`WireError`].
pub type CreateFn = unsafe extern "C" fn(
    kind: u32,
    config: *const u8,
    config_len: usize,
    instance: *mut *mut c_void,
    out: *mut Buf,
) -> i32;

/// Runs `method` of an instance with JSON `input`; `*out` receives the JSON result or a
/// [`WireError`]. `host` is null except for methods that call back: `collect` (host and
/// evidence operations) and `analyze` ([`OP_READ_MEMBER`]).
pub type CallFn = unsafe extern "C" fn(
    instance: *mut c_void,
    method: u32,
    input: *const u8,
    input_len: usize,
    host: *const HostCallbacks,
    out: *mut Buf,
) -> i32;

/// Frees a buffer the same library allocated.
pub type FreeBufFn = unsafe extern "C" fn(buf: Buf);

/// Drops an instance; `*out` receives a [`WireError`] when its destructor panicked.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut c_void, out: *mut Buf) -> i32;

/// The plugin's entry points. New entries are only ever added at the end.
#[repr(C)]
#[derive(Debug)]
pub struct PluginVTable {
    /// `size_of::<PluginVTable>()` as the plugin was built: entries past it do not exist.
    pub struct_size: usize,
    pub create: CreateFn,
    pub call: CallFn,
    pub free_buf: FreeBufFn,
    pub destroy: DestroyFn,
}

/// One host or evidence operation: `op` code, JSON `input`, optional raw `data`; results in
/// `*out` (JSON) and `*out_data` (raw bytes), both freed with [`HostCallbacks::free_buf`].
pub type HostCallFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    op: u32,
    input: *const u8,
    input_len: usize,
    data: *const u8,
    data_len: usize,
    out: *mut Buf,
    out_data: *mut Buf,
) -> i32;

/// What dossier gives a plugin for one `collect` or `analyze` call. Valid only during that
/// call.
#[repr(C)]
#[derive(Debug)]
pub struct HostCallbacks {
    /// `size_of::<HostCallbacks>()` as dossier was built.
    pub struct_size: usize,
    pub ctx: *mut c_void,
    pub call: HostCallFn,
    pub free_buf: FreeBufFn,
}

/// An error crossing the boundary (JSON in an output buffer).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireError {
    /// `config`, `host_lost`, `sink`, `panic`, `bad_input` or `other`.
    pub kind: String,
    pub message: String,
    /// The host error, for host operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<dossier_plugin_api::host::HostError>,
}

impl WireError {
    /// An error of `kind`.
    pub fn new(kind: &str, message: impl Into<String>) -> WireError {
        WireError {
            kind: kind.to_string(),
            message: message.into(),
            host: None,
        }
    }

    /// The JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self)
            .unwrap_or_else(|_| b"{\"kind\":\"other\",\"message\":\"?\"}".to_vec())
    }

    /// Parses an error from output bytes; unparsable output becomes an `other` error
    /// carrying (part of) the text.
    pub fn from_json(bytes: &[u8]) -> WireError {
        serde_json::from_slice(bytes).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
            WireError::new("other", format!("unreadable error from plugin: {text}"))
        })
    }
}

/// The text of a caught panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".into())
}

/// Names of the kinds in a bit set.
pub fn kind_names(kinds: u32) -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|(k, _)| kinds & k != 0)
        .map(|(_, n)| *n)
        .collect()
}

#[cfg(test)]
mod tests;
