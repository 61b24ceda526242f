//! dossier's side of the ABI: checks a plugin's static metadata, makes instances, and wraps
//! them in the safe traits ([`Collector`], [`Analyzer`], [`Reporter`]) so the orchestrator
//! drives a dynamic plugin exactly like a built-in one. A collector's host access is served by
//! callbacks over the orchestrator's own [`Host`] and [`EvidenceSink`], so whatever a plugin
//! stores is hashed into the bundle like built-in evidence.
//!
//! Opening the library file is the loader's job (`dossier-cli`, with libloading); everything
//! here starts from the `&'static PluginInfo` it found.

use crate::wire::{
    CollectInput, Copied, DocumentOut, ExecArg, ExecResult, HandleArg, LogArg, Opened, PathArg,
    ReadMeta, WireDirEntry,
};
use crate::{
    ABI_VERSION, Buf, HostCallbacks, KIND_ANALYZER, KIND_COLLECTOR, KIND_REPORTER, METHOD_ANALYZE,
    METHOD_COLLECT, METHOD_FLEET, METHOD_INFO, METHOD_REPORT_FINISH, METHOD_REPORT_HOST,
    METHOD_VALIDATE_CONFIG, OP_COPY_RAW, OP_EXEC, OP_FILE_CLOSE, OP_FILE_META, OP_FILE_READ,
    OP_HASH_FILE, OP_INFO, OP_ISSUE, OP_LOG, OP_LSTAT, OP_OPEN, OP_READ, OP_READ_DIR, OP_READ_LINK,
    OP_READ_MEMBER, OP_RECORD, OP_STAT, OP_STORE_RAW, PluginInfo, PluginVTable, STATUS_BAD_INPUT,
    STATUS_ERROR, STATUS_OK, STATUS_PANIC, TARGET, WireError, kind_names, panic_message,
};
use dossier_plugin_api::analysis::HostAnalysis;
use dossier_plugin_api::analyzer::{
    AnalysisInput, AnalyzeError, Analyzer, AnalyzerInfo, FleetFacts, FleetFinding, HostFindings,
    MemberReader,
};
use dossier_plugin_api::collect::{
    CollectContext, CollectError, Collector, CollectorInfo, CopyError, EvidenceSink, Issue,
    PluginOrigin, PriorRecords, RawSource,
};
use dossier_plugin_api::encoding::{bytes_to_text, path_to_text, text_to_path};
use dossier_plugin_api::host::{ExecLimits, FileReader, Host, HostError, HostErrorKind};
use dossier_plugin_api::reporter::{FleetInput, ReportError, Reporter, ReporterInfo};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::ffi::c_void;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a library is refused before any of its code beyond `dossier_plugin_info` runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("dossier_plugin_info returned a null pointer")]
    Null,
    #[error(
        "plugin ABI version {found}, but this dossier speaks plugin ABI version {expected}: rebuild the plugin against dossier-plugin-abi {abi_crate} and dossier-plugin-api {api}",
        abi_crate = env!("CARGO_PKG_VERSION"),
        api = dossier_plugin_api::API_VERSION
    )]
    AbiVersion { found: u32, expected: u32 },
    #[error(
        "plugin built against plugin API {found}, but this dossier has plugin API {expected} (major versions differ): rebuild the plugin against dossier-plugin-api {expected}"
    )]
    ApiVersion { found: String, expected: String },
    #[error(
        "plugin built for target {found}, but this dossier runs on {expected}: build the plugin for {expected}"
    )]
    Target { found: String, expected: String },
    #[error("invalid plugin metadata: {0}")]
    Metadata(String),
}

/// Longest metadata string accepted.
const MAX_META: usize = 256;

/// `major.minor.patch` of a semver string (pre-release and build metadata ignored).
fn semver_triple(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let t = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(t)
}

/// Whether a plugin built against plugin API `plugin` works with this crate's API `host`:
/// the same major version (for 0.x, the same minor, as Cargo's caret rule says).
pub fn api_compatible(plugin: &str, host: &str) -> bool {
    match (semver_triple(plugin), semver_triple(host)) {
        (Some((pm, pn, _)), Some((hm, hn, _))) => pm == hm && (pm != 0 || pn == hn),
        _ => false,
    }
}

