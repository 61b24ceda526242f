//! How a checked library's entry points are reached. A [`Transport`] makes, calls and destroys
//! instances by an opaque id; the wrappers ([`super::DynCollector`], ...) are written against
//! it and do not know where the plugin runs.
//!
//! Two transports exist: [`InProcess`], the library's vtable in this process (what the plugin
//! host child of `dossier` uses, and the tests of this crate), and dossier's out-of-process
//! transport (`dossier-cli`, `plugins::process`), which sends the same JSON to a child process
//! that runs [`InProcess`]. A callback a plugin makes during a call is served by a
//! [`Handler`] on the caller's side in both cases.

use super::callbacks::CallbackResult;
use crate::{
    Buf, HostCallbacks, PluginVTable, STATUS_ERROR, STATUS_OK, STATUS_PANIC, WireError,
    panic_message,
};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

/// What a host callback answers: status code, JSON (the answer or a [`WireError`]), raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: i32,
    pub json: Vec<u8>,
    pub data: Vec<u8>,
}

impl Reply {
    /// The reply of a dossier callback that ran under `catch_unwind`.
    pub fn of(r: std::thread::Result<CallbackResult>) -> Reply {
        match r {
            Ok(Ok((json, data))) => Reply {
                status: STATUS_OK,
                json,
                data,
            },
            Ok(Err(e)) => Reply {
                status: STATUS_ERROR,
                json: e.to_json(),
                data: Vec::new(),
            },
            Err(p) => Reply {
                status: STATUS_PANIC,
                json: WireError::new(
                    "panic",
                    format!("dossier callback panicked: {}", panic_message(p.as_ref())),
                )
                .to_json(),
                data: Vec::new(),
            },
        }
    }

    /// Runs a dossier callback, a panic becoming a [`STATUS_PANIC`] reply.
    pub fn guarded(f: impl FnOnce() -> CallbackResult) -> Reply {
        Reply::of(catch_unwind(AssertUnwindSafe(f)))
    }
}

/// Serves the callbacks of one call: operation code, JSON input, raw data in; a [`Reply`] out.
pub type Handler<'h> = &'h mut dyn FnMut(u32, &[u8], &[u8]) -> Reply;

/// Why a call through a transport failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The plugin answered with a non-zero status and this output (a [`WireError`]).
    Status(i32, Vec<u8>),
    /// The plugin could not answer: its process died or was killed (the text says how, e.g.
    /// `killed by SIGSEGV` or `timed out after 60 s`).
    Process(String),
}

/// Where a library's entry points are called.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Makes an instance of `kind` with JSON `config`; returns its id.
    fn create(&self, kind: u32, config: &[u8]) -> Result<u64, CallFailure>;
    /// Runs `method` of instance `id` with JSON `input`; callbacks go to `handler`.
    fn call(
        &self,
        id: u64,
        method: u32,
        input: &[u8],
        handler: Option<Handler<'_>>,
    ) -> Result<Vec<u8>, CallFailure>;
    /// Destroys instance `id`.
    fn destroy(&self, id: u64) -> Result<(), CallFailure>;
}

/// The vtable of a library loaded in this process. Instance ids are the instance pointers.
#[derive(Debug)]
pub struct InProcess {
    pub(super) vtable: &'static PluginVTable,
}

impl InProcess {
    /// Copies a buffer the plugin returned and hands it back to its `free_buf`.
    fn take(&self, buf: Buf) -> Vec<u8> {
        // SAFETY: a buffer the plugin just returned; freed once by its own allocator.
        unsafe {
            let v = buf.bytes().to_vec();
            (self.vtable.free_buf)(buf);
            v
        }
    }
}

impl Transport for InProcess {
    fn create(&self, kind: u32, config: &[u8]) -> Result<u64, CallFailure> {
        let mut ptr: *mut c_void = std::ptr::null_mut();
        let mut out = Buf::EMPTY;
        // SAFETY: valid pointers for the call; the vtable is static.
        let status = unsafe {
            (self.vtable.create)(kind, config.as_ptr(), config.len(), &mut ptr, &mut out)
        };
        let bytes = self.take(out);
        if status != STATUS_OK || ptr.is_null() {
            return Err(CallFailure::Status(status, bytes));
        }
        Ok(ptr as u64)
    }

    fn call(
        &self,
        id: u64,
        method: u32,
        input: &[u8],
        handler: Option<Handler<'_>>,
    ) -> Result<Vec<u8>, CallFailure> {
        let mut out = Buf::EMPTY;
        let mut slot = handler.map(Mutex::new);
        let cb = slot.as_mut().map(|m| HostCallbacks {
            struct_size: std::mem::size_of::<HostCallbacks>(),
            ctx: (m as *mut Mutex<Handler<'_>>).cast::<c_void>(),
            call: trampoline,
            free_buf: super::callbacks::host_free_buf,
        });
        let host_ptr = cb
            .as_ref()
            .map_or(std::ptr::null(), |h| h as *const HostCallbacks);
        // SAFETY: `id` is a live instance of this library (made by `create`); valid pointers
        // for the call; the callbacks and their context outlive it.
        let status = unsafe {
            (self.vtable.call)(
                id as usize as *mut c_void,
                method,
                input.as_ptr(),
                input.len(),
                host_ptr,
                &mut out,
            )
        };
        let bytes = self.take(out);
        if status == STATUS_OK {
            Ok(bytes)
        } else {
            Err(CallFailure::Status(status, bytes))
        }
    }

    fn destroy(&self, id: u64) -> Result<(), CallFailure> {
        let mut out = Buf::EMPTY;
        // SAFETY: a live instance, destroyed once (the caller forgets the id after).
        let status = unsafe { (self.vtable.destroy)(id as usize as *mut c_void, &mut out) };
        let bytes = self.take(out);
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(CallFailure::Status(status, bytes))
        }
    }
}

/// The single callback entry of an in-process call: runs the call's [`Handler`] (behind its
/// lock: a plugin may call back from several threads) and writes the reply to the slots.
unsafe extern "C" fn trampoline(
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
            return Reply::guarded(|| Err(WireError::new("bad_input", "null pointer")));
        }
        // SAFETY: `ctx` is the `Mutex<Handler>` of the call in progress (it outlives the
        // call); the slices are the plugin's, valid for this callback.
        let (handler, input, data) = unsafe {
            (
                &*ctx.cast::<Mutex<Handler<'static>>>(),
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
        let mut h = handler.lock().unwrap_or_else(|e| e.into_inner());
        (*h)(op, input, data)
    }));
    let reply = r.unwrap_or_else(|p| Reply::of(Err(p)));
    // SAFETY: the plugin passes valid output slots (or null).
    unsafe {
        if !out.is_null() {
            out.write(Buf::from_vec(reply.json));
        }
        if !out_data.is_null() {
            out_data.write(Buf::from_vec(reply.data));
        }
    }
    reply.status
}
