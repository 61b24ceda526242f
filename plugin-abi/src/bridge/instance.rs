//! Calling into a checked library: making an instance of one of its kinds, running a method
//! with JSON in and out, destroying it, and turning a non-zero status into a [`PluginError`].

use super::check::PluginLib;
use crate::{
    Buf, HostCallbacks, METHOD_ANALYZE, METHOD_COLLECT, METHOD_FLEET, METHOD_INFO,
    METHOD_REPORT_FINISH, METHOD_REPORT_HOST, METHOD_VALIDATE_CONFIG, STATUS_BAD_INPUT,
    STATUS_ERROR, STATUS_OK, STATUS_PANIC, WireError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ffi::c_void;
use std::sync::Arc;

impl PluginLib {
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
