//! The entry points of a plugin's vtable (`create`, `call`, `free_buf`, `destroy`): every body
//! runs inside `catch_unwind`, so no panic ever crosses the boundary.

use super::instance::{CallFailure, GuestInstance, MakeInstances, bad_input, failed, parse};
use crate::{Buf, HostCallbacks, STATUS_OK, STATUS_PANIC, WireError, panic_message};
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

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