/// Whether `name` is a valid plugin or component name: `[a-z0-9][a-z0-9-]*`, at most 64.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// A plugin library whose metadata passed every check.
#[derive(Debug)]
pub struct PluginLib {
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub target: String,
    pub kinds: u32,
    /// Where it was loaded from and the SHA-256 of that file.
    pub path: String,
    pub sha256: String,
    vtable: &'static PluginVTable,
}

/// The size of the version-1 vtable: every entry dossier uses.
const VTABLE_V1: usize = std::mem::size_of::<PluginVTable>();

impl PluginLib {
    /// Checks a plugin's static metadata: ABI version first (before reading anything else),
    /// then the API semver, the target triple, the names and the vtable size.
    ///
    /// # Safety
    /// `info` must be what the library's `dossier_plugin_info` returned, and the library must
    /// stay loaded for the rest of the process (it is never unloaded).
    pub unsafe fn check(
        info: *const PluginInfo,
        path: &str,
        sha256: &str,
    ) -> Result<PluginLib, Refusal> {
        if info.is_null() {
            return Err(Refusal::Null);
        }
        // SAFETY: the first field of every ABI version is the u32 version; read it alone.
        let abi = unsafe { info.cast::<u32>().read_unaligned() };
        if abi != ABI_VERSION {
            return Err(Refusal::AbiVersion {
                found: abi,
                expected: ABI_VERSION,
            });
        }
        // SAFETY: same ABI version, so the layout is ours; static data of a loaded library.
        let info: &'static PluginInfo = unsafe { &*info };
        let text = |what: &str, s: &crate::StrRef| -> Result<String, Refusal> {
            // SAFETY: static strings of the loaded library.
            unsafe { s.to_str(MAX_META) }
                .map(str::to_string)
                .ok_or_else(|| {
                    Refusal::Metadata(format!(
                        "{what} is not UTF-8 text of at most {MAX_META} bytes"
                    ))
                })
        };
        let api_version = text("api_version", &info.api_version)?;
        if !api_compatible(&api_version, dossier_plugin_api::API_VERSION) {
            return Err(Refusal::ApiVersion {
                found: api_version,
                expected: dossier_plugin_api::API_VERSION.to_string(),
            });
        }
        let target = text("target", &info.target)?;
        if target != TARGET {
            return Err(Refusal::Target {
                found: target,
                expected: TARGET.to_string(),
            });
        }
        let name = text("name", &info.name)?;
        if !valid_name(&name) {
            return Err(Refusal::Metadata(format!(
                "plugin name `{name}`: use lower-case letters, digits and `-`"
            )));
        }
        let version = text("version", &info.version)?;
        if semver_triple(&version).is_none() {
            return Err(Refusal::Metadata(format!(
                "version `{version}` is not semver"
            )));
        }
        let all = KIND_COLLECTOR | KIND_ANALYZER | KIND_REPORTER;
        if info.kinds == 0 || info.kinds & !all != 0 {
            return Err(Refusal::Metadata(format!(
                "kinds {:#x}: unknown kind bits",
                info.kinds
            )));
        }
        if info.vtable.is_null() {
            return Err(Refusal::Metadata("null vtable".into()));
        }
        // SAFETY: non-null static vtable; read its size before anything else.
        let size = unsafe { info.vtable.cast::<usize>().read_unaligned() };
        if size < VTABLE_V1 {
            return Err(Refusal::Metadata(format!(
                "vtable of {size} bytes, smaller than the {VTABLE_V1} of ABI version {ABI_VERSION}"
            )));
        }
        Ok(PluginLib {
            name,
            version,
            api_version,
            target,
            kinds: info.kinds,
            path: path.to_string(),
            sha256: sha256.to_string(),
            // SAFETY: checked non-null and large enough; static.
            vtable: unsafe { &*info.vtable },
        })
    }

