//! Calling into a checked library through its [`super::Transport`]: making an instance of one
//! of its kinds, running a method with JSON in and out, destroying it, and turning a non-zero
//! status or a dead plugin process into a [`PluginError`].

use super::check::PluginLib;
use super::transport::{CallFailure, Handler};
use crate::{
    METHOD_ANALYZE, METHOD_COLLECT, METHOD_FLEET, METHOD_INFO, METHOD_REPORT_FINISH,
    METHOD_REPORT_HOST, METHOD_VALIDATE_CONFIG, STATUS_BAD_INPUT, STATUS_ERROR, STATUS_PANIC,
    WireError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

impl PluginLib {
    /// Makes an instance of `kind` with `config`.
    pub fn create(
        self: &Arc<Self>,
        kind: u32,
        config: &serde_json::Value,
    ) -> Result<Instance, PluginError> {
        let config = serde_json::to_vec(config).unwrap_or_else(|_| b"{}".to_vec());
        let id = self
            .transport
            .create(kind, &config)
            .map_err(|f| self.failure("create", f))?;
        Ok(Instance {
            lib: self.clone(),
            id: Some(id),
            kind,
        })
    }

    fn failure(&self, what: &str, f: CallFailure) -> PluginError {
        let plugin = self.name.clone();
        let (status, out) = match f {
            CallFailure::Status(status, out) => (status, out),
            CallFailure::Process(reason) => {
                return PluginError::Process {
                    plugin,
                    what: what.to_string(),
                    reason,
                };
            }
        };
        let e = WireError::from_json(&out);
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
    /// The plugin's process died or was killed during the call (`reason`: `killed by
    /// SIGSEGV`, `timed out after 60 s`, ...).
    #[error("plugin {plugin}: {reason} during {what}")]
    Process {
        plugin: String,
        what: String,
        reason: String,
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
    /// Its id in the transport; `None` once destroyed.
    id: Option<u64>,
    kind: u32,
}

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

    /// Runs `method` with JSON `input`; the plugin's callbacks go to `handler`.
    pub fn call(
        &self,
        method: u32,
        input: &[u8],
        handler: Option<Handler<'_>>,
    ) -> Result<Vec<u8>, PluginError> {
        let what = method_name(method);
        let Some(id) = self.id else {
            return Err(self.lib.failure(
                what,
                CallFailure::Process("the instance was destroyed".into()),
            ));
        };
        self.lib
            .transport
            .call(id, method, input, handler)
            .map_err(|f| self.lib.failure(what, f))
    }

    /// Runs `method` with `input` serialized and the output deserialized.
    pub fn call_json<T: DeserializeOwned>(
        &self,
        method: u32,
        input: &impl Serialize,
        handler: Option<Handler<'_>>,
    ) -> Result<T, PluginError> {
        let input = serde_json::to_vec(input).map_err(|e| PluginError::Output {
            plugin: self.lib.name.clone(),
            what: method_name(method).into(),
            message: format!("input not serializable: {e}"),
        })?;
        let out = self.call(method, &input, handler)?;
        serde_json::from_slice(&out).map_err(|e| PluginError::Output {
            plugin: self.lib.name.clone(),
            what: method_name(method).into(),
            message: e.to_string(),
        })
    }

    /// Destroys the instance, reporting a destructor that panicked.
    pub fn close(mut self) -> Result<(), PluginError> {
        self.destroy()
    }

    fn destroy(&mut self) -> Result<(), PluginError> {
        match self.id.take() {
            None => Ok(()),
            Some(id) => self
                .lib
                .transport
                .destroy(id)
                .map_err(|f| self.lib.failure("destroy", f)),
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