    /// Names of the kinds it provides.
    pub fn kind_names(&self) -> Vec<&'static str> {
        kind_names(self.kinds)
    }

    /// Provenance recorded in bundles and reports.
    pub fn origin(&self) -> PluginOrigin {
        PluginOrigin {
            plugin: self.name.clone(),
            version: self.version.clone(),
            path: self.path.clone(),
            sha256: self.sha256.clone(),
        }
    }

    /// Makes an instance of `kind` with `config`.
    pub fn create(
        self: &Arc<Self>,
        kind: u32,
        config: &serde_json::Value,
    ) -> Result<Instance, PluginError> {
        let config = serde_json::to_vec(config).unwrap_or_else(|_| b"{}".to_vec());
        let mut ptr: *mut c_void = std::ptr::null_mut();
        let mut out = Buf::EMPTY;
        // SAFETY: valid pointers for the call; the vtable is static.
        let status = unsafe {
            (self.vtable.create)(kind, config.as_ptr(), config.len(), &mut ptr, &mut out)
        };
        let bytes = self.take(out);
        if status != STATUS_OK || ptr.is_null() {
            return Err(self.failure("create", status, &bytes));
        }
        Ok(Instance {
            lib: self.clone(),
            ptr,
            kind,
        })
    }

    /// Copies a buffer the plugin returned and hands it back to its `free_buf`.
    fn take(&self, buf: Buf) -> Vec<u8> {
        // SAFETY: a buffer the plugin just returned; freed once by its own allocator.
        unsafe {
            let v = buf.bytes().to_vec();
            (self.vtable.free_buf)(buf);
            v
        }
    }

    fn failure(&self, what: &str, status: i32, out: &[u8]) -> PluginError {
        let e = WireError::from_json(out);
        let plugin = self.name.clone();
        match status {
            STATUS_PANIC => PluginError::Panicked {
                plugin,
                what: what.to_string(),
                message: e.message,
            },
            STATUS_BAD_INPUT => PluginError::BadInput {
                plugin,
                what: what.to_string(),
                message: e.message,
            },
            STATUS_ERROR => PluginError::Failed {
                plugin,
                what: what.to_string(),
                error: Box::new(e),
            },
            other => PluginError::Failed {
                plugin,
                what: what.to_string(),
                error: Box::new(WireError::new(
                    "other",
                    format!("status {other}: {}", e.message),
                )),
            },
        }
    }
}

/// A failed call into a plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {plugin}: {what} panicked: {message}")]
    Panicked {
        plugin: String,
        what: String,
        message: String,
    },
    #[error("plugin {plugin}: {what} refused its input: {message}")]
    BadInput {
        plugin: String,
        what: String,
        message: String,
    },
    #[error("plugin {plugin}: {what} failed: {}", error.message)]
    Failed {
        plugin: String,
        what: String,
        error: Box<WireError>,
    },
    #[error("plugin {plugin}: {what} returned unreadable output: {message}")]
    Output {
        plugin: String,
        what: String,
        message: String,
    },
}

/// One instance of a plugin kind. Destroyed when dropped; the library stays loaded.
#[derive(Debug)]
pub struct Instance {
    lib: Arc<PluginLib>,
    ptr: *mut c_void,
    kind: u32,
}

// SAFETY: collector and analyzer instances are `Send + Sync` on the plugin side (the traits
// require it) and reporter instances serialize their calls behind a mutex there.
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

fn method_name(method: u32) -> &'static str {
    match method {
        METHOD_INFO => "info",
        METHOD_VALIDATE_CONFIG => "validate_config",
        METHOD_COLLECT => "collect",
        METHOD_ANALYZE => "analyze",
        METHOD_FLEET => "fleet",
        METHOD_REPORT_HOST => "report host",
        METHOD_REPORT_FINISH => "report finish",
        _ => "call",
    }
}

impl Instance {
    /// The library it belongs to.
    pub fn lib(&self) -> &Arc<PluginLib> {
        &self.lib
    }

    /// Runs `method` with JSON `input`.
    pub fn call(
        &self,
        method: u32,
        input: &[u8],
        host: Option<&HostCallbacks>,
    ) -> Result<Vec<u8>, PluginError> {
        let mut out = Buf::EMPTY;
        let host_ptr = host.map_or(std::ptr::null(), |h| h as *const HostCallbacks);
        // SAFETY: a live instance of this library; valid pointers for the call.
        let status = unsafe {
            (self.lib.vtable.call)(
                self.ptr,
                method,
                input.as_ptr(),
                input.len(),
                host_ptr,
                &mut out,
            )
        };
        let bytes = self.lib.take(out);
        if status == STATUS_OK {
            Ok(bytes)
        } else {
            Err(self.lib.failure(method_name(method), status, &bytes))
        }
    }

    /// Runs `method` with `input` serialized and the output deserialized.
    pub fn call_json<T: DeserializeOwned>(
        &self,
        method: u32,
        input: &impl Serialize,
        host: Option<&HostCallbacks>,
    ) -> Result<T, PluginError> {
        let input = serde_json::to_vec(input).map_err(|e| PluginError::Output {
            plugin: self.lib.name.clone(),
            what: method_name(method).into(),
            message: format!("input not serializable: {e}"),
        })?;
        let out = self.call(method, &input, host)?;
        serde_json::from_slice(&out).map_err(|e| PluginError::Output {
            plugin: self.lib.name.clone(),
            what: method_name(method).into(),
            message: e.to_string(),
        })
    }

    /// Destroys the instance, reporting a destructor that panicked.
    pub fn close(mut self) -> Result<(), PluginError> {
        let r = self.destroy();
        self.ptr = std::ptr::null_mut();
        r
    }

    fn destroy(&mut self) -> Result<(), PluginError> {
        if self.ptr.is_null() {
            return Ok(());
        }
        let mut out = Buf::EMPTY;
        // SAFETY: a live instance, destroyed once (the pointer is cleared after).
        let status = unsafe { (self.lib.vtable.destroy)(self.ptr, &mut out) };
        self.ptr = std::ptr::null_mut();
        let bytes = self.lib.take(out);
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(self.lib.failure("destroy", status, &bytes))
        }
    }

    /// Kind of this instance.
    pub fn kind(&self) -> u32 {
        self.kind
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.destroy();
    }
}

/// A plugin collector, driven like a built-in one.
#[derive(Debug)]
pub struct DynCollector {
    inst: Instance,
    info: CollectorInfo,
}

impl DynCollector {
    /// Makes the plugin's collector and asks for its description.
    pub fn new(lib: &Arc<PluginLib>) -> Result<DynCollector, PluginError> {
        let inst = lib.create(KIND_COLLECTOR, &serde_json::json!({}))?;
        let info: CollectorInfo = inst.call_json(METHOD_INFO, &serde_json::Value::Null, None)?;
        Ok(DynCollector { inst, info })
    }
}

/// Largest file a plugin may read into memory in one `read` (larger reads are truncated; a
/// plugin streams bigger files with `copy` or `open`).
const MAX_PLUGIN_READ: u64 = 256 << 20;
/// Largest chunk of one `file_read`.
const MAX_CHUNK: usize = 4 << 20;
/// Files a plugin may hold open at once.
const MAX_OPEN: usize = 64;

/// What the callbacks of one `collect` call work on.
struct CallbackState<'s> {
    host: &'s dyn Host,
    sink: &'s mut dyn EvidenceSink,
    collector: String,
    files: HashMap<u64, Box<dyn FileReader + 's>>,
    next: u64,
    /// The connection to the host was lost during the call.
    lost: Option<HostError>,
}

type Answer = Result<(Vec<u8>, Vec<u8>), WireError>;

fn answer(v: &impl Serialize) -> Answer {
    serde_json::to_vec(v)
        .map(|j| (j, Vec::new()))
        .map_err(|e| WireError::new("other", e.to_string()))
}

fn arg<T: DeserializeOwned>(input: &[u8]) -> Result<T, WireError> {
    serde_json::from_slice(input).map_err(|e| WireError::new("bad_input", e.to_string()))
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

    fn serve(&mut self, op: u32, input: &[u8], data: &[u8]) -> Answer {
        match op {
            OP_INFO => answer(&self.host.info()),
            OP_LSTAT | OP_STAT | OP_READ_LINK | OP_READ_DIR | OP_OPEN => {
                let a: PathArg = arg(input)?;
                let path = text_to_path(&a.path);
                match op {
                    OP_LSTAT => match self.host.lstat(&path) {
                        Ok(m) => answer(&m),
                        Err(e) => Err(self.host_err(e)),
                    },
                    OP_STAT => match self.host.stat(&path) {
                        Ok(m) => answer(&m),
                        Err(e) => Err(self.host_err(e)),
                    },
                    OP_READ_LINK => match self.host.read_link(&path) {
                        Ok(t) => answer(&path_to_text(&t)),
                        Err(e) => Err(self.host_err(e)),
                    },
                    OP_READ_DIR => match self.host.read_dir(&path) {
                        Ok(v) => answer(
                            &v.into_iter()
                                .map(|e| WireDirEntry {
                                    name: bytes_to_text(e.name.as_bytes()),
                                    kind: e.kind,
                                })
                                .collect::<Vec<_>>(),
                        ),
                        Err(e) => Err(self.host_err(e)),
                    },
                    _ => {
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
                }
            }
            OP_READ => {
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
            OP_HASH_FILE => {
                let a: PathArg = arg(input)?;
                let path = text_to_path(&a.path);
                match self.host.hash_file(&path, a.limit.unwrap_or(u64::MAX)) {
                    Ok(h) => answer(&h),
                    Err(e) => Err(self.host_err(e)),
                }
            }
            OP_EXEC => {
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
            OP_FILE_READ => {
                let a: HandleArg = arg(input)?;
                let f = self
                    .files
                    .get_mut(&a.handle)
                    .ok_or_else(|| WireError::new("bad_input", "no such open file"))?;
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
            OP_FILE_META => {
                let a: HandleArg = arg(input)?;
                let f = self
                    .files
                    .get_mut(&a.handle)
                    .ok_or_else(|| WireError::new("bad_input", "no such open file"))?;
                match f.meta_now() {
                    Ok(m) => answer(&m),
                    Err(e) => Err(self.host_err(e)),
                }
            }
            OP_FILE_CLOSE => {
                let a: HandleArg = arg(input)?;
                self.files.remove(&a.handle);
                answer(&serde_json::Value::Null)
            }
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
                let collector = self.collector.clone();
                self.sink
                    .record(&collector, v)
                    .map_err(|e| WireError::new("sink", e))?;
                answer(&serde_json::Value::Null)
            }
            OP_ISSUE => {
                let issue: Issue = arg(input)?;
                let collector = self.collector.clone();
                self.sink.issue(&collector, issue);
                answer(&serde_json::Value::Null)
            }
            OP_LOG => {
                let a: LogArg = arg(input)?;
                let collector = self.collector.clone();
                self.sink.log(&collector, &a.message);
                answer(&serde_json::Value::Null)
            }
            other => Err(WireError::new(
                "bad_input",
                format!("unknown operation {other}"),
            )),
        }
    }
}

/// Frees a buffer dossier allocated for a callback answer.
unsafe extern "C" fn host_free_buf(buf: Buf) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: made by `Buf::from_vec` in this library, freed once by the plugin's contract.
        drop(unsafe { buf.into_vec() });
    }));
}

/// The single callback entry: runs one operation against the state of the current call.
unsafe extern "C" fn host_call(
    ctx: *mut c_void,
    op: u32,
    input: *const u8,
    input_len: usize,
    data: *const u8,
    data_len: usize,
    out: *mut Buf,
    out_data: *mut Buf,
) -> i32 {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if ctx.is_null() || (input.is_null() && input_len > 0) || (data.is_null() && data_len > 0) {
            return Err(WireError::new("bad_input", "null pointer"));
        }
        // SAFETY: `ctx` is the `Mutex<CallbackState>` of the `collect` call in progress (it
        // outlives the call); the slices are the plugin's, valid for this callback.
        let (state, input, data) = unsafe {
            (
                &*ctx.cast::<Mutex<CallbackState<'static>>>(),
                if input.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(input, input_len)
                },
                if data.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(data, data_len)
                },
            )
        };
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.serve(op, input, data)
    }));
    // SAFETY: the plugin passes valid output slots (or null).
    unsafe { callback_reply(r, out, out_data) }
}

/// What a dossier callback answers: JSON and raw bytes, or an error.
type CallbackResult = Result<(Vec<u8>, Vec<u8>), WireError>;

/// Turns the outcome of a dossier callback (run under `catch_unwind`) into its status code and
/// writes its JSON and byte outputs to the plugin's slots.
///
/// # Safety
/// `out` and `out_data` are null or valid for one write of a `Buf`.
unsafe fn callback_reply(
    r: std::thread::Result<CallbackResult>,
    out: *mut Buf,
    out_data: *mut Buf,
) -> i32 {
    let (status, json, bytes) = match r {
        Ok(Ok((json, bytes))) => (STATUS_OK, json, bytes),
        Ok(Err(e)) => (STATUS_ERROR, e.to_json(), Vec::new()),
        Err(p) => (
            STATUS_PANIC,
            WireError::new(
                "panic",
                format!("dossier callback panicked: {}", panic_message(p.as_ref())),
            )
            .to_json(),
            Vec::new(),
        ),
    };
    // SAFETY: the caller guarantees the slots (see above).
    unsafe {
        if !out.is_null() {
            out.write(Buf::from_vec(json));
        }
        if !out_data.is_null() {
            out_data.write(Buf::from_vec(bytes));
        }
    }
    status
}

/// What the member callback of one `analyze` call works on.
struct MemberState<'s> {
    reader: &'s mut dyn MemberReader,
    /// The input given to the analyzer: it may read the members listed there.
    allowed: &'s AnalysisInput,
}

/// The callback entry of `analyze`: [`OP_READ_MEMBER`] only.
unsafe extern "C" fn member_call(
    ctx: *mut c_void,
    op: u32,
    input: *const u8,
    input_len: usize,
    _data: *const u8,
    _data_len: usize,
    out: *mut Buf,
    out_data: *mut Buf,
) -> i32 {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if ctx.is_null() || (input.is_null() && input_len > 0) {
            return Err(WireError::new("bad_input", "null pointer"));
        }
        if op != OP_READ_MEMBER {
            return Err(WireError::new(
                "bad_input",
                format!("operation {op} is not available to analyzers"),
            ));
        }
        // SAFETY: `ctx` is the `Mutex<MemberState>` of the `analyze` call in progress; the
        // input slice is the plugin's, valid for this callback.
        let (state, input) = unsafe {
            (
                &*ctx.cast::<Mutex<MemberState<'static>>>(),
                if input.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(input, input_len)
                },
            )
        };
        let a: PathArg = arg(input)?;
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if !s.allowed.members.contains_key(&a.path) {
            return Err(WireError::new(
                "other",
                format!("{}: no such member in this bundle", a.path),
            ));
        }
        let cap = a.limit.unwrap_or(MAX_PLUGIN_READ).min(MAX_PLUGIN_READ);
        s.reader
            .read_member(&a.path, cap)
            .map(|d| (b"null".to_vec(), d))
            .map_err(|e| WireError::new("other", e))
    }));
    // SAFETY: the plugin passes valid output slots (or null).
    unsafe { callback_reply(r, out, out_data) }
}

impl Collector for DynCollector {
    fn info(&self) -> CollectorInfo {
        self.info.clone()
    }

    fn origin(&self) -> Option<PluginOrigin> {
        Some(self.inst.lib.origin())
    }

    fn validate_config(&self, config: &serde_json::Value) -> Result<(), String> {
        self.inst
            .call_json::<serde_json::Value>(METHOD_VALIDATE_CONFIG, config, None)
            .map(|_| ())
            .map_err(|e| match e {
                PluginError::Failed { error, .. } => error.message,
                other => other.to_string(),
            })
    }

    fn collect(&self, ctx: &mut CollectContext<'_>) -> Result<(), CollectError> {
        let prior: PriorRecords = self
            .info
            .after
            .iter()
            .filter(|n| ctx.prior_ran(n))
            .map(|n| (n.clone(), ctx.prior(n).to_vec()))
            .collect();
        let input = CollectInput {
            config: ctx.config_value().clone(),
            prior,
        };
        let (result, lost) = {
            let (host, sink) = ctx.bridge_parts();
            let state = Mutex::new(CallbackState {
                host,
                sink,
                collector: self.info.name.clone(),
                files: HashMap::new(),
                next: 1,
                lost: None,
            });
            let cb = HostCallbacks {
                struct_size: std::mem::size_of::<HostCallbacks>(),
                ctx: (&state as *const Mutex<CallbackState<'_>>)
                    .cast_mut()
                    .cast::<c_void>(),
                call: host_call,
                free_buf: host_free_buf,
            };
            let r = self
                .inst
                .call_json::<serde_json::Value>(METHOD_COLLECT, &input, Some(&cb));
            let lost = state.into_inner().unwrap_or_else(|e| e.into_inner()).lost;
            (r, lost)
        };
        if let Some(e) = &lost {
            ctx.note_host_lost(e.clone());
        }
        match result {
            Ok(_) => Ok(()),
            Err(PluginError::Failed { error, .. }) => {
                let WireError {
                    kind,
                    message,
                    host,
                } = *error;
                Err(match kind.as_str() {
                    "config" => CollectError::Config(message),
                    "sink" => CollectError::Sink(message),
                    "host_lost" => CollectError::HostLost(host.unwrap_or_else(|| {
                        HostError::general(HostErrorKind::Disconnected, message)
                    })),
                    _ => CollectError::Other(message),
                })
            }
            Err(e) => Err(CollectError::Other(e.to_string())),
        }
    }
}

/// A plugin analyzer, driven like a built-in one.
#[derive(Debug)]
pub struct DynAnalyzer {
    inst: Instance,
    info: AnalyzerInfo,
}

impl DynAnalyzer {
    /// Makes the plugin's analyzer and asks for its description.
    pub fn new(lib: &Arc<PluginLib>) -> Result<DynAnalyzer, PluginError> {
        let inst = lib.create(KIND_ANALYZER, &serde_json::json!({}))?;
        let info: AnalyzerInfo = inst.call_json(METHOD_INFO, &serde_json::Value::Null, None)?;
        Ok(DynAnalyzer { inst, info })
    }

    /// Provenance recorded in reports.
    pub fn origin(&self) -> PluginOrigin {
        self.inst.lib.origin()
    }

    /// The library it comes from.
    pub fn origin_lib(&self) -> &PluginLib {
        &self.inst.lib
    }
}

impl Analyzer for DynAnalyzer {
    fn info(&self) -> AnalyzerInfo {
        self.info.clone()
    }

    fn analyze(
        &self,
        input: &AnalysisInput,
        members: &mut dyn MemberReader,
    ) -> Result<HostFindings, AnalyzeError> {
        let state = Mutex::new(MemberState {
            reader: members,
            allowed: input,
        });
        let cb = HostCallbacks {
            struct_size: std::mem::size_of::<HostCallbacks>(),
            ctx: (&state as *const Mutex<MemberState<'_>>)
                .cast_mut()
                .cast::<c_void>(),
            call: member_call,
            free_buf: host_free_buf,
        };
        self.inst
            .call_json(METHOD_ANALYZE, input, Some(&cb))
            .map_err(|e| AnalyzeError(e.to_string()))
    }

    fn fleet(&self, hosts: &[FleetFacts]) -> Result<Vec<FleetFinding>, AnalyzeError> {
        self.inst
            .call_json(METHOD_FLEET, &hosts, None)
            .map_err(|e| AnalyzeError(e.to_string()))
    }
}

/// A plugin reporter: one instance per analysis run, made when configured (or on first use).
#[derive(Debug)]
pub struct DynReporter {
    lib: Arc<PluginLib>,
    inst: Option<Instance>,
    info: ReporterInfo,
}

impl DynReporter {
    /// Asks the plugin for its reporter's description (with a throw-away instance).
    pub fn new(lib: &Arc<PluginLib>) -> Result<DynReporter, PluginError> {
        let inst = lib.create(KIND_REPORTER, &serde_json::json!({}))?;
        let info: ReporterInfo = inst.call_json(METHOD_INFO, &serde_json::Value::Null, None)?;
        inst.close()?;
        Ok(DynReporter {
            lib: lib.clone(),
            inst: None,
            info,
        })
    }

    /// Provenance recorded in reports.
    pub fn origin(&self) -> PluginOrigin {
        self.lib.origin()
    }

    /// The library it comes from.
    pub fn origin_lib(&self) -> &PluginLib {
        &self.lib
    }

    fn instance(&mut self) -> Result<&Instance, ReportError> {
        if self.inst.is_none() {
            self.configure(&serde_json::json!({}))?;
        }
        self.inst
            .as_ref()
            .ok_or_else(|| ReportError("reporter not created".into()))
    }

    /// Destroys the instance, reporting a destructor that panicked.
    pub fn close(&mut self) -> Result<(), PluginError> {
        match self.inst.take() {
            Some(i) => i.close(),
            None => Ok(()),
        }
    }
}

impl Reporter for DynReporter {
    fn info(&self) -> ReporterInfo {
        self.info.clone()
    }

    fn configure(&mut self, config: &serde_json::Value) -> Result<(), ReportError> {
        if let Some(old) = self.inst.take() {
            old.close().map_err(|e| ReportError(e.to_string()))?;
        }
        let inst = self
            .lib
            .create(KIND_REPORTER, config)
            .map_err(|e| ReportError(e.to_string()))?;
        self.inst = Some(inst);
        Ok(())
    }

    fn host(&mut self, analysis: &HostAnalysis) -> Result<Option<String>, ReportError> {
        let inst = self.instance()?;
        inst.call_json::<DocumentOut>(METHOD_REPORT_HOST, analysis, None)
            .map(|d| d.document)
            .map_err(|e| ReportError(e.to_string()))
    }

    fn finish(&mut self, fleet: &FleetInput) -> Result<Option<String>, ReportError> {
        let inst = self.instance()?;
        inst.call_json::<DocumentOut>(METHOD_REPORT_FINISH, fleet, None)
            .map(|d| d.document)
            .map_err(|e| ReportError(e.to_string()))
    }
}
